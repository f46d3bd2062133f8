-- Refresh with rotation: run with as many threads as connections (-tN -cN), so one wrk thread =
-- one connection = one session, and a session never has two refreshes in flight (which the
-- contract answers with 409). Thread i starts from line i of the file $TOKENS (one refresh
-- token per line, each of its own session) and keeps the rotated token of every answer.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

local token

function init(args)
  local i = 0
  for line in io.lines(os.getenv("TOKENS")) do
    i = i + 1
    if i == id then token = line end
  end
  if not token then error("refresh.lua: no token for thread " .. tostring(id)) end
end

function request()
  return wrk.format("POST", "/api/v1/token/refresh/", {["Content-Type"] = "application/json"},
    '{"refresh":"' .. token .. '"}')
end

counting = true
function response(status, headers, body)
  count(status)
  local r = body:match('"refresh":"([^"]+)"')
  if r then token = r end
end
