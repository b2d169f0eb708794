#!/usr/bin/env python3
"""Export a fitted scikit-learn linear model to refit's warm-start JSON.

Supported: SGDClassifier (log_loss) and LogisticRegression (binary), which
become kind "logistic", and SGDRegressor / LinearRegression, kind "linear".

As a library:  export(model, feature_names) -> dict
From a shell:  python tools/export_sklearn.py MODEL.joblib --features a,b,c --out coefficients.json
(the model file is whatever joblib.dump / pickle.dump wrote).

The format is documented in plugins/linear/src/warm_start.rs.
"""
import argparse
import json
import pickle
import sys


def export(model, feature_names):
    name = type(model).__name__
    if name in ("SGDClassifier", "LogisticRegression"):
        kind = "logistic"
        if name == "SGDClassifier" and getattr(model, "loss", "log_loss") != "log_loss":
            raise ValueError(f"SGDClassifier with loss={model.loss!r} is not logistic regression")
        if len(getattr(model, "classes_", [0, 1])) != 2:
            raise ValueError("only binary classifiers can be exported")
        coef = [float(v) for v in model.coef_.reshape(-1)]
        intercept = float(model.intercept_.reshape(-1)[0])
    elif name in ("SGDRegressor", "LinearRegression", "Ridge"):
        kind = "linear"
        coef = [float(v) for v in model.coef_.reshape(-1)]
        intercept = float(model.intercept_.reshape(-1)[0]) if hasattr(model.intercept_, "reshape") else float(model.intercept_)
    else:
        raise ValueError(f"unsupported model type {name}")
    feature_names = list(feature_names)
    if len(feature_names) != len(coef):
        raise ValueError(f"{len(feature_names)} feature names for {len(coef)} coefficients")
    return {
        "format": "refit-coefficients",
        "version": 1,
        "kind": kind,
        "features": feature_names,
        "coefficients": coef,
        "intercept": intercept,
        "source": f"sklearn.linear_model.{name}",
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a pickled (joblib or pickle) fitted model")
    ap.add_argument("--features", required=True, help="comma-separated feature names, in column order")
    ap.add_argument("--out", default="-", help="output path (default: stdout)")
    args = ap.parse_args(argv)
    try:
        import joblib

        model = joblib.load(args.model)
    except ImportError:
        with open(args.model, "rb") as f:
            model = pickle.load(f)
    doc = export(model, [f.strip() for f in args.features.split(",")])
    text = json.dumps(doc, indent=2)
    if args.out == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
