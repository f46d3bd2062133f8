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
