-- GET one seeded workspace by id; a random group and name per request.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

function init(args) seed_random() end

function request()
   local g = math.random(1, groups)
   local i = math.random(1, per_group)
   return wrk.format("GET", group_path(g) .. "/" .. ws_name(i) .. "?api-version=2025-12-01")
end
