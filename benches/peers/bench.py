"""refit against River, scikit-learn and Vowpal Wabbit on the same streams,
with the same protocol; writes benches/peers/RESULTS.md. Run it through
`bash benches/peers/run.sh` (which installs the pinned Python environment
and builds refit's runner first).

Every learner runs in its own process (peak memory is that process's), on
one thread: BLAS and OpenMP pools are pinned to one thread for the Python
peers; refit's plugin runs on the caller's thread (the agent rows add the
agent's actor threads, labelled). All scoring happens here, from the
progressive predictions each runner writes, with scikit-learn's
roc_auc_score and numpy, identically for every learner.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# (id, label, runner, extra): runner "refit" or "python".
LEARNERS = [
    ("refit", "refit plugin, same settings", "refit", {"learner": "plugin", "config": "refit_plain.toml"}),
    ("refit_row", "refit plugin, same settings, per row (batch 1)", "refit",
     {"learner": "plugin", "config": "refit_plain.toml", "batch": 1}),
    ("refit_default", "refit plugin, online standardisation (default)", "refit",
     {"learner": "plugin", "config": "refit_default.toml"}),
    ("refit_agent", "refit agent, standardisation, drift-driven rates (sync: flush per chunk)", "refit",
     {"learner": "agent_sync", "config": "refit_agent.toml"}),
    ("refit_agent_async", "refit agent, standardisation, drift-driven rates (async ingest)", "refit",
     {"learner": "agent_async", "config": "refit_agent.toml"}),
    ("refit_run", "refit agent through `refit run`, shipped config.toml (kind logistic / linear)", "refit_run",
     {"kind": None}),
    ("refit_run_mlp", "refit agent through `refit run`, shipped config.toml, kind = \"mlp\"", "refit_run",
     {"kind": "mlp"}),
    ("sklearn", "scikit-learn SGD partial_fit, same settings", "python", {"learner": "sklearn"}),
    ("sklearn_default", "scikit-learn SGD partial_fit, defaults", "python", {"learner": "sklearn_default"}),
    ("river", "River linear model, same settings (= River's defaults)", "python", {"learner": "river"}),
    ("river_default", "River StandardScaler \\| linear model (docs' pipeline)", "python",
     {"learner": "river_default"}),
    ("vw", "Vowpal Wabbit (Python), same settings (--sgd -l 0.01 --power_t 0)", "python", {"learner": "vw"}),
    ("vw_default", "Vowpal Wabbit (Python), defaults (adaptive, normalised, lr 0.5)", "python",
     {"learner": "vw_default"}),
]
# The peers: every one has fixed settings (for the drift-recovery target).
PEERS = ["sklearn", "sklearn_default", "river", "river_default", "vw", "vw_default"]
WINDOW = 4_000  # rows of the windows after each drift
FIRST = 1_000  # the cold-start window: the first rows of every stream
RECOVERY_WINDOW = 1_000  # trailing window of the recovery criterion
WIDE_RECOVERY_WINDOW = 2_000  # shown alongside: coarser, less noisy
RECOVERY_STEP = 100
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_refit_cli(stream, csv, work, lid, kind):
    """`refit run --fresh --input CSV --label label` as a user runs it: the
    shipped config.toml with only `kind` (and, for a regression MLP, `task`)
    set, in a fresh data directory. Throughput is the run's own figure (rows
    through predict, ingest and every update, wall clock); the process's
    peak memory comes from wait4."""
    run_dir = work / f"{stream['name']}.{lid}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    regression = stream["task"] == "regression"
    kind = kind or ("linear" if regression else "logistic")
    text = (ROOT / "config.toml").read_text()
    text = text.replace('kind = "logistic"', f'kind = "{kind}"', 1)
    if kind == "mlp" and regression:
        text = text.replace('# task = "classification"', 'task = "regression"', 1)
    (run_dir / "config.toml").write_text(text)
    preds = run_dir / "predictions.csv"
    cmd = [str(ROOT / "target/release/refit"), "run", "--fresh", "--input", str(csv), "--label", "label",
           "--json", "--predictions", str(preds)]
    child = subprocess.Popen(cmd, cwd=run_dir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, env=dict(os.environ, **ONE_THREAD))
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with status {status}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    return {
        "rows_per_second": summary["rows_per_s"],
        "predict_p50_ns": None,
        "predict_p99_ns": None,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "updates": summary["updates"],
        "predictions": np.loadtxt(preds, skiprows=1, ndmin=1).astype(float),
    }


def run_learner(stream, data_dir, work, learner, passes):
    lid, _, runner, extra = learner
    csv = data_dir / stream["file"]
    out = work / f"{stream['name']}.{lid}.f32"
    if runner == "refit_run":
        return run_refit_cli(stream, csv, work, lid, extra["kind"])
    if runner == "refit":
        cmd = [str(ROOT / "target/release/examples/peer_refit"), "--csv", str(csv), "--label", "label",
               "--task", stream["task"], "--learner", extra["learner"],
               "--config", str(HERE / extra["config"]), "--out", str(out),
               "--passes", str(passes), "--batch", str(extra.get("batch", 256))]
    else:
        cmd = [sys.executable, str(HERE / "peer_python.py"), "--csv", str(csv), "--task",
               stream["task"], "--learner", extra["learner"], "--out", str(out),
               "--passes", str(passes)]
    env = dict(os.environ, **ONE_THREAD)
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    measured["predictions"] = np.fromfile(out, dtype="<f4").astype(float)
    return measured


def metric(task, p, y):
    if task == "classification":
        if len(np.unique(y)) < 2 or not np.all(np.isfinite(p)):
            return float("nan")
        return float(roc_auc_score(y, p))
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(np.mean((p - y) ** 2)))


def mae(p, y):
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.mean(np.abs(p - y)))


def recovery(p, y, at, limit, window=RECOVERY_WINDOW):
    """Rows after `at` until the trailing `window`-row AUC (all rows after
    `at`) is back within 0.01 of the AUC over the WINDOW rows before `at`;
    None when that does not happen before `limit`. `window` is the smallest
    value it can return."""
    before = metric("classification", p[at - WINDOW:at], y[at - WINDOW:at])
    if np.ptp(p[at - WINDOW:at]) == 0:
        # One constant prediction before the drift (no trained model was
        # served yet): there is no level to recover to.
        return before, "n/a"
    end = at + window
    while end <= limit:
        if metric("classification", p[end - window:end], y[end - window:end]) >= before - 0.01:
            return before, end - at
        end += RECOVERY_STEP
    return before, None


def score(stream, measured, y):
    p = measured["predictions"]
    task = stream["task"]
    s = {"overall": metric(task, p, y), "windows": [], "first": metric(task, p[:FIRST], y[:FIRST])}
    if task == "regression":
        s["mae"], s["first_mae"] = mae(p, y), mae(p[:FIRST], y[:FIRST])
    for ev in stream["events"]:
        for start, what in [(ev["start"], f"{ev['kind']} drift starts")] + (
            [(ev["end"], f"{ev['kind']} shift complete")] if ev["end"] != ev["start"] else []
        ):
            end = min(start + WINDOW, len(y))
            s["windows"].append((f"{what}: rows {start:,}-{end:,}", metric(task, p[start:end], y[start:end])))
    if task == "classification" and stream["events"]:
        first = stream["events"][0]["start"]
        limit = stream["events"][1]["start"] if len(stream["events"]) > 1 else len(y)
        s["pre_drift"], s["recovery"] = recovery(p, y, first, limit)
        s["recovery_wide"] = recovery(p, y, first, limit, WIDE_RECOVERY_WINDOW)[1]
    return s


def fmt_rate(r):
    return f"{r / 1e6:.2f} M" if r >= 1e6 else f"{r / 1e3:.1f} k"


def fmt_ns(ns):
    if ns is None:
        return "n/a"
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def fmt_metric(v):
    return "n/a" if not np.isfinite(v) else f"{v:.4f}"


def report(streams, results, quick, seconds):
    lines = ["# refit vs River, scikit-learn and Vowpal Wabbit", ""]
    lines += [
        "Written by `bash benches/peers/run.sh`" + (" --quick" if quick else "") +
        f" on {time.strftime('%Y-%m-%d')} ({platform.machine()}, {os.cpu_count()} cores; "
        f"{seconds:.0f} s). Protocol and settings: `benches/peers/README.md`.",
        "",
        "- **Single-threaded**: every learner runs on one thread in its own process, except the two "
        "*refit agent* rows, which add the agent's actor threads (ingest, trainer, drift, checkpointer) "
        "and are labelled as such.",
        "- Throughput: rows / seconds inside the learning calls, median of "
        + ("1 pass" if quick else "3 passes (each on a fresh model)") +
        ". Predict: one row per call, "
        "p50/p99 of the per-call time of blocks of 16 calls, on the trained model. Memory: the "
        "process's peak resident set (a Python process includes the interpreter and its imports).",
        "- Metric: progressive AUC (classification) or RMSE (regression), each chunk/row predicted "
        "before it is learned. scikit-learn and refit work in chunks of 256 rows; River and "
        "Vowpal Wabbit per row.",
        "",
    ]
    for stream in streams:
        name = stream["name"]
        rs = results[name]
        kind = "AUC" if stream["task"] == "classification" else "RMSE"
        lines += [f"## {name} ({stream['task']})", "", stream["note"] + ".", ""]
        win_names = [w[0] for w in next(iter(rs.values()))["score"]["windows"]]
        head = ["learner", "learn rows/s", "predict p50", "predict p99", "peak MiB", f"{kind} overall",
                f"{kind} first {FIRST:,} rows"]
        if stream["task"] == "regression":
            head += ["MAE overall", f"MAE first {FIRST:,} rows"]
        head += [f"{kind} {w}" for w in win_names]
        if "recovery" in next(iter(rs.values()))["score"]:
            head += ["pre-drift AUC", f"rows to recover ({RECOVERY_WINDOW:,}-row window)",
                     f"rows to recover ({WIDE_RECOVERY_WINDOW:,}-row window)"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for lid, label, _, _ in LEARNERS:
            m = rs[lid]
            sc = m["score"]
            row = [label, fmt_rate(m["rows_per_second"]), fmt_ns(m["predict_p50_ns"]),
                   fmt_ns(m["predict_p99_ns"]), f"{m['peak_rss_mib']:.0f}", fmt_metric(sc["overall"]),
                   fmt_metric(sc["first"])]
            if stream["task"] == "regression":
                row += [fmt_metric(sc["mae"]), fmt_metric(sc["first_mae"])]
            row += [fmt_metric(v) for _, v in sc["windows"]]
            if "recovery" in sc:
                row += [fmt_metric(sc["pre_drift"])] + [
                    "not within the 8 000 rows" if r is None else r if isinstance(r, str) else f"{r:,}"
                    for r in (sc["recovery"], sc["recovery_wide"])]
            if m.get("refused_chunks"):
                row[0] += f" ({m['refused_chunks']} chunks refused)"
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", f"Ratios of the refit plugin (same settings, batch 256) to each peer on {name}; the "
                  f"{kind} difference is taken against the refit row with the peer's granularity (batch 256 "
                  "for scikit-learn, per row for River and Vowpal Wabbit):", "",
                  f"| peer | throughput x | predict p50 speed-up x | {kind} refit - peer |", "|---|---|---|---|"]
        me = rs["refit"]
        for lid, label, _, _ in LEARNERS:
            if lid not in PEERS:
                continue
            m = rs[lid]
            same = me if lid.startswith("sklearn") else rs["refit_row"]
            lines.append(
                f"| {label} | {me['rows_per_second'] / m['rows_per_second']:.1f} | "
                f"{m['predict_p50_ns'] / me['predict_p50_ns']:.0f} | "
                f"{same['score']['overall'] - m['score']['overall']:+.4f} |")
        lines.append("")
    lines += targets(streams, results)
    return "\n".join(lines) + "\n"


def targets(streams, results):
    out = ["## Targets (issue 10)", ""]
    s20 = results.get("synthetic20")
    if s20:
        me = s20["refit"]
        for lid, need, what in [("sklearn", 10, "scikit-learn SGDClassifier.partial_fit"),
                                ("river", 100, "River learn_one"), ("vw", 1, "Vowpal Wabbit Python, same settings"),
                                ("vw_default", 1, "Vowpal Wabbit Python, defaults")]:
            ratio = me["rows_per_second"] / s20[lid]["rows_per_second"]
            ok = ratio >= need if need > 1 else ratio > 1
            out.append(f"- Logistic learning throughput, batch 256, 20 features (synthetic20): "
                       f"{ratio:.1f}x {what} (target {'>= ' + str(need) + 'x' if need > 1 else 'ahead'}): "
                       f"**{'met' if ok else 'missed'}**.")
        for lid, what in [("river", "River predict_proba_one"), ("sklearn", "scikit-learn predict_proba")]:
            ratio = s20[lid]["predict_p50_ns"] / me["predict_p50_ns"]
            out.append(f"- Single-row predict p50 (synthetic20): {ratio:.0f}x faster than {what} "
                       f"(target >= 100x): **{'met' if ratio >= 100 else 'missed'}**.")
    for stream in streams:
        if not stream["stationary"]:
            continue
        rs = results[stream["name"]]
        d = rs["refit"]["score"]["overall"] - rs["sklearn"]["score"]["overall"]
        kind = "AUC" if stream["task"] == "classification" else "RMSE"
        out.append(f"- Quality on stationary `{stream['name']}`: refit {kind} "
                   f"{fmt_metric(rs['refit']['score']['overall'])} vs scikit-learn "
                   f"{fmt_metric(rs['sklearn']['score']['overall'])} (difference {d:+.4f}; target within 0.005): "
                   f"**{'met' if abs(d) <= 0.005 else 'missed'}**.")
    churn = results.get("churn")
    if churn:
        for key, w in [("recovery", RECOVERY_WINDOW), ("recovery_wide", WIDE_RECOVERY_WINDOW)]:
            mine = churn["refit_agent"]["score"][key]
            peers = {lid: churn[lid]["score"][key] for lid in PEERS}
            beaten = all(mine is not None and (v is None or mine < v) for v in peers.values())
            listed = ", ".join(f"{lid} {'not recovered' if v is None else f'{v:,}'}" for lid, v in peers.items())
            out.append(f"- Recovery after the churn concept drift (trailing {w:,}-row AUC back within "
                       f"0.01 of the {WINDOW:,} rows before it; {w:,} is the floor): refit agent "
                       f"{'not recovered' if mine is None else f'{mine:,} rows'}; fixed-setting peers: {listed}: "
                       f"**{'met' if beaten else 'missed'}**.")
    return out + [""] + quality_targets(results)


def quality_targets(results):
    """Issue 16: what a user meets through `refit run` with the shipped
    config, against the targets and River's StandardScaler pipeline."""
    out = ["## Targets (issue 16: the agent through `refit run`, shipped config)", ""]

    def line(what, value, target, ok):
        out.append(f"- {what}: {fmt_metric(value)} (target {target}): **{'met' if ok else 'missed'}**.")

    if "phishing" in results:
        v = results["phishing"]["refit_run"]["score"]["overall"]
        line("Phishing AUC", v, ">= 0.95", v >= 0.95)
    if "trump_approval" in results:
        v = results["trump_approval"]["refit_run"]["score"]["mae"]
        line("TrumpApproval MAE", v, "<= 0.6", v <= 0.6)
    for name, key, better in [("breast_cancer", "overall", 1), ("diabetes", "overall", -1),
                              ("diabetes", "mae", -1)]:
        if name in results:
            me = results[name]["refit_run"]["score"][key]
            river = results[name]["river_default"]["score"][key]
            what = {"overall": "AUC" if better > 0 else "RMSE", "mae": "MAE"}[key]
            line(f"{name} {what} against River's StandardScaler pipeline ({fmt_metric(river)})", me,
                 "at least as good", (me - river) * better >= 0)
    if "moons" in results:
        v = results["moons"]["refit_run_mlp"]["score"]["overall"]
        line("make_moons AUC, kind = \"mlp\"", v, ">= 0.95", v >= 0.95)
        out.append(f"- make_moons AUC, kind = \"logistic\" (the linear ceiling): "
                   f"{fmt_metric(results['moons']['refit_run']['score']['overall'])}.")
    if "churn" in results:
        v = results["churn"]["refit_run"]["score"]["overall"]
        line("churn demo AUC overall", v, ">= 0.7839, the figure before issue 16", v >= 0.7839)
    out += ["", f"Cold start, the metric over the first {FIRST:,} rows (AUC; MAE for regression), "
            "`refit run` against River's StandardScaler pipeline:", "",
            "| stream | refit run | refit run, mlp | River StandardScaler pipeline |", "|---|---|---|---|"]
    for name, rs in results.items():
        key = "first_mae" if "first_mae" in rs["refit_run"]["score"] else "first"
        out.append(f"| {name} | {fmt_metric(rs['refit_run']['score'][key])} | "
                   f"{fmt_metric(rs['refit_run_mlp']['score'][key])} | "
                   f"{fmt_metric(rs['river_default']['score'][key])} |")
    return out + [""]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=ROOT / "target/peers/data")
    p.add_argument("--work", type=Path, default=ROOT / "target/peers/work")
    p.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--quick", action="store_true", help="20 000 synthetic rows, one pass per learner")
    p.add_argument("--only", help="comma-separated stream names")
    a = p.parse_args()
    started = time.time()
    sys.path.insert(0, str(HERE))
    import datasets

    rows = 20_000 if a.quick else 200_000
    streams = datasets.streams(a.data, str(ROOT / "target/release/refit"), rows)
    if a.only:
        streams = [s for s in streams if s["name"] in a.only.split(",")]
    a.work.mkdir(parents=True, exist_ok=True)
    results = {}
    for stream in streams:
        y = np.loadtxt(a.data / stream["file"], delimiter=",", skiprows=1, ndmin=2)[:, -1]
        results[stream["name"]] = {}
        for learner in LEARNERS:
            print(f"{stream['name']}: {learner[0]}", file=sys.stderr, flush=True)
            m = run_learner(stream, a.data, a.work, learner, 1 if a.quick else 3)
            m["score"] = score(stream, m, y)
            results[stream["name"]][learner[0]] = m
    text = report(streams, results, a.quick, time.time() - started)
    if not a.only or {"wine", "digits"} & set(a.only.split(",")):
        import multiclass

        text += "\n" + "\n".join(multiclass.section(a.data, a.work))
    a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
