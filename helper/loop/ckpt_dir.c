/* ckpt_dir.c: the job's checkpoint directory, opened as a trusted directory and checked
 * against the site's roots on its resolved path (see ckpt_dir.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop/ckpt_dir.h"

/* roots as given and where their links lead: a site's /scratch may be a link to
 * /lustre/scratch, and the directory's resolved path is under the latter. */
static int resolve_roots(const struct lcr_path_list *roots, struct lcr_path_list *out,
			 char *err, size_t errlen)
{
	char real[PATH_MAX];
	for (size_t i = 0; i < roots->count; i++) {
		if (lcr_path_list_append(out, roots->paths[i], err, errlen) < 0)
			return -ENOMEM;
		if (realpath(roots->paths[i], real) && strcmp(real, roots->paths[i]) != 0 &&
		    lcr_path_list_append(out, real, err, errlen) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int check_under_roots(const char *resolved, const struct lcr_path_list *roots,
			     const char *what, const char *path, char *err, size_t errlen)
{
	struct lcr_path_list real_roots = { 0 };
	char why[1024];
	int rc = resolve_roots(roots, &real_roots, why, sizeof(why));
	if (rc == 0)
		rc = lcr_path_under_roots(resolved, &real_roots, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s %s (%s): %s", what, path, resolved, why);
	lcr_path_list_clear(&real_roots);
	return rc;
}

int ckpt_dir_open(const char *path, const struct lcr_path_list *roots,
		  enum trusted_create create, const char *what, char *err, size_t errlen)
{
	char resolved[PATH_MAX], why[PATH_MAX + 256];
	int rc, fd;
	/* Refused before anything is created outside the roots. */
	if (roots->count > 0 &&
	    (rc = check_under_roots(path, roots, what, path, err, errlen)) < 0)
		return rc;
	fd = trusted_dir_open(path, getuid(), create, resolved, sizeof(resolved), why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, why);
		return fd;
	}
	if (roots->count > 0 &&
	    (rc = check_under_roots(resolved, roots, what, path, err, errlen)) < 0) {
		close(fd);
		return rc;
	}
	return fd;
}
