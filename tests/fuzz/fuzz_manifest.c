/* fuzz_manifest.c: libFuzzer target for the checkpoint manifest parser (common/manifest.c).
 * The input is the text of a manifest.yaml. What manifest_decode accepts must round-trip:
 * manifest_encode writes it (the decoder checked every rule the encoder checks), that text
 * decodes again, and encodes again to the same text. Seeds: tests/fuzz/corpus/manifest/. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/manifest.h"

static void fail(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_manifest: %s: %s\n", what, err);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest first, second;
	char err[512] = "", *text = NULL, *again = NULL;
	size_t len, again_len;

	if (manifest_decode((const char *)data, size, "fuzz", &first, err, sizeof(err)) != 0)
		return 0;
	if (manifest_encode(&first, &text, &len, err, sizeof(err)) != 0)
		fail("the decoder accepts what the encoder refuses", err);
	if (manifest_decode(text, len, "fuzz (encoded)", &second, err, sizeof(err)) != 0)
		fail("the encoder's output does not decode", err);
	if (manifest_encode(&second, &again, &again_len, err, sizeof(err)) != 0)
		fail("a decoded encoding does not encode", err);
	if (again_len != len || memcmp(text, again, len) != 0)
		fail("the manifest changed on the way through encode and decode", text);
	free(text);
	free(again);
	manifest_free(&first);
	manifest_free(&second);
	return 0;
}
