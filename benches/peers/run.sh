#!/usr/bin/env bash
# refit vs River, scikit-learn and Vowpal Wabbit on the same streams, in one
# command; writes benches/peers/RESULTS.md:
#   bash benches/peers/run.sh [--quick] [--only churn,synthetic20]
# Installs the pinned Python environment (benches/peers/setup.sh) and builds
# refit's runner (release) first. Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$(bash benches/peers/setup.sh | tail -1)
cargo build --release --locked --bin refit --example peer_refit
"$python" benches/peers/bench.py "$@"
