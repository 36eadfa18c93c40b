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
 * outlive the detection bound by more than one timeout.
 *
 * The mesh owns the check (mesh.c creates it once the mesh is up) and tells it of PONGs and
 * of membership changes; the check reads the membership through mesh.h and reports back
 * through the two functions it was created with (quorum.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/quorum.h"
#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/mesh_auth.h"
#include "mesh/mesh.h"

struct quorum {
	struct mesh *m;
	uint64_t timeout_ms;         /* a round without a majority by then: cut off */
	quorum_reached_fn *reached;
	quorum_cut_off_fn *cut_off;
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
static uint32_t count_reached(const struct quorum *q, bool *leader_reached)
{
	const struct mesh *m = q->m;
	uint32_t reached = 0;
	*leader_reached = false;
	for (uint32_t i = 0; i < mesh_live_count(m); i++) {
		uint32_t node = mesh_live_ids(m)[i];
		if (node != mesh_self(m) && !q->answered[node])
			continue;
		reached++;
		*leader_reached |= node == mesh_leader(m);
	}
	return reached;
}

static void end_round(struct quorum *q)
{
	if (q->timer)
		loop_cancel_timer(mesh_lcrd(q->m)->loop, q->timer);
	q->timer = 0;
	q->nonce = 0;
}

/* Ends the round when it has a majority: true then. */
static bool judge(struct quorum *q)
{
	bool leader_reached;
	uint32_t reached = count_reached(q, &leader_reached);
	uint32_t live = mesh_live_count(q->m);
	if (!q->nonce || !quorum_is_majority(reached, live, leader_reached))
		return false;
	log_verbose("%" PRIu32 " of %" PRIu32 " live helpers answered within %" PRIu64 " ms: this "
		    "helper is on the majority side (%s)", reached, live,
		    util_now_ms() - q->started_ms, q->why);
	q->reached_started_ms = q->started_ms;
	end_round(q);
	q->reached(q->m);
	return true;
}

static void round_expired(struct loop *loop, void *arg)
{
	struct quorum *q = arg;
	char why[WIRE_TEXT_MAX + 1];
	bool leader_reached;
	(void)loop;
	q->timer = 0;
	if (judge(q))
		return; /* the live list shrank meanwhile */
	uint32_t reached = count_reached(q, &leader_reached);
	util_format_text(why, sizeof(why), "%" PRIu32 " of %" PRIu32 " live helpers answered "
			 "within %.1f s (%s)", reached, mesh_live_count(q->m),
			 q->timeout_ms / 1000.0, q->why);
	q->nonce = 0;
	q->cut_off(q->m, why);
}

/* Sends the round's PING to every live peer that has not answered it. */
static void ping_unanswered(struct quorum *q)
{
	struct mesh *m = q->m;
	struct wire_mesh_ping ping = { .nonce = q->nonce };
	uint8_t buf[16];
	int len = wire_encode_mesh_ping(&ping, buf, sizeof(buf));
	for (uint32_t i = 0; i < mesh_live_count(m); i++) {
		uint32_t node = mesh_live_ids(m)[i];
		if (node != mesh_self(m) && !q->answered[node])
			mesh_send(m, node, WIRE_MESH_PING, buf, len);
	}
}

void quorum_check(struct quorum *q, const char *why)
{
	if (!q || q->nonce)
		return;
	memset(q->answered, 0, mesh_node_count(q->m));
	q->nonce = mesh_auth_random();
	q->started_ms = util_now_ms();
	snprintf(q->why, sizeof(q->why), "%s", why);
	log_verbose("asking the %" PRIu32 " live helpers whether this one is on the majority "
		    "side: %s", mesh_live_count(q->m), why);
	if (judge(q))
		return;
	if (loop_add_timer(mesh_lcrd(q->m)->loop, q->timeout_ms, round_expired, q, &q->timer) < 0) {
		log_error("cannot time the majority check: out of memory");
		q->nonce = 0;
		return;
	}
	ping_unanswered(q);
}

bool quorum_reached_since(const struct quorum *q, uint64_t since_ms)
{
	return q && q->reached_started_ms && q->reached_started_ms >= since_ms;
}

bool quorum_in_flight(const struct quorum *q)
{
	return q && q->nonce;
}

uint64_t quorum_round(const struct quorum *q)
{
	return q ? q->nonce : 0;
}

bool quorum_on_pong(struct quorum *q, uint32_t node, uint64_t nonce)
{
	if (!q || !q->nonce || nonce != q->nonce || node >= mesh_node_count(q->m))
		return false;
	q->answered[node] = 1;
	judge(q);
	return true;
}

void quorum_membership_changed(struct quorum *q)
{
	if (q && q->nonce)
		ping_unanswered(q); /* a node that joined meanwhile; judged at the next answer */
}

int quorum_create(struct mesh *m, uint64_t timeout_ms, quorum_reached_fn *reached,
		  quorum_cut_off_fn *cut_off, struct quorum **out)
{
	struct quorum *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->answered = calloc(mesh_node_count(m), 1);
	if (!q->answered) {
		free(q);
		return -ENOMEM;
	}
	q->m = m;
	q->timeout_ms = timeout_ms;
	q->reached = reached;
	q->cut_off = cut_off;
	*out = q;
	return 0;
}

void quorum_destroy(struct quorum **slot)
{
	struct quorum *q = *slot;
	if (!q)
		return;
	end_round(q);
	free(q->answered);
	free(q);
	*slot = NULL;
}
