/* trainer.c: LCR's demo trainer. A data-parallel MLP (mlp.c) whose parameters and Adam state
 * live in regions of the node's lcrd, with every optimizer update marked, gradients averaged
 * through a liblcr communicator, and a restart handled: a rank whose regions already hold
 * a committed step (reattached after a crash, restored from a checkpoint, or received by a
 * replacement) skips initialisation and goes on from the next step. Deterministic: the same
 * seed gives bit-identical weights whatever failures happen.
 *
 *   lcr-demo-trainer [--shard=replicated|zero1|none]
 *                    [--steps=N] [--seed=S] [--batch=B] [--state-mb=MB] [--ballast-mb=MB]
 *                    [--lr=LR] [--print-every=MS] [--rank=R --size=N] [--epoch=E]
 *                    [--without-lcr=RENDEZVOUS_DIR] [--rendezvous-dir=DIR] [--checkpoint-on-usr1]
 *                    [--recovery-wait=SECONDS] [--linger]
 *                    [--save-dir=DIR [--save-every=N]] [--load-dir=DIR] [--stop-at=RANK:STEP]
 *
 * --without-lcr runs the same training with its state in plain memory and no helper (the
 * ranks meet through files in a shared directory): the baseline of LCR's steady-state cost.
 * An LCR run meets in the helpers' job-wide store (no shared directory); --rendezvous-dir
 * makes it meet through files in DIR instead, as the baseline does.
 * --checkpoint-on-usr1 turns SIGUSR1 (sbatch --signal=USR1@300) into a checkpoint.
 * After a failed gradient exchange a rank stays paused up to --recovery-wait seconds
 * (default 20), printing the helper's events, until the helpers have published a checkpoint
 * (or, with --linger, for all of that time: the step and its helpers stay up to be looked
 * at), then exits with status 75. When the step replaces dead nodes (LCR_REPLACE=spare, set
 * by the plugin from --lcr-replace), it waits instead for the spare to join, rebuilds its
 * communicator at the epoch of the join and goes on in the same process; the replacement's
 * ranks start with LCR_REJOIN_EPOCH and find their state restored in their regions; when
 * their first build fails (a node died before every member came, such as the leader right
 * after the join), they wait for the next join as the survivors do and build at its epoch
 * (a join at or before the last epoch built at is skipped). Every build and exchange of a
 * step with spares waits up to 60 s for the other members (15 s without spares). When the
 * helpers recovered the node from their in-memory copies (--lcr-redundancy=copy), they
 * rolled every rank's regions back to a protected step P: after the join lcr_resume_step
 * says P, the rank prints "the helpers rolled the state back to step P (K steps lost)" and
 * every rank goes on from P + 1, in every --shard mode. A rank whose update mark is refused
 * (-EINPROGRESS while the helpers roll its regions back, -ESTALE once they did and it has
 * not asked lcr_resume_step) writes nothing, says so, and waits for the join as after a
 * failed exchange; another refusal stops it.
 *
 * --save-dir and --load-dir (with --without-lcr only) make the baseline the conventional way
 * to survive a failure, periodic checkpoints, that contrib/bench/recovery.sh compares LCR
 * with. --save-dir=DIR: rank 0 saves the state after every N-th step (--save-every, default
 * 50: after steps N-1, 2N-1, ...) to DIR/checkpoint, written to DIR/checkpoint.tmp,
 * fsync'ed and renamed over the old one, so a reader finds the previous checkpoint or the
 * new one, never a partial one. --load-dir=DIR: every rank starts from DIR/checkpoint when
 * it exists (from step 0 when it does not) and goes on from the step after it. The file's
 * layout is in baseline_ckpt.c. With either option --ballast-mb
 * is allocated in plain memory too and saved with the state, so the checkpoint carries as
 * many bytes per node as LCR keeps; without them the baseline ignores it, as before.
 *
 * --shard says which rank holds what (sharding.h). replicated (the default): every rank holds
 * the whole weights and Adam state under shard key "dp", updated in place inside the update
 * mark. zero1: every rank holds the whole weights and the Adam moments of its own slice of
 * the parameters, under its own shard key zero1-r<rank>. none: every rank holds its slice
 * of the weights and of the moments, under none-r<rank>, and gathers the whole weights into
 * a scratch buffer before each forward pass. In both, the gradient is averaged over the
 * ranks as in replicated, each rank updates its slice in scratch memory, zero1 gathers the
 * new weight slices from their owners, and only then is the update marked and copied into
 * the regions: a collective that fails leaves every region at the last committed step.
 * The arithmetic is the same in every mode, so the same seed gives the same weights. A
 * sharded rank cannot take its state from another, so ranks that resume at different
 * steps stop with an error. With --checkpoint-on-usr1 a sharded rank does not forward the
 * signal at once: the request travels with the next gradient exchange, and after that
 * step every rank waits at a barrier and asks for the checkpoint (lcr_checkpoint), so that
 * it is taken while every shard holds the same step. --state-mb is the whole model's
 * state, whatever the mode; --save-dir and --load-dir need --shard=replicated.
 *
 * --stop-at=RANK:STEP is for tests of a failure inside a step: rank RANK stops itself
 * (SIGSTOP) before it computes step STEP (a replacement's rank never does), so that every
 * other rank waits in that step's exchange with step STEP-1 committed, whatever the timing.
 *
 * Rank and size come from SLURM_PROCID / SLURM_NTASKS unless given. One progress line per
 * --print-every milliseconds: step, loss, steps/s. At the end, replicated: "final rank R
 * step N steps/s X checksum C", C the XXH3 of the weights (the same on every replica);
 * zero1 and none: "final rank R step N steps/s X weights W checksum C", W the XXH3 of the
 * whole weights (equal to replicated's C for the same seed and steps) and C the XXH3 of the
 * ranks' state hashes in rank order, each the XXH3 of the XXH3s of that rank's regions
 * (weights, m, v): it covers every rank's state and is printed by every rank. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <xxhash.h>

#include "baseline_ckpt.h"
#include "lcr.h"
#include "lcr_comm.h"
#include "sharding.h"
#include "trainer.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "trainer: %s: %s\n", what, lcr_strerror(rc));
	return 1;
}

static double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint32_t env_uint(const char *name, uint32_t fallback)
{
	const char *value = getenv(name);

	return value ? (uint32_t)strtoul(value, NULL, 10) : fallback;
}

/* --stop-at=RANK:STEP into opt. 0 or -EINVAL. */
static int parse_stop_at(const char *value, struct trainer_options *opt)
{
	char *end;
	unsigned long rank;
	unsigned long long step;

	errno = 0;
	rank = strtoul(value, &end, 10);
	if (end == value || *end != ':' || errno || rank > UINT32_MAX)
		return -EINVAL;
	value = end + 1;
	step = strtoull(value, &end, 10);
	if (end == value || *end || errno)
		return -EINVAL;
	opt->stop_at_set = true;
	opt->stop_rank = (uint32_t)rank;
	opt->stop_step = step;
	return 0;
}

static int parse_options(int argc, char **argv, struct trainer_options *opt)
{
	static const struct option longopts[] = {
		{ "steps", required_argument, NULL, 's' },      { "seed", required_argument, NULL, 'S' },
		{ "batch", required_argument, NULL, 'b' },      { "state-mb", required_argument, NULL, 'm' },
		{ "ballast-mb", required_argument, NULL, 'B' }, { "lr", required_argument, NULL, 'l' },
		{ "print-every", required_argument, NULL, 'p' }, { "rank", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 'n' },       { "epoch", required_argument, NULL, 'e' },
		{ "without-lcr", required_argument, NULL, 'w' }, { "rendezvous-dir", required_argument, NULL, 'R' },
		{ "checkpoint-on-usr1", no_argument, NULL, 'U' }, { "recovery-wait", required_argument, NULL, 'W' },
		{ "linger", no_argument, NULL, 'L' },            { "save-dir", required_argument, NULL, 'D' },
		{ "save-every", required_argument, NULL, 'I' },  { "load-dir", required_argument, NULL, 'O' },
		{ "shard", required_argument, NULL, 'H' },       { "stop-at", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*opt = (struct trainer_options){ .steps = 200, .seed = 42, .batch = 32, .state_bytes = 1u << 20,
					 .lr = 3e-4f, .print_every_ms = 1000,
					 .rank = env_uint("SLURM_PROCID", 0), .size = env_uint("SLURM_NTASKS", 1),
					 .epoch = env_uint("LCR_REJOIN_EPOCH", 0), .recovery_wait = 20,
					 .save_every = 50 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': opt->steps = strtoull(optarg, NULL, 10); break;
		case 'S': opt->seed = strtoull(optarg, NULL, 10); break;
		case 'b': opt->batch = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'm': opt->state_bytes = (size_t)(strtod(optarg, NULL) * 1048576.0); break;
		case 'B': opt->ballast_bytes = (size_t)(strtod(optarg, NULL) * 1048576.0); break;
		case 'l': opt->lr = strtof(optarg, NULL); break;
		case 'p': opt->print_every_ms = atoi(optarg); break;
		case 'r': opt->rank = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'n': opt->size = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'e': opt->epoch = strtoull(optarg, NULL, 10); break;
		case 'w': opt->without_lcr = optarg; break;
		case 'R': opt->rendezvous_dir = optarg; break;
		case 'U': opt->checkpoint_signal = true; break;
		case 'W': opt->recovery_wait = strtod(optarg, NULL); break;
		case 'L': opt->linger = true; break;
		case 'D': opt->save_dir = optarg; break;
		case 'I': opt->save_every = strtoull(optarg, NULL, 10); break;
		case 'O': opt->load_dir = optarg; break;
		case 'T':
			if (parse_stop_at(optarg, opt) < 0) {
				fprintf(stderr, "trainer: bad --stop-at '%s': RANK:STEP, two numbers\n", optarg);
				return -EINVAL;
			}
			break;
		case 'H':
			if (shard_mode_parse(optarg, &opt->shard) < 0) {
				fprintf(stderr, "trainer: bad --shard '%s': replicated, zero1 or none\n", optarg);
				return -EINVAL;
			}
			break;
		default: return -EINVAL;
		}
	}
	if (optind != argc || opt->batch == 0 || opt->size == 0 || opt->rank >= opt->size || opt->state_bytes == 0) {
		fprintf(stderr, "trainer: bad arguments: need --batch >= 1, --state-mb > 0, --rank below --size\n");
		return -EINVAL;
	}
	if ((opt->save_dir || opt->load_dir) && !opt->without_lcr) {
		fprintf(stderr, "trainer: bad arguments: --save-dir and --load-dir are the baseline's periodic "
				"checkpoints: they need --without-lcr (with LCR the helpers keep the state)\n");
		return -EINVAL;
	}
	if ((opt->save_dir || opt->load_dir) && opt->shard != SHARD_REPLICATED) {
		fprintf(stderr, "trainer: bad arguments: --save-dir and --load-dir need --shard=replicated "
				"(the baseline's file holds one replica's state)\n");
		return -EINVAL;
	}
	if (opt->save_every == 0) {
		fprintf(stderr, "trainer: bad arguments: need --save-every >= 1\n");
		return -EINVAL;
	}
	return 0;
}

/* Maps one float region; *reattached tells whether it already held data. */
static int map_region(struct trainer *t, const char *name, size_t floats, float **out, int *reattached)
{
	void *ptr = NULL;
	int rc = lcr_region_alloc(t->session, name, floats * sizeof(float), LCR_REGION_HOST, -1, &ptr);

	if (rc < 0) {
		fprintf(stderr, "trainer: cannot allocate region '%s' (%zu bytes): %s (%s)\n", name,
			floats * sizeof(float), lcr_strerror(rc), lcr_last_error(t->session));
		return rc;
	}
	*out = ptr;
	*reattached = rc == LCR_REATTACHED;
	return 0;
}

/* The step to start from: after the checkpoint the helper restored, or after the regions'
 * last committed step when they outlived an earlier process of this rank; else 0. */
static uint64_t resume_step(struct trainer *t)
{
	struct lcr_region info;
	uint64_t restored = LCR_NO_STEP;

	if (lcr_resume_step(t->session, &restored) == 0 && restored != LCR_NO_STEP)
		return restored + 1;
	if (lcr_region_lookup(t->session, "params", &info) < 0 || info.committed_step == LCR_NO_STEP ||
	    info.phase != LCR_PHASE_COMMITTED)
		return 0;
	return info.committed_step + 1;
}

static bool sharded(const struct trainer *t)
{
	return t->opt.shard != SHARD_REPLICATED;
}

/* The model's size and the slice this rank updates (the whole model unless sharded). */
static void size_state(struct trainer *t)
{
	t->shape.hidden = mlp_hidden_for_bytes(t->opt.state_bytes);
	t->params = mlp_param_count(&t->shape);
	t->own = (struct shard_slice){ 0, t->params };
	if (sharded(t))
		t->own = shard_slice_of(t->params, t->opt.rank, t->opt.size);
}

/* The floats of this rank's weights: only its slice with --shard=none. */
static size_t weight_floats(const struct trainer *t)
{
	return t->opt.shard == SHARD_NONE ? t->own.count : t->params;
}

/* Scratch memory, never in a region: the gradient (with the loss and the checkpoint wish
 * after it) and, sharded, the whole weights and the new moments of this rank's slice. */
static int alloc_scratch(struct trainer *t)
{
	t->grad = malloc((t->params + 2) * sizeof(float));
	if (sharded(t)) {
		t->full = malloc(t->params * sizeof(float));
		t->next_m = malloc((t->own.count + 1) * sizeof(float));
		t->next_v = malloc((t->own.count + 1) * sizeof(float));
	}
	if (!t->grad || (sharded(t) && (!t->full || !t->next_m || !t->next_v)))
		return fail("scratch memory", -ENOMEM);
	return 0;
}

/* The state of step 0: the seed's weights (this rank's slice of them with --shard=none)
 * and zero moments. */
static void init_state(struct trainer *t)
{
	if (t->opt.shard == SHARD_NONE) {
		mlp_init(&t->shape, t->opt.seed, t->full);
		memcpy(t->weights, t->full + t->own.offset, t->own.count * sizeof(float));
	} else {
		mlp_init(&t->shape, t->opt.seed, t->weights);
	}
	memset(t->adam_m, 0, t->own.count * sizeof(float));
	memset(t->adam_v, 0, t->own.count * sizeof(float));
}

/* The baseline: the same state in plain memory, nothing kept when the process ends. */
static int setup_plain_state(struct trainer *t)
{
	size_state(t);
	t->weights = calloc(weight_floats(t) + 1, sizeof(float));
	t->adam_m = calloc(t->own.count + 1, sizeof(float));
	t->adam_v = calloc(t->own.count + 1, sizeof(float));
	if (!t->weights || !t->adam_m || !t->adam_v)
		return fail("state memory", -ENOMEM);
	if (alloc_scratch(t))
		return 1;
	init_state(t);
	if ((t->opt.save_dir || t->opt.load_dir) && t->opt.ballast_bytes) {
		t->ballast = calloc(1, t->opt.ballast_bytes);
		if (!t->ballast)
			return fail("ballast memory", -ENOMEM);
	}
	return 0;
}

/* The baseline's state, as its checkpoint file holds it. */
static struct baseline_state baseline_state_of(const struct trainer *t)
{
	size_t state = t->params * sizeof(float);
	struct baseline_state s = { .rank = t->opt.rank, .seed = t->opt.seed, .params = t->params,
				    .ballast_bytes = t->ballast ? t->opt.ballast_bytes : 0 };

	s.part[s.count] = t->weights, s.bytes[s.count++] = state;
	s.part[s.count] = t->adam_m, s.bytes[s.count++] = state;
	s.part[s.count] = t->adam_v, s.bytes[s.count++] = state;
	if (t->ballast)
		s.part[s.count] = t->ballast, s.bytes[s.count++] = t->opt.ballast_bytes;
	return s;
}

/* Set by SIGUSR1 in a sharded run with --checkpoint-on-usr1: sent with the next gradient. */
static volatile sig_atomic_t checkpoint_wished;

static void wish_checkpoint(int signo)
{
	(void)signo;
	checkpoint_wished = 1;
}

/* --checkpoint-on-usr1. Replicated: SIGUSR1 asks the helper at once, whatever the ranks are
 * doing (any replica at a committed step will do). Sharded: the wish is noted and the
 * ranks ask together between two steps (sharded_checkpoint_together), since a checkpoint
 * needs every shard, each held by one rank, at one step. */
static void watch_checkpoint_signal(struct trainer *t)
{
	struct sigaction sa = { .sa_handler = wish_checkpoint, .sa_flags = SA_RESTART };

	if (!sharded(t)) {
		lcr_checkpoint_on_signal(t->session, SIGUSR1);
		return;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

static int setup_state(struct trainer *t)
{
	char key[LCR_NAME_MAX + 1];
	struct lcr_rank_info me = { t->opt.rank, t->opt.rank, t->opt.size, key };
	int again_w, again_m, again_v, again_b, rc;
	float *ballast;

	shard_key_of(t->opt.shard, t->opt.rank, key, sizeof(key));
	rc = lcr_register(t->session, &me);
	if (rc < 0) {
		fprintf(stderr, "trainer: rank %u: lcr_register with shard key '%s': %s (%s)\n", t->opt.rank, key,
			lcr_strerror(rc), lcr_last_error(t->session));
		return 1;
	}
	size_state(t);
	if (alloc_scratch(t))
		return 1;
	if (map_region(t, "params", weight_floats(t), &t->weights, &again_w) < 0 ||
	    map_region(t, "adam.m", t->own.count, &t->adam_m, &again_m) < 0 ||
	    map_region(t, "adam.v", t->own.count, &t->adam_v, &again_v) < 0)
		return 1;
	if (t->opt.ballast_bytes &&
	    map_region(t, "ballast", t->opt.ballast_bytes / sizeof(float), &ballast, &again_b) < 0)
		return 1;
	t->first_step = resume_step(t);
	if (t->opt.checkpoint_signal)
		watch_checkpoint_signal(t);
	if (t->first_step == 0)
		init_state(t);
	else
		printf("trainer: rank %u resumes at step %" PRIu64 " from the state the helper kept\n", t->opt.rank,
		       t->first_step);
	return 0;
}

/* Reads the helper's waiting events: a failure is printed and returned true; the others
 * (the mesh is up, a checkpoint was saved) need nothing from the trainer. */
static bool failure_among_events(struct trainer *t)
{
	struct lcr_event ev;
	bool failure = false;

	while (lcr_event_next(t->session, &ev) == 0) {
		if (ev.type != LCR_EVENT_NODE_DOWN && ev.type != LCR_EVENT_RANK_EXITED &&
		    ev.type != LCR_EVENT_HELPER_LOST)
			continue;
		fprintf(stderr, "trainer: rank %u: event: %s\n", t->opt.rank, ev.message);
		failure = true;
	}
	return failure;
}

/* After a collective's -ECANCELED (a helper event waits, nothing was exchanged): reads the
 * events; -ECONNABORTED when one is a failure, else -ECANCELED (call it again). */
static int after_cancel(struct trainer *t, int rc)
{
	if (rc != -ECANCELED)
		return rc;
	return failure_among_events(t) ? -ECONNABORTED : -ECANCELED;
}

int trainer_allreduce(struct trainer *t, void *buf, size_t count, enum lcr_dtype dtype)
{
	int rc;

	do
		rc = after_cancel(t, lcr_comm_allreduce_sum(t->comm, buf, count, dtype));
	while (rc == -ECANCELED);
	return rc;
}

int trainer_broadcast(struct trainer *t, void *buf, size_t bytes, uint32_t root)
{
	int rc;

	do
		rc = after_cancel(t, lcr_comm_broadcast(t->comm, buf, bytes, root));
	while (rc == -ECANCELED);
	return rc;
}

int trainer_barrier(struct trainer *t)
{
	int rc;

	do
		rc = after_cancel(t, lcr_comm_barrier(t->comm));
	while (rc == -ECANCELED);
	return rc;
}

/* Every rank must start from the same step, or the replicas would diverge. A rank whose
 * process died can be one step behind the others (or ahead: a ring allreduce completes on
 * some ranks before others), so each rank states its first step, and the ranks behind take
 * the weights and optimizer state of the lowest rank that is furthest ahead: in data
 * parallel training every rank holds the same replica at the same step. Sharded, no rank
 * holds another's state: ranks at different steps are an error (-ENOTRECOVERABLE). */
static int agree_on_first_step(struct trainer *t)
{
	int64_t *steps = calloc(t->opt.size, sizeof(*steps));
	uint32_t source = 0;
	int rc;

	if (!steps)
		return fail("agreeing on the first step", -ENOMEM);
	steps[t->opt.rank] = (int64_t)t->first_step;
	rc = trainer_allreduce(t, steps, t->opt.size, LCR_DTYPE_INT64);
	if (rc < 0) {
		free(steps);
		fprintf(stderr, "trainer: rank %u: agreeing on the first step: %s\n", t->opt.rank, lcr_strerror(rc));
		return rc;
	}
	int64_t lowest = steps[0];
	for (uint32_t r = 1; r < t->opt.size; r++) {
		if (steps[r] > steps[source])
			source = r;
		if (steps[r] < lowest)
			lowest = steps[r];
	}
	uint64_t agreed = (uint64_t)steps[source];
	free(steps);
	if ((uint64_t)lowest == agreed)
		return 0;
	if (sharded(t)) {
		fprintf(stderr, "trainer: rank %u: the ranks would resume at steps %" PRId64 " to %" PRIu64 ": with "
				"--shard=%s each rank's state is its own and cannot be taken from another "
				"rank; restart every rank from one checkpoint (--lcr-restore)\n",
			t->opt.rank, lowest, agreed, shard_mode_name(t->opt.shard));
		return -ENOTRECOVERABLE;
	}
	bool behind = t->first_step != agreed;
	if (behind) {
		printf("trainer: rank %u catches up from step %" PRIu64 " to step %" PRIu64 " with rank %u's state\n",
		       t->opt.rank, t->first_step, agreed, source);
		rc = trainer_update_begin(t, agreed - 1);
		if (rc < 0)
			return rc; /* a recovery began meanwhile: the regions are not written */
	}
	size_t bytes = t->params * sizeof(float);
	rc = lcr_comm_broadcast(t->comm, t->weights, bytes, source);
	if (rc == 0)
		rc = lcr_comm_broadcast(t->comm, t->adam_m, bytes, source);
	if (rc == 0)
		rc = lcr_comm_broadcast(t->comm, t->adam_v, bytes, source);
	if (rc < 0) {
		fprintf(stderr, "trainer: rank %u: taking the state of the rank ahead: %s\n", t->opt.rank,
			lcr_strerror(rc));
		return rc;
	}
	if (behind && t->session)
		lcr_update_end(t->session, agreed - 1);
	t->first_step = agreed;
	return 0;
}

/* Whether the step replaces dead nodes with spares (the plugin's LCR_REPLACE=spare). */
static bool spare_expected(void)
{
	const char *replace = getenv("LCR_REPLACE");

	return replace && strcmp(replace, "spare") == 0;
}

/* After a failure (an exchange, or a communicator build): stay paused (the helper's regions,
 * and the helpers themselves, must outlive the failure for LCR to save or hand over the
 * state) and report what the helper says. With a spare coming (LCR_REPLACE=spare), wait for
 * it: true with *epoch set when a replacement joined at an epoch newer than the last build's
 * (a NODE_JOINED at or before it is the join that build was for, such as a replacement's
 * own), and the communicators are to be built at that epoch. False when training cannot go
 * on here: the helper published a checkpoint and no spare comes, recovery failed, the
 * helper ends, or --recovery-wait passed without news. */
static bool pause_after_failure(struct trainer *t, uint64_t *epoch)
{
	double deadline = now_seconds() + t->opt.recovery_wait;

	while (t->session && now_seconds() < deadline) {
		struct pollfd pfd = { .fd = lcr_event_fd(t->session), .events = POLLIN };
		struct lcr_event ev;

		if (poll(&pfd, 1, (int)((deadline - now_seconds()) * 1000) + 1) <= 0)
			continue;
		while (lcr_event_next(t->session, &ev) == 0) {
			fprintf(stderr, "trainer: rank %u: event: %s\n", t->opt.rank, ev.message);
			switch (ev.type) {
			case LCR_EVENT_HELPER_SHUTDOWN:
			case LCR_EVENT_RECOVERY_FAILED:
				return false;
			case LCR_EVENT_CHECKPOINT:
				if (!spare_expected() && !t->opt.linger)
					return false;
				break;
			case LCR_EVENT_REPLACING:
				deadline = now_seconds() + t->opt.recovery_wait;
				break;
			case LCR_EVENT_NODE_JOINED:
				if (ev.epoch <= t->epoch)
					break;
				*epoch = ev.epoch;
				return true;
			default:
				break;
			}
		}
	}
	return false;
}

/* Builds the communicator at `epoch`: the first build of this process (a replacement's
 * whose build at LCR_REJOIN_EPOCH failed has none yet), or a rebuild. 0 or as
 * lcr_comm_init. */
static int build_communicator(struct trainer *t, uint64_t epoch)
{
	t->epoch = epoch;
	if (t->comm)
		return lcr_comm_rebuild(t->comm, epoch);
	return lcr_comm_init(t->session, "dp", t->opt.rank, t->opt.size, epoch, &t->comm_opt, &t->comm);
}

/* The protected step the helpers rolled this rank's regions back to, when they recovered
 * from the in-memory copies: true with *step set. A replacement that has not built yet
 * resumes at the step its state was restored at (lcr_resume_step says it, and
 * `resuming_at` is already after it): nothing rolled back. */
static bool rolled_back_to(struct trainer *t, uint64_t resuming_at, uint64_t *step)
{
	*step = LCR_NO_STEP;
	if (!t->session || lcr_resume_step(t->session, step) < 0 || *step == LCR_NO_STEP)
		return false;
	return t->built || *step + 1 != resuming_at;
}

/* A spare took the dead node's place: (re)build the communicator at the epoch every rank
 * got with the join, agree again on the step to go on from (ranks may stand one step
 * apart), and go on. `failed_step` is the step that failed (a replacement whose first build
 * failed: the step it resumes at). 0; a negative errno when the communicator could not be
 * built (another node failed meanwhile: wait for the next join); or the trainer's exit
 * status. */
static int rejoin_after_failure(struct trainer *t, uint64_t failed_step, uint64_t epoch)
{
	int rc = build_communicator(t, epoch);
	uint64_t rolled_back;

	if (rc < 0) {
		fprintf(stderr, "trainer: rank %u: building the communicator at epoch %" PRIu64 " failed: %s\n",
			t->opt.rank, epoch, lcr_strerror(rc));
		return rc;
	}
	t->first_step = failed_step;
	/* Recovered from the in-memory copies: the helper rolled this rank's regions back to a
	 * protected step, and every rank goes on after it. */
	if (rolled_back_to(t, failed_step, &rolled_back)) {
		printf("trainer: rank %u: the helpers rolled the state back to step %" PRIu64
		       " (%" PRIu64 " steps lost)\n", t->opt.rank, rolled_back, failed_step - rolled_back - 1);
		t->first_step = rolled_back + 1;
	}
	rc = agree_on_first_step(t);
	if (rc == 0) {
		t->built = true;
		printf("trainer: rank %u pid %d: communicator rebuilt at epoch %" PRIu64
		       ", training goes on at step %" PRIu64 "\n",
		       t->opt.rank, (int)getpid(), epoch, t->first_step);
	}
	return rc;
}

int trainer_update_begin(struct trainer *t, uint64_t step)
{
	int rc = t->session ? lcr_update_begin(t->session, step) : 0;

	t->update_refused = rc < 0;
	if (rc < 0)
		fprintf(stderr, "trainer: rank %u: step %" PRIu64 ": the update was not begun, the state is "
				"left as it is: %s: %s\n", t->opt.rank, step, lcr_strerror(rc),
			lcr_last_error(t->session));
	return rc;
}

/* The replicated update of `step`: in place, inside the update mark. 0, or
 * trainer_update_begin's error (nothing written). */
static int replicated_update(struct trainer *t, uint64_t step)
{
	int rc = trainer_update_begin(t, step);

	if (rc < 0)
		return rc;
	mlp_adam_update(t->params, t->weights, t->adam_m, t->adam_v, t->grad, t->opt.lr, step);
	if (t->session)
		lcr_update_end(t->session, step);
	return 0;
}

/* --stop-at: the chosen rank stops itself (SIGSTOP) before it computes `step`, so that the
 * other ranks wait in that step's exchange, all at the same committed step, until the test
 * kills the stopped rank's node. A replacement (LCR_REJOIN) never stops. */
static void stop_if_asked(const struct trainer *t, uint64_t step)
{
	if (!t->opt.stop_at_set || t->opt.rank != t->opt.stop_rank || step != t->opt.stop_step ||
	    getenv("LCR_REJOIN"))
		return;
	fprintf(stderr, "trainer: rank %u: stopping before step %" PRIu64 " (--stop-at)\n", t->opt.rank, step);
	raise(SIGSTOP);
}

/* One step: forward and backward, the gradient averaged over the ranks (with, sharded,
 * whether a rank wishes for a checkpoint), the update. 0, or a collective's negative errno
 * (the regions then hold the step before), or trainer_update_begin's (t->update_refused). */
static int train_step(struct trainer *t, uint64_t step)
{
	size_t extra = sharded(t) ? 2 : 1; /* the loss, and sharded the checkpoint wish */
	const float *weights = t->weights;
	int rc;

	t->update_refused = false;
	stop_if_asked(t, step);
	if (t->opt.shard == SHARD_NONE) {
		rc = sharded_gather_weights(t);
		if (rc < 0)
			return rc;
		weights = t->full;
	}
	t->grad[t->params] = mlp_gradient(&t->shape, weights, t->opt.seed, step, t->opt.rank, t->opt.batch,
					  t->grad);
	if (sharded(t))
		t->grad[t->params + 1] = checkpoint_wished ? 1.0f : 0.0f;
	rc = trainer_allreduce(t, t->grad, t->params + extra, LCR_DTYPE_FLOAT32);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < t->params + extra; i++)
		t->grad[i] /= (float)t->opt.size;
	if (!sharded(t))
		return replicated_update(t, step);
	return sharded_update(t, step);
}

/* Sharded, after a step: whether a rank wished for a checkpoint (every rank sees the same
 * sum); the wish is then granted. */
static bool checkpoint_agreed(struct trainer *t)
{
	if (!sharded(t) || t->grad[t->params + 1] <= 0.0f)
		return false;
	checkpoint_wished = 0;
	return true;
}

/* After a failure at `step`: pause, and rejoin when a spare took the dead node's place (a
 * node can fail again while the ranks build: pause and wait again). 0 with t->first_step
 * the step to go on from, or the trainer's exit status. */
static int recover_after_failure(struct trainer *t, uint64_t step, int rc)
{
	uint64_t epoch = 0;

	do {
		if (!pause_after_failure(t, &epoch))
			return 75;
		rc = rejoin_after_failure(t, step, epoch);
		if (rc == -ENOTRECOVERABLE)
			return 1;
	} while (rc < 0);
	return rc;
}

static int train(struct trainer *t)
{
	double started = now_seconds(), last_print = started;
	uint64_t step, printed_step = t->first_step, resumed_from = t->first_step;

	for (step = t->first_step; step < t->opt.steps; step++) {
		uint64_t uncommitted = step;
		int rc = train_step(t, step);

		if (rc == 0 && checkpoint_agreed(t)) {
			uncommitted = step + 1;
			rc = sharded_checkpoint_together(t, step);
		}
		if (rc < 0 && t->update_refused && rc != -EINPROGRESS && rc != -ESTALE)
			return 1; /* trainer_update_begin said why */
		if (rc < 0) {
			if (!t->update_refused)
				fprintf(stderr, "trainer: rank %u: step %" PRIu64 ": gradient exchange failed: %s\n",
					t->opt.rank, uncommitted, lcr_strerror(rc));
			t->update_refused = false;
			rc = recover_after_failure(t, uncommitted, rc);
			if (rc)
				return rc;
			step = t->first_step - 1; /* the loop's step++ makes it first_step */
			continue;
		}
		if (t->opt.save_dir && t->opt.rank == 0 && (step + 1) % t->opt.save_every == 0) {
			struct baseline_state state = baseline_state_of(t);

			rc = baseline_ckpt_save(t->opt.save_dir, &state, step);
			if (rc)
				return rc;
		}
		double now = now_seconds();
		if (t->opt.rank == 0 && (now - last_print) * 1000 >= t->opt.print_every_ms) {
			printf("step %" PRIu64 " loss %.6f steps/s %.1f\n", step, t->grad[t->params],
			       (double)(step - printed_step) / (now - last_print));
			last_print = now;
			printed_step = step;
		}
	}
	double elapsed = now_seconds() - started;
	double steps_per_second =
		elapsed > 0 && t->opt.steps > resumed_from ? (double)(t->opt.steps - resumed_from) / elapsed : 0.0;
	if (sharded(t))
		return sharded_final_line(t, steps_per_second);
	printf("final rank %u step %" PRIu64 " steps/s %.2f checksum %016llx\n", t->opt.rank, t->opt.steps,
	       steps_per_second, (unsigned long long)XXH3_64bits(t->weights, t->params * sizeof(float)));
	return 0;
}

/* A replacement's rank starts once its state is filled, which takes seconds: a node may
 * have died meanwhile and been replaced again, and that join been told already. The build
 * at its own join's epoch could then only time out, while the others build at the newer
 * one and wait for it. Reads the waiting events (printed as pause_after_failure prints
 * them) and raises *epoch to the newest join told; false when the helper ends or recovery
 * failed. */
static bool newest_join_told(struct trainer *t, uint64_t *epoch)
{
	struct lcr_event ev;

	while (lcr_event_next(t->session, &ev) == 0) {
		fprintf(stderr, "trainer: rank %u: event: %s\n", t->opt.rank, ev.message);
		if (ev.type == LCR_EVENT_HELPER_SHUTDOWN || ev.type == LCR_EVENT_RECOVERY_FAILED)
			return false;
		if (ev.type == LCR_EVENT_NODE_JOINED && ev.epoch > *epoch)
			*epoch = ev.epoch;
	}
	return true;
}

/* The first build, at --epoch (a replacement's LCR_REJOIN_EPOCH) or at the epoch of a newer
 * join told before it (newest_join_told), and the agreement on the step to start from. A
 * replacement's first build that fails (a node died before every member was there, such as
 * the leader right after this replacement joined) is a failure like a survivor's: it waits
 * for the next join and builds at its epoch. 0 or the trainer's exit status. */
static int first_build(struct trainer *t)
{
	uint64_t epoch = t->opt.epoch;

	if (getenv("LCR_REJOIN") && t->session && !newest_join_told(t, &epoch))
		return 75;
	if (epoch != t->opt.epoch)
		fprintf(stderr, "trainer: rank %u: a node failed and was replaced again before this rank's "
				"first build: building at epoch %" PRIu64 ", not %" PRIu64 "\n",
			t->opt.rank, epoch, t->opt.epoch);
	int rc = build_communicator(t, epoch);

	if (rc == 0) {
		rc = agree_on_first_step(t);
		t->built = rc == 0;
	}
	if (rc >= 0 || rc == -ENOTRECOVERABLE)
		return rc == 0 ? 0 : 1;
	if (!getenv("LCR_REJOIN") || !t->session)
		return fail("building the communicator", rc);
	fprintf(stderr, "trainer: rank %u: building the communicator at epoch %" PRIu64 " failed: %s; "
			"waiting for the next join\n", t->opt.rank, epoch, lcr_strerror(rc));
	return recover_after_failure(t, t->first_step, rc);
}

int main(int argc, char **argv)
{
	struct trainer t = { .comm_opt = LCR_COMM_OPTIONS_DEFAULT };
	int rc, status;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_options(argc, argv, &t.opt) < 0)
		return 2;
	if (t.opt.without_lcr) {
		t.comm_opt.rendezvous_dir = t.opt.without_lcr;
		status = setup_plain_state(&t);
		if (status == 0 && t.opt.load_dir) {
			struct baseline_state state = baseline_state_of(&t);

			status = baseline_ckpt_load(t.opt.load_dir, &state, &t.first_step);
		}
	} else {
		t.comm_opt.rendezvous_dir = t.opt.rendezvous_dir;
		rc = lcr_open(NULL, &t.session);
		if (rc < 0)
			return fail("cannot reach the node's helper (is the step running with --lcr?)", rc);
		status = setup_state(&t);
	}
	if (status)
		goto out;
	/* Bounded waits, the same for every member of a step with spares: a replacement's ranks
	 * start after the survivors were told of its join, and when nodes are down together
	 * the earlier replacements wait for the last one; a build at an epoch one of whose
	 * members died meanwhile fails after it, and every member then builds at the next join,
	 * whose own ranks wait as long. Without spares, a failed exchange is soon given up. */
	t.comm_opt.timeout_ms = getenv("LCR_REJOIN") || spare_expected() ? 60000 : 15000;
	status = first_build(&t);
	if (status == 0)
		status = train(&t);
out:
	lcr_comm_destroy(t.comm);
	free(t.grad);
	free(t.full);
	free(t.next_m);
	free(t.next_v);
	if (t.opt.without_lcr) {
		free(t.weights);
		free(t.adam_m);
		free(t.adam_v);
		free(t.ballast);
	}
	lcr_close(t.session);
	return status;
}
