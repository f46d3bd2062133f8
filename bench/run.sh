#!/usr/bin/env bash
# Gatehouse load benchmark (issue 6; see bench/README.md).
#
#   bench/run.sh [seconds-per-workload]        default 10 (about 2.5 minutes in all)
#   bench/run.sh ab TRICK [rounds] [seconds]   A/B of one trick (bench/ab.sh, issue 17)
#
# One run: builds the gatehouse binary and the helpers of bench/ (CGO_ENABLED=0), starts
# Gatehouse on a random loopback port with a fresh temp data dir (cold start: median of 3, idle RSS), creates
# a PocketBase superuser (CLI) and staff users (superuser API), then drives every workload with
# wrk for a fixed time, each next to its baseline measured right before or after it in the same
# run, and prints one table. Exits 1 when a workload that expects no errors saw non-2xx answers
# or socket errors (or when setup fails); missed performance targets are reported, not fatal.
#
# BENCH_SERVER_LOG=FILE keeps a copy of the gatehouse log.
# BENCH_SCALE=0 skips the directory-at-scale rows at the end (bench/scale.sh, issue 13).
# Needs: go, curl, wrk (Debian package `wrk`, installed with apt-get when missing). Loopback only.
# Everything it starts is stopped, and its temp dir removed, on exit and on Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
# `bench/run.sh ab TRICK [rounds] [seconds]`: the A/B of one trick (issue 17), in bench/ab.sh.
ab_mode() { [[ ${1:-} == ab ]] && exec bench/ab.sh "${@:2}"; return 0; }
ab_mode "$@"
DURATION=${1:-10}
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 600)); then
	echo "usage: bench/run.sh [seconds-per-workload (1-600)]" >&2
	exit 2
fi
export GOTOOLCHAIN=local
export BENCH_LUA=$ROOT/bench/lua

# Connections per workload (issue 6 / the harness brief).
C_VALIDATE=32 C_PROFILE=64 C_REFRESH=8 C_LOGIN=8 C_STORM=250 C_MIXED=32 C_PICK=32
# The refresh row and its baseline alternate over rounds (see "refresh with rotation" below).
REFRESH_ROUNDS=3 REFRESH_SECS=$(((DURATION + 1) / 2 < 2 ? 2 : (DURATION + 1) / 2))
WARMUP=$((DURATION < 2 ? DURATION : 2))
PAUSE=1 # seconds between workloads (queued work drains, GC settles)

command -v curl >/dev/null || { echo "bench: curl is required" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
	echo "bench: installing wrk (apt-get)" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# processes and clean-up

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
GH_PID="" BASE_PID="" WRK_PIDS=""

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh" # stop_pid, wrk_result

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local pid
	for pid in $WRK_PIDS; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in $WRK_PIDS $BASE_PID $GH_PID; do stop_pid "$pid"; done
	if [[ -n ${BENCH_SERVER_LOG:-} && -f $WORK/server.log ]]; then cp "$WORK/server.log" "$BENCH_SERVER_LOG" || true; fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

die() {
	echo "bench: $*" >&2
	if [[ -f $WORK/server.log ]]; then
		echo "--- last lines of the gatehouse log:" >&2
		tail -n 30 "$WORK/server.log" >&2
	fi
	exit 1
}

# ---------------------------------------------------------------------------------------------
# build

echo "bench: building (CGO_ENABLED=0)..." >&2
mkdir -p "$WORK/bin"
CGO_ENABLED=0 go build -o "$WORK/bin/gatehouse" . || die "go build of gatehouse failed"
CGO_ENABLED=0 go build -o "$WORK/bin/" ./bench/baseline ./bench/hashbound ./bench/benchtool || die "go build of bench helpers failed"
BIN=$WORK/bin
TOOL=$BIN/benchtool

# ---------------------------------------------------------------------------------------------
# Gatehouse: cold start on an empty data dir, idle RSS

# The configuration is the defaults except what a load test needs (README "Configuration").
unset APP_URL JWT_ISSUER ACCESS_TOKEN_TTL REFRESH_TOKEN_TTL SESSION_MAX_AGE MFA_TOKEN_TTL \
	JWT_KEY_ROTATION_DAYS JWT_HS256_SECRET GATEHOUSE_SECRET COOKIE_SECURE COOKIE_DOMAIN \
	CORS_ALLOWED_ORIGINS TRUSTED_PROXIES REGISTRATION_ENABLED DEFAULT_SYSTEM_URL HIBP_ENABLED \
	RATE_LIMITS_ENABLED CAPTCHA_TEST_ANSWER SMTP_HOST SMTP_PORT SMTP_USERNAME SMTP_PASSWORD \
	SMTP_TLS SMTP_STARTTLS MAIL_FROM
export GATEHOUSE_SECRET=bench-secret-0123456789abcdefghijkl-0123456789
export RATE_LIMITS_ENABLED=false # seeds the setting at the first start only

# Cold start: three starts, each on a fresh empty data dir; the median is reported (one start
# on this shared 2-core machine varies by ±25 %), min and max next to it. The third start is
# the server of the whole run.
DATA=$WORK/data
COLD_RUNS=()
for start in 1 2 3; do
	for attempt in 1 2 3; do # the probed port may be taken before gatehouse listens: retry
		rm -rf "$DATA"
		PORT=$("$TOOL" freeport)
		URL="http://127.0.0.1:$PORT"
		export APP_URL=$URL
		T0=$(date +%s%N)
		"$BIN/gatehouse" serve --http "127.0.0.1:$PORT" --dir "$DATA" >"$WORK/server.log" 2>&1 &
		GH_PID=$!
		if T1=$("$TOOL" waithealth "$URL" 15000 "$GH_PID"); then
			break
		fi
		stop_pid "$GH_PID"
		GH_PID=""
		((attempt < 3)) || die "gatehouse did not start"
	done
	COLD_RUNS+=($(((T1 - T0) / 1000000)))
	if ((start < 3)); then
		stop_pid "$GH_PID"
		GH_PID=""
		sleep 0.5
	fi
done
mapfile -t COLD_SORTED < <(printf '%s\n' "${COLD_RUNS[@]}" | sort -n)
COLD_MS=${COLD_SORTED[1]}
sleep 2
IDLE_RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$GH_PID/status")

# The bare net/http baseline (prints its address).
"$BIN/baseline" >"$WORK/baseline.addr" 2>"$WORK/baseline.log" &
BASE_PID=$!
for _ in $(seq 1 100); do [[ -s $WORK/baseline.addr ]] && break; sleep 0.05; done
BASE_URL="http://$(head -n 1 "$WORK/baseline.addr")"
[[ $BASE_URL == http://127.0.0.1:* ]] || die "baseline server did not start"

# ---------------------------------------------------------------------------------------------
# data: a PocketBase superuser (CLI), staff users and their assignments (superuser API)

json() { "$TOOL" json "$1"; }
post_json() { # URL BODY [AUTH] → body on stdout; fails on a non-2xx
	curl -sS --fail-with-body -H 'Content-Type: application/json' ${3:+-H "Authorization: $3"} -d "$2" "$1"
}

SU_EMAIL=bench.root@example.com SU_PASSWORD=bench-root-password-1234
su_upsert() { "$BIN/gatehouse" superuser upsert "$SU_EMAIL" "$SU_PASSWORD" --dir "$DATA" >/dev/null || die "superuser upsert failed"; }
su_login() {
	post_json "$URL/api/collections/_superusers/auth-with-password" \
		"{\"identity\":\"$SU_EMAIL\",\"password\":\"$SU_PASSWORD\"}" | json token
}
su_upsert
SU=$(su_login) || die "superuser login failed"
# PocketBase hashes _superusers passwords at its default cost 10, Gatehouse's users at 12: give
# the superusers the users' cost (and re-hash) so the auth-with-password baseline does the same
# bcrypt work as a Gatehouse login.
USERS_COST=$("$TOOL" cost "$URL" "$SU" users) || die "reading the users password cost failed"
"$TOOL" setcost "$URL" "$SU" _superusers "$USERS_COST" || die "setting the _superusers password cost failed"
su_upsert
SU=$(su_login) || die "superuser login failed"

role_of() { # system slug → "system_id role_id" of its Admin role
	local r
	r=$(curl -sS --fail-with-body -G -H "Authorization: $SU" \
		--data-urlencode "filter=system.slug='$1' && name='Admin'" --data-urlencode perPage=1 \
		"$URL/api/collections/roles/records")
	echo "$(json items.0.system <<<"$r") $(json items.0.id <<<"$r")"
}
USER_PASSWORD=violet-harbor-42
create_user() { # email first last phone → id
	post_json "$URL/api/collections/users/records" \
		"{\"email\":\"$1\",\"password\":\"$USER_PASSWORD\",\"passwordConfirm\":\"$USER_PASSWORD\",\"is_active\":true,\"first_name\":\"$2\",\"last_name\":\"$3\",\"phone_number\":\"$4\",\"department\":\"IT Department\",\"status\":\"Approved\"}" \
		"$SU" | json id
}
assign() { # user_id slug
	local sys_role
	sys_role=$(role_of "$2")
	post_json "$URL/api/collections/user_system_roles/records" \
		"{\"user\":\"$1\",\"system\":\"${sys_role% *}\",\"role\":\"${sys_role#* }\"}" "$SU" >/dev/null
}
# reader: validate, profile, refresh and mixed sessions; login: the login workloads
READER=bench.reader@example.com LOGINER=bench.login@example.com
READER_ID=$(create_user "$READER" Bench Reader +639171234567) || die "creating $READER failed"
LOGIN_ID=$(create_user "$LOGINER" Bench Login +639171234568) || die "creating $LOGINER failed"
for slug in tts hdts; do assign "$READER_ID" "$slug" || die "assigning $slug to $READER failed"; done
assign "$LOGIN_ID" tts || die "assigning tts to $LOGINER failed"

# round-robin: three agents holding the tts role "Asset Manager", and an unbound API key with
# round_robin:write (stored as its SHA-256, as `apikey create` stores keys)
AM=$(curl -sS --fail-with-body -G -H "Authorization: $SU" \
	--data-urlencode "filter=system.slug='tts' && name='Asset Manager'" --data-urlencode perPage=1 \
	"$URL/api/collections/roles/records") || die "reading the role Asset Manager failed"
PICK_ROLE=$(json items.0.id <<<"$AM") PICK_SYSTEM=$(json items.0.system <<<"$AM")
PICK_AGENTS=()
for i in 1 2 3; do
	id=$(create_user "bench.agent$i@example.com" Agent "$i" "+63917123457$i") || die "creating agent $i failed"
	post_json "$URL/api/collections/user_system_roles/records" \
		"{\"user\":\"$id\",\"system\":\"$PICK_SYSTEM\",\"role\":\"$PICK_ROLE\"}" "$SU" >/dev/null || die "assigning agent $i failed"
	PICK_AGENTS+=("$id")
done
PICK_KEY=ak_benchrr1_$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
((${#PICK_KEY} == 44)) || die "generating the API key failed"
post_json "$URL/api/collections/api_keys/records" \
	"{\"name\":\"bench round-robin\",\"key_prefix\":\"benchrr1\",\"key_hash\":\"$(printf '%s' "$PICK_KEY" | sha256sum | cut -d' ' -f1)\",\"scopes\":[\"round_robin:write\"],\"is_active\":true}" \
	"$SU" >/dev/null || die "storing the API key failed"

# Sessions (one login each; refresh tokens one per line): 1 reader, C_REFRESH for each round of
# the refresh workload (a rotated token cannot be presented again), C_MIXED for the mixed one.
"$TOOL" sessions "$URL" "$READER" "$USER_PASSWORD" $((1 + C_REFRESH * REFRESH_ROUNDS + C_MIXED)) >"$WORK/sessions" ||
	die "staff logins failed"
READER_REFRESH=$(sed -n 1p "$WORK/sessions")
for ((i = 1; i <= REFRESH_ROUNDS; i++)); do
	sed -n "$((2 + C_REFRESH * (i - 1))),$((1 + C_REFRESH * i))p" "$WORK/sessions" >"$WORK/refresh_tokens_$i"
done
sed -n "$((2 + C_REFRESH * REFRESH_ROUNDS)),\$p" "$WORK/sessions" >"$WORK/mixed_tokens"

ACCESS=""
fresh_access() { # rotate the reader session: a fresh access token for the GET workloads
	local r
	r=$(post_json "$URL/api/v1/token/refresh/" "{\"refresh\":\"$READER_REFRESH\"}") || die "reader refresh failed: $r"
	READER_REFRESH=$(json refresh <<<"$r")
	ACCESS=$(json access <<<"$r")
}
fresh_access

# Pre-flight: every measured request answers 200 once.
check_get() { # url auth → body size
	local out code
	out=$WORK/check.body
	code=$(curl -sS -o "$out" -w '%{http_code}' -H "Authorization: $2" "$1") || die "GET $1 failed"
	[[ $code == 200 ]] || die "GET $1 answered $code: $(head -c 300 "$out")"
	wc -c <"$out"
}
VALIDATE_BYTES=$(check_get "$URL/api/v1/users/token/validate/" "Bearer $ACCESS")
PROFILE_BYTES=$(check_get "$URL/api/v1/users/profile/" "Bearer $ACCESS")
BASE_BYTES=$(check_get "$BASE_URL/" "")
post_json "$URL/api/collections/_superusers/auth-refresh" "" "$SU" >/dev/null || die "PocketBase auth-refresh failed"
code=$(curl -sS -o "$WORK/check.body" -w '%{http_code}' -H 'Content-Type: application/json' -H "X-API-Key: $PICK_KEY" \
	-d "{\"role_id\":\"$PICK_ROLE\",\"ticket_id\":\"preflight\"}" "$URL/api/v1/tts/round-robin/") || die "round-robin pick failed"
[[ $code == 201 ]] || die "round-robin pick answered $code: $(head -c 300 "$WORK/check.body")"

# ---------------------------------------------------------------------------------------------
# hash bound: cores ÷ one bcrypt verification at the users' cost (machine otherwise idle)

HB=$("$BIN/hashbound" -cost "$USERS_COST" -runs 20 -parallel-rounds 2) || die "hashbound failed"
hb() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $HB"; }
HB_MEDIAN_MS=$(hb median_ms) HB_BOUND=$(hb bound_per_s) HB_PARALLEL=$(hb parallel_per_s) HB_CORES=$(hb cores)

# ---------------------------------------------------------------------------------------------
# measurement

# CPU accounting per workload, in clock ticks: the machine (/proc/stat), gatehouse and the
# baseline (/proc/PID/stat) and wrk (this shell's reaped children, `times`). "other" is the
# user+system time of every other task (a few % of kernel threads and this script; more means
# foreign load on a shared machine, and a noisy row).
ticks_of() { [[ -n $1 && -r /proc/$1/stat ]] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }
snap() { # → S_BUSY S_TOTAL S_GH S_BL S_CH
	local line
	# busy = user + nice + system (irq/softirq time, the loopback network stack, is no task's)
	line=$(awk '/^cpu / {b = $2 + $3 + $4; print b, b + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat)
	S_BUSY=${line% *} S_TOTAL=${line#* }
	S_GH=$(ticks_of "$GH_PID") S_BL=$(ticks_of "$BASE_PID")
	times >"$WORK/times" # not in a subshell: children of this shell
	S_CH=$(awk -v hz="$(getconf CLK_TCK)" 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
		printf "%d", t * hz }' "$WORK/times")
}

start_wrk() { # name wrk-args... (in the background; sets LAST_WRK)
	local name=$1
	shift
	wrk --latency --timeout 10s "$@" >"$WORK/$name.out" 2>&1 &
	LAST_WRK=$!
	WRK_PIDS="$WRK_PIDS $LAST_WRK"
}
wait_wrk() { # pid name
	local rc=0
	wait "$1" || rc=$?
	WRK_PIDS=$(tr ' ' '\n' <<<"$WRK_PIDS" | grep -vx "$1" | tr '\n' ' ' || true)
	((rc == 0)) || die "wrk ($2) exited with $rc: $(cat "$WORK/$2.out")"
}

declare -A RPS P50 P99 NON2XX S429 SOCK CODES CPU RSS OKRATE REQ DUR TICKS
rss_mb() { awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$GH_PID/status" 2>/dev/null || echo "?"; }
parse() { # name: RESULT line of wrk's done() → RPS[name] ...
	local name=$1
	wrk_result "$WORK/$name.out" || die "no RESULT from wrk ($name): $(cat "$WORK/$name.out")"
	REQ[$name]=$R_requests DUR[$name]=$R_duration_us
	RPS[$name]=$(awk -v r="$R_requests" -v d="$R_duration_us" 'BEGIN {printf "%.1f", r / (d / 1e6)}')
	P50[$name]=$(awk -v u="$R_p50_us" 'BEGIN {printf "%.2fms", u / 1000}')
	P99[$name]=$(awk -v u="$R_p99_us" 'BEGIN {printf "%.2fms", u / 1000}')
	if [[ $R_counted == true ]]; then
		NON2XX[$name]=$((R_s429 + R_other)) S429[$name]=$R_s429
	else
		NON2XX[$name]=$R_status_errors S429[$name]=0
	fi
	SOCK[$name]=$((R_connect + R_read + R_write + R_timeout))
	OKRATE[$name]=$(awk -v r="$R_ok" -v d="$R_duration_us" 'BEGIN {printf "%.1f", r / (d / 1e6)}')
	CODES[$name]=$R_other_codes
}
cpu_split() { # name: CPU[name] = "server/wrk/other" in % of all cores, since the last snap
	local b=$S_BUSY t=$S_TOTAL g=$S_GH l=$S_BL c=$S_CH
	snap
	TICKS[$1]="$((S_TOTAL - t)) $((S_BUSY - b)) $((S_GH - g + S_BL - l)) $((S_CH - c))"
	CPU[$1]=$(cpu_cell "${TICKS[$1]}")
}
cpu_cell() { # "total busy server wrk" ticks → "server/wrk/other" in % of all cores
	awk -v x="$1" 'BEGIN { split(x, a, " "); dt = a[1]; db = a[2]; srv = a[3]; w = a[4]
		if (dt <= 0) dt = 1; o = db - srv - w; if (o < 0) o = 0
		printf "%d/%d/%d", 100 * srv / dt, 100 * w / dt, 100 * o / dt }'
}
measure() { # name wrk-args...: one workload in the foreground
	local name=$1 a secs=${DURATION}s
	shift
	for a in "$@"; do [[ $a != -d* ]] || secs=${a#-d}; done
	echo "bench: $name ($secs)" >&2
	snap
	start_wrk "$name" "$@"
	wait_wrk "$LAST_WRK" "$name"
	cpu_split "$name"
	RSS[$name]=$(rss_mb)
	parse "$name"
	sleep "$PAUSE"
}
ms_le() { awk -v a="${1%ms}" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
combine() { # name parts...: the parts' runs as one row — req/s = all answers ÷ all their time,
	# p50/p99 the worst part's, errors and CPU ticks summed, RSS the last part's
	local name=$1 p req=0 dur=0 n2=0 s4=0 so=0 t=(0 0 0 0) x i
	shift
	P50[$name]=0.00ms P99[$name]=0.00ms CODES[$name]=-
	for p in "$@"; do
		req=$((req + REQ[$p])) dur=$((dur + DUR[$p]))
		n2=$((n2 + NON2XX[$p])) s4=$((s4 + S429[$p])) so=$((so + SOCK[$p]))
		ms_le "${P50[$p]}" "${P50[$name]%ms}" || P50[$name]=${P50[$p]}
		ms_le "${P99[$p]}" "${P99[$name]%ms}" || P99[$name]=${P99[$p]}
		[[ ${CODES[$p]} == - ]] || CODES[$name]=${CODES[$p]}
		read -ra x <<<"${TICKS[$p]}"
		for i in 0 1 2 3; do t[i]=$((t[i] + x[i])); done
		RSS[$name]=${RSS[$p]}
	done
	REQ[$name]=$req DUR[$name]=$dur NON2XX[$name]=$n2 S429[$name]=$s4 SOCK[$name]=$so
	RPS[$name]=$(awk -v r="$req" -v d="$dur" 'BEGIN {printf "%.1f", r / (d / 1e6)}')
	TICKS[$name]="${t[*]}"
	CPU[$name]=$(cpu_cell "${TICKS[$name]}")
}

D="${DURATION}s"
AUTH_GH="Authorization: Bearer"
VALIDATE_URL="$URL/api/v1/users/token/validate/"
PROFILE_URL="$URL/api/v1/users/profile/"
LOGIN_BODY="{\"email\":\"$LOGINER\",\"password\":\"$USER_PASSWORD\"}"
SU_BODY="{\"identity\":\"$SU_EMAIL\",\"password\":\"$SU_PASSWORD\"}"
START_DATE=$(date -u +%FT%TZ)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# warm-up (not reported): first-request costs, heap growth, SQLite page cache
echo "bench: warm-up (${WARMUP}s)" >&2
start_wrk warmup -t2 -c"$C_VALIDATE" -d"${WARMUP}s" -s "$BENCH_LUA/get.lua" -H "$AUTH_GH $ACCESS" "$VALIDATE_URL"
wait_wrk "$LAST_WRK" warmup
start_wrk warmup -t2 -c"$C_VALIDATE" -d"${WARMUP}s" -s "$BENCH_LUA/get.lua" "$BASE_URL/"
wait_wrk "$LAST_WRK" warmup
sleep "$PAUSE"

# validate | net/http (baseline before)
measure base_validate -t2 -c"$C_VALIDATE" -d"$D" -s "$BENCH_LUA/get.lua" "$BASE_URL/"
fresh_access
measure validate -t2 -c"$C_VALIDATE" -d"$D" -s "$BENCH_LUA/get.lua" -H "$AUTH_GH $ACCESS" "$VALIDATE_URL"
# profile | net/http (baseline after)
fresh_access
measure profile -t2 -c"$C_PROFILE" -d"$D" -s "$BENCH_LUA/get.lua" -H "$AUTH_GH $ACCESS" "$PROFILE_URL"
measure base_profile -t2 -c"$C_PROFILE" -d"$D" -s "$BENCH_LUA/get.lua" "$BASE_URL/"
# refresh with rotation | PocketBase auth-refresh, one thread per connection. One sample of
# PocketBase's auth-refresh moves ±20 % from one run to the next, even within one process, where
# the rotation moves ±5 % (bench/README.md, "The refresh client"), so a single pair mostly
# measured the baseline's draw. The two alternate over REFRESH_ROUNDS rounds of REFRESH_SECS
# each (baseline first in odd rounds, second in even ones), on fresh sessions every round; the
# row is all answers ÷ all time of each side, and every round's ratio is printed under the table.
SU=$(su_login) || die "superuser login failed"
base_refresh_round() {
	BODY="" measure "base_refresh_$1" -t"$C_REFRESH" -c"$C_REFRESH" -d"${REFRESH_SECS}s" -s "$BENCH_LUA/post.lua" \
		-H "Authorization: $SU" "$URL/api/collections/_superusers/auth-refresh"
}
refresh_round() {
	TOKENS=$WORK/refresh_tokens_$1 measure "refresh_$1" -t"$C_REFRESH" -c"$C_REFRESH" -d"${REFRESH_SECS}s" \
		-s "$BENCH_LUA/refresh.lua" "$URL/"
}
REFRESH_PARTS=() BASE_REFRESH_PARTS=()
for ((i = 1; i <= REFRESH_ROUNDS; i++)); do
	if ((i % 2)); then base_refresh_round "$i"; refresh_round "$i"; else refresh_round "$i"; base_refresh_round "$i"; fi
	REFRESH_PARTS+=("refresh_$i") BASE_REFRESH_PARTS+=("base_refresh_$i")
done
combine refresh "${REFRESH_PARTS[@]}"
combine base_refresh "${BASE_REFRESH_PARTS[@]}"
# login | PocketBase auth-with-password (baseline after)
BODY=$LOGIN_BODY measure login -t2 -c"$C_LOGIN" -d"$D" -s "$BENCH_LUA/post.lua" "$URL/api/v1/users/login/"
BODY=$SU_BODY measure base_login -t2 -c"$C_LOGIN" -d"$D" -s "$BENCH_LUA/post.lua" \
	"$URL/api/collections/_superusers/auth-with-password"
# login storm: 250 connections of logins, validate at 32 connections at the same time
fresh_access
echo "bench: login storm (${DURATION}s, validate inside it)" >&2
snap
BODY=$LOGIN_BODY start_wrk storm -t2 -c"$C_STORM" -d"$((DURATION + 2))s" -s "$BENCH_LUA/post.lua" "$URL/api/v1/users/login/"
STORM_PID=$LAST_WRK
sleep 1 # the storm is at full pressure before validate starts
start_wrk storm_validate -t2 -c"$C_VALIDATE" -d"$D" -s "$BENCH_LUA/get.lua" -H "$AUTH_GH $ACCESS" "$VALIDATE_URL"
wait_wrk "$LAST_WRK" storm_validate
wait_wrk "$STORM_PID" storm
cpu_split storm
CPU[storm_validate]=${CPU[storm]}
RSS[storm]=$(rss_mb) RSS[storm_validate]=$(rss_mb)
parse storm
parse storm_validate
sleep $((PAUSE + 2)) # abandoned queued logins drain
# mixed: 80% validate/profile, 20% rotations, one session per thread
TOKENS=$WORK/mixed_tokens measure mixed -t"$C_MIXED" -c"$C_MIXED" -d"$D" -s "$BENCH_LUA/mixed.lua" "$URL/"
# round-robin picks of distinct tickets (every answer must be 201)
ROLE_ID=$PICK_ROLE measure pick -t2 -c"$C_PICK" -d"$D" -s "$BENCH_LUA/pick.lua" -H "X-API-Key: $PICK_KEY" "$URL/api/v1/tts/round-robin/"

kill -0 "$GH_PID" 2>/dev/null || die "gatehouse exited during the run"
# peak and final RSS now: the log queries below are no workload (a filtered /api/logs count over
# tens of thousands of rows can add tens of MB to PocketBase's RSS; printed apart)
PEAK_RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$GH_PID/status")
END_RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$GH_PID/status")
# what the run left in PocketBase's request log and in audit_log (the log is written in batches)
SU=$(su_login) || die "superuser login failed"
sleep 2
count_of() { # path [filter] → totalItems
	curl -sS --fail-with-body -G -H "Authorization: $SU" --data-urlencode perPage=1 ${2:+--data-urlencode "filter=$2"} \
		"$URL$1" | json totalItems
}
LOGS_TOTAL=$(count_of /api/logs) || LOGS_TOTAL="?"
LOGS_VALIDATE=$(count_of /api/logs "data.url ~ '/token/validate/'") || LOGS_VALIDATE="?"
LOGS_PROFILE=$(count_of /api/logs "data.url ~ '/users/profile/'") || LOGS_PROFILE="?"
LOGS_REFRESH=$(count_of /api/logs "data.url ~ '/token/refresh/'") || LOGS_REFRESH="?"
LOGS_LOGIN=$(count_of /api/logs "data.url ~ '/users/login/'") || LOGS_LOGIN="?"
AUDIT_TOTAL=$(count_of /api/collections/audit_log/records) || AUDIT_TOTAL="?"
# round-robin: one stored pick per 201 (the pre-flight pick included), and the per-agent counts
PICK_ROWS=$(count_of /api/collections/tts_round_robin_picks/records) || PICK_ROWS="?"
PICK_OK=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$WORK/pick.out")
# Picks wrk sent but did not wait for at the deadline are stored too: at most one per connection.
PICK_INFLIGHT=$(awk -v rows="$PICK_ROWS" -v ok="$PICK_OK" 'BEGIN { if (rows == "?" || ok == "") print "?"; else print rows - 1 - ok }')
# A ticket answered twice would be a 200 (reported as status 1200, a non-2xx): duplicates are
# the unexpected answers, and the stored rows must match the 201s up to those in flight.
PICK_DUP=${NON2XX[pick]}
if [[ $PICK_INFLIGHT == \? ]] || ((PICK_INFLIGHT < 0 || PICK_INFLIGHT > C_PICK)); then PICK_DUP="?"; fi
PICK_COUNTS=()
for a in "${PICK_AGENTS[@]}"; do
	PICK_COUNTS+=("$(curl -sS --fail-with-body -G -H "Authorization: $SU" --data-urlencode perPage=1 \
		--data-urlencode "filter=role='$PICK_ROLE' && user='$a'" "$URL/api/collections/tts_round_robin_state/records" | json items.0.assigned_count)") ||
		PICK_COUNTS+=("?")
done
PICK_SPREAD=$(printf '%s\n' "${PICK_COUNTS[@]}" | awk '/^[0-9]+$/ {n++; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1} END { if (n == 3) print max - min; else print "?" }')
DATA_MB=$(du -sm "$DATA" | cut -f1)
AFTER_LOGS_HWM_MB=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$GH_PID/status")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# report

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f%%", 100 * a / b; else printf "-" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
ratio_num() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print 0 }'; }

FAIL=0
FMT="%-26s %5s %9s %10s %10s  %-14s %-24s %9s %7s  %-22s %-9s %s\n"
header() {
	printf "$FMT" workload conns "req/s" p50 p99 "non-2xx" baseline "base r/s" ratio "target (done when)" "cpu% s/w/o" "RSS MB"
	printf "%s\n" "$(printf '%.0s-' $(seq 1 165))"
}
errs() { # name expects429 → the "non-2xx" cell
	local n=$1 e=$2 cell
	if ((e)); then cell="${NON2XX[$n]} (429:${S429[$n]} exp)"; else cell=${NON2XX[$n]}; fi
	[[ ${CODES[$n]} == - ]] || cell="$cell [${CODES[$n]}]"
	((${SOCK[$n]} == 0)) || cell="$cell sock:${SOCK[$n]}"
	printf '%s' "$cell"
}
check_errs() { # name expects429: unexpected non-2xx or socket errors fail the run
	local n=$1 e=$2 unexpected=${NON2XX[$1]}
	((e)) && unexpected=$((${NON2XX[$n]} - ${S429[$n]}))
	if ((unexpected > 0 || ${SOCK[$n]} > 0)); then
		FAIL=1
		FAILED="$FAILED $n"
	fi
}
line() { # label conns name expects429 baseline-label base-rps ratio target verdict
	printf "$FMT" "$1" "$2" "${RPS[$3]}" "${P50[$3]}" "${P99[$3]}" "$(errs "$3" "$4")" "$5" "$6" "$7" "$8${9:+: $9}" "${CPU[$3]}" "${RSS[$3]}"
}
base_line() { # label conns name
	printf "$FMT" "  $1" "$2" "${RPS[$3]}" "${P50[$3]}" "${P99[$3]}" "$(errs "$3" 0)" "" "" "" "" "${CPU[$3]}" "${RSS[$3]:-}"
}
verdict() { # ratio%-number target floor p99 p99max
	local r=$1 t=$2 f=$3 p=${4:-} pm=${5:-}
	if ge "$r" "$t" && { [[ -z $p ]] || ms_le "$p" "$pm"; }; then
		echo met
	elif [[ -n $f ]] && ge "$r" "$f"; then
		echo floor
	else
		echo MISSED
	fi
}

FAILED=""
for n in base_validate validate profile base_profile base_refresh refresh login base_login storm_validate mixed pick; do
	check_errs "$n" 0
done
check_errs storm 1

R_VAL=$(ratio_num "${RPS[validate]}" "${RPS[base_validate]}")
R_PRO=$(ratio_num "${RPS[profile]}" "${RPS[base_profile]}")
R_REF=$(ratio_num "${RPS[refresh]}" "${RPS[base_refresh]}")
R_LOG=$(ratio_num "${RPS[login]}" "${RPS[base_login]}")
R_HB=$(ratio_num "${RPS[login]}" "$HB_BOUND")
R_STORM=$(ratio_num "${RPS[storm_validate]}" "${RPS[validate]}")

echo
echo "Gatehouse load benchmark — $START_DATE — ${DURATION}s per workload"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(go env GOVERSION), wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}')"
echo "load average before/after: $LOAD_BEFORE / $LOAD_AFTER"
echo "answers: validate ${VALIDATE_BYTES} B, profile ${PROFILE_BYTES} B, net/http baseline ${BASE_BYTES} B"
echo "hash bound: bcrypt cost $USERS_COST, median of 20 verifications ${HB_MEDIAN_MS} ms → $HB_CORES cores ÷ that = ${HB_BOUND} logins/s (measured ${HB_CORES} in parallel: ${HB_PARALLEL}/s)"
echo
header
line "validate (Bearer)" "$C_VALIDATE" validate 0 "net/http" "${RPS[base_validate]}" "$R_VAL%" "≥70% p99≤10ms (≥40%)" "$(verdict "$R_VAL" 70 40 "${P99[validate]}" 10)"
base_line "baseline net/http" "$C_VALIDATE" base_validate
line "profile GET" "$C_PROFILE" profile 0 "net/http" "${RPS[base_profile]}" "$R_PRO%" "≥70% p99≤20ms (≥30%)" "$(verdict "$R_PRO" 70 30 "${P99[profile]}" 20)"
base_line "baseline net/http" "$C_PROFILE" base_profile
line "refresh (rotation)" "$C_REFRESH" refresh 0 "PB auth-refresh" "${RPS[base_refresh]}" "$R_REF%" "≥150% (≥100%)" "$(verdict "$R_REF" 150 100)"
base_line "baseline PB auth-refresh" "$C_REFRESH" base_refresh
REFRESH_RATIOS=()
for ((i = 1; i <= REFRESH_ROUNDS; i++)); do
	REFRESH_RATIOS+=("${RPS[refresh_$i]} ÷ ${RPS[base_refresh_$i]} = $(pct "${RPS[refresh_$i]}" "${RPS[base_refresh_$i]}")")
done
printf '  %s\n' "refresh rounds (${REFRESH_SECS}s each side, alternating): $(IFS=';'; echo "${REFRESH_RATIOS[*]}" | sed 's/;/; /g')"
line "login (no 2FA)" "$C_LOGIN" login 0 "PB auth-with-password" "${RPS[base_login]}" "$R_LOG%" "" ""
base_line "baseline PB auth-w-pass" "$C_LOGIN" base_login
printf "$FMT" "  login vs hash bound" "" "${RPS[login]}" "" "" "" "hash bound ${HB_CORES}÷${HB_MEDIAN_MS}ms" "$HB_BOUND" "$R_HB%" "≥90%: $(verdict "$R_HB" 90 "")" "" ""
line "login storm" "$C_STORM" storm 1 "2xx logins/s" "${OKRATE[storm]}" "" "429 after 5s expected" ""
line "validate during storm" "$C_VALIDATE" storm_validate 0 "validate unloaded" "${RPS[validate]}" "$R_STORM%" "≥50%" "$(verdict "$R_STORM" 50 "")"
line "mixed 80% GET/20% rotate" "$C_MIXED" mixed 0 "" "" "" "" ""
PICK_VERDICT=MISSED
if ge "${RPS[pick]}" 2000 && [[ $PICK_DUP == 0 ]] && ((${NON2XX[pick]} == 0 && ${SOCK[pick]} == 0 && PICK_OK > 0)); then
	PICK_VERDICT=met
fi
line "round-robin pick (key)" "$C_PICK" pick 0 "stored picks" "$PICK_ROWS" "" "≥2000/s, 0 duplicates" "$PICK_VERDICT"
echo "round-robin: $PICK_OK picks answered 201, $PICK_ROWS stored (the pre-flight pick and $PICK_INFLIGHT in flight at the deadline included): duplicates $PICK_DUP; per-agent assigned_count ${PICK_COUNTS[*]} (spread $PICK_SPREAD, must be ≤1)"
echo
verdict_le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "met" : "MISSED" }'; }
IDLE_MB=$(awk -v k="$IDLE_RSS_KB" 'BEGIN {printf "%.1f", k / 1024}')
PEAK_MB=$(awk -v k="$PEAK_RSS_KB" 'BEGIN {printf "%.1f", k / 1024}')
END_MB=$(awk -v k="$END_RSS_KB" 'BEGIN {printf "%.1f", k / 1024}')
echo "cold start (process start → first 200 on /api/health, empty data dir): ${COLD_MS} ms   target ≤300 ms: $(verdict_le "$COLD_MS" 300)   (median of 3 starts: ${COLD_RUNS[*]} ms)"
echo "idle RSS (VmRSS, 2 s after start):                                     ${IDLE_MB} MB  target ≤40 MB: $(verdict_le "$IDLE_MB" 40)"
echo "peak RSS (VmHWM of the gatehouse process, whole run):                  ${PEAK_MB} MB  target ≤150 MB: $(verdict_le "$PEAK_MB" 150)   (RSS at the end: ${END_MB} MB)"
echo
echo "request log rows (PocketBase /api/logs): $LOGS_TOTAL in all — validate $LOGS_VALIDATE, profile $LOGS_PROFILE, refresh $LOGS_REFRESH, login $LOGS_LOGIN; audit_log rows: $AUDIT_TOTAL; data dir: ${DATA_MB} MB;"
echo "  VmHWM after these count queries (not part of the peak above): ${AFTER_LOGS_HWM_MB} MB"
echo
echo "ratio = Gatehouse req/s ÷ baseline req/s of the same run; non-2xx [unexpected statuses], sock = socket errors/timeouts;"
echo "target = issue 17's (done when), in brackets issue 6's: \"floor\" = only the bracketed one met; refresh = its rounds' answers ÷ their time, each side;"
echo "cpu% s/w/o = share of all cores used by the server / wrk / anything else during the workload (high o = noisy machine);"
echo "RSS MB = VmRSS of gatehouse right after the workload."
# ---------------------------------------------------------------------------------------------
# directory at scale (issue 13): bench/scale.sh on its own server and seeded data dir (100,000
# users, 300,000 assignments; seeded once, then cached), after the server above is stopped.
# BENCH_SCALE=0 skips it.
scale_rows() {
	[[ ${BENCH_SCALE:-1} != 0 ]] || return 0
	stop_pid "$BASE_PID"
	stop_pid "$GH_PID"
	BASE_PID="" GH_PID=""
	echo
	BENCH_BIN=$BIN "$ROOT/bench/scale.sh" "$DURATION" || { FAIL=1; FAILED="$FAILED scale"; }
}
scale_rows

if [[ $PICK_DUP != 0 || $PICK_SPREAD == \? ]] || ((PICK_SPREAD > 1)); then
	FAIL=1
	FAILED="$FAILED pick(duplicates $PICK_DUP, spread $PICK_SPREAD)"
fi
if ((FAIL)); then
	echo "RESULT: FAIL — unexpected non-2xx answers or socket errors in:$FAILED"
	exit 1
fi
echo "RESULT: ok — no unexpected non-2xx answers or socket errors"
