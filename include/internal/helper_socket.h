/* helper_socket.h: connecting to a helper's control socket as its user (liblcr, lcrctl).
 *
 * The socket's path comes from the environment (LCR_SOCKET) or from a directory listing,
 * so what answers there must be proved to be the user's own helper before anything is
 * sent to it or believed from it: another user's process at that path could read the
 * requests, answer with forged states or hand over memory to map. The peer's uid, read
 * with SO_PEERCRED when the connection is made, must be the caller's own uid; root's is
 * refused too. */
#ifndef LCR_INTERNAL_HELPER_SOCKET_H
#define LCR_INTERNAL_HELPER_SOCKET_H

#include <stddef.h>

/* A connected descriptor (close-on-exec), or -errno with err[errlen] saying what failed:
 * -EACCES when the peer is another user's process, -ENAMETOOLONG for a path that does
 * not fit a socket address, or connect(2)'s error. */
int helper_socket_connect(const char *path, char *err, size_t errlen);

#endif
