/* command_async.h: a short command run from lcrd's event loop without blocking it (the
 * Slurm queries a leader makes during a recovery: squeue, sinfo, scancel, slurm_query.h).
 * The command is started with process_start in a process group of its own, its stdout
 * captured through a pipe the loop watches, stderr discarded, its exit watched with a pidfd
 * (pidfd_watch.h), and it is killed (its whole group) after a timeout. When it has exited
 * and its output has ended, or the timeout struck, a callback gets the result on the loop.
 * Meanwhile the loop serves heartbeats, clients and the mesh as usual. */
#ifndef LCR_HELPER_COMMAND_ASYNC_H
#define LCR_HELPER_COMMAND_ASYNC_H

#include <stddef.h>

#include "loop/loop.h"

struct command_async;

/* The command c ended: rc is 0 when it exited 0, else -ETIMEDOUT (killed after the
 * timeout), -EIO (non-zero exit or killed by a signal) or -errno, with err saying why; out
 * is its stdout (NUL-terminated, at most out_cap - 1 bytes, trailing newlines and spaces
 * removed), the callee's to modify. c is freed once the callback returns: the owner
 * forgets it there, and must not cancel it. */
typedef void (*command_async_done_cb)(struct command_async *c, void *arg, int rc, char *out,
				      const char *err);

/* Starts argv[0] (searched in PATH) with argv on loop; done is called once it ended. *out
 * names it for command_async_cancel. 0, or -ENOENT (not in PATH) or another -errno with err
 * set, in which case done is never called. argv is not needed after the call. */
int command_async_start(struct loop *loop, char *const argv[], int timeout_ms, size_t out_cap,
			command_async_done_cb done, void *arg, struct command_async **out,
			char *err, size_t errlen);

/* Kills c's process group, reaps the command, closes its pipe and frees c; done is not
 * called. */
void command_async_cancel(struct command_async *c);

#endif
