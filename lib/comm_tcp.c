/* comm_tcp.c: the TCP ring backend of liblcr's communicators, for host memory.
 *
 * Each rank listens on the address it publishes (not on every interface), publishes
 * "address:port key" where the members meet (the job-wide store by default, comm.c), where
 * key is a fresh secret of its listener, removing the entry once its ring is built,
 * connects to the next rank of the ring and accepts the previous one. The acceptor opens
 * each connection with a challenge and admits only a peer whose hello carries an HMAC of it
 * under its key, then proves the key back (comm_auth.h): someone who cannot read the store
 * is refused, and an address an earlier process left in the store is refused and looked up
 * again. Connections that have not sent their hello are served side by side, each for at
 * most HELLO_TIMEOUT_MS, so an idle or slow stranger cannot hold the build up.
 * Allreduce is a ring reduce-scatter then all-gather: each of the size chunks is
 * summed in the same ring order on every run, so results are bit-identical run to run.
 * Every wait is a poll() bounded by the operation's deadline that also wakes on abort
 * and, when asked, on a pending helper event; when events are watched, the build's waits
 * also end once a join at a newer epoch was told (comm_check_build). */
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
#include "internal/comm_auth.h"

#define HELLO_MAGIC 0x4352434cu	    /* "LCRC" */
#define CHALLENGE_MAGIC 0x4b52434cu /* "LCRK" */
#define BROADCAST_PIECE (1u << 20)
/* How long an accepted connection may take to send its hello, and how many may be waited
 * for at once (beyond that the oldest is dropped). */
#define HELLO_TIMEOUT_MS 2000
#define PENDING_MAX 16

struct tcp_state {
	bool connected; /* the ring is built */
	int listen_fd;
	int next_fd; /* to rank + 1 */
	int prev_fd; /* from rank - 1 */
	uint8_t key[COMM_AUTH_KEY_BYTES]; /* this rank's listener secret, published with its address */
	void *scratch;
	size_t scratch_size;
};

/* The acceptor's first bytes on a ring connection. */
struct challenge {
	uint32_t magic;
	uint32_t reserved;
	uint8_t nonce[COMM_AUTH_NONCE_BYTES];
};

/* The connector's answer to the challenge, then the acceptor's answer to that. The MAC, under
 * the acceptor's key, covers the challenge and this hello with mac zeroed; nonce is the
 * connector's, echoed by the acceptor. */
struct hello {
	uint32_t magic;
	uint32_t rank;
	uint64_t epoch;
	char name[LCR_NAME_MAX + 1];
	uint8_t nonce[COMM_AUTH_NONCE_BYTES];
	uint8_t mac[COMM_AUTH_MAC_BYTES];
};

/* An accepted connection waiting for its hello. */
struct pending {
	int fd;
	uint64_t expires; /* monotonic ms */
	size_t got;
	uint8_t challenge[COMM_AUTH_NONCE_BYTES];
	struct hello hello;
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
 * stalls while a helper event is waiting aborts the communicator (comm_check_stall); during
 * the build, a join at a newer epoch ends it (comm_check_build). */
static int wait_fd(struct lcr_comm *c, int fd, short events, uint64_t deadline)
{
	uint64_t since = comm_now_ms();
	bool operating = c->state && ((struct tcp_state *)c->state)->connected;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int rc = poll(&pfd, 1, comm_poll_timeout(c, deadline));

		if (rc < 0 && errno == EINTR)
			continue;
		if (atomic_load(&c->aborted))
			return -ECONNABORTED;
		if (rc < 0)
			return -errno;
		if (rc > 0)
			return 0;
		rc = operating ? comm_check_stall(c, deadline, since) : comm_check_build(c, deadline);
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

/* Listens on the address this rank publishes: only the interface its peers reach it at. */
static int open_listener(struct lcr_comm *c, struct tcp_state *t, uint16_t *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);

	if (inet_pton(AF_INET, c->address, &addr.sin_addr) != 1)
		return -EINVAL;
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
	struct tcp_state *t = c->state;
	char key[COMM_KEY_MAX], value[300], hex[COMM_AUTH_KEY_HEX + 1];
	int len, rc = comm_auth_random(t->key, sizeof(t->key));

	if (rc < 0)
		return rc;
	comm_auth_key_to_hex(t->key, hex);
	len = snprintf(value, sizeof(value), "%s:%u %s", c->address, port, hex);
	comm_member_key(c, c->rank, key, sizeof(key));
	return comm_kv_put(c, key, value, (size_t)len);
}

/* The address and listener key `rank` published for this communicator and epoch. */
static int lookup_member(struct lcr_comm *c, uint32_t rank, struct sockaddr_in *addr,
			 uint8_t peer_key[COMM_AUTH_KEY_BYTES], uint64_t deadline)
{
	char key[COMM_KEY_MAX], value[300], *colon, *space;
	size_t len = 0;
	int rc;

	comm_member_key(c, rank, key, sizeof(key));
	rc = comm_kv_get(c, key, value, sizeof(value) - 1, &len, deadline);
	if (rc < 0)
		return rc;
	value[len] = '\0';
	space = strchr(value, ' ');
	if (!space || comm_auth_key_from_hex(space + 1, peer_key) < 0)
		return -EPROTO;
	*space = '\0';
	colon = strrchr(value, ':');
	if (!colon)
		return -EPROTO;
	*colon = '\0';
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, value, &addr->sin_addr) == 1 ? 0 : -EPROTO;
}

/* This rank's hello, echoing nonce, with its MAC under key for the challenge. */
static int fill_hello(const struct lcr_comm *c, const uint8_t key[COMM_AUTH_KEY_BYTES], enum comm_auth_role role,
		      const uint8_t challenge[COMM_AUTH_NONCE_BYTES], const uint8_t nonce[COMM_AUTH_NONCE_BYTES],
		      struct hello *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = HELLO_MAGIC;
	h->rank = c->rank;
	h->epoch = c->epoch;
	snprintf(h->name, sizeof(h->name), "%s", c->name);
	memcpy(h->nonce, nonce, COMM_AUTH_NONCE_BYTES);
	return comm_auth_mac(key, role, challenge, h, sizeof(*h), h->mac);
}

/* Whether h is `rank`'s hello for this communicator and epoch, proven with key. */
static bool hello_valid(const struct lcr_comm *c, const struct hello *h, uint32_t rank,
			const uint8_t key[COMM_AUTH_KEY_BYTES], enum comm_auth_role role,
			const uint8_t challenge[COMM_AUTH_NONCE_BYTES])
{
	struct hello unsealed = *h;

	memset(unsealed.mac, 0, sizeof(unsealed.mac));
	return h->magic == HELLO_MAGIC && h->rank == rank && h->epoch == c->epoch &&
	       memchr(h->name, '\0', sizeof(h->name)) && strcmp(h->name, c->name) == 0 &&
	       comm_auth_mac_valid(key, role, challenge, &unsealed, sizeof(unsealed), h->mac);
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

/* The connector's side of the handshake on a connected socket: read the challenge, answer
 * it under the next rank's key, and check that the answer proves the same key (an address
 * left by an earlier process may now belong to someone else). */
static int handshake_next(struct lcr_comm *c, int fd, const uint8_t peer_key[COMM_AUTH_KEY_BYTES], uint64_t deadline)
{
	uint32_t next = (c->rank + 1) % c->size;
	uint8_t nonce[COMM_AUTH_NONCE_BYTES];
	struct challenge challenge;
	struct hello hello;
	int rc;

	rc = recv_all(c, fd, &challenge, sizeof(challenge), deadline);
	if (rc == 0 && challenge.magic != CHALLENGE_MAGIC)
		rc = -ECONNREFUSED;
	if (rc == 0)
		rc = comm_auth_random(nonce, sizeof(nonce));
	if (rc == 0)
		rc = fill_hello(c, peer_key, COMM_AUTH_CONNECTOR, challenge.nonce, nonce, &hello);
	if (rc == 0)
		rc = send_all(c, fd, &hello, sizeof(hello), deadline);
	if (rc == 0)
		rc = recv_all(c, fd, &hello, sizeof(hello), deadline);
	if (rc == 0 && !(memcmp(hello.nonce, nonce, sizeof(nonce)) == 0 &&
			 hello_valid(c, &hello, next, peer_key, COMM_AUTH_ACCEPTOR, challenge.nonce)))
		rc = -ECONNREFUSED;
	return rc;
}

/* One attempt: connect to the address published for the next rank and pass its handshake. */
static int try_connect_next(struct lcr_comm *c, uint64_t deadline)
{
	struct tcp_state *t = c->state;
	uint8_t peer_key[COMM_AUTH_KEY_BYTES];
	struct sockaddr_in addr;
	int rc, error = 0;
	socklen_t len = sizeof(error);

	rc = lookup_member(c, (c->rank + 1) % c->size, &addr, peer_key, deadline);
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
	return handshake_next(c, t->next_fd, peer_key, deadline);
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
		rc = comm_check_build(c, deadline);
		if (rc < 0)
			return rc;
		nanosleep(&pause, NULL);
	}
}

/* --- the acceptor: several connections in their handshake at once --- */

static void pending_drop(struct pending *p, unsigned *count, unsigned i)
{
	close(p[i].fd);
	p[i] = p[--*count];
}

static unsigned pending_oldest(const struct pending *p, unsigned count)
{
	unsigned oldest = 0;

	for (unsigned i = 1; i < count; i++)
		if (p[i].expires < p[oldest].expires)
			oldest = i;
	return oldest;
}

/* Accepts what the listener holds and sends each a challenge; past PENDING_MAX waiting
 * connections, the oldest is dropped. */
static void pending_admit(struct tcp_state *t, struct pending *p, unsigned *count)
{
	struct challenge challenge = { .magic = CHALLENGE_MAGIC };
	int fd;

	while ((fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (comm_auth_random(challenge.nonce, sizeof(challenge.nonce)) < 0 ||
		    send(fd, &challenge, sizeof(challenge), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(challenge)) {
			close(fd);
			continue;
		}
		if (*count == PENDING_MAX)
			pending_drop(p, count, pending_oldest(p, *count));
		p[*count] = (struct pending){ .fd = fd, .expires = comm_now_ms() + HELLO_TIMEOUT_MS };
		memcpy(p[*count].challenge, challenge.nonce, sizeof(challenge.nonce));
		++*count;
	}
}

/* Reads what arrived of a pending hello: 1 when complete, 0 for more, -errno to drop it. */
static int pending_read(struct pending *p)
{
	ssize_t n = recv(p->fd, (char *)&p->hello + p->got, sizeof(p->hello) - p->got, MSG_DONTWAIT);

	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	p->got += (size_t)n;
	return p->got == sizeof(p->hello);
}

/* A complete hello: when it is the previous rank's, proven under our key, answers it. */
static int pending_answer(struct lcr_comm *c, struct pending *p, uint64_t deadline)
{
	struct tcp_state *t = c->state;
	uint32_t prev = (c->rank + c->size - 1) % c->size;
	struct hello answer;
	int rc;

	if (!hello_valid(c, &p->hello, prev, t->key, COMM_AUTH_CONNECTOR, p->challenge))
		return -EACCES;
	rc = fill_hello(c, t->key, COMM_AUTH_ACCEPTOR, p->challenge, p->hello.nonce, &answer);
	return rc < 0 ? rc : send_all(c, p->fd, &answer, sizeof(answer), deadline);
}

/* How long the acceptor may sleep: until the deadline, the first hello timeout, or the next
 * look at the events (comm_poll_timeout). */
static int pending_poll_timeout(const struct lcr_comm *c, const struct pending *p, unsigned count, uint64_t deadline)
{
	int timeout = comm_poll_timeout(c, deadline);
	uint64_t now = comm_now_ms();

	for (unsigned i = 0; i < count; i++) {
		int left = p[i].expires > now ? (int)(p[i].expires - now) : 0;

		if (timeout < 0 || left < timeout)
			timeout = left;
	}
	return timeout;
}

/* Serves the readable pending connections; 1 with t->prev_fd set once the previous rank's
 * hello was answered, else 0. */
static int pending_serve(struct lcr_comm *c, struct pending *p, unsigned *count, const struct pollfd *pfd,
			 uint64_t deadline)
{
	struct tcp_state *t = c->state;
	uint64_t now = comm_now_ms();

	for (unsigned i = *count; i-- > 0;) {
		int rc = pfd[i].revents ? pending_read(&p[i]) : 0;

		if (rc == 1 && pending_answer(c, &p[i], deadline) == 0) {
			set_nodelay(p[i].fd);
			t->prev_fd = p[i].fd;
			p[i] = p[--*count];
			return 1;
		}
		if (rc != 0 || now >= p[i].expires)
			pending_drop(p, count, i);
	}
	return 0;
}

/* Accepts connections until the previous rank's, for this communicator and epoch, arrives. */
static int accept_prev(struct lcr_comm *c, uint64_t deadline)
{
	struct tcp_state *t = c->state;
	struct pending pending[PENDING_MAX];
	struct pollfd pfd[PENDING_MAX + 1];
	unsigned count = 0;
	int rc = 0;

	while (rc == 0) {
		for (unsigned i = 0; i < count; i++)
			pfd[i] = (struct pollfd){ .fd = pending[i].fd, .events = POLLIN };
		pfd[count] = (struct pollfd){ .fd = t->listen_fd, .events = POLLIN };
		rc = poll(pfd, count + 1, pending_poll_timeout(c, pending, count, deadline));
		if (rc < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (atomic_load(&c->aborted)) {
			rc = -ECONNABORTED;
			break;
		}
		bool listener_ready = rc > 0 && pfd[count].revents;
		rc = pending_serve(c, pending, &count, pfd, deadline);
		if (rc == 0 && listener_ready)
			pending_admit(t, pending, &count);
		if (rc == 0)
			rc = comm_check_build(c, deadline);
	}
	while (count > 0)
		pending_drop(pending, &count, 0);
	return rc < 0 ? rc : 0;
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

/* Once the ring is built, the previous rank has read this rank's entry (its hello proved
 * the key in it), and no one else reads it: remove it, so that the store does not fill up
 * with the entries of every epoch. */
static void forget_own_address(struct lcr_comm *c)
{
	char key[COMM_KEY_MAX];

	comm_member_key(c, c->rank, key, sizeof(key));
	comm_kv_delete(c, key);
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
	rc = open_listener(c, t, &port);
	if (rc == 0)
		rc = publish_address(c, port);
	/* Connecting waits for the next rank's answer, so odd ranks accept first: no cycle. */
	if (rc == 0 && c->size > 1 && c->rank % 2 == 1)
		rc = accept_prev(c, deadline);
	if (rc == 0 && c->size > 1)
		rc = connect_next(c, deadline);
	if (rc == 0 && c->size > 1 && c->rank % 2 == 0)
		rc = accept_prev(c, deadline);
	if (rc == 0) {
		t->connected = true;
		forget_own_address(c);
	}
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
