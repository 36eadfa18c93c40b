#!/bin/bash
# lifecycle.sh: `testcluster up` brings up a cluster where jobs run on every node, and
# `testcluster down` leaves no process, network namespace, veth or munged of it behind, in
# both modes (multi: slurmd -N per node; netns: one network namespace per node). Speaks TAP.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PORT_BASE=${PORT_BASE:-17300}
. "$HERE/../integration/lib.sh"
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
trap cluster_down EXIT

lifecycle_in_mode() {
	local mode=$1 names left
	if [ "$mode" = netns ]; then
		# A node's veth left by a namespace that outlived its `down` (a socket lingering
		# in it) must not stop the next `up`.
		ip link add veth-n1 type veth peer name lcrtc-stale || fail "cannot add a veth"
	fi
	MODE=$mode "$TESTCLUSTER" up || fail "up failed in $mode mode"
	names=$(as_user srun -N5 -n5 bash -c 'echo "$SLURMD_NODENAME $(hostname)"' | sort)
	diag "$names"
	[ "$(awk '{print $1}' <<<"$names" | sort -u | wc -l)" = 5 ] || fail "expected 5 distinct nodes"
	if [ "$mode" = netns ]; then
		[ "$(awk '{print $2}' <<<"$names" | sort -u | wc -l)" = 5 ] || fail "expected 5 distinct hostnames"
	fi
	# A step that is still running when the cluster goes down must not survive it.
	as_user bash -c 'srun -N5 sleep 300 </dev/null >/dev/null 2>&1 &'
	wait_for 10 at_least sleep "$TEST_USER" 5 || fail "step did not start"
	"$TESTCLUSTER" down || fail "down failed"
	left=$(pgrep -f "$BASE" || true)
	[ -z "$left" ] || fail "processes of the cluster left: $(ps -o pid,args -p "$left")"
	[ -z "$(pids_of sleep "$TEST_USER")" ] || fail "the job's tasks were left running"
	[ -z "$(ip netns list | grep lcrtc-)" ] || fail "network namespaces left"
	! ip link show lcrtcbr0 >/dev/null 2>&1 || fail "bridge left"
	[ -z "$(ip -br link show | grep '^veth-n')" ] || fail "veth devices left: $(ip -br link show | grep '^veth-n')"
}

test_multi_mode_up_and_down_leave_nothing() { lifecycle_in_mode multi; }
test_netns_mode_up_and_down_leave_nothing() { lifecycle_in_mode netns; }

run_suite
