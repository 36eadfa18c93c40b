# cases/62_torch_zero.sh: the checkpoint path of a PyTorch ZeRO-1 run on the cluster. The
# example contrib/examples/torch_zero.py (ZeroRedundancyOptimizer over Adam, gloo on CPU;
# each rank's optimizer shard in its helper under its own shard key) runs 3 ranks, one per
# node; once step 100 is committed every rank asks for a checkpoint, which then holds the 3
# shards; a new step restored from it continues at step 101 and ends with the parameters
# of a failure-free run and, on every rank, that run's optimizer shard (sha256). Needs
# Debian's python3-torch; skipped without it. Reuses the helpers of cases/30_jit_checkpoint.sh
# and cases/60_torch.sh.

ZERO_STEPS=${ZERO_STEPS:-200}

# zero_trainer NAME NODES [SRUN OPTIONS...] -- [EXAMPLE OPTIONS...]: the srun line of a run of
# the example on the comma-separated NODES, one rank each, no spare, output in NAME.txt.
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
srun --overlap -N$count -n$count -w $nodes --lcr --lcr-replace=none ${srun_opts[*]} \
$TORCH_PYTHON $BASE/stage/python/torch_zero.py --log-every=50 --timeout=30 --policy=exit \
--rendezvous-dir=$JIT/rdv-$name $* >$name.txt 2>&1"
}

# The final "sha256 H shard-sha256 O" of rank $2 in run $1.
zero_final() { sed -n "s/^final rank $2 step $ZERO_STEPS members 3 //p" "$JIT/$1.txt"; }

test_torch_zero_checkpoint_restores_parameters_and_shards_of_a_failure_free_run() {
	torch_require
	local ref run restore rank
	cp "$LCR_SRCDIR/contrib/examples/torch_zero.py" "$BASE/stage/python/" && chmod a+r "$BASE/stage/python/torch_zero.py"
	ref=$(zero_trainer ref n1,n2,n3 --lcr-ckpt-dir="$JIT/ckpt-ref" -- --steps=$ZERO_STEPS)
	run=$(zero_trainer run n1,n2,n3 --lcr-ckpt-dir="$JIT/ckpt" --lcr-restore=never -- --steps=101 --checkpoint-at=100)
	restore=$(zero_trainer restore n1,n2,n3 --lcr-ckpt-dir="$JIT/ckpt" --lcr-restore="$JIT/ckpt/step-100" -- \
		--steps=$ZERO_STEPS)
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
	for rank in 0 1 2; do
		[ -n "$(zero_final ref $rank)" ] && [ "$(zero_final restore $rank)" = "$(zero_final ref $rank)" ] ||
			fail "rank $rank: restored '$(zero_final restore $rank)', reference '$(zero_final ref $rank)'"
	done
	[ "$(awk '/^final rank/ {print $(NF - 2)}' "$JIT/restore.txt" | sort -u | wc -l)" = 1 ] ||
		fail "the ranks' parameters differ: $(grep '^final' "$JIT/restore.txt")"
	jit_end
}
