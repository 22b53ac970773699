-- W3: runs/search, max_results=100, filter on a metric and a param, ordered by
-- a metric. The same request every time.
-- usage: wrk -s search.lua URL -- <experiment_id>
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "stats.lua")

function init(args)
  wrk.method = "POST"
  wrk.path = "/api/2.0/mlflow/runs/search"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"experiment_ids":["' .. args[1] .. '"],' ..
    '"filter":"metrics.m3 < 0.5 and params.p2 = \'7\'",' ..
    '"max_results":100,"order_by":["metrics.m3 DESC"]}'
end
