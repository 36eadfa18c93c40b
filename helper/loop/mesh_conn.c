/* mesh_conn.c: framed, non-blocking TCP connections in the event loop (see mesh_conn.h).
 *
 * Writes are tried at once; what the socket does not take stays in `out` and POLLOUT is
 * watched until it drains. A failure while sending never closes the connection from inside
 * the sender's call (the caller may be walking its tables): it arms a zero-delay timer that
 * closes it from the loop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "loop/mesh_conn.h"
#include "internal/util.h"
#include "loop/log.h"

static void conn_event(struct loop *loop, int fd, short revents, void *arg);

/* The message being handed over. One for all connections: a callback never reads another
 * connection, so only one message is in hand at a time. */
static struct wire_msg current;

void mesh_conn_format_address(const struct sockaddr *sa, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, cap, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, cap, "(address family %d)", sa->sa_family);
	}
}

static void set_events(struct mesh_conn *c, short events)
{
	if (c->events == events)
		return;
	loop_remove_fd(c->loop, c->fd);
	if (loop_add_fd(c->loop, c->fd, events, conn_event, c) == 0)
		c->events = events;
}

static void free_conn(struct mesh_conn *c)
{
	frame_session_destroy(c->seal);
	free(c->in);
	free(c->out);
	free(c->held);
	free(c);
}

void mesh_conn_close(struct mesh_conn *c, int why)
{
	if (c->closed)
		return;
	c->closed = true;
	if (c->handshake_timer)
		loop_cancel_timer(c->loop, c->handshake_timer);
	if (c->close_timer)
		loop_cancel_timer(c->loop, c->close_timer);
	c->dispatching++;
	c->ops->closed(c, why);
	c->dispatching--;
	loop_remove_fd(c->loop, c->fd);
	close(c->fd);
	if (c->dispatching == 0)
		free_conn(c);
}

static void deferred_close(struct loop *loop, void *arg)
{
	struct mesh_conn *c = arg;
	(void)loop;
	c->close_timer = 0;
	mesh_conn_close(c, c->failure);
}

/* Ends the connection from the loop, not from the caller's stack. */
static void fail_later(struct mesh_conn *c, int why)
{
	if (c->failure)
		return;
	c->failure = why;
	c->out_len = c->out_sent = c->held_len = 0;
	if (loop_add_timer(c->loop, 0, deferred_close, c, &c->close_timer) < 0)
		c->close_timer = 0;
}

static void handshake_expired(struct loop *loop, void *arg)
{
	struct mesh_conn *c = arg;
	(void)loop;
	c->handshake_timer = 0;
	mesh_conn_close(c, -ETIMEDOUT);
}

static int append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *data, size_t n)
{
	if (*len + n > MESH_CONN_QUEUE_MAX)
		return -ENOBUFS;
	if (*len + n > *cap) {
		size_t want = *cap ? *cap : 4096;
		while (want < *len + n)
			want *= 2;
		uint8_t *p = realloc(*buf, want);
		if (!p)
			return -ENOMEM;
		*buf = p;
		*cap = want;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	return 0;
}

/* Writes from `out` until the socket would block. */
static void write_out(struct mesh_conn *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			fail_later(c, -errno);
			return;
		}
		c->out_sent += (size_t)n;
		c->stats->bytes_sent += (uint64_t)n;
	}
	if (c->out_sent == c->out_len)
		c->out_sent = c->out_len = 0;
	set_events(c, c->out_len ? POLLIN | POLLOUT : POLLIN);
}

static bool passes_before_handshake(uint16_t type)
{
	/* A JOIN's answer (ACCEPT and the table, or REFUSED) goes out on a connection that
	 * never becomes a peer's: the replacement closes it and dials like any member. */
	return type == WIRE_MESH_CHALLENGE || type == WIRE_MESH_HELLO || type == WIRE_MESH_WELCOME ||
	       type == WIRE_RDV_REGISTER ||
	       type == WIRE_MESH_FENCED || type == WIRE_REPLY || type == WIRE_MESH_JOIN ||
	       type == WIRE_MESH_JOIN_ACCEPT || type == WIRE_MESH_JOIN_REFUSED ||
	       type == WIRE_RDV_TABLE;
}

/* Queues one frame (frame[len], with room for its seal after it) to go out, sealed once
 * the connection is established. */
static int queue_frame(struct mesh_conn *c, uint8_t *frame, size_t len)
{
	if (c->seal) {
		if (frame_seal(c->seal, frame, WIRE_HEADER_SIZE, frame + WIRE_HEADER_SIZE,
			       len - WIRE_HEADER_SIZE, frame + len) < 0)
			return -EIO;
		len += WIRE_SEAL_SIZE;
	}
	return append(&c->out, &c->out_len, &c->out_cap, frame, len);
}

int mesh_conn_send(struct mesh_conn *c, uint16_t type, const uint8_t *payload, int len)
{
	uint8_t frame[WIRE_MAX_MESSAGE + WIRE_SEAL_SIZE];
	bool now = c->established || passes_before_handshake(type);
	int n, rc;
	if (c->closed || c->failure)
		return -ENOTCONN;
	if (len < 0)
		return len;
	n = wire_frame(type, 0, payload, (uint32_t)len, frame, WIRE_MAX_MESSAGE);
	if (n < 0)
		return n;
	if (now)
		rc = queue_frame(c, frame, (size_t)n);
	else
		rc = append(&c->held, &c->held_len, &c->held_cap, frame, (size_t)n);
	if (rc < 0) {
		fail_later(c, rc);
		return rc;
	}
	c->stats->messages_sent++;
	if (now && !c->connecting)
		write_out(c);
	return 0;
}

/* The held frames go out, each sealed. */
static int release_held(struct mesh_conn *c)
{
	static uint8_t frame[WIRE_MAX_MESSAGE + WIRE_SEAL_SIZE];
	for (size_t at = 0; at < c->held_len;) {
		size_t len = WIRE_HEADER_SIZE + (size_t)(c->held[at + 8] | c->held[at + 9] << 8 |
							 c->held[at + 10] << 16 |
							 (uint32_t)c->held[at + 11] << 24);
		memcpy(frame, c->held + at, len);
		int rc = queue_frame(c, frame, len);
		if (rc < 0)
			return rc;
		at += len;
	}
	c->held_len = 0;
	return 0;
}

void mesh_conn_seal(struct mesh_conn *c, struct frame_session *seal)
{
	frame_session_destroy(c->seal);
	c->seal = seal;
}

void mesh_conn_establish(struct mesh_conn *c, uint32_t peer, struct frame_session *seal)
{
	int rc;
	c->established = true;
	c->peer = peer;
	mesh_conn_seal(c, seal);
	if (c->handshake_timer) {
		loop_cancel_timer(c->loop, c->handshake_timer);
		c->handshake_timer = 0;
	}
	rc = release_held(c);
	if (rc < 0) {
		fail_later(c, rc);
		return;
	}
	write_out(c);
}

void mesh_conn_flush(struct mesh_conn *c, int timeout_ms)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	while (!c->closed && !c->failure && !c->connecting && c->out_len > 0) {
		uint64_t now = util_now_ms();
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			return;
		write_out(c);
	}
}

/* The outgoing connect finished, well or not. */
static void finish_connect(struct mesh_conn *c)
{
	int error = 0;
	socklen_t len = sizeof(error);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		error = errno;
	if (error) {
		mesh_conn_close(c, -error);
		return;
	}
	c->connecting = false;
	write_out(c);
}

/* The acceptor's CHALLENGE, first on an outgoing connection: the owner may now send its
 * opening credential, which echoes it. -EBADMSG for any other CHALLENGE. */
static int take_challenge(struct mesh_conn *c, const struct wire_msg *msg)
{
	struct wire_mesh_challenge challenge;
	if (!c->outgoing || c->challenge ||
	    wire_decode_mesh_challenge(msg->payload, msg->header.length, &challenge) < 0)
		return -EBADMSG;
	c->challenge = challenge.nonce;
	c->ops->connected(c);
	if (!c->closed)
		write_out(c);
	return 0;
}

/* "node 3 at 10.0.0.3:4242", "the rendezvous at ..." (an established connection's peer),
 * or "the helper at ..." (a JOIN's connection, never established), into buf. */
static const char *peer_label(const struct mesh_conn *c, char *buf, size_t cap)
{
	if (!c->established)
		snprintf(buf, cap, "the helper at %s", c->peer_text);
	else if (c->peer == WIRE_NO_NODE)
		snprintf(buf, cap, "the rendezvous at %s", c->peer_text);
	else
		snprintf(buf, cap, "node %" PRIu32 " at %s", c->peer, c->peer_text);
	return buf;
}

/* The next whole message into `current`, opened when the connection is sealed: 0,
 * -EAGAIN, a header error of wire_stream_next, or -EACCES (logged) for a frame that does
 * not open. */
static int next_message(struct mesh_conn *c)
{
	uint8_t header[WIRE_HEADER_SIZE], seal[WIRE_SEAL_SIZE];
	char label[sizeof(c->peer_text) + 32];
	int rc;
	if (!c->seal)
		return wire_stream_next(c->in, &current);
	rc = wire_stream_next_sealed(c->in, &current, seal);
	if (rc < 0)
		return rc;
	wire_encode_header(current.header.type, current.header.seq, current.header.length, header);
	if (frame_open(c->seal, header, sizeof(header), current.payload, current.header.length,
		       seal) == 0)
		return 0;
	log_warning("closing the connection with %s: a %s frame failed authentication "
		    "(altered, replayed, out of order, or sealed with another wire_encryption "
		    "setting)", peer_label(c, label, sizeof(label)),
		    wire_type_name(current.header.type));
	return -EACCES;
}

/* Reads what is there and hands over every whole message. */
static void read_in(struct mesh_conn *c)
{
	int rc;
	do {
		rc = wire_stream_fill(c->fd, c->in);
		if (rc > 0)
			c->stats->bytes_received += (uint64_t)rc;
		int next;
		while (!c->closed && (next = next_message(c)) == 0) {
			c->stats->messages_received++;
			if (current.header.type != WIRE_MESH_CHALLENGE)
				c->ops->message(c, &current);
			else if (take_challenge(c, &current) < 0)
				mesh_conn_close(c, -EBADMSG);
		}
		if (c->closed)
			return;
		if (next != -EAGAIN) {
			char label[sizeof(c->peer_text) + 32];
			if (next != -EACCES && c->established)
				log_warning("closing the connection with %s: a corrupt stream (%s)",
					    peer_label(c, label, sizeof(label)), strerror(-next));
			mesh_conn_close(c, -EBADMSG);
			return;
		}
	} while (rc > 0);
	if (rc != -EAGAIN)
		mesh_conn_close(c, rc == -ECONNRESET ? -ECONNRESET : rc);
}

void mesh_conn_redeliver(struct mesh_conn *c, const struct wire_msg *msg)
{
	if (c->closed)
		return;
	c->dispatching++;
	c->ops->message(c, msg);
	c->dispatching--;
	if (c->closed && c->dispatching == 0)
		free_conn(c);
}

static void conn_event(struct loop *loop, int fd, short revents, void *arg)
{
	struct mesh_conn *c = arg;
	(void)loop;
	(void)fd;
	c->dispatching++;
	if (c->connecting)
		finish_connect(c);
	else if (revents & (POLLIN | POLLHUP | POLLERR))
		read_in(c);
	if (!c->closed && !c->connecting && (revents & POLLOUT))
		write_out(c);
	c->dispatching--;
	if (c->closed && c->dispatching == 0)
		free_conn(c);
}

static int new_conn(struct loop *loop, int fd, bool outgoing, uint64_t handshake_ms,
		    const struct mesh_conn_ops *ops, struct mesh_stats *stats, void *owner,
		    struct mesh_conn **out)
{
	struct mesh_conn *c = calloc(1, sizeof(*c));
	int one = 1, rc;
	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->outgoing = outgoing;
	c->peer = WIRE_NO_NODE;
	c->loop = loop;
	c->ops = ops;
	c->stats = stats;
	c->owner = owner;
	c->in = malloc(sizeof(*c->in));
	if (!c->in) {
		rc = -ENOMEM;
		goto out;
	}
	wire_stream_init(c->in);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = loop_add_timer(loop, handshake_ms, handshake_expired, c, &c->handshake_timer);
	if (rc == 0) {
		c->events = outgoing ? POLLOUT : POLLIN;
		rc = loop_add_fd(loop, fd, c->events, conn_event, c);
		if (rc < 0)
			loop_cancel_timer(loop, c->handshake_timer);
	}
out:
	if (rc < 0) {
		free_conn(c);
		return rc;
	}
	*out = c;
	return 0;
}

int mesh_conn_connect(struct loop *loop, const struct sockaddr *addr, socklen_t addr_len,
		      uint64_t handshake_ms, const struct mesh_conn_ops *ops,
		      struct mesh_stats *stats, void *owner, struct mesh_conn **out)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;
	if (fd < 0)
		return -errno;
	if (connect(fd, addr, addr_len) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = new_conn(loop, fd, true, handshake_ms, ops, stats, owner, out);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	(*out)->connecting = true;
	mesh_conn_format_address(addr, (*out)->peer_text, sizeof((*out)->peer_text));
	return 0;
}

/* The first message on an accepted connection: a fresh nonce, never 0. */
static int send_challenge(struct mesh_conn *c)
{
	struct wire_mesh_challenge challenge = { 0 };
	uint8_t buf[16];
	while (challenge.nonce == 0)
		if (getrandom(&challenge.nonce, sizeof(challenge.nonce), 0) != sizeof(challenge.nonce))
			challenge.nonce = 0;
	c->challenge = challenge.nonce;
	return mesh_conn_send(c, WIRE_MESH_CHALLENGE, buf, wire_encode_mesh_challenge(&challenge, buf,
										     sizeof(buf)));
}

int mesh_conn_adopt(struct loop *loop, int fd, uint64_t handshake_ms,
		    const struct mesh_conn_ops *ops, struct mesh_stats *stats, void *owner,
		    struct mesh_conn **out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc = new_conn(loop, fd, false, handshake_ms, ops, stats, owner, out);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		mesh_conn_format_address((struct sockaddr *)&ss, (*out)->peer_text,
					 sizeof((*out)->peer_text));
	else
		snprintf((*out)->peer_text, sizeof((*out)->peer_text), "(unknown peer)");
	send_challenge(*out); /* a failure closes the connection from the loop */
	return 0;
}

int mesh_conn_detach(struct mesh_conn *c)
{
	int fd = c->fd;
	loop_remove_fd(c->loop, fd);
	c->fd = -1;
	mesh_conn_close(c, 0);
	return fd;
}
