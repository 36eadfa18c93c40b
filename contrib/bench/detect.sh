#!/bin/bash
# detect.sh: how long LCR takes to tell every surviving rank that a node died, beside how
# long Slurm takes to mark the same node down, in the same run on a local five-node cluster
# (tests/cluster/testcluster, multi mode, SlurmdTimeout=10 as there). LCR runs at the
# default detection timeout (2 s).
#
#   kill: every process of a node is SIGKILLed (slurmd, slurmstepd, helper, ranks), KILLS
#         times, the node rotating over n1..n5 (n1 is the leader); its helper's connections
#         reset, so the survivors learn at once.
#   stop: every process of a node is SIGSTOPped, STOPS times: only the missing heartbeats
#         tell, so this is the timeout path (a hung node, or a cut link).
#   Slurm: for the first SLURM_SAMPLES kills the node stays dead until sinfo shows it down.
#
# A sample is one surviving rank's delay from the fault to its NODE_DOWN event. Prints one
# line per figure, RESULT name=... value=... unit=s baseline=<Slurm's median> ratio=...
# Needs root, Slurm and munge (contrib/install-deps.sh). About two minutes on two cores.
# Usage: contrib/bench/detect.sh [BUILDDIR]   (default: the current directory)
set -uo pipefail
LCR_BUILDDIR=$(cd "${1:-.}" && pwd)
LCR_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$LCR_SRCDIR/tests/integration
export LCR_BUILDDIR LCR_SRCDIR
export BASE=${BASE:-/var/tmp/lcr-bench-detect-$$}
export PORT_BASE=${PORT_BASE:-17450}
export MODE=multi
KILLS=${KILLS:-10}
STOPS=${STOPS:-10}
SLURM_SAMPLES=${SLURM_SAMPLES:-3}
[ "$(id -u)" = 0 ] || { echo "detect.sh: needs root (it runs a local Slurm cluster)" >&2; exit 2; }
. "$HERE/lib.sh"
. "$HERE/detection_lib.sh"

SAMPLES_KILL=$BASE.kill
SAMPLES_STOP=$BASE.stop
SAMPLES_SLURM=$BASE.slurm

node_state() { SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n "$1" -o %t; }

# record RANKS NODE_ID T0 FILE: one delay in seconds per surviving rank, into FILE.
record() {
	local rank t
	for rank in $1; do
		t=$(event_ms "$rank" NODE_DOWN "node_id=$2")
		[ -n "$t" ] || { echo "detect.sh: rank $rank never got NODE_DOWN of node $2" >&2; return 1; }
		awk -v d=$((t - $3)) 'BEGIN { printf "%.3f\n", d / 1000 }' >>"$4"
	done
}

survivors_of() { seq 0 4 | grep -vx "$1" | tr '\n' ' '; }

# One fault: ACTION is kill or stop; node id ID (node n<ID+1>).
one_fault() {
	local action=$1 id=$2 node=n$(($2 + 1)) t0 ranks
	ranks=$(survivors_of "$id")
	start_watching_step || return 1
	t0=$(now_ms)
	"$TESTCLUSTER" "$action-node" "$node"
	every_rank_gets "$ranks" NODE_DOWN "node_id=$id" "$t0" >/dev/null 2>&1 || true
	record "$ranks" "$id" "$t0" "$([ "$action" = kill ] && echo "$SAMPLES_KILL" || echo "$SAMPLES_STOP")" || return 1
	if [ "$action" = kill ] && [ "$(wc -l <"$SAMPLES_SLURM")" -lt "$SLURM_SAMPLES" ]; then
		wait_for 120 bash -c "SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n $node -o %t | grep -q down" ||
			{ echo "detect.sh: Slurm did not mark $node down within 120 s" >&2; return 1; }
		awk -v d=$(($(now_ms) - t0)) 'BEGIN { printf "%.3f\n", d / 1000 }' >>"$SAMPLES_SLURM"
	fi
	[ "$action" = stop ] && "$TESTCLUSTER" cont-node "$node"
	if [ "$action" = kill ]; then end_watching_step "$node"; else end_watching_step; fi
}

# percentile P < numbers
percentile() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { print v[int((NR - 1) * p) + 1] }'; }

result() { # NAME VALUE BASELINE
	awk -v n="$1" -v v="$2" -v b="$3" \
		'BEGIN { printf "RESULT name=%s value=%s unit=s baseline=%s ratio=%.4f\n", n, v, b, v / b }'
}

cluster_up
: >"$SAMPLES_KILL"
: >"$SAMPLES_STOP"
: >"$SAMPLES_SLURM"
for ((i = 0; i < KILLS; i++)); do
	one_fault kill $((i % 5)) || exit 1
done
for ((i = 0; i < STOPS; i++)); do
	one_fault stop $(((i + 1) % 5)) || exit 1
done
slurm=$(percentile 0.5 <"$SAMPLES_SLURM")
echo "# $KILLS kills and $STOPS stops of one node of five, $(wc -l <"$SAMPLES_KILL") and $(wc -l <"$SAMPLES_STOP") samples (one per surviving rank); Slurm: $SLURM_SAMPLES kills ($(tr '\n' ' ' <"$SAMPLES_SLURM")s)"
result detect_kill_p50 "$(percentile 0.5 <"$SAMPLES_KILL")" "$slurm"
result detect_kill_p99 "$(percentile 0.99 <"$SAMPLES_KILL")" "$slurm"
result detect_stop_p50 "$(percentile 0.5 <"$SAMPLES_STOP")" "$slurm"
result detect_stop_p99 "$(percentile 0.99 <"$SAMPLES_STOP")" "$slurm"
result slurm_node_down_p50 "$slurm" "$slurm"
rm -f "$SAMPLES_KILL" "$SAMPLES_STOP" "$SAMPLES_SLURM"
