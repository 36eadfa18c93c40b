/* options.h: lcrd's command line. Every option is a long option; see lcrd(8). The options
 * through which the plugin passes the site's and the user's settings are the rows of
 * lcr_settings[] with an lcrd_arg (internal/settings.h), with their defaults and bounds. */
#ifndef LCR_HELPER_OPTIONS_H
#define LCR_HELPER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/parse.h"
#include "internal/settings.h"
#include "internal/wire.h"
#include "loop/log.h"

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
	/* checkpoints (see doc/checkpoint.md) */
	char *ckpt_dir;        /* the job's checkpoint directory (step-<S>/ inside), or NULL */
	enum lcr_restore_mode restore; /* its values are the wire's restore modes */
	char *restore_path;    /* the checkpoint of --restore=PATH */
	uint32_t ckpt_keep;    /* complete checkpoints kept; 0: all */
	struct lcr_path_list ckpt_roots; /* the site's allowed roots; empty: anywhere */
	/* the mesh (see doc/mesh.md) */
	char *rendezvous;          /* "HOST:PORT" of the step's rendezvous; NULL: a mesh of one */
	char *munge_socket;        /* NULL: MUNGE's default */
	uint32_t detect_timeout_ms; /* silence before a node is suspected */
	uint32_t heartbeat_peers;  /* ring successors each helper sends heartbeats to */
	bool wire_encryption;      /* frames after the handshake encrypted, not only authenticated */
	/* --rendezvous-server mode */
	bool rendezvous_server;
	int listen_fd;             /* an inherited listening socket, or -1 */
	char *listen;              /* "HOST:PORT" to listen on (port 0: any), or NULL */
	int parent_pidfd;          /* exit when this process ends, or -1 */
	uint32_t rendezvous_wait_s; /* give up (server) or run alone (helper) after this */
	/* in-job recovery (doc/mesh.md, "Replacement and rejoin") */
	enum lcr_replace_mode replace; /* what the leader does after a node failure */
	uint32_t replace_timeout_s; /* one attempt, from launch to the join */
	char *launcher;             /* the program that starts a replacement ("srun") */
	char *rejoin;               /* "HOST:PORT": this helper replaces --node-id, or NULL */
	int job_env_fd;             /* the job's environment for the launcher (job_env.h), or -1 */
	char **program;             /* the step's program and arguments (after "--"), or NULL */
	int program_argc;
	/* redundancy for state without a replica (doc/redundancy.md) */
	enum lcr_redundancy_mode redundancy; /* none, copy, erasure, or auto until lcrd starts */
	bool redundancy_auto;        /* redundancy was chosen by auto (snapshot_create) */
	uint32_t redundancy_copies;  /* with copy: nodes that hold each node's snapshot */
	uint32_t redundancy_group_size; /* with erasure: nodes per parity group (at least) */
	uint32_t redundancy_parity;  /* with erasure: parity blocks per stripe */
	uint32_t snapshot_every;     /* committed steps between two snapshots */
	uint32_t snapshot_hold_max_ms; /* the longest an update waits for a snapshot's copy */
	uint64_t redundancy_memory_max; /* bytes of host memory for redundancy; 0: no limit */
	/* each setting's text as the command line gave it (in argv, which outlives the
	 * options), or NULL: lcrd's default; the replacement's launcher passes them on */
	const char *setting_given[LCR_SETTING_COUNT];
};

enum options_result {
	OPTIONS_RUN = 0,  /* parsed: run the helper */
	OPTIONS_EXIT = 1, /* --help or --version was printed: exit 0 */
};

/* Parses argv into *o. Returns OPTIONS_RUN / OPTIONS_EXIT, or -EINVAL after writing a
 * message naming the bad option into err[errlen]. */
int options_parse(int argc, char **argv, struct lcrd_options *o, char *err, size_t errlen);

void options_free(struct lcrd_options *o);

/* Splits "HOST:PORT" or "[V6HOST]:PORT" into host[cap] and *port: 0 or -EINVAL. */
int options_split_host_port(const char *text, char *host, size_t cap, uint16_t *port);

#endif
