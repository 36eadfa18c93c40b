/* quorum.h: whether this helper is on the majority side of its step's mesh (quorum.c).
 * Part of the mesh layer: mesh.c creates the check once the mesh is up, hands it the PONGs
 * that answer its rounds and the membership's changes; the detector asks for rounds
 * before it acts on silence. */
#ifndef LCR_HELPER_QUORUM_H
#define LCR_HELPER_QUORUM_H

#include <stdbool.h>
#include <stdint.h>

struct mesh;
struct quorum;

/* A round reached a majority (the detector's cases waiting for one are decided). */
typedef void quorum_reached_fn(struct mesh *m);
/* A round had no majority within the timeout: this helper is cut off (why is for the log). */
typedef void quorum_cut_off_fn(struct mesh *m, const char *why);

/* The majority check of m, whose rounds last timeout_ms: 0 with *out, or -ENOMEM. */
int quorum_create(struct mesh *m, uint64_t timeout_ms, quorum_reached_fn *reached,
		  quorum_cut_off_fn *cut_off, struct quorum **out);
/* Ends the round in flight, frees *slot and sets it NULL (nothing when NULL already). */
void quorum_destroy(struct quorum **slot);
/* Starts a round that asks every live peer whether this helper is on the majority side,
 * unless one is in flight (or q is NULL: the mesh is not up); a round without a majority
 * within the timeout calls cut_off. why is for the log. */
void quorum_check(struct quorum *q, const char *why);
/* Whether a round that started at or after since_ms (util_now_ms) reached a majority. */
bool quorum_reached_since(const struct quorum *q, uint64_t since_ms);
bool quorum_in_flight(const struct quorum *q);
/* The nonce of the round in flight, 0 when none (its PINGs carry it). */
uint64_t quorum_round(const struct quorum *q);
/* A PONG from node: true when it answers the round in flight (not the detector's probe). */
bool quorum_on_pong(struct quorum *q, uint32_t node, uint64_t nonce);
/* The live list changed: the round in flight is judged again, new members asked. */
void quorum_membership_changed(struct quorum *q);
/* The majority rule: `reached` live helpers (this one included) of `live`, more than half,
 * or exactly half holding the leader. */
bool quorum_is_majority(uint32_t reached, uint32_t live, bool leader_reached);

#endif
