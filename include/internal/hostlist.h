/* hostlist.h: Slurm host lists ("n[1-4,7],gpu[01-02]") expanded into names and back, and the
 * spare nodes of an allocation. lcrd needs them to choose a node to replace a dead one; a
 * small parser of its own keeps lcrd free of libslurm. */
#ifndef LCR_INTERNAL_HOSTLIST_H
#define LCR_INTERNAL_HOSTLIST_H

#include <stddef.h>

#define HOSTLIST_NAME_MAX 127

struct hostlist {
	char (*names)[HOSTLIST_NAME_MAX + 1];
	size_t count;
};

/* Expands `text` into *out (in order, duplicates kept). Ranges keep their zero padding
 * ("gpu[08-10]" gives gpu08 gpu09 gpu10). 0; -EINVAL (malformed, with err saying where),
 * -E2BIG (more than 65536 names), -ENOMEM. */
int hostlist_expand(const char *text, struct hostlist *out, char *err, size_t errlen);

/* Frees the names of list. */
void hostlist_fini(struct hostlist *list);

/* Whether `name` is in list. */
int hostlist_contains(const struct hostlist *list, const char *name);

/* The spares: nodes of the job that are neither in the step nor failed, in job order.
 * *out is a new list (free it with hostlist_fini). 0 or -ENOMEM. */
int hostlist_spares(const struct hostlist *job, const struct hostlist *step, const struct hostlist *failed,
		    struct hostlist *out);

#endif
