/* wire_frame.c: the wire protocol's framing (see wire.h): the header, the names of message
 * types, datagram I/O over the SOCK_SEQPACKET sockets of the plugin and the control socket
 * (with descriptors passed beside), and stream I/O over the mesh's TCP. The payloads of each
 * link are coded in lib/wire_<link>.c. No global state: the plugin runs this inside
 * slurmstepd. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal/wire.h"
#include "wire_cursor.h"

/* --- header --- */

#define WIRE_TYPE_NAME(name, number) [WIRE_##name] = #name,
static const char *const type_names[] = { WIRE_TYPES(WIRE_TYPE_NAME) };

const char *wire_phase_name(uint16_t phase)
{
	switch (phase) {
	case WIRE_PHASE_RUNNING: return "running";
	case WIRE_PHASE_UPDATING: return "updating";
	case WIRE_PHASE_COMMITTED: return "committed";
	case WIRE_PHASE_ROLLING_BACK: return "rolling back";
	case WIRE_PHASE_ABANDONED: return "abandoned";
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
	wire_store_le(buf, WIRE_MAGIC, 4);
	wire_store_le(buf + 4, WIRE_VERSION, 2);
	wire_store_le(buf + 6, type, 2);
	wire_store_le(buf + 8, length, 4);
	wire_store_le(buf + 12, seq, 4);
}

/* Decodes the WIRE_HEADER_SIZE bytes at buf and checks what they say by themselves. */
static int decode_header_fields(const uint8_t *buf, struct wire_header *out)
{
	out->magic = (uint32_t)wire_load_le(buf, 4);
	out->version = (uint16_t)wire_load_le(buf + 4, 2);
	out->type = (uint16_t)wire_load_le(buf + 6, 2);
	out->length = (uint32_t)wire_load_le(buf + 8, 4);
	out->seq = (uint32_t)wire_load_le(buf + 12, 4);
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

/* Takes one message, and trailer_len bytes after it into trailer. */
static int take_message(struct wire_stream *s, struct wire_msg *out, uint8_t *trailer, size_t trailer_len)
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
	size_t frame = WIRE_HEADER_SIZE + out->header.length + trailer_len;
	if (s->len < frame)
		return -EAGAIN;
	memcpy(out->payload, s->buf + WIRE_HEADER_SIZE, out->header.length);
	if (trailer_len)
		memcpy(trailer, s->buf + WIRE_HEADER_SIZE + out->header.length, trailer_len);
	memmove(s->buf, s->buf + frame, s->len - frame);
	s->len -= frame;
	return 0;
}

int wire_stream_next(struct wire_stream *s, struct wire_msg *out)
{
	return take_message(s, out, NULL, 0);
}

int wire_stream_next_sealed(struct wire_stream *s, struct wire_msg *out, uint8_t seal[WIRE_SEAL_SIZE])
{
	return take_message(s, out, seal, WIRE_SEAL_SIZE);
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
