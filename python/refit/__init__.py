"""refit: an embedded online-learning agent, from Python.

- ``refit.Agent``: the agent (ingest, predict, drift-driven learning rates,
  checkpoints, rollback, events), the same as the Rust crate's.
- ``refit.Model``: one built-in model plugin with ``partial_fit``.
- ``refit.OnlineClassifier`` and ``refit.OnlineRegressor``: scikit-learn
  estimators over ``refit.Model`` (needs scikit-learn).
- ``refit.river.RiverClassifier`` / ``RiverRegressor``: River-style
  ``learn_one`` / ``predict_one`` adapters.

Errors are Python exceptions with the Rust error's message: ``ValueError``
for bad input, ``refit.BackpressureError`` when ingest must be retried,
``refit.StoppedError`` after ``shutdown``, ``refit.RefitError`` otherwise.
"""

from ._refit import (
    Agent,
    BackpressureError,
    EventIterator,
    Model,
    RefitError,
    StoppedError,
)

__all__ = [
    "Agent",
    "BackpressureError",
    "EventIterator",
    "Model",
    "OnlineClassifier",
    "OnlineRegressor",
    "RefitError",
    "StoppedError",
]


def __getattr__(name):
    # The scikit-learn estimators import scikit-learn: only when asked for.
    if name in ("OnlineClassifier", "OnlineRegressor"):
        from . import sklearn as _sklearn

        return getattr(_sklearn, name)
    raise AttributeError(f"module 'refit' has no attribute {name!r}")
