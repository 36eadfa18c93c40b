/* util.c: parsing and formatting helpers shared by every part (see util.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal/util.h"

int util_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int util_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	int rc = util_parse_u64(s, &v);
	if (rc < 0)
		return rc;
	if (v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

/* The multiplier of a size suffix ("", "K", "KiB", "KB", "M", ...), or 0 if unknown. */
static uint64_t size_suffix_multiplier(const char *suffix)
{
	static const char units[] = "KMGTP";
	if (*suffix == '\0' || strcasecmp(suffix, "B") == 0)
		return 1;
	const char *u = strchr(units, suffix[0] & ~0x20);
	if (!u || *u == '\0')
		return 0;
	const char *rest = suffix + 1;
	if (*rest != '\0' && strcasecmp(rest, "B") != 0 && strcmp(rest, "iB") != 0)
		return 0;
	return 1ull << (10 * (u - units + 1));
}

int util_parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno == ERANGE || end != s + strspn(s, "0123456789."))
		return -EINVAL;
	uint64_t mult = size_suffix_multiplier(end);
	if (mult == 0)
		return -EINVAL;
	double bytes = v * (double)mult;
	if (bytes >= 18446744073709551616.0)
		return -ERANGE;
	if (bytes != (double)(uint64_t)bytes)
		return -EINVAL;
	*out = (uint64_t)bytes;
	return 0;
}

char *util_format_size(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%" PRIu64 " B", bytes);
	else if (v == (double)(uint64_t)v)
		snprintf(buf, cap, "%" PRIu64 " %s", (uint64_t)v, units[u]);
	else
		snprintf(buf, cap, "%.1f %s", v, units[u]);
	return buf;
}

/* One "N" or "N-M" item of a rank list, appended to ranks. */
static int parse_rank_item(const char *item, uint32_t *ranks, size_t max, size_t *count)
{
	char first[16], *dash;
	uint32_t lo, hi;
	if (util_copy_string(first, sizeof(first), item) < 0)
		return -EINVAL;
	dash = strchr(first, '-');
	if (dash)
		*dash = '\0';
	if (util_parse_u32(first, &lo) < 0)
		return -EINVAL;
	hi = lo;
	if (dash && (util_parse_u32(dash + 1, &hi) < 0 || hi < lo))
		return -EINVAL;
	for (uint64_t r = lo; r <= hi; r++) {
		if (*count >= max)
			return -E2BIG;
		ranks[(*count)++] = (uint32_t)r;
	}
	return 0;
}

int util_parse_rank_list(const char *s, uint32_t *ranks, size_t max, size_t *count)
{
	char *copy, *item, *save = NULL;
	int rc = 0;
	*count = 0;
	if (!s || *s == '\0')
		return 0;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	if (copy[strlen(copy) - 1] == ',') {
		rc = -EINVAL;
		goto out;
	}
	for (item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save))
		rc = parse_rank_item(item, ranks, max, count);
out:
	free(copy);
	return rc;
}

char *util_format_rank_list(const uint32_t *ranks, size_t count, char *buf, size_t cap)
{
	size_t used = 0;
	if (cap == 0)
		return buf;
	buf[0] = '\0';
	if (count == 0) {
		snprintf(buf, cap, "-");
		return buf;
	}
	for (size_t i = 0; i < count && used < cap; i++) {
		int n = snprintf(buf + used, cap - used, "%s%" PRIu32, i ? "," : "", ranks[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

uint64_t util_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t util_now_ms(void)
{
	return util_now_ns() / 1000000ull;
}

int util_copy_string(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap) {
		if (cap)
			dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

void util_format_text(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}
