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
        self._features = None
        self._model_ = None

    def _row(self, x):
        if self._features is None:
            self._features = sorted(x)
        unknown = set(x) - set(self._features)
        if unknown:
            raise ValueError(f"features {sorted(unknown)} are not among {self._features}")
        return [float(x.get(f, 0.0)) for f in self._features]

    def _model(self, x):
        row = self._row(x)
        if self._model_ is None:
            self._model_ = Model(self.kind, len(row), self._task, None, json.dumps(self.params or {}))
        return row


class RiverClassifier(_RiverOnline, _Classifier):
    """A binary classifier: ``learn_one(x, y)`` with ``y`` True/False or 0/1."""

    def __init__(self, kind="logistic", learning_rate=0.1, params=None):
        super().__init__(kind, "classification", learning_rate, params)

    def learn_one(self, x, y):
        row = self._model(x)
        self._model_.partial_fit([row], [float(bool(y))], self.learning_rate)

    def predict_proba_one(self, x):
        row = self._model(x)
        p1 = float(self._model_.predict_one(row))
        return {False: 1.0 - p1, True: p1}

    def predict_one(self, x):
        p = self.predict_proba_one(x)
        return p[True] >= 0.5


class RiverRegressor(_RiverOnline, _Regressor):
    """A regressor: ``learn_one(x, y)`` with a number ``y``."""

    def __init__(self, kind="linear", learning_rate=0.1, params=None):
        super().__init__(kind, "regression", learning_rate, params)

    def learn_one(self, x, y):
        row = self._model(x)
        self._model_.partial_fit([row], [float(y)], self.learning_rate)

    def predict_one(self, x):
        row = self._model(x)
        return float(self._model_.predict_one(row))
