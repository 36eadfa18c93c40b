/* units.h: the quantities lcr-sim reads and prints: durations, byte sizes, bandwidths.
 *
 * A quantity is a number followed by an optional unit, with or without a space between
 * them ("10m", "4 GB", "400Gb/s"). The same unit tables serve the command line and the
 * unit= field of benchmark result lines. Parsers return 0 or -EINVAL and never judge the
 * sign: the caller knows whether zero or a negative value makes sense.
 */
#ifndef LCR_SIM_UNITS_H
#define LCR_SIM_UNITS_H

#include <stddef.h>

/* Accepted unit spellings, for error messages; a bare number is allowed on the command
 * line only. */
#define UNITS_DURATION_NAMES "ns, us, ms, s, m or min, h, d"
#define UNITS_DURATION_HELP UNITS_DURATION_NAMES "; none means s"
#define UNITS_BYTES_HELP "B, kB MB GB TB PB (powers of 1000), KiB MiB GiB TiB PiB; none means B"
#define UNITS_BANDWIDTH_HELP \
	"B/s kB/s MB/s GB/s TB/s, KiB/s MiB/s GiB/s TiB/s, or bits: Gb/s Gbit/s"

/* Factor from the unit to seconds, bytes, bytes per second. */
int units_duration_scale(const char *unit, double *scale);
int units_bytes_scale(const char *unit, double *scale);
int units_bandwidth_scale(const char *unit, double *scale);

int units_parse_duration(const char *text, double *seconds);
int units_parse_bytes(const char *text, double *bytes);
int units_parse_bandwidth(const char *text, double *bytes_per_s);

/* Human-readable forms with about three significant digits: "50677 h", "32.8 s", "4 GB". */
void units_format_duration(double seconds, char *buf, size_t len);
void units_format_bytes(double bytes, char *buf, size_t len);
void units_format_bandwidth(double bytes_per_s, char *buf, size_t len);

#endif
