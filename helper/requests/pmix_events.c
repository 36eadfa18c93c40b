/* pmix_events.c: PMIx failure events that the ranks' liblcr forwards (WIRE_PMIX_EVENT, see
 * lib/client_pmix.c and doc/pmix-events.md). Each report is logged and turned into the
 * matching LCR event for this helper's subscribers, marked WIRE_SOURCE_PMIX:
 *
 *   PMIX_EVENT_NODE_DOWN        -> NODE_DOWN   (the node's name; its PMIx node id in the text)
 *   PMIX_ERR_PROC_ABORTED       -> RANK_EXITED (the affected rank)
 *   PMIX_EVENT_PROC_TERMINATED  -> RANK_EXITED (the affected rank)
 *   PMIX_ERR_LOST_CONNECTION    -> HELPER_LOST (the reporting rank lost its PMIx server)
 *
 * A process event is a rank's only when it names a process of the reporter's own namespace
 * (the job); others, such as a resource manager's daemon, are logged and not delivered.
 * Every rank of a node receives the same PMIx event and forwards it, so a report equal to
 * one of the last SEEN_MAX delivered (same kind, process and node) is only logged: the record
 * is this file's own, one lcrd per process. There is no failure detector yet to take these
 * as confirmed failures of the job: they reach this node's subscribers only. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "requests/requests.h"

#define SEEN_MAX 64

/* The part of a report that says what failed; the reporter is left out. */
struct seen_key {
	uint16_t kind;
	uint32_t rank;
	uint32_t node_id;
	char nspace[WIRE_PMIX_NSPACE_MAX + 1];
	char node[WIRE_NODE_NAME_MAX + 1];
};

/* The last SEEN_MAX reports delivered, oldest overwritten first. */
static struct {
	struct seen_key keys[SEEN_MAX];
	size_t count;
	size_t next;
} seen;

static const char *const kind_names[] = {
	[WIRE_PMIX_NODE_DOWN] = "PMIX_EVENT_NODE_DOWN",
	[WIRE_PMIX_PROC_ABORTED] = "PMIX_ERR_PROC_ABORTED",
	[WIRE_PMIX_PROC_TERMINATED] = "PMIX_EVENT_PROC_TERMINATED",
	[WIRE_PMIX_LOST_CONNECTION] = "PMIX_ERR_LOST_CONNECTION",
};

static void key_of(const struct wire_pmix_event *m, struct seen_key *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = m->kind;
	k->rank = m->rank;
	k->node_id = m->node_id;
	strcpy(k->nspace, m->nspace);
	strcpy(k->node, m->node);
}

/* Records the report; false when an equal one is on record already. */
static bool record_first(const struct wire_pmix_event *m)
{
	struct seen_key k;
	key_of(m, &k);
	for (size_t i = 0; i < seen.count; i++)
		if (memcmp(&seen.keys[i], &k, sizeof(k)) == 0)
			return false;
	seen.keys[seen.next] = k;
	seen.next = (seen.next + 1) % SEEN_MAX;
	if (seen.count < SEEN_MAX)
		seen.count++;
	return true;
}

/* "node n3" / "node with PMIx id 3" / "node n3 (PMIx id 3)" into buf. */
static const char *describe_node(const struct wire_pmix_event *m, char *buf, size_t cap)
{
	if (m->node_id == WIRE_PMIX_NO_NODE_ID)
		snprintf(buf, cap, "node %s", m->node);
	else if (!m->node[0])
		snprintf(buf, cap, "node with PMIx id %u", m->node_id);
	else
		snprintf(buf, cap, "node %s (PMIx id %u)", m->node, m->node_id);
	return buf;
}

/* The LCR event for a report, or a reason it names nothing this helper can deliver. */
static int build_event(const struct wire_pmix_event *m, struct wire_event *ev, char *why,
		       size_t whylen)
{
	char node[WIRE_NODE_NAME_MAX + 48];
	const char *name = kind_names[m->kind];
	memset(ev, 0, sizeof(*ev));
	ev->source = WIRE_SOURCE_PMIX;
	ev->status = -1;
	ev->node_id = WIRE_NO_NODE;
	ev->leader = WIRE_NO_NODE;
	switch (m->kind) {
	case WIRE_PMIX_NODE_DOWN:
		if (!m->node[0] && m->node_id == WIRE_PMIX_NO_NODE_ID) {
			snprintf(why, whylen, "%s names no node", name);
			return -EINVAL;
		}
		ev->type = WIRE_EVENT_NODE_DOWN;
		strcpy(ev->node, m->node);
		snprintf(ev->message, sizeof(ev->message), "PMIx: %s is down (%s)",
			 describe_node(m, node, sizeof(node)), name);
		return 0;
	case WIRE_PMIX_PROC_ABORTED:
	case WIRE_PMIX_PROC_TERMINATED:
		if (m->rank == WIRE_PMIX_NO_RANK || !m->nspace[0]) {
			snprintf(why, whylen, "%s names no process", name);
			return -EINVAL;
		}
		if (strcmp(m->nspace, m->reporter_nspace) != 0) {
			snprintf(why, whylen, "%s names process %u of namespace '%.80s', not a rank "
				 "of the job '%.80s'", name, m->rank, m->nspace, m->reporter_nspace);
			return -ENOENT;
		}
		ev->type = WIRE_EVENT_RANK_EXITED;
		ev->rank = m->rank;
		snprintf(ev->message, sizeof(ev->message), "PMIx: rank %u %s (%s)", m->rank,
			 m->kind == WIRE_PMIX_PROC_ABORTED ? "aborted" : "terminated", name);
		return 0;
	default:
		ev->type = WIRE_EVENT_HELPER_LOST;
		ev->rank = m->reporter_rank;
		snprintf(ev->message, sizeof(ev->message),
			 "PMIx: rank %u lost its connection to its PMIx server (%s)",
			 m->reporter_rank, name);
		return 0;
	}
}

void request_pmix_event(struct client *c, const struct wire_msg *msg)
{
	struct wire_pmix_event m;
	struct wire_event ev;
	char why[WIRE_TEXT_MAX + 1];
	uint32_t seq = msg->header.seq;
	int rc;

	if (wire_decode_pmix_event(msg->payload, msg->header.length, &m) < 0) {
		log_warning("client %llu (pid %ld) sent a malformed PMIX_EVENT",
			    (unsigned long long)c->id, (long)c->pid);
		control_reply_status(c, seq, -EBADMSG, "malformed PMIX_EVENT");
		return;
	}
	rc = build_event(&m, &ev, why, sizeof(why));
	if (rc < 0) {
		log_warning("rank %u of '%s' (pid %ld) forwarded a PMIx event not delivered: %s",
			    m.reporter_rank, m.reporter_nspace, (long)c->pid, why);
		control_reply_status(c, seq, rc, "%s", why);
		return;
	}
	if (!record_first(&m)) {
		log_verbose("rank %u (pid %ld) also reports: %s", m.reporter_rank, (long)c->pid,
			    ev.message);
		control_reply_status(c, seq, 0, "already delivered");
		return;
	}
	log_info("%s, reported by rank %u of '%s' (pid %ld, PMIx status %d)", ev.message,
		 m.reporter_rank, m.reporter_nspace, (long)c->pid, (int)m.status);
	control_broadcast_event(c->d, &ev);
	control_reply_status(c, seq, 0, "delivered");
}
