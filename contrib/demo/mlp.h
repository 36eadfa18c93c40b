/* mlp.h: the demo trainer's model: a one-hidden-layer perceptron learning a fixed "teacher"
 * function on synthetic data, with Adam. Everything is a pure function of the seed, the
 * step and the rank, so the same run gives bit-identical weights whatever happens to the
 * processes in between. The parameters and optimizer state live in caller-given memory
 * (the helper's regions). */
#ifndef LCR_DEMO_MLP_H
#define LCR_DEMO_MLP_H

#include <stddef.h>
#include <stdint.h>

#define MLP_INPUTS 16

struct mlp_shape {
	size_t hidden;
};

/* Number of float parameters of the model: W1 (hidden x inputs), b1, w2 (hidden), b2. */
size_t mlp_param_count(const struct mlp_shape *shape);

/* The hidden width whose parameters and Adam state (3 floats each) fill about `bytes`. */
size_t mlp_hidden_for_bytes(size_t bytes);

/* Deterministic initial weights for `seed`. */
void mlp_init(const struct mlp_shape *shape, uint64_t seed, float *params);

/* Gradient of the mean squared error over `batch` samples of `step` for data-parallel
 * index `dp_index`, into grad (param_count floats); returns the loss. */
float mlp_gradient(const struct mlp_shape *shape, const float *params, uint64_t seed, uint64_t step,
		   uint32_t dp_index, uint32_t batch, float *grad);

/* One Adam update of params, m and v with the averaged gradient, for `step` (0-based). */
void mlp_adam_update(size_t count, float *params, float *m, float *v, const float *grad, float lr,
		     uint64_t step);

#endif
