/* store_client.c: the job-wide key-value store's calls from the command line, for the
 * helper tests (jobkv_mesh.sh). Connects to $LCR_SOCKET and prints one line per answer:
 *
 *   set KEY VALUE            -> "set KEY"
 *   get KEY TIMEOUT_MS       -> "value KEY=VALUE"
 *   add KEY DELTA COUNT      -> "sum N", COUNT times (COUNT adds of DELTA)
 *   cas KEY EXPECTED DESIRED -> "swapped KEY=VALUE" or "kept KEY=VALUE"
 *   delete KEY               -> "deleted KEY"
 *   fill PREFIX COUNT SIZE   -> "filled N": COUNT keys PREFIX0.. of SIZE bytes, stopping at
 *                               the first error
 *
 * A failure prints "error CALL: STRERROR (RC): HELPER'S MESSAGE" and exits 1. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcr.h"

static lcr_session_t *s;

static int failed(const char *what, int rc)
{
	printf("error %s: %s (%d): %s\n", what, lcr_strerror(rc), rc, lcr_last_error(s));
	return 1;
}

static int cmd_get(char **argv)
{
	static char value[LCR_STORE_VALUE_MAX + 1];
	size_t len;
	int rc = lcr_store_get(s, argv[0], value, sizeof(value) - 1, &len, atoi(argv[1]));
	if (rc < 0)
		return failed("get", rc);
	value[len] = '\0';
	printf("value %s=%s\n", argv[0], value);
	return 0;
}

static int cmd_add(char **argv)
{
	int count = atoi(argv[2]);
	for (int i = 0; i < count; i++) {
		int64_t sum;
		int rc = lcr_store_add(s, argv[0], strtoll(argv[1], NULL, 10), &sum);
		if (rc < 0)
			return failed("add", rc);
		printf("sum %" PRId64 "\n", sum);
	}
	return 0;
}

static int cmd_cas(char **argv)
{
	static char value[LCR_STORE_VALUE_MAX + 1];
	size_t len;
	int rc = lcr_store_compare_set(s, argv[0], argv[1], strlen(argv[1]), argv[2],
				       strlen(argv[2]), value, sizeof(value) - 1, &len);
	if (rc < 0)
		return failed("compare_set", rc);
	value[len] = '\0';
	printf("%s %s=%s\n", rc == 1 ? "swapped" : "kept", argv[0], value);
	return 0;
}

static int cmd_fill(char **argv)
{
	static char value[LCR_STORE_VALUE_MAX];
	int count = atoi(argv[1]), size = atoi(argv[2]), rc = 0, i;
	char key[LCR_NAME_MAX + 1];
	memset(value, 'v', sizeof(value));
	for (i = 0; i < count && rc == 0; i++) {
		snprintf(key, sizeof(key), "%s%d", argv[0], i);
		rc = lcr_store_set(s, key, value, (size_t)size);
	}
	printf("filled %d\n", rc == 0 ? i : i - 1);
	return rc < 0 ? failed("set", rc) : 0;
}

static int run(const char *cmd, int argc, char **argv)
{
	int rc;
	if (strcmp(cmd, "set") == 0 && argc == 2) {
		if ((rc = lcr_store_set(s, argv[0], argv[1], strlen(argv[1]))) < 0)
			return failed("set", rc);
		printf("set %s\n", argv[0]);
		return 0;
	}
	if (strcmp(cmd, "delete") == 0 && argc == 1) {
		if ((rc = lcr_store_delete(s, argv[0])) < 0)
			return failed("delete", rc);
		printf("deleted %s\n", argv[0]);
		return 0;
	}
	if (strcmp(cmd, "get") == 0 && argc == 2)
		return cmd_get(argv);
	if (strcmp(cmd, "add") == 0 && argc == 3)
		return cmd_add(argv);
	if (strcmp(cmd, "cas") == 0 && argc == 3)
		return cmd_cas(argv);
	if (strcmp(cmd, "fill") == 0 && argc == 3)
		return cmd_fill(argv);
	fprintf(stderr, "store_client: unknown command or wrong arguments: %s\n", cmd);
	return 2;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	int rc = lcr_open(NULL, &s);
	if (rc < 0)
		return failed("open", rc);
	rc = run(argv[1], argc - 2, argv + 2);
	lcr_close(s);
	return rc;
}
