"""FTRL-Proximal reference fixture for refit-ftrl (plugins/ftrl/tests).

An independent implementation of McMahan et al., "Ad Click Prediction: a
View from the Trenches" (KDD 2013), Algorithm 1 (per-coordinate FTRL-Proximal
with L1 and L2; no L1 on the bias), in plain Python floats (IEEE double),
plus a plain-SGD logistic regression with L2 on touched coordinates. A
repeated index in a row is one coordinate whose value is the sum (so its
n gets g^2 (sum x)^2). A seeded stream of
sparse rows (some with a repeated index) is learned row by row; the fixture
keeps the stream, each row's progressive prediction (before learning it)
and the final weight of every coordinate that moved.

Standard library only: python3 benches/peers/make_ftrl_fixture.py
writes plugins/ftrl/tests/fixtures/ftrl_reference.json.
"""
import json
import math
import os
import random
import struct

DIM_BITS = 6
DIM = 1 << DIM_BITS
BIAS = DIM  # the bias is coordinate DIM, always present with value 1


def sigmoid(s):
    return 1.0 / (1.0 + math.exp(-s))


def merged(row):
    """The row with each index once, its values summed (a repeated index, as
    a hash collision gives, is one coordinate with x = the sum), in index
    order, then the bias."""
    sums = {}
    for i, x in row:
        sums[i] = sums.get(i, 0.0) + x
    return sorted(sums.items()) + [(BIAS, 1.0)]


class Ftrl:
    def __init__(self, alpha, beta, l1, l2):
        self.alpha, self.beta, self.l1, self.l2 = alpha, beta, l1, l2
        self.z = [0.0] * (DIM + 1)
        self.n = [0.0] * (DIM + 1)

    def weight(self, i):
        z = self.z[i]
        l1 = 0.0 if i == BIAS else self.l1  # no L1 on the bias
        if abs(z) <= l1:
            return 0.0
        sign = 1.0 if z > 0 else -1.0
        return -(z - sign * l1) / ((self.beta + math.sqrt(self.n[i])) / self.alpha + self.l2)

    def learn(self, row, y):
        entries = merged(row)
        w = [self.weight(i) for i, _ in entries]  # the weights of the prediction
        p = sigmoid(sum(wi * x for wi, (_, x) in zip(w, entries)))
        g = p - y
        for wi, (i, x) in zip(w, entries):
            gi = g * x
            sigma = (math.sqrt(self.n[i] + gi * gi) - math.sqrt(self.n[i])) / self.alpha
            self.z[i] += gi - sigma * wi
            self.n[i] += gi * gi
        return p

    def weights(self):
        return [self.weight(i) for i in range(DIM + 1)]


class Sgd:
    def __init__(self, lr, l2):
        self.lr, self.l2 = lr, l2
        self.w = [0.0] * (DIM + 1)

    def learn(self, row, y):
        entries = merged(row)
        p = sigmoid(sum(self.w[i] * x for i, x in entries))
        g = p - y
        for i, x in entries:
            l2 = 0.0 if i == BIAS else self.l2
            self.w[i] -= self.lr * (g * x + l2 * self.w[i])
        return p

    def weights(self):
        return list(self.w)


def f32(x):
    """x rounded to the nearest float32, as refit stores feature values."""
    return struct.unpack("f", struct.pack("f", x))[0]


def stream(seed, rows):
    rng = random.Random(seed)
    truth = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
    out = []
    for _ in range(rows):
        k = rng.randint(1, 6)
        row = [(rng.randrange(DIM), f32(rng.choice([1.0, rng.uniform(-2, 2)]))) for _ in range(k)]
        if rng.random() < 0.1:
            row.append(row[0])  # a repeated index, as a hash collision gives
        s = sum(truth[i] * x for i, x in row) - 0.5
        y = 1.0 if rng.random() < sigmoid(s) else 0.0
        out.append((row, y))
    return out


def run(model, data):
    preds = [model.learn(row, y) for row, y in data]
    return preds, model.weights()


def main():
    data = stream(2013, 2000)
    cases = []
    for name, params, model in [
        ("ftrl_default", {"mode": "ftrl", "alpha": 0.1, "beta": 1.0, "l1": 1.0, "l2": 1.0}, Ftrl(0.1, 1.0, 1.0, 1.0)),
        ("ftrl_no_l1", {"mode": "ftrl", "alpha": 0.5, "beta": 0.5, "l1": 0.0, "l2": 0.1}, Ftrl(0.5, 0.5, 0.0, 0.1)),
        ("sgd", {"mode": "sgd", "alpha": 0.1, "beta": 1.0, "l1": 0.0, "l2": 0.001, "lr": 0.05}, Sgd(f32(0.05), 0.001)),
    ]:
        preds, weights = run(model, data)
        cases.append({"name": name, "params": params, "predictions": preds, "weights": weights})
    fixture = {
        "source": "benches/peers/make_ftrl_fixture.py (McMahan et al. 2013, Algorithm 1)",
        "bits": DIM_BITS,
        "rows": [{"indices": [i for i, _ in row], "values": [x for _, x in row], "label": y} for row, y in data],
        "cases": cases,
    }
    out = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "ftrl", "tests", "fixtures", "ftrl_reference.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(fixture, f)
    print(f"wrote {os.path.normpath(out)}: {len(data)} rows, {len(cases)} cases")


if __name__ == "__main__":
    main()
