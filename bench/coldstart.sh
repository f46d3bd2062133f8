#!/usr/bin/env bash
# Cold-start measurement (issue 6: first 200 on /api/health <= 300 ms on an empty data dir).
#
#   bench/coldstart.sh [runs]            default 10
#
# Builds the gatehouse binary and bench/benchtool (CGO_ENABLED=0), then starts
# `gatehouse serve --http 127.0.0.1:PORT --dir EMPTYDIR` RUNS times, each on a fresh empty data
# dir with the environment of bench/run.sh, and measures the time from the fork to the first 200
# on /api/health (benchtool waithealth, polling every 2 ms), plus the CPU time (user+sys, all
# threads) the server had used by then: less sensitive than the wall time to other load on a
# shared machine, but only as fine as a clock tick (10 ms). Each run ends with one restart on the
# same (now migrated) data dir, reported as "warm". Prints every run, then min/median/max.
#
# COLDSTART_BIN=PATH     measures an already built binary instead of building one.
# COLDSTART_COMPARE="PATH..." also measures other binaries (e.g. a build of the previous commit, or
#                        a wrapper script setting GOGC), alternating run by run, so that all see the
#                        same machine load.
# Loopback only; everything it starts is stopped, and its temp dir removed, on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${1:-10}
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 200)); then
	echo "usage: bench/coldstart.sh [runs (1-200)]" >&2
	exit 2
fi
export GOTOOLCHAIN=local

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-coldstart.XXXXXX")
GH_PID=""
stop_gh() { # SIGTERM, up to 5 s grace, then SIGKILL; only our own child
	[[ -n $GH_PID ]] || return 0
	kill -TERM "$GH_PID" 2>/dev/null || true
	local i
	for i in $(seq 1 50); do
		kill -0 "$GH_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$GH_PID" 2>/dev/null || true
	wait "$GH_PID" 2>/dev/null || true
	GH_PID=""
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_gh
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BIN=${COLDSTART_BIN:-}
LABEL=$BIN
if [[ -z $BIN ]]; then
	BIN=$WORK/gatehouse
	LABEL="gatehouse built from $ROOT"
	CGO_ENABLED=0 go build -o "$BIN" .
fi
BINS=("$BIN")
read -r -a more <<<"${COLDSTART_COMPARE:-}"
BINS+=(${more[@]+"${more[@]}"})
for b in "${BINS[@]}"; do
	[[ -x $b ]] || { echo "coldstart: $b is not an executable" >&2; exit 2; }
done
TOOL=$WORK/benchtool
CGO_ENABLED=0 go build -o "$TOOL" ./bench/benchtool

# The environment of bench/run.sh (defaults except what a load test needs).
unset APP_URL JWT_ISSUER ACCESS_TOKEN_TTL REFRESH_TOKEN_TTL SESSION_MAX_AGE MFA_TOKEN_TTL \
	JWT_KEY_ROTATION_DAYS JWT_HS256_SECRET GATEHOUSE_SECRET COOKIE_SECURE COOKIE_DOMAIN \
	CORS_ALLOWED_ORIGINS TRUSTED_PROXIES REGISTRATION_ENABLED DEFAULT_SYSTEM_URL HIBP_ENABLED \
	RATE_LIMITS_ENABLED CAPTCHA_TEST_ANSWER SMTP_HOST SMTP_PORT SMTP_USERNAME SMTP_PASSWORD \
	SMTP_TLS SMTP_STARTTLS MAIL_FROM
export GATEHOUSE_SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
export RATE_LIMITS_ENABLED=false
CLK_TCK=$(getconf CLK_TCK)

# start BIN DATA → sets MS (fork to first 200) and CPU_MS (the server's CPU time by then);
# retries a taken port. Runs in this shell (not in $(...)) so that GH_PID stays visible.
start() {
	local bin=$1 data=$2 attempt port t0 t1 stat f
	for attempt in 1 2 3; do
		port=$("$TOOL" freeport)
		export APP_URL=http://127.0.0.1:$port
		t0=$(date +%s%N)
		"$bin" serve --http "127.0.0.1:$port" --dir "$data" >"$WORK/server.log" 2>&1 &
		GH_PID=$!
		if t1=$("$TOOL" waithealth "$APP_URL" 15000 "$GH_PID"); then
			stat=$(<"/proc/$GH_PID/stat")
			MS=$(((t1 - t0) / 1000000))
			stat=${stat##*) } # fields from 3 on; utime and stime are fields 14 and 15
			read -r -a f <<<"$stat"
			CPU_MS=$(((f[11] + f[12]) * 1000 / CLK_TCK))
			return 0
		fi
		stop_gh
		rm -rf "$data"
	done
	echo "coldstart: $bin did not start; last log lines:" >&2
	tail -n 20 "$WORK/server.log" >&2
	exit 1
}

stats() { # label values... → "label min A / median B / max C ms (n=N)"
	local label=$1
	shift
	printf '%s\n' "$@" | sort -n | awk -v label="$label" '
		{ v[NR] = $1 }
		END {
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%-32s min %4d / median %6.1f / max %4d ms (n=%d)\n", label, v[1], med, v[NR], NR
		}'
}

declare -A COLD WARM CPU
for i in $(seq 1 "$RUNS"); do
	for k in "${!BINS[@]}"; do
		DATA=$WORK/data
		rm -rf "$DATA"
		start "${BINS[$k]}" "$DATA"
		c=$MS cpu=$CPU_MS
		stop_gh
		start "${BINS[$k]}" "$DATA"
		w=$MS
		stop_gh
		rm -rf "$DATA"
		COLD[$k]+=" $c" CPU[$k]+=" $cpu" WARM[$k]+=" $w"
		printf 'run %2d %-9s cold %4d ms (cpu %4d ms)   warm %4d ms\n' "$i" "$([[ $k == 0 ]] && echo binary || echo "compare$k")" "$c" "$cpu" "$w"
	done
done
for k in "${!BINS[@]}"; do
	if [[ $k == 0 ]]; then echo "== binary: $LABEL"; else echo "== compare$k: ${BINS[$k]}"; fi
	# shellcheck disable=SC2086 # word splitting of the value lists is intended
	{
		stats "cold start (empty data dir):" ${COLD[$k]}
		stats "cold start cpu (user+sys):" ${CPU[$k]}
		stats "warm start (migrated data dir):" ${WARM[$k]}
	}
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
