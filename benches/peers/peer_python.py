"""The Python peers' side of the peer benchmark: one learner on one CSV
stream, with the protocol refit's side (refit_peer.rs) follows:

- progressive validation: scikit-learn predicts each chunk of `--batch` rows
  before `partial_fit` on it; River and Vowpal Wabbit predict each row
  before learning it (their interfaces are per row);
- learning throughput: rows / seconds spent in the learning calls, the
  median of --passes passes (each on a fresh model);
- single-row predict latency: blocks of 16 single-row calls on the trained
  model, p50 and p99 of the per-call time of each block (at least 2 000
  blocks and 0.5 s; at most 2 s);
- peak memory: the process's peak resident set (VmHWM).

Writes the progressive predictions as little-endian float32 to `--out` and
prints one JSON line of measurements. Every learner runs on one thread.
"""

import argparse
import json
import time

import numpy as np

BLOCK = 16


def peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def latency(predict_one, inputs):
    """p50/p99 ns per call over blocks of BLOCK calls: until at least 2 000
    blocks and 0.5 s, or 2 s with at least 100 blocks (refit's rule)."""
    for i in range(BLOCK * 20):
        predict_one(inputs[i % len(inputs)])
    per_call, k = [], 0
    started = time.perf_counter()
    while True:
        t = time.perf_counter_ns()
        for _ in range(BLOCK):
            predict_one(inputs[k % len(inputs)])
            k += 1
        per_call.append((time.perf_counter_ns() - t) / BLOCK)
        elapsed = time.perf_counter() - started
        if (len(per_call) >= 2000 and elapsed >= 0.5) or (len(per_call) >= 100 and elapsed >= 2.0):
            break
    per_call.sort()
    at = lambda q: per_call[round((len(per_call) - 1) * q)]
    return at(0.5), at(0.99), len(per_call)


class Sklearn:
    """SGDClassifier / SGDRegressor partial_fit on chunks."""

    def __init__(self, task, default):
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        self.task = task
        if task == "classification":
            # random_state only fixes the defaults' shuffling, for repeatable runs.
            self.m = (SGDClassifier(loss="log_loss", random_state=0) if default else SGDClassifier(
                loss="log_loss", penalty=None, learning_rate="constant", eta0=0.01,
                shuffle=False))
        else:
            self.m = (SGDRegressor(random_state=0) if default else SGDRegressor(
                penalty=None, learning_rate="constant", eta0=0.01, shuffle=False))
        self.fitted = False

    def predict_chunk(self, x):
        if not self.fitted:
            return np.full(len(x), 0.5 if self.task == "classification" else 0.0)
        if self.task == "classification":
            return self.m.predict_proba(x)[:, 1]
        return self.m.predict(x)

    def learn_chunk(self, x, y):
        if self.task == "classification":
            self.m.partial_fit(x, y.astype(int), classes=[0, 1])
        else:
            self.m.partial_fit(x, y)
        self.fitted = True

    def single_inputs(self, x):
        return [x[i:i + 1] for i in range(min(len(x), 1000))]

    def predict_one(self, row):
        if self.task == "classification":
            return self.m.predict_proba(row)[0, 1]
        return self.m.predict(row)[0]


class River:
    """River linear models, learn_one / predict_one per row."""

    def __init__(self, task, default):
        from river import linear_model, optim, preprocessing

        self.task = task
        if task == "classification":
            model = linear_model.LogisticRegression(
                optimizer=optim.SGD(0.01), l2=0.0, intercept_lr=0.01)
        else:
            model = linear_model.LinearRegression(
                optimizer=optim.SGD(0.01), l2=0.0, intercept_lr=0.01)
        self.m = preprocessing.StandardScaler() | model if default else model

    def rows(self, x, names):
        return [dict(zip(names, r)) for r in x.tolist()]

    def predict_one(self, row):
        if self.task == "classification":
            return self.m.predict_proba_one(row).get(True, 0.5)
        return self.m.predict_one(row)

    def learn_one(self, row, y):
        self.m.learn_one(row, bool(y) if self.task == "classification" else float(y))


class Vw:
    """Vowpal Wabbit's Python interface, one text example per call."""

    def __init__(self, task, default):
        import vowpalwabbit

        self.task = task
        args = ["--quiet"]
        if task == "classification":
            args += ["--loss_function", "logistic", "--link", "logistic"]
        else:
            args += ["--loss_function", "squared"]
        if not default:
            # Plain SGD (no adaptive, normalised or invariant updates) at a
            # constant rate 0.01, no regularisation (VW's default).
            args += ["--sgd", "-l", "0.01", "--power_t", "0"]
        self.ws = vowpalwabbit.Workspace(" ".join(args))

    def rows(self, x, names):
        return ["| " + " ".join(f"{n}:{v:.9g}" for n, v in zip(names, r)) for r in x.tolist()]

    def predict_one(self, row):
        return self.ws.predict(row)

    def learn_one(self, row, y):
        if self.task == "classification":
            label = "1" if y > 0.5 else "-1"
        else:
            label = f"{y:.9g}"
        self.ws.learn(label + " " + row)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--csv", required=True)
    p.add_argument("--task", required=True, choices=["classification", "regression"])
    p.add_argument("--learner", required=True,
                   choices=["sklearn", "sklearn_default", "river", "river_default", "vw",
                            "vw_default"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--passes", type=int, default=3,
                   help="progressive passes, each on a fresh model; the median pass's throughput")
    p.add_argument("--out", required=True)
    a = p.parse_args()

    with open(a.csv) as f:
        names = f.readline().strip().split(",")[:-1]
    data = np.loadtxt(a.csv, delimiter=",", skiprows=1, ndmin=2)
    x, y = data[:, :-1], data[:, -1]
    default = a.learner.endswith("_default")
    family = a.learner.removesuffix("_default")

    def one_pass():
        preds = np.empty(len(y))
        learning = 0.0
        if family == "sklearn":
            m = Sklearn(a.task, default)
            for s in range(0, len(y), a.batch):
                xc, yc = x[s:s + a.batch], y[s:s + a.batch]
                preds[s:s + len(yc)] = m.predict_chunk(xc)
                t = time.perf_counter()
                m.learn_chunk(xc, yc)
                learning += time.perf_counter() - t
            inputs = m.single_inputs(x)
        else:
            m = River(a.task, default) if family == "river" else Vw(a.task, default)
            rows = m.rows(x, names)
            for i, (r, yi) in enumerate(zip(rows, y)):
                preds[i] = m.predict_one(r)
                t = time.perf_counter()
                m.learn_one(r, yi)
                learning += time.perf_counter() - t
            inputs = rows[:1000]
        return m, inputs, preds, learning

    m, inputs, preds, first = one_pass()
    times = [first] + [one_pass()[3] for _ in range(max(a.passes, 1) - 1)]
    learning = sorted(times)[len(times) // 2]
    preds.astype("<f4").tofile(a.out)
    p50, p99, blocks = latency(m.predict_one, inputs)
    print(json.dumps({
        "learner": a.learner, "rows": len(y), "learn_seconds": learning,
        "rows_per_second": len(y) / learning, "predict_p50_ns": p50, "predict_p99_ns": p99,
        "latency_blocks": blocks, "peak_rss_mib": peak_rss_mib(), "refused_chunks": 0,
        "threads": "1",
    }))


if __name__ == "__main__":
    main()
