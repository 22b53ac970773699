-- W1: one runs/log-metric per request; every request has a unique step and
-- timestamp so that no server can deduplicate points.
-- usage: wrk -s log_metric.lua URL -- <run_id> [step_offset]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "stats.lua")

local run_id, counter, base_ts, offset
local path = "/api/2.0/mlflow/runs/log-metric"
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  run_id = args[1]
  offset = tonumber(args[2] or "0")
  counter = 0
  base_ts = os.time() * 1000
end

function request()
  counter = counter + 1
  local step = offset + tid * 1000000000 + counter
  local body = string.format(
    '{"run_id":"%s","key":"loss","value":%.6f,"timestamp":%d,"step":%d}',
    run_id, (counter % 1000) / 1000.0, base_ts + counter, step)
  return wrk.format("POST", path, headers, body)
end
