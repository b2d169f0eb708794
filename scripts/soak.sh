#!/usr/bin/env bash
# The soak test (tests/soak.rs), not part of the default test run:
#   bash scripts/soak.sh [SECONDS]    (default 180)
# Concurrent ingest (overloaded on purpose), predict, config edits and
# rollbacks; fails if RSS grows more than 10% after the warm-up, an
# operation fails unexpectedly, or an accepted sample is lost.
set -euo pipefail
cd "$(dirname "$0")/.."
REFIT_SOAK_SECS="${1:-180}" cargo test --locked --test soak -- --ignored --nocapture
