#!/usr/bin/env bash
# Load benchmarks against the real binary (see bench/README.md).
#   bench/run.sh [seconds-per-workload]      (default 10)
# Needs wrk (Debian package `wrk`; installed here when missing) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
export GOTOOLCHAIN=local

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
go build -o "$WORK/gatehouse" .
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
export RATE_LIMITS_ENABLED=false GATEHOUSE_SECRET=bench-secret-0123456789abcdefghijkl APP_URL="$URL"
"$WORK/gatehouse" serve --http "127.0.0.1:$PORT" --dir "$WORK/data" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -fs "$URL/api/health" >/dev/null && break; sleep 0.1; done

"$WORK/gatehouse" superuser upsert bench@example.com bench-password-123 --dir "$WORK/data" >/dev/null
SU=$(curl -fs -H 'Content-Type: application/json' -d '{"identity":"bench@example.com","password":"bench-password-123"}' \
  "$URL/api/collections/_superusers/auth-with-password" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -fs -H "Authorization: $SU" -H 'Content-Type: application/json' \
  -d '{"email":"bench.user@example.com","password":"violet-harbor-42","passwordConfirm":"violet-harbor-42","is_active":true,"first_name":"Bench","last_name":"User"}' \
  "$URL/api/collections/users/records" >/dev/null

login() { curl -fs -H 'Content-Type: application/json' -d '{"email":"bench.user@example.com","password":"violet-harbor-42"}' "$URL/api/v1/users/login/"; }
ACCESS=$(login | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
# one session per refresh connection: rotation never races within a family
: >"$WORK/refresh_tokens"
for _ in $(seq 1 8); do login | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh"])' >>"$WORK/refresh_tokens"; done

cat >"$WORK/refresh.lua" <<'LUA'
-- one wrk thread = one connection = one session: each refresh presents the session's current
-- token and keeps the rotated one from the answer
local next_id = 0
function setup(thread) next_id = next_id + 1; thread:set("id", next_id) end
local token
function init(args)
  local i = 0
  for line in io.lines(os.getenv("TOKENS")) do i = i + 1; if i == id then token = line end end
end
request = function()
  return wrk.format("POST", "/api/v1/token/refresh/", {["Content-Type"] = "application/json"}, '{"refresh":"' .. token .. '"}')
end
response = function(status, headers, body)
  local r = body:match('"refresh":"([^"]+)"')
  if r then token = r end
end
LUA

run() { # name, wrk args...
  local name=$1; shift
  local out
  out=$(wrk --latency "$@" 2>&1)
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  printf "%-22s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n" "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo "Gatehouse load benchmark: $(date -u +%FT%TZ), $(nproc) cores, ${DURATION}s per workload"
run "validate (c=$CONNS)" -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H "Authorization: Bearer $ACCESS" "$URL/api/v1/users/token/validate/"
if curl -fs -o /dev/null -H "Authorization: Bearer $ACCESS" "$URL/api/v1/users/profile/"; then
  run "profile (c=$CONNS)" -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H "Authorization: Bearer $ACCESS" "$URL/api/v1/users/profile/"
  run "profile (c=64)" -t"$THREADS" -c64 -d"${DURATION}s" -H "Authorization: Bearer $ACCESS" "$URL/api/v1/users/profile/"
fi
# one session per connection (wrk: one thread per connection), every request rotates
TOKENS="$WORK/refresh_tokens" run "refresh (c=8, rotate)" -t8 -c8 -d"${DURATION}s" -s "$WORK/refresh.lua" "$URL/"
echo "peak RSS of gatehouse: $(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)"
