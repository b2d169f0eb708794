"""scikit-learn estimators over refit's model plugins.

``OnlineClassifier`` (binary or multiclass; ``kind="logistic"`` or
``"mlp"``) and ``OnlineRegressor`` (``kind="linear"`` or ``"mlp"``) learn
with ``partial_fit`` like ``SGDClassifier`` / ``SGDRegressor``; ``fit``
starts over and makes ``epochs`` passes. Inputs are validated with
scikit-learn's own helpers, so they behave as scikit-learn users expect.
"""

import json

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._refit import Model


def _ready(est, X, y):
    """Whether a batch can skip scikit-learn's validation."""
    return (isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim == 2
            and X.flags.c_contiguous and X.shape[1] == est.n_features_in_
            and isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iuf"
            and y.shape[0] == X.shape[0] and X.shape[0] > 0)


def _params(est):
    params = {"optimizer": est.optimizer, "l2": est.l2}
    if est.kind == "mlp":
        params = {"optimizer": "adam" if est.optimizer == "adagrad" else est.optimizer}
    params["preprocessing"] = {"standardize": est.standardize}
    return json.dumps(params)


class _Online(BaseEstimator):
    def __init__(self, kind, learning_rate=0.1, optimizer="adagrad", l2=0.0, standardize=True,
                 batch_size=256, epochs=5, random_state=None):
        self.kind = kind
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.l2 = l2
        self.standardize = standardize
        self.batch_size = batch_size
        self.epochs = epochs
        self.random_state = random_state

    def _learn(self, X, y):
        for start in range(0, X.shape[0], max(1, int(self.batch_size))):
            self.model_.partial_fit(X[start:start + self.batch_size], y[start:start + self.batch_size],
                                    float(self.learning_rate))

    def _epochs(self, X, y):
        rng = np.random.default_rng(self.random_state)
        for _ in range(max(1, int(self.epochs))):
            order = rng.permutation(X.shape[0])
            self._learn(X[order], y[order])

    # Pickling (and copying) goes through the model file's bytes.
    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = state["model_"].save()
        return state

    def __setstate__(self, state):
        if "model_" in state:
            state["model_"] = Model.load(state["model_"])
        self.__dict__.update(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class OnlineClassifier(ClassifierMixin, _Online):
    """A classifier that keeps learning (``partial_fit``): logistic (softmax
    beyond two classes) or an MLP (one-vs-rest beyond two), on float32."""

    def __init__(self, kind="logistic", learning_rate=0.1, optimizer="adagrad", l2=0.0,
                 standardize=True, batch_size=256, epochs=5, random_state=None):
        super().__init__(kind, learning_rate, optimizer, l2, standardize, batch_size, epochs,
                         random_state)

    def partial_fit(self, X, y, classes=None):
        first = not hasattr(self, "model_")
        if not first and _ready(self, X, y):
            # The streaming fast path: a C-contiguous float32 batch of the
            # fitted width with numeric labels; the plugin checks values
            # and labels itself (ValueError, nothing learned).
            self._learn(X, self._index(y))
            return self
        X, y = validate_data(self, X, y, reset=first, dtype=np.float32, order="C")
        check_classification_targets(y)
        if first:
            if classes is None:
                classes = np.unique(y)
            classes = np.asarray(classes)
            if len(classes) < 2:
                raise ValueError(
                    f"a classifier needs at least two classes; the data has one class: {list(classes)}")
            self.classes_ = classes
            self._identity = len(classes) == 2 and classes.dtype.kind in "iuf" and list(classes) == [0, 1]
            names = [str(c) for c in classes] if len(classes) > 2 else None
            self.model_ = Model(self.kind, X.shape[1], "classification", names, _params(self))
        self._learn(X, self._index(y).astype(np.float32))
        return self

    def _index(self, y):
        """Labels as class indices (0/1 labels of classes [0, 1] as they are)."""
        if self._identity:
            return y
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[index] == y):
            unknown = sorted(set(np.asarray(y)[self.classes_[index] != y].tolist()))
            raise ValueError(f"labels {unknown} are not among the classes {list(self.classes_)}")
        return index.astype(np.float32)

    def fit(self, X, y):
        for attr in ("model_", "classes_"):
            if hasattr(self, attr):
                delattr(self, attr)
        X, y = validate_data(self, X, y, reset=True, dtype=np.float32, order="C")
        check_classification_targets(y)
        self.partial_fit(X[:1], y[:1], classes=np.unique(y))
        index = np.searchsorted(self.classes_, y).astype(np.float32)
        self._epochs(X, index)
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32, order="C")
        return np.asarray(self.model_.predict_proba(X), dtype=np.float64)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class OnlineRegressor(RegressorMixin, _Online):
    """A regressor that keeps learning (``partial_fit``): linear regression
    or an MLP, on float32."""

    def __init__(self, kind="linear", learning_rate=0.1, optimizer="adagrad", l2=0.0,
                 standardize=True, batch_size=256, epochs=5, random_state=None):
        super().__init__(kind, learning_rate, optimizer, l2, standardize, batch_size, epochs,
                         random_state)

    def partial_fit(self, X, y):
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, dtype=np.float32, order="C", y_numeric=True)
        if first:
            self.model_ = Model(self.kind, X.shape[1], "regression", None, _params(self))
        self._learn(X, y.astype(np.float32))
        return self

    def fit(self, X, y):
        if hasattr(self, "model_"):
            del self.model_
        X, y = validate_data(self, X, y, reset=True, dtype=np.float32, order="C", y_numeric=True)
        self.partial_fit(X[:1], y[:1])
        self._epochs(X, y.astype(np.float32))
        return self

    def predict(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32, order="C")
        return np.asarray(self.model_.predict(X), dtype=np.float64)
