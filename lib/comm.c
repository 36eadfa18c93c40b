/* comm.c: the backend-independent part of liblcr's communicators: argument checks, the
 * choice of backend, the address this rank publishes, epochs and abort. The data path
 * lives in comm_tcp.c and comm_nccl.c. See lcr_comm.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal/client.h"
#include "internal/comm.h"

uint64_t comm_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

uint64_t comm_deadline(const struct lcr_comm *c)
{
	return c->opt.timeout_ms < 0 ? UINT64_MAX : comm_now_ms() + (uint64_t)c->opt.timeout_ms;
}

int comm_remaining_ms(const struct lcr_comm *c, uint64_t deadline_ms)
{
	uint64_t now = comm_now_ms();

	if (c->opt.timeout_ms < 0)
		return -1;
	return now >= deadline_ms ? 0 : (int)(deadline_ms - now);
}

size_t comm_dtype_size(enum lcr_dtype dtype)
{
	switch (dtype) {
	case LCR_DTYPE_FLOAT32: return 4;
	case LCR_DTYPE_FLOAT64: return 8;
	case LCR_DTYPE_INT64: return 8;
	}
	return 0;
}

void comm_member_key(const struct lcr_comm *c, uint32_t rank, char *key, size_t keylen)
{
	/* 5 + 24 + 1 + 20 + 1 + 10 bytes at most: always fits COMM_KEY_MAX. */
	if ((size_t)snprintf(key, keylen, "lcrc.%s.%llu.%u", c->name, (unsigned long long)c->epoch, rank) >= keylen)
		key[0] = '\0';
}

/* The address peers reach this rank at: the option, $LCR_COMM_ADDR, or the host's name. */
static int choose_address(struct lcr_comm *c)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *found = NULL;
	const char *given = c->opt.address ? c->opt.address : getenv("LCR_COMM_ADDR");
	char host[256];

	if (given && given[0]) {
		snprintf(c->address, sizeof(c->address), "%s", given);
		return 0;
	}
	if (gethostname(host, sizeof(host) - 1) < 0 || getaddrinfo(host, NULL, &hints, &found) != 0 || !found) {
		snprintf(c->address, sizeof(c->address), "127.0.0.1");
		return 0;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)found->ai_addr)->sin_addr, c->address, sizeof(c->address));
	freeaddrinfo(found);
	return 0;
}

bool comm_event_waiting(const struct lcr_comm *c)
{
	struct pollfd pfd = { .fd = -1, .events = POLLIN };

	if (!c->session || !c->opt.watch_events)
		return false;
	pfd.fd = lcr_event_fd(c->session);
	return poll(&pfd, 1, 0) > 0;
}

int comm_check_stall(struct lcr_comm *c, uint64_t deadline_ms, uint64_t last_progress_ms)
{
	if (comm_remaining_ms(c, deadline_ms) == 0)
		return -ETIMEDOUT;
	if (comm_now_ms() - last_progress_ms >= COMM_STALL_MS && comm_event_waiting(c)) {
		lcr_comm_abort(c);
		return -ECONNABORTED;
	}
	return 0;
}

/* Whether a join at a newer epoch than the build's was told (events watched). */
static bool build_obsolete(struct lcr_comm *c)
{
	return c->session && c->opt.watch_events && client_event_join_told_after(c->session, c->epoch);
}

int comm_check_build(struct lcr_comm *c, uint64_t deadline_ms)
{
	if (comm_remaining_ms(c, deadline_ms) == 0)
		return -ETIMEDOUT;
	return build_obsolete(c) ? -ECONNABORTED : 0;
}

int comm_poll_timeout(const struct lcr_comm *c, uint64_t deadline_ms)
{
	int remaining = comm_remaining_ms(c, deadline_ms);

	if (!c->session || !c->opt.watch_events)
		return remaining;
	return remaining < 0 || remaining > COMM_STALL_MS ? COMM_STALL_MS : remaining;
}

/* Entries in the rendezvous directory hold a member's listener secret: each is written
 * through a new temporary file of mode 0600 and read only when it is a regular file of this
 * user that no one else can read (anything else was not written by a member). */
static int file_kv_put(struct lcr_comm *c, const char *key, const void *value, size_t len)
{
	char path[4400], temporary[4416];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", c->rendezvous_dir, key);
	snprintf(temporary, sizeof(temporary), "%s.%ld.tmp", path, (long)getpid());
	fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		rc = -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(temporary, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(temporary);
	return rc;
}

/* Reads a member's entry: -EPERM when it is not a private file of this user. */
static int file_kv_read(int fd, void *value, size_t cap, size_t *len)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	n = read(fd, value, cap);
	if (n < 0)
		return -errno;
	*len = (size_t)n;
	return 0;
}

static int file_kv_get(struct lcr_comm *c, const char *key, void *value, size_t cap, size_t *len,
		       uint64_t deadline)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", c->rendezvous_dir, key);
	for (;;) {
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

		if (fd >= 0) {
			int rc = file_kv_read(fd, value, cap, len);

			close(fd);
			return rc;
		}
		if (errno != ENOENT)
			return -errno;
		int rc = comm_check_build(c, deadline);
		if (rc < 0)
			return rc;
		nanosleep(&pause, NULL);
	}
}

/* The job-wide store, or the per-node one when this helper is older than the job-wide
 * store (it answers -EOPNOTSUPP): the members then meet on this node only, as before. */
static bool use_node_store(struct lcr_comm *c, int rc)
{
	if (rc != -EOPNOTSUPP || c->meeting != COMM_MEET_STORE)
		return false;
	c->meeting = COMM_MEET_NODE;
	return true;
}

int comm_kv_put(struct lcr_comm *c, const char *key, const void *value, size_t len)
{
	int rc;

	if (c->meeting == COMM_MEET_DIR)
		return file_kv_put(c, key, value, len);
	if (c->meeting == COMM_MEET_STORE) {
		rc = lcr_store_set(c->session, key, value, len);
		if (!use_node_store(c, rc))
			return rc;
	}
	return lcr_kv_put(c->session, key, value, len);
}

/* One wait of at most timeout_ms (-1: no bound) for key in the store: -ETIMEDOUT when it
 * did not appear, and the wait can be made again. */
static int store_get(struct lcr_comm *c, const char *key, void *value, size_t cap, size_t *len, int timeout_ms)
{
	int rc;

	if (c->meeting == COMM_MEET_STORE) {
		rc = lcr_store_get(c->session, key, value, cap, len, timeout_ms);
		if (!use_node_store(c, rc))
			return rc;
	}
	return lcr_kv_get(c->session, key, value, cap, len, timeout_ms);
}

/* In the store, the wait is made in slices of at most COMM_STALL_MS when events are
 * watched, so that a build a newer join made obsolete ends (comm_check_build), whatever the
 * slice's own end: the store's leader may have died with the failure that join repaired.
 * A slice the store's leader change cut off (-EHOSTUNREACH: it changed twice while the
 * helper forwarded it, jobkv.c) is waited again, as one that timed out: reading is
 * harmless to repeat, and the new leader holds the entries. */
int comm_kv_get(struct lcr_comm *c, const char *key, void *value, size_t cap, size_t *len, uint64_t deadline)
{
	int rc;

	if (c->meeting == COMM_MEET_DIR)
		return file_kv_get(c, key, value, cap, len, deadline);
	for (;;) {
		if (comm_remaining_ms(c, deadline) == 0)
			return -ETIMEDOUT;
		rc = store_get(c, key, value, cap, len, comm_poll_timeout(c, deadline));
		if (rc == 0)
			return 0;
		if (build_obsolete(c))
			return -ECONNABORTED;
		if (rc != -ETIMEDOUT && rc != -EHOSTUNREACH)
			return rc;
	}
}

/* Removes an entry that no member will read again; one already gone is no error. The
 * per-node store cannot remove keys: its entries stay until the helper ends. */
void comm_kv_delete(struct lcr_comm *c, const char *key)
{
	char path[4400];

	if (c->meeting == COMM_MEET_STORE) {
		lcr_store_delete(c->session, key);
	} else if (c->meeting == COMM_MEET_DIR) {
		snprintf(path, sizeof(path), "%s/%s", c->rendezvous_dir, key);
		unlink(path);
	}
}

/* Removes the entries of the current epoch that a failed build may have left: this rank's,
 * the next rank's (which only this rank reads: a member that died before its build ended
 * leaves one) and, on rank 0, NCCL's unique id. A successful build removed its own. */
static void forget_epoch(struct lcr_comm *c)
{
	char key[COMM_KEY_MAX];

	comm_member_key(c, c->rank, key, sizeof(key));
	comm_kv_delete(c, key);
	comm_member_key(c, (c->rank + 1) % c->size, key, sizeof(key));
	comm_kv_delete(c, key);
	if (c->rank == 0) {
		comm_member_key(c, COMM_KEY_UNIQUE_ID, key, sizeof(key));
		comm_kv_delete(c, key);
	}
}

static const struct comm_backend *backend_for(enum lcr_comm_backend backend)
{
	switch (backend) {
	case LCR_COMM_TCP: return &comm_tcp_backend;
#ifdef HAVE_NCCL
	case LCR_COMM_NCCL: return &comm_nccl_backend;
#else
	case LCR_COMM_NCCL: return NULL;
#endif
	}
	return NULL;
}

int lcr_comm_init(lcr_session_t *s, const char *name, uint32_t rank, uint32_t size, uint64_t epoch,
		  const struct lcr_comm_options *opt, lcr_comm_t **out)
{
	struct lcr_comm_options defaults = LCR_COMM_OPTIONS_DEFAULT;
	struct lcr_comm *c;
	int rc;

	if (!name || !name[0] || strlen(name) > COMM_NAME_MAX || strchr(name, '.') || size == 0 ||
	    rank >= size || !out)
		return -EINVAL;
	if (!opt)
		opt = &defaults;
	if (!s && (!opt->rendezvous_dir || !opt->rendezvous_dir[0]))
		return -EINVAL;
	if (!backend_for(opt->backend))
		return opt->backend == LCR_COMM_NCCL ? -EOPNOTSUPP : -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->session = s;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->rank = rank;
	c->size = size;
	c->epoch = epoch;
	c->opt = *opt;
	c->opt.address = NULL;
	c->opt.rendezvous_dir = NULL;
	c->meeting = COMM_MEET_STORE;
	if (opt->rendezvous_dir && opt->rendezvous_dir[0]) {
		snprintf(c->rendezvous_dir, sizeof(c->rendezvous_dir), "%s", opt->rendezvous_dir);
		c->meeting = COMM_MEET_DIR;
	}
	c->backend = backend_for(opt->backend);
	if (opt->backend == LCR_COMM_TCP) {
		c->opt.address = opt->address;
		choose_address(c);
		c->opt.address = NULL;
	}
	rc = c->backend->connect(c);
	if (rc < 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Before an operation: an aborted communicator, or a waiting event the caller should read
 * first (nothing has been sent yet, so the operation can simply be called again). */
static int check_usable(const struct lcr_comm *c)
{
	if (!c)
		return -EINVAL;
	if (atomic_load(&c->aborted))
		return -ECONNABORTED;
	return comm_event_waiting(c) ? -ECANCELED : 0;
}

int lcr_comm_allreduce_sum(lcr_comm_t *c, void *buf, size_t count, enum lcr_dtype dtype)
{
	int rc = check_usable(c);

	if (rc < 0)
		return rc;
	if (!buf || comm_dtype_size(dtype) == 0)
		return -EINVAL;
	return count ? c->backend->allreduce_sum(c, buf, count, dtype) : 0;
}

int lcr_comm_broadcast(lcr_comm_t *c, void *buf, size_t bytes, uint32_t root)
{
	int rc = check_usable(c);

	if (rc < 0)
		return rc;
	if (!buf || root >= c->size)
		return -EINVAL;
	return bytes ? c->backend->broadcast(c, buf, bytes, root) : 0;
}

int lcr_comm_barrier(lcr_comm_t *c)
{
	int rc = check_usable(c);

	return rc < 0 ? rc : c->backend->barrier(c);
}

void lcr_comm_abort(lcr_comm_t *c)
{
	if (!c)
		return;
	atomic_store(&c->aborted, true);
	c->backend->abort(c);
}

int lcr_comm_rebuild(lcr_comm_t *c, uint64_t epoch)
{
	if (!c || epoch <= c->epoch)
		return -EINVAL;
	forget_epoch(c);
	c->epoch = epoch;
	atomic_store(&c->aborted, false);
	if (c->backend->rebuild)
		return c->backend->rebuild(c);
	c->backend->disconnect(c);
	return c->backend->connect(c);
}

void lcr_comm_destroy(lcr_comm_t *c)
{
	if (!c)
		return;
	c->backend->disconnect(c);
	free(c);
}

uint32_t lcr_comm_rank(const lcr_comm_t *c)
{
	return c->rank;
}

uint32_t lcr_comm_size(const lcr_comm_t *c)
{
	return c->size;
}

uint64_t lcr_comm_epoch(const lcr_comm_t *c)
{
	return c->epoch;
}
