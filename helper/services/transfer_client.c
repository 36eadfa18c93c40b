/* transfer_client.c: the fetching end of state transfer (see transfer.h), and the socket
 * helpers both ends use.
 *
 * transfer_fill cuts the region's checkpoint ranges into pieces (whole ranges where there
 * are enough) and starts one thread per peer. Each thread opens its own authenticated
 * connection (and its own MUNGE context: contexts are not shared between threads) and takes
 * the next piece it has not failed yet, under one mutex. A host region's piece is received
 * straight into the region's own mapping, its pages mapped ahead, each chunk opened and
 * hashed there while it is in the cache; a CUDA region's goes through region_write. A piece
 * whose bytes differ from the server's hash is retried elsewhere; a peer that refuses, voids
 * a range, stalls or drops is given up for this fill. When the last piece of a range is in,
 * the range is compared with the manifest's hash: a range that came whole into the mapping
 * with the hash taken as it arrived (one pass over its bytes), else the range is hashed back
 * from the region. A mismatch cannot be pinned on one piece, so a range that several peers
 * served is fetched again by one peer alone (it becomes exclusive); a range that one peer
 * served wrong is not asked of that peer again. A range no peer is left for is read from the
 * checkpoint file (ckpt_store_read_range, checked the same way) once the threads are done. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal/ckpt_store.h"
#include "internal/util.h"
#include "internal/xxh3_stream.h"
#include "loop/conn_seal.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/mesh_auth.h"
#include "loop/regions.h"
#include "mesh/mesh.h"
#include "services/transfer.h"

/* --- the socket --- */

static int wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;
	do
		n = poll(&p, 1, TRANSFER_STALL_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Sends every byte of iov[0 .. count) (which it advances) on the non-blocking fd, waiting
 * for room as long as the socket's timeout allows: 0, or -errno (-ECONNRESET for a closed
 * peer). */
static int send_iov_all(int fd, struct iovec *iov, int count)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)count };
	for (;;) {
		while (msg.msg_iovlen > 0 && msg.msg_iov->iov_len == 0) { /* nothing left there */
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen == 0)
			return 0;
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_for(fd, POLLOUT);
			if (rc < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return errno == EPIPE ? -ECONNRESET : -errno;
		for (size_t sent = (size_t)n; sent > 0;) {
			size_t part = sent < msg.msg_iov->iov_len ? sent : msg.msg_iov->iov_len;
			msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + part;
			msg.msg_iov->iov_len -= part;
			sent -= part;
			if (msg.msg_iov->iov_len == 0) {
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
}

int transfer_send_all(int fd, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	return send_iov_all(fd, &iov, 1);
}

int transfer_recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_for(fd, POLLIN);
			if (rc < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int transfer_send_message(int fd, struct frame_session *seal, uint16_t type, uint32_t seq,
			  const uint8_t *payload, int payload_len)
{
	uint8_t frame[WIRE_HEADER_SIZE + TRANSFER_SEALED_MAX + WIRE_SEAL_SIZE];
	size_t len;
	int rc;
	if (payload_len < 0)
		return payload_len;
	if (!seal) {
		if (payload_len > WIRE_MAX_PAYLOAD)
			return -EMSGSIZE;
		wire_encode_header(type, seq, (uint32_t)payload_len, frame);
		rc = transfer_send_all(fd, frame, WIRE_HEADER_SIZE);
		return rc < 0 ? rc : transfer_send_all(fd, payload, (size_t)payload_len);
	}
	if (payload_len > TRANSFER_SEALED_MAX)
		return -EMSGSIZE;
	len = (size_t)wire_frame(type, seq, payload, (uint32_t)payload_len, frame, sizeof(frame));
	if (frame_seal(seal, frame, WIRE_HEADER_SIZE, frame + WIRE_HEADER_SIZE, (size_t)payload_len,
		       frame + len) < 0)
		return -EIO;
	return transfer_send_all(fd, frame, len + WIRE_SEAL_SIZE);
}

/* The authenticated data of a piece of a range: its offset. */
static void piece_header(uint64_t offset, uint8_t header[8])
{
	for (int i = 0; i < 8; i++)
		header[i] = (uint8_t)(offset >> (8 * i));
}

int transfer_send_sealed_bytes(int fd, struct frame_session *seal, uint64_t offset,
			       const uint8_t *bytes, uint8_t *scratch, size_t len)
{
	uint8_t header[8], tag[WIRE_SEAL_SIZE];
	bool encrypts = frame_session_encrypts(seal);
	struct iovec iov[2] = { { .iov_base = (void *)(encrypts ? scratch : bytes), .iov_len = len },
				{ .iov_base = tag, .iov_len = sizeof(tag) } };
	piece_header(offset, header);
	if (frame_seal_from(seal, header, sizeof(header), bytes, encrypts ? scratch : NULL, len,
			    tag) < 0)
		return -EIO;
	return send_iov_all(fd, iov, 2);
}

static int recv_from_fd(void *arg, void *buf, size_t len)
{
	return transfer_recv_all(*(int *)arg, buf, len);
}

int transfer_recv_sealed_bytes(transfer_read_fn *read, void *arg, struct frame_session *seal,
			       uint64_t offset, uint8_t *buf, size_t len)
{
	uint8_t header[8], tag[WIRE_SEAL_SIZE];
	int rc = read(arg, buf, len);
	if (rc == 0)
		rc = read(arg, tag, sizeof(tag));
	if (rc < 0)
		return rc;
	piece_header(offset, header);
	return frame_open(seal, header, sizeof(header), buf, len, tag) < 0 ? -EACCES : 0;
}

/* --- one connection --- */

struct transfer_conn {
	int fd;
	struct transfer_peer peer;
	struct mesh_auth *auth;
	struct frame_session *seal; /* after the handshake */
	uint32_t seq;
	struct wire_header header;          /* of the last message read */
	uint8_t frame[WIRE_MAX_MESSAGE];    /* its header and payload */
	uint8_t *chunk;                     /* TRANSFER_CHUNK bytes of a range */
	XXH3_state_t *hash;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Reads one framed message into c->frame / c->header, and opens it once the connection is
 * sealed: 0, -EACCES for a message that does not open, or -errno. */
static int read_message(struct transfer_conn *c)
{
	uint8_t tag[WIRE_SEAL_SIZE];
	uint32_t length;
	int rc = transfer_recv_all(c->fd, c->frame, WIRE_HEADER_SIZE);
	if (rc < 0)
		return rc;
	length = (uint32_t)c->frame[8] | (uint32_t)c->frame[9] << 8 | (uint32_t)c->frame[10] << 16 |
		 (uint32_t)c->frame[11] << 24;
	if (length > (c->seal ? TRANSFER_SEALED_MAX : WIRE_MAX_PAYLOAD))
		return -EMSGSIZE;
	rc = transfer_recv_all(c->fd, c->frame + WIRE_HEADER_SIZE, length);
	if (rc == 0 && c->seal)
		rc = transfer_recv_all(c->fd, tag, sizeof(tag));
	if (rc < 0)
		return rc;
	rc = wire_parse_header(c->frame, WIRE_HEADER_SIZE + length, &c->header);
	if (rc == 0 && c->seal && frame_open(c->seal, c->frame, WIRE_HEADER_SIZE,
					     c->frame + WIRE_HEADER_SIZE, length, tag) < 0)
		return -EACCES;
	return rc;
}

/* What read_message's error means. */
static const char *read_error(int rc)
{
	return rc == -EACCES ? "a message failed authentication (altered, replayed or out of "
			       "order): closing the connection" : strerror(-rc);
}

static const uint8_t *payload_of(const struct transfer_conn *c)
{
	return c->frame + WIRE_HEADER_SIZE;
}

static int connect_peer(const struct transfer_peer *peer)
{
	int fd = socket(peer->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;
	int error = 0;
	socklen_t len = sizeof(error);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&peer->sa, peer->sa_len) < 0) {
		rc = errno == EINPROGRESS ? wait_for(fd, POLLOUT) : -errno;
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
			rc = -errno;
		if (rc == 0 && error)
			rc = -error;
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	return fd;
}

/* The peer's CHALLENGE into *challenge. 0 or -errno with the reason in err. */
static int read_challenge(struct transfer_conn *c, uint64_t *challenge, char *err, size_t errlen)
{
	struct wire_mesh_challenge msg;
	int rc = read_message(c);
	if (rc < 0)
		return fail(err, errlen, rc, "no CHALLENGE: %s", strerror(-rc));
	if (c->header.type != WIRE_MESH_CHALLENGE ||
	    wire_decode_mesh_challenge(payload_of(c), c->header.length, &msg) < 0)
		return fail(err, errlen, -EPROTO, "opened with %s, not a CHALLENGE",
			    wire_type_name(c->header.type));
	*challenge = msg.nonce;
	return 0;
}

/* The peer's CHALLENGE, our XFER_HELLO that echoes it, then the answer: a WELCOME that
 * echoes our nonce, or a refusal. */
static int handshake(struct transfer_conn *c, const struct transfer_identity *id, char *err,
		     size_t errlen)
{
	static _Thread_local struct wire_xfer_hello hello;
	static _Thread_local struct wire_mesh_welcome welcome;
	struct wire_mesh_auth payload;
	struct wire_reply reply;
	char why[512];
	uint64_t nonce, challenge = 0;
	int rc = read_challenge(c, &challenge, err, errlen);
	if (rc < 0)
		return rc;
	hello.from_node = id->self;
	hello.to_node = c->peer.node;
	if (mesh_auth_seal(c->auth, WIRE_XFER_HELLO, id->self, c->peer.node, challenge, &nonce,
			   hello.credential, why, sizeof(why)) < 0)
		return fail(err, errlen, -EIO, "cannot make a credential: %s", why);
	rc = transfer_send_message(c->fd, NULL, WIRE_XFER_HELLO, 0, c->frame,
				   wire_encode_xfer_hello(&hello, c->frame, sizeof(c->frame)));
	if (rc == 0)
		rc = read_message(c);
	if (rc < 0)
		return fail(err, errlen, rc, "no answer to XFER_HELLO: %s", strerror(-rc));
	if (c->header.type == WIRE_REPLY &&
	    wire_decode_reply(payload_of(c), c->header.length, &reply) == 0)
		return fail(err, errlen, -EACCES, "%s", reply.message);
	struct mesh_auth_expect expect = { .purpose = WIRE_MESH_WELCOME, .from_node = c->peer.node,
					   .to_node = id->self, .echo = nonce };
	if (c->header.type != WIRE_MESH_WELCOME ||
	    wire_decode_mesh_welcome(payload_of(c), c->header.length, &welcome) < 0)
		return fail(err, errlen, -EPROTO, "answered XFER_HELLO with %s",
			    wire_type_name(c->header.type));
	if (mesh_auth_open(c->auth, welcome.credential, &expect, &payload, why, sizeof(why)) < 0)
		return fail(err, errlen, -EACCES, "its credential does not check out: %s", why);
	struct conn_seal_handshake h = {
		.job_id = id->job_id, .step_id = id->step_id, .opener = id->self,
		.acceptor = c->peer.node, .purpose = WIRE_XFER_HELLO, .challenge = challenge,
		.opener_nonce = nonce, .acceptor_nonce = payload.nonce,
	};
	if (conn_seal_start(&h, true, conn_seal_mode(id->wire_encryption), &c->seal, why,
			    sizeof(why)) < 0)
		return fail(err, errlen, -EIO, "%s", why);
	return 0;
}

int transfer_conn_open(const struct transfer_peer *peer, const struct transfer_identity *id,
		       struct transfer_conn **out, char *err, size_t errlen)
{
	struct transfer_conn *c = calloc(1, sizeof(*c));
	char why[512];
	int rc;
	if (!c)
		return fail(err, errlen, -ENOMEM, "out of memory");
	c->fd = -1;
	c->peer = *peer;
	c->chunk = malloc(TRANSFER_CHUNK);
	c->hash = XXH3_createState();
	if (!c->chunk || !c->hash) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	rc = mesh_auth_create(id->munge_socket, id->job_id, id->step_id, &c->auth, why, sizeof(why));
	if (rc < 0) {
		fail(err, errlen, rc, "%s", why);
		goto out;
	}
	c->fd = connect_peer(peer);
	if (c->fd < 0) {
		rc = fail(err, errlen, c->fd, "cannot connect: %s", strerror(-c->fd));
		goto out;
	}
	rc = handshake(c, id, err, errlen);
out:
	if (rc < 0) {
		transfer_conn_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void transfer_conn_close(struct transfer_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	mesh_auth_destroy(c->auth);
	frame_session_destroy(c->seal);
	XXH3_freeState(c->hash);
	free(c->chunk);
	free(c);
}

/* Where the bytes of a range go: straight into dst (host memory, the range's length), else
 * through c->chunk to sink (NULL: nowhere). */
struct destination {
	uint8_t *dst;
	transfer_sink_fn *sink;
	void *arg;
};

/* The raw bytes of a range, TRANSFER_CHUNK at a time: received where they go, opened there
 * and hashed while they are still in the cache; each chunk is handed on (sink) only once it
 * opened. */
static int receive_bytes(struct transfer_conn *c, const struct wire_xfer_data *data,
			 const struct destination *to, char *err, size_t errlen)
{
	XXH3_64bits_reset(c->hash);
	for (uint64_t done = 0; done < data->length;) {
		size_t n = data->length - done < TRANSFER_CHUNK ? (size_t)(data->length - done)
								: TRANSFER_CHUNK;
		uint8_t *at = to->dst ? to->dst + done : c->chunk;
		int rc = transfer_recv_sealed_bytes(recv_from_fd, &c->fd, c->seal, data->offset + done,
						    at, n);
		if (rc == -EACCES)
			return fail(err, errlen, -EACCES, "the bytes at offset %" PRIu64 " failed "
				    "authentication (altered, replayed or out of order): closing the "
				    "connection", data->offset + done);
		if (rc < 0)
			return fail(err, errlen, rc, "the stream stopped at offset %" PRIu64 ": %s",
				    data->offset + done, strerror(-rc));
		xxh3_stream_update(c->hash, at, n);
		rc = to->sink ? to->sink(to->arg, data->offset + done, at, n) : 0;
		if (rc < 0)
			return fail(err, errlen, rc, "cannot store bytes at offset %" PRIu64 ": %s",
				    data->offset + done, strerror(-rc));
		done += n;
	}
	return 0;
}

/* The answer to a request: REPLY (refused) or DATA + bytes + END. */
static int receive_answer(struct transfer_conn *c, const struct wire_xfer_request *req,
			  const struct destination *to, struct transfer_fetched *f, char *err,
			  size_t errlen)
{
	struct wire_reply reply;
	struct wire_xfer_data data;
	struct wire_xfer_end end;
	int rc = read_message(c);
	if (rc < 0)
		return fail(err, errlen, rc, "no answer to XFER_REQUEST: %s", read_error(rc));
	if (c->header.type == WIRE_REPLY &&
	    wire_decode_reply(payload_of(c), c->header.length, &reply) == 0) {
		f->refused = true;
		return fail(err, errlen, reply.status < 0 ? reply.status : -EPROTO, "%s",
			    reply.message);
	}
	if (c->header.type != WIRE_XFER_DATA ||
	    wire_decode_xfer_data(payload_of(c), c->header.length, &data) < 0 ||
	    data.offset != req->offset || data.length != req->length)
		return fail(err, errlen, -EPROTO, "answered XFER_REQUEST with a wrong %s",
			    wire_type_name(c->header.type));
	f->rank = data.rank;
	rc = receive_bytes(c, &data, to, err, errlen);
	if (rc < 0)
		return rc;
	f->received_xxh3 = XXH3_64bits_digest(c->hash);
	rc = read_message(c);
	if (rc == 0 && (c->header.type != WIRE_XFER_END ||
			wire_decode_xfer_end(payload_of(c), c->header.length, &end) < 0))
		rc = -EPROTO;
	if (rc < 0)
		return fail(err, errlen, rc, "no XFER_END after the bytes: %s", read_error(rc));
	f->server_xxh3 = end.xxh3;
	if (end.status < 0) {
		f->refused = true;
		return fail(err, errlen, end.status, "%s", end.message);
	}
	if (f->server_xxh3 != f->received_xxh3)
		return fail(err, errlen, -EILSEQ, "bytes %" PRIu64 "..%" PRIu64 " arrived with XXH3 "
			    "%016" PRIx64 ", but the server read %016" PRIx64, req->offset,
			    req->offset + req->length, f->received_xxh3, f->server_xxh3);
	return 0;
}

static int fetch(struct transfer_conn *c, const struct wire_xfer_request *req,
		 const struct destination *to, struct transfer_fetched *f, char *err, size_t errlen)
{
	uint8_t buf[2 * WIRE_NAME_MAX + 64];
	int rc;
	memset(f, 0, sizeof(*f));
	rc = transfer_send_message(c->fd, c->seal, WIRE_XFER_REQUEST, ++c->seq, buf,
				   wire_encode_xfer_request(req, buf, sizeof(buf)));
	if (rc < 0)
		return fail(err, errlen, rc, "cannot send XFER_REQUEST: %s", strerror(-rc));
	return receive_answer(c, req, to, f, err, errlen);
}

int transfer_conn_fetch(struct transfer_conn *c, const struct wire_xfer_request *req,
			transfer_sink_fn *sink, void *arg, struct transfer_fetched *f, char *err,
			size_t errlen)
{
	const struct destination to = { .sink = sink, .arg = arg };
	return fetch(c, req, &to, f, err, errlen);
}

int transfer_conn_fetch_into(struct transfer_conn *c, const struct wire_xfer_request *req,
			     uint8_t *dst, struct transfer_fetched *f, char *err, size_t errlen)
{
	const struct destination to = { .dst = dst };
	return fetch(c, req, &to, f, err, errlen);
}

/* --- pushing a copy --- */

/* The answer to a SNAPSHOT_PUT: REPLY, status 0 to go ahead. */
static int read_go_ahead(struct transfer_conn *c, char *err, size_t errlen)
{
	struct wire_reply reply;
	int rc = read_message(c);
	if (rc < 0)
		return fail(err, errlen, rc, "no answer to SNAPSHOT_PUT: %s", read_error(rc));
	if (c->header.type != WIRE_REPLY ||
	    wire_decode_reply(payload_of(c), c->header.length, &reply) < 0)
		return fail(err, errlen, -EPROTO, "answered SNAPSHOT_PUT with %s",
			    wire_type_name(c->header.type));
	if (reply.status < 0)
		return fail(err, errlen, reply.status, "%s", reply.message);
	return 0;
}

static int send_copy_bytes(struct transfer_conn *c, const struct wire_snapshot_put *put,
			   const uint8_t *data, char *err, size_t errlen)
{
	for (uint64_t done = 0; done < put->size;) {
		size_t n = put->size - done < TRANSFER_CHUNK ? (size_t)(put->size - done)
							     : TRANSFER_CHUNK;
		int rc = transfer_send_sealed_bytes(c->fd, c->seal, done, data + done, c->chunk, n);
		if (rc < 0)
			return fail(err, errlen, rc, "the copy stopped at offset %" PRIu64 ": %s",
				    done, strerror(-rc));
		done += n;
	}
	return 0;
}

int transfer_conn_put(struct transfer_conn *c, const struct wire_snapshot_put *put,
		      const uint8_t *data, uint64_t *held_xxh3, char *err, size_t errlen)
{
	uint8_t buf[2 * WIRE_NAME_MAX + 64]; /* the shard key and the region's name */
	struct wire_snapshot_ack ack;
	int rc = transfer_send_message(c->fd, c->seal, WIRE_SNAPSHOT_PUT, ++c->seq, buf,
				       wire_encode_snapshot_put(put, buf, sizeof(buf)));
	if (rc < 0)
		return fail(err, errlen, rc, "cannot send SNAPSHOT_PUT: %s", strerror(-rc));
	if ((rc = read_go_ahead(c, err, errlen)) < 0 ||
	    (rc = send_copy_bytes(c, put, data, err, errlen)) < 0)
		return rc;
	rc = read_message(c);
	if (rc == 0 && (c->header.type != WIRE_SNAPSHOT_ACK ||
			wire_decode_snapshot_ack(payload_of(c), c->header.length, &ack) < 0))
		rc = -EPROTO;
	if (rc < 0)
		return fail(err, errlen, rc, "no SNAPSHOT_ACK after the copy: %s", read_error(rc));
	if (ack.status < 0)
		return fail(err, errlen, ack.status, "%s", ack.message);
	*held_xxh3 = ack.xxh3;
	return 0;
}

/* --- the mesh's peers --- */

size_t transfer_peers_of(struct lcrd *d, struct transfer_peer *out, size_t cap)
{
	struct mesh *m = d->mesh;
	size_t count = 0;
	if (!m || mesh_state(m) != WIRE_MESH_UP)
		return 0;
	const uint32_t *live = mesh_live_ids(m);
	for (uint32_t i = 0; i < mesh_live_count(m) && count < cap; i++) {
		uint32_t node = live[i];
		struct transfer_peer *p = &out[count];
		if (node == mesh_self(m))
			continue;
		p->sa_len = mesh_node_sockaddr(m, node, &p->sa);
		if (p->sa_len == 0)
			continue; /* its address is not known yet: the slot is reused */
		const char *name = mesh_node_name(m, node);
		p->node = node;
		snprintf(p->name, sizeof(p->name), "%s", name[0] ? name : "?");
		count++;
	}
	return count;
}

void transfer_identity_of(struct lcrd *d, struct transfer_identity *out)
{
	*out = (struct transfer_identity){ .self = d->mesh ? mesh_self(d->mesh) : d->opt.node_id,
					   .job_id = d->opt.job_id, .step_id = d->opt.step_id,
					   .munge_socket = d->opt.munge_socket,
					   .wire_encryption = d->opt.wire_encryption };
}

/* --- filling a region --- */

enum piece_state { PIECE_TODO, PIECE_BUSY, PIECE_DONE };

struct piece {
	size_t range;       /* index in want->ranges */
	uint64_t offset;
	uint64_t length;
	enum piece_state state;
	uint32_t tried;     /* peers that failed it (bit per peer index) */
	int served_by;      /* the peer index that brought it in, -1 */
	bool in_place;      /* received straight into the region, hashed there: */
	uint64_t xxh3;      /* the hash of its bytes as they are in the region */
};

/* The outcome of one piece. */
struct piece_result {
	bool peer_gone;     /* the peer cannot go on */
	bool in_place;      /* received into the region's view, xxh3 its hash */
	uint64_t xxh3;
};

struct range_state {
	size_t first_piece, piece_count;
	size_t pieces_left;
	bool verified;      /* every byte in, matching the manifest */
	bool to_file;       /* no peer left for it: read it from the file */
	bool exclusive;     /* one peer alone serves all of it (after a mixed mismatch) */
	int owner;          /* that peer, -1 while none took it */
};

struct fill_job;

struct peer_thread {
	struct fill_job *job;
	int index;
	const struct transfer_peer *peer;
	pthread_t thread;
	bool started;
};

struct fill_job {
	struct region *region;
	const struct transfer_want *want;
	const struct transfer_identity *id;
	const atomic_bool *cancel;
	struct transfer_stats *stats;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct piece *pieces;
	size_t piece_count;
	struct range_state *ranges;
	uint32_t alive;     /* peers still in use (bit per peer index) */
	size_t busy;        /* pieces in flight */
	struct peer_thread threads[TRANSFER_MAX_PEERS];
};

static uint64_t piece_size_for(uint64_t total, size_t peers)
{
	uint64_t size = total / (4 * (uint64_t)peers);
	if (size < TRANSFER_PIECE_MIN)
		size = TRANSFER_PIECE_MIN;
	if (size > TRANSFER_PIECE_MAX)
		size = TRANSFER_PIECE_MAX;
	return (size + 4095) & ~(uint64_t)4095;
}

/* Pieces are whole ranges where there are enough of them to keep every peer busy (a range
 * of one piece is checked against the manifest with the hash taken as it arrived, not read
 * back), else smaller. */
static int cut_pieces(struct fill_job *job, size_t peers)
{
	const struct transfer_want *w = job->want;
	bool whole_ranges = w->range_count >= 2 * peers;
	uint64_t size = whole_ranges ? TRANSFER_PIECE_MAX : piece_size_for(job->region->size, peers);
	uint64_t count = 0;
	for (size_t k = 0; k < w->range_count; k++)
		count += (w->ranges[k].length + size - 1) / size;
	job->pieces = calloc(count ? count : 1, sizeof(*job->pieces));
	job->ranges = calloc(w->range_count ? w->range_count : 1, sizeof(*job->ranges));
	if (!job->pieces || !job->ranges)
		return -ENOMEM;
	for (size_t k = 0; k < w->range_count; k++) {
		const struct manifest_range *g = &w->ranges[k];
		struct range_state *rs = &job->ranges[k];
		rs->first_piece = job->piece_count;
		for (uint64_t at = 0; at < g->length; at += size) {
			job->pieces[job->piece_count++] = (struct piece){
				.range = k, .offset = g->offset + at, .served_by = -1,
				.length = g->length - at < size ? g->length - at : size };
		}
		rs->piece_count = rs->pieces_left = job->piece_count - rs->first_piece;
		rs->verified = g->length == 0;
		rs->owner = -1;
	}
	return 0;
}

/* Whether some live peer has not failed piece p yet. */
static bool has_candidate(const struct fill_job *job, const struct piece *p)
{
	return (job->alive & ~p->tried) != 0;
}

/* Ranges with a piece that no live peer is left for go to the file. Under the lock. */
static void settle(struct fill_job *job)
{
	for (size_t i = 0; i < job->piece_count; i++) {
		struct piece *p = &job->pieces[i];
		if (p->state == PIECE_TODO && !has_candidate(job, p))
			job->ranges[p->range].to_file = true;
	}
}

/* Whether a piece is still to come from some peer (not given up to the file). A peer that
 * cannot take it now (another owns its range) waits: the owner may fail it back to it. */
static bool work_left(const struct fill_job *job)
{
	for (size_t i = 0; i < job->piece_count; i++)
		if (job->pieces[i].state == PIECE_TODO && !job->ranges[job->pieces[i].range].to_file)
			return true;
	return false;
}

/* The next piece for peer `index`, marked busy, or NULL. Under the lock. */
static struct piece *pick(struct fill_job *job, int index)
{
	for (size_t i = 0; i < job->piece_count; i++) {
		struct piece *p = &job->pieces[i];
		struct range_state *rs = &job->ranges[p->range];
		if (p->state != PIECE_TODO || (p->tried & (1u << index)) || rs->to_file ||
		    (rs->exclusive && rs->owner >= 0 && rs->owner != index))
			continue;
		if (rs->exclusive)
			rs->owner = index;
		p->state = PIECE_BUSY;
		job->busy++;
		return p;
	}
	return NULL;
}

/* Waits for a piece; NULL when none will come (or the fill is cancelled). */
static struct piece *next_piece(struct fill_job *job, int index)
{
	struct piece *p = NULL;
	pthread_mutex_lock(&job->lock);
	while (!atomic_load(job->cancel) && !(p = pick(job, index)) &&
	       (job->busy > 0 || work_left(job))) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&job->changed, &job->lock, &until);
	}
	pthread_mutex_unlock(&job->lock);
	return p;
}

/* XXH3 of range g as it is in region r: in place where lcrd can read the region, else
 * copied out through buf. */
static int hash_region_range(struct region *r, const struct manifest_range *g, uint8_t *buf,
			     XXH3_state_t *state, uint64_t *hash)
{
	const uint8_t *view;
	XXH3_64bits_reset(state);
	if (region_view(r, g->offset, g->length, &view) == 0) {
		xxh3_stream_update(state, view, g->length);
		*hash = XXH3_64bits_digest(state);
		return 0;
	}
	for (uint64_t done = 0; done < g->length;) {
		size_t n = g->length - done < TRANSFER_CHUNK ? (size_t)(g->length - done)
							     : TRANSFER_CHUNK;
		int rc = region_read(r, g->offset + done, buf, n);
		if (rc < 0)
			return rc;
		xxh3_stream_update(state, buf, n);
		done += n;
	}
	*hash = XXH3_64bits_digest(state);
	return 0;
}

/* The one peer that served every piece of range rs, or -1 when several did. */
static int served_alone(const struct fill_job *job, const struct range_state *rs)
{
	int single = job->pieces[rs->first_piece].served_by;
	for (size_t i = rs->first_piece; i < rs->first_piece + rs->piece_count; i++)
		if (job->pieces[i].served_by != single)
			return -1;
	return single;
}

/* Peer `index` failed piece p: an exclusive range it owned is not asked of it again. */
static void note_failure(struct fill_job *job, struct piece *p, int index, bool peer_gone)
{
	struct range_state *rs = &job->ranges[p->range];
	p->state = PIECE_TODO;
	p->tried |= 1u << index;
	if (rs->exclusive && rs->owner == index) {
		for (size_t i = rs->first_piece; i < rs->first_piece + rs->piece_count; i++)
			job->pieces[i].tried |= 1u << index;
		rs->owner = -1;
	}
	if (peer_gone)
		for (size_t k = 0; k < job->want->range_count; k++)
			if (job->ranges[k].owner == index)
				job->ranges[k].owner = -1;
	job->stats->pieces_retried++;
}

/* Range k is all in: check it against the manifest (outside the lock), then either mark it
 * verified or send its pieces to peers that did not serve them; without a manifest
 * (no_hashes) its pieces' own checks are all. Called under the lock. */
static void check_range(struct fill_job *job, struct transfer_conn *c, size_t k)
{
	const struct manifest_range *g = &job->want->ranges[k];
	struct range_state *rs = &job->ranges[k];
	const struct piece *only = rs->piece_count == 1 ? &job->pieces[rs->first_piece] : NULL;
	uint64_t hash = 0;
	int rc = 0;
	if (job->want->no_hashes) {
		rs->verified = true; /* every piece matched its server's hash */
		return;
	}
	if (only && only->in_place) {
		hash = only->xxh3;
	} else {
		pthread_mutex_unlock(&job->lock);
		rc = hash_region_range(job->region, g, c->chunk, c->hash, &hash);
		pthread_mutex_lock(&job->lock);
		job->stats->bytes_hashed_again += g->length;
	}
	if (rc == 0 && hash == g->xxh3) {
		rs->verified = true;
		return;
	}
	int single = served_alone(job, rs);
	log_warning("region '%s' bytes %" PRIu64 "..%" PRIu64 " from %s do not match the "
		    "checkpoint's hash (%016" PRIx64 ", got %016" PRIx64 "): %s",
		    job->want->region_name, g->offset, g->offset + g->length,
		    single >= 0 ? job->threads[single].peer->name : "several peers", g->xxh3, hash,
		    single >= 0 ? "trying another source" : "fetching it again from one peer alone");
	for (size_t i = rs->first_piece; i < rs->first_piece + rs->piece_count; i++) {
		struct piece *p = &job->pieces[i];
		if (single >= 0)
			p->tried |= 1u << single;
		p->state = PIECE_TODO;
		p->served_by = -1;
		job->stats->pieces_retried++;
	}
	rs->exclusive = true;
	rs->owner = -1;
	rs->pieces_left = rs->piece_count;
	settle(job);
}

/* The end of one piece on peer t: rc 0 (in), else why it failed; r says whether the peer
 * goes and where the bytes went. */
static void piece_finished(struct fill_job *job, struct peer_thread *t, struct transfer_conn *c,
			   struct piece *p, int rc, const struct piece_result *r)
{
	bool peer_gone = r->peer_gone;
	pthread_mutex_lock(&job->lock);
	if (peer_gone)
		job->alive &= ~(1u << t->index);
	if (rc == 0) {
		p->state = PIECE_DONE;
		p->served_by = t->index;
		p->in_place = r->in_place;
		p->xxh3 = r->xxh3;
		job->stats->peer_bytes[t->index] += p->length;
		/* check_range drops the lock while it hashes: the piece stays counted busy until
		 * then, so that no other peer takes "nothing left" for the end and leaves. */
		if (--job->ranges[p->range].pieces_left == 0)
			check_range(job, c, p->range);
	} else {
		note_failure(job, p, t->index, peer_gone);
	}
	job->busy--;
	settle(job);
	pthread_cond_broadcast(&job->changed);
	pthread_mutex_unlock(&job->lock);
}

static int sink_into_region(void *arg, uint64_t offset, const void *data, size_t len)
{
	return region_write(arg, offset, data, len);
}

/* Fetches one piece: into the region's own mapping where lcrd can write it in place (its
 * pages mapped ahead), else through region_write. */
static int fetch_piece(struct fill_job *job, struct peer_thread *t, struct transfer_conn *c,
		       const struct piece *p, struct piece_result *out)
{
	struct wire_xfer_request req = { .step = job->want->step, .offset = p->offset,
					 .length = p->length };
	struct transfer_fetched f = { 0 };
	char err[WIRE_TEXT_MAX + 64];
	uint8_t *dst;
	int rc;
	snprintf(req.shard_key, sizeof(req.shard_key), "%s", job->want->shard_key);
	snprintf(req.region, sizeof(req.region), "%s", job->want->region_name);
	out->in_place = region_view_writable(job->region, p->offset, p->length, &dst) == 0;
	if (out->in_place) {
		/* Best effort: pages it could not map are faulted in as the bytes arrive. */
		region_populate(job->region, p->offset, p->length, true);
		rc = transfer_conn_fetch_into(c, &req, dst, &f, err, sizeof(err));
	} else {
		rc = transfer_conn_fetch(c, &req, sink_into_region, job->region, &f, err,
					 sizeof(err));
	}
	out->xxh3 = f.received_xxh3;
	out->peer_gone = rc < 0 && rc != -EILSEQ;
	if (rc == 0)
		return 0;
	log_warning("%s (%" PRIu32 ") could not serve region '%s' bytes %" PRIu64 "..%" PRIu64
		    "%s: %s", t->peer->name, t->peer->node, req.region, p->offset,
		    p->offset + p->length, out->peer_gone ? ", no more asked of it" : ", retrying",
		    err);
	return rc;
}

static void *peer_main(void *arg)
{
	struct peer_thread *t = arg;
	struct fill_job *job = t->job;
	struct transfer_conn *c = NULL;
	char err[WIRE_TEXT_MAX + 64];
	int rc = transfer_conn_open(t->peer, job->id, &c, err, sizeof(err));
	if (rc < 0) {
		log_warning("cannot fetch state from %s (%" PRIu32 "): %s", t->peer->name,
			    t->peer->node, err);
		pthread_mutex_lock(&job->lock);
		job->alive &= ~(1u << t->index);
		settle(job);
		pthread_cond_broadcast(&job->changed);
		pthread_mutex_unlock(&job->lock);
		return NULL;
	}
	struct piece *p;
	struct piece_result result = { .peer_gone = false };
	while (!result.peer_gone && (p = next_piece(job, t->index))) {
		rc = fetch_piece(job, t, c, p, &result);
		piece_finished(job, t, c, p, rc, &result);
	}
	transfer_conn_close(c);
	return NULL;
}

/* Runs one thread per peer and waits for them all. */
static void run_peer_threads(struct fill_job *job, const struct transfer_peer *peers,
			     size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct peer_thread *t = &job->threads[i];
		*t = (struct peer_thread){ .job = job, .index = (int)i, .peer = &peers[i] };
		job->alive |= 1u << i;
		job->stats->peer_node[i] = peers[i].node;
		snprintf(job->stats->peer_name[i], sizeof(job->stats->peer_name[i]), "%s",
			 peers[i].name);
	}
	job->stats->peer_count = count;
	for (size_t i = 0; i < count; i++) {
		struct peer_thread *t = &job->threads[i];
		t->started = pthread_create(&t->thread, NULL, peer_main, t) == 0;
		if (!t->started) {
			pthread_mutex_lock(&job->lock);
			job->alive &= ~(1u << i);
			settle(job);
			pthread_mutex_unlock(&job->lock);
		}
	}
	for (size_t i = 0; i < count; i++)
		if (job->threads[i].started)
			pthread_join(job->threads[i].thread, NULL);
}

/* Reads the ranges that the peers did not bring from the checkpoint file. */
static int fill_from_file(struct fill_job *job, char *err, size_t errlen)
{
	const struct transfer_want *w = job->want;
	void *buf = NULL;
	int rc = 0;
	for (size_t k = 0; k < w->range_count && rc == 0; k++) {
		const struct manifest_range *g = &w->ranges[k];
		uint64_t hash = 0, short_at = 0;
		if (job->ranges[k].verified)
			continue;
		if (atomic_load(job->cancel))
			return fail(err, errlen, -ECANCELED, "cancelled");
		if (w->file_fd < 0)
			return fail(err, errlen, -EUCLEAN, "no peer could serve region '%s' bytes %"
				    PRIu64 "..%" PRIu64 ", and there is no checkpoint file to read them "
				    "from", w->region_name, g->offset, g->offset + g->length);
		if (!buf && posix_memalign(&buf, 4096, CKPT_IO_CHUNK) != 0) {
			rc = fail(err, errlen, -ENOMEM, "out of memory");
			break;
		}
		rc = ckpt_store_read_range(w->file_fd, g, buf, CKPT_IO_CHUNK, sink_into_region,
					   job->region, &hash, &short_at);
		if (rc == -ENODATA)
			rc = fail(err, errlen, -EUCLEAN, "%s is truncated at offset %" PRIu64, w->file,
				  short_at);
		else if (rc < 0)
			fail(err, errlen, rc, "cannot read %s at offset %" PRIu64 ": %s", w->file,
			     g->offset, strerror(-rc));
		else if (hash != g->xxh3)
			rc = fail(err, errlen, -EUCLEAN, "%s bytes %" PRIu64 "..%" PRIu64 " do not "
				  "match their hash either (manifest %016" PRIx64 ", file %016" PRIx64
				  ")", w->file, g->offset, g->offset + g->length, g->xxh3, hash);
		else {
			job->stats->bytes_from_file += g->length;
			job->stats->ranges_from_file++;
		}
	}
	free(buf);
	return rc;
}

int transfer_fill(struct region *r, const struct transfer_want *w,
		  const struct transfer_identity *id, const struct transfer_peer *peers,
		  size_t peer_count, const atomic_bool *cancel, struct transfer_stats *stats,
		  char *err, size_t errlen)
{
	struct fill_job job = { .region = r, .want = w, .id = id, .cancel = cancel,
				.stats = stats };
	uint64_t started = util_now_ns();
	size_t count = peer_count < TRANSFER_MAX_PEERS ? peer_count : TRANSFER_MAX_PEERS;
	int rc;
	memset(stats, 0, sizeof(*stats));
	pthread_mutex_init(&job.lock, NULL);
	pthread_cond_init(&job.changed, NULL);
	rc = cut_pieces(&job, count ? count : 1);
	if (rc < 0) {
		fail(err, errlen, rc, "out of memory");
		goto out;
	}
	if (count > 0)
		run_peer_threads(&job, peers, count);
	for (size_t k = 0; k < w->range_count; k++)
		if (job.ranges[k].verified)
			stats->bytes_from_peers += w->ranges[k].length;
	rc = fill_from_file(&job, err, errlen);
out:
	stats->elapsed_ns = util_now_ns() - started;
	pthread_cond_destroy(&job.changed);
	pthread_mutex_destroy(&job.lock);
	free(job.pieces);
	free(job.ranges);
	return rc;
}

void transfer_describe(const struct transfer_stats *s, uint64_t total, char *buf, size_t cap)
{
	char size[32], part[32];
	double seconds = (double)s->elapsed_ns / 1e9;
	size_t used = 0;
	int n = snprintf(buf, cap, "%s in %.3f s (%.1f MiB/s): %s from %zu peers (",
			 util_format_size(total, size, sizeof(size)), seconds,
			 seconds > 0 ? (double)total / (1 << 20) / seconds : 0.0,
			 util_format_size(s->bytes_from_peers, part, sizeof(part)), s->peer_count);
	for (size_t i = 0; n >= 0 && (used += (size_t)n) < cap && i < s->peer_count; i++)
		n = snprintf(buf + used, cap - used, "%s%s: %" PRIu64 " bytes", i ? ", " : "",
			     s->peer_name[i], s->peer_bytes[i]);
	if (n >= 0 && used < cap)
		snprintf(buf + used, cap - used, "), %s from the checkpoint file (%" PRIu32
			 " ranges), %" PRIu32 " pieces retried",
			 util_format_size(s->bytes_from_file, size, sizeof(size)),
			 s->ranges_from_file, s->pieces_retried);
}
