/* runtime_dir.h: where a helper lives on its node. The plugin creates ROOT/<uid>, owned by
 * the job's user, mode 0700, and passes it as --runtime-dir; lcrd creates
 * <runtime-dir>/<job>.<step>.<node-name>/ (0700) holding lcrd.sock and lcrd.pid, and removes
 * them on a clean exit. lcrctl finds helpers by the same layout. */
#ifndef LCR_HELPER_RUNTIME_DIR_H
#define LCR_HELPER_RUNTIME_DIR_H

#include <limits.h>
#include <stdbool.h>

#include "internal/wire.h"
#include "loop/options.h"

struct runtime_dir {
	char base[PATH_MAX];                  /* --runtime-dir, or the foreground default */
	char dir[PATH_MAX];                   /* base/<job>.<step>.<node-name> */
	char socket_path[WIRE_PATH_MAX + 1];  /* dir/lcrd.sock */
	char pid_path[PATH_MAX];              /* dir/lcrd.pid */
	bool created;
};

/* Checks (or, in foreground mode without --runtime-dir, creates) the base directory: it
 * must be a directory owned by our uid and closed to group and others. Then creates the
 * helper's own directory, refusing when a live lcrd already serves it (a stale one left by
 * a crash is cleaned up). Logs why it fails; returns 0 or -errno. */
int runtime_dir_prepare(struct runtime_dir *rd, const struct lcrd_options *o);

/* Writes our pid into lcrd.pid: 0 or -errno. */
int runtime_dir_write_pid(struct runtime_dir *rd);

/* Removes lcrd.sock, lcrd.pid and the directory, if we created them. */
void runtime_dir_remove(struct runtime_dir *rd);

#endif
