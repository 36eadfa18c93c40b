# cases/43_store_rendezvous.sh: the ranks meet in the helpers' job-wide store, with no
# shared directory (issue 19, item 2). The demo trainer runs on four nodes of a 5-node
# allocation without --rendezvous-dir: its communicator's addresses go through the store
# alone. The node of the store's leader (n1: node 0, the first helper in the mesh) is killed
# mid-training; a spare replaces it, and the rebuild of the communicator goes through the
# store led by a survivor: the run finishes with the checksum of a failure-free run, which
# met the same way. Reuses the helpers of cases/30_jit_checkpoint.sh and 40_recovery.sh.

# store_trainer NAME NODES CKPT_DIR [SRUN OPTIONS...]: the srun line of a trainer run on the
# comma-separated NODES, output in NAME.txt, meeting in the job-wide store (no directory).
store_trainer() {
	local name=$1 nodes=$2 dir=$3 count
	shift 3
	count=$(tr ',' '\n' <<<"$nodes" | wc -l)
	echo "srun --overlap -N$count -n$count -w $nodes --lcr --lcr-ckpt-dir=$dir $* \
lcr-demo-trainer --steps=$REC_STEPS --print-every=300 --recovery-wait=30 >$name.txt 2>&1"
}

# The logs of the helpers of the allocation's run step (step 1) written since the test began
# (after $JIT/started, made when it began). A helper whose step ends removes its log.
store_run_logs() { find "$BASE/run/lcr/$(id -u "$TEST_USER")" -name '*.1.n*.log' -newer "$JIT/started" 2>/dev/null; }

# A helper other than n1's leads the store from a generation after the first.
store_taken_over() {
	grep -qh "leading the job-wide store from generation [1-9]" $(store_run_logs | grep -v '\.n1\.log$') /dev/null
}

test_store_rendezvous_four_nodes_without_a_directory_survive_the_store_leaders_node() {
	local nodes=n1,n2,n3,n4,n5 survivors
	jit_setup
	touch "$JIT/started"
	as_user bash -c "cd $JIT && salloc --no-kill -N5 -w $nodes bash -c \
'$(store_trainer ref n1,n2,n3,n4 "$JIT/ckpt-ref" --lcr-replace=none); sleep 1; \
$(store_trainer run n1,n2,n3,n4 "$JIT/ckpt")' </dev/null >$JIT/alloc.txt 2>&1 &"
	wait_for 240 rec_finished ref 4 || fail "the reference run did not finish: $(tail -n 5 "$JIT/ref.txt")"
	wait_for 60 jit_progressed run 2 || fail "the run does not train: $(tail -n 5 "$JIT/run.txt")"
	[ -z "$(find "$JIT" -name 'lcrc.*')" ] || fail "communicator entries were written as files: $(find "$JIT" -name 'lcrc.*')"
	! pgrep -u "$TEST_USER" -af lcr-demo-trainer | grep -q -- --rendezvous-dir ||
		fail "a trainer was given a directory: $(pgrep -u "$TEST_USER" -af lcr-demo-trainer)"
	diag "$(cat $(store_run_logs) /dev/null | grep -h "leading the job-wide store" | head -n 3)"
	survivors="$(rec_trainer_pids_on n2) $(rec_trainer_pids_on n3) $(rec_trainer_pids_on n4)"
	[ "$(wc -w <<<"$survivors")" = 3 ] || fail "expected 3 survivor trainers, found: $survivors"
	"$TESTCLUSTER" kill-node n1
	wait_for 90 grep -q "communicator rebuilt" "$JIT/run.txt" ||
		fail "the survivors did not go on: $(tail -n 12 "$JIT/run.txt"; cat "$JIT"/lcr-*.replacement-*.out 2>&1 | tail -n 12)"
	diag "$(grep -E 'event|rebuilt' "$JIT/run.txt" | sed 's/.*event: //' | awk '!seen[$0]++' | head -n 8)"
	wait_for 20 store_taken_over || fail "no survivor took the store over: $(store_run_logs)"
	diag "$(cat $(store_run_logs) /dev/null | grep -h "leading the job-wide store" | tail -n 2)"
	wait_for 120 rec_finished run 4 || fail "the run did not finish: $(rec_finals run)"
	rec_survivors_kept run $survivors
	rec_finals run | grep -q '^final rank 0 ' || fail "rank 0 did not finish on the spare"
	grep -q "resumes at step" "$JIT"/lcr-*.replacement-0.out ||
		fail "the replacement did not resume from the state it received: $(cat "$JIT"/lcr-*.replacement-0.out)"
	[ "$(rec_checksum run)" = "$(rec_checksum ref)" ] ||
		fail "checksum $(rec_checksum run) after the store leader's node was lost, reference $(rec_checksum ref)"
	jit_end n1
}
