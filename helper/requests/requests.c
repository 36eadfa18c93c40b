/* requests.c: what lcrd does for each control-socket request (see requests.h): status and
 * shutdown, rank registration, the region calls of the client API, and event subscription.
 * The key-value store and barriers are in kv.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "requests/requests.h"
#include "internal/util.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "mesh/mesh.h"
#include "services/ckpt.h"
#include "services/ckpt_restore.h"
#include "services/snapshot.h"
#include "services/tasks.h"

int requests_register(struct lcrd *d)
{
	static const struct control_request requests[] = {
		{ WIRE_STATUS_REQUEST, request_status },
		{ WIRE_SHUTDOWN, request_shutdown },
		{ WIRE_REGISTER, request_register },
		{ WIRE_REGION_ALLOC, request_region_alloc },
		{ WIRE_REGION_LOOKUP, request_region_lookup },
		{ WIRE_REGION_FREE, request_region_free },
		{ WIRE_REGION_LIST, request_region_list },
		{ WIRE_REGION_CHECKSUM, request_region_checksum },
		{ WIRE_SUBSCRIBE, request_subscribe },
		{ WIRE_EVENT_LOG, request_event_log },
		{ WIRE_PMIX_EVENT, request_pmix_event },
	};
	return control_register(d, requests, sizeof(requests) / sizeof(requests[0]));
}

void request_status(struct client *c, const struct wire_msg *msg)
{
	static struct wire_status_reply s;
	static uint8_t buf[sizeof(s)];
	struct lcrd *d = c->d;

	memset(&s, 0, sizeof(s));
	s.job_id = d->opt.job_id;
	s.step_id = d->opt.step_id;
	s.node_id = d->opt.node_id;
	s.node_count = d->opt.node_count;
	s.uid = (uint32_t)getuid();
	s.pid = (uint32_t)getpid();
	s.uptime_ms = util_now_ms() - d->started_ms;
	s.state = d->state;
	s.clients = control_client_count(d);
	s.region_count = d->regions.count;
	s.region_bytes = d->regions.used;
	s.region_quota = d->regions.quota;
	strcpy(s.node_name, d->opt.node_name);
	s.rank_count = (uint32_t)d->opt.rank_count;
	memcpy(s.ranks, d->opt.ranks, d->opt.rank_count * sizeof(s.ranks[0]));
	tasks_fill_status(d->tasks, &s);
	snapshot_fill_status(d, &s);
	control_reply(c, msg->header.seq, WIRE_STATUS_REPLY, buf,
		      wire_encode_status_reply(&s, buf, sizeof(buf)), -1);
}

void request_shutdown(struct client *c, const struct wire_msg *msg)
{
	char reason[96];
	control_reply_status(c, msg->header.seq, 0, "lcrd on %s is shutting down",
			     c->d->opt.node_name);
	snprintf(reason, sizeof(reason), "shutdown requested by pid %ld", (long)c->pid);
	loop_request_stop(c->d->loop, reason);
}

void request_register(struct client *c, const struct wire_msg *msg)
{
	struct wire_register m;
	char err[WIRE_TEXT_MAX + 1];
	uint32_t seq = msg->header.seq;
	int page_fd, rc;

	if (wire_decode_register(msg->payload, msg->header.length, &m) < 0) {
		control_reply_status(c, seq, -EBADMSG, "malformed REGISTER");
		return;
	}
	if (c->task && c->task->rank != m.global_rank) {
		control_reply_status(c, seq, -EALREADY, "this session is registered as rank %u",
				     c->task->rank);
		return;
	}
	rc = ckpt_restore_check_rank(c->d, &m, err, sizeof(err));
	if (rc == 0)
		rc = tasks_register(c->d, c, c->pid, &m, &page_fd, err, sizeof(err));
	if (rc < 0) {
		log_warning("cannot register pid %ld as rank %u: %s", (long)c->pid, m.global_rank,
			    err);
		control_reply_status(c, seq, rc, "%s", err);
		return;
	}
	c->task = tasks_find(c->d->tasks, m.global_rank);
	ckpt_restore_mark_rank(c->d, c->task);
	uint8_t buf[sizeof(struct wire_reply)];
	struct wire_reply reply = { .status = 0 };
	snprintf(reply.message, sizeof(reply.message), "registered as rank %u", m.global_rank);
	control_reply(c, seq, WIRE_REPLY, buf, wire_encode_reply(&reply, buf, sizeof(buf)),
		      page_fd);
}

/* The rank of a registered session, or an error reply and false. */
static bool require_rank(struct client *c, uint32_t seq, const char *what)
{
	if (c->task)
		return true;
	control_reply_status(c, seq, -EPERM, "%s needs a registered rank (lcr_register)", what);
	return false;
}

/* False, with an answer, when region r is being filled from a checkpoint. */
static bool region_ready(struct client *c, uint32_t seq, const struct region *r)
{
	if (!r || !ckpt_restore_uses(c->d, r))
		return true;
	control_reply_status(c, seq, -EBUSY, "region '%s' of rank %u is being restored from a "
			     "checkpoint: ask again when that is done", r->name, r->owner_rank);
	return false;
}

/* A new region that the checkpoint being restored holds: the rank is answered once it is
 * filled. */
static void restore_region(struct client *c, uint32_t seq, struct region *r)
{
	char err[WIRE_TEXT_MAX + 1];
	int rc = ckpt_restore_fill(c, seq, r, err, sizeof(err));
	if (rc == 0)
		return;
	log_warning("rank %u: region '%s' not restored: %s", r->owner_rank, r->name, err);
	region_table_free(&c->d->regions, r->owner_rank, r->name);
	control_reply_status(c, seq, rc, "%s", err);
}

void request_region_alloc(struct client *c, const struct wire_msg *msg)
{
	struct wire_region_alloc m;
	struct region *r;
	char err[WIRE_TEXT_MAX + 1], size[32];
	uint32_t seq = msg->header.seq;

	if (wire_decode_region_alloc(msg->payload, msg->header.length, &m) < 0) {
		control_reply_status(c, seq, -EBADMSG, "malformed REGION_ALLOC");
		return;
	}
	if (!require_rank(c, seq, "allocating a region"))
		return;
	uint32_t rank = c->task->rank;
	r = region_table_find(&c->d->regions, rank, m.name);
	if (!region_ready(c, seq, r))
		return;
	int rc = r ? 0 : ckpt_restore_check_region(c->d, rank, m.name,
						    (enum wire_region_kind)m.kind, m.size, err,
						    sizeof(err));
	if (rc == 0)
		rc = region_table_alloc(&c->d->regions, rank, m.name, (enum wire_region_kind)m.kind,
					m.size, m.device_uuid, &r, err, sizeof(err));
	if (rc < 0) {
		log_warning("rank %u: %s", rank, err);
		control_reply_status(c, seq, rc, "%s", err);
		return;
	}
	if (rc == REGION_CREATED && ckpt_restore_wants(c->d, rank, r->name)) {
		restore_region(c, seq, r);
		return;
	}
	log_info("rank %u %s %s region '%s' (%s)", rank,
		 rc == REGION_REATTACHED ? "reattached to" : "allocated", region_kind_name(r->kind),
		 r->name, util_format_size(r->size, size, sizeof(size)));
	control_reply_region(c, seq, r, rc == REGION_REATTACHED ? WIRE_REGION_REATTACHED : 0);
}

void request_region_lookup(struct client *c, const struct wire_msg *msg)
{
	struct wire_region_name m;
	uint32_t seq = msg->header.seq;
	if (wire_decode_region_name(msg->payload, msg->header.length, &m) < 0) {
		control_reply_status(c, seq, -EBADMSG, "malformed REGION_LOOKUP");
		return;
	}
	if (!require_rank(c, seq, "looking up a region"))
		return;
	struct region *r = region_table_find(&c->d->regions, c->task->rank, m.name);
	char err[WIRE_TEXT_MAX + 1];
	if (!region_ready(c, seq, r))
		return;
	if (!r && ckpt_restore_wants(c->d, c->task->rank, m.name)) {
		int rc = ckpt_restore_create(c->d, c->task->rank, m.name, &r, err, sizeof(err));
		if (rc < 0)
			control_reply_status(c, seq, rc, "%s", err);
		else
			restore_region(c, seq, r);
		return;
	}
	if (!r) {
		control_reply_status(c, seq, -ENOENT, "rank %u has no region '%s'", c->task->rank,
				     m.name);
		return;
	}
	control_reply_region(c, seq, r, WIRE_REGION_REATTACHED);
}

void request_region_free(struct client *c, const struct wire_msg *msg)
{
	struct wire_region_name m;
	uint32_t seq = msg->header.seq;
	if (wire_decode_region_name(msg->payload, msg->header.length, &m) < 0) {
		control_reply_status(c, seq, -EBADMSG, "malformed REGION_FREE");
		return;
	}
	if (!require_rank(c, seq, "freeing a region"))
		return;
	struct region *r = region_table_find(&c->d->regions, c->task->rank, m.name);
	if (r && ckpt_region_busy(c->d, r)) {
		control_reply_status(c, seq, -EBUSY, "region '%s' of rank %u is being saved or "
				     "restored: free it when that is done", m.name, c->task->rank);
		return;
	}
	if (region_table_free(&c->d->regions, c->task->rank, m.name) < 0) {
		control_reply_status(c, seq, -ENOENT, "rank %u has no region '%s'", c->task->rank,
				     m.name);
		return;
	}
	log_info("rank %u freed region '%s'", c->task->rank, m.name);
	control_reply_status(c, seq, 0, "freed");
}

static void fill_region_entry(struct lcrd *d, const struct region *r, struct wire_region_entry *e)
{
	const struct task *owner = tasks_find(d->tasks, r->owner_rank);
	memset(e, 0, sizeof(*e));
	e->id = r->id;
	e->size = r->size;
	e->kind = (uint16_t)r->kind;
	e->owner_rank = r->owner_rank;
	tasks_read_marks(owner, &e->committed_step, &e->phase);
	if (owner && owner->holder)
		e->flags |= WIRE_OWNER_ALIVE;
	strcpy(e->name, r->name);
	if (owner)
		strcpy(e->shard_key, owner->shard_key);
}

/* Lists regions from index `start`, oldest first, as many as fit one reply. */
void request_region_list(struct client *c, const struct wire_msg *msg)
{
	static struct wire_region_list_reply reply;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	struct wire_region_list m;
	struct lcrd *d = c->d;
	uint32_t index = 0;

	if (wire_decode_region_list(msg->payload, msg->header.length, &m) < 0) {
		control_reply_status(c, msg->header.seq, -EBADMSG, "malformed REGION_LIST");
		return;
	}
	reply.total = d->regions.count;
	reply.count = 0;
	for (const struct region *r = d->regions.head; r; r = r->next, index++)
		if (index >= m.start && reply.count < WIRE_REGION_LIST_MAX)
			fill_region_entry(d, r, &reply.entries[reply.count++]);
	control_reply(c, msg->header.seq, WIRE_REGION_LIST_REPLY, buf,
		      wire_encode_region_list_reply(&reply, buf, sizeof(buf)), -1);
}

void request_region_checksum(struct client *c, const struct wire_msg *msg)
{
	struct wire_region_checksum m;
	struct wire_region_checksum_reply reply;
	uint8_t buf[sizeof(reply)];
	uint32_t seq = msg->header.seq;

	if (wire_decode_region_checksum(msg->payload, msg->header.length, &m) < 0) {
		control_reply_status(c, seq, -EBADMSG, "malformed REGION_CHECKSUM");
		return;
	}
	struct region *r = region_table_find(&c->d->regions, m.owner_rank, m.name);
	if (!r) {
		control_reply_status(c, seq, -ENOENT, "rank %u has no region '%s'", m.owner_rank,
				     m.name);
		return;
	}
	int rc = region_checksum(r, &reply.xxh64);
	if (rc < 0) {
		log_error("cannot read region '%s' of rank %u: %s", r->name, r->owner_rank,
			  strerror(-rc));
		control_reply_status(c, seq, rc, "cannot read region '%s': %s", r->name,
				     strerror(-rc));
		return;
	}
	reply.size = r->size;
	control_reply(c, seq, WIRE_REGION_CHECKSUM_REPLY, buf,
		      wire_encode_region_checksum_reply(&reply, buf, sizeof(buf)), -1);
}

void request_subscribe(struct client *c, const struct wire_msg *msg)
{
	c->subscribed = true;
	control_reply_status(c, msg->header.seq, 0, "subscribed to events");
}

/* The mesh's state and a page of its event log (lcrctl events). */
void request_event_log(struct client *c, const struct wire_msg *msg)
{
	static struct wire_event_log_reply reply;
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	struct wire_event_log m;
	if (wire_decode_event_log(msg->payload, msg->header.length, &m) < 0) {
		control_reply_status(c, msg->header.seq, -EBADMSG, "malformed EVENT_LOG");
		return;
	}
	mesh_fill_event_log(c->d, m.start, &reply);
	control_reply(c, msg->header.seq, WIRE_EVENT_LOG_REPLY, buf,
		      wire_encode_event_log_reply(&reply, buf, sizeof(buf)), -1);
}
