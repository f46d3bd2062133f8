-- User-directory search at scale (issue 13): GET /api/v1/users/?search=<term>&ordering=-date_joined
-- with the term taken in turn from a list of substrings of names, emails, phone numbers and
-- company ids (common and rare ones, 3+ characters: the trigram index's case; each thread starts
-- at another place of the list). The Bearer token comes from -H. Every answer must be 200.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

local terms = {
  "son", "mar", "ana", "ria", "john", "garc", "rey", "santos", "lee", "chr", "ela", "tan", "ong",
  "cruz", "Dela", "MARIA", "example.org", "corp.", "@mail", "jose", "müller", "peña",
  "9171", "0012", "MA0", "MA12345", "an.", "kris", "jen", "xyz", "qqq", "bautista", "wats", "wil",
  "ram", "torres", "ver", "ine", "ick",
}
local i = 0
local function escape(s)
  return (s:gsub("[^%w%-._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  i = i + 1
  local t = terms[(i + (id or 0) * 7) % #terms + 1]
  return wrk.format("GET", "/api/v1/users/?search=" .. escape(t) .. "&ordering=-date_joined")
end

counting = true
function response(status, headers, body)
  count(status)
end
