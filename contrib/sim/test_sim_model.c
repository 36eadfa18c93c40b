/* test_sim_model.c: cmocka unit tests of lcr-sim's model, options and bench-result reader.
 *
 * They pin down Daly's published optimum intervals, the agreement of the Monte Carlo runs
 * with the closed forms, the spare-pool and failure-during-recovery behaviour, and the
 * refusal of bad input with a message that names the option and the value.
 */
#include "bench_results.h"
#include "model.h"
#include "options.h"
#include "units.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MINUTE 60.0
#define HOUR 3600.0
#define MC_FAILURES 100000UL

static void assert_near(double actual, double expected, double tolerance)
{
	if (fabs(actual - expected) > tolerance)
		fail_msg("%.6g is not within %.3g of %.6g", actual, tolerance, expected);
}

static void assert_relatively_near(double actual, double expected, double fraction)
{
	if (fabs(actual - expected) > fraction * fabs(expected))
		fail_msg("%.6g is not within %.1f%% of %.6g", actual, 100.0 * fraction, expected);
}

/* The defaults of lcr-sim at one cluster size. */
static void default_cluster(unsigned long gpus, struct sim_cluster *c)
{
	struct sim_options o;

	sim_options_defaults(&o);
	sim_cluster_at(&o, gpus, c);
}

/* Daly, FGCS 22(3) 2006, figures 3-5: R = 10 min, delta = 5 min. */
static void test_daly_interval_matches_published_vectors(void **state)
{
	(void)state;
	assert_near(sim_daly_interval(5 * MINUTE, 24 * HOUR) / MINUTE, 116.7, 0.2);
	assert_near(sim_daly_interval(5 * MINUTE, 6 * HOUR) / MINUTE, 56.7, 0.2);
	assert_near(sim_daly_interval(5 * MINUTE, 15 * MINUTE) / MINUTE, 9.14, 0.2);
}

static void test_daly_interval_is_the_mtbf_when_a_checkpoint_outlasts_two_mtbfs(void **state)
{
	(void)state;
	assert_near(sim_daly_interval(40 * MINUTE, 15 * MINUTE), 15 * MINUTE, 1e-9);
}

static void test_daly_interval_tends_to_youngs_for_cheap_checkpoints(void **state)
{
	(void)state;
	double delta = 1.0, mtbf = 1e6;
	assert_relatively_near(sim_daly_interval(delta, mtbf), sqrt(2 * delta * mtbf), 0.001);
}

static void test_llama3_failure_rate_gives_one_failure_every_3_hours(void **state)
{
	(void)state;
	struct sim_cluster c;

	default_cluster(16384, &c);
	assert_near(c.gpu_mtbf_s / HOUR, 50677, 1);
	assert_near(sim_job_mtbf(&c) / HOUR, 3.09, 0.01);
}

static void assert_periodic_montecarlo_agrees(unsigned long gpus)
{
	struct sim_cluster c;
	struct sim_cr_plan plan;
	struct sim_mc_result mc;

	default_cluster(gpus, &c);
	sim_periodic_plan(&c, &plan);
	assert_int_equal(sim_mc_cr(&plan, MC_FAILURES, 1, &mc), 0);
	assert_true(mc.failures >= MC_FAILURES);
	assert_relatively_near(mc.overhead, sim_cr_overhead(&plan), 0.02);
}

static void test_periodic_montecarlo_agrees_with_closed_form_at_three_scales(void **state)
{
	(void)state;
	assert_periodic_montecarlo_agrees(1024);
	assert_periodic_montecarlo_agrees(16384);
	assert_periodic_montecarlo_agrees(100000);
}

static void test_inmemory_and_lcr_montecarlo_agree_with_closed_form(void **state)
{
	(void)state;
	static const unsigned long scales[] = { 1024, 16384, 100000 };

	for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
		struct sim_cluster c;
		struct sim_cr_plan inmemory;
		struct sim_lcr_plan lcr;
		struct sim_mc_result mc;

		default_cluster(scales[i], &c);
		sim_inmemory_plan(&c, &inmemory);
		assert_int_equal(sim_mc_cr(&inmemory, MC_FAILURES, 2, &mc), 0);
		assert_relatively_near(mc.overhead, sim_cr_overhead(&inmemory), 0.02);
		sim_lcr_plan(&c, sim_lcr_best_spares(&c), &lcr);
		assert_int_equal(sim_mc_lcr(&lcr, MC_FAILURES, 3, &mc), 0);
		assert_relatively_near(mc.overhead, sim_lcr_overhead(&lcr), 0.02);
	}
}

static void test_montecarlo_repeats_itself_for_a_seed(void **state)
{
	(void)state;
	struct sim_cluster c;
	struct sim_cr_plan plan;
	struct sim_mc_result a, b, other;

	default_cluster(16384, &c);
	sim_periodic_plan(&c, &plan);
	assert_int_equal(sim_mc_cr(&plan, 1000, 42, &a), 0);
	assert_int_equal(sim_mc_cr(&plan, 1000, 42, &b), 0);
	assert_int_equal(sim_mc_cr(&plan, 1000, 43, &other), 0);
	assert_true(a.overhead == b.overhead && a.simulated_s == b.simulated_s);
	assert_true(a.overhead != other.overhead);
}

/* Each recovery attempt of length D fails with p = 1 - e^{-D/M}, so that share of all
 * failures lands in a recovery. */
static void test_failures_during_recovery_restart_it(void **state)
{
	(void)state;
	struct sim_cr_plan plan = { .mtbf_s = 100.0, .work_s = 10.0, .ckpt_s = 1.0, .down_s = 50.0 };
	struct sim_mc_result mc;

	assert_int_equal(sim_mc_cr(&plan, MC_FAILURES, 7, &mc), 0);
	assert_near((double)mc.failures_in_recovery / (double)mc.failures, 1.0 - exp(-0.5), 0.005);
	assert_relatively_near(mc.overhead, sim_cr_overhead(&plan), 0.02);
}

static struct sim_lcr_plan small_lcr_plan(unsigned spares, double repair_s)
{
	return (struct sim_lcr_plan){
		.mtbf_s = HOUR, .step_s = 6.0, .spare_down_s = 40.0, .fallback_down_s = 900.0,
		.repair_s = repair_s, .spare_nodes = spares, .gpus = 1024, .gpus_per_node = 8,
	};
}

/* Nodes away for repair: Poisson with mean repair / MTBF = 2; empty pool when >= 3 away. */
static void test_spare_pool_runs_dry_as_often_as_the_poisson_tail_says(void **state)
{
	(void)state;
	struct sim_lcr_plan plan = small_lcr_plan(3, 2 * HOUR);
	double expected = 1.0 - exp(-2.0) * (1.0 + 2.0 + 2.0);
	struct sim_mc_result mc;

	assert_near(sim_spare_exhaustion(&plan), expected, 1e-12);
	assert_int_equal(sim_mc_lcr(&plan, MC_FAILURES, 5, &mc), 0);
	assert_near((double)mc.fallbacks / (double)mc.failures, expected, 0.01);
	assert_relatively_near(mc.overhead, sim_lcr_overhead(&plan), 0.02);
}

static void test_lcr_without_spares_always_falls_back(void **state)
{
	(void)state;
	struct sim_lcr_plan plan = small_lcr_plan(0, 0.0);
	struct sim_mc_result mc;

	assert_near(sim_spare_exhaustion(&plan), 1.0, 0.0);
	assert_int_equal(sim_mc_lcr(&plan, 1000, 5, &mc), 0);
	assert_int_equal(mc.fallbacks, mc.failures);
}

static void test_idle_spares_count_as_overhead(void **state)
{
	(void)state;
	struct sim_lcr_plan plan = small_lcr_plan(4, 0.0);

	plan.mtbf_s = 1e30;
	assert_near(sim_lcr_overhead(&plan), 32.0 / (1024.0 + 32.0), 1e-9);
}

static void test_best_spare_pool_is_a_local_minimum(void **state)
{
	(void)state;
	struct sim_cluster c;
	struct sim_lcr_plan plan;

	default_cluster(16384, &c);
	unsigned best = sim_lcr_best_spares(&c);
	assert_true(best > 0);
	sim_lcr_plan(&c, best, &plan);
	double at_best = sim_lcr_overhead(&plan);
	plan.spare_nodes = best - 1;
	assert_true(sim_lcr_overhead(&plan) >= at_best);
	plan.spare_nodes = best + 1;
	assert_true(sim_lcr_overhead(&plan) >= at_best);
}

static void test_lcr_beats_both_baselines_at_llama3_scale(void **state)
{
	(void)state;
	struct sim_cluster c;
	struct sim_cr_plan periodic, inmemory;
	struct sim_lcr_plan lcr;

	default_cluster(16384, &c);
	sim_periodic_plan(&c, &periodic);
	sim_inmemory_plan(&c, &inmemory);
	sim_lcr_plan(&c, sim_lcr_best_spares(&c), &lcr);
	assert_true(sim_lcr_overhead(&lcr) < sim_cr_overhead(&inmemory));
	assert_true(sim_cr_overhead(&inmemory) < sim_cr_overhead(&periodic));
}

/* Recoveries that almost never end: both estimates say nearly everything is lost, and the
 * Monte Carlo run still stops after its failures. */
static void test_hopeless_recoveries_lose_everything_and_still_end(void **state)
{
	(void)state;
	struct sim_cr_plan cr = { .mtbf_s = 60.0, .work_s = 10.0, .ckpt_s = 1.0, .down_s = 6000.0 };
	struct sim_lcr_plan lcr = small_lcr_plan(0, 0.0);
	struct sim_mc_result mc;

	lcr.mtbf_s = 1.0;
	assert_near(sim_cr_overhead(&cr), 1.0, 1e-9);
	assert_near(sim_lcr_overhead(&lcr), 1.0, 1e-9);
	assert_int_equal(sim_mc_cr(&cr, 1000, 1, &mc), 0);
	assert_int_equal(mc.failures, 1000);
	assert_true(mc.overhead > 0.999);
	assert_int_equal(sim_mc_lcr(&lcr, 1000, 1, &mc), 0);
	assert_true(mc.overhead > 0.999);
}

static void test_montecarlo_refuses_an_empty_run(void **state)
{
	(void)state;
	struct sim_cr_plan plan = { .mtbf_s = 0.0, .work_s = 10.0 };
	struct sim_mc_result mc;

	assert_int_equal(sim_mc_cr(&plan, 10, 1, &mc), -EINVAL);
	plan.mtbf_s = 100.0;
	assert_int_equal(sim_mc_cr(&plan, 0, 1, &mc), -EINVAL);
}

static void test_units_read_common_spellings(void **state)
{
	(void)state;
	double v;

	assert_int_equal(units_parse_duration("10m", &v), 0);
	assert_near(v, 600.0, 0);
	assert_int_equal(units_parse_duration("1.5 h", &v), 0);
	assert_near(v, 5400.0, 0);
	assert_int_equal(units_parse_duration("250ms", &v), 0);
	assert_near(v, 0.25, 1e-12);
	assert_int_equal(units_parse_bandwidth("400Gb/s", &v), 0);
	assert_near(v, 50e9, 0);
	assert_int_equal(units_parse_bandwidth("2TB/s", &v), 0);
	assert_near(v, 2e12, 0);
	assert_int_equal(units_parse_bytes("4GiB", &v), 0);
	assert_near(v, 4.0 * 1024 * 1024 * 1024, 0);
	assert_int_equal(units_parse_duration("5 parsecs", &v), -EINVAL);
	assert_int_equal(units_parse_bytes("lots", &v), -EINVAL);
}

/* Parse `args` (NULL-terminated, without the program name) into `o`. */
static int parse(struct sim_options *o, char *err, size_t errlen, ...)
{
	char *argv[32] = { "lcr-sim" };
	int argc = 1;
	va_list ap;

	va_start(ap, errlen);
	for (char *arg; (arg = va_arg(ap, char *)) != NULL && argc < 31;)
		argv[argc++] = arg;
	va_end(ap);
	err[0] = '\0';
	return sim_options_parse(o, argc, argv, err, errlen);
}

static void assert_mentions(const char *err, const char *what)
{
	if (!strstr(err, what))
		fail_msg("message '%s' does not mention '%s'", err, what);
}

static void test_options_accept_units_and_sort_sizes(void **state)
{
	(void)state;
	struct sim_options o;
	char err[1024];

	assert_int_equal(parse(&o, err, sizeof(err), "--gpus", "16384,1024", "--restart-time", "5m",
			       "--storage-bw", "500GB/s", "--spares", "2%", "--mode", "montecarlo",
			       "--no-plot", NULL), 0);
	assert_int_equal(o.scales, 2);
	assert_int_equal(o.gpus[0], 1024);
	assert_int_equal(o.gpus[1], 16384);
	assert_near(o.restart_s, 300.0, 0);
	assert_near(o.storage_bw, 500e9, 0);
	assert_int_equal(o.spares, SIM_SPARES_PERCENT);
	assert_near(o.spares_value, 2.0, 0);
	assert_int_equal(o.mode, SIM_MODE_MONTECARLO);
	assert_null(o.plot_prefix);
}

static void test_failure_rate_option_sets_the_per_gpu_mtbf(void **state)
{
	(void)state;
	struct sim_options o;
	char err[1024];

	assert_int_equal(parse(&o, err, sizeof(err), "--failure-rate", "419:54:16384", NULL), 0);
	assert_near(o.gpu_mtbf_s / HOUR, 54.0 * 24 * 16384 / 419, 1e-6);
}

/* Each case: the arguments, then the words the message must contain. */
struct bad_input {
	const char *args[4];
	const char *mentions[3];
};

static const struct bad_input bad_inputs[] = {
	{ { "--gpu-mtbf", "0" }, { "--gpu-mtbf", "'0'", "positive" } },
	{ { "--gpu-mtbf", "-5h" }, { "--gpu-mtbf", "'-5h'", "positive" } },
	{ { "--failure-rate", "0:54:16384" }, { "--failure-rate", "0:54:16384", "interruption count" } },
	{ { "--failure-rate", "419:-54:16384" }, { "--failure-rate", "days", "positive" } },
	{ { "--failure-rate", "419/54" }, { "--failure-rate", "'419/54'", "COUNT:DAYS:GPUS" } },
	{ { "--storage-bw", "-2TB/s" }, { "--storage-bw", "'-2TB/s'", "positive bandwidth" } },
	{ { "--network-bw", "0" }, { "--network-bw", "'0'", "positive bandwidth" } },
	{ { "--state-per-gpu", "4 bananas" }, { "--state-per-gpu", "'4 bananas'", "GiB" } },
	{ { "--step-time", "5 parsecs" }, { "--step-time", "'5 parsecs'", "min" } },
	{ { "--detect-timeout", "-1s" }, { "--detect-timeout", "'-1s'", "non-negative" } },
	{ { "--gpus", "1024,,2048" }, { "--gpus", "1024,,2048", "GPU count" } },
	{ { "--gpus", "4" }, { "--gpus", "4 GPUs", "--gpus-per-node" } },
	{ { "--gpus-per-node", "0" }, { "--gpus-per-node", "'0'", "1 to 1024" } },
	{ { "--spares", "many" }, { "--spares", "'many'", "auto" } },
	{ { "--spares", "150%" }, { "--spares", "'150%'", "100%" } },
	{ { "--mode", "guess" }, { "--mode", "'guess'", "analytic, montecarlo" } },
	{ { "--mc-failures", "0" }, { "--mc-failures", "'0'", "1 to" } },
	{ { "--plot", "it's" }, { "--plot", "it's", "quotes" } },
	{ { "--gpus" }, { "--gpus", "needs a value", "N[,N...]" } },
	{ { "--restart-time" }, { "--restart-time", "needs a value", "DURATION" } },
	{ { "--frobnicate" }, { "unknown option", "'--frobnicate'", "--help" } },
	{ { "-x" }, { "unknown option", "'-x'", "--help" } },
	{ { "16384" }, { "unexpected argument", "'16384'", "--help" } },
	{ { "--gpu-mtbf", "1000h", "--failure-rate", "1:1:1" },
	  { "--gpu-mtbf", "--failure-rate", "one" } },
	{ { "--bench-results", "/nonexistent/results.txt" },
	  { "--bench-results", "/nonexistent/results.txt", "No such file" } },
};

static void test_bad_input_is_refused_with_the_option_and_value_named(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
		const struct bad_input *b = &bad_inputs[i];
		struct sim_options o;
		char err[1024];
		int rc = parse(&o, err, sizeof(err), b->args[0], b->args[1], b->args[2], b->args[3],
			       NULL);

		if (rc >= 0)
			fail_msg("'%s %s' was accepted", b->args[0], b->args[1] ? b->args[1] : "");
		for (size_t j = 0; j < 3 && b->mentions[j]; j++)
			assert_mentions(err, b->mentions[j]);
	}
}

/* A bench results file in $TMPDIR with `text`; its path goes to `path`. */
static void bench_file_write(char *path, size_t len, const char *text)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, len, "%s/lcr-sim-bench-XXXXXX", dir ? dir : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_bench_results_set_lcr_times_and_options_override_them(void **state)
{
	(void)state;
	struct sim_options o;
	char path[256], err[1024];

	bench_file_write(path, sizeof(path),
			 "bench: starting\n"
			 "RESULT name=detect_p50 value=1500 unit=ms baseline=300 ratio=0.005\n"
			 "RESULT name=mesh_latency value=3 unit=us\n"
			 "RESULT name=state_transfer value=10 unit=GB/s\n"
			 "RESULT name=comm_rebuild value=4 unit=s\n"
			 "RESULT name=comm_rebuild value=5 unit=s\n");
	assert_int_equal(parse(&o, err, sizeof(err), "--bench-results", path, "--lcr-launch", "20s",
			       NULL), 0);
	unlink(path);
	assert_near(o.lcr.detect_s, 1.5, 1e-12);
	assert_int_equal(o.lcr_origin.detect.origin, SIM_FROM_BENCH);
	assert_int_equal(o.lcr_origin.detect.line, 2);
	assert_near(o.lcr.transfer_bw, 10e9, 0);
	assert_true(isnan(o.lcr.transfer_s));
	assert_near(o.lcr.rebuild_s, 5.0, 0);
	assert_int_equal(o.lcr_origin.rebuild.line, 6);
	assert_near(o.lcr.launch_s, 20.0, 0);
	assert_int_equal(o.lcr_origin.launch.origin, SIM_FROM_OPTION);
	assert_true(isnan(o.lcr.recovery_s));
}

static void test_bench_reads_the_phases_recovery_sh_prints(void **state)
{
	(void)state;
	struct sim_options o;
	char path[256], err[1024];

	bench_file_write(path, sizeof(path),
			 "RESULT name=recovery_total_seconds value=3.40 unit=s baseline=40.1 ratio=0.085\n"
			 "RESULT name=recovery_detect_seconds value=0.61 unit=s baseline=31.2 ratio=0.020\n"
			 "RESULT name=recovery_replacement_launch_seconds value=0.35 unit=s baseline=2.1 "
			 "ratio=0.167\n"
			 "RESULT name=recovery_comm_rebuild_seconds value=0.08 unit=s baseline=n/a ratio=n/a\n"
			 "RESULT name=recovery_state_fill_in_job value=400 unit=MiB/s baseline=1600 "
			 "ratio=0.25 source=replicas\n");
	assert_int_equal(parse(&o, err, sizeof(err), "--bench-results", path, NULL), 0);
	unlink(path);
	assert_near(o.lcr.detect_s, 0.61, 1e-12);
	assert_int_equal(o.lcr_origin.detect.line, 2);
	assert_near(o.lcr.launch_s, 0.35, 1e-12);
	assert_near(o.lcr.rebuild_s, 0.08, 1e-12);
	assert_near(o.lcr.transfer_bw, 400.0 * 1024 * 1024, 1e-3);
	assert_true(isnan(o.lcr.recovery_s));
}

static void test_bench_recovery_total_replaces_the_sum_of_parts(void **state)
{
	(void)state;
	struct sim_options o;
	struct sim_cluster c;
	struct sim_lcr_plan plan;
	char path[256], err[1024];

	bench_file_write(path, sizeof(path), "RESULT name=recovery_total value=12.5 unit=s\n");
	assert_int_equal(parse(&o, err, sizeof(err), "--bench-results", path, NULL), 0);
	unlink(path);
	sim_cluster_at(&o, 1024, &c);
	sim_lcr_plan(&c, 1, &plan);
	assert_near(plan.spare_down_s, 12.5, 0);
}

static void assert_bench_refused(const char *text, const char *mention1, const char *mention2)
{
	struct sim_options o;
	char path[256], err[1024], where[300];

	bench_file_write(path, sizeof(path), text);
	assert_int_equal(parse(&o, err, sizeof(err), "--bench-results", path, NULL), -EINVAL);
	unlink(path);
	snprintf(where, sizeof(where), "%s:1", path);
	assert_mentions(err, where);
	assert_mentions(err, mention1);
	assert_mentions(err, mention2);
}

static void test_bench_results_refuse_bad_lines_naming_file_line_and_field(void **state)
{
	(void)state;
	assert_bench_refused("RESULT name=detect_p50 value=2 unit=GB/s\n", "detect_p50", "'GB/s'");
	assert_bench_refused("RESULT name=state_transfer value=3 unit=GB\n", "state_transfer", "'GB'");
	assert_bench_refused("RESULT name=comm_rebuild value=fast unit=s\n", "comm_rebuild", "'fast'");
	assert_bench_refused("RESULT name=comm_rebuild value=-1 unit=s\n", "comm_rebuild", ">= 0");
	assert_bench_refused("RESULT name=comm_rebuild unit=s\n", "lacks value=", "RESULT name=");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daly_interval_matches_published_vectors),
		cmocka_unit_test(test_daly_interval_is_the_mtbf_when_a_checkpoint_outlasts_two_mtbfs),
		cmocka_unit_test(test_daly_interval_tends_to_youngs_for_cheap_checkpoints),
		cmocka_unit_test(test_llama3_failure_rate_gives_one_failure_every_3_hours),
		cmocka_unit_test(test_periodic_montecarlo_agrees_with_closed_form_at_three_scales),
		cmocka_unit_test(test_inmemory_and_lcr_montecarlo_agree_with_closed_form),
		cmocka_unit_test(test_montecarlo_repeats_itself_for_a_seed),
		cmocka_unit_test(test_failures_during_recovery_restart_it),
		cmocka_unit_test(test_spare_pool_runs_dry_as_often_as_the_poisson_tail_says),
		cmocka_unit_test(test_lcr_without_spares_always_falls_back),
		cmocka_unit_test(test_idle_spares_count_as_overhead),
		cmocka_unit_test(test_best_spare_pool_is_a_local_minimum),
		cmocka_unit_test(test_lcr_beats_both_baselines_at_llama3_scale),
		cmocka_unit_test(test_hopeless_recoveries_lose_everything_and_still_end),
		cmocka_unit_test(test_montecarlo_refuses_an_empty_run),
		cmocka_unit_test(test_units_read_common_spellings),
		cmocka_unit_test(test_options_accept_units_and_sort_sizes),
		cmocka_unit_test(test_failure_rate_option_sets_the_per_gpu_mtbf),
		cmocka_unit_test(test_bad_input_is_refused_with_the_option_and_value_named),
		cmocka_unit_test(test_bench_results_set_lcr_times_and_options_override_them),
		cmocka_unit_test(test_bench_reads_the_phases_recovery_sh_prints),
		cmocka_unit_test(test_bench_recovery_total_replaces_the_sum_of_parts),
		cmocka_unit_test(test_bench_results_refuse_bad_lines_naming_file_line_and_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
