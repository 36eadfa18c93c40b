/* comm_tcp.c: the TCP ring backend of liblcr's communicators, for host memory.
 *
 * Each rank listens on a port, publishes "address:port" in the helper's key-value store,
 * connects to the next rank of the ring and accepts the previous one. Both ends of a
 * connection send a hello naming communicator, epoch and rank, so a stray peer, or an
 * address an earlier process left in the store, is refused and looked up again. Allreduce is a ring reduce-scatter then all-gather: each of the size chunks is
 * summed in the same ring order on every run, so results are bit-identical run to run.
 * Every wait is a poll() bounded by the operation's deadline that also wakes on abort
 * and, when asked, on a pending helper event. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal/comm.h"

#define HELLO_MAGIC 0x4352434cu /* "LCRC" */
#define BROADCAST_PIECE (1u << 20)

struct tcp_state {
	bool connected; /* the ring is built */
	int listen_fd;
	int next_fd; /* to rank + 1 */
	int prev_fd; /* from rank - 1 */
	void *scratch;
	size_t scratch_size;
};

/* The first bytes on every ring connection. */
struct hello {
	uint32_t magic;
	uint32_t rank;
	uint64_t epoch;
	char name[LCR_NAME_MAX + 1];
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Waits for `events` on fd until the deadline, or abort; during operations, a wait that
 * stalls while a helper event is waiting aborts the communicator (comm_check_stall). */
static int wait_fd(struct lcr_comm *c, int fd, short events, uint64_t deadline)
{
	uint64_t since = comm_now_ms();
	bool operating = c->state && ((struct tcp_state *)c->state)->connected;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int rc = poll(&pfd, 1, operating ? comm_poll_timeout(c, deadline) : comm_remaining_ms(c, deadline));

		if (rc < 0 && errno == EINTR)
			continue;
		if (atomic_load(&c->aborted))
			return -ECONNABORTED;
		if (rc < 0)
			return -errno;
		if (rc > 0)
			return 0;
		rc = operating ? comm_check_stall(c, deadline, since) : -ETIMEDOUT;
		if (rc < 0)
			return rc;
	}
}

/* Sends send[slen] to the next rank while receiving recv[rlen] from the previous one. */
static int exchange(struct lcr_comm *c, const void *send_buf, size_t slen, void *recv_buf, size_t rlen,
		    uint64_t deadline)
{
	struct tcp_state *t = c->state;
	size_t sent = 0, got = 0;
	uint64_t progress = comm_now_ms();

	while (sent < slen || got < rlen) {
		struct pollfd pfd[2] = {
			{ .fd = sent < slen ? t->next_fd : -1, .events = POLLOUT },
			{ .fd = got < rlen ? t->prev_fd : -1, .events = POLLIN },
		};
		int rc = poll(pfd, 2, comm_poll_timeout(c, deadline));

		if (rc < 0 && errno == EINTR)
			continue;
		if (atomic_load(&c->aborted))
			return -ECONNABORTED;
		if (rc < 0)
			return -errno;
		if (rc == 0) {
			rc = comm_check_stall(c, deadline, progress);
			if (rc < 0)
				return rc;
			continue;
		}
		progress = comm_now_ms();
		if (pfd[0].revents) {
			ssize_t n = send(t->next_fd, (const char *)send_buf + sent, slen - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return errno == EPIPE ? -ECONNRESET : -errno;
			if (n > 0)
				sent += (size_t)n;
		}
		if (pfd[1].revents) {
			ssize_t n = recv(t->prev_fd, (char *)recv_buf + got, rlen - got, MSG_DONTWAIT);
			if (n == 0)
				return -ECONNRESET;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return -errno;
			if (n > 0)
				got += (size_t)n;
		}
	}
	return 0;
}

static int open_listener(struct tcp_state *t, uint16_t *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t len = sizeof(addr);

	t->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t->listen_fd < 0)
		return -errno;
	if (bind(t->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(t->listen_fd, 16) < 0 ||
	    getsockname(t->listen_fd, (struct sockaddr *)&addr, &len) < 0)
		return -errno;
	*port = ntohs(addr.sin_port);
	return 0;
}

static int publish_address(struct lcr_comm *c, uint16_t port)
{
	char key[COMM_KEY_MAX], value[300];
	int len = snprintf(value, sizeof(value), "%s:%u", c->address, port);

	comm_member_key(c, c->rank, key, sizeof(key));
	return comm_kv_put(c, key, value, (size_t)len);
}

static int lookup_address(struct lcr_comm *c, uint32_t rank, struct sockaddr_in *addr, uint64_t deadline)
{
	char key[COMM_KEY_MAX], value[300], *colon;
	size_t len = 0;
	int rc;

	comm_member_key(c, rank, key, sizeof(key));
	rc = comm_kv_get(c, key, value, sizeof(value) - 1, &len, deadline);
	if (rc < 0)
		return rc;
	value[len] = '\0';
	colon = strrchr(value, ':');
	if (!colon)
		return -EPROTO;
	*colon = '\0';
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, value, &addr->sin_addr) == 1 ? 0 : -EPROTO;
}

static void fill_hello(const struct lcr_comm *c, struct hello *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = HELLO_MAGIC;
	h->rank = c->rank;
	h->epoch = c->epoch;
	snprintf(h->name, sizeof(h->name), "%s", c->name);
}

static int send_all(struct lcr_comm *c, int fd, const void *buf, size_t len, uint64_t deadline)
{
	size_t sent = 0;

	while (sent < len) {
		ssize_t n = send(fd, (const char *)buf + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int rc = wait_fd(c, fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int recv_all(struct lcr_comm *c, int fd, void *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		int rc = wait_fd(c, fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One attempt: connect to the address published for the next rank and check, from the
 * hello it answers with, that it is the next rank of this communicator and epoch (an
 * address left by an earlier process may now belong to someone else). */
static int try_connect_next(struct lcr_comm *c, uint64_t deadline)
{
	struct tcp_state *t = c->state;
	uint32_t next = (c->rank + 1) % c->size;
	struct sockaddr_in addr;
	struct hello hello;
	int rc, error = 0;
	socklen_t len = sizeof(error);

	rc = lookup_address(c, next, &addr, deadline);
	if (rc < 0)
		return rc;
	t->next_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t->next_fd < 0)
		return -errno;
	if (connect(t->next_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
		return -errno;
	rc = wait_fd(c, t->next_fd, POLLOUT, deadline);
	if (rc < 0)
		return rc;
	if (getsockopt(t->next_fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0 || error)
		return error ? -error : -errno;
	set_nodelay(t->next_fd);
	fill_hello(c, &hello);
	rc = send_all(c, t->next_fd, &hello, sizeof(hello), deadline);
	if (rc == 0)
		rc = recv_all(c, t->next_fd, &hello, sizeof(hello), deadline);
	hello.name[LCR_NAME_MAX] = '\0';
	if (rc == 0 && !(hello.magic == HELLO_MAGIC && hello.rank == next && hello.epoch == c->epoch &&
			 strcmp(hello.name, c->name) == 0))
		rc = -ECONNREFUSED;
	return rc;
}

static int connect_next(struct lcr_comm *c, uint64_t deadline)
{
	struct tcp_state *t = c->state;
	struct timespec pause = { 0, 50 * 1000 * 1000 };

	for (;;) {
		int rc = try_connect_next(c, deadline);

		if (rc != -ECONNREFUSED && rc != -ECONNRESET)
			return rc;
		close_fd(&t->next_fd);
		if (comm_remaining_ms(c, deadline) == 0)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
}

/* Accepts connections until the previous rank's, for this communicator and epoch, arrives. */
static int accept_prev(struct lcr_comm *c, uint64_t deadline)
{
	struct tcp_state *t = c->state;
	uint32_t prev = (c->rank + c->size - 1) % c->size;

	for (;;) {
		struct hello hello;
		int fd, rc;

		rc = wait_fd(c, t->listen_fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
		fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue;
		rc = recv_all(c, fd, &hello, sizeof(hello), deadline);
		hello.name[LCR_NAME_MAX] = '\0';
		if (rc == 0 && hello.magic == HELLO_MAGIC && hello.rank == prev && hello.epoch == c->epoch &&
		    strcmp(hello.name, c->name) == 0) {
			fill_hello(c, &hello);
			rc = send_all(c, fd, &hello, sizeof(hello), deadline);
			if (rc == 0) {
				set_nodelay(fd);
				t->prev_fd = fd;
				return 0;
			}
		}
		close(fd);
		if (rc == -ETIMEDOUT || rc == -ECONNABORTED)
			return rc;
	}
}

static void tcp_disconnect(struct lcr_comm *c)
{
	struct tcp_state *t = c->state;

	if (!t)
		return;
	close_fd(&t->listen_fd);
	close_fd(&t->next_fd);
	close_fd(&t->prev_fd);
	free(t->scratch);
	free(t);
	c->state = NULL;
}

static int tcp_connect(struct lcr_comm *c)
{
	struct tcp_state *t = calloc(1, sizeof(*t));
	uint64_t deadline = comm_deadline(c);
	uint16_t port = 0;
	int rc;

	if (!t)
		return -ENOMEM;
	t->listen_fd = t->next_fd = t->prev_fd = -1;
	c->state = t;
	rc = open_listener(t, &port);
	if (rc == 0)
		rc = publish_address(c, port);
	/* Connecting waits for the next rank's answer, so odd ranks accept first: no cycle. */
	if (rc == 0 && c->size > 1 && c->rank % 2 == 1)
		rc = accept_prev(c, deadline);
	if (rc == 0 && c->size > 1)
		rc = connect_next(c, deadline);
	if (rc == 0 && c->size > 1 && c->rank % 2 == 0)
		rc = accept_prev(c, deadline);
	if (rc == 0)
		t->connected = true;
	if (rc < 0)
		tcp_disconnect(c);
	return rc;
}

static int ensure_scratch(struct tcp_state *t, size_t size)
{
	void *bigger;

	if (t->scratch_size >= size)
		return 0;
	bigger = realloc(t->scratch, size);
	if (!bigger)
		return -ENOMEM;
	t->scratch = bigger;
	t->scratch_size = size;
	return 0;
}

static void add_into(void *dst, const void *src, size_t count, enum lcr_dtype dtype)
{
	size_t i;

	switch (dtype) {
	case LCR_DTYPE_FLOAT32:
		for (i = 0; i < count; i++)
			((float *)dst)[i] += ((const float *)src)[i];
		break;
	case LCR_DTYPE_FLOAT64:
		for (i = 0; i < count; i++)
			((double *)dst)[i] += ((const double *)src)[i];
		break;
	case LCR_DTYPE_INT64:
		for (i = 0; i < count; i++)
			((int64_t *)dst)[i] += ((const int64_t *)src)[i];
		break;
	}
}

/* Chunk `index` of `count` elements split in `parts`: its first element and length. */
static void chunk_bounds(size_t count, uint32_t parts, uint32_t index, size_t *first, size_t *length)
{
	size_t begin = count * index / parts, end = count * (index + 1) / parts;

	*first = begin;
	*length = end - begin;
}

static int tcp_allreduce_sum(struct lcr_comm *c, void *buf, size_t count, enum lcr_dtype dtype)
{
	struct tcp_state *t = c->state;
	size_t width = comm_dtype_size(dtype), first, length, rfirst, rlength;
	uint64_t deadline = comm_deadline(c);
	uint32_t p = c->size, r = c->rank, s;
	char *bytes = buf;
	int rc;

	if (p == 1)
		return 0;
	rc = ensure_scratch(t, (count / p + 1) * width);
	if (rc < 0)
		return rc;
	for (s = 0; s + 1 < p; s++) {
		chunk_bounds(count, p, (r + p - s) % p, &first, &length);
		chunk_bounds(count, p, (r + 2 * p - s - 1) % p, &rfirst, &rlength);
		rc = exchange(c, bytes + first * width, length * width, t->scratch, rlength * width, deadline);
		if (rc < 0)
			return rc;
		add_into(bytes + rfirst * width, t->scratch, rlength, dtype);
	}
	for (s = 0; s + 1 < p; s++) {
		chunk_bounds(count, p, (r + 1 + p - s) % p, &first, &length);
		chunk_bounds(count, p, (r + p - s) % p, &rfirst, &rlength);
		rc = exchange(c, bytes + first * width, length * width, bytes + rfirst * width, rlength * width,
			      deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Piece by piece along the ring: receive from the previous rank, pass on to the next. */
static int tcp_broadcast(struct lcr_comm *c, void *buf, size_t bytes, uint32_t root)
{
	struct tcp_state *t = c->state;
	uint64_t deadline = comm_deadline(c);
	bool forwards = (c->rank + 1) % c->size != root;
	size_t at;
	int rc;

	if (c->size == 1)
		return 0;
	for (at = 0; at < bytes; at += BROADCAST_PIECE) {
		size_t piece = bytes - at < BROADCAST_PIECE ? bytes - at : BROADCAST_PIECE;

		if (c->rank != root) {
			rc = recv_all(c, t->prev_fd, (char *)buf + at, piece, deadline);
			if (rc < 0)
				return rc;
		}
		if (c->rank == root || forwards) {
			rc = send_all(c, t->next_fd, (char *)buf + at, piece, deadline);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int tcp_barrier(struct lcr_comm *c)
{
	int64_t one = 1;

	return c->size == 1 ? 0 : tcp_allreduce_sum(c, &one, 1, LCR_DTYPE_INT64);
}

static void tcp_abort(struct lcr_comm *c)
{
	struct tcp_state *t = c->state;

	if (!t)
		return;
	if (t->next_fd >= 0)
		shutdown(t->next_fd, SHUT_RDWR);
	if (t->prev_fd >= 0)
		shutdown(t->prev_fd, SHUT_RDWR);
}

const struct comm_backend comm_tcp_backend = {
	.connect = tcp_connect,
	.allreduce_sum = tcp_allreduce_sum,
	.broadcast = tcp_broadcast,
	.barrier = tcp_barrier,
	.abort = tcp_abort,
	.rebuild = NULL,
	.disconnect = tcp_disconnect,
};
