# cases/50_outcome.sh: the step's truthful outcome and the batch host's death, on the
# cluster. A batch script runs `srun --lcr ... || ...` then `lcrctl wait --step=S`, as README
# "For users" and etc/lcr-train.sbatch show: after a node is killed and replaced, lcrctl
# wait exits 0 and the script goes on; when a rank exits 3 for good, lcrctl wait exits 3
# and `set -e` stops the script; one-node steps too. When the node that runs the batch
# script dies (it is also node 0 and the leader of the step), training finishes on the
# survivors and a spare with the checksum of a failure-free run, and the new leader writes
# the outcome and ends the job itself. Reuses cases/30_jit_checkpoint.sh and
# cases/40_recovery.sh.

out_squeue() { SLURM_CONF=$BASE/etc/slurm.conf squeue -h "$@" 2>/dev/null; }
out_job_gone() { [ -z "$(out_squeue -j "$1")" ]; }
# out_file DIR JOB STEP: the outcome file's path.
out_file() { echo "$1/outcome.$2.$3"; }
out_value() { sed -n "s/^$2: //p" "$1"; }

# out_submit SCRIPT_BODY: an sbatch -N5 --lcr job running SCRIPT_BODY (bash, set -e) from
# $JIT, its output in $JIT/job.out; prints the job id.
out_submit() {
	jit_setup
	{
		printf '#!/bin/bash\n#SBATCH -N5 --lcr\nset -e\ncd %s\n' "$JIT"
		printf '%s\n' "$1"
		printf 'echo "the script reached its end"\n'
	} >"$JIT/job.sh"
	chmod 755 "$JIT/job.sh"
	as_user bash -c "cd $JIT && sbatch --parsable -o $JIT/job.out $JIT/job.sh"
}

# The trainer's srun line: NAME NODES [SRUN OPTIONS...]; output per task in NAME-<rank>.txt.
out_trainer() {
	local name=$1 nodes=$2
	shift 2
	echo "mkdir -p rdv-$name; srun -N4 -n4 -w $nodes --lcr --lcr-ckpt-dir=$JIT/ckpt-$name $* \
--output=$JIT/$name-%t.txt lcr-demo-trainer --steps=$REC_STEPS --print-every=300 \
--recovery-wait=30 --rendezvous-dir=$JIT/rdv-$name"
}
out_finals() { cat "$JIT/$1"-*.txt "$JIT"/lcr-*.replacement-*.out 2>/dev/null | grep '^final rank'; }
out_finished() { [ "$(out_finals "$1" | awk '{print $3}' | sort -u | wc -l)" = 4 ]; }
out_checksum() {
	local sums
	sums=$(out_finals "$1" | awk '{print $NF}' | sort -u)
	[ "$(wc -l <<<"$sums")" = 1 ] || fail "$1: the ranks disagree: $(out_finals "$1")"
	echo "$sums"
}

test_outcome_after_recovery_is_zero_and_the_script_goes_on() {
	local job file
	job=$(out_submit "$(out_trainer ref n1,n2,n3,n4 --lcr-replace=none)
export LCR_CKPT_DIR=$JIT/ckpt-run
$(out_trainer run n1,n2,n3,n4) || echo \"srun exited \$?\"
lcrctl wait --step=1") ||
		fail "sbatch failed: $job"
	wait_for 90 out_finished ref || fail "the reference run did not finish: $(cat "$JIT/job.out")"
	wait_for 30 grep -q '^step ' "$JIT/run-0.txt" || fail "the run does not train: $(cat "$JIT/job.out")"
	"$TESTCLUSTER" kill-node n2
	wait_for 180 out_job_gone "$job" || fail "job $job did not end: $(cat "$JIT/job.out")"
	diag "$(cat "$JIT/job.out")"
	file=$(out_file "$JIT/ckpt-run" "$job" 1)
	[ -f "$file" ] || fail "no outcome file $file: $(ls "$JIT/ckpt-run")"
	diag "$(cat "$file")"
	diag "srun's own status: $(grep -m 1 '^srun exited' "$JIT/job.out" || echo 0)"
	grep -q 'step 1 finished: all 4 ranks exited 0 (1 recovered node failure)' "$JIT/job.out" ||
		fail "lcrctl wait did not print the outcome"
	grep -q 'the script reached its end' "$JIT/job.out" || fail "lcrctl wait did not exit 0"
	[ "$(out_value "$file" status)" = 0 ] && [ "$(out_value "$file" state)" = finished ] &&
		[ "$(out_value "$file" failures_recovered)" = 1 ] || fail "wrong outcome: $(cat "$file")"
	[ "$(out_checksum run)" = "$(out_checksum ref)" ] ||
		fail "checksum $(out_checksum run) after recovery, reference $(out_checksum ref)"
	jit_end n2
}

test_outcome_of_a_rank_that_exits_3_stops_the_script() {
	local job file out
	# Every rank waits (bounded) until its helper is in the step's mesh; then rank 2 exits 3.
	job=$(out_submit "export LCR_CKPT_DIR=$JIT/ckpt
srun -N4 -n4 --lcr bash -c 'for i in \$(seq 150); do lcrctl status 2>/dev/null | grep -q \" mesh up \" && break; sleep 0.2; done
sleep 1; [ \$SLURM_PROCID != 2 ] || exit 3; sleep 2' || echo \"srun exited \$?\"
lcrctl wait") || fail "sbatch failed: $job"
	wait_for 60 out_job_gone "$job" || fail "job $job did not end: $(cat "$JIT/job.out")"
	diag "$(cat "$JIT/job.out")"
	file=$(out_file "$JIT/ckpt" "$job" 0)
	[ -f "$file" ] || fail "no outcome file $file: $(ls "$JIT/ckpt")"
	[ "$(out_value "$file" status)" = 3 ] && [ "$(out_value "$file" rank)" = 2 ] ||
		fail "wrong outcome: $(cat "$file")"
	grep -q 'step 0 failed: rank 2 exited with status 3' "$JIT/job.out" ||
		fail "lcrctl wait did not print the failure"
	! grep -q 'the script reached its end' "$JIT/job.out" || fail "set -e did not stop the script"
	out=$(as_user lcrctl --job="$job" --ckpt-dir="$JIT/ckpt" wait --timeout=5) && fail "lcrctl wait exited 0: $out"
	[ "$(as_user lcrctl --job="$job" --ckpt-dir="$JIT/ckpt" wait --timeout=5 >/dev/null 2>&1; echo $?)" = 3 ] ||
		fail "lcrctl wait from outside the job did not exit 3"
}

test_outcome_of_one_node_steps_is_written_too() {
	local job
	# A one-node step has no mesh; its helper still writes the outcome `lcrctl wait` reads.
	job=$(out_submit "export LCR_CKPT_DIR=$JIT/ckpt
srun -N1 -n1 --lcr true
lcrctl wait --step=0 --timeout=30
srun -N1 -n1 --lcr bash -c 'exit 3' || echo \"srun exited \$?\"
lcrctl wait --step=1 --timeout=30") || fail "sbatch failed: $job"
	wait_for 60 out_job_gone "$job" || fail "job $job did not end: $(cat "$JIT/job.out")"
	diag "$(cat "$JIT/job.out")"
	grep -q "job $job step 0 finished: all 1 ranks exited 0" "$JIT/job.out" ||
		fail "lcrctl wait did not report the first step's success"
	grep -q "job $job step 1 failed: rank 0 exited with status 3" "$JIT/job.out" ||
		fail "lcrctl wait did not report the second step's failure"
	! grep -q 'the script reached its end' "$JIT/job.out" || fail "set -e did not stop the script"
}

test_outcome_batch_host_dies_training_finishes_and_the_job_ends() {
	local job file step_nodes batch_host
	# The batch host's srun dies with it and must not take the step down: testcluster
	# kill-node kills a node's deepest processes first, or the kernel's SIGHUP to the
	# orphaned, stopped process group makes srun kill its tasks on every node.
	# The step runs on the batch host (node 0, the leader) and three others; the fifth is
	# the spare.
	job=$(out_submit "b=\$SLURMD_NODENAME
nodes=\$b,\$(scontrol show hostnames \"\$SLURM_JOB_NODELIST\" | grep -vx \"\$b\" | head -n 3 | paste -sd,)
echo \"\$nodes\" >step-nodes.txt
$(out_trainer ref '$nodes' --lcr-replace=none)
$(out_trainer run '$nodes') || true
lcrctl wait --ckpt-dir=$JIT/ckpt-run --step=1") || fail "sbatch failed: $job"
	wait_for 90 out_finished ref || fail "the reference run did not finish: $(cat "$JIT/job.out")"
	step_nodes=$(cat "$JIT/step-nodes.txt")
	batch_host=$(out_squeue -j "$job" -o %B)
	[ "${step_nodes%%,*}" = "$batch_host" ] || fail "the batch host $batch_host is not node 0 of $step_nodes"
	wait_for 30 grep -q '^step ' "$JIT/run-0.txt" || fail "the run does not train: $(cat "$JIT/job.out")"
	diag "batch host $batch_host; step on $step_nodes"
	"$TESTCLUSTER" kill-node "$batch_host"
	wait_for 240 out_job_gone "$job" ||
		fail "job $job did not end: $(ls "$JIT"); $(tail -n 5 "$JIT"/run-1.txt)"
	file=$(out_file "$JIT/ckpt-run" "$job" 1)
	[ -f "$file" ] || fail "no outcome file $file: $(ls "$JIT/ckpt-run")"
	diag "$(cat "$file")"
	[ "$(out_value "$file" status)" = 0 ] && [ "$(out_value "$file" batch_host_died)" = "$batch_host" ] ||
		fail "wrong outcome: $(cat "$file")"
	wait_for 10 out_finished run || fail "the run did not finish: $(out_finals run)"
	[ "$(out_checksum run)" = "$(out_checksum ref)" ] ||
		fail "checksum $(out_checksum run) after the batch host died, reference $(out_checksum ref)"
	grep -rq "the batch host $batch_host died; training finished with status 0; ending job $job" \
		"$BASE/run/lcr/$(id -u "$TEST_USER")"/ 2>/dev/null ||
		diag "(the helper log that ended the job is gone with the job)"
	jit_end "$batch_host"
}
