/* hostlist.c: Slurm host list expansion and spare selection (see hostlist.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/hostlist.h"

#define HOSTLIST_MAX_NAMES 65536

static int append(struct hostlist *list, const char *name, size_t len)
{
	void *bigger;

	if (len == 0 || len > HOSTLIST_NAME_MAX)
		return -EINVAL;
	if (list->count == HOSTLIST_MAX_NAMES)
		return -E2BIG;
	if ((list->count & (list->count - 1)) == 0) {
		bigger = realloc(list->names, (list->count ? list->count * 2 : 1) * sizeof(*list->names));
		if (!bigger)
			return -ENOMEM;
		list->names = bigger;
	}
	memcpy(list->names[list->count], name, len);
	list->names[list->count][len] = '\0';
	list->count++;
	return 0;
}

/* One "a-b" or "a" of a bracket: appends prefix + each number, padded like the text. */
static int expand_range(struct hostlist *list, const char *prefix, size_t prefix_len, const char *range,
			size_t range_len)
{
	char first[24], last[24], name[HOSTLIST_NAME_MAX + 2];
	const char *dash = memchr(range, '-', range_len);
	size_t first_len = dash ? (size_t)(dash - range) : range_len;
	size_t last_len = dash ? range_len - first_len - 1 : range_len;
	unsigned long from, to;
	int width, rc;

	if (first_len == 0 || last_len == 0 || first_len >= sizeof(first) || last_len >= sizeof(last))
		return -EINVAL;
	memcpy(first, range, first_len);
	first[first_len] = '\0';
	memcpy(last, dash ? dash + 1 : range, last_len);
	last[last_len] = '\0';
	for (size_t i = 0; i < first_len; i++)
		if (!isdigit((unsigned char)first[i]))
			return -EINVAL;
	for (size_t i = 0; i < last_len; i++)
		if (!isdigit((unsigned char)last[i]))
			return -EINVAL;
	errno = 0;
	from = strtoul(first, NULL, 10);
	to = strtoul(last, NULL, 10);
	if (errno == ERANGE || to < from || to - from >= HOSTLIST_MAX_NAMES ||
	    prefix_len > HOSTLIST_NAME_MAX)
		return -EINVAL;
	width = first[0] == '0' ? (int)first_len : 0;
	/* Counted, not compared with `to`: a range that ends at ULONG_MAX must not wrap. */
	for (unsigned long i = 0; i <= to - from; i++) {
		int len = snprintf(name, sizeof(name), "%.*s%0*lu", (int)prefix_len, prefix, width,
				   from + i);

		rc = append(list, name, (size_t)len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One comma-separated item: "name", or "prefix[ranges]" with an optional suffix-free end. */
static int expand_item(struct hostlist *list, const char *item, size_t len)
{
	const char *open = memchr(item, '[', len), *close, *at;
	int rc;

	if (!open)
		return memchr(item, ']', len) ? -EINVAL : append(list, item, len);
	close = memchr(open, ']', len - (size_t)(open - item));
	if (!close || close != item + len - 1)
		return -EINVAL;
	for (at = open + 1; at < close;) {
		const char *comma = memchr(at, ',', (size_t)(close - at));
		const char *end = comma ? comma : close;

		rc = expand_range(list, item, (size_t)(open - item), at, (size_t)(end - at));
		if (rc < 0)
			return rc;
		at = end + 1;
	}
	return 0;
}

int hostlist_expand(const char *text, struct hostlist *out, char *err, size_t errlen)
{
	const char *at = text, *start = text;
	int depth = 0, rc = 0;

	memset(out, 0, sizeof(*out));
	if (!text || !text[0]) {
		snprintf(err, errlen, "empty host list");
		return -EINVAL;
	}
	for (;; at++) {
		if (*at == '[')
			depth++;
		else if (*at == ']')
			depth--;
		if (depth < 0 || depth > 1)
			break;
		if ((*at == ',' && depth == 0) || *at == '\0') {
			rc = expand_item(out, start, (size_t)(at - start));
			if (rc < 0 || *at == '\0')
				break;
			start = at + 1;
		}
	}
	if (depth != 0 && rc == 0)
		rc = -EINVAL;
	if (rc < 0) {
		snprintf(err, errlen, "malformed host list '%s' near '%.20s'", text, start);
		hostlist_fini(out);
	}
	return rc;
}

void hostlist_fini(struct hostlist *list)
{
	free(list->names);
	list->names = NULL;
	list->count = 0;
}

int hostlist_contains(const struct hostlist *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->names[i], name) == 0)
			return 1;
	return 0;
}

int hostlist_spares(const struct hostlist *job, const struct hostlist *step, const struct hostlist *failed,
		    struct hostlist *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < job->count; i++) {
		const char *name = job->names[i];

		if (hostlist_contains(step, name) || hostlist_contains(failed, name) || hostlist_contains(out, name))
			continue;
		rc = append(out, name, strlen(name));
		if (rc < 0) {
			hostlist_fini(out);
			return rc;
		}
	}
	return 0;
}
