#!/usr/bin/env python3
"""Writes tests/fixtures/psi_numpy.json: PSI computed independently with numpy
for several distribution pairs, to check refit's PSI (src/drift/psi.rs).

Definition (the one refit documents): cut points at np.quantile(reference,
i/B) (numpy's default linear method), equal cut points merged (np.unique),
open outer bins, bin = np.searchsorted(cuts, v, side="left"), NaN in its own
bin, shares floored at 1e-4 without renormalisation,
PSI = sum((q - p) * ln(q / p)). Categorical cases: one bin per distinct
reference level (np.unique), an "other" bin, the NaN bin.
Also writes tests/fixtures/ks_scipy.json: the two-sample KS statistic of
scipy.stats.ks_2samp and the asymptotic p-value scipy.stats.kstwobign.sf(
sqrt(n m / (n + m)) D).
Run: benches/peers/setup.sh, then benches/peers/.venv/bin/python benches/peers/make_psi_fixture.py
"""
import json
import os

import numpy as np

BINS, FLOOR = 10, 1e-4
rng = np.random.default_rng(5)


def psi(ref, cur, categorical=False):
    finite = ref[np.isfinite(ref)].astype(np.float64)
    if categorical:
        cuts = np.unique(finite)
    else:
        cuts = np.unique(np.quantile(finite, [i / BINS for i in range(1, BINS)])) if finite.size else np.array([])

    def counts(v):
        c = np.zeros(len(cuts) + 2)
        nan = np.isnan(v)
        vals = v[~nan].astype(np.float64)
        if categorical:
            idx = np.searchsorted(cuts, vals, side="left")
            found = (idx < len(cuts)) & (cuts[np.minimum(idx, len(cuts) - 1)] == vals)
            idx = np.where(found, idx, len(cuts))
        else:
            idx = np.searchsorted(cuts, vals, side="left")
        np.add.at(c, idx, 1)
        c[-1] = nan.sum()
        return c

    r, c = counts(ref), counts(cur)
    p = np.maximum(r / r.sum(), FLOOR)
    q = np.maximum(c / c.sum(), FLOOR)
    return float(np.sum((q - p) * np.log(q / p))), cuts.tolist()


n = 2000
cases = {
    "identical_normal": (rng.normal(size=n), None),
    "normal_mean_shift": (rng.normal(size=n), rng.normal(0.5, 1.0, size=n)),
    "normal_scale_change": (rng.normal(size=n), rng.normal(0.0, 2.0, size=n)),
    "many_zeros": (np.where(rng.random(n) < 0.7, 0.0, rng.exponential(size=n)),
                   np.where(rng.random(n) < 0.4, 0.0, rng.exponential(size=n))),
    "constant_feature": (np.full(n, 3.0), np.where(rng.random(n) < 0.9, 3.0, 4.0)),
    "empty_bin": (rng.uniform(0, 1, size=n), rng.uniform(0, 0.45, size=n)),
    "with_missing": (np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)),
                     np.where(rng.random(n) < 0.20, np.nan, rng.normal(size=n))),
}
categorical_cases = {
    "categorical": (rng.choice(5, size=n, p=[0.4, 0.3, 0.15, 0.1, 0.05]).astype(float),
                    np.where(rng.random(n) < 0.03, np.nan,
                             rng.choice(6, size=n, p=[0.2, 0.3, 0.2, 0.1, 0.1, 0.1]).astype(float))),
    "categorical_empty_level": (rng.choice(4, size=n).astype(float),
                                rng.choice([0.0, 1.0, 3.0], size=n)),
}
out = []
for name, (ref, cur) in list(cases.items()) + list(categorical_cases.items()):
    categorical = name in categorical_cases
    ref = ref.astype(np.float32)
    cur = (ref.copy() if cur is None else cur).astype(np.float32)
    value, cuts = psi(ref, cur, categorical)
    out.append({
        "name": name,
        "categorical": categorical,
        "reference": [None if np.isnan(v) else float(v) for v in ref],
        "current": [None if np.isnan(v) else float(v) for v in cur],
        "cuts": cuts,
        "psi": value,
    })
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "psi_numpy.json")
with open(path, "w") as f:
    json.dump({"bins": BINS, "floor": FLOOR, "numpy": np.__version__, "cases": out}, f)
print(f"wrote {os.path.normpath(path)}")

# Kolmogorov-Smirnov: statistic from scipy's ks_2samp, asymptotic p-value.
from scipy import stats  # noqa: E402

ks_cases = []
ks_pairs = {
    "identical": (rng.normal(size=1500), None),
    "mean_shift_small": (rng.normal(size=1500), rng.normal(0.05, 1.0, size=1200)),
    "mean_shift": (rng.normal(size=1500), rng.normal(0.3, 1.0, size=1000)),
    "scale": (rng.normal(size=800), rng.normal(0.0, 1.5, size=900)),
    "ties": (rng.poisson(1.0, size=1000).astype(float), rng.poisson(1.2, size=1000).astype(float)),
}
for name, (a, b) in ks_pairs.items():
    a = a.astype(np.float32)
    b = (a.copy() if b is None else b).astype(np.float32)
    d = float(stats.ks_2samp(a.astype(np.float64), b.astype(np.float64)).statistic)
    en = len(a) * len(b) / (len(a) + len(b))
    ks_cases.append({"name": name, "a": a.tolist(), "b": b.tolist(), "statistic": d,
                     "p_value": float(stats.kstwobign.sf(np.sqrt(en) * d))})
import scipy  # noqa: E402

path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ks_scipy.json")
with open(path, "w") as f:
    json.dump({"scipy": scipy.__version__, "cases": ks_cases}, f)
print(f"wrote {os.path.normpath(path)}")
