/* report.c: print lcr-sim's assumptions and table, write the plot data and gnuplot script,
 * and run gnuplot when it is installed (see report.h). */
#include "report.h"
#include "units.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* Room for "bench PATH:LINE" with a long path. */
#define ORIGIN_MAX 512

static void origin_text(const struct sim_options *o, const struct sim_figure_origin *f,
			char *buf, size_t len)
{
	switch (f->origin) {
	case SIM_FROM_BENCH:
		snprintf(buf, len, "bench %s:%u", o->bench_path, f->line);
		return;
	case SIM_FROM_OPTION:
		snprintf(buf, len, "%s", f->option);
		return;
	case SIM_FROM_DEFAULT:
		snprintf(buf, len, "default%s%s", f->option ? ": " : "", f->option ? f->option : "");
		return;
	}
}

/* "2 s (default)": a component time and where it came from. */
static void figure_text(const struct sim_options *o, double seconds,
			const struct sim_figure_origin *f, char *buf, size_t len)
{
	char value[32], origin[ORIGIN_MAX];

	units_format_duration(seconds, value, sizeof(value));
	origin_text(o, f, origin, sizeof(origin));
	snprintf(buf, len, "%s (%s)", value, origin);
}

static void transfer_text(const struct sim_options *o, char *buf, size_t len)
{
	const struct sim_figure_origin *f = &o->lcr_origin.transfer;
	char state[32], rate[32], origin[ORIGIN_MAX];

	origin_text(o, f, origin, sizeof(origin));
	if (!isnan(o->lcr.transfer_s)) {
		units_format_duration(o->lcr.transfer_s, state, sizeof(state));
		snprintf(buf, len, "%s (%s, as measured)", state, origin);
		return;
	}
	units_format_bytes(o->state_bytes, state, sizeof(state));
	units_format_bandwidth(o->lcr.transfer_bw, rate, sizeof(rate));
	snprintf(buf, len, "%s at %s per GPU (%s)", state, rate, origin);
}

/* The spare path, from its parts or from the one measured total. */
static void report_lcr_spare_path(FILE *out, const struct sim_options *o, const char *detect)
{
	const struct sim_lcr_origins *from = &o->lcr_origin;
	char launch[2 * ORIGIN_MAX], transfer[2 * ORIGIN_MAX], rebuild[2 * ORIGIN_MAX];
	char recovery[2 * ORIGIN_MAX], total[32];
	struct sim_cluster c;
	struct sim_lcr_plan plan;

	if (!isnan(o->lcr.recovery_s)) {
		figure_text(o, o->lcr.recovery_s, &from->recovery, recovery, sizeof(recovery));
		fprintf(out, "  LCR          with a free spare: failure to resume %s, all included,\n"
			"               and at most the step in flight lost\n", recovery);
		return;
	}
	sim_cluster_at(o, o->gpus[0], &c);
	sim_lcr_plan(&c, 1, &plan);
	units_format_duration(plan.spare_down_s, total, sizeof(total));
	figure_text(o, o->lcr.launch_s, &from->launch, launch, sizeof(launch));
	transfer_text(o, transfer, sizeof(transfer));
	figure_text(o, o->lcr.rebuild_s, &from->rebuild, rebuild, sizeof(rebuild));
	fprintf(out, "  LCR          with a free spare: detection %s\n"
		"               + replacement launch %s\n"
		"               + state transfer from replicas %s\n"
		"               + communicator rebuild %s\n"
		"               = %s, and at most the step in flight lost\n",
		detect, launch, transfer, rebuild, total);
}

static void report_lcr_assumptions(FILE *out, const struct sim_options *o)
{
	char detect[2 * ORIGIN_MAX];

	figure_text(o, o->lcr.detect_s, &o->lcr_origin.detect, detect, sizeof(detect));
	report_lcr_spare_path(out, o, detect);
	fprintf(out, "               no free spare: detection %s + JIT checkpoint + restart of\n"
		"               every rank + state load, and at most the step in flight lost\n",
		detect);
}

static void report_spare_assumptions(FILE *out, const struct sim_options *o)
{
	char repair[32];

	units_format_duration(o->repair_s, repair, sizeof(repair));
	if (o->spares == SIM_SPARES_AUTO)
		fprintf(out, "  spares       auto: the pool size that gives LCR the least overhead\n");
	else if (o->spares == SIM_SPARES_PERCENT)
		fprintf(out, "  spares       %g%% of the job's nodes, rounded up\n", o->spares_value);
	else
		fprintf(out, "  spares       %.0f nodes\n", o->spares_value);
	fprintf(out, "               idle spare GPUs count as overhead; a failed node is back in\n"
		"               the pool %s later\n", repair);
}

void report_assumptions(FILE *out, const struct sim_options *o)
{
	char mtbf[32], state[32], storage[32], network[32], step[32], detect[32], restart[32];

	units_format_duration(o->gpu_mtbf_s, mtbf, sizeof(mtbf));
	units_format_bytes(o->state_bytes, state, sizeof(state));
	units_format_bandwidth(o->storage_bw, storage, sizeof(storage));
	units_format_bandwidth(o->network_bw, network, sizeof(network));
	units_format_duration(o->step_s, step, sizeof(step));
	units_format_duration(o->detect_s, detect, sizeof(detect));
	units_format_duration(o->restart_s, restart, sizeof(restart));

	fprintf(out, "lcr-sim: daily overhead of failures, %% of GPU-time (%s)\n\n",
		o->mode == SIM_MODE_ANALYTIC ? "analytic model" : "Monte Carlo and analytic model");
	fprintf(out, "Assumptions\n"
		"  failures     Poisson, per-GPU MTBF %s\n"
		"               (%s);\n"
		"               each failure takes one node out; a failure during a recovery\n"
		"               restarts it\n", mtbf, o->failure_source);
	fprintf(out, "  job          %u GPUs per node, %s of state per GPU, %s per step\n",
		o->gpus_per_node, state, step);
	fprintf(out, "  storage      %s aggregate; a checkpoint writes every GPU's state and a\n"
		"               restart reads it back at the same rate\n", storage);
	fprintf(out, "  periodic     synchronous checkpoint at Daly's optimal interval; a failure\n"
		"               costs detection %s + restart of every rank %s + state load,\n"
		"               and the work since the last checkpoint\n", detect, restart);
	fprintf(out, "  in-memory    Gemini-like: each GPU's state copied to a peer's CPU memory at\n"
		"               %s, every step it fits in, hidden behind training; a failure\n"
		"               costs detection + restart of every rank + fetch from the peer,\n"
		"               and the work since the last copy\n", network);
	report_lcr_assumptions(out, o);
	report_spare_assumptions(out, o);
	fprintf(out, "  overhead     1 - useful GPU-time / GPU-time held (spares included); the\n"
		"               same share of every day's GPU-hours\n\n");
}

static void percent_text(double fraction, char *buf, size_t len)
{
	snprintf(buf, len, "%.3g%%", 100.0 * fraction);
}

/* GPU-hours per day that LCR loses fewer than a strategy with `overhead`. */
static double gpu_hours_saved(const struct sim_row *r, double overhead)
{
	double lcr_gpus = (double)r->lcr.gpus + (double)r->lcr.spare_nodes * r->lcr.gpus_per_node;

	return 24.0 * (overhead * (double)r->cluster.gpus - r->lcr_overhead * lcr_gpus);
}

static void report_analytic_table(FILE *out, const struct sim_row *rows, size_t n)
{
	static const char *const header[3][12] = {
		{ "GPUs", "spares", "job MTBF", "fail/day", "ckpt", "interval", "periodic", "in-memory",
		  "LCR", "LCR:", "LCR saves", "LCR saves" },
		{ "", "", "", "", "write", "(Daly)", "", "", "", "no spare", "GPU-h/day", "GPU-h/day" },
		{ "", "", "", "", "", "", "", "", "", "", "vs periodic", "vs in-mem" },
	};
	for (int i = 0; i < 3; i++)
		fprintf(out, "%7s %6s %9s %8s %9s %9s %9s %9s %8s %8s %12s %12s\n", header[i][0],
			header[i][1], header[i][2], header[i][3], header[i][4], header[i][5],
			header[i][6], header[i][7], header[i][8], header[i][9], header[i][10],
			header[i][11]);
	for (size_t i = 0; i < n; i++) {
		const struct sim_row *r = &rows[i];
		char mtbf[32], ckpt[32], interval[32], periodic[16], inmemory[16], lcr[16], dry[16];

		units_format_duration(r->periodic.mtbf_s, mtbf, sizeof(mtbf));
		units_format_duration(r->periodic.ckpt_s, ckpt, sizeof(ckpt));
		units_format_duration(r->periodic.work_s, interval, sizeof(interval));
		percent_text(r->periodic_overhead, periodic, sizeof(periodic));
		percent_text(r->inmemory_overhead, inmemory, sizeof(inmemory));
		percent_text(r->lcr_overhead, lcr, sizeof(lcr));
		percent_text(r->spare_exhaustion, dry, sizeof(dry));
		fprintf(out, "%7lu %6u %9s %8.2f %9s %9s %9s %9s %8s %8s %12.0f %12.0f\n",
			r->cluster.gpus, r->lcr.spare_nodes, mtbf, 86400.0 / r->periodic.mtbf_s, ckpt,
			interval, periodic, inmemory, lcr, dry, gpu_hours_saved(r, r->periodic_overhead),
			gpu_hours_saved(r, r->inmemory_overhead));
	}
}

/* "2.31% (2.30%)": Monte Carlo, then the closed form. */
static void pair_text(double mc, double analytic, char *buf, size_t len)
{
	char a[16], b[16];

	percent_text(mc, a, sizeof(a));
	percent_text(analytic, b, sizeof(b));
	snprintf(buf, len, "%s (%s)", a, b);
}

static void report_montecarlo_table(FILE *out, const struct sim_options *o,
				    const struct sim_row *rows, size_t n)
{
	fprintf(out, "Monte Carlo: %lu failures per run, seed %" PRIu64 "; closed form in "
		"parentheses\n\n", o->mc_failures, o->seed);
	fprintf(out, "%7s %6s %10s %19s %19s %19s %11s %11s\n", "GPUs", "spares", "sim. days",
		"periodic", "in-memory", "LCR", "LCR: fail.", "LCR: no");
	fprintf(out, "%7s %6s %10s %19s %19s %19s %11s %11s\n", "", "", "(LCR run)", "", "", "",
		"in recov.", "spare");
	for (size_t i = 0; i < n; i++) {
		const struct sim_row *r = &rows[i];
		char periodic[40], inmemory[40], lcr[40], in_recovery[16], no_spare[16];
		double failures = (double)r->mc_lcr.failures;

		pair_text(r->mc_periodic.overhead, r->periodic_overhead, periodic, sizeof(periodic));
		pair_text(r->mc_inmemory.overhead, r->inmemory_overhead, inmemory, sizeof(inmemory));
		pair_text(r->mc_lcr.overhead, r->lcr_overhead, lcr, sizeof(lcr));
		percent_text((double)r->mc_lcr.failures_in_recovery / failures, in_recovery,
			     sizeof(in_recovery));
		percent_text((double)r->mc_lcr.fallbacks / failures, no_spare, sizeof(no_spare));
		fprintf(out, "%7lu %6u %10.0f %19s %19s %19s %11s %11s\n", r->cluster.gpus,
			r->lcr.spare_nodes, r->mc_lcr.simulated_s / 86400.0, periodic, inmemory, lcr,
			in_recovery, no_spare);
	}
}

void report_table(FILE *out, const struct sim_options *o, const struct sim_row *rows, size_t n)
{
	if (o->mode == SIM_MODE_MONTECARLO)
		report_montecarlo_table(out, o, rows, n);
	else
		report_analytic_table(out, rows, n);
}

static int data_write(const char *path, const struct sim_row *rows, size_t n, char *err,
		      size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "# lcr-sim: overhead in %% of GPU-time; Monte Carlo columns are NaN when not run\n"
		"# gpus periodic in-memory lcr mc-periodic mc-in-memory mc-lcr\n");
	for (size_t i = 0; i < n; i++) {
		const struct sim_row *r = &rows[i];
		fprintf(f, "%lu %.6g %.6g %.6g %.6g %.6g %.6g\n", r->cluster.gpus,
			100.0 * r->periodic_overhead, 100.0 * r->inmemory_overhead,
			100.0 * r->lcr_overhead, r->has_mc ? 100.0 * r->mc_periodic.overhead : NAN,
			r->has_mc ? 100.0 * r->mc_inmemory.overhead : NAN,
			r->has_mc ? 100.0 * r->mc_lcr.overhead : NAN);
	}
	if (fclose(f) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int script_write(const char *prefix, const struct sim_options *o, bool has_mc, char *err,
			size_t errlen)
{
	char path[4096], mtbf[32], state[32], storage[32];
	FILE *f;

	snprintf(path, sizeof(path), "%s.gp", prefix);
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		return -errno;
	}
	units_format_duration(o->gpu_mtbf_s, mtbf, sizeof(mtbf));
	units_format_bytes(o->state_bytes, state, sizeof(state));
	units_format_bandwidth(o->storage_bw, storage, sizeof(storage));
	fprintf(f, "# %s.gp: written by lcr-sim; draws %s.png from %s.dat.\n"
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"    set terminal pngcairo size 1000,640 noenhanced\n"
		"} else {\n"
		"    set terminal png size 1000,640 noenhanced\n"
		"}\n"
		"set output '%s.png'\n"
		"set title 'Daily overhead of failures (per-GPU MTBF %s, %s per GPU, storage %s)'\n"
		"set xlabel 'GPUs in the job'\n"
		"set ylabel 'overhead, %% of GPU-time'\n"
		"set logscale xy\n"
		"set xrange [800:130000]\n"
		"set grid\n"
		"set key top left\n"
		"plot '%s.dat' using 1:2 with linespoints lw 2 title 'periodic, Young/Daly interval', \\\n"
		"     '' using 1:3 with linespoints lw 2 title 'in-memory every step (Gemini-like)', \\\n"
		"     '' using 1:4 with linespoints lw 2 title 'LCR'%s\n",
		prefix, prefix, prefix, prefix, mtbf, state, storage, prefix, has_mc ? ", \\" : "");
	if (has_mc)
		fprintf(f, "     '' using 1:5 with points pt 6 ps 2 title 'periodic, Monte Carlo', \\\n"
			"     '' using 1:6 with points pt 8 ps 2 title 'in-memory, Monte Carlo', \\\n"
			"     '' using 1:7 with points pt 4 ps 2 title 'LCR, Monte Carlo'\n");
	if (fclose(f) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Run `gnuplot SCRIPT`; -ENOENT when gnuplot is not installed. */
static int gnuplot_run(const char *script, char *err, size_t errlen)
{
	char *argv[] = { "gnuplot", (char *)script, NULL };
	pid_t pid;
	int status;
	int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);

	if (rc != 0) {
		snprintf(err, errlen, "cannot run gnuplot: %s", strerror(rc));
		return -rc;
	}
	if (waitpid(pid, &status, 0) < 0) {
		snprintf(err, errlen, "cannot wait for gnuplot: %s", strerror(errno));
		return -errno;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "gnuplot failed on '%s' (%s %d)", script,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -EIO;
	}
	return 0;
}

int report_plot(FILE *out, const struct sim_options *o, const struct sim_row *rows, size_t n,
		char *err, size_t errlen)
{
	const char *prefix = o->plot_prefix;
	char data[4096], script[4096];
	int rc;

	snprintf(data, sizeof(data), "%s.dat", prefix);
	snprintf(script, sizeof(script), "%s.gp", prefix);
	rc = data_write(data, rows, n, err, errlen);
	if (rc == 0)
		rc = script_write(prefix, o, n > 0 && rows[0].has_mc, err, errlen);
	if (rc < 0)
		return rc;
	rc = gnuplot_run(script, err, errlen);
	if (rc == -ENOENT) {
		fprintf(out, "\ngnuplot is not installed (not found in PATH): wrote %s and %s; install "
			"it (Debian: apt-get install gnuplot-nox) and run 'gnuplot %s' to draw %s.png\n",
			data, script, script, prefix);
		return 0;
	}
	if (rc == 0)
		fprintf(out, "\nwrote %s, %s and %s.png\n", data, script, prefix);
	return rc;
}
