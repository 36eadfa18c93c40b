/* options.h: lcrd's command line. Every option is a long option; see lcrd(8). */
#ifndef LCR_HELPER_OPTIONS_H
#define LCR_HELPER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"
#include "log.h"

struct lcrd_options {
	uint32_t job_id;
	uint32_t step_id;
	uint32_t node_id;
	uint32_t node_count;
	char node_name[WIRE_NODE_NAME_MAX + 1];
	uint32_t ranks[WIRE_MAX_LOCAL_RANKS];
	size_t rank_count;
	char *step_nodes; /* Slurm hostlists, kept for the mesh */
	char *job_nodes;
	char *runtime_dir; /* NULL: the foreground default */
	int plugin_fd;     /* -1 in foreground mode */
	bool foreground;
	uint64_t region_quota; /* bytes; 0: unlimited */
	enum log_level log_level;
};

enum options_result {
	OPTIONS_RUN = 0,  /* parsed: run the helper */
	OPTIONS_EXIT = 1, /* --help or --version was printed: exit 0 */
};

/* Parses argv into *o. Returns OPTIONS_RUN / OPTIONS_EXIT, or -EINVAL after writing a
 * message naming the bad option into err[errlen]. */
int options_parse(int argc, char **argv, struct lcrd_options *o, char *err, size_t errlen);

void options_free(struct lcrd_options *o);

#endif
