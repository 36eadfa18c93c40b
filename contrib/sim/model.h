/* model.h: the overhead model behind lcr-sim, as pure functions.
 *
 * A training job of N GPUs loses time to failures in three ways: the stalls spent saving
 * state, the work redone after a failure, and the downtime until training resumes. This
 * header describes one cluster (struct sim_cluster), derives from it a plan per strategy,
 * and evaluates each plan two ways: in closed form (sim_*_overhead) and by Monte Carlo
 * (sim_mc_*). Every time is in seconds, every size in bytes, every rate in bytes/s.
 *
 * Failures form a Poisson process of rate N / (per-GPU MTBF). A failure that lands during
 * a recovery restarts that recovery, as in Daly's model. README.md gives the formulas.
 */
#ifndef LCR_SIM_MODEL_H
#define LCR_SIM_MODEL_H

#include <stdint.h>

/* LCR's component times. transfer_s and recovery_s are NAN when not measured: the state
 * transfer then takes state_bytes / transfer_bw, and the recovery is the sum of its parts. */
struct sim_lcr_times {
	double detect_s;    /* failure to confirmed detection (heartbeat timeout) */
	double launch_s;    /* replacement step launched and its program started */
	double rebuild_s;   /* communicators that held the dead rank rebuilt */
	double transfer_bw; /* bytes/s into one replacement GPU from surviving replicas */
	double transfer_s;  /* measured transfer time, used as is when not NAN */
	double recovery_s;  /* measured failure-to-resume time, replaces all the parts */
};

/* One cluster at one scale: the inputs of every strategy. */
struct sim_cluster {
	unsigned long gpus;      /* GPUs that train */
	unsigned gpus_per_node;
	double gpu_mtbf_s;       /* mean time between failures of one GPU */
	double state_bytes;      /* training state held by each GPU */
	double storage_bw;       /* aggregate file-system bandwidth, read and write */
	double network_bw;       /* per-GPU network bandwidth */
	double step_s;           /* one training step */
	double detect_s;         /* detection without LCR (Slurm, NCCL watchdog) */
	double restart_s;        /* relaunch of every rank, state load excluded */
	double repair_s;         /* a failed node returns to the spare pool after this */
	struct sim_lcr_times lcr;
};

/* A checkpoint/restart strategy as a renewal process: `work_s` of training, then a stall
 * of `ckpt_s` to save it; a failure costs `down_s` and the work since the last save. */
struct sim_cr_plan {
	double mtbf_s;  /* of the whole job */
	double work_s;
	double ckpt_s;
	double down_s;
};

/* LCR: no periodic save. A failure loses the step in flight and costs `spare_down_s`
 * while a spare node is free, `fallback_down_s` (JIT checkpoint, full restart) when not.
 * The pool holds `spare_nodes`; each failed node is away for `repair_s`. */
struct sim_lcr_plan {
	double mtbf_s;
	double step_s;
	double spare_down_s;
	double fallback_down_s;
	double repair_s;
	unsigned spare_nodes;
	unsigned long gpus;
	unsigned gpus_per_node;
};

/* What one Monte Carlo run saw. */
struct sim_mc_result {
	double overhead;                     /* 1 - useful GPU-time / GPU-time held */
	double simulated_s;
	unsigned long failures;
	unsigned long failures_in_recovery;  /* failures that restarted a recovery */
	unsigned long fallbacks;             /* LCR recoveries that found no spare */
};

/* Daly's higher-order optimum compute time between checkpoints (FGCS 22(3), 2006). */
double sim_daly_interval(double ckpt_s, double mtbf_s);

double sim_job_mtbf(const struct sim_cluster *c);
unsigned long sim_job_nodes(const struct sim_cluster *c);
double sim_checkpoint_write_s(const struct sim_cluster *c);
double sim_inmemory_copy_s(const struct sim_cluster *c);
double sim_lcr_transfer_s(const struct sim_cluster *c);

void sim_periodic_plan(const struct sim_cluster *c, struct sim_cr_plan *plan);
void sim_inmemory_plan(const struct sim_cluster *c, struct sim_cr_plan *plan);
void sim_lcr_plan(const struct sim_cluster *c, unsigned spare_nodes, struct sim_lcr_plan *plan);

/* Closed-form expected overhead, a fraction of GPU-time in [0, 1]. */
double sim_cr_overhead(const struct sim_cr_plan *plan);
double sim_lcr_overhead(const struct sim_lcr_plan *plan);

/* Probability that a failure finds the spare pool empty. */
double sim_spare_exhaustion(const struct sim_lcr_plan *plan);

/* The spare pool size that minimises LCR's overhead, idle spares included. */
unsigned sim_lcr_best_spares(const struct sim_cluster *c);

/* Monte Carlo over `failures` failure arrivals; 0, or -EINVAL / -ENOMEM. */
int sim_mc_cr(const struct sim_cr_plan *plan, unsigned long failures, uint64_t seed,
	      struct sim_mc_result *out);
int sim_mc_lcr(const struct sim_lcr_plan *plan, unsigned long failures, uint64_t seed,
	       struct sim_mc_result *out);

#endif
