/* rejoin.c: reading a replacement step's LCR_REJOIN_* variables and renumbering its tasks
 * (see rejoin.h). Every value is checked: a replacement that cannot tell exactly which node
 * and ranks it stands in for must not start, or it would corrupt the running job. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rejoin.h"

static int parse_u32(const char *name, const char *text, uint32_t *out, char *err, size_t errlen)
{
	char *end;
	unsigned long long value;

	errno = 0;
	value = text && *text ? strtoull(text, &end, 10) : 0;
	if (!text || !*text || errno || *end || value > UINT32_MAX || text[0] == '-') {
		snprintf(err, errlen, "lcr: replacement step: %s='%s' is not a number", name, text ? text : "");
		return -EINVAL;
	}
	*out = (uint32_t)value;
	return 0;
}

/* Whether `rank` is already among the plan's ranks: two tasks standing in for one rank
 * would both write its state. */
static bool rank_taken(const struct rejoin_plan *plan, uint32_t rank)
{
	for (uint32_t i = 0; i < plan->rank_count; i++)
		if (plan->ranks[i] == rank)
			return true;
	return false;
}

static int parse_ranks(const char *text, struct rejoin_plan *plan, char *err, size_t errlen)
{
	char copy[REJOIN_TEXT_MAX], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", text);
	snprintf(plan->ranks_text, sizeof(plan->ranks_text), "%s", text);
	plan->rank_count = 0;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (plan->rank_count == REJOIN_RANKS_MAX) {
			snprintf(err, errlen, "lcr: replacement step: LCR_REJOIN_RANKS names more than %d ranks",
				 REJOIN_RANKS_MAX);
			return -EINVAL;
		}
		if (parse_u32("LCR_REJOIN_RANKS", item, &plan->ranks[plan->rank_count], err, errlen) < 0)
			return -EINVAL;
		if (plan->ranks[plan->rank_count] >= plan->ntasks) {
			snprintf(err, errlen, "lcr: replacement step: rank %" PRIu32 " in LCR_REJOIN_RANKS is not below "
				 "LCR_REJOIN_NTASKS=%" PRIu32, plan->ranks[plan->rank_count], plan->ntasks);
			return -EINVAL;
		}
		if (rank_taken(plan, plan->ranks[plan->rank_count])) {
			snprintf(err, errlen, "lcr: replacement step: rank %" PRIu32 " appears twice in "
				 "LCR_REJOIN_RANKS=%s", plan->ranks[plan->rank_count], text);
			return -EINVAL;
		}
		plan->rank_count++;
	}
	if (plan->rank_count == 0) {
		snprintf(err, errlen, "lcr: replacement step: LCR_REJOIN_RANKS is empty");
		return -EINVAL;
	}
	return 0;
}

static int copy_text(const char *name, const char *value, char *out, size_t cap, bool may_be_empty, char *err,
		     size_t errlen)
{
	if (!value || (!may_be_empty && !*value) || strlen(value) >= cap) {
		snprintf(err, errlen, "lcr: replacement step: %s is %s", name,
			 !value ? "missing" : *value ? "too long" : "empty");
		return -EINVAL;
	}
	snprintf(out, cap, "%s", value);
	return 0;
}

int rejoin_read_env(const char *(*lookup)(void *ctx, const char *name), void *ctx, struct rejoin_plan *plan,
		    char *err, size_t errlen)
{
	const char *peer = lookup(ctx, "LCR_REJOIN_PEER");

	memset(plan, 0, sizeof(*plan));
	if (!peer || !*peer)
		return -ENOENT;
	if (copy_text("LCR_REJOIN_PEER", peer, plan->peer, sizeof(plan->peer), false, err, errlen) < 0 ||
	    parse_u32("LCR_REJOIN_STEP", lookup(ctx, "LCR_REJOIN_STEP"), &plan->step_id, err, errlen) < 0 ||
	    parse_u32("LCR_REJOIN_NODE_ID", lookup(ctx, "LCR_REJOIN_NODE_ID"), &plan->node_id, err, errlen) < 0 ||
	    parse_u32("LCR_REJOIN_NODE_COUNT", lookup(ctx, "LCR_REJOIN_NODE_COUNT"), &plan->node_count, err,
		      errlen) < 0 ||
	    parse_u32("LCR_REJOIN_NTASKS", lookup(ctx, "LCR_REJOIN_NTASKS"), &plan->ntasks, err, errlen) < 0 ||
	    copy_text("LCR_REJOIN_NODES", lookup(ctx, "LCR_REJOIN_NODES"), plan->nodes, sizeof(plan->nodes), false,
		      err, errlen) < 0 ||
	    copy_text("LCR_REJOIN_CKPT", lookup(ctx, "LCR_REJOIN_CKPT") ? lookup(ctx, "LCR_REJOIN_CKPT") : "",
		      plan->ckpt, sizeof(plan->ckpt), true, err, errlen) < 0)
		return -EINVAL;
	if (plan->node_id >= plan->node_count) {
		snprintf(err, errlen, "lcr: replacement step: LCR_REJOIN_NODE_ID=%" PRIu32
			 " is not below LCR_REJOIN_NODE_COUNT=%" PRIu32, plan->node_id, plan->node_count);
		return -EINVAL;
	}
	const char *ranks = lookup(ctx, "LCR_REJOIN_RANKS");
	if (!ranks || strlen(ranks) >= sizeof(plan->ranks_text)) {
		snprintf(err, errlen, "lcr: replacement step: LCR_REJOIN_RANKS is %s", ranks ? "too long" : "missing");
		return -EINVAL;
	}
	return parse_ranks(ranks, plan, err, errlen);
}

struct spank_lookup {
	spank_t sp;
	char buffer[REJOIN_TEXT_MAX];
};

static const char *spank_lookup(void *ctx, const char *name)
{
	struct spank_lookup *lookup = ctx;

	if (spank_getenv(lookup->sp, name, lookup->buffer, sizeof(lookup->buffer)) != ESPANK_SUCCESS)
		return NULL;
	return lookup->buffer;
}

int rejoin_read(spank_t sp, struct rejoin_plan *plan, char *err, size_t errlen)
{
	struct spank_lookup lookup = { .sp = sp };

	return rejoin_read_env(spank_lookup, &lookup, plan, err, errlen);
}

static int set_number(spank_t sp, const char *name, uint32_t value)
{
	char text[16];

	snprintf(text, sizeof(text), "%" PRIu32, value);
	return spank_setenv(sp, name, text, 1) == ESPANK_SUCCESS ? 0 : -EIO;
}

int rejoin_renumber_task(spank_t sp, const struct rejoin_plan *plan, uint32_t local_id, char *err, size_t errlen)
{
	if (local_id >= plan->rank_count) {
		snprintf(err, errlen, "lcr: replacement step: task %" PRIu32 " has no rank to take over "
			 "(LCR_REJOIN_RANKS=%s)", local_id, plan->ranks_text);
		return -EINVAL;
	}
	if (set_number(sp, "SLURM_PROCID", plan->ranks[local_id]) < 0 ||
	    set_number(sp, "SLURM_NTASKS", plan->ntasks) < 0 || set_number(sp, "SLURM_NPROCS", plan->ntasks) < 0 ||
	    set_number(sp, "SLURM_STEP_NUM_TASKS", plan->ntasks) < 0 ||
	    set_number(sp, "SLURM_NODEID", plan->node_id) < 0 ||
	    set_number(sp, "SLURM_NNODES", plan->node_count) < 0 ||
	    set_number(sp, "SLURM_STEP_NUM_NODES", plan->node_count) < 0 ||
	    spank_setenv(sp, "SLURM_STEP_NODELIST", plan->nodes, 1) != ESPANK_SUCCESS ||
	    spank_setenv(sp, "LCR_REJOIN", "1", 1) != ESPANK_SUCCESS) {
		snprintf(err, errlen, "lcr: replacement step: cannot renumber task %" PRIu32, local_id);
		return -EIO;
	}
	return 0;
}
