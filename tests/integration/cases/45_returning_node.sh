# cases/45_returning_node.sh: a node that comes back must never take the training down
# (issue 17). A training node hangs (every process of n2 stopped with SIGSTOP) at a random
# step, the spare takes its place, and well after that (RET_AWAY_S, longer than Slurm's
# SlurmdTimeout) n2 resumes, its old rank and helper believing they are still in the run:
# the old rank must end within RET_FENCE_S, the survivors and the replacement finish with
# the checksum of a failure-free run, `lcrctl wait` reports success with one recovered
# failure, and the checkpoint directory holds only what the majority published. Once with
# the demo trainer, once with the PyTorch DDP example. The same with a cut link, and a
# flapping link that must not count as a failure, are in netns-suite.sh. Uses
# returning_lib.sh and the helpers of cases/30_jit_checkpoint.sh, cases/40_recovery.sh and
# cases/60_torch.sh.

. "$(dirname "${BASH_SOURCE[0]}")/../returning_lib.sh"

RET_TORCH_STEPS=${RET_TORCH_STEPS:-1200}

test_returning_node_hung_then_resumed_is_fenced_and_training_finishes_identical() {
	ret_demo_node_goes_away_and_comes_back hang
}

# The survivors rebuilt their process group at the epoch of the join.
ret_torch_went_on() { [ "$(grep -c "epoch [1-9][0-9]*)$" "$JIT/run.txt")" -ge 3 ]; }

test_returning_node_torch_ddp_hung_then_resumed_is_fenced_and_parameters_match() {
	torch_require
	local TORCH_STEPS=$RET_TORCH_STEPS job old survivors pid ref
	ret_start "$(torch_trainer ref n5 --lcr-ckpt-dir="$JIT/ckpt-ref" --lcr-replace=none |
		sed 's/ -n1 / -n4 --overcommit /')" \
		"$(torch_trainer run n1,n2,n3,n4 --lcr-ckpt-dir="$JIT/ckpt"); $(ret_wait_line "$JIT/ckpt" 0 run)"
	wait_for 60 torch_progressed run 50 || fail "the run does not train: $(tail -n 8 "$JIT/run.txt" "$JIT/alloc.txt")"
	job=$(ret_job)
	trap "ret_end n2 $job >/dev/null 2>&1 || true" EXIT
	old=$(torch_pids_on n2)
	survivors="$(torch_pids_on n1) $(torch_pids_on n3) $(torch_pids_on n4)"
	[ "$(wc -w <<<"$old $survivors")" = 4 ] || fail "expected 4 ranks, found: n2: $old; others: $survivors"
	ret_away_and_back hang "$job" "$old" ret_torch_went_on RET_TORCH_STEPS
	ret_finished_on_the_spare run
	for pid in $survivors; do
		grep -Eq "starts at step [0-9]+ with 4 members \(pid $pid, epoch [1-9][0-9]*\)$" "$JIT/run.txt" ||
			fail "survivor pid $pid did not go on in the same process: $(grep 'starts at' "$JIT/run.txt")"
	done
	[ "$(rec_finals run | awk '{print $5}' | sort -u)" = "$TORCH_STEPS" ] ||
		fail "not every rank ended at step $TORCH_STEPS: $(rec_finals run)"
	ref=$(torch_reference)
	[ "$(rec_checksum run)" = "$ref" ] || fail "sha256 $(rec_checksum run) after n2 came back, reference $ref"
	ret_outcome run "$JIT/ckpt" "$job" 0 1
	ret_ckpt_clean "$JIT/ckpt" "$job" "$JIT/n2-back"
	trap - EXIT
	ret_end n2 "$job"
}
