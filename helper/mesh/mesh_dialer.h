/* mesh_dialer.h: the client side that the rendezvous client (rendezvous_client.c) and a
 * replacement's joiner (mesh_join.c) share. One connection at a time to HOST:PORT, dialed
 * again every retry_ms after a failed connect or a lost connection until the caller's
 * deadline, and the node table the other end sends page by page (WIRE_RDV_TABLE), checked
 * for nodes listed twice, out of range or missing. What is said on the connection, and what
 * is done with the table, stays with the caller (its mesh_conn_ops). */
#ifndef LCR_HELPER_MESH_DIALER_H
#define LCR_HELPER_MESH_DIALER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal/wire.h"
#include "loop/mesh_conn.h"

struct mesh;

typedef void (*mesh_dialer_deadline_fn)(void *owner);

struct mesh_dialer {
	struct mesh *m;
	const char *what;              /* "the rendezvous", for messages */
	char target[300];              /* "HOST:PORT" addressed now */
	struct sockaddr_storage sa;
	socklen_t sa_len;
	struct mesh_conn *conn;        /* NULL between two tries */
	struct mesh_stats stats;
	const struct mesh_conn_ops *ops;
	void *owner;                   /* the connection's owner, given to ops and the deadline */
	uint32_t retry_ms;
	uint32_t handshake_ms;
	uint64_t retry_timer;
	uint64_t deadline_timer;
	mesh_dialer_deadline_fn deadline;
	bool finished;                 /* stopped: nothing is dialed again */
	char last_error[WIRE_TEXT_MAX + 64]; /* why the last try failed, "" before any */
	uint8_t *seen;                 /* per node id: listed in a table page */
	uint32_t listed;               /* nodes listed so far */
	struct wire_rdv_table page;    /* the last page read */
};

/* Prepares d to dial target ("HOST:PORT", HOST may be a name) for owner. 0, -ENOMEM, or
 * -EINVAL / -EHOSTUNREACH (logged) when target cannot be used. */
int mesh_dialer_init(struct mesh_dialer *d, struct mesh *m, const char *what, const char *target,
		     const struct mesh_conn_ops *ops, void *owner, uint32_t retry_ms,
		     uint32_t handshake_ms);

/* Dials now (again every retry_ms until a connection stands); deadline(owner) is called if
 * the dialer is not stopped within deadline_ms. 0 or -ENOMEM. */
int mesh_dialer_start(struct mesh_dialer *d, uint64_t deadline_ms,
		      mesh_dialer_deadline_fn deadline);

/* Addresses target from the next try on (the current connection, if any, is the caller's
 * to close). 0, or -EINVAL / -EHOSTUNREACH (logged). */
int mesh_dialer_retarget(struct mesh_dialer *d, const char *target);

/* Dials again in retry_ms, unless stopped or already due. */
void mesh_dialer_retry_later(struct mesh_dialer *d);

/* For the ops' closed(): forgets the connection and, unless the dialer is stopped or the
 * caller closed it (why == 0), notes why, forgets the table read so far and dials again
 * later. True when it will dial again. */
bool mesh_dialer_lost(struct mesh_dialer *d, int why);

/* Reads one table page from msg into d->page and checks it (size of the step, each node id
 * in range and listed once, a port); *complete when it was the last page and every node is
 * listed. 0, or -EPROTO with the reason in why, naming d->what. */
int mesh_dialer_read_table(struct mesh_dialer *d, const struct wire_msg *msg, bool *complete,
			   char *why, size_t cap);

/* Stops dialing and waiting: cancels the timers and closes the connection. */
void mesh_dialer_stop(struct mesh_dialer *d);

/* Stops and frees what d holds. */
void mesh_dialer_fini(struct mesh_dialer *d);

#endif
