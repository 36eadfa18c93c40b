/* mlp.c: the demo trainer's model and optimizer (see mlp.h). Plain loops in a fixed order:
 * the arithmetic is the same on every run, which is what makes "bit-identical after a
 * failure" a meaningful check. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "mlp.h"

/* SplitMix64: a stateless hash to a uniform number, for data and initial weights. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static float uniform(uint64_t seed, uint64_t index)
{
	return (float)((double)(mix(seed ^ mix(index)) >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

size_t mlp_param_count(const struct mlp_shape *shape)
{
	return shape->hidden * MLP_INPUTS + shape->hidden + shape->hidden + 1;
}

size_t mlp_hidden_for_bytes(size_t bytes)
{
	size_t per_hidden = (MLP_INPUTS + 2) * 3 * sizeof(float);
	size_t hidden = bytes / per_hidden;

	return hidden ? hidden : 1;
}

void mlp_init(const struct mlp_shape *shape, uint64_t seed, float *params)
{
	size_t count = mlp_param_count(shape), i;
	float scale = 1.0f / sqrtf((float)MLP_INPUTS);

	for (i = 0; i < count; i++)
		params[i] = uniform(seed, i) * scale;
}

/* The function the model learns. */
static float teacher(const float *x)
{
	return sinf(x[0] * 2.0f) + 0.5f * x[1] * x[2] - 0.25f * x[3];
}

static void sample(uint64_t seed, uint64_t index, float *x)
{
	for (int j = 0; j < MLP_INPUTS; j++)
		x[j] = uniform(seed + 1, index * MLP_INPUTS + (uint64_t)j);
}

float mlp_gradient(const struct mlp_shape *shape, const float *params, uint64_t seed, uint64_t step,
		   uint32_t dp_index, uint32_t batch, float *grad)
{
	size_t h = shape->hidden, count = mlp_param_count(shape);
	const float *w1 = params, *b1 = w1 + h * MLP_INPUTS, *w2 = b1 + h, *b2 = w2 + h;
	float *gw1 = grad, *gb1 = gw1 + h * MLP_INPUTS, *gw2 = gb1 + h, *gb2 = gw2 + h;
	float x[MLP_INPUTS], loss = 0.0f;

	memset(grad, 0, count * sizeof(float));
	for (uint32_t s = 0; s < batch; s++) {
		uint64_t index = (step * 1024 + dp_index) * batch + s;
		float out = *b2, err;

		sample(seed, index, x);
		for (size_t k = 0; k < h; k++) {
			float a = b1[k];
			for (int j = 0; j < MLP_INPUTS; j++)
				a += w1[k * MLP_INPUTS + (size_t)j] * x[j];
			out += w2[k] * (a > 0.0f ? a : 0.0f);
		}
		err = out - teacher(x);
		loss += err * err;
		*gb2 += 2.0f * err / (float)batch;
		for (size_t k = 0; k < h; k++) {
			float a = b1[k];
			for (int j = 0; j < MLP_INPUTS; j++)
				a += w1[k * MLP_INPUTS + (size_t)j] * x[j];
			if (a <= 0.0f)
				continue;
			float back = 2.0f * err * w2[k] / (float)batch;
			gw2[k] += 2.0f * err * a / (float)batch;
			gb1[k] += back;
			for (int j = 0; j < MLP_INPUTS; j++)
				gw1[k * MLP_INPUTS + (size_t)j] += back * x[j];
		}
	}
	return loss / (float)batch;
}

void mlp_adam_update(size_t count, float *params, float *m, float *v, const float *grad, float lr,
		     uint64_t step)
{
	const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
	float correction1 = 1.0f - powf(beta1, (float)(step + 1));
	float correction2 = 1.0f - powf(beta2, (float)(step + 1));

	for (size_t i = 0; i < count; i++) {
		m[i] = beta1 * m[i] + (1.0f - beta1) * grad[i];
		v[i] = beta2 * v[i] + (1.0f - beta2) * grad[i] * grad[i];
		params[i] -= lr * (m[i] / correction1) / (sqrtf(v[i] / correction2) + eps);
	}
}
