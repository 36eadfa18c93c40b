/* bench_results.c: read `RESULT name=... value=... unit=...` lines (see bench_results.h). */
#include "bench_results.h"
#include "units.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum figure_kind { FIGURE_DURATION, FIGURE_DURATION_OR_BANDWIDTH };

struct figure_name {
	const char *name;
	size_t offset; /* of its struct bench_figure in struct bench_results */
	enum figure_kind kind;
};

/* The model's own names, then the phases that contrib/bench/recovery.sh measures on a real
 * recovery under the names it prints them with. Its recovery_total_seconds is not read: the
 * phases are, so that the transfer scales with the state per GPU. */
static const struct figure_name figure_names[] = {
	{ "detect_p50", offsetof(struct bench_results, detect), FIGURE_DURATION },
	{ "replacement_launch", offsetof(struct bench_results, launch), FIGURE_DURATION },
	{ "state_transfer", offsetof(struct bench_results, transfer), FIGURE_DURATION_OR_BANDWIDTH },
	{ "comm_rebuild", offsetof(struct bench_results, rebuild), FIGURE_DURATION },
	{ "recovery_total", offsetof(struct bench_results, recovery), FIGURE_DURATION },
	{ "recovery_detect_seconds", offsetof(struct bench_results, detect), FIGURE_DURATION },
	{ "recovery_replacement_launch_seconds", offsetof(struct bench_results, launch),
	  FIGURE_DURATION },
	{ "recovery_state_fill_in_job", offsetof(struct bench_results, transfer),
	  FIGURE_DURATION_OR_BANDWIDTH },
	{ "recovery_comm_rebuild_seconds", offsetof(struct bench_results, rebuild), FIGURE_DURATION },
};

#define FIELD_MAX 128

/* The fields of one RESULT line that the model reads. */
struct result_fields {
	char name[FIELD_MAX];
	char value[FIELD_MAX];
	char unit[FIELD_MAX];
	bool has_name, has_value, has_unit;
};

static const struct figure_name *figure_name_find(const char *name)
{
	for (size_t i = 0; i < sizeof(figure_names) / sizeof(figure_names[0]); i++)
		if (strcmp(figure_names[i].name, name) == 0)
			return &figure_names[i];
	return NULL;
}

/* Copy the value of `key=value` into `dst` when `token` has that key. */
static int field_take(const char *token, size_t len, const char *key, char *dst, bool *seen)
{
	size_t key_len = strlen(key);

	if (len <= key_len || strncmp(token, key, key_len) != 0 || token[key_len] != '=')
		return 0;
	if (len - key_len - 1 >= FIELD_MAX)
		return -EINVAL;
	memcpy(dst, token + key_len + 1, len - key_len - 1);
	dst[len - key_len - 1] = '\0';
	*seen = true;
	return 0;
}

static int fields_split(const char *rest, struct result_fields *f, char *err, size_t errlen)
{
	const char *separators = " \t\r\n";

	memset(f, 0, sizeof(*f));
	for (const char *p = rest + strspn(rest, separators); *p; p += strspn(p, separators)) {
		size_t len = strcspn(p, separators);
		if (field_take(p, len, "name", f->name, &f->has_name) < 0 ||
		    field_take(p, len, "value", f->value, &f->has_value) < 0 ||
		    field_take(p, len, "unit", f->unit, &f->has_unit) < 0) {
			snprintf(err, errlen, "field '%.*s' is longer than %d characters",
				 (int)len, p, FIELD_MAX - 1);
			return -EINVAL;
		}
		p += len;
	}
	return 0;
}

/* A duration, or for figures that allow it a rate written with "/s". */
static int figure_unit_scale(const struct figure_name *fn, const char *unit, double *scale,
			     bool *is_bandwidth)
{
	size_t len = strlen(unit);

	*is_bandwidth = false;
	if (len == 0)
		return -EINVAL;
	if (units_duration_scale(unit, scale) == 0)
		return 0;
	if (fn->kind != FIGURE_DURATION_OR_BANDWIDTH || len < 2 || strcmp(unit + len - 2, "/s") != 0)
		return -EINVAL;
	*is_bandwidth = true;
	return units_bandwidth_scale(unit, scale);
}

static int figure_store(const struct figure_name *fn, const struct result_fields *f,
			unsigned lineno, struct bench_results *out, char *err, size_t errlen)
{
	struct bench_figure *fig = (struct bench_figure *)((char *)out + fn->offset);
	bool either = fn->kind == FIGURE_DURATION_OR_BANDWIDTH;
	char *end;
	double value, scale;
	bool is_bandwidth;

	errno = 0;
	value = strtod(f->value, &end);
	if (end == f->value || *end != '\0' || errno == ERANGE || !isfinite(value) || value < 0) {
		snprintf(err, errlen, "%s: value '%s' is not a number >= 0", fn->name, f->value);
		return -EINVAL;
	}
	if (figure_unit_scale(fn, f->unit, &scale, &is_bandwidth) < 0) {
		snprintf(err, errlen, "%s: unit '%s' is not %s (accepted: %s%s%s)", fn->name, f->unit,
			 either ? "a duration or a bandwidth" : "a duration", UNITS_DURATION_NAMES,
			 either ? "; or " : "", either ? UNITS_BANDWIDTH_HELP : "");
		return -EINVAL;
	}
	if (is_bandwidth && value == 0) {
		snprintf(err, errlen, "%s: a bandwidth of 0 %s is not possible", fn->name, f->unit);
		return -EINVAL;
	}
	fig->value = value * scale;
	fig->is_bandwidth = is_bandwidth;
	fig->line = lineno;
	return 0;
}

/* One line: 0 for lines that are not results or name a figure the model does not use. */
static int line_parse(const char *line, unsigned lineno, struct bench_results *out, char *err,
		      size_t errlen)
{
	const char *p = line + strspn(line, " \t");
	struct result_fields f;
	const struct figure_name *fn;

	if (strncmp(p, "RESULT", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return 0;
	if (fields_split(p + 6, &f, err, errlen) < 0)
		return -EINVAL;
	if (!f.has_name || !f.has_value || !f.has_unit) {
		snprintf(err, errlen, "RESULT line lacks %s= (expected: RESULT name=<figure> "
			 "value=<v> unit=<u> ...)",
			 !f.has_name ? "name" : !f.has_value ? "value" : "unit");
		return -EINVAL;
	}
	fn = figure_name_find(f.name);
	if (!fn)
		return 0;
	return figure_store(fn, &f, lineno, out, err, errlen);
}

int bench_results_load(const char *path, struct bench_results *out, char *err, size_t errlen)
{
	FILE *file = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	char why[512];
	int rc = 0;

	if (!file) {
		rc = -errno;
		snprintf(err, errlen, "--bench-results: cannot open '%s': %s", path, strerror(errno));
		return rc;
	}
	memset(out, 0, sizeof(*out));
	while (getline(&line, &cap, file) != -1) {
		lineno++;
		rc = line_parse(line, lineno, out, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "--bench-results %s:%u: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(file)) {
		rc = -EIO;
		snprintf(err, errlen, "--bench-results: cannot read '%s': %s", path, strerror(EIO));
	}
out:
	free(line);
	fclose(file);
	return rc;
}
