-- Shared by every workload script of bench/run.sh (loaded with dofile):
--  * setup() numbers the threads (global `id` in each thread, 1..threads) and keeps them;
--  * count(status) tallies answers by class in the thread (scripts that define response());
--  * done() prints one machine-readable RESULT line that run.sh parses.
-- Scripts without response() keep wrk's fast static-request path; their non-2xx count is
-- wrk's own (every status > 399).

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

counting = false          -- set to true by scripts that call count() from response()
n_ok, n_429, n_other = 0, 0, 0
other_codes = ","         -- distinct unexpected statuses, ",401,409,"

function count(status)
  if status >= 200 and status < 300 then
    n_ok = n_ok + 1
  elseif status == 429 then
    n_429 = n_429 + 1
  else
    n_other = n_other + 1
    if not other_codes:find("," .. status .. ",", 1, true) then
      other_codes = other_codes .. status .. ","
    end
  end
end

function done(summary, latency, requests)
  local ok, s429, other, codes = 0, 0, 0, {}
  for _, t in ipairs(threads) do
    ok = ok + (t:get("n_ok") or 0)
    s429 = s429 + (t:get("n_429") or 0)
    other = other + (t:get("n_other") or 0)
    for c in string.gmatch(t:get("other_codes") or "", "%d+") do codes[c] = true end
  end
  local list = {}
  for c in pairs(codes) do table.insert(list, c) end
  table.sort(list)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d timeout=%d status_errors=%d counted=%s ok=%d s429=%d other=%d other_codes=%s\n",
    summary.requests, summary.duration,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    e.connect, e.read, e.write, e.timeout, e.status,
    tostring(counting), ok, s429, other,
    (#list > 0) and table.concat(list, "/") or "-"))
end
