-- wrk script: POST /v1/predict with a body of ROWS churn-demo rows
-- (ROWS from the environment, default 1).
local rows = tonumber(os.getenv("ROWS") or "1")
local row = "[3.5, 61.0, 2.0, 1.0, 0.0, 24.0, 0.3, 45.0]"
local parts = {}
for i = 1, rows do parts[i] = row end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"rows": [' .. table.concat(parts, ", ") .. ']}'

done = function(summary, latency, requests)
  io.write(string.format(
    "ROWS=%d requests/s=%.0f rows/s=%.0f p50=%.3fms p99=%.3fms max=%.3fms errors=%d non2xx=%d\n",
    rows, summary.requests / (summary.duration / 1e6),
    rows * summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
