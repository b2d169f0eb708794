#!/usr/bin/env bash
# HTTP predict throughput and latency on loopback, with wrk (Debian's
# package): a single row and batches of 100 rows per request against
# `refit serve` holding a model trained on the churn demo.
#
#   bash benches/http/run.sh [DURATION_S] [CONNECTIONS]
#
# wrk and the server share this machine's cores; the figures include that.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10}
connections=${2:-16}
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
cargo build --release --locked --bin refit
bin=$PWD/target/release/refit
dir=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
cd "$dir"
# A config listing the churn demo's features, and a model trained on it.
features=$("$bin" demo --rows 1 | head -1 | tr ',' '\n' | grep -v '^label$' | sed 's/.*/"&"/' | paste -sd, -)
sed "s/^features = \[\]/features = [$features]/" "$OLDPWD/config.toml" > config.toml
"$bin" run --rows 20000 >/dev/null
port=18080
"$bin" serve --config config.toml --bind 127.0.0.1:$port >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -fs http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
lua=$OLDPWD/benches/http/predict.lua
echo "# refit serve, POST /v1/predict, wrk ${duration}s, $connections connections, 2 wrk threads, $(nproc) cores shared"
for rows in 1 100; do
  ROWS=$rows wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$lua" http://127.0.0.1:$port/v1/predict | grep '^ROWS='
done
