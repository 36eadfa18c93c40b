# detection_lib.sh: shared by the suites that test failure detection on the cluster
# (cases/20_detection.sh in cluster-suite.sh, netns-suite.sh); sourced after lib.sh. A step
# of five ranks, one per node, each watching its helper's events with lcr_event_watch, and
# the checks on what each rank received and when.

DETECT_LIMIT_MS=${DETECT_LIMIT_MS:-3000} # the default timeout + 1 s
EVENTS=$BASE/work/events

now_ms() { date +%s%3N; }

helper_log() { echo "$BASE/run/lcr/$(id -u "$TEST_USER")/$JOB.0.$1.log"; }

ranks_ready() { [ "$(cat "$EVENTS".* 2>/dev/null | grep -c '^ready')" -ge 5 ]; }

mesh_up_everywhere() {
	local node
	for node in n1 n2 n3 n4 n5; do
		grep -q "the mesh of 5 helpers is up" "$(helper_log "$node")" 2>/dev/null || return 1
	done
}

# Starts the watching step; sets JOB once every rank is ready and every helper in the mesh.
# A step left by an earlier test that failed half-way is cancelled first.
start_watching_step() {
	as_user scancel -u "$TEST_USER" 2>/dev/null || true
	wait_for 20 no_watcher_left || fail "the ranks of an earlier step did not end"
	rm -f "$EVENTS".*
	as_user bash -c "srun -N5 -n5 --lcr bash -c 'exec lcr_event_watch 600 >$EVENTS.\$SLURM_PROCID 2>&1' \
		</dev/null >/dev/null 2>&1 &"
	wait_for 20 ranks_ready || fail "the ranks did not start: $(cat "$EVENTS".* 2>/dev/null)"
	JOB=$(as_user squeue -h -o %i | head -n 1)
	wait_for 10 mesh_up_everywhere || fail "the mesh did not form: $(tail -n 3 "$(helper_log n1)")"
}

node_idle() { SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n "$1" -o %t | grep -qx idle; }
no_watcher_left() { [ -z "$(pids_of lcr_event_watch "$TEST_USER")" ]; }

# Ends the step; brings the nodes that were killed back and forgets their helpers' files.
end_watching_step() {
	local node
	as_user scancel "$JOB" || true
	for node in "$@"; do
		"$TESTCLUSTER" start-node "$node"
		rm -rf "$BASE/run/lcr/$(id -u "$TEST_USER")/$JOB".*."$node"*
	done
	wait_for 20 no_watcher_left || fail "the step's ranks did not end"
	for node in "$@"; do
		wait_for 30 node_idle "$node" || fail "$node did not come back"
	done
}

# event_ms RANK TYPE FIELD=VALUE: when rank RANK received the first such event, or "".
event_ms() {
	awk -v type="$2" -v field=" $3 " '$1 == "event" && $3 == type && index($0, field) { print $2; exit }' \
		"$EVENTS.$1" 2>/dev/null
}

# every_rank_gets RANKS TYPE FIELD=VALUE T0: each rank received it within DETECT_LIMIT_MS.
every_rank_gets() {
	local ranks=$1 type=$2 field=$3 t0=$4 rank t late=""
	wait_for 6 bash -c "for r in $ranks; do grep -q ' $type .* $field ' $EVENTS.\$r || exit 1; done" || true
	for rank in $ranks; do
		t=$(event_ms "$rank" "$type" "$field")
		diag "rank $rank: $type $field after $([ -n "$t" ] && echo $((t - t0)) || echo never) ms"
		[ -n "$t" ] && [ $((t - t0)) -le $DETECT_LIMIT_MS ] || late+=" $rank"
	done
	[ -z "$late" ] || fail "ranks$late did not get $type $field within $DETECT_LIMIT_MS ms"
}

# same_generation RANKS TYPE FIELD=VALUE GEN LEADER: every rank saw it as that generation.
same_generation() {
	local rank line
	for rank in $1; do
		line=$(grep " $2 .* $3 " "$EVENTS.$rank" | head -n 1)
		grep -q " gen=$4 leader=$5 " <<<"$line" || fail "rank $rank saw: $line"
	done
}
