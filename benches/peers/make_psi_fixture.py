#!/usr/bin/env python3
"""Writes tests/fixtures/psi_numpy.json: PSI computed independently with numpy
for several distribution pairs, to check refit's PSI (src/drift/psi.rs).

Definition (the one refit documents): cut points at np.quantile(reference,
i/B) (numpy's default linear method), equal cut points merged (np.unique),
open outer bins, bin = np.searchsorted(cuts, v, side="left"), NaN in its own
bin, shares floored at 1e-4 without renormalisation,
PSI = sum((q - p) * ln(q / p)).
Run: benches/peers/setup.sh, then benches/peers/.venv/bin/python benches/peers/make_psi_fixture.py
"""
import json
import os

import numpy as np

BINS, FLOOR = 10, 1e-4
rng = np.random.default_rng(5)


def psi(ref, cur):
    finite = ref[np.isfinite(ref)].astype(np.float64)
    cuts = np.unique(np.quantile(finite, [i / BINS for i in range(1, BINS)])) if finite.size else np.array([])

    def counts(v):
        c = np.zeros(len(cuts) + 2)
        nan = np.isnan(v)
        idx = np.searchsorted(cuts, v[~nan].astype(np.float64), side="left")
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
out = []
for name, (ref, cur) in cases.items():
    ref = ref.astype(np.float32)
    cur = (ref.copy() if cur is None else cur).astype(np.float32)
    value, cuts = psi(ref, cur)
    out.append({
        "name": name,
        "reference": [None if np.isnan(v) else float(v) for v in ref],
        "current": [None if np.isnan(v) else float(v) for v in cur],
        "cuts": cuts,
        "psi": value,
    })
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "psi_numpy.json")
with open(path, "w") as f:
    json.dump({"bins": BINS, "floor": FLOOR, "numpy": np.__version__, "cases": out}, f)
print(f"wrote {os.path.normpath(path)}")
