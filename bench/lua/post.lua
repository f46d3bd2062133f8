-- Static POST of the JSON body in $BODY (may be empty) to the URL of the wrk command line;
-- headers (e.g. Authorization) from -H. Answers are counted by status class (429s apart).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

wrk.method = "POST"
wrk.body = os.getenv("BODY") or ""
if wrk.body ~= "" then
  wrk.headers["Content-Type"] = "application/json"
end

counting = true
function response(status, headers, body)
  count(status)
end
