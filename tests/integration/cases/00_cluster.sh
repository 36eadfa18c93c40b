# cases/00_cluster.sh: the cluster itself works, and jobs run as the unprivileged user.

test_srun_runs_on_five_distinct_nodes() {
	local names
	names=$(as_user srun -N5 -n5 printenv SLURMD_NODENAME | sort)
	diag "$names"
	[ "$(wc -l <<<"$names")" = 5 ] || fail "expected 5 lines"
	[ "$(sort -u <<<"$names" | wc -l)" = 5 ] || fail "expected 5 distinct node names"
}

test_jobs_run_as_the_test_user_not_root() {
	local users
	users=$(as_user srun -N5 -n5 id -un | sort -u)
	[ "$users" = "$TEST_USER" ] || fail "tasks ran as '$users'"
}
