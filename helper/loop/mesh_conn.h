/* mesh_conn.h: one TCP connection of the mesh or of the rendezvous, in lcrd's event loop.
 * It connects without blocking, cuts the incoming bytes into wire messages (wire_stream),
 * and queues what it cannot write at once. Until its owner declares it established (after
 * the credential handshake), only handshake messages go out; anything else waits in a held
 * queue, so nothing reaches a peer that has not proved who it is. From then on every frame
 * both ways is sealed (conn_seal.h) with the session the owner gives mesh_conn_establish;
 * a frame that fails to open closes the connection (-EBADMSG), with a log line naming the
 * peer. What the messages mean is the owner's business, through three callbacks.
 *
 * Every end of a connection goes through mesh_conn_close(), which calls ops->closed once,
 * then frees the connection (after the current callback returns, when inside one). */
#ifndef LCR_HELPER_MESH_CONN_H
#define LCR_HELPER_MESH_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal/frame_seal.h"
#include "internal/wire.h"
#include "loop/loop.h"

/* Counters a connection adds to (the owner's, shared by its connections). */
struct mesh_stats {
	uint64_t messages_sent;
	uint64_t messages_received;
	uint64_t bytes_sent;
	uint64_t bytes_received;
};

struct mesh_conn;

struct mesh_conn_ops {
	/* An outgoing connection is open and the acceptor's CHALLENGE is in c->challenge:
	 * send the opening message. */
	void (*connected)(struct mesh_conn *c);
	/* One whole message. The connection may be closed from here. */
	void (*message)(struct mesh_conn *c, const struct wire_msg *msg);
	/* The connection ends: why is 0 when the owner closed it, else -errno (-ECONNREFUSED,
	 * -ECONNRESET at the peer's end of stream, -ETIMEDOUT for a handshake that took too
	 * long, -EBADMSG for a corrupt stream, -ENOBUFS for a peer that does not read). */
	void (*closed)(struct mesh_conn *c, int why);
};

struct mesh_conn {
	int fd;
	bool outgoing;
	bool connecting;  /* connect(2) in progress */
	bool established; /* the owner accepted the peer's credential */
	uint32_t peer;    /* the peer's node id once known, else WIRE_NO_NODE */
	uint64_t nonce;   /* the nonce of the credential this end sent first */
	uint64_t challenge; /* the acceptor's CHALLENGE nonce, which the connector's opening
			     * credential must echo: made by mesh_conn_adopt, received before
			     * ops->connected on an outgoing connection */
	uint64_t peer_incarnation; /* the peer's instance, from its credential */
	char peer_text[64]; /* "10.77.0.12:41234" */
	void *owner;
	struct mesh_conn *next; /* the owner's list */
	/* private */
	struct loop *loop;
	const struct mesh_conn_ops *ops;
	struct mesh_stats *stats;
	struct wire_stream *in;
	struct frame_session *seal; /* from mesh_conn_establish on */
	uint8_t *out;
	size_t out_len, out_sent, out_cap;
	uint8_t *held;
	size_t held_len, held_cap;
	short events;
	uint64_t handshake_timer;
	uint64_t close_timer; /* a send failed: close from the loop */
	int failure;          /* why, for that close */
	int dispatching; /* depth of callbacks running on this connection */
	bool closed;
};

/* Starts connecting to addr; the handshake must end (mesh_conn_establish) within
 * handshake_ms, or the connection closes with -ETIMEDOUT. 0 or -errno. */
int mesh_conn_connect(struct loop *loop, const struct sockaddr *addr, socklen_t addr_len,
		      uint64_t handshake_ms, const struct mesh_conn_ops *ops,
		      struct mesh_stats *stats, void *owner, struct mesh_conn **out);

/* Takes an accepted socket, under the same handshake deadline, and sends it a CHALLENGE
 * with a fresh nonce (c->challenge). 0 or -errno (fd closed). */
int mesh_conn_adopt(struct loop *loop, int fd, uint64_t handshake_ms,
		    const struct mesh_conn_ops *ops, struct mesh_stats *stats, void *owner,
		    struct mesh_conn **out);

/* Queues one message. Before mesh_conn_establish, only MESH_CHALLENGE, MESH_HELLO,
 * MESH_WELCOME, RDV_REGISTER, MESH_FENCED, REPLY, the JOIN messages and RDV_TABLE go out;
 * others are held. 0, -EMSGSIZE, or -ENOBUFS
 * (more than MESH_CONN_QUEUE_MAX queued: the connection is closed). */
int mesh_conn_send(struct mesh_conn *c, uint16_t type, const uint8_t *payload, int len);

/* The peer proved who it is: its node id, and the frame session of the handshake (taken
 * over: every frame from now on, the held ones first, is sealed, and every frame that
 * arrives must open). */
void mesh_conn_establish(struct mesh_conn *c, uint32_t peer, struct frame_session *seal);

/* Seals every frame from now on, both ways, with seal (taken over), on a connection that
 * does not become a peer's (a JOIN's, which carries the table after JOIN_ACCEPT). */
void mesh_conn_seal(struct mesh_conn *c, struct frame_session *seal);

/* Hands msg to ops->message again, as a message that just arrived on c (a message whose
 * handling waited for work done off the loop: auth_queue.h). Not while c dispatches. */
void mesh_conn_redeliver(struct mesh_conn *c, const struct wire_msg *msg);

/* Writes what is queued, waiting up to timeout_ms (for a helper that is ending). */
void mesh_conn_flush(struct mesh_conn *c, int timeout_ms);

/* Takes the socket out of the connection for another owner (the transfer server): the
 * connection closes as with mesh_conn_close(c, 0), but the socket stays open and is
 * returned. Whatever is queued or read ahead is dropped. */
int mesh_conn_detach(struct mesh_conn *c);

/* Closes once: ops->closed(c, why), then the socket, then frees c. */
void mesh_conn_close(struct mesh_conn *c, int why);

/* Formats an address as "1.2.3.4:5" or "[::1]:5" into buf[cap]. */
void mesh_conn_format_address(const struct sockaddr *sa, char *buf, size_t cap);

#define MESH_CONN_QUEUE_MAX (4u << 20)

#endif
