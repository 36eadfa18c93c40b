/* fuzz_site_config.c: libFuzzer target for the site configuration parser
 * (common/site_config.c), which reads lcr.yaml in srun, slurmstepd and lcrctl. The input is
 * the file's text, handed over as a memfd. A configuration it accepts must round-trip:
 * lcr_site_config_write_yaml writes it, that file loads, and writes again the same text.
 * Seeds: tests/fuzz/corpus/site_config/ (etc/lcr.yaml and the unit tests' files). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal/site_config.h"

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_site_config: %s: %s\n", what, detail);
	abort();
}

/* Loads text[len] over the defaults into cfg: the loader's result. */
static int load_text(const void *text, size_t len, struct lcr_site_config *cfg, char *err,
		     size_t errlen)
{
	char path[64];
	int fd = memfd_create("lcr.yaml", 0), rc;

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	lcr_site_config_init_defaults(cfg);
	rc = lcr_site_config_load_file(cfg, path, err, errlen);
	close(fd);
	return rc;
}

/* cfg as lcr.yaml, in a malloc'ed string. */
static char *write_text(const struct lcr_site_config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (!out || lcr_site_config_write_yaml(cfg, out) != 0 || fclose(out) != 0)
		fail("a loaded configuration does not write", "");
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lcr_site_config first, second;
	char err[1024];
	char *text, *again;
	size_t len, again_len;

	if (load_text(data, size, &first, err, sizeof(err)) == 0) {
		text = write_text(&first, &len);
		if (load_text(text, len, &second, err, sizeof(err)) != 0)
			fail("the written configuration does not load", err);
		again = write_text(&second, &again_len);
		if (again_len != len || memcmp(text, again, len) != 0)
			fail("the configuration changed on the way through write and load", text);
		free(again);
		free(text);
		lcr_site_config_fini(&second);
	}
	lcr_site_config_fini(&first);
	return 0;
}
