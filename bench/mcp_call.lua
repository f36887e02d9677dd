-- wrk script for scripts/bench.sh: POST one MCP tools/call (search_knowledge_base) per
-- request, the way claude.ai does on the Streamable HTTP transport (2025-06-18, stateless).
--
-- Env: BENCH_TOKEN (optional) adds "Authorization: Bearer …" for the auth-on run.
-- done() prints one machine-readable line, "BENCH {json}", that bench/wrk_row.py reads.
-- No response() hook on purpose: parsing every body in Lua would load the shared CPUs;
-- bench.sh checks answers with curl before and after each run instead.

wrk.method = "POST"
wrk.path = "/mcp"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":'
  .. '{"name":"search_knowledge_base","arguments":{"query":"How do I rotate access keys?","max_results":5}}}'

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
