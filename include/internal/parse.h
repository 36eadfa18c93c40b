/*
 * parse.h: the value parsers shared by the site configuration (lcr.yaml, plugstack
 * arguments) and the plugin's user options (--lcr-*), so that a value is read the same way
 * wherever it is written.
 *
 * Conventions, for every function here:
 * - input text is checked completely: no leading or trailing junk, no sign, no locale;
 * - on success the function returns 0 and fills *out; on failure it returns a negative
 *   errno (-EINVAL: malformed, -ERANGE: too large, -ENAMETOOLONG: does not fit, -EACCES:
 *   not allowed), leaves *out unchanged (except where stated) and writes into err one
 *   message fragment that quotes the value and says what is accepted, for instance
 *   "'maybe' is not a boolean (accepted: yes, no, true, false, on, off, 1, 0)".
 *   The caller prefixes it with where the value came from ("lcr: option --lcr-...: ").
 *   err may be NULL or errlen 0 when the caller wants no message; longer messages are cut.
 * - Nothing keeps state: every function is reentrant and thread-safe. Only
 *   struct lcr_path_list allocates, and lcr_path_list_clear() frees it.
 */
#ifndef LCR_INTERNAL_PARSE_H
#define LCR_INTERNAL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Verbosity of the plugin and the helper, from least to most talkative. */
enum lcr_log_level {
	LCR_LOG_ERROR,
	LCR_LOG_WARNING,
	LCR_LOG_INFO,
	LCR_LOG_VERBOSE,
	LCR_LOG_DEBUG,
};

/*
 * A list of normalised absolute paths (see lcr_path_normalize), owned by the list.
 * All-zero is the empty list.
 */
struct lcr_path_list {
	char **paths;
	size_t count;
};

/* Largest number of decimals accepted by lcr_parse_seconds and lcr_parse_bytes. */
#define LCR_PARSE_MAX_DECIMALS 6

/* Largest value accepted by lcr_parse_seconds, in seconds (about 31 years). */
#define LCR_PARSE_MAX_SECONDS 1000000000.0

/* yes/no, true/false, on/off, 1/0, in any letter case. */
int lcr_parse_bool(const char *text, bool *out, char *err, size_t errlen);

/*
 * Decimal seconds with an optional 's' suffix: "2", "0.5", "1.25s". At most
 * LCR_PARSE_MAX_DECIMALS decimals and LCR_PARSE_MAX_SECONDS; no sign, exponent, "inf" or
 * "nan". Zero is accepted: bounds are the caller's.
 */
int lcr_parse_seconds(const char *text, double *out, char *err, size_t errlen);

/*
 * A size in bytes: a decimal number, optionally followed by spaces and a unit: B, binary
 * K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024) or decimal kB, MB, GB, TB (powers of 1000),
 * letter case as written. "64GiB", "1.5T", "500MB", "4096". A fraction must come out as a
 * whole number of bytes. -ERANGE beyond UINT64_MAX.
 */
int lcr_parse_bytes(const char *text, uint64_t *out, char *err, size_t errlen);

/* A non-negative decimal integer without sign or spaces; -ERANGE beyond UINT64_MAX. */
int lcr_parse_uint(const char *text, uint64_t *out, char *err, size_t errlen);

/* One of error, warning, info, verbose, debug, in any letter case. */
int lcr_parse_log_level(const char *text, enum lcr_log_level *out, char *err, size_t errlen);

/* The name lcr_parse_log_level accepts for level, or "unknown". */
const char *lcr_log_level_name(enum lcr_log_level level);

/*
 * Lexical normalisation of an absolute path into out: repeated '/' and "." components
 * removed, no trailing '/' (except the root "/"). A ".." component is rejected rather than
 * resolved, because "a/link/.." is not "a" when link is a symbolic link. Control
 * characters are rejected. out must not overlap path; its content is undefined on error.
 * Errors: -EINVAL (relative, "..", control character), -ENAMETOOLONG (outlen too small).
 */
int lcr_path_normalize(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/*
 * Checks a checkpoint directory pattern: '%u' (user name), '%h' (the user's home
 * directory), '%j' (job id) and '%%' (a literal '%') are the only conversions; any other
 * "%x" or a trailing '%' is -EINVAL with the conversion named. The pattern is not
 * otherwise checked as a path.
 */
int lcr_check_ckpt_pattern(const char *pattern, char *err, size_t errlen);

/*
 * Expands pattern (see lcr_check_ckpt_pattern) for user, whose home directory is home, and
 * jobid into out. user must be a non-empty name without '/' or control characters and not
 * "." or "..", so the expansion cannot leave the directory the pattern names; home must be
 * an absolute path when the pattern uses '%h'.
 * Errors: -EINVAL (pattern, user or home), -ENAMETOOLONG (outlen too small).
 */
int lcr_expand_ckpt_pattern(const char *pattern, const char *user, const char *home,
			    uint32_t jobid, char *out, size_t outlen, char *err, size_t errlen);

/*
 * Appends path, normalised (lcr_path_normalize), to list. On error the list is unchanged.
 * Errors: those of lcr_path_normalize, -ENOMEM.
 */
int lcr_path_list_append(struct lcr_path_list *list, const char *path, char *err, size_t errlen);

/*
 * Parses a colon-separated list of absolute paths ("/scratch:/lustre"; "" is the empty
 * list) and replaces *list with it. On error *list is unchanged.
 */
int lcr_parse_path_list(const char *text, struct lcr_path_list *list, char *err, size_t errlen);

/*
 * The list as lcr_parse_path_list reads it ("/scratch:/lustre") into out[cap]: 0, -EINVAL
 * when a path has a ':', -ENAMETOOLONG when out is too small.
 */
int lcr_path_list_join(const struct lcr_path_list *list, char *out, size_t cap, char *err,
		       size_t errlen);

/* Frees the paths of list and leaves it empty. */
void lcr_path_list_clear(struct lcr_path_list *list);

/*
 * 0 when path, after lcr_path_normalize, is one of roots or lies below one of them, or
 * roots is empty (no restriction). roots must hold normalised paths (as built by
 * lcr_path_list_append). A lexical check: it does not follow symbolic links.
 * Errors: those of lcr_path_normalize, -EACCES (under none of the roots; the message
 * lists them).
 */
int lcr_path_under_roots(const char *path, const struct lcr_path_list *roots,
			 char *err, size_t errlen);

/*
 * Copies text into buf (buflen >= 4) for quoting in a message: bytes outside printable
 * ASCII become '?', and text too long for buf is cut and ends in "...". Returns buf.
 */
const char *lcr_printable(const char *text, char *buf, size_t buflen);

#endif
