/* options.c: parse lcr-sim's command line into struct sim_options (see options.h).
 *
 * One table (option_specs) drives getopt_long, the help text and the error messages, so an
 * option is described in exactly one place. Values go through units.c; each handler checks
 * the sign and range its quantity allows and names the option when it refuses a value.
 */
#include "options.h"
#include "bench_results.h"
#include "units.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum option_id {
	OPT_MODE = 256,
	OPT_GPUS,
	OPT_GPUS_PER_NODE,
	OPT_GPU_MTBF,
	OPT_FAILURE_RATE,
	OPT_STATE_PER_GPU,
	OPT_STORAGE_BW,
	OPT_NETWORK_BW,
	OPT_STEP_TIME,
	OPT_DETECT_TIMEOUT,
	OPT_RESTART_TIME,
	OPT_SPARES,
	OPT_REPAIR_TIME,
	OPT_BENCH_RESULTS,
	OPT_LCR_DETECT,
	OPT_LCR_LAUNCH,
	OPT_LCR_REBUILD,
	OPT_LCR_RECOVERY,
	OPT_SEED,
	OPT_MC_FAILURES,
	OPT_PLOT,
	OPT_NO_PLOT,
	OPT_HELP = 'h',
};

struct option_spec {
	const char *name;
	enum option_id id;
	const char *arg; /* NULL: takes no value */
	const char *help;
};

static const struct option_spec option_specs[] = {
	{ "mode", OPT_MODE, "analytic|montecarlo",
	  "closed-form expectations, or a seeded Monte Carlo run beside them (analytic)" },
	{ "gpus", OPT_GPUS, "N[,N...]",
	  "cluster sizes (1024,2048,4096,8192,16384,32768,65536,100000)" },
	{ "gpus-per-node", OPT_GPUS_PER_NODE, "N", "GPUs in one node (8)" },
	{ "gpu-mtbf", OPT_GPU_MTBF, "DURATION",
	  "mean time between failures of one GPU (50677h, from Llama 3)" },
	{ "failure-rate", OPT_FAILURE_RATE, "COUNT:DAYS:GPUS",
	  "the same, from COUNT interruptions in DAYS days on GPUS GPUs (419:54:16384)" },
	{ "state-per-gpu", OPT_STATE_PER_GPU, "BYTES", "training state held by each GPU (4GB)" },
	{ "storage-bw", OPT_STORAGE_BW, "RATE",
	  "aggregate checkpoint storage bandwidth, read and write (2TB/s)" },
	{ "network-bw", OPT_NETWORK_BW, "RATE", "network bandwidth of one GPU (400Gb/s)" },
	{ "step-time", OPT_STEP_TIME, "DURATION", "one training step (6s)" },
	{ "detect-timeout", OPT_DETECT_TIMEOUT, "DURATION",
	  "failure detection without LCR (300s, Slurm's SlurmdTimeout)" },
	{ "restart-time", OPT_RESTART_TIME, "DURATION",
	  "relaunch of every rank, state load excluded (10min)" },
	{ "spares", OPT_SPARES, "auto|NODES|PERCENT%",
	  "LCR's spare pool; auto picks the size with the least overhead (auto)" },
	{ "repair-time", OPT_REPAIR_TIME, "DURATION",
	  "until a failed node is back in the spare pool (24h)" },
	{ "bench-results", OPT_BENCH_RESULTS, "FILE",
	  "RESULT lines from contrib/bench with LCR's measured times (none)" },
	{ "lcr-detect", OPT_LCR_DETECT, "DURATION", "LCR's failure detection (2s)" },
	{ "lcr-launch", OPT_LCR_LAUNCH, "DURATION",
	  "replacement step launch and program start (30s)" },
	{ "lcr-rebuild", OPT_LCR_REBUILD, "DURATION", "communicator rebuild (10s)" },
	{ "lcr-recovery", OPT_LCR_RECOVERY, "DURATION",
	  "failure to resume with a spare, replacing the parts above (their sum)" },
	{ "seed", OPT_SEED, "N", "Monte Carlo seed (1)" },
	{ "mc-failures", OPT_MC_FAILURES, "N", "failures per Monte Carlo run (100000)" },
	{ "plot", OPT_PLOT, "PREFIX",
	  "write PREFIX.dat, PREFIX.gp and, with gnuplot, PREFIX.png (lcr-sim-overhead)" },
	{ "no-plot", OPT_NO_PLOT, NULL, "print the table only" },
	{ "help", OPT_HELP, NULL, "show this help" },
};

#define SPEC_COUNT (sizeof(option_specs) / sizeof(option_specs[0]))

/* Llama 3 405B (arXiv:2407.21783): 419 unexpected interruptions in 54 days on 16,384 GPUs. */
#define LLAMA3_INTERRUPTIONS 419.0
#define LLAMA3_DAYS 54.0
#define LLAMA3_GPUS 16384.0

static const unsigned long default_gpus[] = { 1024, 2048, 4096, 8192, 16384, 32768, 65536, 100000 };

void sim_options_defaults(struct sim_options *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = SIM_MODE_ANALYTIC;
	o->scales = sizeof(default_gpus) / sizeof(default_gpus[0]);
	memcpy(o->gpus, default_gpus, sizeof(default_gpus));
	o->gpus_per_node = 8;
	o->gpu_mtbf_s = LLAMA3_DAYS * 86400.0 * LLAMA3_GPUS / LLAMA3_INTERRUPTIONS;
	snprintf(o->failure_source, sizeof(o->failure_source),
		 "Llama 3 405B: %.0f unexpected interruptions in %.0f days on %.0f GPUs",
		 LLAMA3_INTERRUPTIONS, LLAMA3_DAYS, LLAMA3_GPUS);
	o->state_bytes = 4e9;
	o->storage_bw = 2e12;
	o->network_bw = 400e9 / 8.0;
	o->step_s = 6.0;
	o->detect_s = 300.0;
	o->restart_s = 600.0;
	o->repair_s = 86400.0;
	o->spares = SIM_SPARES_AUTO;
	o->lcr = (struct sim_lcr_times){
		.detect_s = 2.0,
		.launch_s = 30.0,
		.rebuild_s = 10.0,
		.transfer_bw = o->network_bw,
		.transfer_s = NAN,
		.recovery_s = NAN,
	};
	o->lcr_origin.transfer.option = "--network-bw";
	o->seed = 1;
	o->mc_failures = 100000;
	o->plot_prefix = "lcr-sim-overhead";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A duration that must be > 0 (`positive`) or >= 0. */
static int take_duration(const char *option, const char *text, bool positive, double *out,
			 char *err, size_t errlen)
{
	double v;

	if (units_parse_duration(text, &v) < 0 || v < 0 || (positive && v == 0))
		return fail(err, errlen, "--%s: '%s' is not a %s duration (units: %s)", option, text,
			    positive ? "positive" : "non-negative", UNITS_DURATION_HELP);
	*out = v;
	return 0;
}

static int take_bytes(const char *option, const char *text, double *out, char *err,
		      size_t errlen)
{
	double v;

	if (units_parse_bytes(text, &v) < 0 || v <= 0)
		return fail(err, errlen, "--%s: '%s' is not a positive size (units: %s)", option,
			    text, UNITS_BYTES_HELP);
	*out = v;
	return 0;
}

static int take_bandwidth(const char *option, const char *text, double *out, char *err,
			  size_t errlen)
{
	double v;

	if (units_parse_bandwidth(text, &v) < 0 || v <= 0)
		return fail(err, errlen, "--%s: '%s' is not a positive bandwidth (units: %s)", option,
			    text, UNITS_BANDWIDTH_HELP);
	*out = v;
	return 0;
}

/* A whole number in [min, max], written in decimal digits only. */
static bool whole_number(const char *text, unsigned long long min, unsigned long long max,
			 unsigned long long *out)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(text, &end, 10);
	return *end == '\0' && errno != ERANGE && *out >= min && *out <= max;
}

static int take_count(const char *option, const char *text, unsigned long long min,
		      unsigned long long max, unsigned long long *out, char *err, size_t errlen)
{
	if (!whole_number(text, min, max, out))
		return fail(err, errlen, "--%s: '%s' is not a whole number from %llu to %llu", option,
			    text, min, max);
	return 0;
}

static int take_mode(const char *text, struct sim_options *o, char *err, size_t errlen)
{
	if (strcmp(text, "analytic") == 0)
		o->mode = SIM_MODE_ANALYTIC;
	else if (strcmp(text, "montecarlo") == 0)
		o->mode = SIM_MODE_MONTECARLO;
	else
		return fail(err, errlen, "--mode: '%s' is not a mode (accepted: analytic, montecarlo)",
			    text);
	return 0;
}

static int compare_gpus(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

static int take_gpus(const char *text, struct sim_options *o, char *err, size_t errlen)
{
	char item[32];
	unsigned long long v;
	size_t n = 0;

	for (const char *p = text;; p++) {
		size_t len = strcspn(p, ",");
		if (n == SIM_MAX_SCALES)
			return fail(err, errlen, "--gpus: more than %d sizes in '%s'", SIM_MAX_SCALES,
				    text);
		snprintf(item, sizeof(item), "%.*s", (int)len, p);
		if (len >= sizeof(item) || !whole_number(item, 1, 100000000, &v))
			return fail(err, errlen, "--gpus: '%.*s' in '%s' is not a GPU count from 1 "
				    "to 100000000", (int)len, p, text);
		o->gpus[n++] = (unsigned long)v;
		p += len;
		if (*p == '\0')
			break;
	}
	qsort(o->gpus, n, sizeof(o->gpus[0]), compare_gpus);
	o->scales = n;
	return 0;
}

/* COUNT interruptions in DAYS days on GPUS GPUs: per-GPU MTBF = DAYS * GPUS / COUNT. */
static int take_failure_rate(const char *text, struct sim_options *o, char *err, size_t errlen)
{
	double count, days, gpus;
	int used = 0;

	if (sscanf(text, "%lf:%lf:%lf%n", &count, &days, &gpus, &used) != 3 ||
	    text[used] != '\0' || !isfinite(count + days + gpus))
		return fail(err, errlen, "--failure-rate: '%s' is not COUNT:DAYS:GPUS "
			    "(e.g. 419:54:16384, Llama 3's interruptions)", text);
	if (count <= 0 || days <= 0 || gpus <= 0)
		return fail(err, errlen, "--failure-rate: '%s': the %s must be positive", text,
			    count <= 0 ? "interruption count" : days <= 0 ? "days" : "GPU count");
	o->gpu_mtbf_s = days * 86400.0 * gpus / count;
	snprintf(o->failure_source, sizeof(o->failure_source),
		 "--failure-rate: %g interruptions in %g days on %g GPUs", count, days, gpus);
	return 0;
}

static int take_spares(const char *text, struct sim_options *o, char *err, size_t errlen)
{
	size_t len = strlen(text);
	char *end;

	if (strcmp(text, "auto") == 0) {
		o->spares = SIM_SPARES_AUTO;
		return 0;
	}
	errno = 0;
	o->spares_value = strtod(text, &end);
	if (len > 1 && text[len - 1] == '%' && end == text + len - 1 && errno == 0 &&
	    o->spares_value >= 0 && o->spares_value <= 100) {
		o->spares = SIM_SPARES_PERCENT;
		return 0;
	}
	unsigned long long nodes;
	if (!whole_number(text, 0, 1000000, &nodes))
		return fail(err, errlen, "--spares: '%s' is not auto, a node count (0 to 1000000) "
			    "or a percentage of the job's nodes (0%% to 100%%)", text);
	o->spares = SIM_SPARES_NODES;
	o->spares_value = (double)nodes;
	return 0;
}

/* A prefix that is pasted into a gnuplot script between single quotes. */
static int take_plot_prefix(const char *text, struct sim_options *o, char *err, size_t errlen)
{
	if (text[0] == '\0' || strpbrk(text, "'\"\n\r\\"))
		return fail(err, errlen, "--plot: '%s' is not a usable file prefix (it must be "
			    "non-empty, without quotes, backslashes or line breaks)", text);
	o->plot_prefix = text;
	return 0;
}

/* An LCR time given on the command line: NAN until set, then it beats the bench file. */
struct lcr_overrides {
	double detect_s, launch_s, rebuild_s, recovery_s;
};

static int take_option(const struct option_spec *spec, const char *arg, struct sim_options *o,
		       struct lcr_overrides *lcr, bool *mtbf_given, char *err, size_t errlen)
{
	unsigned long long v;
	int rc;

	switch (spec->id) {
	case OPT_MODE:
		return take_mode(arg, o, err, errlen);
	case OPT_GPUS:
		return take_gpus(arg, o, err, errlen);
	case OPT_GPUS_PER_NODE:
		rc = take_count(spec->name, arg, 1, 1024, &v, err, errlen);
		if (rc == 0)
			o->gpus_per_node = (unsigned)v;
		return rc;
	case OPT_GPU_MTBF:
		*mtbf_given = true;
		snprintf(o->failure_source, sizeof(o->failure_source), "--gpu-mtbf %s", arg);
		return take_duration(spec->name, arg, true, &o->gpu_mtbf_s, err, errlen);
	case OPT_FAILURE_RATE:
		return take_failure_rate(arg, o, err, errlen);
	case OPT_STATE_PER_GPU:
		return take_bytes(spec->name, arg, &o->state_bytes, err, errlen);
	case OPT_STORAGE_BW:
		return take_bandwidth(spec->name, arg, &o->storage_bw, err, errlen);
	case OPT_NETWORK_BW:
		return take_bandwidth(spec->name, arg, &o->network_bw, err, errlen);
	case OPT_STEP_TIME:
		return take_duration(spec->name, arg, true, &o->step_s, err, errlen);
	case OPT_DETECT_TIMEOUT:
		return take_duration(spec->name, arg, false, &o->detect_s, err, errlen);
	case OPT_RESTART_TIME:
		return take_duration(spec->name, arg, false, &o->restart_s, err, errlen);
	case OPT_SPARES:
		return take_spares(arg, o, err, errlen);
	case OPT_REPAIR_TIME:
		return take_duration(spec->name, arg, false, &o->repair_s, err, errlen);
	case OPT_BENCH_RESULTS:
		o->bench_path = arg;
		return 0;
	case OPT_LCR_DETECT:
		return take_duration(spec->name, arg, false, &lcr->detect_s, err, errlen);
	case OPT_LCR_LAUNCH:
		return take_duration(spec->name, arg, false, &lcr->launch_s, err, errlen);
	case OPT_LCR_REBUILD:
		return take_duration(spec->name, arg, false, &lcr->rebuild_s, err, errlen);
	case OPT_LCR_RECOVERY:
		return take_duration(spec->name, arg, false, &lcr->recovery_s, err, errlen);
	case OPT_SEED:
		rc = take_count(spec->name, arg, 0, UINT64_MAX, &v, err, errlen);
		if (rc == 0)
			o->seed = v;
		return rc;
	case OPT_MC_FAILURES:
		rc = take_count(spec->name, arg, 1, 10000000, &v, err, errlen);
		if (rc == 0)
			o->mc_failures = (unsigned long)v;
		return rc;
	case OPT_PLOT:
		return take_plot_prefix(arg, o, err, errlen);
	case OPT_NO_PLOT:
		o->plot_prefix = NULL;
		return 0;
	case OPT_HELP:
		o->help = true;
		return 0;
	}
	return fail(err, errlen, "--%s: option not handled", spec->name);
}

static const struct option_spec *spec_by_id(int id)
{
	for (size_t i = 0; i < SPEC_COUNT; i++)
		if ((int)option_specs[i].id == id)
			return &option_specs[i];
	return NULL;
}

/* Set one component from the bench file, then from its option; keep where it came from. */
static void lcr_figure_apply(double *value, struct sim_figure_origin *origin,
			     const struct bench_figure *bench, double option_value,
			     const char *option)
{
	if (bench && bench->line) {
		*value = bench->value;
		origin->origin = SIM_FROM_BENCH;
		origin->line = bench->line;
	}
	if (!isnan(option_value)) {
		*value = option_value;
		origin->origin = SIM_FROM_OPTION;
		origin->option = option;
	}
}

/* state_transfer is a rate to scale with the state, or a measured time to use as is. */
static void lcr_transfer_apply(struct sim_options *o, const struct bench_figure *transfer)
{
	o->lcr.transfer_bw = o->network_bw;
	if (!transfer->line)
		return;
	o->lcr_origin.transfer.origin = SIM_FROM_BENCH;
	o->lcr_origin.transfer.line = transfer->line;
	if (transfer->is_bandwidth)
		o->lcr.transfer_bw = transfer->value;
	else
		o->lcr.transfer_s = transfer->value;
}

static int lcr_times_resolve(struct sim_options *o, const struct lcr_overrides *cli, char *err,
			     size_t errlen)
{
	struct bench_results bench = { 0 };
	struct sim_lcr_origins *from = &o->lcr_origin;

	if (o->bench_path) {
		int rc = bench_results_load(o->bench_path, &bench, err, errlen);
		if (rc < 0)
			return rc;
	}
	lcr_figure_apply(&o->lcr.detect_s, &from->detect, &bench.detect, cli->detect_s, "--lcr-detect");
	lcr_figure_apply(&o->lcr.launch_s, &from->launch, &bench.launch, cli->launch_s, "--lcr-launch");
	lcr_figure_apply(&o->lcr.rebuild_s, &from->rebuild, &bench.rebuild, cli->rebuild_s,
			 "--lcr-rebuild");
	lcr_figure_apply(&o->lcr.recovery_s, &from->recovery, &bench.recovery, cli->recovery_s,
			 "--lcr-recovery");
	lcr_transfer_apply(o, &bench.transfer);
	return 0;
}

static int options_check(const struct sim_options *o, bool mtbf_given, bool rate_given,
			 char *err, size_t errlen)
{
	if (mtbf_given && rate_given)
		return fail(err, errlen, "--gpu-mtbf and --failure-rate both set the failure rate: "
			    "give one of them");
	if (o->gpus[0] < o->gpus_per_node)
		return fail(err, errlen, "--gpus: %lu GPUs is less than one node (--gpus-per-node %u)",
			    o->gpus[0], o->gpus_per_node);
	return 0;
}

int sim_options_parse(struct sim_options *o, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[SPEC_COUNT + 1];
	struct lcr_overrides cli = { NAN, NAN, NAN, NAN };
	bool mtbf_given = false, rate_given = false;
	int id, rc;

	sim_options_defaults(o);
	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < SPEC_COUNT; i++)
		longopts[i] = (struct option){ option_specs[i].name,
					       option_specs[i].arg ? required_argument : no_argument,
					       NULL, (int)option_specs[i].id };
	optind = 0;
	opterr = 0;
	while ((id = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		const char *given = argv[optind - 1];
		const struct option_spec *spec = spec_by_id(id == ':' ? optopt : id);
		if (id == '?' || !spec)
			return fail(err, errlen, "unknown option '%s' (see --help)", given);
		if (id == ':')
			return fail(err, errlen, "%s needs a value: %s", given, spec->arg);
		rate_given |= id == OPT_FAILURE_RATE;
		rc = take_option(spec, optarg, o, &cli, &mtbf_given, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s' (lcr-sim takes options only; "
			    "see --help)", argv[optind]);
	rc = options_check(o, mtbf_given, rate_given, err, errlen);
	return rc < 0 ? rc : lcr_times_resolve(o, &cli, err, errlen);
}

void sim_options_usage(FILE *out)
{
	fputs("Usage: lcr-sim [OPTION]...\n"
	      "Daily overhead of failures, as a share of GPU-time, for periodic checkpointing at\n"
	      "the Young/Daly interval, in-memory checkpointing every step, and LCR.\n\n"
	      "Options (defaults in parentheses):\n", out);
	for (size_t i = 0; i < SPEC_COUNT; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", option_specs[i].name,
			 option_specs[i].arg ? " " : "", option_specs[i].arg ? option_specs[i].arg : "");
		fprintf(out, "  %s\n      %s\n", left, option_specs[i].help);
	}
	fprintf(out, "\nDURATION: a number and a unit: %s.\n"
		"BYTES: a number and a unit: %s.\n"
		"RATE: a number and a unit: %s; the /s may be left out.\n"
		"See contrib/sim/README.md for the model, its formulas and the bench result names.\n",
		UNITS_DURATION_HELP, UNITS_BYTES_HELP, UNITS_BANDWIDTH_HELP);
}

void sim_cluster_at(const struct sim_options *o, unsigned long gpus, struct sim_cluster *c)
{
	*c = (struct sim_cluster){
		.gpus = gpus,
		.gpus_per_node = o->gpus_per_node,
		.gpu_mtbf_s = o->gpu_mtbf_s,
		.state_bytes = o->state_bytes,
		.storage_bw = o->storage_bw,
		.network_bw = o->network_bw,
		.step_s = o->step_s,
		.detect_s = o->detect_s,
		.restart_s = o->restart_s,
		.repair_s = o->repair_s,
		.lcr = o->lcr,
	};
}

unsigned sim_spares_at(const struct sim_options *o, const struct sim_cluster *c)
{
	switch (o->spares) {
	case SIM_SPARES_NODES:
		return (unsigned)o->spares_value;
	case SIM_SPARES_PERCENT:
		return (unsigned)ceil(o->spares_value / 100.0 * (double)sim_job_nodes(c));
	case SIM_SPARES_AUTO:
		break;
	}
	return sim_lcr_best_spares(c);
}
