#!/bin/bash
# cgroup-suite.sh: the helper under Slurm's cgroup plugins (issue 18 item 6). A two-node
# local cluster with proctrack/cgroup and task/cgroup on cgroup v1 (testcluster CGROUP=v1:
# ConstrainRAMSpace, ConstrainCores, ConstrainDevices) is brought up once and torn down on
# every exit, like cluster-suite.sh's. Skipped where this machine has no writable cgroup v1
# hierarchy for each controller Slurm uses. Speaks TAP.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PORT_BASE=${PORT_BASE:-17500}
export NODES=2
export CGROUP=v1
. "$HERE/lib.sh"

CGROUP_ROOT=/sys/fs/cgroup

# Whether each v1 controller that Slurm's plugins use is mounted at CGROUP_ROOT/NAME and
# lets root make a directory there.
cgroup_v1_writable() {
	local controller probe
	for controller in memory cpuset devices freezer; do
		grep -qE "^cgroup $CGROUP_ROOT/$controller cgroup .*\\b$controller\\b" /proc/mounts ||
			{ echo "no cgroup v1 $controller hierarchy at $CGROUP_ROOT/$controller"; return 1; }
		probe=$CGROUP_ROOT/$controller/lcr-probe-$$
		mkdir "$probe" 2>/dev/null || { echo "cannot make a cgroup in $CGROUP_ROOT/$controller"; return 1; }
		rmdir "$probe"
	done
}

# Each task prints its node, its job, its own cgroups and its helper's ("NODE task|helper
# CONTROLLER PATH"), and the memory limit of its helper's memory cgroup.
CGROUP_REPORT='
	node=$SLURMD_NODENAME
	helper_memory=$(awk -F: "\$2 == \"memory\" {print \$3}" /proc/$LCR_HELPER_PID/cgroup)
	awk -F: -v node=$node -v who=task "\$2 ~ /^(memory|cpuset|devices|freezer)\$/ {print node, who, \$2, \$3}" /proc/self/cgroup
	awk -F: -v node=$node -v who=helper "\$2 ~ /^(memory|cpuset|devices|freezer)\$/ {print node, who, \$2, \$3}" /proc/$LCR_HELPER_PID/cgroup
	echo "$node limit $(cat /sys/fs/cgroup/memory$helper_memory/memory.limit_in_bytes)"
	echo "$node job $SLURM_JOB_ID"
'

# Field $4 of the report's line for node $1, who $2, controller $3.
reported() { awk -v node="$1" -v who="$2" -v c="$3" '$1 == node && $2 == who && $3 == c {print $4}' <<<"$REPORT"; }

# Slurm 22.05's task/cgroup puts slurmstepd into the step's memory, cpuset and devices
# cgroups before slurm_spank_user_init, where the plugin starts the helper; the helper stays
# there: the step's memory limit (--mem) and CPU set apply to it as to the tasks. Its freezer
# cgroup is the job's, as slurmstepd's: proctrack/cgroup kills the step's freezer cgroup at
# the end of the step, and the plugin stops the helper before that, in order.
test_helper_is_in_the_steps_cgroups_under_its_memory_limit() {
	local node task helper job controller
	REPORT=$(as_user srun -N2 --ntasks-per-node=1 --mem=256 --lcr bash -c "$CGROUP_REPORT") ||
		fail "the step failed: $REPORT"
	for node in n1 n2; do
		job=$(awk -v node=$node '$1 == node && $2 == "job" {print $3}' <<<"$REPORT")
		[ -n "$job" ] || fail "no report from $node: $REPORT"
		for controller in memory devices; do
			task=$(reported $node task $controller)
			helper=$(reported $node helper $controller)
			[[ $task == */job_$job/step_0/task_0 ]] ||
				fail "$node: the task is not in a task cgroup of the step ($controller): $task"
			[ "$helper" = "${task%/task_0}" ] ||
				fail "$node: the helper's $controller cgroup is $helper, not the step's ${task%/task_0}"
		done
		task=$(reported $node task cpuset)
		helper=$(reported $node helper cpuset)
		[[ $task == */job_$job/step_0 ]] || fail "$node: the task's cpuset is not the step's: $task"
		[ "$helper" = "$task" ] || fail "$node: the helper's cpuset is $helper, not the step's $task"
		helper=$(reported $node helper freezer)
		[[ $helper == */job_$job ]] || fail "$node: the helper's freezer cgroup is $helper, not the job's"
		[ "$(awk -v node=$node '$1 == node && $2 == "limit" {print $3}' <<<"$REPORT")" = $((256 << 20)) ] ||
			fail "$node: the helper's memory cgroup is not limited to the step's 256 MiB: $REPORT"
	done
}

# The helper has ended when Slurm removes the step's cgroups, which it does with one rmdir
# each, never retried: had the helper still been in them, the step's, the job's and the
# user's directories would stay behind on every node.
test_steps_cgroups_are_removed_when_it_ends() {
	local report job node controller dir left=""
	report=$(as_user srun -N2 --ntasks-per-node=1 --lcr bash -c 'echo "job $SLURM_JOB_ID"') ||
		fail "the step failed: $report"
	job=$(awk '$1 == "job" {print $2; exit}' <<<"$report")
	[ -n "$job" ] || fail "no job id: $report"
	for node in n1 n2; do
		for controller in memory cpuset devices freezer; do
			dir=$CGROUP_ROOT/$controller/slurm_$node/uid_$(id -u "$TEST_USER")/job_$job
			wait_for 15 test ! -d "$dir" || left+=" $dir"
		done
	done
	[ -z "$left" ] || fail "cgroups left after the job ended:$left"
}

if [ "$(id -u)" = 0 ] && ! reason=$(cgroup_v1_writable); then
	echo "1..0 # SKIP $reason"
	exit 0
fi
cluster_up
run_suite
