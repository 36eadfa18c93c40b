/* listener.c: accept(2) in the event loop, without spinning when out of descriptors (see
 * listener.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "loop/listener.h"
#include "internal/util.h"
#include "loop/log.h"
#include "loop/loop.h"

bool listener_out_of_resources(int rc)
{
	return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM;
}

/* Out of resources: the listener sleeps a while; logged once per LISTENER_LOG_MS. */
static void pause_listener(struct loop *loop, int listen_fd, const char *what, int rc)
{
	static uint64_t last_logged_ms;
	uint64_t now = util_now_ms();
	loop_pause_fd(loop, listen_fd, LISTENER_PAUSE_MS);
	if (last_logged_ms && now - last_logged_ms < LISTENER_LOG_MS)
		return;
	last_logged_ms = now;
	log_warning("cannot accept on %s: %s; not accepting for %d ms at a time until it can",
		    what, strerror(-rc), LISTENER_PAUSE_MS);
}

int listener_accept(struct loop *loop, int listen_fd, const char *what,
		    struct sockaddr_storage *from)
{
	socklen_t len = sizeof(*from);
	int fd;
	do
		fd = accept4(listen_fd, (struct sockaddr *)from, from ? &len : NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd >= 0)
		return fd;
	int rc = errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (listener_out_of_resources(rc))
		pause_listener(loop, listen_fd, what, rc);
	return rc;
}
