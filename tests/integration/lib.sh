# lib.sh: shared by LCR's integration suites. TAP output, the local cluster's lifecycle
# (brought up once per suite, always torn down), and helpers to run jobs as the test user.
#
# A suite sources this file, then its case files define functions named test_*, then it
# calls run_suite. Each test_* function is one TAP test: it passes when it returns 0.
# TEST_MATCH=REGEX runs only the tests whose names match.

: "${LCR_SRCDIR:?LCR_SRCDIR must name the source tree}"
: "${LCR_BUILDDIR:?LCR_BUILDDIR must name the build tree}"
export LCR_SRCDIR LCR_BUILDDIR
TESTCLUSTER=$LCR_SRCDIR/tests/cluster/testcluster
export BASE=${BASE:-/var/tmp/lcr-check-$$}
export PORT_BASE=${PORT_BASE:-17100}
export TEST_USER=${TEST_USER:-lcrtest}

tap_count=0
tap_failed=0

diag() { sed 's/^/# /' <<<"$*"; }

# Run every test_* function defined so far, in the order of definition. Each case runs in
# a process group of its own, its output in a file (a daemon it starts that keeps the
# output open cannot hold the suite), under a watchdog: a case that runs past CASE_TIMEOUT
# seconds (300) is reported with what was running and its process group killed, and the
# suite goes on. Each result line ends with the case's time. A suite stops early, saying
# why, when the cluster it brought up (cluster_up) no longer answers after a failed case
# (every later case would only spend its timeouts) or when it has run for SUITE_TIMEOUT
# seconds (2400). The suites of tests/cluster and tests/packaging use it too, without a
# cluster of their own.
run_suite() {
	local tests=() name
	shopt -s extdebug
	mapfile -t tests < <(for name in $(declare -F | awk '{print $3}' | grep '^test_'); do
		declare -F "$name"
	done | sort -k3,3 -k2,2n | awk '{print $1}' | grep -E -- "${TEST_MATCH:-.}")
	shopt -u extdebug
	echo "1..${#tests[@]}"
	local suite_started=$SECONDS case_output
	case_output=$(mktemp "${TMPDIR:-/tmp}/lcr-case.XXXXXX") || return 1
	for name in "${tests[@]}"; do
		tap_count=$((tap_count + 1))
		local output status started=$SECONDS
		if [ $((SECONDS - suite_started)) -ge "${SUITE_TIMEOUT:-2400}" ]; then
			echo "Bail out! the suite ran past ${SUITE_TIMEOUT:-2400} s (SUITE_TIMEOUT) before $name"
			rm -f "$case_output"
			return 1
		fi
		touch "$BASE/case-start" 2>/dev/null
		status=$(run_case "$name" "$case_output")
		output=$(cat "$case_output")
		if [ "$status" = 0 ]; then
			echo "ok $tap_count - $name ($((SECONDS - started)) s)"
		elif [ "$status" = 77 ]; then
			echo "ok $tap_count - $name # SKIP $(tail -n 1 <<<"$output")"
		else
			echo "not ok $tap_count - $name ($((SECONDS - started)) s)"
			tap_failed=$((tap_failed + 1))
			diag "$output"
			helper_log_ends
			if [ -n "${suite_cluster_up:-}" ] && ! cluster_answers; then
				echo "Bail out! slurmctld no longer answers after $name"
				rm -f "$case_output"
				return 1
			fi
		fi
	done
	rm -f "$case_output"
	[ $tap_failed = 0 ]
}

# run_case NAME FILE: run the case NAME with set -e (not inside && or ||, where bash would
# ignore it), its output in FILE; print its exit status, 124 when the watchdog stopped it.
run_case() {
	local name=$1 file=$2 limit=${CASE_TIMEOUT:-300} pid sleeper finished status
	: >"$file"
	set -m
	(set -e; "$name") >>"$file" 2>&1 </dev/null &
	pid=$!
	set +m
	sleep "$limit" >/dev/null 2>&1 &
	sleeper=$!
	wait -n -p finished "$pid" "$sleeper"
	status=$?
	if [ "$finished" = "$pid" ]; then
		kill "$sleeper" 2>/dev/null
		wait "$sleeper" 2>/dev/null
		echo "$status"
		return
	fi
	{
		echo "TIMEOUT: the case ran past $limit s (CASE_TIMEOUT); what was running:"
		ps -eo pid,pgid,etimes,stat,args --forest | cut -c1-200 |
			grep -E 'slurm|srun|sbatch|salloc|lcr|munge|timeout|python|test' | grep -Ev ' (ps|grep|cut) ' | tail -n 80
	} >>"$file" 2>&1
	kill -TERM -- "-$pid" 2>/dev/null
	sleep 5
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo 124
}

# Whether the cluster's slurmctld answers, within 30 s.
cluster_answers() {
	SLURM_CONF=$BASE/etc/slurm.conf timeout -k 5 30 sinfo -h >/dev/null 2>&1
}

# After a failed case: how each helper of its steps ended, from the copies of their logs
# that the test cluster keeps (tests/cluster/spank_order_probe.c) once a node's last task
# exited (a helper still running at the failure has none).
helper_log_ends() {
	local log
	[ -f "$BASE/case-start" ] || return 0
	find "$BASE/helper-logs-kept" -name '*.log' -newer "$BASE/case-start" 2>/dev/null | sort |
		while read -r log; do
			diag "helper log ${log##*/}, its last lines:"
			diag "$(tail -n 6 "$log")"
		done
}

skip() { echo "$*"; return 77; }

fail() { echo "FAIL: $*" >&2; return 1; }

# The cluster: up once, down on every exit path.
cluster_up() {
	[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP the local Slurm cluster needs root"; exit 0; }
	trap cluster_down EXIT
	"$TESTCLUSTER" up >"$BASE.up.log" 2>&1 || {
		sed 's/^/# /' "$BASE.up.log"
		echo "Bail out! cannot start the local cluster"
		exit 99
	}
	suite_cluster_up=1
}

# LCR_KEEP_WORK=1 keeps $BASE (the runs' output in work, the helpers' logs copied to
# helper-logs before the cluster goes down with run/) and says where.
cluster_down() {
	[ -z "${LCR_KEEP_WORK:-}" ] || cp -a "$BASE/run/lcr" "$BASE/helper-logs" 2>/dev/null || true
	"$TESTCLUSTER" down >/dev/null 2>&1 || "$TESTCLUSTER" down
	if [ -n "${LCR_KEEP_WORK:-}" ]; then
		echo "# kept the cluster's directory: $BASE"
		return
	fi
	rm -rf "$BASE" "$BASE.up.log"
}

# Run a command as the test user inside the cluster's environment; nothing waits for ever.
as_user() { timeout -k 5 "${COMMAND_TIMEOUT:-120}" "$TESTCLUSTER" exec "$@"; }
as_other_user() { TEST_USER=lcrtest2 timeout -k 5 "${COMMAND_TIMEOUT:-120}" "$TESTCLUSTER" exec "$@"; }

# Wait until a command succeeds, up to $1 seconds.
wait_for() {
	local timeout=$1 deadline
	shift
	deadline=$((SECONDS + timeout))
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

# Live processes named $1 of user $2 that belong to this cluster: not zombies (PID 1 reaps
# late here), and with this cluster's SLURM_CONF in their environment (other clusters'
# jobs may run on this machine too).
pids_of() {
	local pid
	for pid in $(pgrep -u "$2" -x "$1"); do
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && continue
		{ tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$BASE/etc/slurm.conf" &&
			echo "$pid"
	done
	return 0
}

# How many of them there are, and whether there are at least $3.
count_of() { pids_of "$1" "$2" | wc -l; }
at_least() { [ "$(count_of "$1" "$2")" -ge "$3" ]; }
