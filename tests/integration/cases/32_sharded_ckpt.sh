# cases/32_sharded_ckpt.sh: the checkpoint path of sharded state, without redundancy. The demo
# trainer runs with --shard=zero1 (ZeRO-1: weights on every rank, each rank's Adam moments
# its own shard under its own key zero1-r<rank>) on three nodes of a 5-node allocation, one
# rank per node. A checkpoint asked for mid-run (SIGUSR1 to the ranks, which ask the
# helpers together between two steps) holds every shard at one step; the step is
# cancelled, and a new step restored from that checkpoint ends with the checksum of a
# failure-free run. A node killed mid-run takes the only copy of its rank's shard with
# it: the ranks are told and end (status 75), nothing hangs, and the failure's checkpoint is
# abandoned, saying why (one without rank 2's shard would not be complete), so nothing is
# restored from it. With --lcr-redundancy=copy, the same loss publishes the failure's
# checkpoint of the newest protected step instead, written from the survivors' snapshots
# and from the killed node's copies (doc/checkpoint.md), and the next job restores it with
# the failure-free checksum. Reuses the helpers of cases/30_jit_checkpoint.sh.

SHD_STEPS=${SHD_STEPS:-1200}
SHD_EVERY=${SHD_EVERY:-50}

# shd_trainer NAME NODES CKPT_DIR [SRUN OPTIONS...] -- [TRAINER OPTIONS...]: the srun line of a
# zero1 run on the comma-separated NODES, one rank each, no spare, output in NAME.txt.
shd_trainer() {
	local name=$1 nodes=$2 dir=$3 count srun_opts=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		srun_opts+=("$1")
		shift
	done
	shift
	count=$(tr ',' '\n' <<<"$nodes" | wc -l)
	echo "mkdir -p rdv-$name; srun --overlap -N$count -n$count -w $nodes --lcr --lcr-replace=none \
--lcr-ckpt-dir=$dir ${srun_opts[*]} lcr-demo-trainer --shard=zero1 --steps=$SHD_STEPS --print-every=300 \
--rendezvous-dir=$JIT/rdv-$name $* >$name.txt 2>&1"
}

shd_finished() { [ "$(grep -c '^final rank' "$JIT/$1.txt" 2>/dev/null)" = "$2" ]; }
shd_saved() { [ "$(grep -c 'checkpoint of step [0-9]* saved' "$JIT/$1.txt" 2>/dev/null)" -ge "$2" ]; }

# shd_start NODES RUN_LINES: a 5-node no-kill allocation that runs the failure-free zero1
# reference on NODES, then RUN_LINES in the background.
shd_start() {
	jit_setup
	jit_allocation "$(shd_trainer ref "$1" "$JIT/ckpt-ref" --); $2"
	wait_for 180 shd_finished ref "$(tr ',' '\n' <<<"$1" | wc -l)" ||
		fail "the reference run did not finish: $(tail -n 5 "$JIT/ref.txt")"
}

test_sharded_zero1_checkpoint_mid_run_restores_the_reference_checksum() {
	local run restore job step manifest
	run=$(shd_trainer run n1,n2,n3 "$JIT/ckpt" --lcr-restore=never -- --checkpoint-on-usr1)
	# The restore reads the checkpoint's path from a file the test writes once it is saved.
	restore=$(shd_trainer restore n1,n2,n3 "$JIT/ckpt" '--lcr-restore=$(cat restore-path)' --)
	shd_start n1,n2,n3 "$run; $restore"
	wait_for 30 jit_progressed run 2 || fail "the run does not train: $(tail -n 5 "$JIT/run.txt")"
	job=$(as_user squeue -h -o %i | head -n 1)
	kill -USR1 $(pids_of lcr-demo-traine "$TEST_USER")
	wait_for 30 shd_saved run 3 || fail "the ranks did not save a checkpoint: $(tail -n 8 "$JIT/run.txt")"
	step=$(sed -n 's/.*checkpoint of step \([0-9]*\) saved/\1/p' "$JIT/run.txt" | sort -u)
	[ "$(wc -l <<<"$step")" = 1 ] || fail "the ranks saved different steps: $step"
	diag "$(grep -m 1 'saved' "$JIT/run.txt"); $(ls "$JIT/ckpt" | tr '\n' ' ')"
	manifest=$JIT/ckpt/step-$step/manifest.yaml
	[ "$(grep -c 'key: "zero1-r[0-2]"' "$manifest")" = 3 ] ||
		fail "step-$step does not hold the three shards: $(grep -E 'key|ranks' "$manifest")"
	echo "$JIT/ckpt/step-$step" >"$JIT/restore-path"
	as_user scancel "$job.1" || fail "cannot cancel the run's step"
	wait_for 120 shd_finished restore 3 || fail "the restored run did not finish: $(tail -n 8 "$JIT/restore.txt")"
	! grep -q '^final rank' "$JIT/run.txt" || fail "the cancelled run finished before it was cancelled"
	[ "$(grep -c "resumes at step $((step + 1)) " "$JIT/restore.txt")" = 3 ] ||
		fail "not every rank resumed at step $((step + 1)): $(grep resumes "$JIT/restore.txt")"
	[ "$(jit_checksum restore)" = "$(jit_checksum ref)" ] ||
		fail "restored checksum $(jit_checksum restore), reference $(jit_checksum ref)"
	jit_end
}

# The failure's checkpoint would hold the survivors' shards alone: the leader abandons it
# (-EHOSTDOWN, doc/checkpoint.md) and tells the ranks why; the ranks end, and no rank resumes
# from a checkpoint without its own shard.
test_sharded_zero1_node_killed_without_redundancy_ends_the_ranks_and_no_restore_is_wrong() {
	local run restore status published
	run=$(shd_trainer run n1,n2,n3 "$JIT/ckpt" --lcr-restore=never -- --recovery-wait=20)
	restore=$(shd_trainer restore n1,n2,n4 "$JIT/ckpt" --lcr-restore=auto --)
	shd_start n1,n2,n3 "$run; echo run status \$? >>run.txt; $restore; echo restore status \$? >>restore.txt"
	wait_for 30 jit_progressed run 2 || fail "the run does not train: $(tail -n 5 "$JIT/run.txt")"
	"$TESTCLUSTER" kill-node n3
	wait_for 60 grep -q '^run status' "$JIT/run.txt" ||
		fail "the survivors did not end: $(tail -n 12 "$JIT/run.txt")"
	diag "$(grep -E 'event' "$JIT/run.txt" | sort -u | head -n 4)"
	status=$(sed -n 's/^run status //p' "$JIT/run.txt")
	[ "$status" = 75 ] || fail "the survivors ended with status '$status', not 75"
	grep -q "rank [01]: event: node n3 (2) is down" "$JIT/run.txt" || fail "the ranks were not told of n3"
	wait_for 90 grep -q '^restore status' "$JIT/restore.txt" ||
		fail "the restore step did not end: $(tail -n 12 "$JIT/restore.txt")"
	published=$(jit_steps_in "$JIT/ckpt" | sort -n | tail -n 1)
	[ -z "$published" ] ||
		fail "step-$published was published although the only copy of rank 2's shard was on the killed node"
	grep -q "no live replica holds" "$JIT/run.txt" ||
		fail "the ranks were not told why the failure's checkpoint was abandoned: $(grep -m 3 'event' "$JIT/run.txt")"
	diag "$(grep -m 1 'no live replica holds' "$JIT/run.txt")"
	grep -q 'resumes at step' "$JIT/restore.txt" && fail "a rank resumed without a checkpoint"
	jit_end n3
}

# With copies, the failure's checkpoint is written from the snapshots of the newest protected
# step P (the survivors' own, and the killed node's copies that a survivor holds): the ranks
# end once it is published, and the next job restores P bit-identically.
test_sharded_zero1_node_killed_with_copies_publishes_the_protected_step_and_restores_identical() {
	local run restore status step manifest
	run=$(shd_trainer run n1,n2,n3 "$JIT/ckpt" --lcr-restore=never --lcr-redundancy=copy \
		--lcr-snapshot-every=$SHD_EVERY -- --recovery-wait=20)
	restore=$(shd_trainer restore n1,n2,n4 "$JIT/ckpt" --lcr-restore=auto --)
	shd_start n1,n2,n3 "$run; echo run status \$? >>run.txt; $restore; echo restore status \$? >>restore.txt"
	wait_for 30 jit_progressed run 2 || fail "the run does not train: $(tail -n 5 "$JIT/run.txt")"
	"$TESTCLUSTER" kill-node n3
	wait_for 60 grep -q '^run status' "$JIT/run.txt" ||
		fail "the survivors did not end: $(tail -n 12 "$JIT/run.txt")"
	diag "$(grep -E 'event' "$JIT/run.txt" | sort -u | head -n 4)"
	status=$(sed -n 's/^run status //p' "$JIT/run.txt")
	[ "$status" = 75 ] || fail "the survivors ended with status '$status', not 75"
	step=$(jit_steps_in "$JIT/ckpt" | sort -n | tail -n 1)
	[ -n "$step" ] && [ $((step % SHD_EVERY)) = 0 ] ||
		fail "no checkpoint of a protected step was published: '$step'; $(grep -m 3 'checkpoint' "$JIT/run.txt")"
	manifest=$JIT/ckpt/step-$step/manifest.yaml
	[ "$(grep -c 'key: "zero1-r[0-2]"' "$manifest")" = 3 ] ||
		fail "step-$step does not hold the three shards: $(grep -E 'key|ranks' "$manifest")"
	diag "published step-$step from the snapshots: $(grep -m 1 'published' "$JIT/run.txt")"
	wait_for 120 grep -q '^restore status' "$JIT/restore.txt" ||
		fail "the restore step did not end: $(tail -n 12 "$JIT/restore.txt")"
	[ "$(sed -n 's/^restore status //p' "$JIT/restore.txt")" = 0 ] ||
		fail "the restored run failed: $(tail -n 8 "$JIT/restore.txt")"
	[ "$(grep -c "resumes at step $((step + 1)) " "$JIT/restore.txt")" = 3 ] ||
		fail "not every rank resumed at step $((step + 1)): $(grep resumes "$JIT/restore.txt")"
	[ "$(jit_checksum restore)" = "$(jit_checksum ref)" ] ||
		fail "restored checksum $(jit_checksum restore), reference $(jit_checksum ref)"
	jit_end n3
}
