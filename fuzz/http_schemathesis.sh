#!/usr/bin/env bash
# Fuzzes the HTTP API from its OpenAPI description with schemathesis
# (bounded; not part of the default CI):
#   bash fuzz/http_schemathesis.sh [MAX_EXAMPLES]     (default 200 per operation)
# Two servers are tested: a dense (churn) model and a sparse (CTR) one, each
# with an API token (REFIT_TOKEN) that schemathesis sends. The check is "no
# 5xx and no crash": every answer must be below 500, and the server must
# still answer /healthz afterwards; and every changing call without the
# token must get 401.
set -euo pipefail
cd "$(dirname "$0")/.."
max=${1:-200}
venv=fuzz/.venv
[ -x "$venv/bin/schemathesis" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check -r fuzz/requirements.txt; }
cargo build --locked --bin refit
bin=$PWD/target/debug/refit
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/dense" "$work/ctr"
cat > "$work/dense/config.toml" <<'TOML'
[model]
features = ["tenure_years", "monthly_charges_100usd", "support_calls", "usage_hours_10", "monthly_contract", "late_payments", "has_discount", "age_decades"]
[online]
min_samples_per_update = 50
TOML
cat > "$work/ctr/config.toml" <<'TOML'
[agent]
name = "ctr"
file_prefix = "ctr_model"
[model]
kind = "ftrl"
[model.params]
bits = 16
[online]
min_samples_per_update = 50
TOML
status=0
token="fuzz-$RANDOM-$RANDOM"
for kind in dense ctr; do
  port=$((18300 + ${#pids[@]}))
  (cd "$work/$kind" && REFIT_TOKEN=$token exec "$bin" serve --config config.toml --bind 127.0.0.1:$port >serve.log 2>&1) &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo "== $kind model on port $port"
  for call in "POST /v1/samples" "POST /v1/clicks" "POST /v1/feedback" "POST /v1/rollback" "POST /v1/promote" "PUT /v1/online"; do
    set -- $call
    code=$(curl -s -o /dev/null -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$port$2")
    [ "$code" = 401 ] || { echo "$call without the token answered $code, not 401"; status=1; }
  done
  "$venv/bin/schemathesis" run "http://127.0.0.1:$port/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error --max-examples "$max" --seed 1 || status=1
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the $kind server stopped answering"; status=1; }
done
exit $status
