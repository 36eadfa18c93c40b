/* bench_results.h: read LCR's measured component times from contrib/bench output.
 *
 * The benchmarks print one line per figure:
 *   RESULT name=<figure> value=<v> unit=<u> baseline=<b> ratio=<r>
 * Other lines are skipped, and so are figures the model has no use for. The names used:
 *   detect_p50          failure to confirmed detection              (a duration)
 *   replacement_launch  replacement step launched, program started  (a duration)
 *   state_transfer      into one replacement GPU                    (a bandwidth, or a duration)
 *   comm_rebuild        communicators that held the dead rank       (a duration)
 *   recovery_total      failure to training resumed, all included   (a duration)
 * When a name appears on several lines, the last one wins.
 */
#ifndef LCR_SIM_BENCH_RESULTS_H
#define LCR_SIM_BENCH_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

struct bench_figure {
	double value;      /* seconds, or bytes/s when is_bandwidth */
	bool is_bandwidth;
	unsigned line;     /* where the file gave it; 0 when it did not */
};

struct bench_results {
	struct bench_figure detect;
	struct bench_figure launch;
	struct bench_figure transfer;
	struct bench_figure rebuild;
	struct bench_figure recovery;
};

/* Fill `out` from the file at `path`; 0, or a negative errno code with `err` saying which
 * line and field were wrong. */
int bench_results_load(const char *path, struct bench_results *out, char *err, size_t errlen);

#endif
