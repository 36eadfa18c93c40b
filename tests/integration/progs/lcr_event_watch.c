/* lcr_event_watch.c: a test rank that registers with its helper and prints every event it
 * receives, with the wall-clock time it arrived, one line each:
 *
 *     ready rank 3 pid 4242
 *     event 1718000000123 NODE_DOWN node=n5 node_id=4 rank=- pid=0 gen=1 leader=0 msg=...
 *
 * It ends on HELPER_SHUTDOWN or HELPER_LOST, or after SECONDS. The rank is RANK, else
 * $SLURM_PROCID, else 0. Usage: lcr_event_watch SECONDS [RANK] */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lcr.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *type_name(enum lcr_event_type type)
{
	switch (type) {
	case LCR_EVENT_RANK_EXITED: return "RANK_EXITED";
	case LCR_EVENT_HELPER_SHUTDOWN: return "HELPER_SHUTDOWN";
	case LCR_EVENT_HELPER_LOST: return "HELPER_LOST";
	case LCR_EVENT_NODE_DOWN: return "NODE_DOWN";
	case LCR_EVENT_NODE_LEFT: return "NODE_LEFT";
	case LCR_EVENT_MESH_UP: return "MESH_UP";
	case LCR_EVENT_CHECKPOINT: return "CHECKPOINT";
	case LCR_EVENT_REPLACING: return "REPLACING";
	case LCR_EVENT_NODE_JOINED: return "NODE_JOINED";
	case LCR_EVENT_RECOVERY_FAILED: return "RECOVERY_FAILED";
	case LCR_EVENT_PROTECTED: return "PROTECTED";
	}
	return "UNKNOWN";
}

static void print_event(const struct lcr_event *ev)
{
	char rank[16] = "-";
	if (ev->type == LCR_EVENT_RANK_EXITED)
		snprintf(rank, sizeof(rank), "%" PRIu32, ev->rank);
	printf("event %" PRIu64 " %s node=%s node_id=%" PRId64 " rank=%s pid=%d gen=%" PRIu64
	       " leader=%" PRId64 " epoch=%" PRIu64 " msg=%s\n",
	       now_ms(), type_name(ev->type), ev->node[0] ? ev->node : "-",
	       ev->node_id == LCR_NO_NODE ? -1 : (int64_t)ev->node_id, rank, ev->pid,
	       ev->generation, ev->leader == LCR_NO_NODE ? -1 : (int64_t)ev->leader, ev->epoch, ev->message);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	lcr_session_t *s;
	struct lcr_event ev;
	const char *procid = getenv("SLURM_PROCID");
	uint32_t rank = argc > 2 ? (uint32_t)atoi(argv[2]) : procid ? (uint32_t)atoi(procid) : 0;
	struct lcr_rank_info me = { rank, rank, 1, "watch" };
	int seconds = argc > 1 ? atoi(argv[1]) : 60, rc;
	uint64_t end;
	if ((rc = lcr_open(NULL, &s)) < 0 || (rc = lcr_register(s, &me)) < 0) {
		fprintf(stderr, "lcr_event_watch: rank %" PRIu32 ": %s\n", rank, lcr_strerror(rc));
		return 1;
	}
	printf("ready rank %" PRIu32 " pid %ld\n", rank, (long)getpid());
	fflush(stdout);
	end = now_ms() + (uint64_t)seconds * 1000;
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = { .fd = lcr_event_fd(s), .events = POLLIN };
		if (now >= end)
			break;
		if (poll(&p, 1, (int)(end - now)) < 0 && errno != EINTR)
			break;
		while ((rc = lcr_event_next(s, &ev)) == 0) {
			print_event(&ev);
			if (ev.type == LCR_EVENT_HELPER_SHUTDOWN || ev.type == LCR_EVENT_HELPER_LOST)
				goto out;
		}
		if (rc != -EAGAIN)
			break;
	}
out:
	lcr_close(s);
	return 0;
}
