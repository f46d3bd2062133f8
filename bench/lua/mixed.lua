-- Mixed read/write traffic: one thread = one connection = one session (run with -tN -cN and N
-- tokens in $TOKENS, as refresh.lua). Every fifth request of a thread (the first included)
-- rotates the session's refresh token; the four others are GETs with the session's latest
-- access token, alternating token validate and profile: 80% reads, 20% rotations.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

local refresh, access
local n = 0

function init(args)
  local i = 0
  for line in io.lines(os.getenv("TOKENS")) do
    i = i + 1
    if i == id then refresh = line end
  end
  if not refresh then error("mixed.lua: no token for thread " .. tostring(id)) end
end

function request()
  n = n + 1
  if n % 5 == 1 or not access then
    return wrk.format("POST", "/api/v1/token/refresh/", {["Content-Type"] = "application/json"},
      '{"refresh":"' .. refresh .. '"}')
  end
  local path = (n % 2 == 0) and "/api/v1/users/token/validate/" or "/api/v1/users/profile/"
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. access})
end

counting = true
function response(status, headers, body)
  count(status)
  local r = body:match('"refresh":"([^"]+)"')
  if r then
    refresh = r
    access = body:match('"access":"([^"]+)"') or access
  end
end
