/* listener.h: taking connections off a listening socket in lcrd's event loop. When the
 * process is out of descriptors or memory, accept(2) fails and leaves the connection in the
 * backlog, so the socket stays readable and a loop that just returned would be woken again
 * at once, for ever, burning a core. listener_accept pauses the listener instead
 * (loop_pause_fd, LISTENER_PAUSE_MS) and says so in the log at most once per
 * LISTENER_LOG_MS. Used by every listener of lcrd: the mesh, the rendezvous and the control
 * socket. */
#ifndef LCR_HELPER_LISTENER_H
#define LCR_HELPER_LISTENER_H

#include <stdbool.h>
#include <sys/socket.h>

struct loop;

#define LISTENER_PAUSE_MS 100
#define LISTENER_LOG_MS 10000
/* Connections one readable listener takes before the loop serves the others. */
#define LISTENER_BATCH 16

/* Accepts one connection from listen_fd, which must be non-blocking (callers take
 * connections until none waits): the new descriptor, non-blocking and close-on-exec, with
 * its peer's address in *from (may be NULL); -EAGAIN when none waits; -EMFILE, -ENFILE,
 * -ENOBUFS or -ENOMEM when out of resources (the listener is paused); another -errno for a
 * connection that failed before it was taken (ECONNABORTED...). `what` names the listener
 * in the log ("the mesh listener 10.0.0.1:4242"). */
int listener_accept(struct loop *loop, int listen_fd, const char *what,
		    struct sockaddr_storage *from);

/* Whether rc, from listener_accept, means that the listener is paused. */
bool listener_out_of_resources(int rc);

#endif
