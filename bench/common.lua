-- Shared by get.lua, put.lua and list.lua (loaded with dofile from each of them).
--
-- Environment (set by bench/run.sh):
--   KILN_TOKEN   bearer token
--   KILN_SUB     subscription id
--   BENCH_GROUPS number of seeded resource groups (bench-rg-1 .. bench-rg-N)
--   BENCH_PER_GROUP workspaces seeded per group (ws-0000001 .. per group)
--
-- Every response is counted by status code in the `response` hook; `done` prints one
-- machine-readable line starting with "BENCH " that run.sh parses.

token = os.getenv("KILN_TOKEN") or error("KILN_TOKEN not set")
sub = os.getenv("KILN_SUB") or error("KILN_SUB not set")
groups = tonumber(os.getenv("BENCH_GROUPS") or "1")
per_group = tonumber(os.getenv("BENCH_PER_GROUP") or "1000")

wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/json"

local threads = {}
function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

statuses = {}
function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function seed_random()
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
   for _ = 1, 10 do math.random() end
end

function ws_name(i)
   return string.format("ws-%07d", i)
end

function group_path(g)
   return "/subscriptions/" .. sub .. "/resourceGroups/bench-rg-" .. g
      .. "/providers/Microsoft.MachineLearningServices/workspaces"
end

function done(summary, latency, requests)
   local total, non2xx, parts = {}, 0, {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses") or {}
      for code, n in pairs(s) do total[code] = (total[code] or 0) + n end
   end
   local codes = {}
   for code in pairs(total) do table.insert(codes, code) end
   table.sort(codes)
   for _, code in ipairs(codes) do
      if code < 200 or code > 299 then non2xx = non2xx + total[code] end
      table.insert(parts, code .. ":" .. total[code])
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d "
         .. "non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d statuses=%s\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      non2xx, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
