/* util.h: small helpers shared by lcrd, lcrctl, the client library and the plugin: strict
 * number and size parsing, human-readable sizes, rank lists, monotonic time and bounded
 * string copies. Every function is reentrant and keeps no state. */
#ifndef LCR_INTERNAL_UTIL_H
#define LCR_INTERNAL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Decimal integers, the whole string, no sign: 0 or -EINVAL / -ERANGE. */
int util_parse_u64(const char *s, uint64_t *out);
int util_parse_u32(const char *s, uint32_t *out);

/* A byte count with an optional binary suffix: "4096", "512K", "1.5G", "2GiB", "3T".
 * 0 or -EINVAL / -ERANGE. */
int util_parse_size(const char *s, uint64_t *out);

/* "1.5 GiB", "512 KiB", "17 B" into buf (at least 16 bytes is enough). Returns buf. */
char *util_format_size(uint64_t bytes, char *buf, size_t cap);

/* snprintf into buf[cap] for messages: a long name or path is cut, which is fine there. */
void util_format_text(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "0,1,2" or "4-7,9" into ranks[max]; *count set. 0 or -EINVAL / -E2BIG. An empty string is
 * an empty list. */
int util_parse_rank_list(const char *s, uint32_t *ranks, size_t max, size_t *count);

/* "0,1,2" from ranks[count] into buf; "-" for none. Returns buf (truncated to fit). */
char *util_format_rank_list(const uint32_t *ranks, size_t count, char *buf, size_t cap);

/* CLOCK_MONOTONIC in milliseconds and nanoseconds. */
uint64_t util_now_ms(void);
uint64_t util_now_ns(void);

/* Copies src into dst[cap] with its terminator: 0, or -ENAMETOOLONG (dst left empty). */
int util_copy_string(char *dst, size_t cap, const char *src);

#endif
