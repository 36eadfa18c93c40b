#!/bin/bash
# netns-suite.sh: failure detection when a node's network link is cut. A local cluster in
# netns mode (one network namespace per node, veth to a bridge) is brought up once and torn
# down on every exit, like cluster-suite.sh's; only netns mode can cut a link. Speaks TAP.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PORT_BASE=${PORT_BASE:-17400}
export MODE=netns
. "$HERE/lib.sh"
. "$HERE/detection_lib.sh"
# The trainer-based tests reuse the helpers of these cases, not their tests (cluster-suite.sh
# runs those).
. "$HERE/cases/30_jit_checkpoint.sh"
. "$HERE/cases/40_recovery.sh"
unset -f $(declare -F | awk '$3 ~ /^test_/ {print $3}')
. "$HERE/returning_lib.sh"

# The link of n5 goes down: its heartbeats stop and nothing refuses a connection, so only
# the timeout can tell. n5's helper ends too: it finds itself cut off from the majority
# after its own timeout, or, when the link is back before that, learns it was removed
# (which one comes first depends on how fast the link is healed).
test_node_with_cut_link_reaches_every_survivor_within_timeout() {
	start_watching_step
	local t0
	t0=$(now_ms)
	"$TESTCLUSTER" cut-link n5
	every_rank_gets "0 1 2 3" NODE_DOWN node_id=4 "$t0"
	same_generation "0 1 2 3" NODE_DOWN node_id=4 1 0
	grep -q "is down: silent for" "$(helper_log n1)" || fail "not confirmed from missing heartbeats"
	"$TESTCLUSTER" heal-link n5
	wait_for 30 grep -Eq " NODE_DOWN .* node_id=4 .*(removed this node from the mesh|this node is cut off from the majority)" "$EVENTS.4" ||
		fail "n5's helper did not learn it was out of the mesh once its link was back: $(cat "$EVENTS.4")"
	end_watching_step
}

# The mesh's addresses are the nodes' own, not 127.0.0.1: the helpers talk across the
# bridge, and reach srun's rendezvous at the address slurmd saw srun at.
test_mesh_uses_the_nodes_addresses() {
	start_watching_step
	local node
	for node in n1 n2 n3 n4 n5; do
		grep -q "listening on 10\.77\.0\.1[1-5]:" "$(helper_log "$node")" ||
			fail "$node's mesh listener is not on its own address: $(grep listening "$(helper_log "$node")")"
	done
	end_watching_step
}

# Issue 17: n2's link is cut at a random step for RET_CUT_S (25 s), then healed. Cut off, n2's
# helper is a minority of one and stops its rank itself, while the link is still down; the
# spare takes its place; the healed node disturbs nothing: training finishes with the
# checksum of a failure-free run, the outcome is 0 with one recovered failure, and the
# checkpoint directory (shared, so reachable from n2 all along) holds only what the majority
# published. 25 s, long enough for Slurm to declare n2 down meanwhile: n2's slurmstepd
# cannot tell srun, across the cut, that the fenced rank exited, and srun would otherwise
# wait for that task for ever (Slurm, not LCR; seen with a 15 s cut). See
# cases/45_returning_node.sh for the hung node, and returning_lib.sh.
test_returning_node_cut_off_fences_itself_and_healed_link_disturbs_nothing() {
	ret_demo_node_goes_away_and_comes_back cut "${RET_CUT_S:-25}" "${RET_CUT_STEPS:-2000}"
}

# A link that flaps, down for less than the detection timeout (2 s), twice, 3 s apart: no
# node is declared down, nothing is replaced, and training finishes in the same processes
# with the reference checksum and an outcome of 0 with no recovered failure. (Up to 0.7 s:
# TCP retransmits what the cut held back 0.2, 0.6 and 1.4 s after it was first sent, so a
# longer cut can silence a peer for as long as the timeout.)
test_flapping_link_shorter_than_the_timeout_is_no_failure() {
	local REC_STEPS=${FLAP_STEPS:-1200} job pids pid flap node late t
	rec_start n1,n2,n3,n4 "$(ret_run run n1,n2,n3,n4 "$JIT/ckpt" 1)"
	job=$(ret_job)
	trap "ret_end n2 $job >/dev/null 2>&1 || true" EXIT
	wait_for 30 jit_progressed run 1 || fail "the run does not train: $(tail -n 5 "$JIT/run.txt")"
	pids=$(for node in n1 n2 n3 n4; do rec_trainer_pids_on "$node"; done | paste -sd ' ')
	for flap in 1 2; do
		sleep "$((flap == 1 ? 0 : 3)).$((RANDOM % 10))"
		t=$(date +%s%N)
		"$TESTCLUSTER" cut-link n2
		sleep "0.$((5 + RANDOM % 3))"
		"$TESTCLUSTER" heal-link n2
		diag "flap $flap: the link of n2 was down for $(ret_ms_since "$t") ms"
	done
	# Past the detection timeout and a second opinion, while the helpers' logs are there.
	sleep 3
	for node in n1 n2 n3 n4; do
		late=$(grep -Ei 'is down|removed this node|replacing node|checkpoint of step|fenc' \
			"$(jit_helper_log "$job" 1 "$node")") && fail "$node's helper saw a failure: $late"
	done
	for pid in $pids; do
		ret_gone "$pid" && fail "trainer $pid ended during the flaps: $(tail -n 5 "$JIT/run.txt")"
	done
	for node in n1 n2 n3 n4; do
		[ -f "$(jit_helper_log "$job" 1 "$node")" ] || fail "no log of $node's helper: raise FLAP_STEPS"
	done
	wait_for 120 rec_finished run 4 || fail "the run did not finish: $(rec_finals run; tail -n 8 "$JIT/run.txt")"
	! grep -E 'event:|gradient exchange failed|rebuilt' "$JIT/run.txt" ||
		fail "the ranks saw a failure"
	! ls "$JIT"/lcr-*.replacement-*.out 2>/dev/null || fail "a replacement was started"
	[ "$(rec_finals run | wc -l)" = 4 ] || fail "expected 4 final lines: $(rec_finals run)"
	[ "$(rec_checksum run)" = "$(rec_checksum ref)" ] ||
		fail "checksum $(rec_checksum run) after a flapping link, reference $(rec_checksum ref)"
	ret_outcome run "$JIT/ckpt" "$job" 1 0
	[ -z "$(jit_steps_in "$JIT/ckpt")" ] || fail "a checkpoint was published: $(ls "$JIT/ckpt")"
	trap - EXIT
	ret_end n2 "$job"
}

cluster_up
run_suite
