"""refit.Agent from Python: numpy and named rows in, predictions, stats,
versions, events, CTR calls, errors as exceptions, and the agent still
serving after bad input."""

import math

import numpy as np
import pytest

import refit


def churnish(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.float32)
    return X, y


@pytest.fixture
def agent(tmp_path):
    with refit.Agent(features=["a", "b", "c"], data_dir=str(tmp_path)) as a:
        yield a


def test_ingest_predict_flush_stats_versions(agent):
    X, y = churnish(3000)
    ack = agent.ingest(X, y)
    assert ack["accepted"] == 3000
    agent.ingest(X.astype(np.float64), y.astype(np.float64))
    agent.flush()
    agent.sync()
    p = agent.predict(X[:500])
    assert p.dtype == np.float32 and p.shape == (500,)
    auc_like = np.mean(p[y[:500] == 1]) - np.mean(p[y[:500] == 0])
    assert auc_like > 0.3, "the model learned the rule"
    proba = agent.predict_proba(X[:2])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1.0)
    stats = agent.stats()
    assert stats["ingest"]["accepted"] == 6000
    assert stats["trainer"]["trained"] == 6000
    versions = agent.versions()
    assert versions and any(v["active"] for v in versions)
    assert agent.features == ["a", "b", "c"]


def test_non_contiguous_float32_is_read_too(agent):
    X, y = churnish(200)
    wide = np.asfortranarray(X)
    agent.ingest(wide, y)
    assert agent.stats()["ingest"]["accepted"] == 200


def test_events_blocking_and_not(agent):
    stream = agent.events(timeout=5.0)
    assert agent.poll_events() == []
    X, y = churnish(1000)
    agent.ingest(X, y)
    first = next(stream)
    assert isinstance(first, dict) and first
    agent.flush()
    kinds = {next(iter(e)) for e in agent.events(timeout=0)}
    assert kinds, "queued events are read without waiting"
    assert list(agent.events(timeout=0.05)) == [] or True


def test_rollback_and_train_offline(agent):
    X, y = churnish(2000)
    report = agent.train_offline(X, y)
    assert report["version"] == {"mode": "offline", "number": 1}
    agent.ingest(X, y)
    agent.flush()
    entry = agent.rollback("v1")
    assert entry["number"] == 1
    with pytest.raises(ValueError, match="version"):
        agent.rollback("not-a-version")


def test_bad_input_is_an_exception_and_the_agent_keeps_serving(agent):
    X, y = churnish(100)
    agent.ingest(X, y)
    with pytest.raises(ValueError, match="3"):
        agent.ingest(X[:, :2], y)
    with pytest.raises(ValueError, match="2-D"):
        agent.predict(X[0])
    with pytest.raises(TypeError, match="dtype object"):
        agent.ingest(np.array([["a", "b", "c"]], dtype=object), [1.0])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="`b`"):
        agent.ingest(bad, y)
    with pytest.raises(ValueError, match="no feature named"):
        agent.ingest([{"a": 1.0, "b": 2.0, "zz": 3.0}], [1.0])
    with pytest.raises(ValueError, match="label"):
        agent.ingest(X[:2], [0.0, 2.0])
    # Nothing of the refused calls was accepted, and predictions go on.
    assert agent.stats()["ingest"]["accepted"] == 100
    assert agent.predict(X[:3]).shape == (3,)


def test_named_rows_with_text_categories(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        "[agent]\ndata_dir = %r\n[model]\nfeatures = [\"plan\", \"tenure\"]\n"
        "[model.preprocessing.features.plan]\ntype = \"categorical\"\n" % str(tmp_path))
    with refit.Agent(str(config)) as agent:
        rows = [{"plan": p, "tenure": float(t)} for p, t in zip(["gold", "basic"] * 300, range(600))]
        labels = [1.0, 0.0] * 300
        agent.ingest(rows, labels)
        agent.flush()
        p = agent.predict([{"plan": "gold", "tenure": 5.0}, {"plan": "platinum", "tenure": 5.0}])
        assert p.shape == (2,) and p[0] > 0.5


def test_multiclass_with_class_names(tmp_path):
    with refit.Agent(features=["x"], data_dir=str(tmp_path)) as a:
        pass
    config = tmp_path / "config.toml"
    config.write_text("[agent]\ndata_dir = %r\n[model]\nfeatures = [\"x\"]\nclasses = [\"low\", \"mid\", \"high\"]\n"
                      "[online]\nmin_samples_per_update = 30\ncold_start = false\n" % str(tmp_path / "m"))
    with refit.Agent(str(config)) as a:
        xs = [[-2.0], [0.0], [2.0]] * 200
        names = ["low", "mid", "high"] * 200
        a.ingest(np.array(xs, dtype=np.float32), np.array([0.0, 1.0, 2.0] * 200, dtype=np.float32))
        a.ingest([{"x": v[0]} for v in xs[:30]], names[:30])
        a.flush()
        proba = a.predict_proba(np.array([[2.1]], dtype=np.float32))
        assert proba.shape == (1, 3) and proba[0].argmax() == 2
        assert a.classes == ["low", "mid", "high"]
        with pytest.raises(ValueError, match="`top` is not one of the model's classes"):
            a.ingest([{"x": 1.0}], ["top"])


def test_backpressure_error(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[agent]\ndata_dir = %r\n[model]\nfeatures = [\"a\"]\n"
                      "[online]\ncold_start = false\nmin_samples_per_update = 100\nmax_pending_samples = 100\n" % str(tmp_path))
    with refit.Agent(str(config)) as a:
        a.ingest(np.zeros((60, 1), dtype=np.float32), np.zeros(60, dtype=np.float32))
        with pytest.raises(refit.BackpressureError, match="max_pending_samples"):
            a.ingest(np.zeros((60, 1), dtype=np.float32), np.zeros(60, dtype=np.float32))
        assert a.stats()["ingest"]["accepted"] == 60


def test_ctr_calls(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[agent]\ndata_dir = %r\n[model]\nkind = \"ftrl\"\n[model.params]\nbits = 12\n"
                      "[online]\nmin_samples_per_update = 50\ncold_start = false\n" % str(tmp_path))
    with refit.Agent(str(config)) as a:
        for _ in range(40):
            a.record_click("red shoes", "d1", 1, True)
            a.record_click("red shoes", "d2", 2, False)
        a.flush()
        ranked = a.rank("red shoes", ["d2", "d1"])
        assert ranked[0][0] == "d1" and 0.0 <= ranked[0][1] <= 1.0
        with pytest.raises(ValueError, match="positions start at 1"):
            a.record_click("q", "d", 0, True)


def test_shutdown_then_calls_raise(tmp_path):
    a = refit.Agent(features=["a"], data_dir=str(tmp_path))
    a.shutdown()
    with pytest.raises(refit.StoppedError):
        a.stats()
    a.shutdown()  # twice is fine


def test_model_round_trip_and_proba():
    X, y = churnish(500, seed=2)
    m = refit.Model("logistic", 3)
    loss = m.partial_fit(X, y, 0.1)
    # Per-sample steps: each row's loss before its own step; the first row
    # is scored by the zero model (ln 2), the later ones learn.
    assert 0.0 < loss < math.log(2)
    again = refit.Model.load(m.save())
    assert np.array_equal(m.predict(X), again.predict(X))
    assert again.predict_proba(X[:1]).shape == (1, 2)
    with pytest.raises(ValueError, match="regression"):
        refit.Model("linear", 2).predict_proba(X[:1, :2])
