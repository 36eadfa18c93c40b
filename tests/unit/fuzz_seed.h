/* fuzz_seed.h: lets the wire unit tests write their sample messages as seeds of the wire
 * fuzz target (tests/fuzz/fuzz_wire.c): with LCR_FUZZ_SEED_DIR set, each sample encoded
 * becomes the file <dir>/<kind>, holding "<kind>\n" and the payload. Without it, nothing.
 * How to refresh tests/fuzz/corpus/wire/ this way: doc/fuzzing.md. */
#ifndef LCR_TESTS_FUZZ_SEED_H
#define LCR_TESTS_FUZZ_SEED_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void fuzz_seed_write(const char *kind, const uint8_t *payload, size_t len)
{
	const char *dir = getenv("LCR_FUZZ_SEED_DIR");
	char path[4096];
	FILE *out;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, kind);
	out = fopen(path, "we");
	if (!out || fprintf(out, "%s\n", kind) < 0 || fwrite(payload, 1, len, out) != len ||
	    fclose(out) != 0) {
		fprintf(stderr, "cannot write the fuzz seed %s\n", path);
		exit(1);
	}
}

#endif
