"""Multiclass streams through `refit run` with the shipped config (kind `logistic`: multinomial
logistic regression; kind `mlp`: one-vs-rest networks), next to
River's `StandardScaler | SoftmaxRegression` and scikit-learn's
`SGDClassifier(loss="log_loss")` (one-vs-rest), each predicting every row
before learning it (progressive accuracy). Called by bench.py, which puts
the table into RESULTS.md.

The streams: scikit-learn's bundled `load_wine` (178 rows, 13 features,
3 classes) and `load_digits` (1 797 rows, 64 features, 10 classes), each
in a fixed shuffled order (seed 0), raw features, labels written as text
(`class_0`, ...), so refit learns the class list from the label column.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def write(out, name, x, y):
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    path = out / f"{name}.csv"
    with path.open("w") as f:
        f.write(",".join([f"f{i}" for i in range(x.shape[1])] + ["label"]) + "\n")
        for row, label in zip(x, y):
            f.write(",".join(f"{v:.9g}" for v in row) + f",class_{label}\n")
    return path, x, y


def refit_run(csv, work, kind, env):
    """`refit run --fresh` with the shipped config (only `kind` set): the
    progressive predictions are class indices in the sorted class list."""
    run_dir = work / f"{csv.stem}.multiclass.{kind}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    text = (ROOT / "config.toml").read_text().replace('kind = "logistic"', f'kind = "{kind}"', 1)
    (run_dir / "config.toml").write_text(text)
    preds = run_dir / "predictions.csv"
    done = subprocess.run(
        [str(ROOT / "target/release/refit"), "run", "--fresh", "--input", str(csv), "--label", "label",
         "--json", "--predictions", str(preds)],
        cwd=run_dir, check=True, capture_output=True, text=True, env=env)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    predicted = np.loadtxt(preds, skiprows=1, ndmin=1).astype(int)
    return predicted, summary


def river_softmax(x, y):
    from river import linear_model, preprocessing
    model = preprocessing.StandardScaler() | linear_model.SoftmaxRegression()
    out = []
    for row, label in zip(x, y):
        d = {f"f{i}": float(v) for i, v in enumerate(row)}
        p = model.predict_one(d)
        out.append(-1 if p is None else p)
        model.learn_one(d, int(label))
    return np.array(out)


def sklearn_sgd(x, y):
    from sklearn.linear_model import SGDClassifier
    from sklearn.preprocessing import StandardScaler
    classes = np.unique(y)
    model, scaler = SGDClassifier(loss="log_loss", random_state=0), StandardScaler()
    out = []
    for i, (row, label) in enumerate(zip(x, y)):
        row = row.reshape(1, -1)
        scaler.partial_fit(row)
        z = scaler.transform(row)
        out.append(model.predict(z)[0] if i > 0 else -1)
        model.partial_fit(z, [label], classes=classes)
    return np.array(out)


def section(data_dir, work):
    """The RESULTS.md lines of the multiclass comparison."""
    from sklearn import datasets as sk_data

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = ["## Multiclass (issue 20): progressive accuracy, every row predicted before it is learned", "",
             "| stream | rows | classes | refit run, shipped config (logistic: softmax) | refit run, kind = \"mlp\" "
             "| River StandardScaler \\| SoftmaxRegression | scikit-learn StandardScaler + SGDClassifier(log_loss) "
             "| refit macro-F1 | refit log loss |",
             "|---|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for name, load in [("wine", sk_data.load_wine), ("digits", sk_data.load_digits)]:
        d = load()
        csv, x, y = write(data_dir, name, d.data, d.target)
        mine, summary = refit_run(csv, work, "logistic", env)
        mlp, _ = refit_run(csv, work, "mlp", env)
        river = river_softmax(x, y)
        sgd = sklearn_sgd(x, y)
        acc = {k: float(np.mean(v == y)) for k, v in
               [("refit", mine), ("mlp", mlp), ("river", river), ("sklearn", sgd)]}
        assert summary["metric"]["name"] == "accuracy", summary["metric"]
        assert abs(summary["metric"]["value"] - acc["refit"]) < 1e-9, (summary["metric"], acc["refit"])
        s = summary["scores"]
        lines.append(f"| {name} | {len(y)} | {len(np.unique(y))} | {acc['refit']:.4f} | {acc['mlp']:.4f} | "
                     f"{acc['river']:.4f} | {acc['sklearn']:.4f} | {s['macro_f1']:.4f} | {s['log_loss']:.4f} |")
        ok = acc["refit"] >= acc["river"]
        verdicts.append(f"- {name}: refit run accuracy {acc['refit']:.4f} against River's "
                        f"StandardScaler | SoftmaxRegression {acc['river']:.4f} (target: at least as good): "
                        f"**{'met' if ok else 'missed'}**.")
    return lines + [""] + verdicts + [""]


if __name__ == "__main__":
    print("\n".join(section(ROOT / "target/peers/data", ROOT / "target/peers/work")))
