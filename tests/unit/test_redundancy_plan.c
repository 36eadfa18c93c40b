/*
 * test_redundancy_plan.c: where copies and parity go (common/redundancy_plan.c): copies never
 * on their own node, spread over other switches, every node holding as many as it gives;
 * erasure groups that cover every node once; and, through the real code, that a group
 * loses no state to any PARITY lost members.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal/erasure.h"
#include "internal/redundancy_plan.h"

static char err[256];

static void test_spread_order_alternates_switches(void **state)
{
	const uint32_t switches[8] = { 0, 0, 0, 0, 1, 1, 1, 1 }, expected[8] = { 0, 4, 1, 5, 2, 6, 3, 7 };
	const uint32_t uneven[5] = { 2, 0, 2, 2, 0 }, expected_uneven[5] = { 1, 0, 4, 2, 3 };
	struct redundancy_nodes nodes = { 8, switches };
	uint32_t order[8];

	(void)state;
	assert_int_equal(redundancy_spread_order(&nodes, order), 0);
	assert_memory_equal(order, expected, sizeof(expected));
	nodes = (struct redundancy_nodes){ 5, uneven };
	assert_int_equal(redundancy_spread_order(&nodes, order), 0);
	assert_memory_equal(order, expected_uneven, sizeof(expected_uneven));
}

static void test_copies_are_elsewhere_and_balanced(void **state)
{
	const uint32_t switches[12] = { 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1 };
	(void)state;
	for (uint32_t count = 2; count <= 12; count++) {
		for (unsigned copies = 1; copies < count && copies <= 3; copies++) {
			struct redundancy_nodes nodes = { count, count == 12 ? switches : NULL };
			unsigned held[12] = { 0 };
			for (uint32_t node = 0; node < count; node++) {
				uint32_t partners[3];
				assert_int_equal(redundancy_copy_partners(&nodes, node, copies, partners, err,
									  sizeof(err)), 0);
				for (unsigned c = 0; c < copies; c++) {
					assert_int_not_equal(partners[c], node);
					for (unsigned d = 0; d < c; d++)
						assert_int_not_equal(partners[c], partners[d]);
					if (count == 12 && c == 0)
						assert_int_not_equal(switches[partners[c]], switches[node]);
					held[partners[c]]++;
				}
			}
			for (uint32_t node = 0; node < count; node++)
				assert_int_equal(held[node], copies);
		}
	}
}

static void test_too_many_copies_are_refused(void **state)
{
	struct redundancy_nodes nodes = { 3, NULL };
	uint32_t partners[3];

	(void)state;
	assert_int_equal(redundancy_copy_partners(&nodes, 0, 3, partners, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "3 copies of node 0: a step of 3 nodes has 2 other nodes to hold them");
}

static void test_erasure_groups_cover_every_node_once(void **state)
{
	(void)state;
	for (uint32_t count = 3; count <= 40; count++) {
		struct redundancy_nodes nodes = { count, NULL };
		bool taken[40][32];
		memset(taken, 0, sizeof(taken));
		for (uint32_t node = 0; node < count; node++) {
			struct erasure_membership member;
			assert_int_equal(redundancy_erasure_membership(&nodes, node, 3, 1, &member, err, sizeof(err)), 0);
			assert_true(member.size >= 3 && member.size <= 5);
			assert_true(member.position < member.size);
			assert_false(taken[member.group][member.position]);
			taken[member.group][member.position] = true;
		}
	}
}

static void test_bad_erasure_groups_are_refused(void **state)
{
	struct redundancy_nodes nodes = { 4, NULL };
	struct erasure_membership member;

	(void)state;
	assert_int_equal(redundancy_erasure_membership(&nodes, 0, 8, 2, &member, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a step of 4 nodes holds no such group"));
	assert_int_equal(redundancy_erasure_membership(&nodes, 0, 2, 2, &member, err, sizeof(err)), -EINVAL);
	nodes.count = 70;
	assert_int_equal(redundancy_erasure_membership(&nodes, 0, 24, 2, &member, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than 32"));
}

static void test_each_member_has_one_block_per_stripe(void **state)
{
	const uint32_t size = 7;
	const unsigned parity = 2;

	(void)state;
	for (uint32_t stripe = 0; stripe < size; stripe++) {
		unsigned parity_seen = 0, data_seen = 0, index;
		for (uint32_t position = 0; position < size; position++) {
			if (redundancy_stripe_role(size, parity, position, stripe, &index)) {
				parity_seen |= 1u << index;
			} else {
				data_seen |= 1u << index;
				assert_int_equal(redundancy_stripe_of_chunk(size, parity, position, index), stripe);
			}
		}
		assert_int_equal(parity_seen, (1u << parity) - 1);
		assert_int_equal(data_seen, (1u << (size - parity)) - 1);
	}
	assert_int_equal(redundancy_chunk_bytes(3u << 20, 8, 2), (3u << 20) / 6);
	assert_int_equal(redundancy_parity_bytes_per_node(3u << 20, 8, 2), 1u << 20);
	assert_int_equal(redundancy_chunk_bytes(100, 4, 1), 64);
}

/* --- a whole group, through the real code --- */

#define GROUP 6
#define PARITY 2
#define LARGEST 3000

#define ROOM 4096 /* at least (GROUP - PARITY) chunks */

static uint8_t state_of[GROUP][ROOM];          /* each member's state, zero past its length */
static uint8_t parity_of[GROUP][PARITY][1024]; /* parity_of[position][index]: what it holds */

static uint8_t *chunk_at(uint32_t position, unsigned chunk, size_t chunk_bytes)
{
	return state_of[position] + chunk * chunk_bytes;
}

static void build_parity(struct erasure_code *code, size_t chunk_bytes)
{
	memset(parity_of, 0, sizeof(parity_of));
	for (uint32_t stripe = 0; stripe < GROUP; stripe++) {
		uint8_t *holders[PARITY];
		unsigned index;
		for (uint32_t position = 0; position < GROUP; position++)
			if (redundancy_stripe_role(GROUP, PARITY, position, stripe, &index))
				holders[index] = parity_of[position][index];
		for (uint32_t position = 0; position < GROUP; position++)
			if (!redundancy_stripe_role(GROUP, PARITY, position, stripe, &index))
				erasure_add_block(code, chunk_bytes, index, chunk_at(position, index, chunk_bytes),
						  holders);
	}
}

/* Rebuilds the data chunks of the members marked lost, stripe by stripe. */
static void rebuild(struct erasure_code *code, size_t chunk_bytes, const bool *member_lost)
{
	for (uint32_t stripe = 0; stripe < GROUP; stripe++) {
		uint8_t *blocks[GROUP];
		bool lost[GROUP] = { false };
		unsigned index;
		for (uint32_t position = 0; position < GROUP; position++) {
			bool is_parity = redundancy_stripe_role(GROUP, PARITY, position, stripe, &index);
			unsigned block = is_parity ? GROUP - PARITY + index : index;
			blocks[block] = is_parity ? parity_of[position][index] :
						    chunk_at(position, index, chunk_bytes);
			lost[block] = member_lost[position];
		}
		assert_int_equal(erasure_recover(code, chunk_bytes, blocks, lost, err, sizeof(err)), 0);
	}
}

static void test_group_survives_any_two_lost_members(void **state)
{
	static uint8_t saved[GROUP][ROOM], saved_parity[GROUP][PARITY][1024];
	const size_t lengths[GROUP] = { 3000, 2999, 1, 2048, 0, 2500 };
	size_t chunk_bytes = redundancy_chunk_bytes(LARGEST, GROUP, PARITY);
	struct erasure_code code;

	(void)state;
	assert_true(chunk_bytes * (GROUP - PARITY) >= LARGEST && chunk_bytes * (GROUP - PARITY) <= ROOM &&
		    chunk_bytes <= 1024);
	assert_int_equal(erasure_init(&code, GROUP - PARITY, PARITY, err, sizeof(err)), 0);
	srand(7);
	memset(state_of, 0, sizeof(state_of));
	for (uint32_t m = 0; m < GROUP; m++)
		for (size_t i = 0; i < lengths[m]; i++)
			state_of[m][i] = (uint8_t)rand();
	memcpy(saved, state_of, sizeof(saved));
	build_parity(&code, chunk_bytes);
	memcpy(saved_parity, parity_of, sizeof(saved_parity));
	for (uint32_t a = 0; a < GROUP; a++) {
		for (uint32_t b = a; b < GROUP; b++) {
			bool lost[GROUP] = { false };
			lost[a] = lost[b] = true;
			memset(state_of[a], 0x5a, ROOM);
			memset(state_of[b], 0x5a, ROOM);
			memset(parity_of[a], 0x5a, sizeof(parity_of[a]));
			memset(parity_of[b], 0x5a, sizeof(parity_of[b]));
			rebuild(&code, chunk_bytes, lost);
			/* past the chunks, the room is not the state's: it stays as it was */
			memset(state_of[a] + chunk_bytes * (GROUP - PARITY), 0, ROOM - chunk_bytes * (GROUP - PARITY));
			memset(state_of[b] + chunk_bytes * (GROUP - PARITY), 0, ROOM - chunk_bytes * (GROUP - PARITY));
			assert_memory_equal(state_of, saved, sizeof(saved));
			for (uint32_t m = 0; m < GROUP; m++)
				for (unsigned p = 0; p < PARITY; p++)
					assert_memory_equal(parity_of[m][p], saved_parity[m][p], chunk_bytes);
		}
	}
}

/* auto: copy while the budget holds 2 (1 + K) times the region quota, else erasure while it
 * holds 2 S + 2 parity, else none; no budget: copy; a budget without a quota: none. */
static void test_auto_chooses_what_the_budget_holds(void **state)
{
	const uint64_t mib = 1 << 20;
	struct redundancy_budget b = { .state_max = 3 * mib, .memory_max = 12 * mib, .copies = 1,
				       .group_size = 4, .parity = 1, .node_count = 4 };
	char why[256];
	(void)state;
	assert_int_equal(redundancy_choose(&b, why, sizeof(why)), LCR_REDUNDANCY_COPY);
	assert_non_null(strstr(why, "1 copy needs up to 12.0 MiB of the budget of 12.0 MiB"));
	b.memory_max = 12 * mib - 1;
	/* erasure: 2 * 3 MiB + 2 * 1 MiB of parity */
	assert_int_equal(redundancy_choose(&b, why, sizeof(why)), LCR_REDUNDANCY_ERASURE);
	assert_non_null(strstr(why, "needs up to 8.0 MiB"));
	b.memory_max = 8 * mib - 1;
	assert_int_equal(redundancy_choose(&b, why, sizeof(why)), LCR_REDUNDANCY_NONE);
	assert_non_null(strstr(why, "neither fits: 1 copy would need 12.0 MiB, erasure coding would "
				    "need 8.0 MiB, and the budget is 8.0 MiB"));
	b.memory_max = 10 * mib;
	b.node_count = 3; /* no group of 4 */
	assert_int_equal(redundancy_choose(&b, why, sizeof(why)), LCR_REDUNDANCY_NONE);
	assert_non_null(strstr(why, "erasure coding needs groups of 4 nodes, and the step has 3"));
	b.memory_max = 0;
	assert_int_equal(redundancy_choose(&b, why, sizeof(why)), LCR_REDUNDANCY_COPY);
	b.node_count = 1; /* no other node for a copy, no group */
	assert_int_equal(redundancy_choose(&b, why, sizeof(why)), LCR_REDUNDANCY_NONE);
	assert_non_null(strstr(why, "1 copy needs more nodes than the step's 1"));
	b = (struct redundancy_budget){ .memory_max = 64 * mib, .copies = 1, .group_size = 4,
					.parity = 1, .node_count = 8 };
	assert_int_equal(redundancy_choose(&b, why, sizeof(why)), LCR_REDUNDANCY_NONE);
	assert_non_null(strstr(why, "not bounded (no region quota)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread_order_alternates_switches),
		cmocka_unit_test(test_copies_are_elsewhere_and_balanced),
		cmocka_unit_test(test_too_many_copies_are_refused),
		cmocka_unit_test(test_erasure_groups_cover_every_node_once),
		cmocka_unit_test(test_bad_erasure_groups_are_refused),
		cmocka_unit_test(test_each_member_has_one_block_per_stripe),
		cmocka_unit_test(test_group_survives_any_two_lost_members),
		cmocka_unit_test(test_auto_chooses_what_the_budget_holds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
