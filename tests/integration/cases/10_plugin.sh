# cases/10_plugin.sh: spank_lcr.so on a real cluster: options, helper lifecycle, isolation.

PLUGSTACK=$BASE/etc/plugstack.conf

# Run "$@" with extra plugstack arguments, then restore the cluster's plugstack.conf.
with_plugstack_args() {
	local args=$1 saved status
	shift
	saved=$(cat "$PLUGSTACK")
	sed -i "/spank_lcr.so/ s|\$| $args|" "$PLUGSTACK"
	"$@" && status=0 || status=$?
	printf '%s\n' "$saved" >"$PLUGSTACK"
	return $status
}

helpers_of_test_user() { pids_of lcrd "$TEST_USER"; }

# Helper directories and logs; a killed node's own stay behind, as on a real node until reboot.
runtime_entries() { find "$BASE/run/lcr" -mindepth 2 -maxdepth 2 ! -name "*.${DEAD_NODE:-none}*" 2>/dev/null; }

no_helper_left() { [ -z "$(helpers_of_test_user)" ] && [ -z "$(runtime_entries)" ]; }

# What a failed no_helper_left found: each helper's pid, state, job, step and node, then the
# runtime entries.
left_behind() {
	local pid
	for pid in $(helpers_of_test_user); do
		echo "lcrd $pid ($(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)):" \
			"$({ tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null |
				grep -E '^(SLURM_JOB_ID|SLURM_STEP_ID|SLURMD_NODENAME)=' | tr '\n' ' ')"
	done
	echo "runtime entries: $(runtime_entries | tr '\n' ' ')"
}

# No helper, and no runtime entry other than those in $1 (the entries before a step).
no_helper_left_since() {
	[ -z "$(helpers_of_test_user)" ] && [ -z "$(comm -13 <(sort <<<"$1") <(runtime_entries | sort))" ]
}

test_srun_help_lists_options_under_lcr_prefix() {
	local help
	help=$(as_user srun --help)
	for option in --lcr= --lcr-ckpt-dir= --lcr-restore= --lcr-replace= --lcr-detect-timeout= --lcr-verbose; do
		grep -q -- "$option" <<<"$help" || fail "srun --help lacks $option"
	done
	grep -q '\[lcr\]' <<<"$help" || fail "srun --help lacks the [lcr] prefix"
}

test_invalid_option_values_stop_srun_before_launch() {
	local output
	for bad in --lcr=maybe --lcr=true --lcr-restore=later --lcr-replace=always --lcr-detect-timeout=0.01 \
		--lcr-detect-timeout=soon --lcr-ckpt-dir=relative; do
		output=$(as_user srun -N1 "$bad" touch "$BASE/work/launched" 2>&1) && fail "srun $bad succeeded"
		grep -q "lcr: invalid value" <<<"$output" || fail "srun $bad: no clear message: $output"
		grep -q "accepted" <<<"$output" || fail "srun $bad: accepted values not named: $output"
		[ ! -e "$BASE/work/launched" ] || fail "srun $bad launched the task"
	done
}

test_invalid_option_value_stops_sbatch() {
	local output
	output=$(as_user sbatch -N1 --lcr-replace=sometimes --wrap true 2>&1) && fail "sbatch accepted it"
	grep -q "accepted: spare, none" <<<"$output" || fail "no clear message: $output"
}

test_invalid_environment_value_stops_srun() {
	local output
	output=$(LCR_EXEC_ENV="LCR_RESTORE=later" as_user srun -N1 true 2>&1) && fail "srun accepted LCR_RESTORE=later"
	grep -q "later" <<<"$output" || fail "no clear message: $output"
}

test_without_lcr_there_is_no_helper_and_no_environment() {
	local output=$BASE/work/without-lcr.out
	as_user bash -c "srun -N2 -n2 bash -c 'printenv LCR_SOCKET LCR_HELPER_PID || echo none; sleep 3' >$output 2>&1 &"
	wait_for 10 grep -q none "$output" || fail "the step did not start"
	[ "$(count_of lcrd "$TEST_USER")" = 0 ] || fail "a helper runs without --lcr"
	[ -z "$(runtime_entries)" ] || fail "a runtime directory exists without --lcr"
	wait_for 10 bash -c "[ \$(grep -c none $output) = 2 ]" || fail "LCR_ variables were set without --lcr: $(cat "$output")"
}

test_srun_lcr_starts_one_helper_per_node_as_the_user() {
	local output
	output=$(as_user srun -N5 -n5 --lcr bash -c 'lcrctl status --node="$SLURMD_NODENAME"')
	diag "$output"
	for i in 1 2 3 4 5; do
		grep -qE "node n$i \(id $((i - 1)) of 5\).* user $TEST_USER " <<<"$output" ||
			fail "no helper of $TEST_USER with id $((i - 1)) on n$i"
	done
	! grep -q "user root" <<<"$output" || fail "a helper runs as root"
	wait_for 10 no_helper_left || fail "helper or runtime directory left after the step: $(left_behind)"
}

# Slurm kills what is left of a step between the last task's exit and slurm_spank_exit
# (with cgroup v2 and proctrack/cgroup, lcrd too: it is in the step's cgroup with
# slurmstepd), so the plugin stops the helper in order at the node's last task's exit. The
# test cluster stacks spank_order_probe.so after spank_lcr.so: its task_exit of the last
# task, which runs just after LCR's, says whether the step's lcrd still runs then.
test_helper_is_stopped_when_the_nodes_last_task_exits() {
	local probe=$BASE/work/order-probe.txt
	rm -f "$probe"
	as_user env LCR_TEST_ORDER_PROBE="$probe" srun -N2 -n4 --lcr true ||
		fail "the step failed"
	diag "$(cat "$probe" 2>/dev/null)"
	[ "$(grep -c '^node [01] lcrd gone$' "$probe" 2>/dev/null)" = 2 ] ||
		fail "lcrd was not stopped by the last task's exit on both nodes: $(cat "$probe" 2>/dev/null)"
}

test_tasks_get_lcr_socket_of_their_own_node() {
	local output
	output=$(as_user srun -N3 -n3 --lcr bash -c 'echo "$SLURMD_NODENAME $LCR_SOCKET"; test -S "$LCR_SOCKET"')
	diag "$output"
	[ "$(awk '{print $2}' <<<"$output" | sort -u | wc -l)" = 3 ] || fail "expected 3 distinct sockets"
	while read -r node socket; do
		[[ $socket == */$TEST_USER* || $socket == *".$node/"* ]] || fail "socket $socket is not $node's"
	done <<<"$output"
}

test_lcrctl_finds_helpers_from_another_step() {
	local job node output
	job=$(as_user sbatch --parsable -N2 --lcr --wrap "srun -N2 --lcr sleep 60")
	wait_for 15 at_least lcrd "$TEST_USER" 2 || fail "helpers did not start"
	node=$(as_user bash -c "scontrol show hostnames \$(squeue -h -j $job -o %N)" | head -n 1)
	output=$(as_user srun --jobid="$job" --overlap -N1 -w "$node" lcrctl status)
	diag "$output"
	grep -q "node $node .*job $job step 0" <<<"$output" || fail "lcrctl did not find step 0's helper on $node"
	as_user scancel "$job"
	wait_for 15 no_helper_left || fail "helper or runtime directory left after scancel: $(left_behind)"
}

test_sbatch_lcr_line_gives_steps_helpers() {
	local script=$BASE/work/lcr-batch.sh out=$BASE/work/lcr-batch.out job
	cat >"$script" <<-'EOF'
	#!/bin/bash
	#SBATCH -N2 --lcr
	srun -N2 -n2 bash -c 'test -S "$LCR_SOCKET" && echo "helper on $SLURMD_NODENAME"'
	srun -N1 -n1 bash -c 'echo "no-kill=${SLURM_NO_KILL-unset}"'
	EOF
	chmod 755 "$script"
	job=$(as_user sbatch --parsable -o "$out" "$script")
	wait_for 30 bash -c "[ -z \"\$(SLURM_CONF=$BASE/etc/slurm.conf squeue -h -j $job 2>/dev/null)\" ]" ||
		fail "batch job $job did not finish"
	diag "$(cat "$out")"
	[ "$(grep -c '^helper on' "$out")" = 2 ] || fail "the batch step's srun got no helpers"
	grep -q 'no-kill=set' "$out" || fail "#SBATCH --lcr did not imply --no-kill for the batch script's steps"
}

test_no_helper_left_after_a_task_is_killed() {
	as_user bash -c 'srun -N2 -n2 --lcr sleep 60 </dev/null >/dev/null 2>&1 &'
	wait_for 15 at_least lcrd "$TEST_USER" 2 || fail "helpers did not start"
	wait_for 5 at_least sleep "$TEST_USER" 1 || fail "tasks did not start"
	kill -KILL $(pids_of sleep "$TEST_USER")
	wait_for 15 no_helper_left || fail "helper or runtime directory left after SIGKILL of a task: $(left_behind)"
}

test_other_user_cannot_reach_the_helper() {
	local socket_file=$BASE/work/socket output
	as_user bash -c "srun -N1 --lcr bash -c 'echo \$LCR_SOCKET > $socket_file; sleep 20' </dev/null >/dev/null 2>&1 &"
	wait_for 15 test -s "$socket_file" || fail "the step did not start"
	output=$(as_other_user lcrctl --socket="$(cat "$socket_file")" status 2>&1) && fail "lcrtest2 reached the helper: $output"
	diag "$output"
	grep -qiE "permission denied|refused|not allowed" <<<"$output" || fail "no clear refusal: $output"
	pkill -u "$TEST_USER" -x sleep || true
	rm -f "$socket_file"
	wait_for 15 no_helper_left || fail "helper left: $(left_behind)"
}

test_broken_helper_without_required_runs_with_one_warning() {
	local output
	output=$(with_plugstack_args "required=no helper=/nonexistent/lcrd" as_user srun -N1 -n1 --lcr echo ran 2>&1)
	diag "$output"
	grep -qx ran <<<"$output" || fail "the step did not run"
	[ "$(grep -c 'runs without LCR' <<<"$output")" = 1 ] || fail "expected exactly one warning"
	wait_for 10 no_helper_left || fail "helper files left: $(left_behind)"
}

test_broken_helper_with_required_fails_the_step() {
	local output
	output=$(with_plugstack_args "required=yes helper=/nonexistent/lcrd" as_user srun -N1 -n1 --lcr echo ran 2>&1) &&
		fail "the step succeeded"
	diag "$output"
	! grep -qx ran <<<"$output" || fail "the task ran"
	grep -q "/nonexistent/lcrd" <<<"$output" || fail "the error does not name the helper"
}

test_unknown_plugstack_key_is_named() {
	local output
	output=$(with_plugstack_args "colour=blue" as_user srun -N1 true 2>&1) && fail "srun accepted it"
	grep -q "colour" <<<"$output" || fail "the unknown key is not named: $output"
}

# Last: it takes a node down for about 20 s and brings it back.
test_lcr_implies_no_kill_survivors_outlive_node_down() {
	local job sleepers
	job=$(as_user salloc -N5 --lcr --no-shell 2>&1 | sed -n 's/.*Granted job allocation \([0-9]*\).*/\1/p')
	[ -n "$job" ] || fail "no allocation"
	as_user bash -c "srun --jobid=$job -N5 -n5 --lcr sleep 300 </dev/null >/dev/null 2>&1 &"
	wait_for 15 at_least sleep "$TEST_USER" 5 || fail "tasks did not start"
	"$TESTCLUSTER" kill-node n5
	wait_for 60 bash -c "SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n n5 -o %t | grep -q down" ||
		fail "Slurm did not mark n5 down"
	sleep 3
	sleepers=$(count_of sleep "$TEST_USER")
	diag "after n5 was marked down: $sleepers tasks alive"
	[ "$sleepers" = 4 ] || fail "expected the 4 surviving tasks alive, found $sleepers"
	as_user scancel "$job"
	"$TESTCLUSTER" start-node n5
	DEAD_NODE=n5 wait_for 30 no_helper_left || fail "helpers of the surviving nodes left after scancel: $(DEAD_NODE=n5 left_behind)"
}

# Issue 18, 3: a helper stopped by its user while a step with more tasks than its channel
# holds (about 139) ends. slurmstepd blocked for ever on the full channel and the node
# drained; now it waits at most 5 s, kills the helper and the step ends.
test_stopped_helper_does_not_wedge_the_step() {
	local start=$SECONDS output status node before
	before=$(runtime_entries) # a node killed by an earlier test keeps its helper's files
	output=$(COMMAND_TIMEOUT=90 as_user srun -N1 -n200 --overcommit --lcr bash -c \
		'[ "$SLURM_PROCID" = 0 ] && kill -STOP "$LCR_HELPER_PID"; echo "node $SLURMD_NODENAME"; sleep 2' 2>&1) &&
		status=0 || status=$?
	diag "srun exited $status after $((SECONDS - start)) s: $(grep -v '^node ' <<<"$output" | sort | uniq -c | head -5)"
	[ $((SECONDS - start)) -lt 60 ] || fail "the step took $((SECONDS - start)) s: slurmstepd was held by the stopped helper"
	[ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "srun did not end: $(tail -5 <<<"$output")"
	node=$(sed -n 's/^node //p' <<<"$output" | head -1)
	[ -n "$node" ] || fail "no task ran: $(tail -5 <<<"$output")"
	wait_for 30 bash -c "SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n $node -o %t | grep -qE '^(idle|mix|alloc)'" ||
		fail "node $node is $(SLURM_CONF=$BASE/etc/slurm.conf sinfo -h -n "$node" -o %t) (not back in service)"
	wait_for 15 no_helper_left_since "$before" ||
		fail "the stopped helper was left behind: helpers $(helpers_of_test_user), entries $(runtime_entries)"
}

# Issue 18, 6: lcrd runs with an allow-listed environment (none of the job's PYTHONPATH or
# LD_PRELOAD) and with the soft limits the tasks get (a propagated `ulimit -Sn`).
test_helper_gets_allowed_environment_and_the_tasks_limits() {
	local probe=$BASE/work/helper-probe.sh output
	cat >"$probe" <<'PROBE'
#!/bin/bash
tr '\0' '\n' <"/proc/$LCR_HELPER_PID/environ" | sed 's/^/helper env: /'
echo "helper nofile: $(sed -n 's/^Max open files *\([0-9]*\).*/\1/p' "/proc/$LCR_HELPER_PID/limits")"
echo "task nofile: $(ulimit -Sn)"
PROBE
	chmod 755 "$probe"
	output=$(as_user bash -c "ulimit -Sn 321; PYTHONPATH=/lcr-never-read LD_PRELOAD= srun -N1 -n1 --lcr $probe" 2>&1)
	diag "$(grep -v 'helper env' <<<"$output")"
	grep -q "^helper env: SLURM_JOB_ID=" <<<"$output" || fail "no helper environment read: $output"
	grep -q "^helper env: PATH=" <<<"$output" || fail "the helper has no PATH"
	! grep -qE "^helper env: (PYTHONPATH|LD_PRELOAD)=" <<<"$output" || fail "the helper got the job's whole environment"
	grep -q "^task nofile: 321$" <<<"$output" || fail "the limit did not reach the task: $output"
	grep -q "^helper nofile: 321$" <<<"$output" || fail "the helper does not have the task's limit: $output"
	rm -f "$probe"
}
