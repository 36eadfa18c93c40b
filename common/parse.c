/*
 * parse.c: value parsers for the site configuration and the plugin's user options.
 *
 * Numbers are read by hand rather than with strtod/strtoull: those accept leading spaces,
 * signs, hexadecimal, exponents, "inf" and "nan", and strtod reads the decimal point of
 * the current locale. A decimal is scanned as an integer part and at most
 * LCR_PARSE_MAX_DECIMALS fraction digits (struct decimal); seconds are then one exact
 * division (correctly rounded, since both operands are exact doubles), and bytes are
 * computed in integers with overflow checks.
 *
 * See parse.h for the conventions every function follows.
 */
#include "config.h"

#include "internal/parse.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Room for a quoted value inside a message. */
#define QUOTE_MAX 256

/* A scanned decimal number "int_part.fraction", the fraction having `decimals` digits. */
struct decimal {
	uint64_t int_part;
	uint64_t fraction;
	unsigned decimals;
	const char *end;	/* first character after the number */
};

enum scan_result { SCAN_OK, SCAN_SYNTAX, SCAN_TOO_LARGE, SCAN_TOO_PRECISE };

static const uint64_t powers_of_ten[LCR_PARSE_MAX_DECIMALS + 1] = {
	1, 10, 100, 1000, 10000, 100000, 1000000,
};

static const char *const log_level_names[] = {
	[LCR_LOG_ERROR] = "error",
	[LCR_LOG_WARNING] = "warning",
	[LCR_LOG_INFO] = "info",
	[LCR_LOG_VERBOSE] = "verbose",
	[LCR_LOG_DEBUG] = "debug",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *lcr_printable(const char *text, char *buf, size_t buflen)
{
	size_t i;

	for (i = 0; text[i] && i + 1 < buflen; i++)
		buf[i] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
	buf[i] = '\0';
	if (text[i] && buflen >= 4)
		memcpy(buf + buflen - 4, "...", 4);
	return buf;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Scans "digits[.digits]" at text, the integer part at most int_limit (<= 10^18, so the
 * accumulation cannot overflow before the check).
 */
static enum scan_result scan_decimal(const char *text, uint64_t int_limit, struct decimal *d)
{
	const char *p = text;

	*d = (struct decimal){ 0 };
	if (!is_digit(*p))
		return SCAN_SYNTAX;
	for (; is_digit(*p); p++) {
		d->int_part = d->int_part * 10 + (uint64_t)(*p - '0');
		if (d->int_part > int_limit)
			return SCAN_TOO_LARGE;
	}
	if (*p == '.') {
		if (!is_digit(*++p))
			return SCAN_SYNTAX;
		for (; is_digit(*p); p++) {
			if (++d->decimals > LCR_PARSE_MAX_DECIMALS)
				return SCAN_TOO_PRECISE;
			d->fraction = d->fraction * 10 + (uint64_t)(*p - '0');
		}
	}
	d->end = p;
	return SCAN_OK;
}

int lcr_parse_bool(const char *text, bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	char quoted[QUOTE_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return fail(err, errlen, -EINVAL,
		    "'%s' is not a boolean (accepted: yes, no, true, false, on, off, 1, 0)",
		    lcr_printable(text, quoted, sizeof quoted));
}

int lcr_parse_seconds(const char *text, double *out, char *err, size_t errlen)
{
	char quoted[QUOTE_MAX];
	struct decimal d;
	enum scan_result scanned;

	lcr_printable(text, quoted, sizeof quoted);
	scanned = scan_decimal(text, (uint64_t)LCR_PARSE_MAX_SECONDS, &d);
	if (scanned == SCAN_OK && d.end[0] == 's' && d.end[1] == '\0')
		d.end++;
	if (scanned == SCAN_TOO_LARGE)
		return fail(err, errlen, -ERANGE, "'%s' is too large (at most %.0f seconds)",
			    quoted, LCR_PARSE_MAX_SECONDS);
	if (scanned == SCAN_TOO_PRECISE)
		return fail(err, errlen, -EINVAL, "'%s' has more than %d decimals", quoted,
			    LCR_PARSE_MAX_DECIMALS);
	if (scanned != SCAN_OK || *d.end != '\0')
		return fail(err, errlen, -EINVAL,
			    "'%s' is not a duration (accepted: decimal seconds with an optional "
			    "'s' suffix, such as 2, 0.5 or 1.5s)", quoted);
	*out = (double)(d.int_part * powers_of_ten[d.decimals] + d.fraction) /
	       (double)powers_of_ten[d.decimals];
	return 0;
}

/* Multiplies a scanned decimal by unit into *bytes; -ERANGE on overflow, -EDOM if not whole. */
static int decimal_times_unit(const struct decimal *d, uint64_t unit, uint64_t *bytes)
{
	uint64_t whole;
	uint64_t part;

	/* fraction < 10^6 and unit <= 2^40: the product stays below 2^60. */
	part = d->fraction * unit;
	if (part % powers_of_ten[d->decimals] != 0)
		return -EDOM;
	if (__builtin_mul_overflow(d->int_part, unit, &whole) ||
	    __builtin_add_overflow(whole, part / powers_of_ten[d->decimals], bytes))
		return -ERANGE;
	return 0;
}

/* The multiplier of a size unit, or 0 if unit is not one. */
static uint64_t byte_unit(const char *unit)
{
	static const struct {
		const char *name;
		uint64_t factor;
	} units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1ULL << 10 }, { "KiB", 1ULL << 10 }, { "kB", 1000ULL },
		{ "M", 1ULL << 20 }, { "MiB", 1ULL << 20 }, { "MB", 1000000ULL },
		{ "G", 1ULL << 30 }, { "GiB", 1ULL << 30 }, { "GB", 1000000000ULL },
		{ "T", 1ULL << 40 }, { "TiB", 1ULL << 40 }, { "TB", 1000000000000ULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(unit, units[i].name) == 0)
			return units[i].factor;
	return 0;
}

int lcr_parse_bytes(const char *text, uint64_t *out, char *err, size_t errlen)
{
	char quoted[QUOTE_MAX];
	struct decimal d;
	enum scan_result scanned;
	const char *unit_text;
	uint64_t unit = 0;
	int rc;

	lcr_printable(text, quoted, sizeof quoted);
	scanned = scan_decimal(text, 1000000000000000000ULL, &d);
	if (scanned == SCAN_OK) {
		for (unit_text = d.end; *unit_text == ' '; unit_text++)
			;
		unit = byte_unit(unit_text);
	}
	if (scanned == SCAN_TOO_PRECISE)
		return fail(err, errlen, -EINVAL, "'%s' has more than %d decimals", quoted,
			    LCR_PARSE_MAX_DECIMALS);
	if (scanned == SCAN_SYNTAX || (scanned == SCAN_OK && unit == 0))
		return fail(err, errlen, -EINVAL,
			    "'%s' is not a size (accepted: a number with an optional unit B, "
			    "K, KiB, M, MiB, G, GiB, T, TiB (powers of 1024) or kB, MB, GB, TB "
			    "(powers of 1000), such as 64GiB)", quoted);
	rc = scanned == SCAN_TOO_LARGE ? -ERANGE : decimal_times_unit(&d, unit, out);
	if (rc == -EDOM)
		return fail(err, errlen, -EINVAL, "'%s' is not a whole number of bytes", quoted);
	if (rc < 0)
		return fail(err, errlen, -ERANGE, "'%s' is too large", quoted);
	return 0;
}

int lcr_parse_uint(const char *text, uint64_t *out, char *err, size_t errlen)
{
	char quoted[QUOTE_MAX];
	uint64_t value = 0;
	const char *p;

	lcr_printable(text, quoted, sizeof quoted);
	if (!is_digit(*text))
		goto malformed;
	for (p = text; is_digit(*p); p++) {
		if (__builtin_mul_overflow(value, 10, &value) ||
		    __builtin_add_overflow(value, (uint64_t)(*p - '0'), &value))
			return fail(err, errlen, -ERANGE, "'%s' is too large (at most %" PRIu64 ")",
				    quoted, UINT64_MAX);
	}
	if (*p != '\0')
		goto malformed;
	*out = value;
	return 0;
malformed:
	return fail(err, errlen, -EINVAL, "'%s' is not a whole number (accepted: digits 0-9)",
		    quoted);
}

int lcr_parse_log_level(const char *text, enum lcr_log_level *out, char *err, size_t errlen)
{
	char quoted[QUOTE_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(log_level_names); i++) {
		if (strcasecmp(text, log_level_names[i]) == 0) {
			*out = (enum lcr_log_level)i;
			return 0;
		}
	}
	return fail(err, errlen, -EINVAL,
		    "'%s' is not a log level (accepted: error, warning, info, verbose, debug)",
		    lcr_printable(text, quoted, sizeof quoted));
}

const char *lcr_log_level_name(enum lcr_log_level level)
{
	if ((size_t)level >= ARRAY_SIZE(log_level_names))
		return "unknown";
	return log_level_names[level];
}

/* Appends "/" and the component [start, start + len) to out, which holds *used bytes. */
static bool append_component(char *out, size_t outlen, size_t *used, const char *start,
			     size_t len)
{
	if (*used + 1 + len + 1 > outlen)
		return false;
	out[(*used)++] = '/';
	memcpy(out + *used, start, len);
	*used += len;
	out[*used] = '\0';
	return true;
}

int lcr_path_normalize(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	char quoted[QUOTE_MAX];
	const char *p = path;
	size_t used = 0;
	size_t len;

	lcr_printable(path, quoted, sizeof quoted);
	if (path[0] != '/')
		return fail(err, errlen, -EINVAL, "'%s' is not an absolute path", quoted);
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return fail(err, errlen, -EINVAL, "'%s' contains a control character",
				    quoted);
	if (outlen < 2)
		goto too_long;
	strcpy(out, "/");
	while (*p) {
		for (; *p == '/'; p++)
			;
		len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return fail(err, errlen, -EINVAL, "'%s' contains a '..' component", quoted);
		if (len > 0 && !(len == 1 && p[0] == '.') &&
		    !append_component(out, outlen, &used, p, len))
			goto too_long;
		p += len;
	}
	return 0;
too_long:
	return fail(err, errlen, -ENAMETOOLONG, "'%s' is too long (at most %zu bytes)", quoted,
		    outlen > 0 ? outlen - 1 : 0);
}

/* Output of a pattern expansion; with buf NULL it only measures. */
struct expansion {
	char *buf;
	size_t cap;
	size_t len;
};

static void expansion_put(struct expansion *x, const char *text, size_t len)
{
	if (x->buf && x->len + len < x->cap)
		memcpy(x->buf + x->len, text, len);
	x->len += len;
}

/*
 * Walks pattern, writing the expansion into x when user is not NULL. Returns 0 or
 * -EINVAL for an unknown conversion.
 */
static int walk_pattern(const char *pattern, const char *user, const char *home,
			const char *jobid, struct expansion *x, char *err, size_t errlen)
{
	char quoted[QUOTE_MAX];

	for (const char *p = pattern; *p; p++) {
		if (*p != '%') {
			expansion_put(x, p, 1);
			continue;
		}
		p++;
		if (*p == '%')
			expansion_put(x, "%", 1);
		else if (*p == 'u')
			expansion_put(x, user, strlen(user));
		else if (*p == 'h' && x->buf && home[0] != '/')
			return fail(err, errlen, -EINVAL, "'%s' uses %%h, but the home directory of "
				    "user '%s' is '%s', not an absolute path",
				    lcr_printable(pattern, quoted, sizeof quoted), user, home);
		else if (*p == 'h')
			expansion_put(x, home, strlen(home));
		else if (*p == 'j')
			expansion_put(x, jobid, strlen(jobid));
		else if (*p == '\0')
			return fail(err, errlen, -EINVAL,
				    "'%s' ends with a lone '%%' (accepted: %%u user, %%h home, %%j "
				    "job id, %%%% a literal %%)", lcr_printable(pattern, quoted, sizeof quoted));
		else
			return fail(err, errlen, -EINVAL,
				    "'%s' uses unknown conversion '%%%c' (accepted: %%u user, "
				    "%%h home, %%j job id, %%%% a literal %%)",
				    lcr_printable(pattern, quoted, sizeof quoted),
				    (*p >= 0x20 && *p < 0x7f) ? *p : '?');
	}
	return 0;
}

int lcr_check_ckpt_pattern(const char *pattern, char *err, size_t errlen)
{
	struct expansion measure = { 0 };

	return walk_pattern(pattern, "", "", "", &measure, err, errlen);
}

static int check_user_name(const char *user, char *err, size_t errlen)
{
	char quoted[QUOTE_MAX];
	bool bad = user[0] == '\0' || strcmp(user, ".") == 0 || strcmp(user, "..") == 0;

	for (const char *c = user; *c && !bad; c++)
		bad = *c == '/' || (unsigned char)*c < 0x20 || *c == 0x7f;
	if (bad)
		return fail(err, errlen, -EINVAL,
			    "user name '%s' cannot be part of a path (it is empty, '.', '..', or "
			    "has a '/' or a control character)",
			    lcr_printable(user, quoted, sizeof quoted));
	return 0;
}

int lcr_expand_ckpt_pattern(const char *pattern, const char *user, const char *home,
			    uint32_t jobid, char *out, size_t outlen, char *err, size_t errlen)
{
	struct expansion x = { .buf = out, .cap = outlen };
	char jobid_text[16];
	char quoted[QUOTE_MAX];
	int rc;

	rc = check_user_name(user, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(jobid_text, sizeof jobid_text, "%" PRIu32, jobid);
	rc = walk_pattern(pattern, user, home, jobid_text, &x, err, errlen);
	if (rc < 0)
		return rc;
	if (x.len >= outlen)
		return fail(err, errlen, -ENAMETOOLONG,
			    "'%s' expands to %zu bytes for user '%s' (at most %zu)",
			    lcr_printable(pattern, quoted, sizeof quoted), x.len, user,
			    outlen > 0 ? outlen - 1 : 0);
	out[x.len] = '\0';
	return 0;
}

int lcr_path_list_append(struct lcr_path_list *list, const char *path, char *err, size_t errlen)
{
	char normal[PATH_MAX];
	char **grown;
	char *copy;
	int rc;

	rc = lcr_path_normalize(path, normal, sizeof normal, err, errlen);
	if (rc < 0)
		return rc;
	copy = strdup(normal);
	grown = copy ? realloc(list->paths, (list->count + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(copy);
		return fail(err, errlen, -ENOMEM, "cannot store path '%s': out of memory", normal);
	}
	grown[list->count++] = copy;
	list->paths = grown;
	return 0;
}

void lcr_path_list_clear(struct lcr_path_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->paths[i]);
	free(list->paths);
	*list = (struct lcr_path_list){ 0 };
}

int lcr_parse_path_list(const char *text, struct lcr_path_list *list, char *err, size_t errlen)
{
	struct lcr_path_list parsed = { 0 };
	char *copy = strdup(text);
	char *saveptr = NULL;
	int rc = 0;

	if (!copy)
		return fail(err, errlen, -ENOMEM, "cannot parse path list: out of memory");
	for (char *item = strtok_r(copy, ":", &saveptr); item; item = strtok_r(NULL, ":", &saveptr)) {
		rc = lcr_path_list_append(&parsed, item, err, errlen);
		if (rc < 0)
			goto out;
	}
	lcr_path_list_clear(list);
	*list = parsed;
	parsed = (struct lcr_path_list){ 0 };
out:
	lcr_path_list_clear(&parsed);
	free(copy);
	return rc;
}

static bool path_is_under(const char *path, const char *root)
{
	size_t len = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* Writes the roots, comma-separated, into buf (cut if too small). */
static void join_roots(const struct lcr_path_list *roots, char *buf, size_t buflen)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < roots->count && used < buflen; i++)
		used += (size_t)snprintf(buf + used, buflen - used, "%s%s", i ? ", " : "",
					 roots->paths[i]);
}

int lcr_path_list_join(const struct lcr_path_list *list, char *out, size_t cap, char *err,
		       size_t errlen)
{
	char quoted[QUOTE_MAX];
	size_t used = 0;

	if (cap)
		out[0] = '\0';
	for (size_t i = 0; i < list->count; i++) {
		int n;
		if (strchr(list->paths[i], ':'))
			return fail(err, errlen, -EINVAL, "'%s' has a ':', which separates the paths "
				    "of a list", lcr_printable(list->paths[i], quoted, sizeof quoted));
		n = snprintf(out + used, cap - used, "%s%s", i ? ":" : "", list->paths[i]);
		if (n < 0 || (size_t)n >= cap - used)
			return fail(err, errlen, -ENAMETOOLONG, "the list of %zu paths is longer "
				    "than %zu bytes", list->count, cap ? cap - 1 : 0);
		used += (size_t)n;
	}
	return 0;
}

int lcr_path_under_roots(const char *path, const struct lcr_path_list *roots,
			 char *err, size_t errlen)
{
	char normal[PATH_MAX];
	char accepted[1024];
	char quoted[QUOTE_MAX];
	int rc;

	rc = lcr_path_normalize(path, normal, sizeof normal, err, errlen);
	if (rc < 0 || roots->count == 0)
		return rc;
	for (size_t i = 0; i < roots->count; i++)
		if (path_is_under(normal, roots->paths[i]))
			return 0;
	join_roots(roots, accepted, sizeof accepted);
	return fail(err, errlen, -EACCES,
		    "'%s' is not under an allowed checkpoint root (accepted: %s)",
		    lcr_printable(normal, quoted, sizeof quoted), accepted);
}
