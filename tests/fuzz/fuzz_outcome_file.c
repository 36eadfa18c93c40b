/* fuzz_outcome_file.c: libFuzzer target for the parser of the step's outcome file
 * (helper/loop/outcome_file.c), which `lcrctl wait` reads from the checkpoint directory. The
 * input is the file's text. What outcome_file_parse accepts must round-trip:
 * outcome_file_format writes it, and that text parses back to the same record. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop/outcome_file.h"

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_outcome_file: %s: %s\n", what, detail);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome_record first, second;
	char err[256], formatted[4096];
	char *text = malloc(size + 1);

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (outcome_file_parse(text, &first, err, sizeof(err)) == 0) {
		if (outcome_file_format(&first, formatted, sizeof(formatted)) < 0)
			fail("a parsed record does not format", text);
		if (outcome_file_parse(formatted, &second, err, sizeof(err)) != 0)
			fail("the formatted record does not parse", err);
		if (memcmp(&first, &second, sizeof(first)) != 0)
			fail("the record changed on the way through format and parse", formatted);
	}
	free(text);
	return 0;
}
