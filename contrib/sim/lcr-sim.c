/* lcr-sim.c: the overhead simulator's command-line program.
 *
 * For each cluster size it derives the three strategies' plans from the options
 * (options.c), evaluates them in closed form and, in Monte Carlo mode, by simulation
 * (model.c), then prints the assumptions and the table and writes the plot (report.c).
 * Exit status: 0 on success, 1 when a computation or the plot fails, 2 on bad usage.
 */
#include "model.h"
#include "options.h"
#include "report.h"

#include <stdio.h>
#include <string.h>

static int row_evaluate(const struct sim_options *o, unsigned long gpus, struct sim_row *row)
{
	int rc;

	memset(row, 0, sizeof(*row));
	sim_cluster_at(o, gpus, &row->cluster);
	sim_periodic_plan(&row->cluster, &row->periodic);
	sim_inmemory_plan(&row->cluster, &row->inmemory);
	sim_lcr_plan(&row->cluster, sim_spares_at(o, &row->cluster), &row->lcr);
	row->periodic_overhead = sim_cr_overhead(&row->periodic);
	row->inmemory_overhead = sim_cr_overhead(&row->inmemory);
	row->lcr_overhead = sim_lcr_overhead(&row->lcr);
	row->spare_exhaustion = sim_spare_exhaustion(&row->lcr);
	if (o->mode != SIM_MODE_MONTECARLO)
		return 0;
	row->has_mc = true;
	rc = sim_mc_cr(&row->periodic, o->mc_failures, o->seed, &row->mc_periodic);
	if (rc == 0)
		rc = sim_mc_cr(&row->inmemory, o->mc_failures, o->seed, &row->mc_inmemory);
	if (rc == 0)
		rc = sim_mc_lcr(&row->lcr, o->mc_failures, o->seed, &row->mc_lcr);
	return rc;
}

int main(int argc, char **argv)
{
	static struct sim_row rows[SIM_MAX_SCALES];
	struct sim_options o;
	char err[1024];
	int rc = sim_options_parse(&o, argc, argv, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "lcr-sim: %s\n", err);
		return 2;
	}
	if (o.help) {
		sim_options_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < o.scales; i++) {
		rc = row_evaluate(&o, o.gpus[i], &rows[i]);
		if (rc < 0) {
			fprintf(stderr, "lcr-sim: Monte Carlo run at %lu GPUs failed: %s\n", o.gpus[i],
				strerror(-rc));
			return 1;
		}
	}
	report_assumptions(stdout, &o);
	report_table(stdout, &o, rows, o.scales);
	if (o.plot_prefix) {
		rc = report_plot(stdout, &o, rows, o.scales, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "lcr-sim: %s\n", err);
			return 1;
		}
	}
	return 0;
}
