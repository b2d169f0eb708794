#!/usr/bin/env python3
"""Writes tests/fixtures/sklearn_sgd.json: scikit-learn's SGD trajectory on a
small deterministic stream, learned one row at a time with partial_fit.

refit's test (plugins/linear/tests/sklearn_reference.rs) replays the same rows
with batch size 1 and compares the coefficients. Run: benches/peers/setup.sh,
then benches/peers/.venv/bin/python benches/peers/make_sgd_fixture.py
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.linear_model import SGDClassifier, SGDRegressor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from export_sklearn import export  # noqa: E402

ROWS, WIDTH = 300, 5
rng = np.random.default_rng(20261123)
x = rng.normal(size=(ROWS, WIDTH)).astype(np.float32)
true_w = np.array([1.5, -2.0, 0.5, 0.0, 1.0], dtype=np.float32)
logit = x @ true_w - 0.3
y_class = (rng.random(ROWS) < 1 / (1 + np.exp(-logit))).astype(np.float32)
y_reg = (x @ true_w + 0.7 + 0.1 * rng.normal(size=ROWS)).astype(np.float32)

# Rows are float32 in the fixture; scikit-learn computes in float64 on exactly
# those values.
xd = x.astype(np.float64)
clf = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01, alpha=0.0, shuffle=False)
reg = SGDRegressor(learning_rate="constant", eta0=0.01, alpha=0.0, shuffle=False)
checkpoints = {}
for i in range(ROWS):
    clf.partial_fit(xd[i : i + 1], y_class[i : i + 1], classes=[0.0, 1.0])
    reg.partial_fit(xd[i : i + 1], y_reg[i : i + 1].astype(np.float64))
    if i + 1 in (1, 10, 100, ROWS):
        checkpoints[i + 1] = {
            "classifier": {"coef": clf.coef_.reshape(-1).tolist(), "intercept": float(clf.intercept_[0])},
            "regressor": {"coef": reg.coef_.reshape(-1).tolist(), "intercept": float(reg.intercept_[0])},
        }

features = [f"f{i}" for i in range(WIDTH)]
doc = {
    "about": "scikit-learn SGD, batch size 1, constant learning rate 0.01, alpha 0, shuffle False",
    "sklearn_version": sklearn.__version__,
    "learning_rate": 0.01,
    "features": features,
    "x": x.tolist(),
    "y_class": y_class.tolist(),
    "y_reg": y_reg.tolist(),
    "checkpoints": [{"rows": k, **v} for k, v in sorted(checkpoints.items())],
    "classifier_predict_proba": clf.predict_proba(xd[:20])[:, 1].tolist(),
    "classifier_export": export(clf, features),
    "regressor_export": export(reg, features),
}
out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "sklearn_sgd.json")
with open(out, "w") as f:
    json.dump(doc, f)
print(f"wrote {os.path.normpath(out)} (scikit-learn {sklearn.__version__})")
