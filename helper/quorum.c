/* quorum.c: whether this helper is on the majority side of its step's mesh.
 *
 * Heartbeats only tell a helper about its k ring predecessors. A network split, or a node
 * cut off alone, looks the same from inside as the death of those peers: each side would
 * declare the other down and go on, and the cut-off side's ranks would go on computing and
 * writing in the job's name. So a helper asks the whole membership before it acts on
 * silence: a round PINGs every live peer with a fresh nonce and counts the PONGs. The round
 * reaches a majority when the helpers that answered, this one included, are more than half
 * of the live ones, or exactly half with the leader (the lowest live node) among them, so
 * that of two equal halves exactly one goes on. A round ends as soon as it has a majority
 * (one round trip on a healthy mesh); one that has none within the detection timeout means
 * this helper is cut off from the majority, and it fences itself (mesh_fence_cut_off).
 *
 * Rounds are asked for by the detector: by a decider before it confirms a node down on
 * silence (a refusal or a LEAVE needs none: a refused connection proves the peer's host
 * answers), and by a helper whose every watched predecessor has gone silent, which is what
 * being cut off looks like. A side without a majority thus can neither remove anybody nor
 * outlive the detection bound by more than one timeout. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/util.h"
#include "lcrd.h"
#include "log.h"
#include "mesh_auth.h"
#include "mesh_internal.h"

struct quorum {
	uint64_t nonce;              /* the round in flight, 0 when none */
	uint64_t started_ms;         /* when it started */
	uint64_t timer;              /* its deadline */
	uint64_t reached_started_ms; /* the start of the last round that reached a majority */
	uint8_t *answered;           /* per node: answered the round in flight */
	char why[WIRE_TEXT_MAX + 1]; /* what the round in flight is for, for the log */
};

bool quorum_is_majority(uint32_t reached, uint32_t live, bool leader_reached)
{
	return 2 * (uint64_t)reached > live || (2 * (uint64_t)reached == live && leader_reached);
}

/* How many live helpers, this one included, answered the round; whether the leader did. */
static uint32_t count_reached(const struct mesh *m, bool *leader_reached)
{
	uint32_t reached = 0;
	*leader_reached = false;
	for (uint32_t i = 0; i < m->live_count; i++) {
		uint32_t node = m->live[i];
		if (node != m->self && !m->quorum->answered[node])
			continue;
		reached++;
		*leader_reached |= node == m->leader;
	}
	return reached;
}

static void end_round(struct mesh *m)
{
	struct quorum *q = m->quorum;
	if (q->timer)
		loop_cancel_timer(m->d->loop, q->timer);
	q->timer = 0;
	q->nonce = 0;
}

/* Ends the round when it has a majority: true then. */
static bool judge(struct mesh *m)
{
	struct quorum *q = m->quorum;
	bool leader_reached;
	uint32_t reached = count_reached(m, &leader_reached);
	if (!q->nonce || !quorum_is_majority(reached, m->live_count, leader_reached))
		return false;
	log_verbose("%" PRIu32 " of %" PRIu32 " live helpers answered within %" PRIu64 " ms: this "
		    "helper is on the majority side (%s)", reached, m->live_count,
		    util_now_ms() - q->started_ms, q->why);
	q->reached_started_ms = q->started_ms;
	end_round(m);
	detector_quorum_reached(m);
	return true;
}

static void round_expired(struct loop *loop, void *arg)
{
	struct mesh *m = arg;
	struct quorum *q = m->quorum;
	char why[WIRE_TEXT_MAX + 1];
	bool leader_reached;
	(void)loop;
	q->timer = 0;
	if (judge(m))
		return; /* the live list shrank meanwhile */
	uint32_t reached = count_reached(m, &leader_reached);
	util_format_text(why, sizeof(why), "%" PRIu32 " of %" PRIu32 " live helpers answered "
			 "within %.1f s (%s)", reached, m->live_count, m->timeout_ms / 1000.0,
			 q->why);
	q->nonce = 0;
	mesh_fence_cut_off(m, why);
}

/* Sends the round's PING to every live peer that has not answered it. */
static void ping_unanswered(struct mesh *m)
{
	struct quorum *q = m->quorum;
	struct wire_mesh_ping ping = { .nonce = q->nonce };
	uint8_t buf[16];
	int len = wire_encode_mesh_ping(&ping, buf, sizeof(buf));
	for (uint32_t i = 0; i < m->live_count; i++)
		if (m->live[i] != m->self && !q->answered[m->live[i]])
			mesh_send(m, m->live[i], WIRE_MESH_PING, buf, len);
}

void quorum_check(struct mesh *m, const char *why)
{
	struct quorum *q = m->quorum;
	if (!q || q->nonce)
		return;
	memset(q->answered, 0, m->count);
	q->nonce = mesh_auth_random();
	q->started_ms = util_now_ms();
	snprintf(q->why, sizeof(q->why), "%s", why);
	log_verbose("asking the %" PRIu32 " live helpers whether this one is on the majority "
		    "side: %s", m->live_count, why);
	if (judge(m))
		return;
	if (loop_add_timer(m->d->loop, m->timeout_ms, round_expired, m, &q->timer) < 0) {
		log_error("cannot time the majority check: out of memory");
		q->nonce = 0;
		return;
	}
	ping_unanswered(m);
}

bool quorum_reached_since(const struct mesh *m, uint64_t since_ms)
{
	return m->quorum && m->quorum->reached_started_ms &&
	       m->quorum->reached_started_ms >= since_ms;
}

bool quorum_in_flight(const struct mesh *m)
{
	return m->quorum && m->quorum->nonce;
}

uint64_t quorum_round(const struct mesh *m)
{
	return m->quorum ? m->quorum->nonce : 0;
}

bool quorum_on_pong(struct mesh *m, uint32_t node, uint64_t nonce)
{
	struct quorum *q = m->quorum;
	if (!q || !q->nonce || nonce != q->nonce || node >= m->count)
		return false;
	q->answered[node] = 1;
	judge(m);
	return true;
}

void quorum_membership_changed(struct mesh *m)
{
	if (m->quorum && m->quorum->nonce)
		ping_unanswered(m); /* a node that joined meanwhile; judged at the next answer */
}

int quorum_create(struct mesh *m)
{
	struct quorum *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->answered = calloc(m->count, 1);
	if (!q->answered) {
		free(q);
		return -ENOMEM;
	}
	m->quorum = q;
	return 0;
}

void quorum_destroy(struct mesh *m)
{
	struct quorum *q = m->quorum;
	if (!q)
		return;
	end_round(m);
	free(q->answered);
	free(q);
	m->quorum = NULL;
}
