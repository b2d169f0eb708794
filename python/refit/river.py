"""River-style adapters: ``learn_one`` / ``predict_one`` /
``predict_proba_one`` over dicts, usable in
``river.evaluate.progressive_val_score``.

The features are the first dict's keys (in name order); later dicts name
the same features (a missing key is 0). The model learns each row as it
comes (a ``partial_fit`` of one row), as River's models do.
"""

import json

from ._refit import Model

try:  # River's base classes, so River's metrics accept the adapters.
    from river import base as _river_base

    _Classifier, _Regressor = _river_base.Classifier, _river_base.Regressor
except ImportError:  # pragma: no cover - River is optional
    _Classifier = _Regressor = object


class _RiverOnline:
    def __init__(self, kind, task, learning_rate=0.1, params=None):
        self.kind = kind
        self._task = task
        self.learning_rate = learning_rate
        self.params = params
        self._model_ = None

    def _model(self, x):
        # The first row fixes the features (in name order); rows go to
        # Rust as dicts.
        if self._model_ is None:
            names = sorted(x)
            self._model_ = Model(self.kind, len(names), self._task, None,
                                 json.dumps(self.params or {}), names)
        return self._model_


class RiverClassifier(_RiverOnline, _Classifier):
    """A binary classifier: ``learn_one(x, y)`` with ``y`` True/False or 0/1."""

    def __init__(self, kind="logistic", learning_rate=0.1, params=None):
        super().__init__(kind, "classification", learning_rate, params)

    def learn_one(self, x, y):
        self._model(x).learn_dict(x, float(bool(y)), self.learning_rate)

    def predict_proba_one(self, x):
        p1 = (self._model_ or self._model(x)).predict_dict(x)
        return {False: 1.0 - p1, True: p1}

    def predict_one(self, x):
        return (self._model_ or self._model(x)).predict_dict(x) >= 0.5


class RiverRegressor(_RiverOnline, _Regressor):
    """A regressor: ``learn_one(x, y)`` with a number ``y``."""

    def __init__(self, kind="linear", learning_rate=0.1, params=None):
        super().__init__(kind, "regression", learning_rate, params)

    def learn_one(self, x, y):
        self._model(x).learn_dict(x, float(y), self.learning_rate)

    def predict_one(self, x):
        return self._model(x).predict_dict(x)
