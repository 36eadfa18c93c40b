/* ckpt_dir.h: the job's checkpoint directory (--ckpt-dir), opened once as a trusted
 * directory (internal/trusted_path.h) and checked, where it really is, against the site's
 * ckpt_roots (--ckpt-roots). Every checkpoint written, listed, pruned or restored goes
 * relative to its descriptor, so nobody else can redirect it after the check. */
#ifndef LCR_HELPER_CKPT_DIR_H
#define LCR_HELPER_CKPT_DIR_H

#include <stdbool.h>
#include <stddef.h>

#include "internal/parse.h"
#include "internal/trusted_path.h"

/* Opens the directory at path for lcrd's user (created, mode 0700, when create says so) and
 * checks that it lies under one of roots (none: anywhere) once every link is resolved: a
 * descriptor, or -errno with err naming the path and what is wrong. what names the
 * directory in err ("checkpoint directory"). */
int ckpt_dir_open(const char *path, const struct lcr_path_list *roots,
		  enum trusted_create create, const char *what, char *err, size_t errlen);

#endif
