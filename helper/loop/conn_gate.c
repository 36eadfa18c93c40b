/* conn_gate.c: the cap on unauthenticated connections (see conn_gate.h). The entries are an
 * array in the order the connections came, oldest first; there are at most `total` from
 * non-members and per_address from each member address (a few hundred in all), so every
 * lookup is a walk. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "loop/conn_gate.h"
#include "internal/util.h"

struct gate_entry {
	const void *conn;
	int fd;
	struct sockaddr_storage from; /* only the family and the address are compared */
	bool member;
	bool heard;
	uint64_t since_ms;
};

struct conn_gate {
	uint32_t per_address;
	uint32_t total;
	uint64_t grace_ms;
	uint32_t count;
	uint32_t strangers; /* entries from non-member addresses */
	uint32_t capacity;
	struct gate_entry *entries; /* `count` used, oldest first */
};

int conn_gate_create(uint32_t per_address, uint32_t total, uint64_t grace_ms,
		     struct conn_gate **out)
{
	struct conn_gate *g;
	if (per_address == 0 || total == 0)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->per_address = per_address;
	g->total = total;
	g->grace_ms = grace_ms;
	*out = g;
	return 0;
}

uint32_t conn_gate_total_within_limit(uint32_t wanted)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) < 0 || limit.rlim_cur == RLIM_INFINITY ||
	    limit.rlim_cur / 4 >= wanted)
		return wanted;
	return limit.rlim_cur / 4 ? (uint32_t)(limit.rlim_cur / 4) : 1;
}

void conn_gate_destroy(struct conn_gate *g)
{
	if (!g)
		return;
	free(g->entries);
	free(g);
}

bool conn_gate_same_address(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return true;
}

static size_t address_size(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return sizeof(sa->sa_family);
}

/* In for longer than the grace, sent nothing whole and has nothing waiting: a peer that
 * had its time to speak and did not. */
static bool is_idle(const struct conn_gate *g, const struct gate_entry *e, uint64_t now)
{
	int waiting = 0;
	if (e->heard || now - e->since_ms < g->grace_ms)
		return false;
	return ioctl(e->fd, FIONREAD, &waiting) < 0 || waiting == 0;
}

static struct gate_entry *find(const struct conn_gate *g, const void *conn)
{
	for (uint32_t i = 0; i < g->count; i++)
		if (g->entries[i].conn == conn)
			return &g->entries[i];
	return NULL;
}

uint32_t conn_gate_count(const struct conn_gate *g, const struct sockaddr *from)
{
	uint32_t n = 0;
	if (!from)
		return g->strangers;
	for (uint32_t i = 0; i < g->count; i++)
		if (conn_gate_same_address((const struct sockaddr *)&g->entries[i].from, from))
			n++;
	return n;
}

/* The oldest idle connection from `from` (NULL: from any non-member) as *victim: -EAGAIN,
 * or -EBUSY when there is none. */
static int pick_victim(const struct conn_gate *g, const struct sockaddr *from, void **victim)
{
	uint64_t now = util_now_ms();
	for (uint32_t i = 0; i < g->count; i++) {
		const struct gate_entry *e = &g->entries[i];
		bool in_way = from ? conn_gate_same_address((const struct sockaddr *)&e->from, from) :
				     !e->member;
		if (in_way && is_idle(g, e, now)) {
			*victim = (void *)e->conn;
			return -EAGAIN;
		}
	}
	return -EBUSY;
}

int conn_gate_make_room(struct conn_gate *g, const struct sockaddr *from, bool member,
			void **victim)
{
	if (conn_gate_count(g, from) >= g->per_address)
		return pick_victim(g, from, victim);
	if (!member && g->strangers >= g->total)
		return pick_victim(g, NULL, victim);
	return 0;
}

static int grow(struct conn_gate *g)
{
	uint32_t capacity = g->capacity ? 2 * g->capacity : 64;
	struct gate_entry *entries = realloc(g->entries, capacity * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	g->entries = entries;
	g->capacity = capacity;
	return 0;
}

int conn_gate_enter(struct conn_gate *g, void *conn, int fd, const struct sockaddr *from,
		    bool member)
{
	if ((!member && g->strangers >= g->total) || conn_gate_count(g, from) >= g->per_address)
		return -EBUSY;
	if (g->count == g->capacity && grow(g) < 0)
		return -ENOMEM;
	struct gate_entry *e = &g->entries[g->count++];
	*e = (struct gate_entry){ .conn = conn, .fd = fd, .member = member,
				  .since_ms = util_now_ms() };
	memcpy(&e->from, from, address_size(from));
	g->strangers += !member;
	return 0;
}

void conn_gate_heard(struct conn_gate *g, const void *conn)
{
	struct gate_entry *e = find(g, conn);
	if (e)
		e->heard = true;
}

void conn_gate_leave(struct conn_gate *g, const void *conn)
{
	struct gate_entry *e = find(g, conn);
	if (!e)
		return;
	g->strangers -= !e->member;
	size_t after = (size_t)(&g->entries[g->count] - (e + 1));
	memmove(e, e + 1, after * sizeof(*e));
	g->count--;
}
