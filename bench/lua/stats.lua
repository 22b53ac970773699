-- Shared wrk hooks: per-thread status counting and a machine-readable summary.
-- Loaded by the workload scripts with dofile(); the harness reads the single
-- line starting with "BENCHJSON " that done() prints.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

ok = 0
codes = {}
first_err = nil

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    local k = tostring(status)
    codes[k] = (codes[k] or 0) + 1
    if first_err == nil then
      first_err = k .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

local function jstr(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local total_ok, non2xx, all_codes, err = 0, 0, {}, nil
  for _, t in ipairs(threads) do
    total_ok = total_ok + (t:get("ok") or 0)
    local c = t:get("codes") or {}
    for k, v in pairs(c) do
      all_codes[k] = (all_codes[k] or 0) + v
      non2xx = non2xx + v
    end
    if err == nil then err = t:get("first_err") end
  end
  local parts = {}
  for k, v in pairs(all_codes) do table.insert(parts, jstr(k) .. ":" .. v) end
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"ok":%d,"non2xx":%d,"status_counts":{%s},' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d},' ..
    '"first_error":%s}',
    summary.requests, summary.duration, summary.bytes, total_ok, non2xx, table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    err and jstr(err) or "null")
  io.write("BENCHJSON " .. out .. "\n")
end
