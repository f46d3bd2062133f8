# Shell helpers shared by the bench scripts (sourced, not run).

# stop_pid PID: SIGTERM, up to 5 s grace, then SIGKILL; only our own children. Empty PID: nothing.
stop_pid() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# wrk_result FILE: reads the RESULT line lua/report.lua prints at the end of a wrk run into the
# globals R_requests, R_duration_us, R_p50_us, R_p99_us, R_connect, R_read, R_write, R_timeout,
# R_status_errors, R_counted, R_ok, R_s429, R_other, R_other_codes (a key the line lacks keeps
# its default). Returns 1 when FILE holds no RESULT line.
wrk_result() {
	local line kv
	line=$(grep '^RESULT ' "$1") || return 1
	R_requests=0 R_duration_us=1 R_p50_us=0 R_p99_us=0 R_connect=0 R_read=0 R_write=0 R_timeout=0
	R_status_errors=0 R_counted=false R_ok=0 R_s429=0 R_other=0 R_other_codes=-
	for kv in ${line#RESULT }; do printf -v "R_${kv%%=*}" '%s' "${kv#*=}"; done
}
