/* auth_queue.h: opening the MUNGE credentials of incoming connections off lcrd's event loop.
 * munge_decode asks munged over a socket and waits for its answer: quick while munged is
 * well, but anyone who can reach a listener can make lcrd open one, and a munged that is
 * slow, busy or stopped would hold the loop (its heartbeats, its failure detection) for as
 * long. The queue opens them on a worker thread (worker.h) with a MUNGE context of its own,
 * one at a time in the order they came, at most AUTH_QUEUE_MAX waiting; a text that cannot be
 * a MUNGE credential is refused at once, without asking munged.
 *
 * The call site stays as it was: a handler that met a credential calls auth_queue_open where
 * it called mesh_auth_open. The first time, the work is queued and the handler returns
 * (-EINPROGRESS); once the credential is opened, the message is handed back to the
 * connection's owner (redeliver) as if it had just arrived, the handler runs again, and the
 * same call now returns the result. Checks before the call must therefore be pure. */
#ifndef LCR_HELPER_AUTH_QUEUE_H
#define LCR_HELPER_AUTH_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/wire.h"
#include "loop/mesh_auth.h"

#define AUTH_QUEUE_MAX 256

struct loop;
struct auth_queue;

/* Hands msg back to conn's owner, as a new message of conn. */
typedef void auth_queue_redeliver_fn(void *conn, const struct wire_msg *msg);

/* A queue for job/step, with munged at munge_socket (NULL or "": the default): 0, or -errno
 * with a message in err. */
int auth_queue_create(struct loop *loop, const char *munge_socket, uint32_t job_id,
		      uint32_t step_id, auth_queue_redeliver_fn *redeliver,
		      struct auth_queue **out, char *err, size_t errlen);
/* Waits for the credential being opened, if any (munged answers or times out). */
void auth_queue_destroy(struct auth_queue *q);

/* Opens cred, which msg of conn carries, and checks it against *expect (mesh_auth_open):
 * -EINPROGRESS the first time (msg comes back through redeliver); then 0 with the payload in
 * *out, or -EACCES with the reason in err. -EACCES at once for a text that is no MUNGE
 * credential; -EBUSY when AUTH_QUEUE_MAX credentials wait; -ENOMEM. */
int auth_queue_open(struct auth_queue *q, void *conn, const struct wire_msg *msg,
		    const char *cred, const struct mesh_auth_expect *expect,
		    struct wire_mesh_auth *out, char *err, size_t errlen);

/* Whether a credential of conn waits or is being opened (conn should send nothing more
 * meanwhile). */
bool auth_queue_busy(const struct auth_queue *q, const void *conn);

/* conn is gone: its credential is dropped, and its result, if one comes, thrown away. */
void auth_queue_forget(struct auth_queue *q, const void *conn);

/* Whether cred has the shape of a MUNGE credential ("MUNGE:" base64 ":"). */
bool auth_queue_plausible(const char *cred);

#endif
