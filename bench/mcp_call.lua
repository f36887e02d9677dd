-- wrk script for scripts/bench.sh: POST one MCP tools/call (search_knowledge_base) per
-- request, the way claude.ai does on the Streamable HTTP transport (2025-06-18, stateless).
--
-- The body is bench/tools_call.json (run wrk from the repository root, or set
-- BENCH_BODY_FILE). Env: BENCH_TOKEN (optional) adds "Authorization: Bearer …".
-- done() prints one machine-readable line, "BENCH {json}", that bench/report.py reads.
-- No response() hook on purpose: parsing every body in Lua would load the shared CPUs;
-- bench.sh checks answers with curl before and after each run instead.

wrk.method = "POST"
wrk.path = "/mcp"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
local path = os.getenv("BENCH_BODY_FILE") or "bench/tools_call.json"
local file = assert(io.open(path, "rb"), "cannot open " .. path .. ": run wrk from the repository root")
wrk.body = file:read("*a"):gsub("%s+$", "")
file:close()

local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
