#!/usr/bin/env bash
# Gatehouse directory at scale (issue 13; see bench/README.md "Directory at scale").
#
#   bench/scale.sh [seconds-per-workload]        default 10 (about a minute, plus seeding once)
#
# Seeds a data dir with 100,000 staff users and 300,000 assignments (bench/seed, direct SQL) once
# and keeps it in a cache keyed by the migrations and the seeder's source, starts Gatehouse on a
# copy of it (RATE_LIMITS_ENABLED=false) on a random loopback port, signs in as the seeded staff
# superuser and measures with wrk at 8 connections:
#   - search:  GET /api/v1/users/?search=<term>&ordering=-date_joined, terms varied (lua/search.lua)
#   - deep page: GET /api/v1/users/?page=1000&page_size=50, ordered by -date_joined and by email
#   - reference: the first page (page_size=50, default order): the same 50 profiles to encode
#     with no search and no offset, so a noisy machine can be read as a ratio.
# Target (issue 13): p99 ≤ 50 ms for search and deep pages. Missed targets are reported, not
# fatal; non-2xx answers or socket errors exit 1.
#
# BENCH_SCALE_CACHE=DIR   where seeded data dirs are kept (default ~/.cache/gatehouse-bench);
#                         older seeds (another key) are removed when a new one is made
# BENCH_SCALE_USERS, BENCH_SCALE_ASSIGNMENTS   sizes (default 100000 and 300000)
# BENCH_BIN=DIR           prebuilt gatehouse and benchtool (bench/run.sh passes its own)
# Needs: go, curl, wrk. Everything it starts is stopped and its temp dir removed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${1:-10}
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 600)); then
	echo "usage: bench/scale.sh [seconds-per-workload (1-600)]" >&2
	exit 2
fi
export GOTOOLCHAIN=local
export BENCH_LUA=$ROOT/bench/lua
USERS=${BENCH_SCALE_USERS:-100000} ASSIGNMENTS=${BENCH_SCALE_ASSIGNMENTS:-300000}
CACHE=${BENCH_SCALE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-bench}
CONNS=8 TARGET_P99_MS=50
ADMIN_EMAIL=bench.admin@example.com ADMIN_PASSWORD=bench-admin-password-1234 # bench/seed's defaults

command -v curl >/dev/null || { echo "scale: curl is required" >&2; exit 1; }
command -v wrk >/dev/null || { echo "scale: wrk is required (apt-get install wrk)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-scale.XXXXXX")
GH_PID="" WRK_PID=""
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh" # stop_pid, wrk_result
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$WRK_PID"
	stop_pid "$GH_PID"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "scale: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
die() {
	echo "scale: $*" >&2
	[[ -f $WORK/server.log ]] && tail -n 20 "$WORK/server.log" >&2
	exit 1
}

# build: gatehouse, benchtool (or bench/run.sh's) and the seeder
BIN=$WORK/bin
mkdir -p "$BIN"
if [[ -n ${BENCH_BIN:-} && -x $BENCH_BIN/gatehouse && -x $BENCH_BIN/benchtool ]]; then
	cp "$BENCH_BIN/gatehouse" "$BENCH_BIN/benchtool" "$BIN/"
else
	echo "scale: building (CGO_ENABLED=0)..." >&2
	CGO_ENABLED=0 go build -o "$BIN/gatehouse" . || die "go build of gatehouse failed"
	CGO_ENABLED=0 go build -o "$BIN/" ./bench/benchtool || die "go build of benchtool failed"
fi
CGO_ENABLED=0 go build -o "$BIN/" ./bench/seed || die "go build of bench/seed failed"
TOOL=$BIN/benchtool
json() { "$TOOL" json "$1"; }

# the seeded data dir, once per schema and seeder version
KEY=$(cat pb_migrations/*.go bench/seed/*.go | sha256sum | cut -c1-12)
SEED_DIR=$CACHE/scale-${USERS}u-${ASSIGNMENTS}a-$KEY
SEED_NOTE="cached"
if [[ ! -f $SEED_DIR/.complete ]]; then
	mkdir -p "$CACHE"
	find "$CACHE" -maxdepth 1 -name 'scale-*' -type d ! -path "$SEED_DIR" -exec rm -rf {} + # older seeds
	rm -rf "$SEED_DIR" "$SEED_DIR.tmp"
	echo "scale: seeding $USERS users and $ASSIGNMENTS assignments into $SEED_DIR (once)..." >&2
	T0=$(date +%s%N)
	RATE_LIMITS_ENABLED=false "$BIN/seed" --dir "$SEED_DIR.tmp" --users "$USERS" --assignments "$ASSIGNMENTS" 2>"$WORK/seed.log" ||
		die "seeding failed: $(cat "$WORK/seed.log")"
	SEED_S=$(awk -v n="$(($(date +%s%N) - T0))" 'BEGIN {printf "%.1f", n / 1e9}')
	mv "$SEED_DIR.tmp" "$SEED_DIR"
	touch "$SEED_DIR/.complete"
	SEED_NOTE="seeded now in ${SEED_S} s"
fi
SEED_MB=$(du -sm "$SEED_DIR" | cut -f1)
DATA=$WORK/data
cp -a "$SEED_DIR" "$DATA"
rm -f "$DATA/.complete"

# the server: defaults plus what a load test needs (README "Configuration")
unset APP_URL JWT_ISSUER ACCESS_TOKEN_TTL REFRESH_TOKEN_TTL SESSION_MAX_AGE MFA_TOKEN_TTL \
	JWT_KEY_ROTATION_DAYS JWT_HS256_SECRET COOKIE_SECURE COOKIE_DOMAIN CORS_ALLOWED_ORIGINS \
	TRUSTED_PROXIES REGISTRATION_ENABLED DEFAULT_SYSTEM_URL HIBP_ENABLED CAPTCHA_TEST_ANSWER \
	SMTP_HOST SMTP_PORT SMTP_USERNAME SMTP_PASSWORD SMTP_TLS SMTP_STARTTLS MAIL_FROM
export GATEHOUSE_SECRET=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
export RATE_LIMITS_ENABLED=false
# One sign-in serves the whole run. A sign-in writes (last_login, a session), and the lists'
# cached counts are read again after any write: a sign-in between the warm-up and a measurement
# would start it cold (the cold case is measured on its own, below).
export ACCESS_TOKEN_TTL=3600
for attempt in 1 2 3; do # the probed port may be taken before gatehouse listens: retry
	PORT=$("$TOOL" freeport)
	URL="http://127.0.0.1:$PORT"
	export APP_URL=$URL
	"$BIN/gatehouse" serve --http "127.0.0.1:$PORT" --dir "$DATA" >"$WORK/server.log" 2>&1 &
	GH_PID=$!
	"$TOOL" waithealth "$URL" 60000 "$GH_PID" >/dev/null && break
	stop_pid "$GH_PID"
	GH_PID=""
	((attempt < 3)) || die "gatehouse did not start"
done

access() { # a fresh access token of the seeded staff superuser
	curl -sS --fail-with-body -H 'Content-Type: application/json' \
		-d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" "$URL/api/v1/users/login/" | json access
}
ACCESS=$(access) || die "login of $ADMIN_EMAIL failed"
# Cold searches: the first request of each term of lua/search.lua right after a write (the
# sign-in), one at a time, when its count is not cached yet: a directory that is written to
# often answers this way more often than the warm measurement below shows.
mapfile -t TERMS < <(sed -n '/^local terms = {/,/^}/p' "$BENCH_LUA/search.lua" | grep -o '"[^"]*"' | tr -d '"')
((${#TERMS[@]} > 10)) || die "no search terms found in lua/search.lua"
COLD_MS=()
for term in "${TERMS[@]}"; do
	out=$(curl -sS -G -o "$WORK/cold.json" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $ACCESS" \
		--data-urlencode "search=$term" --data-urlencode "ordering=-date_joined" "$URL/api/v1/users/") || die "cold search $term failed"
	[[ ${out%% *} == 200 ]] || die "cold search $term answered ${out%% *}: $(head -c 300 "$WORK/cold.json")"
	COLD_MS+=("$(awk -v s="${out#* }" 'BEGIN {printf "%.1f", s * 1000}') $term")
done
COLD=$(printf '%s\n' "${COLD_MS[@]}" | sort -n | awk '{ms[NR] = $1; t[NR] = $2} END {
	printf "median %.1f ms, max %.1f ms (%s), %d terms", ms[int((NR + 1) / 2)], ms[NR], t[NR], NR }')
SEARCH_PATH="/api/v1/users/?search=son&ordering=-date_joined"
DEEP_DATE="/api/v1/users/?ordering=-date_joined&page=1000&page_size=50"
DEEP_EMAIL="/api/v1/users/?page=1000&page_size=50"
FIRST="/api/v1/users/?page_size=50"
for path in "$SEARCH_PATH" "$DEEP_DATE" "$DEEP_EMAIL" "$FIRST"; do # pre-flight: 200, full pages
	code=$(curl -sS -o "$WORK/check.json" -w '%{http_code}' -H "Authorization: Bearer $ACCESS" "$URL$path") || die "GET $path failed"
	[[ $code == 200 ]] || die "GET $path answered $code: $(head -c 300 "$WORK/check.json")"
	[[ $(json results.49.id <"$WORK/check.json") != "" ]] || die "GET $path: fewer than 50 results"
done
COUNT=$(curl -sS -H "Authorization: Bearer $ACCESS" "$URL$FIRST" | json count)
((COUNT == USERS + 1)) || die "count $COUNT, want $((USERS + 1)) (the seeded users and the admin)"

measure() { # name wrk-args...
	local name=$1
	shift
	echo "scale: $name (${DURATION}s)" >&2
	wrk --latency --timeout 10s "$@" >"$WORK/$name.out" 2>&1 &
	WRK_PID=$!
	wait "$WRK_PID" || die "wrk ($name) failed: $(cat "$WORK/$name.out")"
	WRK_PID=""
	sleep 1
}
declare -A RPS P50 P99 ERRS
parse() { # name → RPS P50 P99 ERRS (non-2xx + socket errors)
	local name=$1 status_errors
	wrk_result "$WORK/$name.out" || die "no RESULT from wrk ($name): $(cat "$WORK/$name.out")"
	RPS[$name]=$(awk -v r="$R_requests" -v d="$R_duration_us" 'BEGIN {printf "%.1f", r / (d / 1e6)}')
	P50[$name]=$(awk -v u="$R_p50_us" 'BEGIN {printf "%.1f", u / 1000}')
	P99[$name]=$(awk -v u="$R_p99_us" 'BEGIN {printf "%.1f", u / 1000}')
	status_errors=$R_status_errors
	if [[ $R_counted == true ]]; then status_errors=$((R_s429 + R_other)); fi
	ERRS[$name]=$((status_errors + R_connect + R_read + R_write + R_timeout))
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
WRK_ARGS=(-t2 -c"$CONNS" -d"${DURATION}s")
# warm-up (not reported): page cache, prepared statements, the cached counts; no write follows
wrk --latency -t2 -c"$CONNS" -d2s -s "$BENCH_LUA/search.lua" -H "Authorization: Bearer $ACCESS" "$URL/" >/dev/null 2>&1 || true
measure first "${WRK_ARGS[@]}" -s "$BENCH_LUA/get.lua" -H "Authorization: Bearer $ACCESS" "$URL$FIRST"
measure search "${WRK_ARGS[@]}" -s "$BENCH_LUA/search.lua" -H "Authorization: Bearer $ACCESS" "$URL/"
measure deep_date "${WRK_ARGS[@]}" -s "$BENCH_LUA/get.lua" -H "Authorization: Bearer $ACCESS" "$URL$DEEP_DATE"
measure deep_email "${WRK_ARGS[@]}" -s "$BENCH_LUA/get.lua" -H "Authorization: Bearer $ACCESS" "$URL$DEEP_EMAIL"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
kill -0 "$GH_PID" 2>/dev/null || die "gatehouse exited during the run"

FAIL=0
FMT="%-44s %5s %8s %9s %9s %6s  %s\n"
echo
echo "Directory at scale — $(date -u +%FT%TZ) — ${DURATION}s per workload, $CONNS connections"
echo "data: $USERS users + the admin, $ASSIGNMENTS assignments ($SEED_NOTE; ${SEED_MB} MB); load average before/after: $LOAD_BEFORE / $LOAD_AFTER"
printf "$FMT" workload conns "req/s" "p50 ms" "p99 ms" errors "target p99 ≤ ${TARGET_P99_MS} ms"
row() { # label name [target]
	local n=$2 verdict=""
	if [[ -n ${3:-} ]]; then
		verdict=$(awk -v p="${P99[$n]}" -v t="$TARGET_P99_MS" 'BEGIN { print (p + 0 <= t) ? "met" : "MISSED" }')
	fi
	((${ERRS[$n]} == 0)) || { FAIL=1; verdict="$verdict (errors)"; }
	printf "$FMT" "$1" "$CONNS" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" "${ERRS[$n]}" "$verdict"
}
for n in first search deep_date deep_email; do parse "$n"; done
row "first page, 50 (reference)" first
row "search, ordering=-date_joined (varied terms)" search target
row "page 1000 × 50, ordering=-date_joined" deep_date target
row "page 1000 × 50, ordering=email (default)" deep_email target
echo "cold search (first request of each term after a write, 1 connection): $COLD"
if ((FAIL)); then
	echo "SCALE RESULT: FAIL — non-2xx answers or socket errors"
	exit 1
fi
echo "SCALE RESULT: ok — no non-2xx answers or socket errors"
