/* env_input.h: how the environment targets (fuzz_rejoin_env.c, fuzz_plugin_options.c) turn
 * an input into an environment: the values of a fixed list of variables, in order,
 * separated by NUL bytes; a variable past the input's last value is unset. */
#ifndef LCR_TESTS_FUZZ_ENV_INPUT_H
#define LCR_TESTS_FUZZ_ENV_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ENV_INPUT_VARIABLES_MAX 16

struct env_input {
	const char *const *names; /* NULL-terminated */
	char *values[ENV_INPUT_VARIABLES_MAX]; /* NULL: unset */
	char *text;                            /* the input, NUL-terminated, split in place */
};

/* Splits data[size] into the values of names; free with env_input_fini. */
static inline void env_input_init(struct env_input *env, const char *const *names,
				  const uint8_t *data, size_t size)
{
	char *cursor, *end;

	memset(env, 0, sizeof(*env));
	env->names = names;
	env->text = malloc(size + 1);
	if (!env->text)
		abort();
	memcpy(env->text, data, size);
	env->text[size] = '\0';
	cursor = env->text;
	end = env->text + size;
	for (size_t i = 0; names[i] && i < ENV_INPUT_VARIABLES_MAX && cursor <= end; i++) {
		env->values[i] = cursor;
		cursor += strlen(cursor) + 1;
	}
}

/* The lookup the code under test calls: a variable's value, or NULL when unset. */
static inline const char *env_input_lookup(void *ctx, const char *name)
{
	const struct env_input *env = ctx;

	for (size_t i = 0; env->names[i] && i < ENV_INPUT_VARIABLES_MAX; i++)
		if (strcmp(env->names[i], name) == 0)
			return env->values[i];
	return NULL;
}

static inline void env_input_fini(struct env_input *env)
{
	free(env->text);
}

#endif
