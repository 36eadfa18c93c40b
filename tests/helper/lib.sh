# lib.sh: shared helpers of the lcrd integration tests (sourced, not run). TAP output,
# temporary directories that are removed at exit, and starting lcrd in foreground mode.
# LCR_BUILDDIR and LCR_SRCDIR come from `make check`; run by hand, they default to the
# current directory and to the directory above this file's.

: "${LCR_BUILDDIR:=$PWD}"
: "${LCR_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
LCRD=$LCR_BUILDDIR/helper/lcrd
LCRCTL=$LCR_BUILDDIR/lcrctl/lcrctl
CLIENT=$LCR_BUILDDIR/tests/helper/lcr_test_client

tap_count=0
tap_failed=0
LCR_PIDS=()

ok() { # ok CONDITION_STATUS DESCRIPTION
	tap_count=$((tap_count + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_count - $2"
	else
		echo "not ok $tap_count - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

ok_exit() { # ok_exit EXPECTED_STATUS ACTUAL_STATUS DESCRIPTION
	[ "$2" -eq "$1" ]
	ok $? "$3"
}

skip() { # skip DESCRIPTION REASON
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $1 # SKIP $2"
}

diag() { sed 's/^/# /'; }

cleanup() {
	local pid
	for pid in "${LCR_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "${WORK:-}" ] && [ -z "${LCR_KEEP_WORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT

WORK=$(mktemp -d /tmp/lcr-test.XXXXXX)
chmod 755 "$WORK"

# make_root ROOT UID: a runtime root with its private per-uid directory.
make_root() {
	mkdir -p "$1/$2"
	chmod 755 "$1"
	chmod 700 "$1/$2"
}

# start_lcrd NAME ARGS...: starts lcrd --foreground in the background, waits for its
# LCR_SOCKET line; sets LCRD_PID and LCR_SOCKET. Its stderr goes to $WORK/NAME.log.
# Prefix the command with RUNAS (e.g. "runuser -u lcrtest --") through the RUNAS variable.
start_lcrd() {
	local name=$1 i
	shift
	: >"$WORK/$name.out"
	${RUNAS:-} "${LCRD_BIN:-$LCRD}" --foreground "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
	LCRD_PID=$!
	LCR_PIDS+=("$LCRD_PID")
	for i in $(seq 100); do
		LCR_SOCKET=$(sed -n 's/^LCR_SOCKET=//p' "$WORK/$name.out")
		[ -n "$LCR_SOCKET" ] && break
		kill -0 "$LCRD_PID" 2>/dev/null || break
		sleep 0.05
	done
	export LCR_SOCKET
	[ -n "$LCR_SOCKET" ]
}

# stop_lcrd: SIGTERM, and the exit status of lcrd.
stop_lcrd() {
	kill -TERM "$LCRD_PID" 2>/dev/null
	wait "$LCRD_PID"
}

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (5 s).
wait_for() {
	local i
	for i in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

finish() {
	echo "1..$tap_count"
	[ "$tap_failed" -eq 0 ]
}
