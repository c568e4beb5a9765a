-- PUT of a new, unique workspace (the synchronous part: the 202 Accepted). The body is
-- the same ~1 KB document the seeded rows and the raw pgbench rows carry.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local run = os.getenv("BENCH_PUT_RUN") or "r"
local body_file = os.getenv("BENCH_PUT_BODY") or error("BENCH_PUT_BODY not set")
local f = assert(io.open(body_file, "r"))
local body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local counter = 0
function init(args) seed_random() end

function request()
   counter = counter + 1
   local name = string.format("p%s-t%d-%d", run, tid, counter)
   return wrk.format("PUT", "/subscriptions/" .. sub .. "/resourceGroups/bench-rg-put"
      .. "/providers/Microsoft.MachineLearningServices/workspaces/" .. name
      .. "?api-version=2025-12-01", nil, body)
end
