/* fuzz_hostlist.c: libFuzzer target for the Slurm host list parser (common/hostlist.c), which
 * lcrd runs on SLURM_JOB_NODELIST and the step's node list. The input is the list's text.
 * Every expanded name must be terminated and found again (hostlist_contains), and a list's
 * spares against itself must be none. The lookups are linear: they run on short lists only. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/hostlist.h"

#define CHECKED_NAMES_MAX 256

static void fail(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_hostlist: %s: '%s'\n", what, text);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostlist list = { 0 }, spares = { 0 };
	char err[256], *text = malloc(size + 1);

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (hostlist_expand(text, &list, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < list.count; i++)
			if (strnlen(list.names[i], HOSTLIST_NAME_MAX + 1) > HOSTLIST_NAME_MAX)
				fail("a name is not terminated", text);
		for (size_t i = 0; i < list.count && list.count <= CHECKED_NAMES_MAX; i++)
			if (!hostlist_contains(&list, list.names[i]))
				fail("a name of the list is not in it", list.names[i]);
		if (list.count <= CHECKED_NAMES_MAX &&
		    hostlist_spares(&list, &list, &list, &spares) == 0 && spares.count != 0)
			fail("a list has spares against itself", text);
		hostlist_fini(&spares);
		hostlist_fini(&list);
	}
	free(text);
	return 0;
}
