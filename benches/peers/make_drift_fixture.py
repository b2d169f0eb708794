"""Writes tests/fixtures/river_drift.json: streams and the indices at which
River's ADWIN and PageHinkley flag drift, for refit's detector tests.

Run: `benches/peers/.venv/bin/python benches/peers/make_drift_fixture.py`
(after `benches/peers/setup.sh`).
"""

import json
import pathlib

import numpy as np
import river
from river import drift

rng = np.random.default_rng(20261123)
n = 4000


def abrupt():
    return np.concatenate([rng.normal(0.0, 1.0, n // 2), rng.normal(1.0, 1.0, n // 2)])


def gradual():
    mean = np.clip((np.arange(n) - 1000) / 2000, 0.0, 1.0) * 2.0
    return rng.normal(mean, 1.0)


def stationary():
    return rng.normal(0.5, 0.3, n)


def bernoulli():
    p = np.where(np.arange(n) < 2500, 0.2, 0.4)
    return (rng.random(n) < p).astype(float)


def log_loss_like():
    # Per-sample log loss of a model whose error rate jumps at 3000.
    scale = np.where(np.arange(n) < 3000, 0.35, 0.6)
    return rng.exponential(scale)


STREAMS = {
    "abrupt": abrupt(),
    "gradual": gradual(),
    "stationary": stationary(),
    "bernoulli": bernoulli(),
    "log_loss": log_loss_like(),
}

ADWIN = [
    {"delta": 0.002, "clock": 32, "max_buckets": 5, "min_window_length": 5, "grace_period": 10},
    {"delta": 0.05, "clock": 1, "max_buckets": 3, "min_window_length": 10, "grace_period": 30},
]
PAGE_HINKLEY = [
    {"min_instances": 30, "delta": 0.005, "threshold": 50.0, "alpha": 1 - 0.0001, "mode": "both"},
    {"min_instances": 50, "delta": 0.01, "threshold": 10.0, "alpha": 0.999, "mode": "up"},
    {"min_instances": 30, "delta": 0.005, "threshold": 20.0, "alpha": 1.0, "mode": "down"},
]


def flags(detector, values):
    out = []
    for i, v in enumerate(values):
        detector.update(float(v))
        if detector.drift_detected:
            out.append(i)
    return out


cases = []
for name, values in STREAMS.items():
    for params in ADWIN:
        cases.append({"stream": name, "detector": "adwin", "params": params,
                      "flags": flags(drift.ADWIN(**params), values)})
    for params in PAGE_HINKLEY:
        cases.append({"stream": name, "detector": "page_hinkley", "params": params,
                      "flags": flags(drift.PageHinkley(**params), values)})

out = {
    "generator": "benches/peers/make_drift_fixture.py",
    "river": river.__version__,
    "streams": {k: [float(v) for v in vals] for k, vals in STREAMS.items()},
    "cases": cases,
}
path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "river_drift.json"
path.write_text(json.dumps(out))
for c in cases:
    print(c["stream"], c["detector"], c["params"], c["flags"][:12], len(c["flags"]))
