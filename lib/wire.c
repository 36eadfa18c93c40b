/* wire.c: encoding, decoding and datagram I/O of the LCR wire protocol (see wire.h for the
 * format). Payloads are built with a bounded writer and read with a bounded reader: each
 * put or get checks the room left first and latches an error, so an encoder or decoder is a
 * straight list of fields followed by one check. No global state: the plugin runs this
 * inside slurmstepd. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal/wire.h"

/* --- bounded writer --- */

struct writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

static uint8_t *writer_room(struct writer *w, size_t n)
{
	if (w->err)
		return NULL;
	if (w->cap - w->len < n) {
		w->err = -EMSGSIZE;
		return NULL;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

static void store_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t load_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_u16(struct writer *w, uint16_t v)
{
	uint8_t *p = writer_room(w, 2);
	if (p)
		store_le(p, v, 2);
}

static void put_u32(struct writer *w, uint32_t v)
{
	uint8_t *p = writer_room(w, 4);
	if (p)
		store_le(p, v, 4);
}

static void put_u64(struct writer *w, uint64_t v)
{
	uint8_t *p = writer_room(w, 8);
	if (p)
		store_le(p, v, 8);
}

static void put_bytes(struct writer *w, const void *src, size_t n)
{
	uint8_t *p = writer_room(w, n);
	if (p && n)
		memcpy(p, src, n);
}

/* A string of at most `max` bytes: u16 length, then the bytes. */
static void put_string(struct writer *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_u16(w, (uint16_t)n);
	put_bytes(w, s, n);
}

static void put_blob(struct writer *w, const uint8_t *data, uint32_t n, uint32_t max)
{
	if (n > max) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_u32(w, n);
	put_bytes(w, data, n);
}

static int writer_finish(const struct writer *w)
{
	return w->err ? w->err : (int)w->len;
}

/* --- bounded reader --- */

struct reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	int err;
};

static const uint8_t *reader_take(struct reader *r, size_t n)
{
	if (r->err)
		return NULL;
	if (r->len - r->pos < n) {
		r->err = -EBADMSG;
		return NULL;
	}
	const uint8_t *p = r->buf + r->pos;
	r->pos += n;
	return p;
}

static uint16_t get_u16(struct reader *r)
{
	const uint8_t *p = reader_take(r, 2);
	return p ? (uint16_t)load_le(p, 2) : 0;
}

static uint32_t get_u32(struct reader *r)
{
	const uint8_t *p = reader_take(r, 4);
	return p ? (uint32_t)load_le(p, 4) : 0;
}

static uint64_t get_u64(struct reader *r)
{
	const uint8_t *p = reader_take(r, 8);
	return p ? load_le(p, 8) : 0;
}

static void get_bytes(struct reader *r, void *dst, size_t n)
{
	const uint8_t *p = reader_take(r, n);
	if (p && n)
		memcpy(dst, p, n);
}

/* A string into dst[max + 1]; a length over max or an embedded NUL is malformed. */
static void get_string(struct reader *r, char *dst, size_t max)
{
	dst[0] = '\0';
	uint16_t n = get_u16(r);
	if (r->err)
		return;
	if (n > max) {
		r->err = -EBADMSG;
		return;
	}
	const uint8_t *p = reader_take(r, n);
	if (!p)
		return;
	if (memchr(p, '\0', n)) {
		r->err = -EBADMSG;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void get_blob(struct reader *r, uint8_t *dst, uint32_t *n, uint32_t max)
{
	*n = get_u32(r);
	if (r->err)
		return;
	if (*n > max) {
		r->err = -EBADMSG;
		*n = 0;
		return;
	}
	get_bytes(r, dst, *n);
}

static int reader_finish(const struct reader *r)
{
	if (r->err)
		return r->err;
	return r->pos == r->len ? 0 : -EBADMSG;
}

#define WRITER(b, c) { .buf = (b), .cap = (c), .len = 0, .err = 0 }
#define READER(b, l) { .buf = (b), .len = (l), .pos = 0, .err = 0 }

/* --- header --- */

static const char *const type_names[] = {
	[WIRE_READY] = "READY",
	[WIRE_TASK_STARTED] = "TASK_STARTED",
	[WIRE_TASK_EXITED] = "TASK_EXITED",
	[WIRE_SHUTDOWN] = "SHUTDOWN",
	[WIRE_REPLY] = "REPLY",
	[WIRE_STATUS_REQUEST] = "STATUS_REQUEST",
	[WIRE_STATUS_REPLY] = "STATUS_REPLY",
	[WIRE_REGISTER] = "REGISTER",
	[WIRE_REGION_ALLOC] = "REGION_ALLOC",
	[WIRE_REGION_LOOKUP] = "REGION_LOOKUP",
	[WIRE_REGION_INFO] = "REGION_INFO",
	[WIRE_REGION_FREE] = "REGION_FREE",
	[WIRE_REGION_LIST] = "REGION_LIST",
	[WIRE_REGION_LIST_REPLY] = "REGION_LIST_REPLY",
	[WIRE_REGION_CHECKSUM] = "REGION_CHECKSUM",
	[WIRE_REGION_CHECKSUM_REPLY] = "REGION_CHECKSUM_REPLY",
	[WIRE_SUBSCRIBE] = "SUBSCRIBE",
	[WIRE_EVENT] = "EVENT",
	[WIRE_KV_PUT] = "KV_PUT",
	[WIRE_KV_GET] = "KV_GET",
	[WIRE_KV_VALUE] = "KV_VALUE",
	[WIRE_BARRIER] = "BARRIER",
	[WIRE_MESH_HELLO] = "MESH_HELLO",
	[WIRE_MESH_WELCOME] = "MESH_WELCOME",
	[WIRE_RDV_REGISTER] = "RDV_REGISTER",
	[WIRE_RDV_TABLE] = "RDV_TABLE",
	[WIRE_MESH_HEARTBEAT] = "MESH_HEARTBEAT",
	[WIRE_MESH_SUSPECT] = "MESH_SUSPECT",
	[WIRE_MESH_PING] = "MESH_PING",
	[WIRE_MESH_PONG] = "MESH_PONG",
	[WIRE_MESH_REPORT] = "MESH_REPORT",
	[WIRE_MESH_LEAVE] = "MESH_LEAVE",
	[WIRE_MESH_EVENT] = "MESH_EVENT",
	[WIRE_MESH_FENCED] = "MESH_FENCED",
	[WIRE_MESH_SYNC] = "MESH_SYNC",
	[WIRE_EVENT_LOG] = "EVENT_LOG",
	[WIRE_EVENT_LOG_REPLY] = "EVENT_LOG_REPLY",
	[WIRE_MESH_PROBE] = "MESH_PROBE",
	[WIRE_MESH_JOIN] = "MESH_JOIN",
	[WIRE_MESH_JOIN_ACCEPT] = "MESH_JOIN_ACCEPT",
	[WIRE_MESH_JOIN_REFUSED] = "MESH_JOIN_REFUSED",
	[WIRE_MESH_CHALLENGE] = "MESH_CHALLENGE",
	[WIRE_PMIX_EVENT] = "PMIX_EVENT",
	[WIRE_CKPT_NOW] = "CKPT_NOW",
	[WIRE_CKPT_RESULT] = "CKPT_RESULT",
	[WIRE_CKPT_INFO_REQUEST] = "CKPT_INFO_REQUEST",
	[WIRE_CKPT_INFO] = "CKPT_INFO",
	[WIRE_RESUME_STEP] = "RESUME_STEP",
	[WIRE_RESUME_INFO] = "RESUME_INFO",
	[WIRE_MESH_CKPT_ASK] = "MESH_CKPT_ASK",
	[WIRE_MESH_CKPT_REPORTS] = "MESH_CKPT_REPORTS",
	[WIRE_MESH_CKPT_WRITE] = "MESH_CKPT_WRITE",
	[WIRE_MESH_CKPT_RESULT] = "MESH_CKPT_RESULT",
	[WIRE_MESH_CKPT_REQUEST] = "MESH_CKPT_REQUEST",
	[WIRE_MESH_CKPT_DONE] = "MESH_CKPT_DONE",
	[WIRE_XFER_HELLO] = "XFER_HELLO",
	[WIRE_XFER_REQUEST] = "XFER_REQUEST",
	[WIRE_XFER_DATA] = "XFER_DATA",
	[WIRE_XFER_END] = "XFER_END",
};

const char *wire_phase_name(uint16_t phase)
{
	switch (phase) {
	case WIRE_PHASE_RUNNING: return "running";
	case WIRE_PHASE_UPDATING: return "updating";
	case WIRE_PHASE_COMMITTED: return "committed";
	}
	return "unknown";
}

const char *wire_type_name(uint16_t type)
{
	if (type >= sizeof(type_names) / sizeof(type_names[0]))
		return NULL;
	return type_names[type];
}

void wire_encode_header(uint16_t type, uint32_t seq, uint32_t length, uint8_t *buf)
{
	store_le(buf, WIRE_MAGIC, 4);
	store_le(buf + 4, WIRE_VERSION, 2);
	store_le(buf + 6, type, 2);
	store_le(buf + 8, length, 4);
	store_le(buf + 12, seq, 4);
}

/* Decodes the WIRE_HEADER_SIZE bytes at buf and checks what they say by themselves. */
static int decode_header_fields(const uint8_t *buf, struct wire_header *out)
{
	out->magic = (uint32_t)load_le(buf, 4);
	out->version = (uint16_t)load_le(buf + 4, 2);
	out->type = (uint16_t)load_le(buf + 6, 2);
	out->length = (uint32_t)load_le(buf + 8, 4);
	out->seq = (uint32_t)load_le(buf + 12, 4);
	if (out->magic != WIRE_MAGIC)
		return -EBADMSG;
	if (out->version != WIRE_VERSION)
		return -EPROTONOSUPPORT;
	if (out->length > WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	return 0;
}

int wire_parse_header(const uint8_t *buf, size_t len, struct wire_header *out)
{
	if (len < WIRE_HEADER_SIZE)
		return -EBADMSG;
	int rc = decode_header_fields(buf, out);
	if (rc < 0)
		return rc;
	if (out->length != len - WIRE_HEADER_SIZE)
		return -EBADMSG;
	if (!wire_type_name(out->type))
		return -EOPNOTSUPP;
	return 0;
}

/* --- datagram I/O --- */

int wire_send_msg_full(int fd, uint16_t type, uint32_t seq, const void *payload, uint32_t len,
		       int pass_fd)
{
	uint8_t header[WIRE_HEADER_SIZE];
	struct iovec iov[2] = {
		{ .iov_base = header, .iov_len = sizeof(header) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (len > WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	wire_encode_header(type, seq, len, header);
	if (pass_fd >= 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(header) + len ? 0 : -EMSGSIZE;
}

int wire_send_msg(int fd, uint16_t type, const void *payload, uint32_t len)
{
	return wire_send_msg_full(fd, type, 0, payload, len, -1);
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int rc;
	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

/* Takes the first descriptor of the ancillary data into *fd_out and closes any others. */
static void take_passed_fds(struct msghdr *mh, int *fd_out)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd_out < 0)
				*fd_out = fd;
			else
				close(fd);
		}
	}
}

int wire_recv_msg(int fd, struct wire_msg *out, int timeout_ms)
{
	uint8_t header[WIRE_HEADER_SIZE];
	struct iovec iov[2] = {
		{ .iov_base = header, .iov_len = sizeof(header) },
		{ .iov_base = out->payload, .iov_len = sizeof(out->payload) },
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	struct msghdr mh = {
		.msg_iov = iov,
		.msg_iovlen = 2,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	int rc;

	out->fd = -1;
	if (timeout_ms != 0) {
		rc = wait_readable(fd, timeout_ms);
		if (rc < 0)
			return rc;
	}
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | (timeout_ms == 0 ? MSG_DONTWAIT : 0));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	take_passed_fds(&mh, &out->fd);
	if (n == 0) {
		rc = -ECONNRESET;
		goto out;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		rc = -EMSGSIZE;
		goto out;
	}
	rc = wire_parse_header(header, (size_t)n, &out->header);
out:
	if (rc < 0 && out->fd >= 0) {
		close(out->fd);
		out->fd = -1;
	}
	return rc;
}

/* --- stream I/O --- */

void wire_stream_init(struct wire_stream *s)
{
	s->len = 0;
}

int wire_stream_fill(int fd, struct wire_stream *s)
{
	ssize_t n;
	if (s->len == sizeof(s->buf))
		return -ENOBUFS;
	do
		n = recv(fd, s->buf + s->len, sizeof(s->buf) - s->len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return -ECONNRESET;
	s->len += (size_t)n;
	return (int)n;
}

int wire_stream_next(struct wire_stream *s, struct wire_msg *out)
{
	int rc;
	out->fd = -1;
	if (s->len < WIRE_HEADER_SIZE)
		return -EAGAIN;
	rc = decode_header_fields(s->buf, &out->header);
	if (rc < 0)
		return rc;
	if (!wire_type_name(out->header.type))
		return -EOPNOTSUPP;
	size_t frame = WIRE_HEADER_SIZE + out->header.length;
	if (s->len < frame)
		return -EAGAIN;
	memcpy(out->payload, s->buf + WIRE_HEADER_SIZE, out->header.length);
	memmove(s->buf, s->buf + frame, s->len - frame);
	s->len -= frame;
	return 0;
}

int wire_frame(uint16_t type, uint32_t seq, const uint8_t *payload, uint32_t len, uint8_t *buf,
	       size_t cap)
{
	if (len > WIRE_MAX_PAYLOAD || cap < WIRE_HEADER_SIZE + (size_t)len)
		return -EMSGSIZE;
	wire_encode_header(type, seq, len, buf);
	if (len)
		memcpy(buf + WIRE_HEADER_SIZE, payload, len);
	return (int)(WIRE_HEADER_SIZE + len);
}

/* --- payloads --- */

int wire_encode_ready(const struct wire_ready *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->pid);
	put_string(&w, m->socket_path, WIRE_PATH_MAX);
	return writer_finish(&w);
}

int wire_decode_ready(const uint8_t *buf, size_t len, struct wire_ready *out)
{
	struct reader r = READER(buf, len);
	out->pid = get_u32(&r);
	get_string(&r, out->socket_path, WIRE_PATH_MAX);
	return reader_finish(&r);
}

int wire_encode_task_started(const struct wire_task_started *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->local_task_id);
	put_u32(&w, m->global_rank);
	put_u32(&w, m->pid);
	return writer_finish(&w);
}

int wire_decode_task_started(const uint8_t *buf, size_t len, struct wire_task_started *out)
{
	struct reader r = READER(buf, len);
	out->local_task_id = get_u32(&r);
	out->global_rank = get_u32(&r);
	out->pid = get_u32(&r);
	return reader_finish(&r);
}

int wire_encode_task_exited(const struct wire_task_exited *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->global_rank);
	put_u32(&w, m->pid);
	put_u32(&w, (uint32_t)m->wait_status);
	return writer_finish(&w);
}

int wire_decode_task_exited(const uint8_t *buf, size_t len, struct wire_task_exited *out)
{
	struct reader r = READER(buf, len);
	out->global_rank = get_u32(&r);
	out->pid = get_u32(&r);
	out->wait_status = (int32_t)get_u32(&r);
	return reader_finish(&r);
}

int wire_encode_reply(const struct wire_reply *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, (uint32_t)m->status);
	put_string(&w, m->message, WIRE_TEXT_MAX);
	return writer_finish(&w);
}

int wire_decode_reply(const uint8_t *buf, size_t len, struct wire_reply *out)
{
	struct reader r = READER(buf, len);
	out->status = (int32_t)get_u32(&r);
	get_string(&r, out->message, WIRE_TEXT_MAX);
	return reader_finish(&r);
}

int wire_encode_status_reply(const struct wire_status_reply *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (m->rank_count > WIRE_MAX_LOCAL_RANKS || m->task_count > WIRE_MAX_LOCAL_RANKS)
		return -EINVAL;
	put_u32(&w, m->job_id);
	put_u32(&w, m->step_id);
	put_u32(&w, m->node_id);
	put_u32(&w, m->node_count);
	put_u32(&w, m->uid);
	put_u32(&w, m->pid);
	put_u64(&w, m->uptime_ms);
	put_u16(&w, m->state);
	put_u32(&w, m->clients);
	put_u32(&w, m->region_count);
	put_u64(&w, m->region_bytes);
	put_u64(&w, m->region_quota);
	put_string(&w, m->node_name, WIRE_NODE_NAME_MAX);
	put_u32(&w, m->rank_count);
	for (uint32_t i = 0; i < m->rank_count; i++)
		put_u32(&w, m->ranks[i]);
	put_u32(&w, m->task_count);
	for (uint32_t i = 0; i < m->task_count; i++) {
		const struct wire_task_status *t = &m->tasks[i];
		put_u32(&w, t->global_rank);
		put_u32(&w, t->pid);
		put_u16(&w, t->state);
		put_u16(&w, t->registered);
		put_u32(&w, (uint32_t)t->wait_status);
	}
	return writer_finish(&w);
}

int wire_decode_status_reply(const uint8_t *buf, size_t len, struct wire_status_reply *out)
{
	struct reader r = READER(buf, len);
	out->job_id = get_u32(&r);
	out->step_id = get_u32(&r);
	out->node_id = get_u32(&r);
	out->node_count = get_u32(&r);
	out->uid = get_u32(&r);
	out->pid = get_u32(&r);
	out->uptime_ms = get_u64(&r);
	out->state = get_u16(&r);
	out->clients = get_u32(&r);
	out->region_count = get_u32(&r);
	out->region_bytes = get_u64(&r);
	out->region_quota = get_u64(&r);
	get_string(&r, out->node_name, WIRE_NODE_NAME_MAX);
	out->rank_count = get_u32(&r);
	if (out->rank_count > WIRE_MAX_LOCAL_RANKS)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->rank_count; i++)
		out->ranks[i] = get_u32(&r);
	out->task_count = get_u32(&r);
	if (out->task_count > WIRE_MAX_LOCAL_RANKS)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->task_count; i++) {
		struct wire_task_status *t = &out->tasks[i];
		t->global_rank = get_u32(&r);
		t->pid = get_u32(&r);
		t->state = get_u16(&r);
		t->registered = get_u16(&r);
		t->wait_status = (int32_t)get_u32(&r);
	}
	return reader_finish(&r);
}

int wire_encode_register(const struct wire_register *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->global_rank);
	put_u32(&w, m->dp_index);
	put_u32(&w, m->dp_size);
	put_string(&w, m->shard_key, WIRE_NAME_MAX);
	return writer_finish(&w);
}

int wire_decode_register(const uint8_t *buf, size_t len, struct wire_register *out)
{
	struct reader r = READER(buf, len);
	out->global_rank = get_u32(&r);
	out->dp_index = get_u32(&r);
	out->dp_size = get_u32(&r);
	get_string(&r, out->shard_key, WIRE_NAME_MAX);
	return reader_finish(&r);
}

int wire_encode_region_alloc(const struct wire_region_alloc *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->size);
	put_u16(&w, m->kind);
	put_bytes(&w, m->device_uuid, WIRE_UUID_SIZE);
	put_string(&w, m->name, WIRE_NAME_MAX);
	return writer_finish(&w);
}

int wire_decode_region_alloc(const uint8_t *buf, size_t len, struct wire_region_alloc *out)
{
	struct reader r = READER(buf, len);
	out->size = get_u64(&r);
	out->kind = get_u16(&r);
	get_bytes(&r, out->device_uuid, WIRE_UUID_SIZE);
	get_string(&r, out->name, WIRE_NAME_MAX);
	return reader_finish(&r);
}

int wire_encode_region_name(const struct wire_region_name *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_string(&w, m->name, WIRE_NAME_MAX);
	return writer_finish(&w);
}

int wire_decode_region_name(const uint8_t *buf, size_t len, struct wire_region_name *out)
{
	struct reader r = READER(buf, len);
	get_string(&r, out->name, WIRE_NAME_MAX);
	return reader_finish(&r);
}

int wire_encode_region_info(const struct wire_region_info *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->id);
	put_u64(&w, m->size);
	put_u64(&w, m->map_size);
	put_u16(&w, m->kind);
	put_u16(&w, m->flags);
	put_bytes(&w, m->device_uuid, WIRE_UUID_SIZE);
	put_string(&w, m->name, WIRE_NAME_MAX);
	return writer_finish(&w);
}

int wire_decode_region_info(const uint8_t *buf, size_t len, struct wire_region_info *out)
{
	struct reader r = READER(buf, len);
	out->id = get_u64(&r);
	out->size = get_u64(&r);
	out->map_size = get_u64(&r);
	out->kind = get_u16(&r);
	out->flags = get_u16(&r);
	get_bytes(&r, out->device_uuid, WIRE_UUID_SIZE);
	get_string(&r, out->name, WIRE_NAME_MAX);
	return reader_finish(&r);
}

int wire_encode_region_list(const struct wire_region_list *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->start);
	return writer_finish(&w);
}

int wire_decode_region_list(const uint8_t *buf, size_t len, struct wire_region_list *out)
{
	struct reader r = READER(buf, len);
	out->start = get_u32(&r);
	return reader_finish(&r);
}

int wire_encode_region_list_reply(const struct wire_region_list_reply *m, uint8_t *buf,
				  size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (m->count > WIRE_REGION_LIST_MAX)
		return -EINVAL;
	put_u32(&w, m->total);
	put_u32(&w, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct wire_region_entry *e = &m->entries[i];
		put_u64(&w, e->id);
		put_u64(&w, e->size);
		put_u16(&w, e->kind);
		put_u16(&w, e->flags);
		put_u32(&w, e->owner_rank);
		put_u16(&w, e->phase);
		put_u64(&w, e->committed_step);
		put_string(&w, e->name, WIRE_NAME_MAX);
		put_string(&w, e->shard_key, WIRE_NAME_MAX);
	}
	return writer_finish(&w);
}

int wire_decode_region_list_reply(const uint8_t *buf, size_t len,
				  struct wire_region_list_reply *out)
{
	struct reader r = READER(buf, len);
	out->total = get_u32(&r);
	out->count = get_u32(&r);
	if (out->count > WIRE_REGION_LIST_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->count; i++) {
		struct wire_region_entry *e = &out->entries[i];
		e->id = get_u64(&r);
		e->size = get_u64(&r);
		e->kind = get_u16(&r);
		e->flags = get_u16(&r);
		e->owner_rank = get_u32(&r);
		e->phase = get_u16(&r);
		e->committed_step = get_u64(&r);
		get_string(&r, e->name, WIRE_NAME_MAX);
		get_string(&r, e->shard_key, WIRE_NAME_MAX);
	}
	return reader_finish(&r);
}

int wire_encode_region_checksum(const struct wire_region_checksum *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->owner_rank);
	put_string(&w, m->name, WIRE_NAME_MAX);
	return writer_finish(&w);
}

int wire_decode_region_checksum(const uint8_t *buf, size_t len, struct wire_region_checksum *out)
{
	struct reader r = READER(buf, len);
	out->owner_rank = get_u32(&r);
	get_string(&r, out->name, WIRE_NAME_MAX);
	return reader_finish(&r);
}

int wire_encode_region_checksum_reply(const struct wire_region_checksum_reply *m, uint8_t *buf,
				      size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->size);
	put_u64(&w, m->xxh64);
	return writer_finish(&w);
}

int wire_decode_region_checksum_reply(const uint8_t *buf, size_t len,
				      struct wire_region_checksum_reply *out)
{
	struct reader r = READER(buf, len);
	out->size = get_u64(&r);
	out->xxh64 = get_u64(&r);
	return reader_finish(&r);
}

int wire_encode_event(const struct wire_event *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u16(&w, m->type);
	put_u16(&w, m->source);
	put_u32(&w, m->rank);
	put_u32(&w, m->pid);
	put_u32(&w, (uint32_t)m->status);
	put_string(&w, m->node, WIRE_NODE_NAME_MAX);
	put_string(&w, m->message, WIRE_TEXT_MAX);
	put_u32(&w, m->node_id);
	put_u64(&w, m->generation);
	put_u32(&w, m->leader);
	put_u64(&w, m->epoch);
	return writer_finish(&w);
}

int wire_decode_event(const uint8_t *buf, size_t len, struct wire_event *out)
{
	struct reader r = READER(buf, len);
	out->type = get_u16(&r);
	out->source = get_u16(&r);
	out->rank = get_u32(&r);
	out->pid = get_u32(&r);
	out->status = (int32_t)get_u32(&r);
	get_string(&r, out->node, WIRE_NODE_NAME_MAX);
	get_string(&r, out->message, WIRE_TEXT_MAX);
	out->node_id = get_u32(&r);
	out->generation = get_u64(&r);
	out->leader = get_u32(&r);
	out->epoch = get_u64(&r);
	return reader_finish(&r);
}

int wire_encode_kv_put(const struct wire_kv_put *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_string(&w, m->key, WIRE_NAME_MAX);
	put_blob(&w, m->value, m->value_len, WIRE_KV_VALUE_MAX);
	return writer_finish(&w);
}

int wire_decode_kv_put(const uint8_t *buf, size_t len, struct wire_kv_put *out)
{
	struct reader r = READER(buf, len);
	get_string(&r, out->key, WIRE_NAME_MAX);
	get_blob(&r, out->value, &out->value_len, WIRE_KV_VALUE_MAX);
	return reader_finish(&r);
}

int wire_encode_kv_get(const struct wire_kv_get *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->timeout_ms);
	put_string(&w, m->key, WIRE_NAME_MAX);
	return writer_finish(&w);
}

int wire_decode_kv_get(const uint8_t *buf, size_t len, struct wire_kv_get *out)
{
	struct reader r = READER(buf, len);
	out->timeout_ms = get_u32(&r);
	get_string(&r, out->key, WIRE_NAME_MAX);
	return reader_finish(&r);
}

int wire_encode_kv_value(const struct wire_kv_value *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_blob(&w, m->value, m->value_len, WIRE_KV_VALUE_MAX);
	return writer_finish(&w);
}

int wire_decode_kv_value(const uint8_t *buf, size_t len, struct wire_kv_value *out)
{
	struct reader r = READER(buf, len);
	get_blob(&r, out->value, &out->value_len, WIRE_KV_VALUE_MAX);
	return reader_finish(&r);
}

int wire_encode_barrier(const struct wire_barrier *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->participants);
	put_u32(&w, m->timeout_ms);
	put_string(&w, m->name, WIRE_NAME_MAX);
	return writer_finish(&w);
}

int wire_decode_barrier(const uint8_t *buf, size_t len, struct wire_barrier *out)
{
	struct reader r = READER(buf, len);
	out->participants = get_u32(&r);
	out->timeout_ms = get_u32(&r);
	get_string(&r, out->name, WIRE_NAME_MAX);
	return reader_finish(&r);
}

static bool pmix_kind_valid(uint16_t kind)
{
	return kind >= WIRE_PMIX_NODE_DOWN && kind <= WIRE_PMIX_KIND_MAX;
}

int wire_encode_pmix_event(const struct wire_pmix_event *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (!pmix_kind_valid(m->kind))
		return -EINVAL;
	put_u16(&w, m->kind);
	put_u32(&w, (uint32_t)m->status);
	put_u32(&w, m->rank);
	put_string(&w, m->nspace, WIRE_PMIX_NSPACE_MAX);
	put_u32(&w, m->node_id);
	put_string(&w, m->node, WIRE_NODE_NAME_MAX);
	put_u32(&w, m->reporter_rank);
	put_string(&w, m->reporter_nspace, WIRE_PMIX_NSPACE_MAX);
	return writer_finish(&w);
}

int wire_decode_pmix_event(const uint8_t *buf, size_t len, struct wire_pmix_event *out)
{
	struct reader r = READER(buf, len);
	out->kind = get_u16(&r);
	out->status = (int32_t)get_u32(&r);
	out->rank = get_u32(&r);
	get_string(&r, out->nspace, WIRE_PMIX_NSPACE_MAX);
	out->node_id = get_u32(&r);
	get_string(&r, out->node, WIRE_NODE_NAME_MAX);
	out->reporter_rank = get_u32(&r);
	get_string(&r, out->reporter_nspace, WIRE_PMIX_NSPACE_MAX);
	if (r.err == 0 && !pmix_kind_valid(out->kind))
		return -EBADMSG;
	return reader_finish(&r);
}

/* --- mesh and rendezvous --- */

int wire_encode_mesh_auth(const struct wire_mesh_auth *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u16(&w, m->purpose);
	put_u32(&w, m->job_id);
	put_u32(&w, m->step_id);
	put_u32(&w, m->from_node);
	put_u32(&w, m->to_node);
	put_u64(&w, m->nonce);
	put_u64(&w, m->echo);
	put_u64(&w, m->incarnation);
	return writer_finish(&w);
}

int wire_decode_mesh_auth(const uint8_t *buf, size_t len, struct wire_mesh_auth *out)
{
	struct reader r = READER(buf, len);
	out->purpose = get_u16(&r);
	out->job_id = get_u32(&r);
	out->step_id = get_u32(&r);
	out->from_node = get_u32(&r);
	out->to_node = get_u32(&r);
	out->nonce = get_u64(&r);
	out->echo = get_u64(&r);
	out->incarnation = get_u64(&r);
	return reader_finish(&r);
}

int wire_encode_mesh_hello(const struct wire_mesh_hello *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->from_node);
	put_u32(&w, m->to_node);
	put_string(&w, m->credential, WIRE_CRED_MAX);
	return writer_finish(&w);
}

int wire_decode_mesh_hello(const uint8_t *buf, size_t len, struct wire_mesh_hello *out)
{
	struct reader r = READER(buf, len);
	out->from_node = get_u32(&r);
	out->to_node = get_u32(&r);
	get_string(&r, out->credential, WIRE_CRED_MAX);
	return reader_finish(&r);
}

int wire_encode_mesh_welcome(const struct wire_mesh_welcome *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_string(&w, m->credential, WIRE_CRED_MAX);
	return writer_finish(&w);
}

int wire_decode_mesh_welcome(const uint8_t *buf, size_t len, struct wire_mesh_welcome *out)
{
	struct reader r = READER(buf, len);
	get_string(&r, out->credential, WIRE_CRED_MAX);
	return reader_finish(&r);
}

int wire_encode_mesh_challenge(const struct wire_mesh_challenge *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->nonce);
	return writer_finish(&w);
}

int wire_decode_mesh_challenge(const uint8_t *buf, size_t len, struct wire_mesh_challenge *out)
{
	struct reader r = READER(buf, len);
	out->nonce = get_u64(&r);
	if (r.err == 0 && out->nonce == 0)
		return -EBADMSG;
	return reader_finish(&r);
}

static bool node_count_valid(uint32_t node_id, uint32_t count)
{
	return count > 0 && count <= WIRE_MESH_NODES_MAX && node_id < count;
}

/* A node's global ranks: a u32 count (at most WIRE_MAX_LOCAL_RANKS), then the ranks. */
static void put_ranks(struct writer *w, const uint32_t *ranks, uint32_t count)
{
	if (count > WIRE_MAX_LOCAL_RANKS) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_u32(w, count);
	for (uint32_t i = 0; i < count; i++)
		put_u32(w, ranks[i]);
}

static void get_ranks(struct reader *r, uint32_t *ranks, uint32_t *count)
{
	*count = get_u32(r);
	if (r->err == 0 && *count > WIRE_MAX_LOCAL_RANKS) {
		r->err = -EBADMSG;
		*count = 0;
		return;
	}
	for (uint32_t i = 0; i < *count && r->err == 0; i++)
		ranks[i] = get_u32(r);
}

/* A node's state in a table or event: LIVE, DOWN or LEFT (0 only for an empty entry). */
static bool node_state_valid(uint16_t state, bool empty_allowed)
{
	return (empty_allowed && state == 0) || state == WIRE_NODE_LIVE ||
	       state == WIRE_NODE_DOWN || state == WIRE_NODE_LEFT;
}

static void put_rdv_node(struct writer *w, const struct wire_rdv_node *n, bool empty_allowed)
{
	if (!node_state_valid(n->state, empty_allowed)) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_u32(w, n->node_id);
	put_u16(w, n->port);
	put_string(w, n->node_name, WIRE_NODE_NAME_MAX);
	put_string(w, n->address, WIRE_ADDR_MAX);
	put_u16(w, n->state);
	put_ranks(w, n->ranks, n->rank_count);
	put_u64(w, n->incarnation);
}

static void get_rdv_node(struct reader *r, struct wire_rdv_node *n, bool empty_allowed)
{
	n->node_id = get_u32(r);
	n->port = get_u16(r);
	get_string(r, n->node_name, WIRE_NODE_NAME_MAX);
	get_string(r, n->address, WIRE_ADDR_MAX);
	n->state = get_u16(r);
	if (r->err == 0 && !node_state_valid(n->state, empty_allowed))
		r->err = -EBADMSG;
	get_ranks(r, n->ranks, &n->rank_count);
	n->incarnation = get_u64(r);
}

int wire_encode_rdv_register(const struct wire_rdv_register *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (!node_count_valid(m->node_id, m->node_count))
		return -EINVAL;
	put_string(&w, m->token, WIRE_TOKEN_MAX);
	put_u32(&w, m->node_id);
	put_u32(&w, m->node_count);
	put_string(&w, m->node_name, WIRE_NODE_NAME_MAX);
	put_string(&w, m->address, WIRE_ADDR_MAX);
	put_u16(&w, m->port);
	put_string(&w, m->credential, WIRE_CRED_MAX);
	put_ranks(&w, m->ranks, m->rank_count);
	return writer_finish(&w);
}

int wire_decode_rdv_register(const uint8_t *buf, size_t len, struct wire_rdv_register *out)
{
	struct reader r = READER(buf, len);
	get_string(&r, out->token, WIRE_TOKEN_MAX);
	out->node_id = get_u32(&r);
	out->node_count = get_u32(&r);
	get_string(&r, out->node_name, WIRE_NODE_NAME_MAX);
	get_string(&r, out->address, WIRE_ADDR_MAX);
	out->port = get_u16(&r);
	get_string(&r, out->credential, WIRE_CRED_MAX);
	get_ranks(&r, out->ranks, &out->rank_count);
	if (r.err == 0 && !node_count_valid(out->node_id, out->node_count))
		return -EBADMSG;
	return reader_finish(&r);
}

/* A table page's counts: at most a page, inside the table, the table within the limit. */
static bool table_page_valid(uint32_t total, uint32_t start, uint32_t count)
{
	return total > 0 && total <= WIRE_MESH_NODES_MAX && count <= WIRE_TABLE_PAGE_MAX &&
	       start <= total && count <= total - start;
}

int wire_encode_rdv_table(const struct wire_rdv_table *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (!table_page_valid(m->total, m->start, m->count))
		return -EINVAL;
	put_u32(&w, m->total);
	put_u32(&w, m->start);
	put_u32(&w, m->count);
	for (uint32_t i = 0; i < m->count; i++)
		put_rdv_node(&w, &m->nodes[i], false);
	return writer_finish(&w);
}

int wire_decode_rdv_table(const uint8_t *buf, size_t len, struct wire_rdv_table *out)
{
	struct reader r = READER(buf, len);
	out->total = get_u32(&r);
	out->start = get_u32(&r);
	out->count = get_u32(&r);
	if (r.err)
		return r.err;
	if (!table_page_valid(out->total, out->start, out->count))
		return -EBADMSG;
	for (uint32_t i = 0; i < out->count && r.err == 0; i++)
		get_rdv_node(&r, &out->nodes[i], false);
	return reader_finish(&r);
}

int wire_encode_mesh_join(const struct wire_mesh_join *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (!node_count_valid(m->node_id, m->node_count))
		return -EINVAL;
	put_u32(&w, m->node_id);
	put_u32(&w, m->to_node);
	put_u32(&w, m->node_count);
	put_string(&w, m->node_name, WIRE_NODE_NAME_MAX);
	put_string(&w, m->address, WIRE_ADDR_MAX);
	put_u16(&w, m->port);
	put_ranks(&w, m->ranks, m->rank_count);
	put_string(&w, m->credential, WIRE_CRED_MAX);
	return writer_finish(&w);
}

int wire_decode_mesh_join(const uint8_t *buf, size_t len, struct wire_mesh_join *out)
{
	struct reader r = READER(buf, len);
	out->node_id = get_u32(&r);
	out->to_node = get_u32(&r);
	out->node_count = get_u32(&r);
	if (r.err == 0 && !node_count_valid(out->node_id, out->node_count))
		return -EBADMSG;
	get_string(&r, out->node_name, WIRE_NODE_NAME_MAX);
	get_string(&r, out->address, WIRE_ADDR_MAX);
	out->port = get_u16(&r);
	get_ranks(&r, out->ranks, &out->rank_count);
	get_string(&r, out->credential, WIRE_CRED_MAX);
	return reader_finish(&r);
}

int wire_encode_mesh_join_accept(const struct wire_mesh_join_accept *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->generation);
	put_u64(&w, m->epoch);
	put_u32(&w, m->leader);
	put_string(&w, m->credential, WIRE_CRED_MAX);
	return writer_finish(&w);
}

int wire_decode_mesh_join_accept(const uint8_t *buf, size_t len,
				 struct wire_mesh_join_accept *out)
{
	struct reader r = READER(buf, len);
	out->generation = get_u64(&r);
	out->epoch = get_u64(&r);
	out->leader = get_u32(&r);
	get_string(&r, out->credential, WIRE_CRED_MAX);
	return reader_finish(&r);
}

int wire_encode_mesh_join_refused(const struct wire_mesh_join_refused *m, uint8_t *buf,
				  size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (m->status >= 0)
		return -EINVAL;
	put_u32(&w, (uint32_t)m->status);
	put_u32(&w, m->leader);
	put_string(&w, m->address, WIRE_ADDR_MAX);
	put_u16(&w, m->port);
	put_string(&w, m->message, WIRE_TEXT_MAX);
	return writer_finish(&w);
}

int wire_decode_mesh_join_refused(const uint8_t *buf, size_t len,
				  struct wire_mesh_join_refused *out)
{
	struct reader r = READER(buf, len);
	out->status = (int32_t)get_u32(&r);
	if (r.err == 0 && out->status >= 0)
		return -EBADMSG;
	out->leader = get_u32(&r);
	get_string(&r, out->address, WIRE_ADDR_MAX);
	out->port = get_u16(&r);
	get_string(&r, out->message, WIRE_TEXT_MAX);
	return reader_finish(&r);
}

int wire_encode_mesh_heartbeat(const struct wire_mesh_heartbeat *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->generation);
	return writer_finish(&w);
}

int wire_decode_mesh_heartbeat(const uint8_t *buf, size_t len, struct wire_mesh_heartbeat *out)
{
	struct reader r = READER(buf, len);
	out->generation = get_u64(&r);
	return reader_finish(&r);
}

static bool evidence_valid(uint16_t evidence)
{
	return evidence == WIRE_EVIDENCE_SILENT || evidence == WIRE_EVIDENCE_REFUSED ||
	       evidence == WIRE_EVIDENCE_LEFT;
}

int wire_encode_mesh_suspect(const struct wire_mesh_suspect *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (!evidence_valid(m->evidence))
		return -EINVAL;
	put_u32(&w, m->node);
	put_u16(&w, m->evidence);
	put_u32(&w, m->silent_ms);
	return writer_finish(&w);
}

int wire_decode_mesh_suspect(const uint8_t *buf, size_t len, struct wire_mesh_suspect *out)
{
	struct reader r = READER(buf, len);
	out->node = get_u32(&r);
	out->evidence = get_u16(&r);
	out->silent_ms = get_u32(&r);
	if (r.err == 0 && !evidence_valid(out->evidence))
		return -EBADMSG;
	return reader_finish(&r);
}

int wire_encode_mesh_ping(const struct wire_mesh_ping *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->nonce);
	return writer_finish(&w);
}

int wire_decode_mesh_ping(const uint8_t *buf, size_t len, struct wire_mesh_ping *out)
{
	struct reader r = READER(buf, len);
	out->nonce = get_u64(&r);
	return reader_finish(&r);
}

int wire_encode_mesh_probe(const struct wire_mesh_probe *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->node);
	return writer_finish(&w);
}

int wire_decode_mesh_probe(const uint8_t *buf, size_t len, struct wire_mesh_probe *out)
{
	struct reader r = READER(buf, len);
	out->node = get_u32(&r);
	return reader_finish(&r);
}

int wire_encode_mesh_report(const struct wire_mesh_report *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (m->type != WIRE_EVENT_RANK_EXITED)
		return -EINVAL;
	put_u16(&w, m->type);
	put_u32(&w, m->rank);
	put_u32(&w, m->pid);
	put_u32(&w, (uint32_t)m->status);
	put_string(&w, m->message, WIRE_TEXT_MAX);
	return writer_finish(&w);
}

int wire_decode_mesh_report(const uint8_t *buf, size_t len, struct wire_mesh_report *out)
{
	struct reader r = READER(buf, len);
	out->type = get_u16(&r);
	out->rank = get_u32(&r);
	out->pid = get_u32(&r);
	out->status = (int32_t)get_u32(&r);
	get_string(&r, out->message, WIRE_TEXT_MAX);
	if (r.err == 0 && out->type != WIRE_EVENT_RANK_EXITED)
		return -EBADMSG;
	return reader_finish(&r);
}

static bool mesh_event_type_valid(uint16_t type)
{
	return type == WIRE_EVENT_NODE_DOWN || type == WIRE_EVENT_NODE_LEFT ||
	       type == WIRE_EVENT_RANK_EXITED || type == WIRE_EVENT_REPLACING ||
	       type == WIRE_EVENT_NODE_JOINED || type == WIRE_EVENT_RECOVERY_FAILED;
}

static bool removed_state_valid(uint16_t state)
{
	return state == WIRE_NODE_DOWN || state == WIRE_NODE_LEFT;
}

int wire_encode_mesh_event(const struct wire_mesh_event *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (!mesh_event_type_valid(m->type) || m->removed_count > WIRE_MESH_NODES_MAX)
		return -EINVAL;
	put_u64(&w, m->generation);
	put_u32(&w, m->leader);
	put_u64(&w, m->time_ms);
	put_u16(&w, m->type);
	put_u32(&w, m->node);
	put_u32(&w, m->rank);
	put_u32(&w, m->pid);
	put_u32(&w, (uint32_t)m->status);
	put_string(&w, m->message, WIRE_TEXT_MAX);
	put_u64(&w, m->epoch);
	put_rdv_node(&w, &m->joined, true);
	put_u32(&w, m->removed_count);
	for (uint32_t i = 0; i < m->removed_count; i++) {
		if (!removed_state_valid(m->removed[i].state))
			return -EINVAL;
		put_u32(&w, m->removed[i].node);
		put_u16(&w, m->removed[i].state);
	}
	return writer_finish(&w);
}

int wire_decode_mesh_event(const uint8_t *buf, size_t len, struct wire_mesh_event *out)
{
	struct reader r = READER(buf, len);
	out->generation = get_u64(&r);
	out->leader = get_u32(&r);
	out->time_ms = get_u64(&r);
	out->type = get_u16(&r);
	out->node = get_u32(&r);
	out->rank = get_u32(&r);
	out->pid = get_u32(&r);
	out->status = (int32_t)get_u32(&r);
	get_string(&r, out->message, WIRE_TEXT_MAX);
	out->epoch = get_u64(&r);
	get_rdv_node(&r, &out->joined, true);
	out->removed_count = get_u32(&r);
	if (r.err)
		return r.err;
	if (!mesh_event_type_valid(out->type) || out->removed_count > WIRE_MESH_NODES_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->removed_count; i++) {
		out->removed[i].node = get_u32(&r);
		out->removed[i].state = get_u16(&r);
		if (r.err == 0 && !removed_state_valid(out->removed[i].state))
			return -EBADMSG;
	}
	return reader_finish(&r);
}

int wire_encode_mesh_fenced(const struct wire_mesh_fenced *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->generation);
	return writer_finish(&w);
}

int wire_decode_mesh_fenced(const uint8_t *buf, size_t len, struct wire_mesh_fenced *out)
{
	struct reader r = READER(buf, len);
	out->generation = get_u64(&r);
	return reader_finish(&r);
}

int wire_encode_mesh_sync(const struct wire_mesh_sync *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->after);
	return writer_finish(&w);
}

int wire_decode_mesh_sync(const uint8_t *buf, size_t len, struct wire_mesh_sync *out)
{
	struct reader r = READER(buf, len);
	out->after = get_u64(&r);
	return reader_finish(&r);
}

int wire_encode_event_log(const struct wire_event_log *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->start);
	return writer_finish(&w);
}

int wire_decode_event_log(const uint8_t *buf, size_t len, struct wire_event_log *out)
{
	struct reader r = READER(buf, len);
	out->start = get_u32(&r);
	return reader_finish(&r);
}

int wire_encode_event_log_reply(const struct wire_event_log_reply *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (m->count > WIRE_EVENT_LOG_MAX)
		return -EINVAL;
	put_u32(&w, m->node_id);
	put_u16(&w, m->state);
	put_u64(&w, m->generation);
	put_u32(&w, m->leader);
	put_u32(&w, m->live_count);
	put_u32(&w, m->node_count);
	put_string(&w, m->address, WIRE_ADDR_MAX);
	put_u16(&w, m->port);
	put_u32(&w, m->heartbeat_peers);
	put_u32(&w, m->timeout_ms);
	put_u64(&w, m->uptime_ms);
	put_u64(&w, m->messages_sent);
	put_u64(&w, m->messages_received);
	put_u64(&w, m->bytes_sent);
	put_u64(&w, m->bytes_received);
	put_u32(&w, m->total);
	put_u32(&w, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct wire_event_log_entry *e = &m->entries[i];
		put_u64(&w, e->time_ms);
		put_u64(&w, e->generation);
		put_u32(&w, e->leader);
		put_u16(&w, e->type);
		put_u32(&w, e->node);
		put_u32(&w, e->rank);
		put_u32(&w, e->pid);
		put_u32(&w, (uint32_t)e->status);
		put_string(&w, e->message, WIRE_TEXT_MAX);
		put_u64(&w, e->epoch);
	}
	return writer_finish(&w);
}

int wire_decode_event_log_reply(const uint8_t *buf, size_t len,
				struct wire_event_log_reply *out)
{
	struct reader r = READER(buf, len);
	out->node_id = get_u32(&r);
	out->state = get_u16(&r);
	out->generation = get_u64(&r);
	out->leader = get_u32(&r);
	out->live_count = get_u32(&r);
	out->node_count = get_u32(&r);
	get_string(&r, out->address, WIRE_ADDR_MAX);
	out->port = get_u16(&r);
	out->heartbeat_peers = get_u32(&r);
	out->timeout_ms = get_u32(&r);
	out->uptime_ms = get_u64(&r);
	out->messages_sent = get_u64(&r);
	out->messages_received = get_u64(&r);
	out->bytes_sent = get_u64(&r);
	out->bytes_received = get_u64(&r);
	out->total = get_u32(&r);
	out->count = get_u32(&r);
	if (r.err)
		return r.err;
	if (out->count > WIRE_EVENT_LOG_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->count; i++) {
		struct wire_event_log_entry *e = &out->entries[i];
		e->time_ms = get_u64(&r);
		e->generation = get_u64(&r);
		e->leader = get_u32(&r);
		e->type = get_u16(&r);
		e->node = get_u32(&r);
		e->rank = get_u32(&r);
		e->pid = get_u32(&r);
		e->status = (int32_t)get_u32(&r);
		get_string(&r, e->message, WIRE_TEXT_MAX);
		e->epoch = get_u64(&r);
	}
	return reader_finish(&r);
}

/* --- checkpoints --- */

int wire_encode_ckpt_result(const struct wire_ckpt_result *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, (uint32_t)m->status);
	put_u64(&w, m->step);
	put_u64(&w, m->bytes);
	put_u64(&w, m->elapsed_us);
	put_string(&w, m->path, WIRE_CKPT_PATH_MAX);
	put_string(&w, m->message, WIRE_TEXT_MAX);
	return writer_finish(&w);
}

int wire_decode_ckpt_result(const uint8_t *buf, size_t len, struct wire_ckpt_result *out)
{
	struct reader r = READER(buf, len);
	out->status = (int32_t)get_u32(&r);
	out->step = get_u64(&r);
	out->bytes = get_u64(&r);
	out->elapsed_us = get_u64(&r);
	get_string(&r, out->path, WIRE_CKPT_PATH_MAX);
	get_string(&r, out->message, WIRE_TEXT_MAX);
	return reader_finish(&r);
}

int wire_encode_ckpt_info(const struct wire_ckpt_info *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_string(&w, m->ckpt_dir, WIRE_CKPT_PATH_MAX);
	put_u32(&w, m->keep);
	put_u16(&w, m->restore_mode);
	put_u64(&w, m->restored_step);
	put_string(&w, m->restored_from, WIRE_CKPT_PATH_MAX);
	put_u16(&w, m->busy);
	put_u64(&w, m->busy_step);
	put_u32(&w, (uint32_t)m->last_status);
	put_u64(&w, m->last_step);
	put_string(&w, m->last_message, WIRE_TEXT_MAX);
	return writer_finish(&w);
}

int wire_decode_ckpt_info(const uint8_t *buf, size_t len, struct wire_ckpt_info *out)
{
	struct reader r = READER(buf, len);
	get_string(&r, out->ckpt_dir, WIRE_CKPT_PATH_MAX);
	out->keep = get_u32(&r);
	out->restore_mode = get_u16(&r);
	out->restored_step = get_u64(&r);
	get_string(&r, out->restored_from, WIRE_CKPT_PATH_MAX);
	out->busy = get_u16(&r);
	out->busy_step = get_u64(&r);
	out->last_status = (int32_t)get_u32(&r);
	out->last_step = get_u64(&r);
	get_string(&r, out->last_message, WIRE_TEXT_MAX);
	return reader_finish(&r);
}

int wire_encode_resume_info(const struct wire_resume_info *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->step);
	put_string(&w, m->checkpoint, WIRE_CKPT_PATH_MAX);
	return writer_finish(&w);
}

int wire_decode_resume_info(const uint8_t *buf, size_t len, struct wire_resume_info *out)
{
	struct reader r = READER(buf, len);
	out->step = get_u64(&r);
	get_string(&r, out->checkpoint, WIRE_CKPT_PATH_MAX);
	return reader_finish(&r);
}

/* --- senders for the plugin --- */

int wire_send_ready(int fd, const char *socket_path, uint32_t pid)
{
	struct wire_ready m = { .pid = pid };
	uint8_t buf[sizeof(m)];
	if (strlen(socket_path) > WIRE_PATH_MAX)
		return -ENAMETOOLONG;
	strcpy(m.socket_path, socket_path);
	int n = wire_encode_ready(&m, buf, sizeof(buf));
	return n < 0 ? n : wire_send_msg(fd, WIRE_READY, buf, (uint32_t)n);
}

int wire_send_task_started(int fd, uint32_t local_task_id, uint32_t global_rank, uint32_t pid)
{
	struct wire_task_started m = { local_task_id, global_rank, pid };
	uint8_t buf[sizeof(m)];
	int n = wire_encode_task_started(&m, buf, sizeof(buf));
	return n < 0 ? n : wire_send_msg(fd, WIRE_TASK_STARTED, buf, (uint32_t)n);
}

int wire_send_task_exited(int fd, uint32_t global_rank, uint32_t pid, int32_t wait_status)
{
	struct wire_task_exited m = { global_rank, pid, wait_status };
	uint8_t buf[sizeof(m)];
	int n = wire_encode_task_exited(&m, buf, sizeof(buf));
	return n < 0 ? n : wire_send_msg(fd, WIRE_TASK_EXITED, buf, (uint32_t)n);
}

int wire_send_shutdown(int fd)
{
	return wire_send_msg(fd, WIRE_SHUTDOWN, NULL, 0);
}

/* --- the mesh's multi-node checkpoint --- */

static bool replicas_valid(const struct wire_ckpt_replicas *m)
{
	uint64_t regions = 0;
	if (m->count > WIRE_CKPT_REPLICAS_MAX || m->region_count > WIRE_CKPT_REGIONS_MAX)
		return false;
	for (uint32_t i = 0; i < m->count; i++) {
		if (m->replicas[i].phase > WIRE_PHASE_COMMITTED)
			return false;
		regions += m->replicas[i].region_count;
	}
	return regions == m->region_count;
}

static void put_replicas(struct writer *w, const struct wire_ckpt_replicas *m)
{
	if (!replicas_valid(m)) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_u32(w, m->count);
	for (uint32_t i = 0; i < m->count; i++) {
		const struct wire_ckpt_replica *r = &m->replicas[i];
		put_u32(w, r->rank);
		put_u32(w, r->node_id);
		put_string(w, r->node, WIRE_NODE_NAME_MAX);
		put_string(w, r->shard_key, WIRE_NAME_MAX);
		put_u32(w, r->dp_size);
		put_u16(w, r->phase);
		put_u64(w, r->committed_step);
		put_u32(w, r->region_count);
	}
	put_u32(w, m->region_count);
	for (uint32_t i = 0; i < m->region_count; i++) {
		put_string(w, m->regions[i].name, WIRE_NAME_MAX);
		put_u16(w, m->regions[i].kind);
		put_u64(w, m->regions[i].size);
	}
}

static void get_replicas(struct reader *r, struct wire_ckpt_replicas *m)
{
	m->count = get_u32(r);
	if (!r->err && m->count > WIRE_CKPT_REPLICAS_MAX)
		r->err = -EBADMSG;
	for (uint32_t i = 0; !r->err && i < m->count; i++) {
		struct wire_ckpt_replica *p = &m->replicas[i];
		p->rank = get_u32(r);
		p->node_id = get_u32(r);
		get_string(r, p->node, WIRE_NODE_NAME_MAX);
		get_string(r, p->shard_key, WIRE_NAME_MAX);
		p->dp_size = get_u32(r);
		p->phase = get_u16(r);
		p->committed_step = get_u64(r);
		p->region_count = get_u32(r);
	}
	m->region_count = get_u32(r);
	if (!r->err && m->region_count > WIRE_CKPT_REGIONS_MAX)
		r->err = -EBADMSG;
	for (uint32_t i = 0; !r->err && i < m->region_count; i++) {
		get_string(r, m->regions[i].name, WIRE_NAME_MAX);
		m->regions[i].kind = get_u16(r);
		m->regions[i].size = get_u64(r);
	}
	if (!r->err && !replicas_valid(m))
		r->err = -EBADMSG;
}

int wire_encode_mesh_ckpt_ask(const struct wire_mesh_ckpt_ask *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->id);
	return writer_finish(&w);
}

int wire_decode_mesh_ckpt_ask(const uint8_t *buf, size_t len, struct wire_mesh_ckpt_ask *out)
{
	struct reader r = READER(buf, len);
	out->id = get_u64(&r);
	return reader_finish(&r);
}

int wire_encode_mesh_ckpt_reports(const struct wire_mesh_ckpt_reports *m, uint8_t *buf,
				  size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u64(&w, m->id);
	put_u32(&w, (uint32_t)m->status);
	put_string(&w, m->error, WIRE_TEXT_MAX);
	put_replicas(&w, &m->replicas);
	return writer_finish(&w);
}

int wire_decode_mesh_ckpt_reports(const uint8_t *buf, size_t len,
				  struct wire_mesh_ckpt_reports *out)
{
	struct reader r = READER(buf, len);
	out->id = get_u64(&r);
	out->status = (int32_t)get_u32(&r);
	get_string(&r, out->error, WIRE_TEXT_MAX);
	get_replicas(&r, &out->replicas);
	if (r.err == 0 && out->status > 0)
		return -EBADMSG;
	return reader_finish(&r);
}

int wire_encode_mesh_ckpt_write(const struct wire_mesh_ckpt_write *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (m->lost_count > WIRE_CKPT_LOST_MAX)
		return -EINVAL;
	put_u64(&w, m->id);
	put_u64(&w, m->step);
	put_u32(&w, m->lost_count);
	for (uint32_t i = 0; i < m->lost_count; i++)
		put_u32(&w, m->lost[i]);
	put_replicas(&w, &m->replicas);
	return writer_finish(&w);
}

int wire_decode_mesh_ckpt_write(const uint8_t *buf, size_t len, struct wire_mesh_ckpt_write *out)
{
	struct reader r = READER(buf, len);
	out->id = get_u64(&r);
	out->step = get_u64(&r);
	out->lost_count = get_u32(&r);
	if (r.err == 0 && out->lost_count > WIRE_CKPT_LOST_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->lost_count; i++)
		out->lost[i] = get_u32(&r);
	get_replicas(&r, &out->replicas);
	if (r.err == 0 && out->step == WIRE_NO_STEP)
		return -EBADMSG;
	return reader_finish(&r);
}

int wire_encode_mesh_ckpt_result(const struct wire_mesh_ckpt_result *m, uint8_t *buf,
				 size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (m->hash_count > WIRE_CKPT_HASHES_MAX || m->status > 0)
		return -EINVAL;
	put_u64(&w, m->id);
	put_u32(&w, (uint32_t)m->status);
	put_string(&w, m->error, WIRE_TEXT_MAX);
	put_u64(&w, m->step);
	put_u64(&w, m->bytes);
	put_u64(&w, m->elapsed_us);
	put_u32(&w, m->hash_count);
	for (uint32_t i = 0; i < m->hash_count; i++) {
		put_u32(&w, m->hashes[i].shard);
		put_u32(&w, m->hashes[i].region);
		put_u32(&w, m->hashes[i].range);
		put_u64(&w, m->hashes[i].xxh3);
	}
	return writer_finish(&w);
}

int wire_decode_mesh_ckpt_result(const uint8_t *buf, size_t len,
				 struct wire_mesh_ckpt_result *out)
{
	struct reader r = READER(buf, len);
	out->id = get_u64(&r);
	out->status = (int32_t)get_u32(&r);
	get_string(&r, out->error, WIRE_TEXT_MAX);
	out->step = get_u64(&r);
	out->bytes = get_u64(&r);
	out->elapsed_us = get_u64(&r);
	out->hash_count = get_u32(&r);
	if (r.err == 0 && (out->hash_count > WIRE_CKPT_HASHES_MAX || out->status > 0))
		return -EBADMSG;
	for (uint32_t i = 0; i < out->hash_count; i++) {
		out->hashes[i].shard = get_u32(&r);
		out->hashes[i].region = get_u32(&r);
		out->hashes[i].range = get_u32(&r);
		out->hashes[i].xxh3 = get_u64(&r);
	}
	return reader_finish(&r);
}

int wire_encode_mesh_ckpt_request(const struct wire_mesh_ckpt_request *m, uint8_t *buf,
				  size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_string(&w, m->reason, WIRE_TEXT_MAX);
	return writer_finish(&w);
}

int wire_decode_mesh_ckpt_request(const uint8_t *buf, size_t len,
				  struct wire_mesh_ckpt_request *out)
{
	struct reader r = READER(buf, len);
	get_string(&r, out->reason, WIRE_TEXT_MAX);
	return reader_finish(&r);
}

/* --- state transfer --- */

int wire_encode_xfer_hello(const struct wire_xfer_hello *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	put_u32(&w, m->from_node);
	put_u32(&w, m->to_node);
	put_string(&w, m->credential, WIRE_CRED_MAX);
	return writer_finish(&w);
}

int wire_decode_xfer_hello(const uint8_t *buf, size_t len, struct wire_xfer_hello *out)
{
	struct reader r = READER(buf, len);
	out->from_node = get_u32(&r);
	out->to_node = get_u32(&r);
	get_string(&r, out->credential, WIRE_CRED_MAX);
	return reader_finish(&r);
}

static bool xfer_range_valid(uint64_t offset, uint64_t length)
{
	return length > 0 && length <= WIRE_XFER_LENGTH_MAX && offset <= UINT64_MAX - length;
}

int wire_encode_xfer_request(const struct wire_xfer_request *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (!xfer_range_valid(m->offset, m->length) || !m->shard_key[0] || !m->region[0])
		return -EINVAL;
	put_string(&w, m->shard_key, WIRE_NAME_MAX);
	put_string(&w, m->region, WIRE_NAME_MAX);
	put_u64(&w, m->step);
	put_u64(&w, m->offset);
	put_u64(&w, m->length);
	return writer_finish(&w);
}

int wire_decode_xfer_request(const uint8_t *buf, size_t len, struct wire_xfer_request *out)
{
	struct reader r = READER(buf, len);
	get_string(&r, out->shard_key, WIRE_NAME_MAX);
	get_string(&r, out->region, WIRE_NAME_MAX);
	out->step = get_u64(&r);
	out->offset = get_u64(&r);
	out->length = get_u64(&r);
	if (r.err == 0 && (!xfer_range_valid(out->offset, out->length) || !out->shard_key[0] ||
			   !out->region[0]))
		return -EBADMSG;
	return reader_finish(&r);
}

int wire_encode_xfer_data(const struct wire_xfer_data *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (!xfer_range_valid(m->offset, m->length))
		return -EINVAL;
	put_u64(&w, m->offset);
	put_u64(&w, m->length);
	put_u32(&w, m->rank);
	return writer_finish(&w);
}

int wire_decode_xfer_data(const uint8_t *buf, size_t len, struct wire_xfer_data *out)
{
	struct reader r = READER(buf, len);
	out->offset = get_u64(&r);
	out->length = get_u64(&r);
	out->rank = get_u32(&r);
	if (r.err == 0 && !xfer_range_valid(out->offset, out->length))
		return -EBADMSG;
	return reader_finish(&r);
}

int wire_encode_xfer_end(const struct wire_xfer_end *m, uint8_t *buf, size_t cap)
{
	struct writer w = WRITER(buf, cap);
	if (m->status > 0)
		return -EINVAL;
	put_u32(&w, (uint32_t)m->status);
	put_u64(&w, m->xxh3);
	put_string(&w, m->message, WIRE_TEXT_MAX);
	return writer_finish(&w);
}

int wire_decode_xfer_end(const uint8_t *buf, size_t len, struct wire_xfer_end *out)
{
	struct reader r = READER(buf, len);
	out->status = (int32_t)get_u32(&r);
	out->xxh3 = get_u64(&r);
	get_string(&r, out->message, WIRE_TEXT_MAX);
	if (r.err == 0 && out->status > 0)
		return -EBADMSG;
	return reader_finish(&r);
}
