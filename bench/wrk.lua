-- wrk script: POST one chat body with a bearer token; write a JSON summary to BENCH_JSON.
-- env: BENCH_BODY (file), BENCH_TOKEN, BENCH_PATH (default /v1/chat/completions), BENCH_JSON,
--      BENCH_HEADER (optional response header holding a number, e.g. x-skein-overhead-ms:
--      its sum and count go into the summary; defining response() costs wrk some speed,
--      so it is only done when asked), BENCH_HEADERS (optional extra headers, "Name: value"
--      one per line: the MCP session, Accept, protocol version)
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/chat/completions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "sk-bench-1234")
for name, value in string.gmatch(os.getenv("BENCH_HEADERS") or "", "([^:\n]+):%s*([^\n]*)") do
  wrk.headers[name] = value
end

local header_name = os.getenv("BENCH_HEADER")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  hdr_sum = 0
  hdr_count = 0
end

if header_name and header_name ~= "" then
  header_name = string.lower(header_name)
  function response(status, headers, rbody)
    for k, v in pairs(headers) do
      if string.lower(k) == header_name then
        local n = tonumber(v)
        if n then
          hdr_sum = hdr_sum + n
          hdr_count = hdr_count + 1
        end
      end
    end
  end
end

function done(summary, latency, requests)
  local sum, count = 0, 0
  for _, t in ipairs(threads) do
    sum = sum + (t:get("hdr_sum") or 0)
    count = count + (t:get("hdr_count") or 0)
  end
  local e = summary.errors
  local s = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_stdev_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,' ..
    '"lat_max_us":%d,"header_sum":%.6f,"header_count":%d}',
    summary.requests, summary.duration, summary.bytes, summary.requests / (summary.duration / 1e6),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, sum, count)
  local out = os.getenv("BENCH_JSON")
  if out then
    local o = assert(io.open(out, "w"))
    o:write(s .. "\n")
    o:close()
  end
  io.write(s .. "\n")
end
