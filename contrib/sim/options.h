/* options.h: lcr-sim's inputs: the command line, its defaults and their sources.
 *
 * sim_options_parse() turns argv into one struct sim_options, defaults first, then the
 * benchmark results file, then the options that override it. Every bad value is refused
 * with a message naming the option, the value and what is accepted. sim_cluster_at()
 * then gives the model's view of one cluster size.
 */
#ifndef LCR_SIM_OPTIONS_H
#define LCR_SIM_OPTIONS_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_SCALES 32

enum sim_mode { SIM_MODE_ANALYTIC, SIM_MODE_MONTECARLO };

enum sim_spares { SIM_SPARES_AUTO, SIM_SPARES_NODES, SIM_SPARES_PERCENT };

/* Where one of LCR's component times came from, printed with the results. */
enum sim_origin { SIM_FROM_DEFAULT, SIM_FROM_BENCH, SIM_FROM_OPTION };

struct sim_figure_origin {
	enum sim_origin origin;
	unsigned line;      /* in the bench results file */
	const char *option; /* the overriding option, or the default's source */
};

struct sim_lcr_origins {
	struct sim_figure_origin detect, launch, transfer, rebuild, recovery;
};

struct sim_options {
	enum sim_mode mode;
	unsigned long gpus[SIM_MAX_SCALES]; /* ascending */
	size_t scales;
	unsigned gpus_per_node;
	double gpu_mtbf_s;
	char failure_source[160];           /* how the failure rate was given */
	double state_bytes;
	double storage_bw;
	double network_bw;
	double step_s;
	double detect_s;
	double restart_s;
	double repair_s;
	enum sim_spares spares;
	double spares_value;                /* nodes, or percent of the job's nodes */
	struct sim_lcr_times lcr;
	struct sim_lcr_origins lcr_origin;
	uint64_t seed;
	unsigned long mc_failures;
	const char *plot_prefix;            /* NULL: no plot */
	const char *bench_path;             /* NULL: defaults for LCR's times */
	bool help;
};

void sim_options_defaults(struct sim_options *o);

/* 0, or -EINVAL (or the bench file's errno) with `err` naming the option and value. */
int sim_options_parse(struct sim_options *o, int argc, char **argv, char *err, size_t errlen);

void sim_options_usage(FILE *out);

/* The model's inputs for a job of `gpus` GPUs, and the spare pool it gets. */
void sim_cluster_at(const struct sim_options *o, unsigned long gpus, struct sim_cluster *c);
unsigned sim_spares_at(const struct sim_options *o, const struct sim_cluster *c);

#endif
