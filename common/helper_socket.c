/* helper_socket.c: connect to a helper's socket and check who serves it (see helper_socket.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal/helper_socket.h"
#include "internal/util.h"

/* 0 when the process at the other end of fd runs as our own uid, else -EACCES or -errno. */
static int check_peer_is_us(int fd, const char *path, char *err, size_t errlen)
{
	struct ucred peer;
	socklen_t length = sizeof(peer);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) < 0) {
		int rc = -errno;

		snprintf(err, errlen, "cannot tell who serves %s: %s", path, strerror(-rc));
		return rc;
	}
	if (peer.uid != getuid()) {
		snprintf(err, errlen, "%s is served by uid %u, not by this user (uid %u): refused", path,
			 (unsigned)peer.uid, (unsigned)getuid());
		return -EACCES;
	}
	return 0;
}

int helper_socket_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int fd, rc;

	if (util_copy_string(address.sun_path, sizeof(address.sun_path), path) < 0) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create a socket: %s", strerror(-rc));
		return rc;
	}
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(-rc));
		goto fail;
	}
	rc = check_peer_is_us(fd, path, err, errlen);
	if (rc < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return rc;
}
