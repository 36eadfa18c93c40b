# cases/41_recovery_copies.sh: in-job recovery from the in-memory copies (redundancy "copy",
# doc/redundancy.md). The demo trainer runs on three nodes of the allocation with
# --lcr-redundancy=copy --lcr-snapshot-every=REC_COPY_EVERY and a spare; a node is killed
# mid-run. The leader recovers it at the newest protected step: the survivors' helpers roll
# their ranks back to it from their own snapshots while the ranks are paused, the
# replacement fills from the replicas and the copies at that step, and every rank goes on
# after it (lcr_resume_step). The run finishes with the checksum of a failure-free run, the
# survivors keep their processes, and at most REC_COPY_EVERY + 1 steps are lost. Reuses the
# helpers of cases/30_jit_checkpoint.sh and cases/40_recovery.sh.

REC_COPY_EVERY=${REC_COPY_EVERY:-50}

# rec_lost_steps NAME: the steps each survivor of run NAME says the rollback lost.
rec_lost_steps() { sed -n 's/.*rolled the state back to step [0-9]* (\([0-9]*\) steps lost)$/\1/p' "$JIT/$1.txt"; }

test_recovery_copies_roll_back_to_the_protected_step_and_finish_identical() {
	local survivors lost step
	rec_start n1,n2,n3 "$(rec_trainer run n1,n2,n3 "$JIT/ckpt" --lcr-redundancy=copy \
		--lcr-snapshot-every="$REC_COPY_EVERY")"
	wait_for 30 jit_progressed run 3 || fail "the run does not train: $(tail -n 5 "$JIT/run.txt")"
	survivors="$(rec_trainer_pids_on n1) $(rec_trainer_pids_on n3)"
	[ "$(wc -w <<<"$survivors")" = 2 ] || fail "expected 2 survivor trainers, found: $survivors"
	"$TESTCLUSTER" kill-node n2
	wait_for 90 grep -q "communicator rebuilt" "$JIT/run.txt" ||
		fail "the survivors did not go on: $(tail -n 12 "$JIT/run.txt"; cat "$JIT"/lcr-*.replacement-*.out 2>&1 | tail -n 12)"
	diag "$(grep -E 'event|rebuilt|rolled' "$JIT/run.txt" | sort -u | head -n 10)"
	wait_for 120 rec_finished run 3 || fail "the run did not finish: $(rec_finals run)"
	rec_survivors_kept run $survivors
	[ "$(rec_lost_steps run | wc -l)" = 2 ] ||
		fail "not both survivors were rolled back: $(grep -E 'rolled|rebuilt' "$JIT/run.txt")"
	for lost in $(rec_lost_steps run); do
		[ "$lost" -le $((REC_COPY_EVERY + 1)) ] ||
			fail "$lost steps lost, more than --lcr-snapshot-every + 1 = $((REC_COPY_EVERY + 1))"
	done
	diag "steps lost by the rollback: $(rec_lost_steps run | sort -u | tr '\n' ' ')"
	step=$(sed -n 's/.*rolled the state back to step \([0-9]*\) .*/\1/p' "$JIT/run.txt" | sort -u)
	[ "$(wc -l <<<"$step")" = 1 ] && [ $((step % REC_COPY_EVERY)) = 0 ] ||
		fail "the survivors rolled back to steps '$step', not one multiple of $REC_COPY_EVERY"
	grep -q "resumes at step $((step + 1))" "$JIT"/lcr-*.replacement-1.out ||
		fail "the replacement does not resume after step $step: $(grep -i 'resume\|error' "$JIT"/lcr-*.replacement-1.out)"
	[ "$(rec_checksum run)" = "$(rec_checksum ref)" ] ||
		fail "checksum $(rec_checksum run) after recovery, reference $(rec_checksum ref)"
	jit_end n2
}
