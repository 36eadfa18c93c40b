/* conn_gate.h: a cap on the connections that have not authenticated yet, for a listener that
 * anyone on the network can reach (the mesh's, the rendezvous'). Each such connection costs a
 * descriptor and an input buffer of about 64 KiB, and may live until its handshake deadline;
 * uncapped, a flood of idle connections takes every descriptor and keeps the real peers out.
 *
 * The gate counts them per source address and in all. A connection from an address that
 * its owner vouches for (a member: the address of one of the step's nodes) counts against
 * its address's cap only, so a flood from elsewhere cannot keep the step's own helpers out.
 * When a new connection would pass a cap, the oldest connection in its way that is idle
 * makes room: it has been in for longer than the grace (the time a real peer needs to
 * answer the acceptor's challenge), has sent no whole message and has no byte waiting. When
 * none in the way is idle, the new one is refused. A connection leaves the gate once it
 * authenticated, or when it closes.
 *
 * The gate does not close connections itself: it names the one to close, by the pointer its
 * owner entered it with, and the owner closes it (which makes it leave). */
#ifndef LCR_HELPER_CONN_GATE_H
#define LCR_HELPER_CONN_GATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct conn_gate;

/* A gate of at most per_address connections from one address and total from addresses that
 * are not members (both >= 1), where a connection in for less than grace_ms is never idle:
 * 0 or -ENOMEM / -EINVAL. */
int conn_gate_create(uint32_t per_address, uint32_t total, uint64_t grace_ms,
		     struct conn_gate **out);
void conn_gate_destroy(struct conn_gate *g);

/* `wanted`, lowered to a quarter of the soft RLIMIT_NOFILE (at least 1), so that
 * unauthenticated connections never take the descriptors lcrd needs for its peers, its
 * ranks and munged: the `total` for conn_gate_create. */
uint32_t conn_gate_total_within_limit(uint32_t wanted);

/* Whether a and b are the same host: the same IPv4 or IPv6 address, the port aside. */
bool conn_gate_same_address(const struct sockaddr *a, const struct sockaddr *b);

/* Whether a connection from `from` (a member's address or not) may come in now: 0; -EAGAIN
 * with *victim, the oldest idle connection in the way, which the caller closes (it leaves
 * the gate) before asking again; -EBUSY when none in the way is idle: the new connection is
 * refused. */
int conn_gate_make_room(struct conn_gate *g, const struct sockaddr *from, bool member,
			void **victim);

/* Counts conn, on socket fd, from `from`, until it leaves: 0, -EBUSY when a cap is reached
 * (conn_gate_make_room was not asked first), or -ENOMEM. */
int conn_gate_enter(struct conn_gate *g, void *conn, int fd, const struct sockaddr *from,
		    bool member);

/* conn delivered a whole message: it is no longer idle. Unknown conns are ignored. */
void conn_gate_heard(struct conn_gate *g, const void *conn);

/* conn authenticated, or closes: no longer counted. Unknown conns are ignored. */
void conn_gate_leave(struct conn_gate *g, const void *conn);

/* The connections counted from `from`, or from non-members in all when from is NULL. */
uint32_t conn_gate_count(const struct conn_gate *g, const struct sockaddr *from);

#endif
