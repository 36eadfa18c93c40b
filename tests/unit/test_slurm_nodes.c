/* test_slurm_nodes.c: the job's nodes and the unusable ones, asked from the event loop
 * (helper/loop/slurm_nodes.c), against a fake Slurm first in PATH: squeue prints the file
 * "nodes" of its directory, fails when the file "fail" is there and sleeps 3 s first when
 * "slow" is; sinfo writes its arguments to "sinfo.args" and prints "n2" and "n4". The loop
 * must keep serving its timers while they run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "loop/slurm_nodes.h"

#define JOB 42

static char fake_dir[] = "/tmp/lcr-slurm-nodes-XXXXXX";

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void read_file(const char *name, char *out, size_t cap)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(out, 1, cap - 1, f);
	fclose(f);
	while (n && out[n - 1] == '\n')
		n--;
	out[n] = '\0';
}

static void remove_file(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fake_dir, name);
	unlink(path);
}

static int setup(void **state)
{
	char path[4096];
	(void)state;
	if (!mkdtemp(fake_dir))
		return -1;
	write_file("squeue", "#!/bin/sh\nd=$(dirname \"$0\")\n[ -e \"$d/slow\" ] && sleep 3\n"
		   "[ -e \"$d/fail\" ] && exit 1\ncat \"$d/nodes\"\n", 0755);
	write_file("sinfo", "#!/bin/sh\necho \"$*\" >\"$(dirname \"$0\")/sinfo.args\"\n"
		   "printf 'n2\\nn4\\n'\n", 0755);
	snprintf(path, sizeof(path), "%s:%s", fake_dir, getenv("PATH"));
	setenv("PATH", path, 1);
	return 0;
}

static int teardown(void **state)
{
	char command[512];
	(void)state;
	snprintf(command, sizeof(command), "rm -rf %s", fake_dir);
	return system(command);
}

static int reset(void **state)
{
	(void)state;
	remove_file("fail");
	remove_file("slow");
	remove_file("sinfo.args");
	write_file("nodes", "n[1-5]\n", 0644);
	return 0;
}

/* What the answer said; counts a 50 ms timer's rounds until it came. */
struct answer {
	struct loop *loop;
	int calls;
	bool have_nodes, have_unusable;
	char nodes[256], err[256], unusable[256];
	int ticks_before;
};

static void answered(void *arg, const char *nodes, const char *err, const char *unusable)
{
	struct answer *a = arg;
	a->calls++;
	a->have_nodes = nodes != NULL;
	a->have_unusable = unusable != NULL;
	snprintf(a->nodes, sizeof(a->nodes), "%s", nodes ? nodes : "");
	snprintf(a->err, sizeof(a->err), "%s", err);
	snprintf(a->unusable, sizeof(a->unusable), "%s", unusable ? unusable : "");
	loop_stop(a->loop);
}

static void tick(struct loop *loop, void *arg)
{
	struct answer *a = arg;
	if (a->calls)
		return;
	a->ticks_before++;
	assert_int_equal(loop_add_timer(loop, 50, tick, a, NULL), 0);
}

static void give_up(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

/* Asks with fallback and runs the loop until the answer (or 8 s). */
static void ask(struct answer *a, const char *fallback)
{
	struct slurm_nodes s;
	assert_int_equal(loop_create(&a->loop), 0);
	slurm_nodes_init(&s, a->loop, JOB, answered, a);
	slurm_nodes_ask(&s, fallback);
	assert_int_equal(a->calls, 0); /* never from within the ask */
	assert_true(slurm_nodes_asking(&s));
	assert_int_equal(loop_add_timer(a->loop, 50, tick, a, NULL), 0);
	assert_int_equal(loop_add_timer(a->loop, 8000, give_up, NULL, NULL), 0);
	assert_int_equal(loop_run(a->loop), 0);
	assert_false(slurm_nodes_asking(&s));
	slurm_nodes_cancel(&s);
	loop_destroy(a->loop);
}

static void slurms_node_list_is_asked_about_with_sinfo(void **state)
{
	struct answer a = { 0 };
	char args[256];
	(void)state;
	ask(&a, "f[1-2]");
	assert_int_equal(a.calls, 1);
	assert_true(a.have_nodes);
	assert_string_equal(a.nodes, "n[1-5]");
	assert_true(a.have_unusable);
	assert_string_equal(a.unusable, "n2,n4");
	read_file("sinfo.args", args, sizeof(args));
	assert_string_equal(args, "--noheader --Node --nodes n[1-5] "
			    "--states=down,drained,draining,fail,failing,no_respond --format=%N");
}

static void a_failing_squeue_leaves_the_fallback_for_sinfo(void **state)
{
	struct answer a = { 0 };
	char args[256];
	(void)state;
	write_file("fail", "", 0644);
	ask(&a, "f[1-2]");
	assert_int_equal(a.calls, 1);
	assert_false(a.have_nodes);
	assert_non_null(strstr(a.err, "squeue failed"));
	assert_string_equal(a.unusable, "n2,n4");
	read_file("sinfo.args", args, sizeof(args));
	assert_non_null(strstr(args, "--nodes f[1-2] "));
}

static void no_fallback_no_sinfo(void **state)
{
	struct answer a = { 0 };
	char args[256];
	(void)state;
	write_file("fail", "", 0644);
	ask(&a, NULL);
	assert_int_equal(a.calls, 1);
	assert_false(a.have_nodes);
	assert_false(a.have_unusable);
	read_file("sinfo.args", args, sizeof(args));
	assert_string_equal(args, "");
}

static void a_missing_slurm_is_answered_from_the_loop(void **state)
{
	struct answer a = { 0 };
	char *path = strdup(getenv("PATH"));
	(void)state;
	setenv("PATH", "/nonexistent", 1);
	ask(&a, "f1");
	setenv("PATH", path, 1);
	free(path);
	assert_int_equal(a.calls, 1);
	assert_false(a.have_nodes);
	assert_string_equal(a.err, "squeue is not in PATH");
	assert_false(a.have_unusable);
}

/* squeue past its 1 s bound: killed, the loop served meanwhile, sinfo asked all the same. */
static void a_slow_squeue_is_given_up_while_the_loop_serves(void **state)
{
	struct answer a = { 0 };
	struct timespec t0, t1;
	(void)state;
	write_file("slow", "", 0644);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ask(&a, "f[1-2]");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(a.calls, 1);
	assert_false(a.have_nodes);
	assert_string_equal(a.err, "squeue did not answer within 1000 ms");
	assert_string_equal(a.unusable, "n2,n4");
	assert_true(took >= 1.0 && took < 2.5);
	assert_true(a.ticks_before >= 15);
}

static void a_cancelled_question_is_never_answered(void **state)
{
	struct answer a = { 0 };
	struct slurm_nodes s;
	(void)state;
	write_file("slow", "", 0644);
	assert_int_equal(loop_create(&a.loop), 0);
	slurm_nodes_init(&s, a.loop, JOB, answered, &a);
	slurm_nodes_ask(&s, "f1");
	slurm_nodes_cancel(&s);
	assert_false(slurm_nodes_asking(&s));
	assert_true(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
	assert_int_equal(loop_add_timer(a.loop, 300, give_up, NULL, NULL), 0);
	assert_int_equal(loop_run(a.loop), 0);
	assert_int_equal(a.calls, 0);
	loop_destroy(a.loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(slurms_node_list_is_asked_about_with_sinfo, reset),
		cmocka_unit_test_setup(a_failing_squeue_leaves_the_fallback_for_sinfo, reset),
		cmocka_unit_test_setup(no_fallback_no_sinfo, reset),
		cmocka_unit_test_setup(a_missing_slurm_is_answered_from_the_loop, reset),
		cmocka_unit_test_setup(a_slow_squeue_is_given_up_while_the_loop_serves, reset),
		cmocka_unit_test_setup(a_cancelled_question_is_never_answered, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
