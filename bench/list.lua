-- One 100-item keyset page of a seeded group, starting after a random seeded workspace:
-- $skipToken is the base64url (no padding) of the last id_key of the previous page, as
-- Kiln encodes it (src/arm/read.rs encode_token), so random pages are real keyset pages.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function base64url(s)
   local out, n = {}, #s
   for i = 1, n, 3 do
      local a, b, c = s:byte(i, i + 2)
      local v = a * 65536 + (b or 0) * 256 + (c or 0)
      local chars = 4
      if not b then chars = 2 elseif not c then chars = 3 end
      for k = 1, chars do
         local shift = 18 - 6 * (k - 1)
         local idx = math.floor(v / 2 ^ shift) % 64
         out[#out + 1] = b64:sub(idx + 1, idx + 1)
      end
   end
   return table.concat(out)
end

local tokens = {}
function init(args)
   seed_random()
end

function request()
   local g = math.random(1, groups)
   -- start after workspace i, so that at least 100 follow it in the group
   local i = math.random(1, per_group - 100)
   local key = string.lower(group_path(g) .. "/" .. ws_name(i))
   return wrk.format("GET", group_path(g) .. "?api-version=2025-12-01&$top=100&$skipToken="
      .. base64url(key))
end
