/* test_snapshot_rebuild.c: the leader's rebuild of a lost member's snapshot from the blocks
 * of its erasure group (helper/services/snapshot_rebuild.c), driven the way lcrd's event loop drives
 * it. The decode and the XXH3 checks run on a worker: the call that brings the last block
 * returns before anything is kept, the rebuild says it is decoding, the loop serves until
 * the worker ends and keeps the regions there; a newer protected step or the module's end
 * cancels the worker before freeing what it reads.
 *
 * What the rebuild calls outside itself is a stub here: this node (0) leads a group of 3
 * nodes with 1 parity block per stripe ({0, 1, 2} at the protected step), node 2 is lost,
 * each member's snapshot is REGION_BYTES, the lost one's in three regions of sizes that
 * cross the boundary between its two chunks; the blocks of the stripes the lost
 * node gave data to are computed here with common/erasure.c and delivered as the transfer
 * server would (snapshot_rebuild_reserve, then snapshot_rebuild_arrived). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <cmocka.h>

#include "internal/erasure.h"
#include "internal/redundancy_plan.h"
#include "loop/lcrd.h"
#include "loop/loop.h"
#include "mesh/mesh.h"
#include "services/snapshot_erasure.h"
#include "services/snapshot_rebuild.h"
#include "services/transfer.h"

#define GROUP 3
#define PARITY 1
#define LOST 2
#define STEP 20
#define REGION_BYTES (8u << 20)
#define GIVE_UP_MS 20000

static const uint32_t live_at_step[GROUP] = { 0, 1, 2 };
static uint8_t *snapshots[GROUP];
#define LOST_REGIONS 3
static const uint64_t lost_region_sizes[LOST_REGIONS] = {
	(3u << 20) + 5, (1u << 20) - 3, REGION_BYTES - (4u << 20) - 2 /* the rest */
};
static const char *const lost_region_names[LOST_REGIONS] = { "w", "m", "v" };
static struct wire_snapshot_layout_region lost_regions[LOST_REGIONS];
static struct erasure_layout lost_layout;

/* --- stubs: the mesh (this node leads, LOST is down), the parity holder, the transfer
 * client (never used: this node sends no blocks of its own here) --- */

bool mesh_is_live(const struct mesh *m, uint32_t node)
{
	(void)m;
	return node != LOST;
}

bool mesh_is_leader(const struct mesh *m)
{
	(void)m;
	return true;
}

uint32_t mesh_self(const struct mesh *m)
{
	(void)m;
	return 0;
}

uint32_t mesh_leader(const struct mesh *m)
{
	(void)m;
	return 0;
}

const char *mesh_node_name(const struct mesh *m, uint32_t node)
{
	(void)m;
	(void)node;
	return "n";
}

socklen_t mesh_node_sockaddr(const struct mesh *m, uint32_t node, struct sockaddr_storage *sa)
{
	(void)m;
	(void)node;
	(void)sa;
	return 0;
}

void transfer_identity_of(struct lcrd *d, struct transfer_identity *out)
{
	(void)d;
	memset(out, 0, sizeof(*out));
}

int transfer_conn_open(const struct transfer_peer *peer, const struct transfer_identity *id,
		       struct transfer_conn **out, char *err, size_t errlen)
{
	(void)peer;
	(void)id;
	(void)out;
	return snprintf(err, errlen, "not in this test"), -ENOTCONN;
}

void transfer_conn_close(struct transfer_conn *c)
{
	(void)c;
}

int transfer_conn_put(struct transfer_conn *c, const struct wire_snapshot_put *put,
		      const uint8_t *data, uint64_t *held_xxh3, char *err, size_t errlen)
{
	(void)c;
	(void)put;
	(void)data;
	(void)held_xxh3;
	return snprintf(err, errlen, "not in this test"), -ENOTCONN;
}

int snapshot_erasure_group_over(const uint32_t *live, uint32_t live_count, uint32_t node,
				unsigned group_size, unsigned parity, struct erasure_membership *g,
				uint32_t members[ERASURE_MAX_BLOCKS], char *why, size_t cap)
{
	(void)group_size;
	(void)parity;
	(void)why;
	(void)cap;
	*g = (struct erasure_membership){ .group = 0, .position = node, .size = live_count };
	memcpy(members, live, live_count * sizeof(*live));
	return 0;
}

const struct erasure_layout *snapshot_erasure_layout(const struct erasure_holder *h, uint64_t step,
						     uint32_t node)
{
	(void)h;
	return step == STEP && node == LOST ? &lost_layout : NULL;
}

const struct erasure_layout *snapshot_erasure_any_layout(const struct erasure_holder *h, uint64_t step)
{
	(void)h;
	(void)step;
	return NULL;
}

int snapshot_erasure_parity_copy(const struct erasure_holder *h, uint64_t step, uint32_t group,
				 uint32_t stripe, uint8_t **data, uint64_t *length, unsigned *row)
{
	(void)h;
	(void)step;
	(void)group;
	(void)stripe;
	(void)data;
	(void)length;
	(void)row;
	return -ENOENT;
}

void snapshot_erasure_gather(const struct erasure_piece *pieces, size_t count, uint64_t offset,
			     uint8_t *out, uint64_t len)
{
	(void)pieces;
	(void)count;
	(void)offset;
	memset(out, 0, len);
}

/* --- the test's lcrd: a loop, the options the rebuild reads, and what it kept --- */

struct fixture {
	struct lcrd d;
	struct snapshot_rebuild *r;
	unsigned kept;
	bool kept_bytes_match;
	unsigned refuse_from; /* keep_region refuses the regions from this index on */
	int state;
	char why[WIRE_TEXT_MAX + 1];
};

/* Takes each region's buffer (freed here) and checks its bytes against the lost member's
 * snapshot at the region's place, the regions in the layout's order. */
static int keep_region(void *arg, uint32_t node, uint64_t incarnation, uint64_t step,
		       const struct wire_snapshot_layout_region *region, uint8_t **data,
		       char *why, size_t cap)
{
	struct fixture *f = arg;
	unsigned index = 0;
	uint64_t at = 0;
	(void)incarnation;
	while (index < LOST_REGIONS && strcmp(region->name, lost_region_names[index]) != 0)
		index++;
	assert_true(index < LOST_REGIONS);
	assert_int_equal(index, f->kept); /* in order, each once */
	if (index >= f->refuse_from)
		return snprintf(why, cap, "no room for region '%s'", region->name), -ENOSPC;
	for (unsigned i = 0; i < index; i++)
		at += lost_region_sizes[i];
	f->kept_bytes_match = (index == 0 || f->kept_bytes_match) && node == LOST && step == STEP &&
			      region->size == lost_region_sizes[index] &&
			      memcmp(*data, snapshots[LOST] + at, region->size) == 0;
	f->kept++;
	free(*data);
	*data = NULL;
	return 0;
}

static void fill_pseudo_random(uint8_t *out, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < len; i += sizeof(x)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(out + i, &x, len - i < sizeof(x) ? len - i : sizeof(x));
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(loop_create(&f->d.loop), 0);
	f->d.opt.redundancy_group_size = GROUP;
	f->d.opt.redundancy_parity = PARITY;
	snprintf(f->d.opt.node_name, sizeof(f->d.opt.node_name), "n0");
	for (uint32_t p = 0; p < GROUP; p++) {
		assert_non_null(snapshots[p] = malloc(REGION_BYTES));
		fill_pseudo_random(snapshots[p], REGION_BYTES, p + 1);
	}
	for (unsigned i = 0, at = 0; i < LOST_REGIONS; at += lost_region_sizes[i++]) {
		struct wire_snapshot_layout_region *x = &lost_regions[i];
		*x = (struct wire_snapshot_layout_region){
			.rank = LOST, .dp_size = 1, .size = lost_region_sizes[i],
			.xxh3 = XXH3_64bits(snapshots[LOST] + at, lost_region_sizes[i]) };
		snprintf(x->shard_key, sizeof(x->shard_key), "rank-2");
		snprintf(x->name, sizeof(x->name), "%s", lost_region_names[i]);
	}
	f->refuse_from = LOST_REGIONS;
	lost_layout = (struct erasure_layout){ .step = STEP, .node = LOST, .incarnation = 7,
					       .group_size = GROUP, .parity = PARITY,
					       .count = LOST_REGIONS, .regions = lost_regions };
	memcpy(lost_layout.members, live_at_step, sizeof(live_at_step));
	assert_non_null(f->r = snapshot_rebuild_create(&f->d, NULL, keep_region, f));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	snapshot_rebuild_destroy(f->r);
	loop_destroy(f->d.loop);
	for (uint32_t p = 0; p < GROUP; p++)
		free(snapshots[p]);
	free(f);
	return 0;
}

/* One block as the transfer server hands it over: reserve, bytes in, arrived. */
static int deliver(struct fixture *f, uint32_t peer, uint32_t stripe, unsigned block,
		   const uint8_t *data, uint64_t length, char *why, size_t cap)
{
	struct wire_snapshot_put put = { .node = peer, .rank = WIRE_NO_RANK, .step = STEP,
					 .size = length, .kind = WIRE_SNAPSHOT_REBUILD,
					 .group = 0, .group_size = GROUP, .parity = PARITY,
					 .stripe = (uint16_t)stripe, .chunk = (uint16_t)block };
	uint8_t *dst;
	int rc = snapshot_rebuild_reserve(f->r, peer, &put, &dst, why, cap);
	if (rc < 0)
		return rc;
	memcpy(dst, data, length);
	return snapshot_rebuild_arrived(f->r, peer, &put, dst, 0, why, cap);
}

/* Stripe s as the group coded it: its data blocks (each member's chunk, zero padded), then
 * its parity blocks; blocks[] holds GROUP buffers of chunk bytes. */
static void code_stripe(uint32_t s, size_t chunk, uint8_t *blocks[GROUP])
{
	struct erasure_code code;
	char err[128];
	unsigned index;
	assert_int_equal(erasure_init(&code, GROUP - PARITY, PARITY, err, sizeof(err)), 0);
	for (uint32_t p = 0; p < GROUP; p++) {
		if (redundancy_stripe_role(GROUP, PARITY, p, s, &index) != 0)
			continue;
		size_t from = index * chunk;
		size_t n = from < REGION_BYTES ? REGION_BYTES - from : 0;
		n = n < chunk ? n : chunk;
		memset(blocks[index], 0, chunk);
		memcpy(blocks[index], snapshots[p] + from, n);
	}
	erasure_encode(&code, chunk, blocks, blocks + GROUP - PARITY);
}

/* Every live member delivers its block of every stripe the lost node gave data to. */
static void deliver_every_block(struct fixture *f)
{
	size_t chunk = redundancy_chunk_bytes(REGION_BYTES, GROUP, PARITY);
	uint8_t *blocks[GROUP];
	char why[WIRE_TEXT_MAX + 1];
	unsigned index;
	snapshot_rebuild_node_lost(f->r, LOST, STEP, NULL, 0, live_at_step, GROUP);
	for (uint32_t b = 0; b < GROUP; b++)
		assert_non_null(blocks[b] = malloc(chunk));
	for (uint32_t s = 0; s < GROUP; s++) {
		if (redundancy_stripe_role(GROUP, PARITY, LOST, s, &index) != 0)
			continue;
		code_stripe(s, chunk, blocks);
		for (uint32_t p = 0; p < GROUP; p++) {
			if (p == LOST)
				continue;
			unsigned b = redundancy_stripe_role(GROUP, PARITY, p, s, &index) == 1
					     ? GROUP - PARITY + index : index;
			assert_int_equal(deliver(f, p, s, b, blocks[b], chunk, why, sizeof(why)), 0);
		}
	}
	for (uint32_t b = 0; b < GROUP; b++)
		free(blocks[b]);
}

/* Asks the rebuild's state as recovery.c's poll does, until it is no longer in progress. */
static void poll_state(struct loop *loop, void *arg)
{
	struct fixture *f = arg;
	f->state = snapshot_rebuild_state(f->r, LOST, STEP, live_at_step, GROUP, f->why, sizeof(f->why));
	if (f->state != -EINPROGRESS || loop_add_timer(loop, 1, poll_state, f, NULL) < 0)
		loop_stop(loop);
}

static void give_up(struct loop *loop, void *arg)
{
	(void)arg;
	fail_msg("the rebuild did not end in %d ms", GIVE_UP_MS);
	loop_stop(loop);
}

static void run_until_rebuild_ends(struct fixture *f)
{
	uint64_t timer;
	assert_int_equal(loop_add_timer(f->d.loop, 1, poll_state, f, NULL), 0);
	assert_int_equal(loop_add_timer(f->d.loop, GIVE_UP_MS, give_up, f, &timer), 0);
	assert_int_equal(loop_run(f->d.loop), 0);
	loop_cancel_timer(f->d.loop, timer);
}

static void test_decode_runs_off_the_loop_and_keeps_the_checked_regions(void **state)
{
	struct fixture *f = *state;
	char why[WIRE_TEXT_MAX + 1];
	size_t chunk = redundancy_chunk_bytes(REGION_BYTES, GROUP, PARITY);
	deliver_every_block(f);
	assert_int_equal(f->kept, 0);
	/* The blocks of its GROUP - PARITY stripes, the lost one's padded in: counted already. */
	assert_int_equal(snapshot_rebuild_bytes(f->r), (GROUP - PARITY) * GROUP * chunk);
	assert_int_equal(snapshot_rebuild_state(f->r, LOST, STEP, live_at_step, GROUP, why, sizeof(why)),
			 -EINPROGRESS);
	assert_non_null(strstr(why, "its blocks are being decoded"));
	run_until_rebuild_ends(f);
	assert_int_equal(f->state, 0);
	assert_int_equal(f->kept, LOST_REGIONS);
	assert_true(f->kept_bytes_match);
	assert_int_equal(snapshot_rebuild_bytes(f->r), 0);
}

/* A region the keeper refuses (its budget, say) fails the rebuild; the regions it did not
 * take are freed by the rebuild (the sanitizer build finds a leak). */
static void test_region_refused_by_the_keeper_fails_the_rebuild(void **state)
{
	struct fixture *f = *state;
	f->refuse_from = 1;
	deliver_every_block(f);
	run_until_rebuild_ends(f);
	assert_int_equal(f->state, -ENOSPC);
	assert_non_null(strstr(f->why, "no room for region 'm'"));
	assert_int_equal(f->kept, 1);
	assert_true(f->kept_bytes_match);
}

static void test_block_arriving_while_decoding_is_refused(void **state)
{
	struct fixture *f = *state;
	char why[WIRE_TEXT_MAX + 1];
	uint8_t block[64] = { 0 };
	deliver_every_block(f);
	assert_int_equal(deliver(f, 1, 0, 0, block, sizeof(block), why, sizeof(why)), -ESTALE);
	assert_non_null(strstr(why, "they are being decoded"));
	run_until_rebuild_ends(f);
	assert_int_equal(f->state, 0);
	assert_true(f->kept_bytes_match);
}

static void test_wrong_xxh3_fails_the_rebuild_once_decoded(void **state)
{
	struct fixture *f = *state;
	lost_regions[0].xxh3 ^= 1;
	deliver_every_block(f);
	run_until_rebuild_ends(f);
	assert_int_equal(f->state, -EILSEQ);
	assert_non_null(strstr(f->why, "region 'w' of rank 2 decodes with another XXH3 than node 2's "
				      "snapshot gave"));
	assert_int_equal(f->kept, 0);
	assert_int_equal(snapshot_rebuild_bytes(f->r), 0);
}

static void test_newer_step_cancels_the_decode_before_freeing(void **state)
{
	struct fixture *f = *state;
	char why[WIRE_TEXT_MAX + 1];
	deliver_every_block(f);
	snapshot_rebuild_release_before(f->r, STEP + 1);
	assert_int_equal(snapshot_rebuild_bytes(f->r), 0);
	assert_int_equal(f->kept, 0);
	/* Nothing of the cancelled job reaches the loop: the step's rebuild starts anew. */
	assert_int_equal(snapshot_rebuild_state(f->r, LOST, STEP, live_at_step, GROUP, why, sizeof(why)),
			 -EINPROGRESS);
	assert_non_null(strstr(why, "stripe"));
}

static void test_destroy_cancels_the_decode(void **state)
{
	struct fixture *f = *state;
	deliver_every_block(f);
	snapshot_rebuild_destroy(f->r);
	f->r = NULL;
	assert_int_equal(f->kept, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decode_runs_off_the_loop_and_keeps_the_checked_regions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_refused_by_the_keeper_fails_the_rebuild,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_arriving_while_decoding_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrong_xxh3_fails_the_rebuild_once_decoded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_newer_step_cancels_the_decode_before_freeing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_destroy_cancels_the_decode, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
