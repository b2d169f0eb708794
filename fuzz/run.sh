#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (not part of the default CI):
#   bash fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
# Needs cargo-fuzz (installed here if missing). The toolchain is stable, so
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags; no sanitizer (the
# code under test is safe Rust; panics, overflows in debug assertions,
# timeouts and out-of-memory are what it looks for). Crashing inputs land in
# fuzz/artifacts/<target>/: fix the cause and add the input to the unit
# tests of the parser it broke.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
status=0
for target in config csv checkpoint manifest sample_log; do
  mkdir -p "corpus/$target"
  echo "== $target (${secs}s)"
  cargo fuzz run -s none --debug-assertions "$target" "corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 \
    | grep -E "stat::number_of_executed_units|stat::new_units_added|ERROR|panicked|SUMMARY|Done" || status=1
done
exit $status
