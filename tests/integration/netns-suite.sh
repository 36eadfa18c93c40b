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

# The link of n5 goes down: its heartbeats stop and nothing refuses a connection, so only
# the timeout can tell. When the link is back, n5's helper learns it was removed and ends.
test_node_with_cut_link_reaches_every_survivor_within_timeout() {
	start_watching_step
	local t0
	t0=$(now_ms)
	"$TESTCLUSTER" cut-link n5
	every_rank_gets "0 1 2 3" NODE_DOWN node_id=4 "$t0"
	same_generation "0 1 2 3" NODE_DOWN node_id=4 1 0
	grep -q "is down: silent for" "$(helper_log n1)" || fail "not confirmed from missing heartbeats"
	"$TESTCLUSTER" heal-link n5
	wait_for 30 grep -q " NODE_DOWN .* node_id=4 .*removed this node from the mesh" "$EVENTS.4" ||
		fail "n5's helper did not learn it was removed once its link was back: $(cat "$EVENTS.4")"
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

cluster_up
run_suite
