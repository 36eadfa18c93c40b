# cases/60_torch.sh: in-job recovery of a PyTorch program on the cluster. The DDP example
# (contrib/examples/torch_ddp.py: gloo on CPU, parameters and Adam state in LCR regions
# through lcr.torch, every optimizer step marked) runs 4 ranks, one per node; a node is
# killed mid-training. With a spare, the survivors pause in the same processes, the
# helpers start the lost rank on the spare with its state, everybody rebuilds the process
# group at the epoch of the join, and the run ends with the parameters of a failure-free
# run (sha256). Without a spare the ranks end once the just-in-time checkpoint is
# published, and a new step with --lcr-restore=auto finishes with the same parameters.
# The ranks meet in FileStores under the test's work directory (the helpers' key-value
# store is per node). Needs Debian's python3-torch; skipped without it. Reuses the helpers
# of cases/30_jit_checkpoint.sh and cases/40_recovery.sh.

TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
TORCH_STEPS=${TORCH_STEPS:-600}

# Skips the test (status 77, with the reason) when the job user cannot run the example.
torch_require() {
	"$TORCH_PYTHON" -c 'import torch' 2>/dev/null ||
		skip "$TORCH_PYTHON has no torch (Debian: apt-get install python3-torch)"
	! ldd "$BASE/stage/lib/liblcr.so.1" 2>/dev/null | grep -q 'libasan\|libubsan' ||
		skip "liblcr is built with sanitizers: it cannot be loaded into an uninstrumented $TORCH_PYTHON"
	[ -r "$BASE/stage/python/torch_ddp.py" ] || fail "testcluster did not stage the Python binding"
}

# torch_trainer NAME NODES [SRUN OPTIONS...]: the srun line of a run of the example on the
# comma-separated NODES (one rank per node unless the options say otherwise), output in
# NAME.txt, ranks meeting in rdv-NAME. One thread per process: 4-5 share 2 cores.
torch_trainer() {
	local name=$1 nodes=$2 count
	shift 2
	count=$(tr ',' '\n' <<<"$nodes" | wc -l)
	echo "mkdir -p rdv-$name; export OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 \
PYTHONPATH=$BASE/stage/python LCR_LIBRARY=$BASE/stage/lib/liblcr.so.1; \
srun --overlap -N$count -n$count -w $nodes --lcr $* $TORCH_PYTHON $BASE/stage/python/torch_ddp.py \
--steps=$TORCH_STEPS --log-every=50 --timeout=20 --recovery-wait=60 --rendezvous-dir=$JIT/rdv-$name \
>$name.txt 2>&1"
}

# torch_start ALLOCATION_NODES RUN_LINES: in one no-kill allocation, the reference run on
# n1-n4 (no failure), then RUN_LINES in the background.
torch_start() {
	jit_setup
	as_user bash -c "cd $JIT && salloc --no-kill -N$(tr ',' '\n' <<<"$1" | wc -l) -w $1 bash -c \
'$(torch_trainer ref n1,n2,n3,n4 --lcr-ckpt-dir="$JIT/ckpt-ref" --lcr-replace=none); $2' \
</dev/null >$JIT/alloc.txt 2>&1 &"
	wait_for 120 eval '[ "$(grep -c "^final rank" "$JIT/ref.txt" 2>/dev/null)" = 4 ]' ||
		fail "the reference run did not finish: $(tail -n 8 "$JIT/ref.txt")"
}

# The pids of the example's processes running on node $1.
torch_pids_on() {
	local pid
	for pid in $(pids_of python3 "$TEST_USER"); do
		tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "SLURMD_NODENAME=$1" && echo "$pid"
	done
	return 0
}

# The sha256 of the reference run's parameters, the same on its 4 ranks (the replacements'
# output files, which rec_finals adds, belong to the other run).
torch_reference() {
	local sums
	sums=$(awk '/^final rank [0-3] step '"$TORCH_STEPS"' members 4 / {print $NF}' "$JIT/ref.txt" | sort | uniq -c)
	[ "$(awk '{print $1}' <<<"$sums")" = 4 ] || fail "the reference ranks disagree or did not finish: $sums"
	awk '{print $2}' <<<"$sums"
}

# torch_went_on MEMBERS PID...: every PID (a survivor) rebuilt the group of MEMBERS after a
# failure (epoch 1 or more) and the spare's rank 1 finished, each in its own process.
torch_went_on() {
	local members=$1 pid
	shift
	grep -q "^final rank 1 " "$JIT"/lcr-*.replacement-1.out ||
		fail "rank 1 did not finish on the spare: $(tail -n 8 "$JIT"/lcr-*.replacement-*.out)"
	for pid in "$@"; do
		grep -Eq "starts at step [0-9]+ with $members members \(pid $pid, epoch [1-9][0-9]*\)$" "$JIT/run.txt" ||
			fail "survivor pid $pid did not go on in the same process: $(grep 'starts at' "$JIT/run.txt")"
	done
}

# torch_progressed NAME STEP: rank 0 of run NAME logged STEP.
torch_progressed() { grep -q "^rank 0 step $2 " "$JIT/$1.txt" 2>/dev/null; }

test_torch_ddp_spare_replaces_a_killed_node_and_parameters_match() {
	torch_require
	local survivors t0 elapsed epoch ref
	torch_start n1,n2,n3,n4,n5 "$(torch_trainer run n1,n2,n3,n4 --lcr-ckpt-dir="$JIT/ckpt")"
	wait_for 60 torch_progressed run 100 || fail "the run does not train: $(tail -n 8 "$JIT/run.txt")"
	survivors="$(torch_pids_on n1) $(torch_pids_on n3) $(torch_pids_on n4)"
	[ "$(wc -w <<<"$survivors")" = 3 ] || fail "expected 3 survivor ranks, found: $survivors"
	t0=$(date +%s%N)
	"$TESTCLUSTER" kill-node n2
	wait_for 90 eval '[ "$(grep -c "epoch [1-9][0-9]*)$" "$JIT/run.txt")" -ge 3 ]' ||
		fail "the survivors did not go on: $(tail -n 16 "$JIT/run.txt"; tail -n 12 "$JIT"/lcr-*.replacement-*.out 2>&1)"
	elapsed=$((($(date +%s%N) - t0) / 1000000))
	diag "training went on $elapsed ms after the kill"
	diag "$(grep -E 'event|starts at step' "$JIT/run.txt" | sort -u | tail -n 8)"
	wait_for 120 rec_finished run 4 ||
		fail "the run did not finish: $(rec_finals run; tail -n 8 "$JIT/run.txt" "$JIT"/lcr-*.replacement-*.out)"
	grep -q '^rank 1 step 0 ' "$JIT/run.txt" || fail "rank 1 did not train before the kill"
	torch_went_on 4 $survivors
	epoch=$(sed -n 's/.*(pid [0-9]*, epoch \([1-9][0-9]*\))$/\1/p' "$JIT/run.txt" | sort -u)
	[ "$(wc -l <<<"$epoch")" = 1 ] || fail "the survivors rebuilt at different epochs: $epoch"
	grep -Eq "^rank 1 starts at step [1-9][0-9]* with 4 members \(pid [0-9]+, epoch $epoch\)$" \
		"$JIT"/lcr-*.replacement-1.out ||
		fail "the replacement did not join at epoch $epoch with state: $(grep 'starts at' "$JIT"/lcr-*.replacement-1.out)"
	[ "$(rec_finals run | awk '{print $5}' | sort -u)" = "$TORCH_STEPS" ] ||
		fail "not every rank ended at step $TORCH_STEPS: $(rec_finals run)"
	ref=$(torch_reference)
	[ "$(rec_checksum run)" = "$ref" ] || fail "sha256 $(rec_checksum run) after recovery, reference $ref"
	jit_end n2
}

test_torch_ddp_without_spare_restarts_from_the_checkpoint_with_matching_parameters() {
	torch_require
	local step restore status ref
	# Every node of the allocation runs the step: no spare. The restart runs the four ranks
	# on the three nodes left.
	restore="$(torch_trainer restore n1,n3,n4 --lcr-ckpt-dir="$JIT/ckpt" --lcr-restore=auto |
		sed 's/ -n3 / -n4 --overcommit /')"
	torch_start n1,n2,n3,n4 "$(torch_trainer run n1,n2,n3,n4 --lcr-ckpt-dir="$JIT/ckpt" --lcr-replace=none \
		--lcr-restore=never); echo run status \$? >>run.txt; $restore"
	wait_for 60 torch_progressed run 100 || fail "the run does not train: $(tail -n 8 "$JIT/run.txt")"
	"$TESTCLUSTER" kill-node n2
	wait_for 60 grep -q "no spare replaces the lost node" "$JIT/run.txt" ||
		fail "the ranks did not stop for the checkpoint: $(tail -n 12 "$JIT/run.txt")"
	diag "$(grep -m 1 'no spare replaces' "$JIT/run.txt")"
	wait_for 120 rec_finished restore 4 || fail "the restarted run did not finish: $(tail -n 12 "$JIT/restore.txt")"
	status=$(sed -n 's/^run status //p' "$JIT/run.txt")
	[ "$status" = 75 ] || fail "the interrupted run ended with status '$status', not 75"
	step=$(jit_steps_in "$JIT/ckpt" | sort -n | tail -n 1)
	[ -n "$step" ] || fail "no checkpoint was published: $(ls "$JIT/ckpt" 2>&1)"
	[ "$(grep -Ec "^rank [0-3] starts at step $((step + 1)) with 4 members" "$JIT/restore.txt")" = 4 ] ||
		fail "not every rank resumed at step $((step + 1)): $(grep 'starts at' "$JIT/restore.txt")"
	grep -q "receiving the state" "$JIT/restore.txt" &&
		fail "a restored rank needed a copy from another: $(grep -E 'receiving|sending' "$JIT/restore.txt")"
	ref=$(torch_reference)
	[ "$(rec_checksum restore)" = "$ref" ] || fail "restored sha256 $(rec_checksum restore), reference $ref"
	jit_end n2
}
