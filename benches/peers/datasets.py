"""The streams of the peer benchmark, written as CSV files (header row, label
column `label`) plus `streams.json` describing them. No downloads: the demo
streams come from `refit demo`, the others ship inside scikit-learn and River.

    python datasets.py OUT_DIR REFIT_BINARY [--rows-synthetic N]
"""

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np

# Positions of the demo streams' drifts for their default 40 000 rows
# (src/demo.rs: fractions 0.5, 0.7 and 0.9 of the stream).
DEMO_EVENTS = [
    {"kind": "concept", "start": 20_000, "end": 20_000},
    {"kind": "covariate", "start": 28_000, "end": 36_000},
]


def write_csv(path, names, x, y):
    header = ",".join(list(names) + ["label"])
    body = np.column_stack([x, y])
    np.savetxt(path, body, delimiter=",", header=header, comments="", fmt="%.9g")


def standardise(x):
    """Whole-file z-scores (the same file for every learner)."""
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0
    return (x - x.mean(axis=0)) / sd


def streams(out, refit, synthetic_rows):
    from river import datasets as river_data
    from sklearn import datasets as sk_data

    out.mkdir(parents=True, exist_ok=True)
    described = []

    for name, task, note in [
        ("churn", "classification", "refit demo: concept drift at 20 000, covariate shift 28 000-36 000"),
        ("clv", "regression", "refit demo: concept drift at 20 000, covariate shift 28 000-36 000"),
    ]:
        path = out / f"{name}.csv"
        subprocess.run([refit, "demo", "--stream", name, "--out", str(path)], check=True)
        described.append(
            {"name": name, "task": task, "file": path.name, "events": DEMO_EVENTS,
             "stationary": False, "note": note}
        )

    x, y = sk_data.make_classification(
        n_samples=synthetic_rows, n_features=20, n_informative=10, n_redundant=4,
        flip_y=0.05, class_sep=0.8, random_state=7,
    )
    write_csv(out / "synthetic20.csv", [f"f{i}" for i in range(20)], x, y)
    described.append(
        {"name": "synthetic20", "task": "classification", "file": "synthetic20.csv", "events": [],
         "stationary": True,
         "note": f"scikit-learn make_classification, {synthetic_rows} rows, 20 features, i.i.d."}
    )

    x, y = sk_data.make_moons(n_samples=5_000, noise=0.2, random_state=0)
    write_csv(out / "moons.csv", ["x0", "x1"], x, y)
    described.append(
        {"name": "moons", "task": "classification", "file": "moons.csv", "events": [],
         "stationary": True,
         "note": "scikit-learn make_moons(5000, noise=0.2, random_state=0): two features, nonlinear"}
    )

    bc = sk_data.load_breast_cancer()
    order = np.random.default_rng(0).permutation(len(bc.target))
    write_csv(out / "breast_cancer.csv", [f"f{i}" for i in range(bc.data.shape[1])],
              standardise(bc.data)[order], bc.target[order])
    described.append(
        {"name": "breast_cancer", "task": "classification", "file": "breast_cancer.csv",
         "events": [], "stationary": True,
         "note": "scikit-learn bundled, 569 rows, 30 features, shuffled (seed 0), z-scored"}
    )

    db = sk_data.load_diabetes()
    order = np.random.default_rng(0).permutation(len(db.target))
    write_csv(out / "diabetes.csv", [f"f{i}" for i in range(db.data.shape[1])],
              db.data[order], db.target[order])
    described.append(
        {"name": "diabetes", "task": "regression", "file": "diabetes.csv", "events": [],
         "stationary": True,
         "note": "scikit-learn bundled, 442 rows, 10 features (scaled as shipped), shuffled (seed 0)"}
    )

    for dataset, name, task, scale, note in [
        (river_data.Phishing(), "phishing", "classification", False,
         "River bundled, 1 250 rows, 9 features, in the shipped order"),
        (river_data.TrumpApproval(), "trump_approval", "regression", True,
         "River bundled, 1 001 rows, 6 features, in the shipped order, z-scored"),
    ]:
        rows = list(dataset)
        names = list(rows[0][0])
        x = np.array([[r[0][n] for n in names] for r in rows], dtype=float)
        y = np.array([float(r[1]) for r in rows])
        write_csv(out / f"{name}.csv", names, standardise(x) if scale else x, y)
        described.append(
            {"name": name, "task": task, "file": f"{name}.csv", "events": [], "stationary": False,
             "note": note}
        )

    (out / "streams.json").write_text(json.dumps(described, indent=1))
    return described


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("refit")
    p.add_argument("--rows-synthetic", type=int, default=200_000)
    a = p.parse_args()
    for s in streams(a.out, a.refit, a.rows_synthetic):
        print(s["name"], s["file"])
