"""Vowpal Wabbit on the hashed click events refit's CTR bench learns.

usage: python vw_ctr.py target/ctr_clicks.vw

The file (written by `cargo bench --bench ctr`) holds one click per line,
`label |h coordinate:value ...`, the coordinates refit's hasher produced;
VW takes all-digit feature names as indices, so both learn the same
features. Reports, single-threaded through VW's Python interface:
- learning throughput, one `learn` call per example (FTRL, VW's defaults,
  logistic loss, 18 bits), and with the whole file as one `learn` call per
  example after parsing (`parse` then `learn` of the parsed example);
- the latency of scoring 100 examples (refit's `rank` of 100 documents).
"""
import sys
import time

import vowpalwabbit


def main():
    path = sys.argv[1]
    with open(path) as f:
        lines = [line.rstrip("\n") for line in f]
    args = "--loss_function logistic --ftrl -b 18 --quiet"
    vw = vowpalwabbit.Workspace(args)
    t = time.perf_counter()
    for line in lines:
        vw.learn(line)
    learn_s = time.perf_counter() - t
    vw.finish()

    vw = vowpalwabbit.Workspace(args)
    parsed = [vw.parse(line) for line in lines]
    t = time.perf_counter()
    for ex in parsed:
        vw.learn(ex)
    learn_parsed_s = time.perf_counter() - t
    for ex in parsed:
        vw.finish_example(ex)

    page = [line.split(" ", 1)[1] for line in lines[:100]]
    times = []
    for _ in range(2000):
        t = time.perf_counter()
        for line in page:
            vw.predict(line)
        times.append(time.perf_counter() - t)
    times.sort()
    vw.finish()
    n = len(lines)
    print(f"vowpalwabbit {vowpalwabbit.__version__} ({args}), {n} hashed clicks from {path}")
    print(f"vw/learn (text line per call):      {n / learn_s:,.0f} clicks/s")
    print(f"vw/learn (pre-parsed example):      {n / learn_parsed_s:,.0f} clicks/s")
    print(f"vw/score_100 (100 predict calls):   p50 {times[len(times) // 2] * 1e6:.1f} us, p99 {times[len(times) * 99 // 100] * 1e6:.1f} us")


if __name__ == "__main__":
    main()
