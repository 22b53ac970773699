-- W2: runs/log-batch with 1,000 metrics per request (10 keys x 100 steps).
-- Steps are unique per request (request n uses steps n*100 .. n*100+99 for
-- every key), so all points are distinct. The body is a template whose step
-- slots are refilled per request; only tostring() runs per metric.
-- usage: wrk -s log_batch.lua URL -- <run_id> [step_offset]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "stats.lua")

local path = "/api/2.0/mlflow/runs/log-batch"
local headers = { ["Content-Type"] = "application/json" }
local KEYS, STEPS = 10, 100
local parts, slots, counter, step_base

function init(args)
  local run_id = args[1]
  step_base = tonumber(args[2] or "0") + tid * 1000000000
  counter = 0
  math.randomseed(12345 + tid)
  local ts = os.time() * 1000
  parts, slots = {}, {}
  table.insert(parts, '{"run_id":"' .. run_id .. '","metrics":[')
  for k = 0, KEYS - 1 do
    for s = 0, STEPS - 1 do
      local sep = (k == 0 and s == 0) and "" or ","
      table.insert(parts, string.format('%s{"key":"m%d","value":%.6f,"timestamp":%d,"step":',
        sep, k, math.random(), ts))
      table.insert(parts, "0")
      table.insert(slots, { #parts, s })
      table.insert(parts, "}")
    end
  end
  table.insert(parts, "]}")
end

function request()
  counter = counter + 1
  local base = step_base + counter * STEPS
  for i = 1, #slots do
    local sl = slots[i]
    parts[sl[1]] = tostring(base + sl[2])
  end
  return wrk.format("POST", path, headers, table.concat(parts))
end
