/* mesh_events.c: the mesh's membership events. The leader numbers each change (a node
 * down, a node left, a rank exited) with the next generation and sends it, with the whole
 * membership after it, down the broadcast tree; every helper applies the events strictly in
 * generation order, logs them, tells its subscribed ranks and forwards them to its own
 * children in the tree. A helper that finds itself behind (a heartbeat carries the
 * sender's generation) catches up from the peer that is ahead. A helper's own rank exits go
 * to the leader as reports, repeated until they come back numbered, so a report sent to a
 * leader that dies on the way is not lost.
 *
 * Recovery events (REPLACING, NODE_JOINED, RECOVERY_FAILED; recovery.c decides them) are
 * numbered the same way. NODE_JOINED brings a removed node back: it carries the node's new
 * helper (name, address, port, ranks), which every helper takes into its table; the node's
 * removal record goes, so that later events list it as live. The ranks are told of a
 * NODE_JOINED only when no node of the table is left down after it: they rebuild their
 * communicators at its epoch, which needs every rank, and the replacements of nodes that
 * were down together share that epoch (recovery.c). Every helper has the same table at
 * that generation, so every rank is told of the same joins. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal/util.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "mesh/detector.h"
#include "mesh/mesh_internal.h"

static uint64_t realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the event log --- */

static struct mesh_log_entry *log_at(struct mesh *m, uint32_t index)
{
	return &m->log[(m->log_start + index) % m->log_cap];
}

/* Appends an entry; when MESH_LOG_MAX are kept, the oldest goes. NULL when out of memory. */
static struct mesh_log_entry *log_append(struct mesh *m)
{
	if (m->log_count == m->log_cap && m->log_cap < MESH_LOG_MAX) {
		uint32_t cap = m->log_cap ? m->log_cap * 2 : 64;
		struct mesh_log_entry *p = realloc(m->log, cap * sizeof(*p));
		if (!p)
			return NULL;
		m->log = p;
		m->log_cap = cap;
	}
	if (m->log_count == m->log_cap) {
		m->log_start = (m->log_start + 1) % m->log_cap;
		m->log_count--;
		m->log_dropped++;
	}
	struct mesh_log_entry *e = log_at(m, m->log_count++);
	memset(e, 0, sizeof(*e));
	return e;
}

void mesh_log_free(struct mesh *m)
{
	free(m->joins);
	m->joins = NULL;
	m->join_count = 0;
	free(m->log);
	m->log = NULL;
	m->log_cap = m->log_count = m->log_start = 0;
}

/* Whether the ranks are told of e: not of a helper's recovery timeline (the log's only),
 * nor of a NODE_JOINED that leaves a node down (a communicator rebuilt at its epoch would
 * miss that node's ranks). */
static bool told_to_ranks(const struct mesh *m, const struct wire_event_log_entry *e)
{
	if (e->type == WIRE_EVENT_RECOVERY_TIMELINE)
		return false;
	uint32_t down = mesh_nodes_down(m);
	if (e->type != WIRE_EVENT_NODE_JOINED || down == 0)
		return true;
	log_info("the ranks are not told of the join of generation %" PRIu64 ": %" PRIu32
		 " node%s still down; they rebuild at the join that leaves none down (epoch %" PRIu64
		 ")", e->generation, down, down == 1 ? " is" : "s are", e->epoch);
	return false;
}

/* Whether the ranks' news of e waits for a service (mesh_on_hold_join): kept in
 * m->held_join (a later join replaces an earlier one) until mesh_release_held_join. */
static bool held_back(struct mesh *m, const struct wire_event_log_entry *e)
{
	if (e->type != WIRE_EVENT_NODE_JOINED || !m->hooks.hold_join || !m->hooks.hold_join(m->d))
		return false;
	m->held_join = *e;
	m->join_held = true;
	log_info("the ranks are told of the join of generation %" PRIu64 " once this node's "
		 "rollback is done", e->generation);
	return true;
}

/* Sends a log entry to the subscribed ranks. */
static void deliver(struct mesh *m, const struct wire_event_log_entry *e)
{
	if (!told_to_ranks(m, e) || held_back(m, e))
		return;
	struct wire_event ev = {
		.type = e->type,
		.source = WIRE_SOURCE_HELPER,
		.rank = e->rank,
		.pid = e->pid,
		.status = e->status,
		.node_id = e->node,
		.generation = e->generation,
		.leader = e->leader,
		.epoch = e->epoch,
	};
	if (e->node < m->count)
		strcpy(ev.node, m->nodes[e->node].name);
	strcpy(ev.message, e->message);
	control_broadcast_event(m->d, &ev);
}

static void fill_entry(struct wire_event_log_entry *e, uint16_t type, uint32_t node, uint32_t rank,
		       uint32_t pid, int32_t status, const char *message)
{
	e->time_ms = realtime_ms();
	e->type = type;
	e->node = node;
	e->rank = rank;
	e->pid = pid;
	e->status = status;
	snprintf(e->message, sizeof(e->message), "%s", message);
}

void mesh_log_local(struct mesh *m, uint16_t type, uint32_t node, uint32_t rank, uint32_t pid,
		    int32_t status, const char *message)
{
	struct wire_event_log_entry e = { .generation = m->generation, .leader = m->leader };
	fill_entry(&e, type, node, rank, pid, status, message);
	struct mesh_log_entry *le = log_append(m);
	if (le)
		le->entry = e;
	deliver(m, &e);
}

void mesh_release_held_join(struct lcrd *d)
{
	struct mesh *m = mesh_of(d);
	if (!m || !m->join_held)
		return;
	m->join_held = false;
	log_info("telling the ranks of the join of generation %" PRIu64 ": this node's rollback "
		 "is done", m->held_join.generation);
	deliver(m, &m->held_join);
}

void mesh_log_joined(struct mesh *m, uint64_t epoch, const char *message)
{
	struct wire_event_log_entry e = { .generation = m->generation, .leader = m->leader,
					  .epoch = epoch };
	fill_entry(&e, WIRE_EVENT_NODE_JOINED, m->self, WIRE_NO_RANK, 0, -1, message);
	struct mesh_log_entry *le = log_append(m);
	if (le)
		le->entry = e;
	deliver(m, &e);
}

/* The logged, numbered event of generation g, or NULL. */
static const struct mesh_log_entry *log_find_generation(struct mesh *m, uint64_t g)
{
	for (uint32_t i = m->log_count; i-- > 0;) {
		const struct mesh_log_entry *e = log_at(m, i);
		if (e->sequenced && e->entry.generation == g)
			return e;
		if (e->sequenced && e->entry.generation < g)
			return NULL;
	}
	return NULL;
}

static bool log_has_rank_exit(struct mesh *m, uint32_t node, uint32_t rank, uint32_t pid)
{
	for (uint32_t i = m->log_count; i-- > 0;) {
		const struct wire_event_log_entry *e = &log_at(m, i)->entry;
		if (e->type == WIRE_EVENT_RANK_EXITED && e->node == node && e->rank == rank &&
		    e->pid == pid)
			return true;
	}
	return false;
}

/* --- membership --- */

/* The removed nodes at generation g, into ev->removed. */
static void fill_removed(const struct mesh *m, uint64_t g, struct wire_mesh_event *ev)
{
	ev->removed_count = 0;
	for (uint32_t i = 0; i < m->removal_count && m->removals[i].generation <= g; i++)
		ev->removed[ev->removed_count++] = (struct wire_mesh_member){
			.node = m->removals[i].node, .state = m->removals[i].state };
}

void mesh_record_removal(struct mesh *m, uint32_t node, uint16_t state, uint64_t g)
{
	m->removals[m->removal_count++] =
		(struct mesh_removal){ .node = node, .state = state, .generation = g };
}

/* node is live again: its removal no longer belongs to the membership. */
static void forget_removal(struct mesh *m, uint32_t node)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < m->removal_count; i++)
		if (m->removals[i].node != node)
			m->removals[kept++] = m->removals[i];
	m->removal_count = kept;
}

/* Keeps the joined node of a NODE_JOINED, for peers that catch up on it later. */
static void remember_join(struct mesh *m, uint64_t g, const struct wire_rdv_node *joined)
{
	struct mesh_join_record *p = realloc(m->joins, (m->join_count + 1) * sizeof(*p));
	if (!p) {
		log_warning("cannot keep the join of generation %" PRIu64 " for catch-ups: out of "
			    "memory", g);
		return;
	}
	m->joins = p;
	m->joins[m->join_count++] = (struct mesh_join_record){ .generation = g, .node = *joined };
}

static const struct wire_rdv_node *find_join(const struct mesh *m, uint64_t g)
{
	for (uint32_t i = 0; i < m->join_count; i++)
		if (m->joins[i].generation == g)
			return &m->joins[i].node;
	return NULL;
}

/* A NODE_JOINED: the node's new helper replaces its entry, and it is live again. */
static bool apply_join(struct mesh *m, const struct wire_mesh_event *ev)
{
	const struct wire_rdv_node *n = &ev->joined;
	char label[WIRE_NODE_NAME_MAX + 16];
	if (ev->node >= m->count || n->node_id != ev->node || ev->node == m->self) {
		log_warning("generation %" PRIu64 " brings back %s, which this helper cannot take",
			    ev->generation, mesh_node_label(m, ev->node, label, sizeof(label)));
		return false;
	}
	struct mesh_node *x = &m->nodes[ev->node];
	if (x->state == WIRE_NODE_LIVE)
		mesh_remove_node(m, ev->node, WIRE_NODE_DOWN);
	forget_removal(m, ev->node);
	/* The detector hears of the change once, after it, and may have seen the node live
	 * all along: what it kept of the old helper goes now. */
	detector_node_replaced(m, ev->node);
	if (mesh_node_take(m, x, n, ev->generation) < 0)
		return false;
	remember_join(m, ev->generation, n);
	mesh_rebuild_live(m);
	return true;
}

/* Applies the membership of ev: true when this node is still in it. */
static bool apply_membership(struct mesh *m, const struct wire_mesh_event *ev, bool *changed)
{
	*changed = false;
	for (uint32_t i = 0; i < ev->removed_count; i++) {
		const struct wire_mesh_member *r = &ev->removed[i];
		if (r->node >= m->count || m->nodes[r->node].state != WIRE_NODE_LIVE)
			continue;
		if (r->node == m->self)
			return false;
		mesh_remove_node(m, r->node, (enum wire_node_state)r->state);
		mesh_record_removal(m, r->node, r->state, ev->generation);
		*changed = true;
	}
	if (*changed)
		mesh_rebuild_live(m);
	return true;
}

/* Sends ev to this node's children in the broadcast tree. */
static void forward(struct mesh *m, const struct wire_mesh_event *ev)
{
	uint32_t p = 0;
	int len = wire_encode_mesh_event(ev, m->scratch, sizeof(m->scratch));
	if (len < 0) {
		log_error("cannot encode the event of generation %" PRIu64 ": %s", ev->generation,
			  strerror(-len));
		return;
	}
	while (p < m->live_count && m->live[p] != m->self)
		p++;
	for (uint64_t c = (uint64_t)p * MESH_TREE_FANOUT + 1;
	     c <= (uint64_t)p * MESH_TREE_FANOUT + MESH_TREE_FANOUT && c < m->live_count; c++)
		mesh_send(m, m->live[c], WIRE_MESH_EVENT, m->scratch, len);
}

/* Drops the pending reports that ev answers. */
static void settle_reports(struct mesh *m, const struct wire_mesh_event *ev)
{
	if (ev->type != WIRE_EVENT_RANK_EXITED || ev->node != m->self)
		return;
	for (struct mesh_report **pos = &m->reports; *pos;) {
		struct mesh_report *r = *pos;
		if (r->report.rank == ev->rank && r->report.pid == ev->pid) {
			*pos = r->next;
			free(r);
		} else {
			pos = &r->next;
		}
	}
	if (!m->reports && m->d->state == WIRE_HELPER_STOPPING)
		loop_stop(m->d->loop); /* the drain of mesh_drain_reports is over */
}

static void log_applied(struct mesh *m, const struct wire_mesh_event *ev)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	struct mesh_log_entry *le = log_append(m);
	struct wire_event_log_entry e = { .generation = ev->generation, .leader = m->leader,
					  .epoch = ev->epoch };
	fill_entry(&e, ev->type, ev->node, ev->rank, ev->pid, ev->status, ev->message);
	if (le) {
		le->entry = e;
		le->sequenced = true;
		le->leader_ms = ev->time_ms;
		le->resume_step = ev->resume_step;
	}
	if (ev->type == WIRE_EVENT_NODE_DOWN || ev->type == WIRE_EVENT_RECOVERY_FAILED)
		log_warning("generation %" PRIu64 ": %s; leader %s", ev->generation, ev->message,
			    mesh_node_label(m, m->leader, label, sizeof(label)));
	else
		log_info("generation %" PRIu64 ": %s; leader %s", ev->generation, ev->message,
			 mesh_node_label(m, m->leader, label, sizeof(label)));
	deliver(m, &e);
}

static void request_sync(struct mesh *m, uint32_t peer)
{
	struct wire_mesh_sync s = { .after = m->generation };
	uint8_t buf[16];
	m->sync_peer = peer;
	m->sync_after = m->generation;
	mesh_send(m, peer, WIRE_MESH_SYNC, buf, wire_encode_mesh_sync(&s, buf, sizeof(buf)));
}

/* Applies the next event; from is the peer it came from (WIRE_NO_NODE: this node). */
static void apply(struct mesh *m, const struct wire_mesh_event *ev, uint32_t from)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	uint32_t old_leader = m->leader;
	bool changed;
	if (ev->generation <= m->generation)
		return;
	if (ev->generation > m->generation + 1) {
		bool history_lost = from == m->sync_peer && m->sync_after == m->generation;
		if (!history_lost) {
			request_sync(m, from);
			return;
		}
		log_warning("%s no longer has the events of generations %" PRIu64 " to %" PRIu64
			    ": taking the membership of generation %" PRIu64 " as it is",
			    mesh_node_label(m, from, label, sizeof(label)), m->generation + 1,
			    ev->generation - 1, ev->generation);
	}
	if (!apply_membership(m, ev, &changed)) {
		mesh_fence_self(m, ev->generation, ev->message);
		return;
	}
	if (ev->type == WIRE_EVENT_NODE_JOINED && apply_join(m, ev))
		changed = true;
	m->generation = ev->generation;
	if (m->leader != ev->leader)
		log_warning("generation %" PRIu64 " names leader %" PRIu32 ", but the lowest live "
			    "node is %s",
			    ev->generation, ev->leader,
			    mesh_node_label(m, m->leader, label, sizeof(label)));
	log_applied(m, ev);
	forward(m, ev);
	if (changed) {
		detector_membership_changed(m);
		quorum_membership_changed(m->quorum);
	}
	settle_reports(m, ev);
	if (m->leader != old_leader)
		mesh_resend_reports(m);
	for (uint32_t i = 0; i < m->subscriber_count; i++)
		m->subscribers[i].fn(m, ev, m->subscribers[i].arg);
}

/* Fills m->event with the next generation's change and the membership before it. */
static struct wire_mesh_event *next_event(struct mesh *m, uint16_t type, uint32_t node,
					  const char *message)
{
	struct wire_mesh_event *ev = &m->event;
	memset(ev, 0, offsetof(struct wire_mesh_event, removed));
	ev->generation = m->generation + 1;
	ev->time_ms = realtime_ms();
	ev->type = type;
	ev->node = node;
	ev->rank = WIRE_NO_RANK;
	ev->status = -1;
	ev->joined.node_id = WIRE_NO_NODE;
	ev->resume_step = WIRE_NO_STEP;
	snprintf(ev->message, sizeof(ev->message), "%s", message);
	fill_removed(m, m->generation, ev);
	ev->leader = m->self;
	return ev;
}

uint64_t mesh_sequence_recovery(struct mesh *m, uint16_t type, uint32_t node, uint64_t epoch,
				const struct wire_rdv_node *joined, const char *message)
{
	return mesh_sequence_replacement(m, type, node, epoch, joined, WIRE_NO_STEP, message);
}

uint64_t mesh_sequence_replacement(struct mesh *m, uint16_t type, uint32_t node, uint64_t epoch,
				   const struct wire_rdv_node *joined, uint64_t resume_step,
				   const char *message)
{
	struct wire_mesh_event *ev = next_event(m, type, node, message);
	ev->epoch = type == WIRE_EVENT_REPLACING && !epoch ? ev->generation : epoch;
	ev->resume_step = resume_step;
	if (joined)
		ev->joined = *joined;
	if (type == WIRE_EVENT_NODE_JOINED && node < m->self)
		ev->leader = node; /* the lowest live node after the change leads */
	uint64_t g = ev->generation;
	apply(m, ev, WIRE_NO_NODE);
	return g;
}

void mesh_sequence(struct mesh *m, uint16_t type, uint32_t node, uint32_t rank, uint32_t pid,
		   int32_t status, const char *message)
{
	struct wire_mesh_event *ev = next_event(m, type, node, message);
	ev->rank = rank;
	ev->pid = pid;
	ev->status = status;
	if (type == WIRE_EVENT_NODE_DOWN || type == WIRE_EVENT_NODE_LEFT)
		ev->removed[ev->removed_count++] = (struct wire_mesh_member){
			.node = node,
			.state = type == WIRE_EVENT_NODE_LEFT ? WIRE_NODE_LEFT : WIRE_NODE_DOWN };
	apply(m, ev, WIRE_NO_NODE);
}

void mesh_on_event(struct mesh *m, uint32_t from, const struct wire_mesh_event *ev)
{
	apply(m, ev, from);
}

bool mesh_logged_event(struct mesh *m, uint64_t g, struct wire_mesh_event *ev)
{
	const struct mesh_log_entry *le = log_find_generation(m, g);
	if (!le)
		return false;
	const struct wire_event_log_entry *e = &le->entry;
	const struct wire_rdv_node *joined = find_join(m, g);
	if (!joined && e->type == WIRE_EVENT_NODE_JOINED)
		return false; /* its node is not known any more */
	*ev = (struct wire_mesh_event){ .generation = g, .leader = e->leader,
					.time_ms = le->leader_ms, .type = e->type,
					.node = e->node, .rank = e->rank, .pid = e->pid,
					.status = e->status, .epoch = e->epoch,
					.resume_step = le->resume_step };
	ev->joined.node_id = WIRE_NO_NODE;
	if (joined)
		ev->joined = *joined;
	strcpy(ev->message, e->message);
	fill_removed(m, g, ev);
	return true;
}

/* Sends a peer the numbered events after `after` that the log still has, in order. */
static void send_events_after(struct mesh *m, uint32_t peer, uint64_t after)
{
	struct wire_mesh_event *ev = &m->event;
	uint64_t last = after + MESH_SYNC_BATCH < m->generation ? after + MESH_SYNC_BATCH :
								  m->generation;
	for (uint64_t g = after + 1; g <= last; g++) {
		if (!mesh_logged_event(m, g, ev)) {
			if (g < m->generation || log_find_generation(m, g))
				continue; /* a NODE_JOINED's node is gone: the peer takes it as it is */
			return;
		}
		mesh_send(m, peer, WIRE_MESH_EVENT, m->scratch,
			  wire_encode_mesh_event(ev, m->scratch, sizeof(m->scratch)));
	}
}

void mesh_on_sync(struct mesh *m, uint32_t peer, uint64_t after)
{
	if (after < m->generation)
		send_events_after(m, peer, after);
}

void mesh_on_peer_generation(struct mesh *m, uint32_t peer, uint64_t generation)
{
	if (generation < m->generation)
		send_events_after(m, peer, generation);
	else if (generation > m->generation)
		request_sync(m, peer);
}

/* --- rank exits --- */

static void report_to_leader(struct mesh *m, struct mesh_report *r)
{
	uint8_t buf[sizeof(struct wire_mesh_report)];
	r->sent_ms = util_now_ms();
	if (m->leader == m->self) {
		if (!log_has_rank_exit(m, m->self, r->report.rank, r->report.pid))
			mesh_sequence(m, WIRE_EVENT_RANK_EXITED, m->self, r->report.rank,
				      r->report.pid, r->report.status, r->report.message);
		return;
	}
	mesh_send(m, m->leader, WIRE_MESH_REPORT, buf,
		  wire_encode_mesh_report(&r->report, buf, sizeof(buf)));
}

void mesh_resend_reports(struct mesh *m)
{
	struct mesh_report *r = m->reports, *next;
	if (m->state != WIRE_MESH_UP)
		return;
	for (; r; r = next) {
		next = r->next;
		report_to_leader(m, r);
	}
}

void mesh_on_report(struct mesh *m, uint32_t peer, const struct wire_mesh_report *r)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	if (m->leader != m->self) {
		log_verbose("%s reported the exit of rank %" PRIu32 " to this node, which does not "
			    "lead: it will send it again to the leader",
			    mesh_node_label(m, peer, label, sizeof(label)), r->rank);
		return;
	}
	if (log_has_rank_exit(m, peer, r->rank, r->pid))
		return;
	mesh_sequence(m, WIRE_EVENT_RANK_EXITED, peer, r->rank, r->pid, r->status, r->message);
}

static void drain_over(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

void mesh_report_rank_exit(struct lcrd *d, const struct wire_event *ev)
{
	struct mesh *m = mesh_of(d);
	struct mesh_report *r;
	if (!m || m->state == WIRE_MESH_STANDALONE) {
		if (m)
			mesh_sequence(m, WIRE_EVENT_RANK_EXITED, m->self, ev->rank, ev->pid,
				      ev->status, ev->message);
		else
			control_broadcast_event(d, ev);
		return;
	}
	if (m->state != WIRE_MESH_UP) {
		mesh_log_local(m, WIRE_EVENT_RANK_EXITED, m->self, ev->rank, ev->pid, ev->status,
			       ev->message);
		if (m->state != WIRE_MESH_BOOTSTRAPPING)
			return;
		/* and numbered by the leader once the mesh is up (mesh_resend_reports) */
	}
	for (r = m->reports; r; r = r->next)
		if (r->report.rank == ev->rank && r->report.pid == ev->pid)
			return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		log_error("cannot report the exit of rank %" PRIu32 " to the mesh: out of memory; "
			  "telling this node's ranks only",
			  ev->rank);
		mesh_log_local(m, WIRE_EVENT_RANK_EXITED, m->self, ev->rank, ev->pid, ev->status,
			       ev->message);
		return;
	}
	r->report = (struct wire_mesh_report){ .type = WIRE_EVENT_RANK_EXITED, .rank = ev->rank,
					       .pid = ev->pid, .status = ev->status };
	strcpy(r->report.message, ev->message);
	r->next = m->reports;
	m->reports = r;
	if (m->state == WIRE_MESH_UP)
		report_to_leader(m, r);
}

/* The helper is stopping with rank exits the leader has not numbered yet (a node's last
 * rank ends, and the step with it, before its report got through): run the loop on, up to
 * MESH_DRAIN_MS, resending them until they come back numbered, so that no exit is lost. */
void mesh_drain_reports(struct lcrd *d)
{
	struct mesh *m = mesh_of(d);
	uint64_t timer = 0;
	if (!m || m->state != WIRE_MESH_UP || !m->reports)
		return;
	log_info("waiting up to %d ms for the leader to take this node's last rank exits",
		 MESH_DRAIN_MS);
	mesh_resend_reports(m);
	if (loop_add_timer(d->loop, MESH_DRAIN_MS, drain_over, d, &timer) < 0)
		return;
	loop_run(d->loop);
	loop_cancel_timer(d->loop, timer);
	if (m->reports)
		log_warning("the leader did not number every exit of this node's ranks in time");
}

/* --- lcrctl events --- */

void mesh_fill_event_log(struct lcrd *d, uint32_t start, struct wire_event_log_reply *out)
{
	struct mesh *m = mesh_of(d);
	memset(out, 0, offsetof(struct wire_event_log_reply, entries));
	if (!m)
		return;
	out->node_id = m->self;
	out->state = (uint16_t)m->state;
	out->generation = m->generation;
	out->leader = m->leader;
	out->live_count = m->live_count;
	out->node_count = m->count;
	strcpy(out->address, m->address);
	out->port = m->port;
	out->heartbeat_peers = m->heartbeat_peers;
	out->timeout_ms = (uint32_t)m->timeout_ms;
	out->uptime_ms = m->up_since_ms ? util_now_ms() - m->up_since_ms : 0;
	out->messages_sent = m->stats.messages_sent;
	out->messages_received = m->stats.messages_received;
	out->bytes_sent = m->stats.bytes_sent;
	out->bytes_received = m->stats.bytes_received;
	out->total = m->log_count;
	for (uint32_t i = start; i < m->log_count && out->count < WIRE_EVENT_LOG_MAX; i++)
		out->entries[out->count++] = log_at(m, i)->entry;
}

int mesh_subscribe(struct lcrd *d, mesh_event_fn *fn, void *arg)
{
	struct mesh *m = mesh_of(d);
	if (m->subscriber_count == MESH_SUBSCRIBERS_MAX)
		return -ENOSPC;
	m->subscribers[m->subscriber_count].fn = fn;
	m->subscribers[m->subscriber_count].arg = arg;
	m->subscriber_count++;
	return 0;
}

uint32_t mesh_log_length(const struct mesh *m)
{
	return m->log_count;
}

const struct wire_event_log_entry *mesh_log_entry(const struct mesh *m, uint32_t i)
{
	return &m->log[(m->log_start + i) % m->log_cap].entry;
}

bool mesh_exit_reported(const struct mesh *m, uint32_t rank, int32_t *wait_status)
{
	for (const struct mesh_report *r = m->reports; r; r = r->next)
		if (r->report.type == WIRE_EVENT_RANK_EXITED && r->report.rank == rank) {
			*wait_status = r->report.status;
			return true;
		}
	return false;
}
