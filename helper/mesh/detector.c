/* detector.c: failure detection on the mesh's ring, and the decider's confirmation.
 *
 * Watching. Every live node sends a HEARTBEAT (carrying its generation) to its k ring
 * successors every period (timeout / 4), so each node is watched by k others whatever the
 * number of nodes: one helper sends k and receives k heartbeats per period. A tick (timeout
 * / 10) looks at the predecessors: one silent for the timeout is suspected, and the
 * suspicion goes to the decider at once and again every period while it lasts. A refused
 * or reset connection, and a LEAVE, go to the decider at once.
 *
 * Deciding. The decider for node X is the lowest live node other than X: the leader, or,
 * when X is the leader, the next one, which leads once X is removed. It confirms X down
 * when two distinct observers suspect it within two timeouts, when X's helper refused a
 * connection, or when there is no third node to ask. With a single observer it probes X
 * (PING, to be answered within a period), and when it is that observer itself it asks a
 * third node to probe (PROBE): a second observer, either way. Any message from X dismisses
 * the case. A LEAVE becomes NODE_LEFT, anything else NODE_DOWN; mesh_sequence numbers it.
 * Silence alone is confirmed only once a majority check (quorum.c) that started after the
 * case was ready has reached a majority: a decider cut off with its observers, or a
 * two-node mesh split in two, removes nobody. A helper whose every watched predecessor is
 * silent runs that check too: it may be the one cut off.
 *
 * A helper that did not run for more than half a timeout (stopped, starved of CPU) restarts
 * its silence clocks instead of blaming its peers for its own pause. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/detector.h"
#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/mesh_auth.h"
#include "mesh/mesh_internal.h"

#define DETECTOR_MAX_PEERS 16
#define DETECTOR_MAX_OBSERVERS 17 /* distinct observers a decider keeps per suspect */

/* What this node, as a watcher, knows of a ring predecessor's heartbeats. */
struct detector_watch {
	bool watched;
	bool suspected;
	uint64_t last_heard_ms;
	uint64_t next_report_ms; /* when to repeat the suspicion to the decider */
};

struct detector_observer {
	uint32_t node;
	uint64_t at_ms;
	uint16_t evidence; /* enum wire_evidence */
	uint32_t silent_ms;
};

/* What this node, as the decider for a suspect, has gathered against it. */
struct detector_case {
	uint32_t count;
	struct detector_observer observers[DETECTOR_MAX_OBSERVERS];
	uint64_t confirm_timer; /* a confirmation due at once (refused, left), 0 when none */
	uint64_t asked_ms;      /* when a third node was last asked to probe */
	uint64_t ready_ms;      /* when it first had enough to confirm on silence, 0: not yet;
				 * a majority check that started after it must agree */
};

/* A PING this node sent and waits to see answered. */
struct detector_probe {
	uint64_t nonce;   /* 0 when none is in flight */
	uint64_t timer;   /* its deadline */
	uint32_t decider; /* who gets a failure: this node for its own case, or the decider
			   * that asked with PROBE */
};

/* What the detector keeps of one node of the step's table. A replacement that takes a
 * node's id does not inherit it: its join clears the entry (detector_node_replaced), even
 * when the old helper was still live here and no removal came between, and the watch
 * starts over when it is watched again (detector_membership_changed). */
struct detector_node {
	struct mesh *mesh;
	uint32_t id;
	struct detector_watch watch;
	struct detector_case suspicion;
	struct detector_probe probe;
};

struct detector {
	struct detector_node *nodes; /* the table's nodes (m->count, fixed), by node id */
	uint32_t successors[DETECTOR_MAX_PEERS];
	uint32_t nsucc;
	uint32_t predecessors[DETECTOR_MAX_PEERS];
	uint32_t npred;
	uint64_t tick_ms;
	uint64_t tick_timer;
	uint64_t heartbeat_timer;
	uint64_t last_tick_ms;
	uint64_t next_resend_ms;
	uint64_t isolation_checked_ms; /* the last majority check for silent predecessors */
};

static bool is_live(const struct mesh *m, uint32_t node)
{
	return node < m->count && m->nodes[node].state == WIRE_NODE_LIVE;
}

uint32_t detector_decider(const struct mesh *m, uint32_t suspect)
{
	for (uint32_t i = 0; i < m->live_count; i++)
		if (m->live[i] != suspect)
			return m->live[i];
	return WIRE_NO_NODE;
}

/* Index of node in the live list, or live_count. */
static uint32_t live_position(const struct mesh *m, uint32_t node)
{
	for (uint32_t i = 0; i < m->live_count; i++)
		if (m->live[i] == node)
			return i;
	return m->live_count;
}

static void compute_ring(struct mesh *m, struct detector *det)
{
	uint32_t p = live_position(m, m->self), n = m->live_count;
	uint32_t k = m->heartbeat_peers;
	det->nsucc = det->npred = 0;
	if (p == n || n < 2)
		return;
	if (k > n - 1)
		k = n - 1;
	for (uint32_t i = 1; i <= k; i++) {
		det->successors[det->nsucc++] = m->live[(p + i) % n];
		det->predecessors[det->npred++] = m->live[(p + n - i) % n];
	}
}

static bool is_predecessor(const struct detector *det, uint32_t node)
{
	for (uint32_t i = 0; i < det->npred; i++)
		if (det->predecessors[i] == node)
			return true;
	return false;
}

/* The detector's entry for node (< m->count), the detector running. */
static struct detector_node *node_of(const struct mesh *m, uint32_t node)
{
	return &m->detector->nodes[node];
}

/* --- the decider's cases --- */

static void case_clear(struct mesh *m, struct detector_node *x)
{
	if (x->suspicion.confirm_timer)
		loop_cancel_timer(m->d->loop, x->suspicion.confirm_timer);
	memset(&x->suspicion, 0, sizeof(x->suspicion));
}

static void probe_cancel(struct mesh *m, struct detector_node *x)
{
	if (x->probe.timer)
		loop_cancel_timer(m->d->loop, x->probe.timer);
	memset(&x->probe, 0, sizeof(x->probe));
}

/* Drops observations older than two timeouts. */
static void case_prune(struct mesh *m, struct detector_case *c, uint64_t now)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < c->count; i++)
		if (now - c->observers[i].at_ms <= 2 * m->timeout_ms)
			c->observers[kept++] = c->observers[i];
	c->count = kept;
}

static bool case_has(const struct detector_case *c, uint16_t evidence)
{
	for (uint32_t i = 0; i < c->count; i++)
		if (c->observers[i].evidence == evidence)
			return true;
	return false;
}

static bool case_observed_by(const struct detector_case *c, uint32_t node)
{
	for (uint32_t i = 0; i < c->count; i++)
		if (c->observers[i].node == node)
			return true;
	return false;
}

/* "silent for 2.1 s, seen by n4 (3) and n1 (0)" into buf. */
static void describe_case(const struct mesh *m, const struct detector_case *c, char *buf,
			  size_t cap)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	uint32_t silent = 0;
	size_t used;
	for (uint32_t i = 0; i < c->count; i++)
		if (c->observers[i].silent_ms > silent)
			silent = c->observers[i].silent_ms;
	if (case_has(c, WIRE_EVIDENCE_LEFT))
		used = (size_t)snprintf(buf, cap, "its helper ended");
	else if (case_has(c, WIRE_EVIDENCE_REFUSED))
		used = (size_t)snprintf(buf, cap, "its helper refused or reset a connection");
	else
		used = (size_t)snprintf(buf, cap, "silent for %.1f s", silent / 1000.0);
	for (uint32_t i = 0; i < c->count && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%s",
					 i == 0 ? ", seen by " : i + 1 == c->count ? " and " : ", ",
					 mesh_node_label(m, c->observers[i].node, label,
							 sizeof(label)));
}

static void confirm(struct mesh *m, uint32_t node)
{
	struct detector_node *x = node_of(m, node);
	char why[WIRE_TEXT_MAX + 1], label[WIRE_NODE_NAME_MAX + 16], message[WIRE_TEXT_MAX + 1];
	bool left = case_has(&x->suspicion, WIRE_EVIDENCE_LEFT);
	describe_case(m, &x->suspicion, why, sizeof(why));
	snprintf(message, sizeof(message), "node %.80s %s: %.150s",
		 mesh_node_label(m, node, label, sizeof(label)), left ? "left" : "is down", why);
	case_clear(m, x);
	probe_cancel(m, x);
	mesh_sequence(m, left ? WIRE_EVENT_NODE_LEFT : WIRE_EVENT_NODE_DOWN, node, WIRE_NO_RANK,
		      0, -1, message);
}

static void confirm_due(struct loop *loop, void *arg)
{
	struct detector_node *x = arg;
	struct mesh *m = x->mesh;
	(void)loop;
	x->suspicion.confirm_timer = 0;
	if (is_live(m, x->id) && x->suspicion.count > 0 && detector_decider(m, x->id) == m->self)
		confirm(m, x->id);
}

static void probe_start(struct mesh *m, uint32_t node, uint32_t decider);

/* Silence is enough to confirm node down, but only a helper on the majority side may: a
 * majority check that started after the case was ready must agree (quorum.c). */
static void confirm_with_majority(struct mesh *m, uint32_t node)
{
	struct detector_case *c = &node_of(m, node)->suspicion;
	char why[WIRE_NODE_NAME_MAX + 64], label[WIRE_NODE_NAME_MAX + 16];
	if (!c->ready_ms)
		c->ready_ms = util_now_ms();
	if (quorum_reached_since(m->quorum, c->ready_ms)) {
		confirm(m, node);
		return;
	}
	snprintf(why, sizeof(why), "before declaring %s down",
		 mesh_node_label(m, node, label, sizeof(label)));
	quorum_check(m->quorum, why);
}

/* A third live node (not this one, not the suspect) to probe for us, or WIRE_NO_NODE. */
static uint32_t third_node(const struct mesh *m, uint32_t suspect)
{
	uint32_t p = live_position(m, m->self);
	for (uint32_t i = 1; i < m->live_count; i++) {
		uint32_t node = m->live[(p + i) % m->live_count];
		if (node != suspect)
			return node;
	}
	return WIRE_NO_NODE;
}

static void ask_third_node(struct mesh *m, struct detector_node *x, uint64_t now)
{
	struct wire_mesh_probe probe = { .node = x->id };
	uint8_t buf[16];
	uint32_t third = third_node(m, x->id);
	if (third == WIRE_NO_NODE || now - x->suspicion.asked_ms < m->period_ms)
		return;
	x->suspicion.asked_ms = now;
	mesh_send(m, third, WIRE_MESH_PROBE, buf, wire_encode_mesh_probe(&probe, buf, sizeof(buf)));
}

/* Decides what the case against node needs now. */
static void case_evaluate(struct mesh *m, uint32_t node)
{
	struct detector_node *x = node_of(m, node);
	struct detector_case *c = &x->suspicion;
	uint64_t now = util_now_ms();
	case_prune(m, c, now);
	if (c->count == 0)
		return;
	if (case_has(c, WIRE_EVIDENCE_LEFT) || case_has(c, WIRE_EVIDENCE_REFUSED)) {
		/* One round of the loop first: a LEAVE already received is read before. */
		if (!c->confirm_timer &&
		    loop_add_timer(m->d->loop, 0, confirm_due, x, &c->confirm_timer) < 0)
			c->confirm_timer = 0;
		return;
	}
	if (c->count >= 2 || m->live_count <= 2) {
		confirm_with_majority(m, node);
		return;
	}
	if (x->probe.nonce)
		return;
	if (!case_observed_by(c, m->self))
		probe_start(m, node, m->self);
	else
		ask_third_node(m, x, now);
}

/* Adds or refreshes one observer's evidence against node. */
static void case_add(struct mesh *m, uint32_t observer, uint32_t node, uint16_t evidence,
		     uint32_t silent_ms)
{
	struct detector_case *c = &node_of(m, node)->suspicion;
	char who[WIRE_NODE_NAME_MAX + 16], whom[WIRE_NODE_NAME_MAX + 16];
	struct detector_observer *o = NULL;
	for (uint32_t i = 0; i < c->count; i++)
		if (c->observers[i].node == observer)
			o = &c->observers[i];
	if (!o && c->count < DETECTOR_MAX_OBSERVERS) {
		o = &c->observers[c->count++];
		o->node = observer;
		o->evidence = evidence;
		log_info("%s suspects %s: %s",
			 mesh_node_label(m, observer, who, sizeof(who)),
			 mesh_node_label(m, node, whom, sizeof(whom)),
			 evidence == WIRE_EVIDENCE_LEFT	     ? "it said it leaves" :
			 evidence == WIRE_EVIDENCE_REFUSED ? "its helper refused a connection" :
							     "no heartbeat for the timeout");
	}
	if (!o)
		return;
	o->at_ms = util_now_ms();
	o->silent_ms = silent_ms;
	if (evidence != WIRE_EVIDENCE_SILENT)
		o->evidence = evidence;
	case_evaluate(m, node);
}

/* Sends this node's evidence against node to its decider (or keeps it, being the decider). */
static void report(struct mesh *m, uint32_t node, uint16_t evidence, uint32_t silent_ms)
{
	struct wire_mesh_suspect s = { .node = node, .evidence = evidence, .silent_ms = silent_ms };
	uint8_t buf[32];
	uint32_t decider = detector_decider(m, node);
	if (decider == WIRE_NO_NODE)
		return;
	if (decider == m->self) {
		case_add(m, m->self, node, evidence, silent_ms);
		return;
	}
	mesh_send(m, decider, WIRE_MESH_SUSPECT, buf, wire_encode_mesh_suspect(&s, buf, sizeof(buf)));
}

/* --- probes --- */

static void probe_expired(struct loop *loop, void *arg)
{
	struct detector_node *x = arg;
	struct mesh *m = x->mesh;
	uint32_t decider = x->probe.decider;
	(void)loop;
	x->probe.timer = 0;
	x->probe.nonce = 0;
	if (!is_live(m, x->id))
		return;
	if (decider == m->self) {
		case_add(m, m->self, x->id, WIRE_EVIDENCE_SILENT, (uint32_t)m->period_ms);
	} else {
		struct wire_mesh_suspect s = { .node = x->id, .evidence = WIRE_EVIDENCE_SILENT,
					       .silent_ms = (uint32_t)m->period_ms };
		uint8_t buf[32];
		mesh_send(m, decider, WIRE_MESH_SUSPECT, buf,
			  wire_encode_mesh_suspect(&s, buf, sizeof(buf)));
	}
}

static void probe_start(struct mesh *m, uint32_t node, uint32_t decider)
{
	struct detector_node *x = node_of(m, node);
	struct wire_mesh_ping ping;
	uint8_t buf[16];
	if (x->probe.nonce)
		return;
	if (loop_add_timer(m->d->loop, m->period_ms, probe_expired, x, &x->probe.timer) < 0)
		return;
	ping.nonce = x->probe.nonce = mesh_auth_random();
	x->probe.decider = decider;
	mesh_send(m, node, WIRE_MESH_PING, buf, wire_encode_mesh_ping(&ping, buf, sizeof(buf)));
}

void detector_quorum_reached(struct mesh *m)
{
	if (!m->detector)
		return;
	for (uint32_t node = 0; node < m->count; node++)
		if (is_live(m, node) && node_of(m, node)->suspicion.count &&
		    detector_decider(m, node) == m->self)
			case_evaluate(m, node);
}

void detector_on_pong(struct mesh *m, uint32_t node, uint64_t nonce)
{
	struct detector_node *x = m->detector ? node_of(m, node) : NULL;
	if (!x || !x->probe.nonce || x->probe.nonce != nonce)
		return;
	probe_cancel(m, x);
}

void detector_on_probe_request(struct mesh *m, uint32_t decider, uint32_t node)
{
	if (!m->detector || node == m->self || !is_live(m, node))
		return;
	probe_start(m, node, decider);
}

/* --- what the mesh tells the detector --- */

void detector_on_heard(struct mesh *m, uint32_t node)
{
	struct detector_node *x = m->detector ? node_of(m, node) : NULL;
	char label[WIRE_NODE_NAME_MAX + 16];
	uint64_t now = util_now_ms();
	if (!x)
		return;
	if (x->watch.suspected)
		log_info("heard from %s again after %.1f s: suspicion withdrawn",
			 mesh_node_label(m, node, label, sizeof(label)),
			 (now - x->watch.last_heard_ms) / 1000.0);
	x->watch.suspected = false;
	x->watch.last_heard_ms = now;
	/* A refusal or a LEAVE is final: what is read after it was sent before it. */
	if (x->suspicion.count && !case_has(&x->suspicion, WIRE_EVIDENCE_LEFT) &&
	    !case_has(&x->suspicion, WIRE_EVIDENCE_REFUSED)) {
		log_info("%s is alive (it sent a message): its suspicion is dismissed",
			 mesh_node_label(m, node, label, sizeof(label)));
		case_clear(m, x);
	}
}

void detector_on_suspect(struct mesh *m, uint32_t observer, const struct wire_mesh_suspect *s)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	if (!m->detector)
		return;
	if (s->node == m->self) {
		log_verbose("%s suspects this node: it will hear from it",
			    mesh_node_label(m, observer, label, sizeof(label)));
		return;
	}
	if (!is_live(m, s->node) || detector_decider(m, s->node) != m->self)
		return;
	case_add(m, observer, s->node, s->evidence, s->silent_ms);
}

void detector_on_refused(struct mesh *m, uint32_t node)
{
	if (!m->detector || node == m->self || !is_live(m, node))
		return;
	report(m, node, m->nodes[node].leaving ? WIRE_EVIDENCE_LEFT : WIRE_EVIDENCE_REFUSED, 0);
}

void detector_on_leave(struct mesh *m, uint32_t node)
{
	if (node == m->self || !is_live(m, node))
		return;
	m->nodes[node].leaving = true;
	if (m->detector)
		report(m, node, WIRE_EVIDENCE_LEFT, 0);
}

/* --- timers --- */

static void send_heartbeats(struct mesh *m)
{
	struct detector *det = m->detector;
	struct wire_mesh_heartbeat hb = { .generation = m->generation };
	uint8_t buf[16];
	int len = wire_encode_mesh_heartbeat(&hb, buf, sizeof(buf));
	for (uint32_t i = 0; i < det->nsucc; i++)
		mesh_send(m, det->successors[i], WIRE_MESH_HEARTBEAT, buf, len);
}

static void heartbeat_due(struct loop *loop, void *arg)
{
	struct mesh *m = arg;
	m->detector->heartbeat_timer = 0;
	send_heartbeats(m);
	if (loop_add_timer(loop, m->period_ms, heartbeat_due, m, &m->detector->heartbeat_timer) < 0)
		log_error("cannot schedule the next heartbeat: out of memory");
}

/* This helper did not run for a while: its peers' silence may be its own. */
static void restart_silence_clocks(struct mesh *m, uint64_t now, uint64_t gap)
{
	log_warning("this helper did not run for %.1f s (stopped or starved of CPU): restarting "
		    "the heartbeat clocks instead of suspecting its peers",
		    gap / 1000.0);
	for (uint32_t i = 0; i < m->detector->npred; i++) {
		struct detector_node *x = node_of(m, m->detector->predecessors[i]);
		x->watch.last_heard_ms = now;
		x->watch.suspected = false;
	}
}

static void check_predecessors(struct mesh *m, uint64_t now)
{
	struct detector *det = m->detector;
	char label[WIRE_NODE_NAME_MAX + 16];
	for (uint32_t i = 0; i < det->npred; i++) {
		uint32_t node = det->predecessors[i];
		struct detector_watch *w = &node_of(m, node)->watch;
		uint64_t silent = now - w->last_heard_ms;
		if (silent < m->timeout_ms)
			continue;
		if (!w->suspected) {
			w->suspected = true;
			w->next_report_ms = now;
			log_info("no heartbeat from %s for %.1f s: suspecting it",
				 mesh_node_label(m, node, label, sizeof(label)), silent / 1000.0);
		}
		if (now >= w->next_report_ms) {
			w->next_report_ms = now + m->period_ms;
			report(m, node, WIRE_EVIDENCE_SILENT, (uint32_t)silent);
		}
	}
}

/* Every watched predecessor is silent: that is what this helper sees when it is the one cut
 * off. It asks the whole mesh (at most once per timeout); without a majority it is fenced. */
static void check_isolation(struct mesh *m, uint64_t now)
{
	struct detector *det = m->detector;
	if (det->npred == 0 || quorum_in_flight(m->quorum) ||
	    now - det->isolation_checked_ms < m->timeout_ms)
		return;
	for (uint32_t i = 0; i < det->npred; i++)
		if (!node_of(m, det->predecessors[i])->watch.suspected)
			return;
	det->isolation_checked_ms = now;
	quorum_check(m->quorum, "every watched peer is silent");
}

static void tick_due(struct loop *loop, void *arg)
{
	struct mesh *m = arg;
	struct detector *det = m->detector;
	uint64_t now = util_now_ms();
	det->tick_timer = 0;
	if (now - det->last_tick_ms > m->timeout_ms / 2)
		restart_silence_clocks(m, now, now - det->last_tick_ms);
	det->last_tick_ms = now;
	check_predecessors(m, now);
	check_isolation(m, now);
	if (m->detector != det)
		return; /* fenced: the detector is gone */
	if (now >= det->next_resend_ms) {
		det->next_resend_ms = now + m->timeout_ms;
		mesh_resend_reports(m);
	}
	if (loop_add_timer(loop, det->tick_ms, tick_due, m, &det->tick_timer) < 0)
		log_error("cannot schedule the next failure check: out of memory");
}

void detector_membership_changed(struct mesh *m)
{
	struct detector *det = m->detector;
	uint64_t now = util_now_ms();
	if (!det)
		return;
	compute_ring(m, det);
	for (uint32_t node = 0; node < m->count; node++) {
		struct detector_node *x = &det->nodes[node];
		bool watched = is_live(m, node) && is_predecessor(det, node);
		if (watched && !x->watch.watched) {
			x->watch.last_heard_ms = now;
			x->watch.suspected = false;
		}
		x->watch.watched = watched;
		if (!is_live(m, node) || detector_decider(m, node) != m->self)
			case_clear(m, x);
		if (!is_live(m, node))
			probe_cancel(m, x);
	}
}

void detector_node_replaced(struct mesh *m, uint32_t node)
{
	struct detector_node *x;
	if (!m->detector || node >= m->count)
		return;
	x = node_of(m, node);
	case_clear(m, x);
	probe_cancel(m, x);
	memset(&x->watch, 0, sizeof(x->watch)); /* unwatched: the next watch starts afresh */
}

int detector_create(struct mesh *m)
{
	struct detector *det = calloc(1, sizeof(*det));
	int rc;
	if (!det)
		return -ENOMEM;
	det->nodes = calloc(m->count ? m->count : 1, sizeof(*det->nodes));
	if (!det->nodes) {
		free(det);
		return -ENOMEM;
	}
	for (uint32_t node = 0; node < m->count; node++) {
		det->nodes[node].mesh = m;
		det->nodes[node].id = node;
	}
	m->detector = det;
	det->tick_ms = m->timeout_ms / 10 ? m->timeout_ms / 10 : 1;
	det->last_tick_ms = util_now_ms();
	det->next_resend_ms = det->last_tick_ms + m->timeout_ms;
	detector_membership_changed(m);
	send_heartbeats(m);
	rc = loop_add_timer(m->d->loop, det->tick_ms, tick_due, m, &det->tick_timer);
	if (rc == 0)
		rc = loop_add_timer(m->d->loop, m->period_ms, heartbeat_due, m,
				    &det->heartbeat_timer);
	if (rc < 0)
		detector_destroy(m);
	return rc;
}

void detector_destroy(struct mesh *m)
{
	struct detector *det = m->detector;
	if (!det)
		return;
	if (det->tick_timer)
		loop_cancel_timer(m->d->loop, det->tick_timer);
	if (det->heartbeat_timer)
		loop_cancel_timer(m->d->loop, det->heartbeat_timer);
	for (uint32_t node = 0; node < m->count; node++) {
		case_clear(m, &det->nodes[node]);
		probe_cancel(m, &det->nodes[node]);
	}
	free(det->nodes);
	free(det);
	m->detector = NULL;
}

uint32_t detector_case_observers(const struct mesh *m, uint32_t node)
{
	return m->detector && node < m->count ? node_of(m, node)->suspicion.count : 0;
}

uint64_t detector_probe_in_flight(const struct mesh *m, uint32_t node)
{
	return m->detector && node < m->count ? node_of(m, node)->probe.nonce : 0;
}
