"""The scikit-learn estimators pass scikit-learn's own estimator checks,
learn, and round-trip through pickle; the River adapter runs in River's
progressive validation."""

import pickle

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

import refit
from refit.river import RiverClassifier, RiverRegressor


@pytest.mark.parametrize("estimator", [refit.OnlineClassifier(), refit.OnlineRegressor()],
                         ids=["OnlineClassifier", "OnlineRegressor"])
def test_check_estimator(estimator):
    # No expected failures: every check scikit-learn runs passes.
    check_estimator(estimator)


def test_classifier_learns_multiclass_and_pickles():
    from sklearn.datasets import load_wine
    X, y = load_wine(return_X_y=True)
    clf = refit.OnlineClassifier(random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.predict_proba(X[:4]).shape == (4, 3)
    back = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(back.predict(X), clf.predict(X))


def test_partial_fit_streams():
    rng = np.random.default_rng(1)
    clf = refit.OnlineClassifier()
    for _ in range(20):
        X = rng.normal(size=(256, 5)).astype(np.float32)
        y = (X[:, 0] > 0).astype(int)
        clf.partial_fit(X, y, classes=[0, 1])
    X = rng.normal(size=(1000, 5)).astype(np.float32)
    assert clf.score(X, (X[:, 0] > 0).astype(int)) > 0.9
    assert clf.n_features_in_ == 5
    with pytest.raises(ValueError, match="label 7"):
        clf.partial_fit(X[:2], [0, 7])
    multi = refit.OnlineClassifier().partial_fit(X[:3], [3, 5, 9])
    with pytest.raises(ValueError, match=r"labels \[4\] are not among the classes"):
        multi.partial_fit(X[:1], [4])


def test_river_adapter_in_progressive_validation():
    from river import datasets, evaluate, metrics
    auc = evaluate.progressive_val_score(datasets.Phishing(), RiverClassifier(), metrics.ROCAUC())
    assert auc.get() > 0.9, auc
    mae = evaluate.progressive_val_score(datasets.TrumpApproval(), RiverRegressor(), metrics.MAE())
    assert mae.get() < 5.0, mae


def test_river_adapter_equals_the_model_row_by_row():
    """The adapter is the plugin, one row at a time: the same predictions
    as a manual loop over refit.Model with the same settings."""
    from river import datasets
    rows = list(datasets.Phishing())[:300]
    adapter = RiverClassifier()
    names = sorted(rows[0][0])
    model = refit.Model("logistic", len(names), "classification", None, "{}")
    for x, y in rows:
        got = adapter.predict_proba_one(x)[True]
        row = [float(x[n]) for n in names]
        want = model.predict_one(row)
        assert got == pytest.approx(want, abs=1e-7)
        adapter.learn_one(x, y)
        model.partial_fit([row], [float(y)], 0.1)


def test_river_adapter_auc_on_phishing_equals_the_agents(tmp_path):
    """River's Phishing through the adapter and through the Rust agent with
    the same settings (per-row updates, the stable AdaGrad rate 0.1,
    standardisation, drift unable to change the rate): the same progressive
    AUC."""
    from river import datasets, evaluate, metrics
    adapter_auc = evaluate.progressive_val_score(datasets.Phishing(), RiverClassifier(), metrics.ROCAUC()).get()
    rows = list(datasets.Phishing())
    names = sorted(rows[0][0])
    config = tmp_path / "config.toml"
    config.write_text(
        "[agent]\ndata_dir = %r\n[model]\nfeatures = %s\n"
        "[online]\nmin_samples_per_update = 1\ncold_start = false\n"
        "[drift]\npsi_moderate = 1e9\npsi_severe = 2e9\n[drift.concept]\ndetector = \"none\"\n"
        % (str(tmp_path), "[" + ", ".join('"%s"' % n for n in names) + "]"))
    auc = metrics.ROCAUC()
    with refit.Agent(str(config)) as agent:
        for x, y in rows:
            p = float(agent.predict([x])[0])
            auc.update(y, {False: 1.0 - p, True: p})
            agent.ingest([x], [float(y)])
            agent.flush()
    assert auc.get() == pytest.approx(adapter_auc, abs=1e-9), (auc.get(), adapter_auc)
    assert adapter_auc > 0.9
