"""The Python package against scikit-learn and River, in one process and
one run; writes the "Python package" section of RESULTS.md (run through
`bash benches/peers/python.sh`, which installs the package first).

- OnlineClassifier.partial_fit against SGDClassifier.partial_fit with the
  same settings (constant-rate SGD at 0.01, no L2, no standardisation),
  1 000 000 x 20 float32 rows in batches of 256;
- single-row predict_proba: refit's River adapter (dicts) and refit.Model
  (a list) against River's LogisticRegression.predict_proba_one;
- Agent.ingest of 1 000 000 x 20 float32 in 10 000-row calls (the shipped
  defaults, sample log on, `when_full = "wait"`), rows per second until the
  last call is accepted;
- Agent.predict of one row, p50 and p99.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import refit  # noqa: E402

HERE = Path(__file__).resolve().parent
ROWS, WIDTH, BATCH = 1_000_000, 20, 256


def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(ROWS, WIDTH)).astype(np.float32)
    w = rng.normal(size=WIDTH).astype(np.float32)
    y = (X @ w + rng.normal(size=ROWS).astype(np.float32) > 0).astype(np.float32)
    return X, y


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def per_call_ns(f, n):
    samples = []
    for _ in range(n):
        t = time.perf_counter_ns()
        f()
        samples.append(time.perf_counter_ns() - t)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def main():
    from river import linear_model
    from sklearn.linear_model import SGDClassifier

    X, y = data()
    yi = y.astype(int)
    mine = refit.OnlineClassifier(optimizer="sgd", learning_rate=0.01, standardize=False, batch_size=BATCH)
    theirs = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01, alpha=0.0)

    def fit_mine():
        for s in range(0, ROWS, BATCH):
            mine.partial_fit(X[s:s + BATCH], yi[s:s + BATCH], classes=[0, 1])

    def fit_theirs():
        for s in range(0, ROWS, BATCH):
            theirs.partial_fit(X[s:s + BATCH], yi[s:s + BATCH], classes=[0, 1])

    t_mine, t_theirs = timed(fit_mine), timed(fit_theirs)
    acc_mine = mine.score(X[-50_000:], yi[-50_000:])
    acc_theirs = theirs.score(X[-50_000:], yi[-50_000:])

    # Single-row predict_proba.
    river_model = linear_model.LogisticRegression()
    from refit.river import RiverClassifier
    adapter = RiverClassifier()
    rows = [{f"f{i}": float(v) for i, v in enumerate(r)} for r in X[:2_000]]
    for r, label in zip(rows, yi[:2_000]):
        river_model.learn_one(r, bool(label))
        adapter.learn_one(r, bool(label))
    model = refit.Model("logistic", WIDTH)
    model.partial_fit(X[:10_000], y[:10_000], 0.1)
    one_dict, one_list = rows[0], X[0].tolist()
    river_p50, river_p99 = per_call_ns(lambda: river_model.predict_proba_one(one_dict), 20_000)
    adapter_p50, adapter_p99 = per_call_ns(lambda: adapter.predict_proba_one(one_dict), 20_000)
    model_p50, model_p99 = per_call_ns(lambda: model.predict_proba_one(one_list), 20_000)

    # The agent: ingest throughput and one-row predict latency.
    with tempfile.TemporaryDirectory() as d:
        # The shipped defaults, but ingest waits when max_pending_samples
        # wait for training (as a producer that outpaces training should)
        # instead of raising BackpressureError.
        config = Path(d) / "config.toml"
        config.write_text('[agent]\ndata_dir = "%s"\n[online]\nwhen_full = "wait"\n' % d)
        with refit.Agent(str(config), features=[f"f{i}" for i in range(WIDTH)]) as agent:
            def ingest_all():
                for s in range(0, ROWS, 10_000):
                    agent.ingest(X[s:s + 10_000], y[s:s + 10_000])
            t_ingest = timed(ingest_all)
            agent.flush()
            row = np.ascontiguousarray(X[:1])
            agent_p50, agent_p99 = per_call_ns(lambda: agent.predict(row), 50_000)

    ratio = t_theirs / t_mine
    ingest_rate = ROWS / t_ingest
    lines = [
        "## Python package (issue 22): measured from Python, next to scikit-learn and River in one run",
        "",
        f"Python {sys.version.split()[0]}, one thread; {ROWS:,} x {WIDTH} float32 rows (`benches/peers/python_bench.py`).",
        "",
        "| what | refit | peer | ratio |",
        "|---|---|---|---|",
        f"| partial_fit, batches of {BATCH} (constant SGD 0.01, no L2): seconds | {t_mine:.2f} (OnlineClassifier) | {t_theirs:.2f} (SGDClassifier) | {ratio:.1f}x |",
        f"| accuracy on the last 50 000 rows after one pass | {acc_mine:.4f} | {acc_theirs:.4f} | |",
        f"| single-row predict_proba p50 / p99, River adapter (dict) | {adapter_p50 / 1000:.2f} / {adapter_p99 / 1000:.2f} µs | {river_p50 / 1000:.2f} / {river_p99 / 1000:.2f} µs (River LogisticRegression.predict_proba_one) | {river_p50 / adapter_p50:.1f}x |",
        f"| single-row predict_proba p50 / p99, refit.Model (list) | {model_p50 / 1000:.2f} / {model_p99 / 1000:.2f} µs | | {river_p50 / model_p50:.1f}x |",
        f"| Agent.ingest, 10 000-row calls | {ingest_rate / 1e6:.2f} M rows/s | | |",
        f"| Agent.predict of one row p50 / p99 | {agent_p50 / 1000:.2f} / {agent_p99 / 1000:.2f} µs | | |",
        "",
        f"- partial_fit >= 20x SGDClassifier: {ratio:.1f}x: **{'met' if ratio >= 20 else 'missed'}**.",
        f"- single-row predict_proba faster than River's: adapter {river_p50 / adapter_p50:.1f}x, Model {river_p50 / model_p50:.1f}x: **{'met' if adapter_p50 < river_p50 else 'missed'}**.",
        f"- Agent.ingest >= 1 M rows/s: {ingest_rate / 1e6:.2f} M: **{'met' if ingest_rate >= 1e6 else 'missed'}**.",
        f"- Agent.predict of one row p50 <= 2 µs: {agent_p50 / 1000:.2f} µs: **{'met' if agent_p50 <= 2000 else 'missed'}**.",
        "",
    ]
    text = "\n".join(lines)
    results = HERE / "RESULTS.md"
    old = results.read_text() if results.exists() else ""
    marker = "## Python package (issue 22)"
    if marker in old:
        head, _, rest = old.partition(marker)
        nxt = rest.find("\n## ")
        old = head + (rest[nxt + 1:] if nxt >= 0 else "")
    results.write_text(old.rstrip() + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
