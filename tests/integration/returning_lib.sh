# returning_lib.sh: shared by the tests of a node that comes back after the others went on
# without it (issue 17: a node that comes back must never take the training down):
# cases/45_returning_node.sh (cluster-suite.sh: a node hung with SIGSTOP, then resumed) and
# netns-suite.sh (a link cut, then healed; a link that flaps). Sourced after lib.sh; uses
# the helpers of cases/30_jit_checkpoint.sh and cases/40_recovery.sh (jit_*, rec_*).
#
# The demo trainer runs on n1-n4 of a 5-node no-kill allocation, n5 the spare, after a
# reference run without failure; the run's srun is followed by `lcrctl wait`, as README
# "For users" shows, whose output goes to wait-NAME.txt. n2 (node 1, rank 1) goes away at
# a random step until the spare has taken its place, and at least RET_AWAY_S (longer
# than the cluster's SlurmdTimeout of 10 s: Slurm too has given the node up when it comes
# back); the run must still be training when n2 comes back (RET_STEPS is sized for that).

RET_STEPS=${RET_STEPS:-1500}
RET_AWAY_S=${RET_AWAY_S:-15}
RET_FENCE_S=${RET_FENCE_S:-15}         # from n2's resumption to its old rank's end
RET_CUT_FENCE_S=${RET_CUT_FENCE_S:-12} # from n2's cut (detection timeout 2 s + 10 s) to its rank's end

# ret_wait_line DIR STEP NAME: `lcrctl wait` for the outcome of step STEP, as a batch script
# runs it after its srun, output and status in wait-NAME.txt.
ret_wait_line() {
	echo "lcrctl --ckpt-dir=$1 wait --step=$2 --timeout=240 >wait-$3.txt 2>&1; echo lcrctl wait exited \$? >>wait-$3.txt"
}

# ret_run NAME NODES CKPT_DIR STEP [SRUN OPTIONS...]: rec_trainer's srun line, then the
# `lcrctl wait` line for its step, number STEP of the allocation.
ret_run() {
	local name=$1 nodes=$2 dir=$3 step=$4
	shift 4
	echo "$(rec_trainer "$name" "$nodes" "$dir" "$@"); $(ret_wait_line "$dir" "$step" "$name")"
}

# The reference run of the demo trainer: the four ranks on the spare n5, --overcommit.
ret_ref() { rec_trainer ref n5 "$JIT/ckpt-ref" --lcr-replace=none | sed 's/ -n1 / -n4 --overcommit /'; }

# ret_start REF_LINE RUN_LINES: in one no-kill allocation of the five nodes, RUN_LINES
# (step 0, output in run.txt) and, once it has started, REF_LINE (step 1) beside it on the
# spare n5. The reference shares the 2 cores with the run: the run is as slow while the
# node is away, so fewer steps keep it going past the node's return than if the reference
# ran first (the CI budget).
ret_start() {
	jit_setup
	as_user bash -c "{ cd $JIT && salloc --no-kill -N5 -w n1,n2,n3,n4,n5 bash -c '{ $2; } & \
for i in \$(seq 300); do grep -q step run.txt 2>/dev/null && break; sleep 0.1; done; $1; wait'; } \
</dev/null >$JIT/alloc.txt 2>&1 &"
}

# The checksum of the reference run, the same on its four ranks (not the replacements').
ret_reference() {
	local sums
	wait_for 60 eval '[ "$(grep -c "^final rank" "$JIT/ref.txt" 2>/dev/null)" = 4 ]' ||
		fail "the reference run did not finish: $(tail -n 5 "$JIT/ref.txt")"
	sums=$(awk '/^final rank/ {print $NF}' "$JIT/ref.txt" | sort -u)
	[ "$(wc -l <<<"$sums")" = 1 ] || fail "the reference ranks disagree: $(grep '^final' "$JIT/ref.txt")"
	echo "$sums"
}

# ret_ended NAME: every rank of run NAME finished, or its outcome is known (it failed).
ret_ended() { rec_finished "$1" 4 || grep -q '^lcrctl wait exited' "$JIT/wait-$1.txt" 2>/dev/null; }

ret_job() { as_user squeue -h -o %i | head -n 1; }

# ret_gone PID: the process ended (a zombie has ended too).
ret_gone() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ]
}

ret_ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# The lcrd helpers of job $1 still running, one "pid node" per line.
ret_helpers_of() {
	local pid cmd
	for pid in $(pids_of lcrd "$TEST_USER"); do
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
		grep -q -- "--job-id=$1 " <<<"$cmd" && echo "$pid $(sed -n 's/.*--node-name=\([^ ]*\).*/\1/p' <<<"$cmd")"
	done
	return 0
}
ret_no_helper_of() { [ -z "$(ret_helpers_of "$1")" ]; }

# ret_outcome NAME CKPT_DIR JOB STEP RECOVERED: `lcrctl wait` in the allocation exited 0
# with the sentence of a finished step, and the outcome file holds status 0 and RECOVERED
# recovered failures.
ret_outcome() {
	local name=$1 dir=$2 job=$3 step=$4 recovered=$5 file=$2/outcome.$3.$4 plural=s
	wait_for 60 grep -qs '^lcrctl wait exited' "$JIT/wait-$name.txt" ||
		fail "lcrctl wait, after the step's srun, did not end: $(cat "$JIT/wait-$name.txt" 2>&1); srun: $(pids_of srun "$TEST_USER")"
	diag "$(cat "$JIT/wait-$name.txt")"
	[ "$recovered" = 1 ] && plural=
	grep -q "job $job step $step finished: all 4 ranks exited 0 ($recovered recovered node failure$plural)" \
		"$JIT/wait-$name.txt" || fail "lcrctl wait did not report a finished step with $recovered recovered failures"
	grep -qx 'lcrctl wait exited 0' "$JIT/wait-$name.txt" || fail "lcrctl wait did not exit 0"
	[ -f "$file" ] || fail "no outcome file $file: $(ls "$dir")"
	[ "$(sed -n 's/^status: //p' "$file")" = 0 ] && [ "$(sed -n 's/^state: //p' "$file")" = finished ] &&
		[ "$(sed -n 's/^failures_recovered: //p' "$file")" = "$recovered" ] || fail "wrong outcome: $(cat "$file")"
}

# ret_ckpt_clean CKPT_DIR JOB MARKER: the checkpoint directory holds only what the
# majority wrote: no .tmp left, every step-N is one whose publication the mesh announced to
# the survivors (event in run.txt) and verifies, and nothing but the outcome was written
# after MARKER (n2's return).
ret_ckpt_clean() {
	local dir=$1 job=$2 marker=$3 step out published late
	wait_for 10 jit_no_tmp "$dir" || fail "a .tmp directory was left: $(ls -la "$dir")"
	published=$(sed -n "s|.*event: checkpoint of step \([0-9]*\) published in $dir/step-[0-9]*: .*|\1|p" \
		"$JIT/run.txt" | sort -nu)
	[ -n "$published" ] || fail "no checkpoint was announced for n2's loss: $(ls "$dir")"
	[ "$(jit_steps_in "$dir" | sort -nu)" = "$published" ] ||
		fail "checkpoints $(jit_steps_in "$dir" | paste -sd ' ') in $dir, the mesh announced $(paste -sd ' ' <<<"$published")"
	for step in $published; do
		out=$(as_user lcrctl --ckpt-dir="$dir" ckpt verify "$step" 2>&1) ||
			fail "checkpoint $step does not verify: $out"
	done
	late=$(find "$dir" -mindepth 1 -newer "$marker" ! -name "outcome.$job.*")
	[ -z "$late" ] || fail "written into $dir after n2 came back: $(ls -la --full-time $late)"
	diag "checkpoints in $dir: step $(paste -sd ' ' <<<"$published"), announced to the survivors, verified"
}

# ret_end NODE [JOB]: NODE resumed and its link up, the allocation cancelled, the job's
# processes ended and NODE idle again. Also the EXIT trap of the tests (with || true), so
# that a test that fails half-way leaves the cluster as the next test needs it.
ret_end() {
	local node=$1 job=${2:-} pid left
	"$TESTCLUSTER" cont-node "$node"
	[ "$(cat "$BASE/mode" 2>/dev/null)" != netns ] || "$TESTCLUSTER" heal-link "$node"
	as_user scancel -u "$TEST_USER" || true
	if ! wait_for 20 eval '[ -z "$(pids_of srun "$TEST_USER")$(pids_of salloc "$TEST_USER")" ]'; then
		left="$(pids_of srun "$TEST_USER") $(pids_of salloc "$TEST_USER")"
		for pid in $left; do kill -9 "$pid" 2>/dev/null; done
		fail "srun or salloc outlived the cancelled allocation (killed): $left"
	fi
	wait_for 30 jit_no_trainer_left || fail "the trainers did not end: $(pids_of lcr-demo-traine "$TEST_USER")"
	wait_for 30 eval '[ -z "$(pids_of python3 "$TEST_USER")" ]' ||
		fail "the PyTorch ranks did not end: $(pids_of python3 "$TEST_USER")"
	if [ -n "$job" ] && ! wait_for 30 ret_no_helper_of "$job"; then
		left=$(ret_helpers_of "$job")
		for pid in $(awk '{print $1}' <<<"$left"); do kill -9 "$pid" 2>/dev/null; done
		fail "helpers of job $job outlived it (killed): $left"
	fi
	wait_for 40 jit_node_idle "$node" || fail "$node did not come back: $(SLURM_CONF=$BASE/etc/slurm.conf sinfo -N)"
}

# ret_away_and_back HOW JOB OLD_PID WENT_ON STEPS_KNOB: at a random step n2 goes away, HOW being
# "hang" (stop-node, later cont-node) or "cut" (cut-link, later heal-link), until WENT_ON
# (a command) says the survivors went on with the spare, and at least RET_AWAY_S; the run
# must still be training when n2 comes back (else raise STEPS_KNOB). n2's rank OLD_PID must end: cut off, by
# RET_CUT_FENCE_S after the cut, while the link is still down (its helper, a minority of
# one, stops it itself); hung, by RET_FENCE_S after it resumes. $JIT/n2-back is touched as
# n2 comes back.
ret_away_and_back() {
	local how=$1 job=$2 old=$3 went_on=$4 knob=$5 away=stop-node back=cont-node t0 t1 fenced
	[ "$how" = hang ] || { away=cut-link back=heal-link; }
	sleep "$((RANDOM % 3)).$((RANDOM % 10))" # a random step
	t0=$(date +%s%N)
	"$TESTCLUSTER" $away n2
	diag "$away n2 after '$(grep 'step [0-9]' "$JIT/run.txt" | tail -n 1)'"
	if [ "$how" = cut ]; then
		wait_for "$RET_CUT_FENCE_S" ret_gone "$old" ||
			fail "n2's rank (pid $old) still runs $RET_CUT_FENCE_S s after n2 was cut off: $(tail -n 5 "$(jit_helper_log "$job" 0 n2)")"
		diag "n2's rank ended $(ret_ms_since "$t0") ms after its link was cut"
	fi
	wait_for 90 $went_on ||
		fail "the survivors did not go on: $(tail -n 12 "$JIT/run.txt"; tail -n 12 "$JIT"/lcr-*.replacement-*.out 2>&1)"
	diag "the spare took n2's place, training went on $(ret_ms_since "$t0") ms after $away"
	while [ "$(ret_ms_since "$t0")" -lt $((RET_AWAY_S * 1000)) ]; do sleep 0.2; done
	! ret_ended run || fail "the run ended before n2 came back: raise $knob: $(rec_finals run)"
	diag "Slurm's view of n2 as it comes back: $(SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n n2 -o %T)"
	touch "$JIT/n2-back"
	t1=$(date +%s%N)
	"$TESTCLUSTER" $back n2
	if [ "$how" = hang ]; then
		wait_for "$RET_FENCE_S" ret_gone "$old" ||
			fail "n2's old rank (pid $old) still runs $RET_FENCE_S s after n2 resumed: $(tail -n 5 "$(jit_helper_log "$job" 0 n2)")"
		diag "n2's old rank ended $(ret_ms_since "$t1") ms after n2 resumed"
	fi
	fenced=$(grep -i 'fenc' "$(jit_helper_log "$job" 0 n2)" 2>/dev/null | tail -n 2 || true)
	[ -z "$fenced" ] || diag "n2's helper: $fenced"
}

# ret_finished_on_the_spare NAME: every rank of run NAME finished, rank 1 once, on the
# spare (n2's old rank printed nothing of its own).
ret_finished_on_the_spare() {
	wait_for 120 ret_ended "$1" || fail "the run did not end: $(rec_finals "$1"; tail -n 8 "$JIT/$1.txt")"
	rec_finished "$1" 4 ||
		fail "the run did not finish: $(rec_finals "$1"; tail -n 8 "$JIT/$1.txt" "$JIT"/lcr-*.replacement-*.out)"
	[ "$(rec_finals "$1" | grep -c '^final rank 1 ')" = 1 ] && grep -q '^final rank 1 ' "$JIT"/lcr-*.replacement-1.out ||
		fail "rank 1 did not finish once, on the spare: $(rec_finals "$1")"
}

ret_demo_went_on() { grep -q "communicator rebuilt" "$JIT/run.txt"; }

# ret_demo_node_goes_away_and_comes_back HOW [AWAY_S STEPS]: the scenario with the demo trainer (see
# ret_away_and_back): training finishes on the same survivors and the spare with the
# reference checksum, the outcome is 0 with one recovered failure, and the checkpoint
# directory holds only what the majority published.
ret_demo_node_goes_away_and_comes_back() {
	local RET_AWAY_S=${2:-$RET_AWAY_S} REC_STEPS=${3:-$RET_STEPS} job old survivors
	ret_start "$(ret_ref)" "$(ret_run run n1,n2,n3,n4 "$JIT/ckpt" 0)"
	wait_for 30 jit_progressed run 1 || fail "the run does not train: $(tail -n 5 "$JIT/run.txt" "$JIT/alloc.txt")"
	job=$(ret_job)
	trap "ret_end n2 $job >/dev/null 2>&1 || true" EXIT
	old=$(rec_trainer_pids_on n2)
	survivors="$(rec_trainer_pids_on n1) $(rec_trainer_pids_on n3) $(rec_trainer_pids_on n4)"
	[ "$(wc -w <<<"$old $survivors")" = 4 ] || fail "expected 4 trainers, found: n2: $old; others: $survivors"
	ret_away_and_back "$1" "$job" "$old" ret_demo_went_on RET_STEPS
	ret_finished_on_the_spare run
	diag "$(grep -E 'event|rebuilt' "$JIT/run.txt" | sort -u | head -n 8)"
	rec_survivors_kept run $survivors
	[ "$(rec_checksum run)" = "$(ret_reference)" ] ||
		fail "checksum $(rec_checksum run) after n2 came back, reference $(ret_reference)"
	ret_outcome run "$JIT/ckpt" "$job" 0 1
	ret_ckpt_clean "$JIT/ckpt" "$job" "$JIT/n2-back"
	trap - EXIT
	ret_end n2 "$job"
}
