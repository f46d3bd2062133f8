-- Refresh with rotation: run with as many threads as connections (-tN -cN), so one wrk thread =
-- one connection = one session, and a session never has two refreshes in flight (which the
-- contract answers with 409). Thread i starts from line i of the file $TOKENS (one refresh
-- token per line, each of its own session) and keeps the rotated token of every answer.
--
-- The client shares the machine's cores with the server, so this script keeps its own work per
-- request to what PocketBase's static baseline costs wrk (bench/README.md, "The refresh
-- client"): the request is one concatenation of a prefix built once (wrk.format would build a
-- header table per request), and the new token is cut out with two plain finds (no pattern).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

local token, head

function init(args)
  local i = 0
  for line in io.lines(os.getenv("TOKENS")) do
    i = i + 1
    if i == id then token = line end
  end
  if not token then error("refresh.lua: no token for thread " .. tostring(id)) end
  head = "POST /api/v1/token/refresh/ HTTP/1.1\r\nHost: " .. wrk.headers["Host"] ..
    "\r\nContent-Type: application/json\r\nContent-Length: "
end

function request()
  local body = '{"refresh":"' .. token .. '"}'
  return head .. #body .. "\r\n\r\n" .. body
end

counting = true
function response(status, headers, body)
  count(status)
  local i = body:find('"refresh":"', 1, true)
  if i then
    local j = body:find('"', i + 11, true)
    if j then token = body:sub(i + 11, j - 1) end
  end
end
