# cases/62_torch_zero.sh: a PyTorch ZeRO-1 run on the cluster. The example
# contrib/examples/torch_zero.py (ZeroRedundancyOptimizer over Adam, gloo on CPU; each
# rank's optimizer shard in its helper under its own shard key, no replica) runs 3 ranks,
# one per node, and ends with the parameters of a failure-free run and, on every rank, that
# run's optimizer shard (sha256):
#   - the checkpoint path: once step 100 is committed every rank asks for a checkpoint,
#     which then holds the 3 shards; a new step restored from it continues at step 101;
#   - in-job recovery from the in-memory copies (--lcr-redundancy=copy, a spare): a node is
#     killed while every rank is inside its update of step 75 (held there by the example's
#     --slow-update-at, as ZeRO's broadcast holds them in a real run); the survivors' update
#     raises and is given up (lcr_update_abandon), their helpers roll them back to the
#     newest protected step, the spare is filled from the copies, and the three rebuild the
#     group in the survivors' processes and go on after that step. --timeout=10: a
#     survivor's gloo broadcast that waits on the other survivor (which gave up first)
#     raises only at the group's timeout, and the rollback waits 30 s at most for it.
# Needs Debian's python3-torch; skipped without it. Reuses the helpers of
# cases/30_jit_checkpoint.sh, cases/40_recovery.sh and cases/60_torch.sh.

ZERO_STEPS=${ZERO_STEPS:-200}

# zero_trainer NAME NODES [SRUN OPTIONS...] -- [EXAMPLE OPTIONS...]: the srun line of a run of
# the example on the comma-separated NODES, one rank each, output in NAME.txt.
zero_trainer() {
	local name=$1 nodes=$2 count srun_opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		srun_opts+=("$1")
		shift
	done
	shift
	count=$(tr ',' '\n' <<<"$nodes" | wc -l)
	echo "mkdir -p rdv-$name; export OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 \
PYTHONPATH=$BASE/stage/python LCR_LIBRARY=$BASE/stage/lib/liblcr.so.1; \
srun --overlap -N$count -n$count -w $nodes --lcr ${srun_opts[*]} \
$TORCH_PYTHON $BASE/stage/python/torch_zero.py --log-every=50 --timeout=30 \
--rendezvous-dir=$JIT/rdv-$name $* >$name.txt 2>&1"
}

# zero_stage: puts the example where the job user runs it from.
zero_stage() {
	cp "$LCR_SRCDIR/contrib/examples/torch_zero.py" "$BASE/stage/python/" &&
		chmod a+r "$BASE/stage/python/torch_zero.py" || fail "cannot stage torch_zero.py"
}

# zero_reference: the srun line of the failure-free reference run (ref.txt), the same in
# every case.
zero_reference() {
	zero_trainer ref n1,n2,n3 --lcr-replace=none --lcr-ckpt-dir="$JIT/ckpt-ref" -- --steps=$ZERO_STEPS --policy=exit
}

# The final "sha256 H shard-sha256 O" of rank $2 in run $1 (or its replacement's output).
zero_final() {
	cat "$JIT/$1.txt" "$JIT"/lcr-*.replacement-"$2".out 2>/dev/null |
		sed -n "s/^final rank $2 step $ZERO_STEPS members 3 //p" | sort -u
}

# zero_matches_reference RUN: every rank of RUN ends with the reference's parameters and
# its own shard of the reference, and the ranks' parameters agree.
zero_matches_reference() {
	local rank
	for rank in 0 1 2; do
		[ -n "$(zero_final ref $rank)" ] && [ "$(zero_final "$1" $rank)" = "$(zero_final ref $rank)" ] ||
			fail "rank $rank: $1 ended with '$(zero_final "$1" $rank)', reference '$(zero_final ref $rank)'"
	done
	[ "$(zero_final "$1" 0 | awk '{print $2}')" = "$(zero_final "$1" 1 | awk '{print $2}')" ] ||
		fail "the ranks' parameters differ"
}

test_torch_zero_checkpoint_restores_parameters_and_shards_of_a_failure_free_run() {
	torch_require
	local ref run restore rank
	zero_stage
	ref=$(zero_reference)
	run=$(zero_trainer run n1,n2,n3 --lcr-replace=none --lcr-ckpt-dir="$JIT/ckpt" --lcr-restore=never -- \
		--steps=101 --checkpoint-at=100 --policy=exit)
	restore=$(zero_trainer restore n1,n2,n3 --lcr-replace=none --lcr-ckpt-dir="$JIT/ckpt" \
		--lcr-restore="$JIT/ckpt/step-100" -- --steps=$ZERO_STEPS --policy=exit)
	jit_setup
	jit_allocation "$ref; $run; $restore"
	wait_for 240 eval '[ "$(grep -c "^final rank" "$JIT/restore.txt" 2>/dev/null)" = 3 ]' ||
		fail "the restored run did not finish: $(tail -n 8 "$JIT/ref.txt" "$JIT/run.txt" "$JIT/restore.txt" 2>&1)"
	[ "$(grep -c 'checkpoint of step 100 saved' "$JIT/run.txt")" = 3 ] ||
		fail "not every rank saw the checkpoint of step 100: $(grep -E 'checkpoint|Error' "$JIT/run.txt")"
	[ "$(grep -c 'key: "zero-r[0-2]"' "$JIT/ckpt/step-100/manifest.yaml")" = 3 ] ||
		fail "step-100 does not hold the three shards: $(grep key "$JIT/ckpt/step-100/manifest.yaml")"
	[ "$(grep -Ec '^rank [0-2] starts at step 101 with 3 members' "$JIT/restore.txt")" = 3 ] ||
		fail "not every rank resumed at step 101: $(grep 'starts at' "$JIT/restore.txt")"
	zero_matches_reference restore
	jit_end
}

test_torch_zero_spare_recovers_the_shards_from_the_copies_in_job_and_matches_a_failure_free_run() {
	torch_require
	local ref run survivors step
	zero_stage
	ref=$(zero_reference)
	run=$(zero_trainer run n1,n2,n3 --lcr-replace=spare --lcr-ckpt-dir="$JIT/ckpt" --lcr-redundancy=copy \
		--lcr-snapshot-every=10 -- --steps=$ZERO_STEPS --policy=replace --recovery-wait=60 \
		--slow-update-at=75 --slow-update-for=5 --timeout=10)
	jit_setup
	jit_allocation "$ref; $run"
	wait_for 240 eval '[ "$(grep -c "^final rank" "$JIT/ref.txt" 2>/dev/null)" = 3 ]' ||
		fail "the reference run did not finish: $(tail -n 8 "$JIT/ref.txt")"
	wait_for 120 eval '[ "$(grep -Ec "^rank [02]: inside the update of step 75 " "$JIT/run.txt")" = 2 ]' ||
		fail "the survivors did not reach their update of step 75: $(tail -n 8 "$JIT/run.txt")"
	survivors="$(torch_pids_on n1) $(torch_pids_on n3)"
	[ "$(wc -w <<<"$survivors")" = 2 ] || fail "expected 2 survivor ranks, found: $survivors"
	"$TESTCLUSTER" kill-node n2
	wait_for 240 rec_finished run 3 ||
		fail "the run did not finish: $(tail -n 12 "$JIT/run.txt"; tail -n 12 "$JIT"/lcr-*.replacement-*.out 2>&1)"
	diag "$(grep -E 'event|starts at|given up|stopped' "$JIT/run.txt" | sort -u | tail -n 10)"
	[ "$(grep -Ec "rank [02]: the update of step 75 is given up" "$JIT/run.txt")" = 2 ] ||
		fail "the survivors did not give their update of step 75 up: $(grep -E 'given up|stopped' "$JIT/run.txt")"
	torch_went_on 3 $survivors
	step=$(sed -n 's/.*starts at step \([1-9][0-9]*\) with 3 members (pid [0-9]*, epoch [1-9][0-9]*)$/\1/p' \
		"$JIT/run.txt" "$JIT"/lcr-*.replacement-1.out | sort -u)
	[ "$(wc -l <<<"$step")" = 1 ] && [ $(((step - 1) % 10)) = 0 ] ||
		fail "the ranks went on at steps '$step', not one after a multiple of 10 (a protected step)"
	diag "every rank went on at step $step"
	zero_matches_reference run
	jit_end n2
}
