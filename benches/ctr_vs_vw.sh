#!/usr/bin/env bash
# refit's CTR bench and Vowpal Wabbit on the same hashed clicks, in one run:
#   bash benches/ctr_vs_vw.sh
# (installs the peers' Python environment with benches/peers/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash benches/peers/setup.sh | tail -1)
cargo bench --locked --bench ctr 2>&1 | grep -E '^ctr|time:|thrpt:|p50' | grep -v '%'
"$python" benches/peers/vw_ctr.py target/ctr_clicks.vw
