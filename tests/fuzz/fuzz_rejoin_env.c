/* fuzz_rejoin_env.c: libFuzzer target for the plugin's reading of a replacement step's
 * LCR_REJOIN_* environment (plugin/rejoin.c), which slurmstepd runs as root on what srun
 * forwarded. The input is the variables' values (env_input.h). A plan it accepts must hold
 * what rejoin.h promises: the node below the node count, at least one rank, each below
 * the rank count and none twice, every text terminated. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugin/rejoin.h"
#include "env_input.h"

static const char *const rejoin_variables[] = {
	"LCR_REJOIN_PEER",  "LCR_REJOIN_STEP",  "LCR_REJOIN_NODE_ID", "LCR_REJOIN_NODE_COUNT",
	"LCR_REJOIN_NTASKS", "LCR_REJOIN_NODES", "LCR_REJOIN_CKPT",   "LCR_REJOIN_RANKS",
	NULL,
};

static struct rejoin_plan plan;

/* rejoin.c reads and sets slurmstepd's environment through these in rejoin_read and
 * rejoin_renumber_task, which this target never calls; slurmstepd provides them. */
spank_err_t spank_getenv(spank_t spank, const char *var, char *buf, int len)
{
	(void)spank, (void)var, (void)buf, (void)len;
	abort();
}

spank_err_t spank_setenv(spank_t spank, const char *var, const char *val, int overwrite)
{
	(void)spank, (void)var, (void)val, (void)overwrite;
	abort();
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_rejoin_env: %s\n", what);
	abort();
}

static void check_plan(const struct rejoin_plan *p)
{
	if (p->node_id >= p->node_count)
		fail("the node id is not below the node count");
	if (p->rank_count == 0 || p->rank_count > REJOIN_RANKS_MAX)
		fail("the rank count is out of range");
	for (uint32_t i = 0; i < p->rank_count; i++) {
		if (p->ranks[i] >= p->ntasks)
			fail("a rank is not below the rank count");
		for (uint32_t j = 0; j < i; j++)
			if (p->ranks[j] == p->ranks[i])
				fail("a rank is taken over twice");
	}
	if (strnlen(p->peer, sizeof(p->peer)) == sizeof(p->peer) ||
	    strnlen(p->nodes, sizeof(p->nodes)) == sizeof(p->nodes) ||
	    strnlen(p->ckpt, sizeof(p->ckpt)) == sizeof(p->ckpt) ||
	    strnlen(p->ranks_text, sizeof(p->ranks_text)) == sizeof(p->ranks_text))
		fail("a text is not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct env_input env;
	char err[256];

	env_input_init(&env, rejoin_variables, data, size);
	if (rejoin_read_env(env_input_lookup, &env, &plan, err, sizeof(err)) == 0)
		check_plan(&plan);
	env_input_fini(&env);
	return 0;
}
