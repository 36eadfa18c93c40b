/* units.c: parse and print durations, byte sizes and bandwidths (see units.h). */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit {
	const char *name;
	double scale;
};

static const struct unit duration_units[] = {
	{ "", 1.0 },   { "s", 1.0 },     { "ns", 1e-9 },    { "us", 1e-6 },  { "ms", 1e-3 },
	{ "m", 60.0 }, { "min", 60.0 },  { "h", 3600.0 },   { "d", 86400.0 },
};

/* Decimal and binary prefixes; "k" and "K" both mean 1000. */
static const struct unit byte_prefixes[] = {
	{ "", 1.0 },     { "k", 1e3 },          { "K", 1e3 },          { "M", 1e6 },
	{ "G", 1e9 },    { "T", 1e12 },         { "P", 1e15 },         { "Ki", 0x1p10 },
	{ "Mi", 0x1p20 }, { "Gi", 0x1p30 },     { "Ti", 0x1p40 },      { "Pi", 0x1p50 },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int unit_lookup(const struct unit *table, size_t n, const char *name, size_t len,
		       double *scale)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(table[i].name) == len && strncmp(table[i].name, name, len) == 0) {
			*scale = table[i].scale;
			return 0;
		}
	}
	return -EINVAL;
}

int units_duration_scale(const char *unit, double *scale)
{
	return unit_lookup(duration_units, COUNT(duration_units), unit, strlen(unit), scale);
}

/* A prefix, then "B" for bytes or, when bits are allowed, "b" or "bit". */
static int size_scale(const char *unit, size_t len, int allow_bits, double *scale)
{
	double bits = 1.0;
	size_t prefix_len = len;

	if (len >= 1 && unit[len - 1] == 'B') {
		prefix_len = len - 1;
	} else if (allow_bits && len >= 3 && strncmp(unit + len - 3, "bit", 3) == 0) {
		prefix_len = len - 3;
		bits = 0.125;
	} else if (allow_bits && len >= 1 && unit[len - 1] == 'b') {
		prefix_len = len - 1;
		bits = 0.125;
	}
	if (unit_lookup(byte_prefixes, COUNT(byte_prefixes), unit, prefix_len, scale) < 0)
		return -EINVAL;
	*scale *= bits;
	return 0;
}

int units_bytes_scale(const char *unit, double *scale)
{
	return size_scale(unit, strlen(unit), 0, scale);
}

int units_bandwidth_scale(const char *unit, double *scale)
{
	size_t len = strlen(unit);

	if (len >= 2 && strcmp(unit + len - 2, "/s") == 0)
		return size_scale(unit, len - 2, 1, scale);
	return size_scale(unit, len, 0, scale);
}

/* Split "12.5 GB/s" into 12.5 and "GB/s"; the number must be finite. */
static int split_quantity(const char *text, double *number, const char **unit)
{
	char *end;

	errno = 0;
	*number = strtod(text, &end);
	if (end == text || errno == ERANGE || !isfinite(*number))
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	*unit = end;
	return 0;
}

static int parse_quantity(const char *text, int (*scale_of)(const char *, double *),
			  double *out)
{
	double number, scale;
	const char *unit;

	if (split_quantity(text, &number, &unit) < 0 || scale_of(unit, &scale) < 0)
		return -EINVAL;
	*out = number * scale;
	return 0;
}

int units_parse_duration(const char *text, double *seconds)
{
	return parse_quantity(text, units_duration_scale, seconds);
}

int units_parse_bytes(const char *text, double *bytes)
{
	return parse_quantity(text, units_bytes_scale, bytes);
}

int units_parse_bandwidth(const char *text, double *bytes_per_s)
{
	return parse_quantity(text, units_bandwidth_scale, bytes_per_s);
}

/* About three significant digits, never an exponent: 50677, 32.8, 4, 0.08. */
static void format_number(double v, const char *unit, char *buf, size_t len)
{
	if (fabs(v) >= 999.5)
		snprintf(buf, len, "%.0f %s", v, unit);
	else
		snprintf(buf, len, "%.3g %s", v, unit);
}

void units_format_duration(double seconds, char *buf, size_t len)
{
	if (seconds >= 2.0 * 3600.0)
		format_number(seconds / 3600.0, "h", buf, len);
	else if (seconds >= 120.0)
		format_number(seconds / 60.0, "min", buf, len);
	else
		format_number(seconds, "s", buf, len);
}

static void format_decimal_size(double bytes, const char *suffix, char *buf, size_t len)
{
	static const char *const prefixes[] = { "", "k", "M", "G", "T", "P" };
	size_t i = 0;
	char unit[8];

	while (i + 1 < COUNT(prefixes) && fabs(bytes) >= 1000.0) {
		bytes /= 1000.0;
		i++;
	}
	snprintf(unit, sizeof(unit), "%sB%s", prefixes[i], suffix);
	format_number(bytes, unit, buf, len);
}

void units_format_bytes(double bytes, char *buf, size_t len)
{
	format_decimal_size(bytes, "", buf, len);
}

void units_format_bandwidth(double bytes_per_s, char *buf, size_t len)
{
	format_decimal_size(bytes_per_s, "/s", buf, len);
}
