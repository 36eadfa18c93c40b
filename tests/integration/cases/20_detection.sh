# cases/20_detection.sh: failure detection on the cluster. A step of five ranks, one per
# node, each watching its helper's events (lcr_event_watch), runs with --lcr at the default
# timeout (2 s); then a node is killed (every process of it), stopped, or loses its leader,
# or a rank dies, or the CPUs are saturated, or a stranger knocks on a helper's mesh port.
# Node nX is node id X-1; the leader is the lowest live node id.

. "$HERE/detection_lib.sh"

test_helpers_form_a_mesh_and_the_rendezvous_ends() {
	start_watching_step
	# This cluster's rendezvous only: another cluster's may run on this machine too.
	wait_for 5 bash -c "[ -z \"\$(pgrep -u $TEST_USER -f -- '^$BASE/stage/bin/lcrd --rendezvous-server')\" ]" ||
		fail "the rendezvous server is still running after the table went out"
	grep -q "mesh up generation 0 leader 0 live 5 of 5" <<<"$(as_user srun --jobid="$JOB" --overlap -N1 -w n3 lcrctl events)" ||
		fail "lcrctl events does not show the mesh of five"
	end_watching_step
}

test_killed_node_reaches_every_survivor_within_timeout() {
	start_watching_step
	local t0
	t0=$(now_ms)
	"$TESTCLUSTER" kill-node n5
	every_rank_gets "0 1 2 3" NODE_DOWN node_id=4 "$t0"
	same_generation "0 1 2 3" NODE_DOWN node_id=4 1 0
	end_watching_step n5
}

test_stopped_node_is_declared_down_then_fenced() {
	start_watching_step
	local t0 helper
	helper=$(pgrep -u "$TEST_USER" -f -- "--node-name=n4 " | head -n 1)
	t0=$(now_ms)
	"$TESTCLUSTER" stop-node n4
	every_rank_gets "0 1 2 4" NODE_DOWN node_id=3 "$t0"
	grep -q "is down: silent for" "$(helper_log n1)" || fail "not confirmed from missing heartbeats"
	"$TESTCLUSTER" cont-node n4
	wait_for 10 grep -q " NODE_DOWN .* node_id=3 .*removed this node from the mesh" "$EVENTS.3" ||
		fail "the continued helper did not learn it was removed: $(cat "$EVENTS.3")"
	wait_for 10 bash -c "! kill -0 $helper 2>/dev/null || grep -q ' Z ' /proc/$helper/stat" ||
		fail "the fenced helper did not end"
	end_watching_step
}

test_killed_leader_node_gets_a_new_leader_and_the_event_arrives() {
	start_watching_step
	local t0
	t0=$(now_ms)
	"$TESTCLUSTER" kill-node n1
	every_rank_gets "1 2 3 4" NODE_DOWN node_id=0 "$t0"
	same_generation "1 2 3 4" NODE_DOWN node_id=0 1 1
	end_watching_step n1
}

test_killed_rank_gives_rank_exited_for_that_rank_only() {
	start_watching_step
	local t0 pid
	pid=$(awk '/^ready/ {print $5}' "$EVENTS.2")
	t0=$(now_ms)
	kill -9 "$pid"
	every_rank_gets "0 1 3 4" RANK_EXITED rank=2 "$t0"
	same_generation "0 1 3 4" RANK_EXITED rank=2 1 0
	sleep 1
	for rank in 0 1 3 4; do
		[ "$(grep -c ' RANK_EXITED ' "$EVENTS.$rank")" = 1 ] || fail "rank $rank: $(cat "$EVENTS.$rank")"
		! grep -q ' NODE_DOWN ' "$EVENTS.$rank" || fail "rank $rank got NODE_DOWN for a rank's death"
	done
	end_watching_step
}

test_busy_cpus_for_30s_declare_no_node_down() {
	command -v stress-ng >/dev/null || skip "stress-ng is not installed"
	start_watching_step
	stress-ng --cpu "$(nproc)" --timeout 30s --quiet
	sleep 1
	! grep -h ' NODE_DOWN ' "$EVENTS".* || fail "a node was declared down under CPU load"
	for node in n1 n2 n3 n4 n5; do
		! grep -q "is down" "$(helper_log "$node")" || fail "$node logged a node down"
	done
	grep -h "suspect" "$BASE/run/lcr/$(id -u "$TEST_USER")/$JOB".0.n*.log | head -n 5 | diag || true
	end_watching_step
}

test_mesh_peer_without_valid_credential_is_refused() {
	start_watching_step
	local port peer out socket
	port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$(helper_log n2)")
	peer="lcr_mesh_peer 127.0.0.1:$port"
	socket="--munge-socket=$BASE/munge/munge.socket.2"
	out=$(as_user $peer none --job="$JOB" --from=2 --to=1 "$socket") && fail "no credential: $out"
	grep -q "^refused: .*no credential" <<<"$out" || fail "no credential: $out"
	out=$(as_user $peer sealed --job=$((JOB + 1000)) --from=2 --to=1 "$socket") && fail "another job: $out"
	grep -q "^refused: .*for job $((JOB + 1000)) step 0, not job $JOB step 0" <<<"$out" || fail "another job: $out"
	out=$(as_other_user $peer sealed --job="$JOB" --from=2 --to=1 "$socket") && fail "another user: $out"
	grep -q "^refused: " <<<"$out" || fail "another user: $out"
	diag "another user: $out"
	[ "$(grep -c "refused a mesh connection from 127.0.0.1" "$(helper_log n2)")" = 3 ] ||
		fail "the helper did not log the three refusals"
	out=$(as_user $peer sealed --job="$JOB" --from=2 --to=1 "$socket") || fail "this step's credential: $out"
	grep -qx welcomed <<<"$out" || fail "this step's credential: $out"
	end_watching_step
}
