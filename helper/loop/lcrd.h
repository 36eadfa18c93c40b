/* lcrd.h: the helper daemon's state, one struct per process, handed to every module. It
 * ties together the options, the runtime directory, the event loop and the tables the
 * modules own (tasks and ranks, regions, the key-value store, the clients). */
#ifndef LCR_HELPER_LCRD_H
#define LCR_HELPER_LCRD_H

#include <stdbool.h>
#include <stdint.h>

#include "internal/wire.h"
#include "loop/loop.h"
#include "loop/options.h"
#include "loop/regions.h"
#include "loop/runtime_dir.h"

struct control;
struct plugin_channel;
struct tasks;
struct kv;
struct jobkv;
struct mesh;
struct ckpt;
struct ckpt_restore;
struct snapshot;
struct mesh_ckpt;
struct recovery;
struct recovery_timeline;

struct lcrd {
	struct lcrd_options opt;
	struct runtime_dir dir;
	struct loop *loop;
	struct control *control;       /* control socket and its clients (control.c) */
	struct plugin_channel *plugin; /* the plugin's socketpair, or NULL (plugin_channel.c) */
	struct tasks *tasks;           /* local ranks (tasks.c) */
	struct region_table regions;   /* state memory (regions.c) */
	struct kv *kv;                 /* key-value store and barriers (kv.c) */
	struct jobkv *jobkv;           /* the job-wide key-value store (jobkv.c) */
	struct mesh *mesh;             /* the step's helpers, failure detection (mesh.c) */
	struct ckpt *ckpt;             /* checkpoints (ckpt.c) */
	struct ckpt_restore *restore;  /* the checkpoint restored from (ckpt_restore.c) */
	struct mesh_ckpt *mesh_ckpt;   /* the checkpoint flow (mesh_ckpt.c), NULL until used */
	/* told of each checkpoint's end on this helper (mesh_ckpt_on_end), or NULL */
	void (*mesh_ckpt_ended)(struct lcrd *d, const struct wire_ckpt_result *r);
	struct snapshot *snapshot;     /* snapshots and their copies (snapshot.c), or NULL */
	struct recovery_timeline *timeline; /* this helper's timing of a recovery */
	struct recovery *recovery;     /* replacing failed nodes (recovery.c), NULL until used */
	uint64_t started_ms;
	enum wire_helper_state state;
	int signal_fd;
	bool failed; /* set before loop_request_stop when the helper failed: lcrd exits 1 */
};

/* Tells whoever started lcrd where it listens and that it serves: the plugin, or stdout
 * in foreground ("LCR_SOCKET=..."). At start, or for a replacement once it has joined the
 * mesh. 0 or -errno. */
int lcrd_announce(struct lcrd *d);


#endif
