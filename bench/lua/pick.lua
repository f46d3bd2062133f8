-- Round-robin picks (POST /api/v1/tts/round-robin/) of distinct tickets: thread i sends
-- tickets "w<i>-1", "w<i>-2", … for the role $ROLE_ID, with the API key given by -H. Every
-- answer must be 201 (a new pick): a 200 would be a ticket answered twice (reported as status
-- "1200"), anything else an error; both are counted as unexpected with their status.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

local role = os.getenv("ROLE_ID") or error("pick.lua: ROLE_ID is not set")
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json" -- with the -H headers (the API key)

function request()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"role_id":"' .. role .. '","ticket_id":"w' .. id .. '-' .. n .. '"}')
end

counting = true
function response(status, headers, body)
  if status == 201 then
    count(201)
  else
    count(status == 200 and 1200 or status)
  end
end
