#!/usr/bin/env bash
# A/B of one performance trick (issue 17; see bench/README.md "Tricks: A/B").
#
#   bench/run.sh ab TRICK [rounds] [seconds]     (bench/run.sh passes its arguments here)
#
# One build; one Gatehouse per arm, all running at once, each on its own fresh data dir with the
# environment of bench/run.sh plus the arm's variables (read once at start).
# Then ROUNDS rounds (default 3) of every workload of the trick, SECONDS each (default 6): the
# arms alternate workload by workload, in reverse order every other round (A B, B A, A B, ...),
# so both see the same machine load. Prints every measurement with the load average, then per
# arm and workload the median req/s and p99, and every round's ratio to the first arm.
#
# Tricks (the first arm is the current code; the other arms are standard Go variables, which the
# runtime settings of runtime.go give way to):
#   heapfloor    24 MB heap floor vs none (GOGC=100) vs GOGC=700 GOMEMLIMIT=96MiB: validate, profile, refresh
#   maxprocs     2 × processors scheduler Ps vs Go's default (GOMAXPROCS=nproc): validate, profile, refresh
#   growth       issue 17's growth run: an empty data dir vs one seeded by bench/seed with 100,000 users,
#                1,000,000 sessions and 1,000,000 audit rows (seeded once, kept in ~/.cache/gatehouse-bench
#                like bench/scale.sh's; sizes GROWTH_USERS, GROWTH_SESSIONS, GROWTH_AUDIT): validate,
#                profile, refresh, login; prints both data dirs' sizes
#   custom       AB_ARMS="name:VAR=v VAR2=v;name2:VAR=v" AB_WORKLOADS="validate profile refresh login storm"
#                (AB_SEED=DIR in an arm's variables starts that arm on a copy of DIR; AB_BINARY=PATH
#                serves it with another gatehouse build, e.g. an older tree's: old tree vs new)
# (Issue 17 also compared the hand-written cookies and refresh answer, and stock bcrypt, through
# switches removed after the decision: build commit e380c91 into AB_BIN and use `custom` with
# the arms "handwritten:;net/http:GATEHOUSE_AB_HANDWRITTEN=off", workload refresh, and
# "chunked:;stock:GATEHOUSE_AB_BCRYPT=stock", workloads login validate storm.)
# Needs what bench/run.sh needs. Loopback only; everything it starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TRICK=${1:-}
ROUNDS=${2:-3}
DURATION=${3:-6}
usage() {
	echo "usage: bench/run.sh ab heapfloor|maxprocs|custom [rounds (1-20)] [seconds (2-60)]" >&2
	exit 2
}
[[ $ROUNDS =~ ^[0-9]+$ && $DURATION =~ ^[0-9]+$ ]] || usage
((ROUNDS >= 1 && ROUNDS <= 20 && DURATION >= 2 && DURATION <= 60)) || usage
case $TRICK in
heapfloor)
	ARMS="floor:;none:GOGC=100;gogc700+limit:GOGC=700 GOMEMLIMIT=96MiB" WORKLOADS="validate profile refresh" ;;
maxprocs)
	ARMS="2xprocs:;default:GOMAXPROCS=$(nproc)" WORKLOADS="validate profile refresh" ;;
growth)
	ARMS="empty:;grown:AB_SEED=@growth" WORKLOADS="validate profile refresh login" ;;
custom)
	ARMS=${AB_ARMS:?AB_ARMS is required} WORKLOADS=${AB_WORKLOADS:?AB_WORKLOADS is required} ;;
*) usage ;;
esac
export GOTOOLCHAIN=local
export BENCH_LUA=${BENCH_LUA:-$ROOT/bench/lua}
C_VALIDATE=32 C_PROFILE=64 C_REFRESH=8 C_LOGIN=8 C_STORM=250

command -v curl >/dev/null || { echo "ab: curl is required" >&2; exit 1; }
command -v wrk >/dev/null || { echo "ab: wrk is required (bench/run.sh installs it)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-ab.XXXXXX")
PIDS=() WRK_PIDS=""
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh" # stop_pid
ab_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in $WRK_PIDS ${PIDS[@]+"${PIDS[@]}"}; do stop_pid "$pid"; done
	rm -rf "$WORK"
	exit "$rc"
}
trap ab_cleanup EXIT
trap 'echo; echo "ab: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
ab_die() { echo "ab: $*" >&2; exit 1; }

if [[ -n ${AB_BIN:-} ]]; then # prebuilt gatehouse and benchtool (a tree being edited meanwhile)
	BIN=$AB_BIN
else
	echo "ab: building (CGO_ENABLED=0)..." >&2
	mkdir -p "$WORK/bin"
	CGO_ENABLED=0 go build -o "$WORK/bin/gatehouse" . || ab_die "go build failed"
	CGO_ENABLED=0 go build -o "$WORK/bin/" ./bench/benchtool || ab_die "go build of benchtool failed"
	BIN=$WORK/bin
fi
TOOL=$BIN/benchtool

# The growth run's seeded data dir: once per schema and seeder version (as bench/scale.sh).
if [[ $ARMS == *AB_SEED=@growth* ]]; then
	G_USERS=${GROWTH_USERS:-100000} G_SESSIONS=${GROWTH_SESSIONS:-1000000} G_AUDIT=${GROWTH_AUDIT:-1000000}
	G_CACHE=${BENCH_SCALE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-bench}
	G_KEY=$(cat pb_migrations/*.go bench/seed/*.go | sha256sum | cut -c1-12)
	G_DIR=$G_CACHE/growth-${G_USERS}u-${G_SESSIONS}s-${G_AUDIT}a-$G_KEY
	if [[ ! -d $G_DIR ]]; then
		mkdir -p "$G_CACHE"
		find "$G_CACHE" -maxdepth 1 -name 'growth-*' -type d ! -path "$G_DIR" -exec rm -rf {} + # older seeds
		CGO_ENABLED=0 go build -o "$WORK/seed" ./bench/seed || ab_die "go build of bench/seed failed"
		echo "ab: seeding $G_USERS users, $G_SESSIONS sessions, $G_AUDIT audit rows into $G_DIR (once)..." >&2
		rm -rf "$G_DIR.tmp"
		g0=$SECONDS
		RATE_LIMITS_ENABLED=false "$WORK/seed" --dir "$G_DIR.tmp" --users "$G_USERS" --assignments "$((3 * G_USERS))" \
			--sessions "$G_SESSIONS" --audit "$G_AUDIT" >"$WORK/seed.log" 2>&1 || ab_die "seeding failed: $(tail -n 20 "$WORK/seed.log")"
		mv "$G_DIR.tmp" "$G_DIR"
		echo "ab: seeded in $((SECONDS - g0)) s" >&2
	fi
	ARMS=${ARMS//AB_SEED=@growth/AB_SEED=$G_DIR}
fi

unset APP_URL JWT_ISSUER ACCESS_TOKEN_TTL REFRESH_TOKEN_TTL SESSION_MAX_AGE MFA_TOKEN_TTL \
	JWT_KEY_ROTATION_DAYS JWT_HS256_SECRET GATEHOUSE_SECRET COOKIE_SECURE COOKIE_DOMAIN \
	CORS_ALLOWED_ORIGINS TRUSTED_PROXIES REGISTRATION_ENABLED DEFAULT_SYSTEM_URL HIBP_ENABLED \
	RATE_LIMITS_ENABLED CAPTCHA_TEST_ANSWER GOGC GOMEMLIMIT GOMAXPROCS GODEBUG
export GATEHOUSE_SECRET=bench-secret-0123456789abcdefghijkl-0123456789 RATE_LIMITS_ENABLED=false

IFS=';' read -r -a ARM_SPECS <<<"$ARMS"
NARMS=${#ARM_SPECS[@]}
ARM_NAME=() ARM_ENV=() ARM_URL=() ARM_DATA=() ARM_READER=() ARM_PID=()
SU_EMAIL=bench.root@example.com SU_PASSWORD=bench-root-password-1234 USER_PASSWORD=violet-harbor-42
READER=bench.reader@example.com LOGINER=bench.login@example.com

ab_post() { curl -sS --fail-with-body -H 'Content-Type: application/json' ${3:+-H "Authorization: $3"} -d "$2" "$1"; }
ab_json() { "$TOOL" json "$1"; }

# ab_start_arm i: starts arm i's server on an empty data dir and creates the bench users.
ab_start_arm() {
	local i=$1 spec=${ARM_SPECS[$1]} port url data pid su sys role uid lid slug r bin=$BIN/gatehouse
	ARM_NAME[i]=${spec%%:*} ARM_ENV[i]=${spec#*:}
	data=$WORK/data$i
	if [[ " ${ARM_ENV[i]} " =~ \ AB_BINARY=([^ ]+)\  ]]; then # another build (e.g. an older tree's) serves this arm
		bin=${BASH_REMATCH[1]}
		ARM_ENV[i]=${ARM_ENV[i]//AB_BINARY=${BASH_REMATCH[1]}/}
	fi
	if [[ " ${ARM_ENV[i]} " =~ \ AB_SEED=([^ ]+)\  ]]; then # start on a copy of a seeded data dir
		cp -a "${BASH_REMATCH[1]}" "$data" || ab_die "copying ${BASH_REMATCH[1]} failed"
		sync # the copy's dirty pages (1.3 GB for the growth seed) reach the disk before any round, not in one
		ARM_ENV[i]=${ARM_ENV[i]//AB_SEED=${BASH_REMATCH[1]}/}
	fi
	port=$("$TOOL" freeport)
	url=http://127.0.0.1:$port
	# shellcheck disable=SC2086 # the arm's variables are words
	env APP_URL="$url" ${ARM_ENV[i]} "$bin" serve --http "127.0.0.1:$port" --dir "$data" >"$WORK/server$i.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	"$TOOL" waithealth "$url" 15000 "$pid" >/dev/null || ab_die "arm ${ARM_NAME[i]} did not start: $(tail -n 20 "$WORK/server$i.log")"
	ARM_URL[i]=$url ARM_DATA[i]=$data ARM_PID[i]=$pid
	"$bin" superuser upsert "$SU_EMAIL" "$SU_PASSWORD" --dir "$data" >/dev/null || ab_die "superuser upsert failed"
	su=$(ab_post "$url/api/collections/_superusers/auth-with-password" "{\"identity\":\"$SU_EMAIL\",\"password\":\"$SU_PASSWORD\"}" | ab_json token) ||
		ab_die "superuser login failed"
	for who in "$READER Bench Reader +639171234567" "$LOGINER Bench Login +639171234568"; do
		set -- $who
		ab_post "$url/api/collections/users/records" \
			"{\"email\":\"$1\",\"password\":\"$USER_PASSWORD\",\"passwordConfirm\":\"$USER_PASSWORD\",\"is_active\":true,\"first_name\":\"$2\",\"last_name\":\"$3\",\"phone_number\":\"$4\",\"department\":\"IT Department\",\"status\":\"Approved\"}" \
			"$su" | ab_json id >"$WORK/uid" || ab_die "creating $1 failed"
		uid=$(cat "$WORK/uid")
		for slug in tts hdts; do
			[[ $1 == "$LOGINER" && $slug == hdts ]] && continue
			r=$(curl -sS --fail-with-body -G -H "Authorization: $su" --data-urlencode "filter=system.slug='$slug' && name='Admin'" \
				--data-urlencode perPage=1 "$url/api/collections/roles/records") || ab_die "reading roles failed"
			sys=$(ab_json items.0.system <<<"$r") role=$(ab_json items.0.id <<<"$r")
			ab_post "$url/api/collections/user_system_roles/records" "{\"user\":\"$uid\",\"system\":\"$sys\",\"role\":\"$role\"}" "$su" >/dev/null ||
				ab_die "assigning $slug failed"
		done
	done
	ARM_READER[i]=$("$TOOL" sessions "$url" "$READER" "$USER_PASSWORD" 1) || ab_die "reader login failed"
}


ab_access() { # i → ACCESS: a fresh access token of arm i's reader session (not in a subshell:
	# the rotated refresh token must be kept)
	local r
	r=$(ab_post "${ARM_URL[$1]}/api/v1/token/refresh/" "{\"refresh\":\"${ARM_READER[$1]}\"}") || ab_die "reader refresh failed: $r"
	ARM_READER[$1]=$(ab_json refresh <<<"$r")
	ACCESS=$(ab_json access <<<"$r")
}
ab_ticks() { [[ -r /proc/$1/stat ]] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }
ab_busy() { awk '/^cpu / {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat; }
ab_result() { # file key → value from wrk's RESULT line
	grep '^RESULT ' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"
}
ab_wrk() { # name wrk-args... (foreground)
	local name=$1 rc=0
	shift
	wrk --latency --timeout 10s "$@" >"$WORK/$name.out" 2>&1 &
	WRK_PIDS=$!
	wait "$WRK_PIDS" || rc=$?
	WRK_PIDS=""
	((rc == 0)) || ab_die "wrk ($name) exited with $rc: $(cat "$WORK/$name.out")"
	grep -q '^RESULT ' "$WORK/$name.out" || ab_die "no RESULT from wrk ($name)"
}
ab_rps() { # file → req/s, p99 ms, unexpected non-2xx + socket errors
	local f=$1 req dur p99 st cnt s429 other sock
	req=$(ab_result "$f" requests) dur=$(ab_result "$f" duration_us) p99=$(ab_result "$f" p99_us)
	st=$(ab_result "$f" status_errors) cnt=$(ab_result "$f" counted) s429=$(ab_result "$f" s429) other=$(ab_result "$f" other)
	sock=$(($(ab_result "$f" connect) + $(ab_result "$f" read) + $(ab_result "$f" write) + $(ab_result "$f" timeout)))
	[[ $cnt == true ]] && st=${other:-0}
	awk -v r="$req" -v d="$dur" -v p="$p99" -v e="$((st + sock))" 'BEGIN {printf "%.1f %.2f %d", r / (d / 1e6), p / 1000, e}'
}

# ab_measure i workload → appends "round arm workload req/s p99 errors cpu% load" to $WORK/results
ab_measure() {
	local i=$1 w=$2 url=${ARM_URL[$1]} pid=${ARM_PID[$1]} access="" t0 t1 b0 b1 out storm_pid rc=0 extra=""
	local d="${DURATION}s"
	read -r b0 t0 < <(ab_busy)
	local g0
	g0=$(ab_ticks "$pid")
	case $w in
	validate)
		ab_access "$i"; access=$ACCESS
		ab_wrk v -t2 -c"$C_VALIDATE" -d"$d" -s "$BENCH_LUA/get.lua" -H "Authorization: Bearer $access" "$url/api/v1/users/token/validate/"
		out=$(ab_rps "$WORK/v.out") ;;
	profile)
		ab_access "$i"; access=$ACCESS
		ab_wrk p -t2 -c"$C_PROFILE" -d"$d" -s "$BENCH_LUA/get.lua" -H "Authorization: Bearer $access" "$url/api/v1/users/profile/"
		out=$(ab_rps "$WORK/p.out") ;;
	refresh)
		"$TOOL" sessions "$url" "$READER" "$USER_PASSWORD" "$C_REFRESH" >"$WORK/tokens" || ab_die "refresh sessions failed"
		read -r b0 t0 < <(ab_busy)
		g0=$(ab_ticks "$pid")
		TOKENS=$WORK/tokens ab_wrk r -t"$C_REFRESH" -c"$C_REFRESH" -d"$d" -s "$BENCH_LUA/refresh.lua" "$url/"
		out=$(ab_rps "$WORK/r.out") ;;
	login)
		BODY="{\"email\":\"$LOGINER\",\"password\":\"$USER_PASSWORD\"}" ab_wrk l -t2 -c"$C_LOGIN" -d"$d" -s "$BENCH_LUA/post.lua" "$url/api/v1/users/login/"
		out=$(ab_rps "$WORK/l.out") ;;
	storm)
		ab_access "$i"; access=$ACCESS
		BODY="{\"email\":\"$LOGINER\",\"password\":\"$USER_PASSWORD\"}" \
			wrk --latency --timeout 10s -t2 -c"$C_STORM" -d"$((DURATION + 2))s" -s "$BENCH_LUA/post.lua" "$url/api/v1/users/login/" >"$WORK/s.out" 2>&1 &
		storm_pid=$!
		WRK_PIDS="$storm_pid"
		sleep 1
		ab_wrk sv -t2 -c"$C_VALIDATE" -d"$d" -s "$BENCH_LUA/get.lua" -H "Authorization: Bearer $access" "$url/api/v1/users/token/validate/"
		WRK_PIDS="$storm_pid"
		wait "$storm_pid" || rc=$?
		WRK_PIDS=""
		((rc == 0)) || ab_die "wrk (storm) exited with $rc"
		out=$(ab_rps "$WORK/sv.out")
		local lp
		lp=$(ab_rps "$WORK/s.out")
		extra=" logins_ok/s=$(awk -v r="$(ab_result "$WORK/s.out" ok)" -v d="$(ab_result "$WORK/s.out" duration_us)" 'BEGIN {printf "%.1f", r / (d / 1e6)}') login_p99=$(cut -d' ' -f2 <<<"$lp")ms 429=$(ab_result "$WORK/s.out" s429)"
		sleep 3 ;; # abandoned queued logins drain
	*) ab_die "unknown workload $w" ;;
	esac
	read -r b1 t1 < <(ab_busy)
	local g1 cpu
	g1=$(ab_ticks "$pid")
	cpu=$(awk -v dt=$((t1 - t0)) -v db=$((b1 - b0)) -v g=$((g1 - g0)) 'BEGIN { if (dt <= 0) dt = 1; printf "%d/%d", 100 * g / dt, 100 * (db - g) / dt }')
	echo "$ROUND ${ARM_NAME[i]} $w $out $cpu $(cut -d' ' -f1 /proc/loadavg)$extra" | tee -a "$WORK/results" >&2
	sleep 1
}

for ((i = 0; i < NARMS; i++)); do
	echo "ab: starting arm ${ARM_SPECS[i]}" >&2
	ab_start_arm "$i"
done
START_DATE=$(date -u +%FT%TZ)
UPTIME_BEFORE=$(uptime)
# warm-up: every arm answers validate for 2 s
for ((i = 0; i < NARMS; i++)); do
	ab_access "$i"; access=$ACCESS
	ab_wrk warm -t2 -c"$C_VALIDATE" -d2s -s "$BENCH_LUA/get.lua" -H "Authorization: Bearer $access" "${ARM_URL[i]}/api/v1/users/token/validate/"
done
: >"$WORK/results"
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	echo "ab: round $ROUND/$ROUNDS — $(uptime)" >&2
	for w in $WORKLOADS; do
		if ((ROUND % 2)); then
			for ((i = 0; i < NARMS; i++)); do ab_measure "$i" "$w"; done
		else
			for ((i = NARMS - 1; i >= 0; i--)); do ab_measure "$i" "$w"; done
		fi
	done
done
UPTIME_AFTER=$(uptime)

echo
echo "A/B $TRICK — $START_DATE — $ROUNDS rounds × ${DURATION}s, arms alternating (reversed every other round)"
echo "machine: $(nproc) cores, $(go env GOVERSION); uptime before: $UPTIME_BEFORE"
echo "                                         after:  $UPTIME_AFTER"
for ((i = 0; i < NARMS; i++)); do
	echo "arm ${ARM_NAME[i]}: env '${ARM_ENV[i]}'; data dir $(du -sh "${ARM_DATA[i]}" | cut -f1); peak RSS $(awk '/^VmHWM:/ {printf "%.1f MB", $2 / 1024}' "/proc/${ARM_PID[$i]}/status"), RSS now $(awk '/^VmRSS:/ {printf "%.1f MB", $2 / 1024}' "/proc/${ARM_PID[$i]}/status")"
done
echo
echo "round arm workload req/s p99ms errors cpu%(server/everything-else-incl.-wrk) load1 [storm: logins]"
cat "$WORK/results"
echo
printf "%-10s %-16s %12s %10s   %s\n" workload arm "median r/s" "med p99" "per round: req/s (÷ first arm)  p99"
FIRST=${ARM_NAME[0]}
for w in $WORKLOADS; do
	for ((i = 0; i < NARMS; i++)); do
		awk -v w="$w" -v a="${ARM_NAME[i]}" -v first="$FIRST" '
			$3 == w && $2 == first { base[$1] = $4 }
			$3 == w && $2 == a { n++; r[n] = $4; p[n] = $5; rd[n] = $1 }
			function med(x, k,   i, j, t, y) { for (i = 1; i <= k; i++) y[i] = x[i]
				for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (y[j] < y[i]) { t = y[i]; y[i] = y[j]; y[j] = t }
				return k % 2 ? y[(k + 1) / 2] : (y[k / 2] + y[k / 2 + 1]) / 2 }
			END {
				s = ""
				for (i = 1; i <= n; i++) s = s sprintf(" %s (%.1f%%) %.1fms", r[i], (base[rd[i]] > 0 ? 100 * r[i] / base[rd[i]] : 0), p[i])
				printf "%-10s %-16s %12.1f %9.2fms  %s\n", w, a, med(r, n), med(p, n), s
			}' "$WORK/results"
	done
done
if [[ " $WORKLOADS " == *" storm "* && " $WORKLOADS " == *" validate "* ]]; then
	echo
	echo "storm ratio (validate during the storm ÷ validate unloaded of the same arm and round):"
	for ((i = 0; i < NARMS; i++)); do
		awk -v a="${ARM_NAME[i]}" '$2 == a && $3 == "validate" { v[$1] = $4 } $2 == a && $3 == "storm" { s[$1] = $4; lg[$1] = $9 " " $10 }
			END { printf "  %-16s", a; for (k = 1; k in s; k++) printf " r%s %.1f%% (%s)", k, (v[k] > 0 ? 100 * s[k] / v[k] : 0), lg[k]; print "" }' "$WORK/results"
	done
fi
if awk '$6 > 0 { bad = 1 } END { exit !bad }' "$WORK/results"; then
	echo "RESULT: FAIL — unexpected non-2xx answers or socket errors (column 6)"
	exit 1
fi
echo "RESULT: ok"
