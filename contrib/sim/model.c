/* model.c: the overhead model behind lcr-sim (see model.h for the types, README.md for the
 * formulas).
 *
 * Three parts: the per-strategy plans derived from a cluster; the closed forms, which are
 * the expectations of the renewal processes the plans describe (Daly's cost function for
 * checkpoint/restart, exact; a renewal-reward argument for LCR, exact but for how a
 * restarted recovery picks its path); and Monte Carlo runs of the same processes driven by
 * a seeded stream of failure arrivals.
 */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

double sim_daly_interval(double ckpt_s, double mtbf_s)
{
	if (ckpt_s >= 2.0 * mtbf_s)
		return mtbf_s;
	double ratio = ckpt_s / (2.0 * mtbf_s);
	return sqrt(2.0 * ckpt_s * mtbf_s) * (1.0 + sqrt(ratio) / 3.0 + ratio / 9.0) - ckpt_s;
}

double sim_job_mtbf(const struct sim_cluster *c)
{
	return c->gpu_mtbf_s / (double)c->gpus;
}

unsigned long sim_job_nodes(const struct sim_cluster *c)
{
	return (c->gpus + c->gpus_per_node - 1) / c->gpus_per_node;
}

/* Every GPU's state goes to (or comes back from) the shared file system. */
double sim_checkpoint_write_s(const struct sim_cluster *c)
{
	return (double)c->gpus * c->state_bytes / c->storage_bw;
}

/* One GPU's state over its own link to a peer's CPU memory. */
double sim_inmemory_copy_s(const struct sim_cluster *c)
{
	return c->state_bytes / c->network_bw;
}

double sim_lcr_transfer_s(const struct sim_cluster *c)
{
	if (!isnan(c->lcr.transfer_s))
		return c->lcr.transfer_s;
	return c->state_bytes / c->lcr.transfer_bw;
}

void sim_periodic_plan(const struct sim_cluster *c, struct sim_cr_plan *plan)
{
	double write_s = sim_checkpoint_write_s(c);

	plan->mtbf_s = sim_job_mtbf(c);
	plan->ckpt_s = write_s;
	plan->work_s = sim_daly_interval(write_s, plan->mtbf_s);
	plan->down_s = c->detect_s + c->restart_s + write_s;
}

/* Gemini-like: a copy per step, or per as many steps as one copy needs, interleaved with
 * training traffic (no stall); a restart fetches the state back from a peer. */
void sim_inmemory_plan(const struct sim_cluster *c, struct sim_cr_plan *plan)
{
	double copy_s = sim_inmemory_copy_s(c);
	double steps = fmax(1.0, ceil(copy_s / c->step_s));

	plan->mtbf_s = sim_job_mtbf(c);
	plan->ckpt_s = 0.0;
	plan->work_s = steps * c->step_s;
	plan->down_s = c->detect_s + c->restart_s + copy_s;
}

static double lcr_spare_down_s(const struct sim_cluster *c)
{
	if (!isnan(c->lcr.recovery_s))
		return c->lcr.recovery_s;
	return c->lcr.detect_s + c->lcr.launch_s + sim_lcr_transfer_s(c) + c->lcr.rebuild_s;
}

/* No spare: save a JIT checkpoint, restart every rank elsewhere, load it back. */
static double lcr_fallback_down_s(const struct sim_cluster *c)
{
	double write_s = sim_checkpoint_write_s(c);

	return c->lcr.detect_s + write_s + c->restart_s + write_s;
}

void sim_lcr_plan(const struct sim_cluster *c, unsigned spare_nodes, struct sim_lcr_plan *plan)
{
	plan->mtbf_s = sim_job_mtbf(c);
	plan->step_s = c->step_s;
	plan->spare_down_s = lcr_spare_down_s(c);
	plan->fallback_down_s = lcr_fallback_down_s(c);
	plan->repair_s = c->repair_s;
	plan->spare_nodes = spare_nodes;
	plan->gpus = c->gpus;
	plan->gpus_per_node = c->gpus_per_node;
}

/* Expected failures before a stretch of `length_s` runs through without one, when each
 * failure sends it back to its start: e^{L/M} - 1; the attempts take M times that in all.
 * Capped at e^700, where the stretch never ends anyway, so a share of it stays finite. */
static double failures_before_surviving(double length_s, double mtbf_s)
{
	return expm1(fmin(length_s / mtbf_s, 700.0));
}

/* Daly: each segment of work + checkpoint takes M e^{D/M} (e^{(tau+delta)/M} - 1). */
double sim_cr_overhead(const struct sim_cr_plan *plan)
{
	double segment_s = exp(plan->down_s / plan->mtbf_s) * plan->mtbf_s *
			   failures_before_surviving(plan->work_s + plan->ckpt_s, plan->mtbf_s);

	return 1.0 - plan->work_s / segment_s;
}

/* The first count worth summing in a Poisson's distribution: the probabilities of counts
 * more than 12 standard deviations below the mean add up to less than 1e-31. */
static unsigned poisson_negligible_below(double mean)
{
	double first = floor(mean - 12.0 * sqrt(mean) - 12.0);

	return first > 0.0 ? (unsigned)first : 0;
}

/* P(X >= k) for X ~ Poisson(mean); each term in log space so a large mean cannot underflow. */
static double poisson_tail(double mean, unsigned k)
{
	if (k == 0)
		return 1.0;
	if (mean <= 0.0)
		return 0.0;
	double below = 0.0;
	for (unsigned i = poisson_negligible_below(mean); i < k; i++)
		below += exp(-mean + i * log(mean) - lgamma(i + 1.0));
	return below >= 1.0 ? 0.0 : 1.0 - below;
}

/* Failed nodes are away for repair_s each, so the number away is Poisson with mean
 * repair_s / M (an M/G/infinity queue); a failure sees the pool empty when K are away. */
double sim_spare_exhaustion(const struct sim_lcr_plan *plan)
{
	return poisson_tail(plan->repair_s / plan->mtbf_s, plan->spare_nodes);
}

static double lcr_gpus_held(const struct sim_lcr_plan *plan)
{
	return (double)plan->gpus + (double)plan->spare_nodes * plan->gpus_per_node;
}

/* Share q of recoveries that start without a spare, given the share p of failures that
 * find the pool empty. A recovery keeps its path when a failure restarts it, so with x
 * restarts per recovery, q (1 + x_f) fallbacks happen per 1 + q x_f + (1 - q) x_s
 * failures, and that ratio is p. */
static double lcr_fallback_share(double p, double x_fallback, double x_spare)
{
	return p * (1.0 + x_spare) / (1.0 + (1.0 - p) * x_fallback + p * x_spare);
}

/* Renewal-reward over one failure-free stretch (mean M) and the recovery after it: the
 * stretch loses its unfinished step, E[g mod s] = M - s / (e^{s/M} - 1). */
double sim_lcr_overhead(const struct sim_lcr_plan *plan)
{
	double mtbf_s = plan->mtbf_s;
	double x_fallback = failures_before_surviving(plan->fallback_down_s, mtbf_s);
	double x_spare = failures_before_surviving(plan->spare_down_s, mtbf_s);
	double fallback = lcr_fallback_share(sim_spare_exhaustion(plan), x_fallback, x_spare);
	double recovery_s = mtbf_s * (fallback * x_fallback + (1.0 - fallback) * x_spare);
	double lost_s = mtbf_s - plan->step_s / expm1(plan->step_s / mtbf_s);
	double useful = (mtbf_s - lost_s) / (mtbf_s + recovery_s);

	return 1.0 - (double)plan->gpus / lcr_gpus_held(plan) * useful;
}

/* Only pools near the number of nodes away are worth trying: one that is empty for all but
 * 1e-31 of failures only adds idle spares to having none, and past mean + 10 sd (+10 for
 * small means) an extra spare cannot pay for itself. */
unsigned sim_lcr_best_spares(const struct sim_cluster *c)
{
	struct sim_lcr_plan plan;
	sim_lcr_plan(c, 0, &plan);
	double away = plan.repair_s / plan.mtbf_s;
	unsigned first = poisson_negligible_below(away) + 1;
	unsigned limit = (unsigned)ceil(away + 10.0 * sqrt(away) + 10.0);
	unsigned best = 0;
	double best_overhead = sim_lcr_overhead(&plan);

	for (unsigned k = first; k <= limit; k++) {
		plan.spare_nodes = k;
		double overhead = sim_lcr_overhead(&plan);
		if (overhead < best_overhead) {
			best_overhead = overhead;
			best = k;
		}
	}
	return best;
}

/* xoshiro256** seeded through splitmix64: fast, and the same stream on every platform. */
struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Time to the next failure arrival; the uniform is in (0, 1] so the log is finite. */
static double rng_exponential(struct rng *r, double mean)
{
	double u = (double)((rng_next(r) >> 11) + 1) * 0x1.0p-53;
	return -log(u) * mean;
}

/* The failure stream and the clock shared by both simulations. */
struct mc_clock {
	struct rng rng;
	double mtbf_s;
	double now;
	double next_failure;
	struct sim_mc_result *result;
};

static void clock_start(struct mc_clock *clk, double mtbf_s, uint64_t seed,
			struct sim_mc_result *out)
{
	memset(out, 0, sizeof(*out));
	rng_seed(&clk->rng, seed);
	clk->mtbf_s = mtbf_s;
	clk->now = 0.0;
	clk->next_failure = rng_exponential(&clk->rng, mtbf_s);
	clk->result = out;
}

/* Move the clock to the next failure; return how long since the clock last moved. */
static double clock_advance_to_failure(struct mc_clock *clk)
{
	double worked = clk->next_failure - clk->now;

	clk->now = clk->next_failure;
	clk->next_failure += rng_exponential(&clk->rng, clk->mtbf_s);
	clk->result->failures++;
	return worked;
}

/* If a failure lands within `down_s`, move to it and return true (the recovery restarts);
 * else spend `down_s` and return false. */
static bool clock_recovery_interrupted(struct mc_clock *clk, double down_s)
{
	if (clk->next_failure >= clk->now + down_s) {
		clk->now += down_s;
		return false;
	}
	clock_advance_to_failure(clk);
	clk->result->failures_in_recovery++;
	return true;
}

static bool cr_plan_valid(const struct sim_cr_plan *p)
{
	return p->mtbf_s > 0.0 && p->work_s > 0.0 && p->ckpt_s >= 0.0 && p->down_s >= 0.0 &&
	       isfinite(p->mtbf_s + p->work_s + p->ckpt_s + p->down_s);
}

int sim_mc_cr(const struct sim_cr_plan *plan, unsigned long failures, uint64_t seed,
	      struct sim_mc_result *out)
{
	if (failures == 0 || !cr_plan_valid(plan))
		return -EINVAL;

	struct mc_clock clk;
	double segment_s = plan->work_s + plan->ckpt_s;
	double useful_s = 0.0;

	clock_start(&clk, plan->mtbf_s, seed, out);
	while (out->failures < failures) {
		double worked = clock_advance_to_failure(&clk);
		useful_s += floor(worked / segment_s) * plan->work_s;
		while (out->failures < failures && clock_recovery_interrupted(&clk, plan->down_s))
			;
	}
	out->simulated_s = clk.now;
	out->overhead = 1.0 - useful_s / clk.now;
	return 0;
}

/* Nodes away for repair, in the order they come back (every repair takes as long). */
struct repair_queue {
	double *back_at;
	size_t head;
	size_t count;
	size_t capacity;
};

static void repair_queue_release(struct repair_queue *q, double now)
{
	while (q->count > 0 && q->back_at[q->head] <= now) {
		q->head = (q->head + 1) % q->capacity;
		q->count--;
	}
}

static int repair_queue_push(struct repair_queue *q, double back_at)
{
	if (q->count == q->capacity) {
		size_t capacity = q->capacity ? 2 * q->capacity : 64;
		double *grown = malloc(capacity * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		for (size_t i = 0; i < q->count; i++)
			grown[i] = q->back_at[(q->head + i) % q->capacity];
		free(q->back_at);
		q->back_at = grown;
		q->head = 0;
		q->capacity = capacity;
	}
	q->back_at[(q->head + q->count) % q->capacity] = back_at;
	q->count++;
	return 0;
}

/* A node has just failed: send it to repair and return how long this recovery takes. */
static int lcr_recovery_begin(const struct sim_lcr_plan *plan, struct repair_queue *away,
			      struct mc_clock *clk, double *down_s)
{
	repair_queue_release(away, clk->now);
	bool spare_free = away->count < plan->spare_nodes;

	if (!spare_free)
		clk->result->fallbacks++;
	*down_s = spare_free ? plan->spare_down_s : plan->fallback_down_s;
	return repair_queue_push(away, clk->now + plan->repair_s);
}

static bool lcr_plan_valid(const struct sim_lcr_plan *p)
{
	return p->mtbf_s > 0.0 && p->step_s > 0.0 && p->spare_down_s >= 0.0 &&
	       p->fallback_down_s >= 0.0 && p->repair_s >= 0.0 && p->gpus > 0 &&
	       isfinite(p->mtbf_s + p->step_s + p->spare_down_s + p->fallback_down_s + p->repair_s);
}

int sim_mc_lcr(const struct sim_lcr_plan *plan, unsigned long failures, uint64_t seed,
	       struct sim_mc_result *out)
{
	if (failures == 0 || !lcr_plan_valid(plan))
		return -EINVAL;

	struct mc_clock clk;
	struct repair_queue away = { 0 };
	double useful_s = 0.0;
	double down_s;
	int rc = 0;

	clock_start(&clk, plan->mtbf_s, seed, out);
	while (out->failures < failures) {
		double worked = clock_advance_to_failure(&clk);
		useful_s += worked - fmod(worked, plan->step_s);
		rc = lcr_recovery_begin(plan, &away, &clk, &down_s);
		while (rc == 0 && out->failures < failures && clock_recovery_interrupted(&clk, down_s))
			rc = lcr_recovery_begin(plan, &away, &clk, &down_s);
		if (rc < 0)
			goto out;
	}
	out->simulated_s = clk.now;
	out->overhead = 1.0 - (double)plan->gpus / lcr_gpus_held(plan) * useful_s / clk.now;
out:
	free(away.back_at);
	return rc;
}
