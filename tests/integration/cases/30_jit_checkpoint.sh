# cases/30_jit_checkpoint.sh: the multi-node just-in-time checkpoint on the cluster. The demo
# trainer runs on four of the five nodes, one rank per node (shard "dp"); a node is killed
# during training; the helpers' leader must publish a complete step-S/ within seconds
# (S = the step being computed, or the one before), which a new step on the four live
# nodes restores, finishing with the checksum of a failure-free run. A damaged copy is
# refused at restore, naming its file; a writer killed while it writes never leads to a
# partial checkpoint, and an earlier checkpoint stays as it was. `lcrctl ckpt now` on a
# helper that does not lead is carried to the leader and answered.

JIT=$BASE/work/jit
JIT_STEPS=${JIT_STEPS:-900}
JIT_PUBLISH_S=${JIT_PUBLISH_S:-5} # from the kill to a published checkpoint

jit_node_idle() { SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n "$1" -o %t | grep -qx idle; }
# pgrep matches the first 15 characters of a process name.
jit_no_trainer_left() { [ "$(count_of lcr-demo-traine "$TEST_USER")" = 0 ]; }
# jit_helper_log JOB STEP NODE
jit_helper_log() { echo "$BASE/run/lcr/$(id -u "$TEST_USER")/$1.$2.$3.log"; }

# The complete checkpoints in DIR, one step per line.
jit_steps_in() { ls "$1" 2>/dev/null | sed -n 's/^step-\([0-9]*\)$/\1/p'; }
jit_published() { [ -n "$(jit_steps_in "$1")" ]; }
jit_no_tmp() { [ -z "$(ls -d "$1"/*.tmp 2>/dev/null)" ]; }

jit_setup() {
	local node
	as_user scancel -u "$TEST_USER" 2>/dev/null || true
	for node in n1 n2 n3 n4 n5; do
		SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n "$node" -o %t | grep -q '^down' &&
			"$TESTCLUSTER" start-node "$node"
	done
	wait_for 20 jit_no_trainer_left || fail "trainers of an earlier test did not end"
	rm -rf "$JIT"
	mkdir -p "$JIT"
	chmod 1777 "$BASE/work" "$JIT" # sticky, as a shared scratch: lcrd refuses a level anyone may rename
}

# jit_allocation SCRIPT: runs SCRIPT (bash) in a 5-node no-kill allocation, in the
# background, from $JIT; its output goes to $JIT/alloc.txt.
jit_allocation() {
	as_user bash -c "cd $JIT && salloc --no-kill -N5 bash -c '$1' </dev/null >$JIT/alloc.txt 2>&1 &"
}

# jit_trainer NAME NODES CKPT_DIR [OPTIONS...]: the srun line of a trainer run whose output
# goes to NAME.txt and whose ranks meet in rdv-NAME; no spare replaces a dead node (these
# tests are about the checkpoint path).
jit_trainer() {
	local name=$1 nodes=$2 dir=$3
	shift 3
	echo "mkdir -p rdv-$name; srun --overlap -N4 -n4 -w $nodes --lcr --lcr-replace=none --lcr-ckpt-dir=$dir $* \
lcr-demo-trainer --steps=$JIT_STEPS --print-every=300 --rendezvous-dir=$JIT/rdv-$name >$name.txt 2>&1"
}

jit_finished() { [ "$(grep -c '^final rank' "$JIT/$1.txt" 2>/dev/null)" = 4 ]; }
jit_progressed() {
	local lines
	lines=$(grep -c '^step ' "$JIT/$1.txt" 2>/dev/null)
	[ "${lines:-0}" -ge "$2" ]
}

# The checksum every rank of run NAME printed, or a failure when they differ.
jit_checksum() {
	local sums
	sums=$(awk '/^final rank/ {print $NF}' "$JIT/$1.txt" | sort -u)
	[ "$(wc -l <<<"$sums")" = 1 ] || fail "$1: the ranks disagree: $sums"
	echo "$sums"
}

jit_end() {
	as_user scancel -u "$TEST_USER" || true
	local node
	for node in "$@"; do
		"$TESTCLUSTER" start-node "$node" || fail "cannot start $node again"
	done
	wait_for 30 jit_no_trainer_left || fail "the trainers did not end"
	for node in "$@"; do
		wait_for 40 jit_node_idle "$node" || fail "$node did not come back"
	done
}

test_jit_checkpoint_after_node_loss_restores_the_reference_checksum() {
	jit_setup
	local ref kill restore job t0 elapsed step failed_at out
	ref=$(jit_trainer ref n1,n2,n3,n4 "$JIT/ckpt-ref")
	kill=$(jit_trainer kill n1,n2,n3,n4 "$JIT/ckpt" --lcr-restore=never)
	restore=$(jit_trainer restore n1,n2,n4,n5 "$JIT/ckpt" --lcr-restore=auto)
	jit_allocation "$ref; $kill --recovery-wait=8 --linger; $restore"
	wait_for 60 jit_finished ref || fail "the reference run did not finish: $(tail -n 5 "$JIT/ref.txt")"
	wait_for 30 jit_progressed kill 1 || fail "the second run does not train: $(tail -n 5 "$JIT/kill.txt")"
	job=$(as_user squeue -h -o %i | head -n 1)
	t0=$(date +%s%N)
	"$TESTCLUSTER" kill-node n3
	wait_for "$JIT_PUBLISH_S" jit_published "$JIT/ckpt" ||
		fail "no checkpoint within $JIT_PUBLISH_S s: $(ls "$JIT/ckpt" 2>&1); $(grep -i checkpoint "$(jit_helper_log "$job" 1 n1)")"
	elapsed=$((($(date +%s%N) - t0) / 1000000))
	diag "checkpoint published $elapsed ms after the kill"
	step=$(jit_steps_in "$JIT/ckpt")
	[ -z "$(ls -d "$JIT"/ckpt/*.tmp 2>/dev/null)" ] || fail "a .tmp directory was left: $(ls "$JIT/ckpt")"
	grep -q "checkpoint of step $step published in $JIT/ckpt/step-$step" "$(jit_helper_log "$job" 1 n2)" ||
		fail "n2's helper did not hear of the checkpoint"
	out=$(as_user srun --jobid="$job" --overlap -N1 -n1 -w n2 lcrctl ckpt now 2>&1) ||
		fail "lcrctl ckpt now on n2 failed: $out"
	grep -q "checkpoint step $step path $JIT/ckpt/step-$step " <<<"$out" ||
		fail "lcrctl ckpt now, forwarded to the leader, did not report step $step: $out"
	wait_for 30 grep -q "gradient exchange failed" "$JIT/kill.txt" || fail "the survivors did not notice the failure"
	failed_at=$(sed -n 's/.*rank [0-9]*: step \([0-9]*\): gradient exchange failed.*/\1/p' "$JIT/kill.txt" | sort -n | tail -n 1)
	diag "the failure hit step $failed_at; the checkpoint holds step $step"
	[ "$step" = "$failed_at" ] || [ "$step" = $((failed_at - 1)) ] ||
		fail "checkpoint of step $step for a failure at step $failed_at"
	wait_for 90 jit_finished restore || fail "the restored run did not finish: $(tail -n 8 "$JIT/restore.txt")"
	[ "$(grep -c "resumes at step $((step + 1)) " "$JIT/restore.txt")" = 4 ] ||
		fail "not every rank resumed at step $((step + 1)): $(grep resumes "$JIT/restore.txt")"
	[ "$(jit_checksum restore)" = "$(jit_checksum ref)" ] ||
		fail "restored checksum $(jit_checksum restore), reference $(jit_checksum ref)"
	jit_corrupted_copy_is_refused "$step"
	jit_end n3
}

# A copy of step-S with one byte of a data file flipped is refused, naming the file.
jit_corrupted_copy_is_refused() {
	local step=$1 file out
	mkdir -p "$JIT/bad"
	cp -a "$JIT/ckpt/step-$step" "$JIT/bad/"
	chmod -R u+w "$JIT/bad"
	file=$(ls "$JIT/bad/step-$step" | grep -v '^manifest.yaml$' | head -n 1)
	printf '\x5a' | dd of="$JIT/bad/step-$step/$file" bs=1 seek=100 conv=notrunc status=none
	chown -R "$TEST_USER" "$JIT/bad"
	out=$(as_user bash -c "cd $JIT && mkdir -p rdv-bad && salloc -N4 -w n1,n2,n4,n5 srun -N4 -n4 --lcr \
		--lcr-ckpt-dir=$JIT/bad --lcr-restore=auto lcr-demo-trainer --steps=$JIT_STEPS \
		--rendezvous-dir=$JIT/rdv-bad 2>&1") && fail "a damaged checkpoint was restored: $out"
	grep -q "$file" <<<"$out" || fail "the refusal does not name $file: $out"
	diag "$(grep -m 1 "$file" <<<"$out")"
}

test_jit_writer_killed_while_writing_leaves_no_partial_checkpoint() {
	jit_setup
	local first second job earlier before helper= step b p
	first=$(jit_trainer first n1,n2,n3,n4 "$JIT/ckpt" --lcr-restore=never)
	jit_allocation "$first --recovery-wait=3 --linger"
	wait_for 30 jit_progressed first 1 || fail "the first run does not train: $(tail -n 5 "$JIT/first.txt")"
	"$TESTCLUSTER" kill-node n4
	wait_for "$JIT_PUBLISH_S" jit_published "$JIT/ckpt" || fail "no first checkpoint"
	earlier=$(jit_steps_in "$JIT/ckpt")
	before=$(cd "$JIT/ckpt/step-$earlier" && sha256sum ./*) || fail "cannot read step-$earlier: $(ls -l "$JIT/ckpt")"
	jit_end n4
	second=$(jit_trainer second n1,n2,n3,n4 "$JIT/ckpt" --lcr-restore=never)
	jit_allocation "$second --recovery-wait=30 --linger --ballast-mb=${JIT_BALLAST_MB:-768}"
	wait_for 60 jit_progressed second 4 || fail "the second run does not train: $(tail -n 5 "$JIT/second.txt")"
	job=$(as_user squeue -h -o %i | head -n 1)
	for p in $(pids_of lcrd "$TEST_USER"); do
		if tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--node-name=n2 "; then
			helper=$p
		fi
	done
	[ -n "$helper" ] || fail "no helper on n2"
	"$TESTCLUSTER" kill-node n3
	wait_for 10 grep -q "writing my part of the checkpoint" "$(jit_helper_log "$job" 0 n2)" ||
		fail "n2 did not start writing: $(grep -i checkpoint "$(jit_helper_log "$job" 0 n1)")"
	kill -9 "$helper"
	wait_for 30 grep -Eq "checkpoint of step [0-9]+ (abandoned|published)" \
		"$(jit_helper_log "$job" 0 n1)" || fail "the leader did not settle the checkpoint"
	diag "$(grep -E "checkpoint|writer" "$(jit_helper_log "$job" 0 n1)" | tail -n 4)"
	grep -q "writer n2 (1) was lost" "$(jit_helper_log "$job" 0 n1)" ||
		fail "n2 finished writing before it was killed: raise JIT_BALLAST_MB"
	# An abandoned checkpoint may be followed by one for n2's own loss, of an older step.
	wait_for 30 jit_no_tmp "$JIT/ckpt" || fail "a .tmp directory was left: $(ls "$JIT/ckpt")"
	for step in $(jit_steps_in "$JIT/ckpt"); do
		[ "$step" = "$earlier" ] && continue
		b=$(as_user lcrctl --ckpt-dir="$JIT/ckpt" ckpt verify "$step" 2>&1) ||
			fail "checkpoint $step, published after its writer died, does not verify: $b"
		diag "step $step published by the other writers and verified"
	done
	[ "$(cd "$JIT/ckpt/step-$earlier" && sha256sum ./*)" = "$before" ] ||
		fail "the earlier checkpoint of step $earlier changed"
	jit_end n3
}
