/* report.h: what lcr-sim prints and draws: the assumptions, the table, the plot files.
 *
 * One struct sim_row holds everything computed for one cluster size; the report functions
 * only format rows, they compute nothing of the model.
 */
#ifndef LCR_SIM_REPORT_H
#define LCR_SIM_REPORT_H

#include "model.h"
#include "options.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sim_row {
	struct sim_cluster cluster;
	struct sim_cr_plan periodic;
	struct sim_cr_plan inmemory;
	struct sim_lcr_plan lcr;
	double periodic_overhead; /* closed form, fraction of GPU-time */
	double inmemory_overhead;
	double lcr_overhead;
	double spare_exhaustion;
	bool has_mc;
	struct sim_mc_result mc_periodic;
	struct sim_mc_result mc_inmemory;
	struct sim_mc_result mc_lcr;
};

void report_assumptions(FILE *out, const struct sim_options *o);
void report_table(FILE *out, const struct sim_options *o, const struct sim_row *rows, size_t n);

/* Write PREFIX.dat and PREFIX.gp, then run gnuplot on them if it is installed (saying so on
 * `out` when it is not). 0, or a negative errno code with `err` saying what failed. */
int report_plot(FILE *out, const struct sim_options *o, const struct sim_row *rows, size_t n,
		char *err, size_t errlen);

#endif
