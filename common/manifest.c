/* manifest.c: the checkpoint manifest (see manifest.h): its rules, its YAML writer and its
 * strict YAML reader.
 *
 * The writer prints YAML by hand: every string it writes is printable ASCII (a rule of
 * manifest_check), so double quotes with two escapes are enough. The reader uses libyaml's
 * document API, which keeps the line of every node: take_fields() matches a mapping's keys
 * against the keys a place of the schema expects (unknown, duplicate and missing keys are
 * errors there), typed getters read the scalars, and manifest_check() then applies the
 * rules with the lines it was given, so every message names the file, the line and the key
 * path. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "internal/manifest.h"
#include "internal/util.h"

#define PATH_TEXT_MAX 160   /* a key path such as shards[12].regions[3].ranges[40].xxh3 */
#define MANIFEST_FILE_LIMIT (64u << 20)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --- the model --- */

static void free_shard(struct manifest_shard *s)
{
	for (size_t i = 0; i < s->region_count; i++)
		free(s->regions[i].ranges);
	free(s->regions);
	free(s->ranks);
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->shard_count; i++)
		free_shard(&m->shards[i]);
	free(m->shards);
	free(m->writers);
	memset(m, 0, sizeof(*m));
}

const struct manifest_shard *manifest_find_shard(const struct manifest *m, const char *key)
{
	for (size_t i = 0; i < m->shard_count; i++)
		if (strcmp(m->shards[i].key, key) == 0)
			return &m->shards[i];
	return NULL;
}

const struct manifest_shard *manifest_shard_of_rank(const struct manifest *m, uint32_t rank)
{
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].rank_count; j++)
			if (m->shards[i].ranks[j] == rank)
				return &m->shards[i];
	return NULL;
}

const struct manifest_region *manifest_find_region(const struct manifest_shard *shard,
						   const char *name)
{
	for (size_t i = 0; i < shard->region_count; i++)
		if (strcmp(shard->regions[i].name, name) == 0)
			return &shard->regions[i];
	return NULL;
}

uint64_t manifest_total_bytes(const struct manifest *m)
{
	uint64_t total = 0;
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].region_count; j++)
			total += m->shards[i].regions[j].size;
	return total;
}

const char *manifest_kind_name(enum wire_region_kind kind)
{
	return kind == WIRE_REGION_CUDA ? "cuda" : kind == WIRE_REGION_HOST ? "host" : "unknown";
}

int manifest_kind_parse(const char *text, enum wire_region_kind *out)
{
	if (strcmp(text, "host") == 0)
		*out = WIRE_REGION_HOST;
	else if (strcmp(text, "cuda") == 0)
		*out = WIRE_REGION_CUDA;
	else
		return -EINVAL;
	return 0;
}

/* --- messages --- */

/* "lcr: ORIGIN:LINE: " then the message; returns rc. */
static int fail_at(char *err, size_t errlen, int rc, const char *origin, unsigned line,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail_at(char *err, size_t errlen, int rc, const char *origin, unsigned line,
		   const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err, errlen, "lcr: %s:%u: %s", origin ? origin : "manifest", line, message);
	else
		snprintf(err, errlen, "lcr: %s: %s", origin ? origin : "manifest", message);
	return rc;
}

/* A value as a message quotes it: at most 40 bytes, unprintable bytes as '?'. */
static const char *quote_value(const char *text, char *buf, size_t cap)
{
	size_t n = 0;
	for (; text[n] && n + 4 < cap && n < 40; n++)
		buf[n] = text[n] >= 0x20 && text[n] < 0x7f ? text[n] : '?';
	if (text[n]) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* "PARENT.LIST[i]" into buf[PATH_TEXT_MAX]. */
static const char *item_path(char *buf, const char *parent, const char *list, size_t i)
{
	if (snprintf(buf, PATH_TEXT_MAX, "%s%s%s[%zu]", parent, parent[0] ? "." : "", list, i) >=
	    PATH_TEXT_MAX)
		buf[PATH_TEXT_MAX - 4] = buf[PATH_TEXT_MAX - 3] = buf[PATH_TEXT_MAX - 2] = '.';
	return buf;
}

/* --- rules --- */

struct checker {
	const char *origin;
	char *err;
	size_t errlen;
};

#define CHECK_FAIL(c, line, ...) fail_at((c)->err, (c)->errlen, -EINVAL, (c)->origin, line, __VA_ARGS__)

/* 1 to max bytes of printable ASCII, none of the characters in `banned`. */
static bool text_valid(const char *s, size_t max, const char *banned)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f || strchr(banned, s[i]))
			return false;
	return true;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_ranges(const struct checker *c, const struct manifest *m,
			const struct manifest_region *r, const char *path, uint64_t *writer_bytes)
{
	uint64_t end = 0;
	if (r->range_count == 0)
		return CHECK_FAIL(c, r->line, "key '%s.ranges': a region has at least one range", path);
	for (size_t i = 0; i < r->range_count; i++) {
		const struct manifest_range *g = &r->ranges[i];
		if (g->offset != end)
			return CHECK_FAIL(c, g->line, "key '%s.ranges[%zu].offset': %" PRIu64 " should "
					  "be %" PRIu64 ", where the previous range ends", path, i,
					  g->offset, end);
		if (g->offset % m->alignment)
			return CHECK_FAIL(c, g->line, "key '%s.ranges[%zu].offset': %" PRIu64 " is not "
					  "a multiple of the alignment %" PRIu64, path, i, g->offset,
					  m->alignment);
		if (g->length == 0 || g->length > r->size - g->offset)
			return CHECK_FAIL(c, g->line, "key '%s.ranges[%zu].length': %" PRIu64 " does "
					  "not fit the region's %" PRIu64 " bytes from offset %" PRIu64,
					  path, i, g->length, r->size, g->offset);
		if (g->writer >= m->writer_count)
			return CHECK_FAIL(c, g->line, "key '%s.ranges[%zu].writer': no such writer",
					  path, i);
		writer_bytes[g->writer] += g->length;
		end = g->offset + g->length;
	}
	if (end != r->size)
		return CHECK_FAIL(c, r->line, "key '%s.ranges': they cover %" PRIu64 " of the "
				  "region's %" PRIu64 " bytes", path, end, r->size);
	return 0;
}

static int check_region(const struct checker *c, const struct manifest *m,
			const struct manifest_shard *s, size_t index, const char *shard_path,
			uint64_t *writer_bytes)
{
	const struct manifest_region *r = &s->regions[index];
	char path[PATH_TEXT_MAX];
	item_path(path, shard_path, "regions", index);
	if (!text_valid(r->name, WIRE_NAME_MAX, " /"))
		return CHECK_FAIL(c, r->line, "key '%s.name': 1 to %d printable characters without "
				  "blanks or '/'", path, WIRE_NAME_MAX);
	if (index > 0 && strcmp(s->regions[index - 1].name, r->name) >= 0)
		return CHECK_FAIL(c, r->line, "key '%s.name': '%s' is not after '%s' (regions are "
				  "sorted by name, each once)", path, r->name, s->regions[index - 1].name);
	if (r->kind != WIRE_REGION_HOST && r->kind != WIRE_REGION_CUDA)
		return CHECK_FAIL(c, r->line, "key '%s.kind': host or cuda", path);
	if (r->size == 0)
		return CHECK_FAIL(c, r->line, "key '%s.size': a region has at least 1 byte", path);
	if (!text_valid(r->file, MANIFEST_FILE_MAX, " /") || strcmp(r->file, ".") == 0 ||
	    strcmp(r->file, "..") == 0 || strcmp(r->file, MANIFEST_FILE_NAME) == 0)
		return CHECK_FAIL(c, r->line, "key '%s.file': '%s' is not a file name of the "
				  "checkpoint directory", path, r->file);
	return check_ranges(c, m, r, path, writer_bytes);
}

static int check_shard(const struct checker *c, const struct manifest *m, size_t index,
		       uint64_t *writer_bytes)
{
	const struct manifest_shard *s = &m->shards[index];
	char path[PATH_TEXT_MAX];
	int rc;
	item_path(path, "", "shards", index);
	if (!text_valid(s->key, WIRE_NAME_MAX, ""))
		return CHECK_FAIL(c, s->line, "key '%s.key': 1 to %d printable ASCII characters",
				  path, WIRE_NAME_MAX);
	if (index > 0 && strcmp(m->shards[index - 1].key, s->key) >= 0)
		return CHECK_FAIL(c, s->line, "key '%s.key': '%s' is not after '%s' (shards are "
				  "sorted by key, each once)", path, s->key, m->shards[index - 1].key);
	if (s->dp_size == 0)
		return CHECK_FAIL(c, s->line, "key '%s.dp_size': at least 1", path);
	if (s->rank_count == 0)
		return CHECK_FAIL(c, s->line, "key '%s.ranks': a shard has at least one rank", path);
	for (size_t i = 1; i < s->rank_count; i++)
		if (s->ranks[i] <= s->ranks[i - 1])
			return CHECK_FAIL(c, s->line, "key '%s.ranks': ranks are ascending, each once",
					  path);
	for (size_t i = 0; i < s->region_count; i++)
		if ((rc = check_region(c, m, s, i, path, writer_bytes)) < 0)
			return rc;
	return 0;
}

/* Ranks in one shard only, and rank_count their number. */
static int check_ranks(const struct checker *c, const struct manifest *m)
{
	size_t total = 0, at = 0;
	int rc = 0;
	for (size_t i = 0; i < m->shard_count; i++)
		total += m->shards[i].rank_count;
	if (total != m->rank_count)
		return CHECK_FAIL(c, m->line, "key 'ranks': %" PRIu32 ", but the shards hold %zu",
				  m->rank_count, total);
	uint32_t *all = malloc(total * sizeof(*all) + 1);
	if (!all)
		return fail_at(c->err, c->errlen, -ENOMEM, c->origin, 0, "out of memory");
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].rank_count; j++)
			all[at++] = m->shards[i].ranks[j];
	qsort(all, total, sizeof(*all), compare_u32);
	for (size_t i = 1; i < total && rc == 0; i++)
		if (all[i] == all[i - 1])
			rc = CHECK_FAIL(c, m->line, "key 'shards': rank %" PRIu32 " is in two shards",
					all[i]);
	free(all);
	return rc;
}

/* Data file names are unique across the checkpoint. */
static int check_files_unique(const struct checker *c, const struct manifest *m)
{
	size_t total = 0, at = 0;
	int rc = 0;
	for (size_t i = 0; i < m->shard_count; i++)
		total += m->shards[i].region_count;
	const char **files = malloc(total * sizeof(*files) + 1);
	if (!files)
		return fail_at(c->err, c->errlen, -ENOMEM, c->origin, 0, "out of memory");
	for (size_t i = 0; i < m->shard_count; i++)
		for (size_t j = 0; j < m->shards[i].region_count; j++)
			files[at++] = m->shards[i].regions[j].file;
	qsort(files, total, sizeof(*files), compare_strings);
	for (size_t i = 1; i < total && rc == 0; i++)
		if (strcmp(files[i], files[i - 1]) == 0)
			rc = CHECK_FAIL(c, m->line, "key 'shards': file '%s' belongs to two regions",
					files[i]);
	free(files);
	return rc;
}

static int check_writers(const struct checker *c, const struct manifest *m,
			 const uint64_t *writer_bytes)
{
	for (size_t i = 0; i < m->writer_count; i++) {
		const struct manifest_writer *w = &m->writers[i];
		if (!text_valid(w->node, WIRE_NODE_NAME_MAX, " /"))
			return CHECK_FAIL(c, w->line, "key 'writers[%zu].node': 1 to %d printable "
					  "characters without blanks or '/'", i, WIRE_NODE_NAME_MAX);
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->writers[j].node, w->node) == 0 ||
			    m->writers[j].node_id == w->node_id)
				return CHECK_FAIL(c, w->line, "key 'writers[%zu]': node %s (id %" PRIu32
						  ") repeats writers[%zu], node %s (id %" PRIu32 ")",
						  i, w->node, w->node_id, j, m->writers[j].node,
						  m->writers[j].node_id);
		if (!(w->seconds >= 0) || isinf(w->seconds))
			return CHECK_FAIL(c, w->line, "key 'writers[%zu].seconds': a duration in "
					  "seconds", i);
		if (w->bytes != writer_bytes[i])
			return CHECK_FAIL(c, w->line, "key 'writers[%zu].bytes': %" PRIu64 ", but "
					  "its ranges hold %" PRIu64 " bytes", i, w->bytes,
					  writer_bytes[i]);
	}
	return 0;
}

int manifest_check(const struct manifest *m, const char *origin, char *err, size_t errlen)
{
	struct checker c = { origin, err, errlen };
	uint64_t *writer_bytes = calloc(m->writer_count + 1, sizeof(*writer_bytes));
	int rc = 0;
	if (!writer_bytes)
		return fail_at(err, errlen, -ENOMEM, origin, 0, "out of memory");
	if (m->step == WIRE_NO_STEP)
		rc = CHECK_FAIL(&c, m->line, "key 'step': not a step number");
	else if (m->created < 0)
		rc = CHECK_FAIL(&c, m->line, "key 'created': a Unix time");
	else if (m->alignment < MANIFEST_MIN_ALIGNMENT || (m->alignment & (m->alignment - 1)))
		rc = CHECK_FAIL(&c, m->line, "key 'alignment': a power of two, at least %d",
				MANIFEST_MIN_ALIGNMENT);
	else if (m->shard_count == 0)
		rc = CHECK_FAIL(&c, m->line, "key 'shards': a checkpoint has at least one shard");
	for (size_t i = 0; rc == 0 && i < m->shard_count; i++)
		rc = check_shard(&c, m, i, writer_bytes);
	if (rc == 0)
		rc = check_ranks(&c, m);
	if (rc == 0)
		rc = check_files_unique(&c, m);
	if (rc == 0)
		rc = check_writers(&c, m, writer_bytes);
	free(writer_bytes);
	return rc;
}

/* --- writing --- */

/* A string of printable ASCII (manifest_check made sure) in double quotes. */
static void write_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void write_region(FILE *out, const struct manifest *m, const struct manifest_region *r)
{
	fputs("      - name: ", out);
	write_string(out, r->name);
	fprintf(out, "\n        kind: %s\n        size: %" PRIu64 "\n        file: ",
		manifest_kind_name(r->kind), r->size);
	write_string(out, r->file);
	fputs("\n        ranges:\n", out);
	for (size_t i = 0; i < r->range_count; i++) {
		const struct manifest_range *g = &r->ranges[i];
		fprintf(out, "          - {offset: %" PRIu64 ", length: %" PRIu64 ", xxh3: \"%016"
			PRIx64 "\", writer: ", g->offset, g->length, g->xxh3);
		write_string(out, m->writers[g->writer].node);
		fputs("}\n", out);
	}
}

static void write_shard(FILE *out, const struct manifest *m, const struct manifest_shard *s)
{
	fputs("  - key: ", out);
	write_string(out, s->key);
	fprintf(out, "\n    dp_size: %" PRIu32 "\n    ranks: [", s->dp_size);
	for (size_t i = 0; i < s->rank_count; i++)
		fprintf(out, "%s%" PRIu32, i ? ", " : "", s->ranks[i]);
	fprintf(out, "]\n    regions:%s\n", s->region_count ? "" : " []");
	for (size_t i = 0; i < s->region_count; i++)
		write_region(out, m, &s->regions[i]);
}

static void write_manifest(FILE *out, const struct manifest *m)
{
	fprintf(out,
		"# LCR checkpoint manifest, written last: a checkpoint directory without it is\n"
		"# not complete. Schema: doc/checkpoint.md.\n"
		"format: %d\njob: %" PRIu32 "\nstep: %" PRIu64 "\ncreated: %" PRId64 "\n"
		"generation: %" PRIu64 "\nhash: %s\nalignment: %" PRIu64 "\nranks: %" PRIu32
		"\nshards:\n",
		MANIFEST_FORMAT, m->job_id, m->step, m->created, m->generation, MANIFEST_HASH,
		m->alignment, m->rank_count);
	for (size_t i = 0; i < m->shard_count; i++)
		write_shard(out, m, &m->shards[i]);
	fprintf(out, "writers:%s\n", m->writer_count ? "" : " []");
	for (size_t i = 0; i < m->writer_count; i++) {
		const struct manifest_writer *w = &m->writers[i];
		fputs("  - {node: ", out);
		write_string(out, w->node);
		fprintf(out, ", node_id: %" PRIu32 ", bytes: %" PRIu64 ", seconds: %.6f}\n",
			w->node_id, w->bytes, w->seconds);
	}
}

int manifest_encode(const struct manifest *m, char **text, size_t *len, char *err,
		    size_t errlen)
{
	int rc = manifest_check(m, NULL, err, errlen);
	if (rc < 0)
		return rc;
	FILE *out = open_memstream(text, len);
	if (!out)
		return fail_at(err, errlen, -ENOMEM, NULL, 0, "out of memory");
	write_manifest(out, m);
	if (ferror(out)) {
		fclose(out);
		free(*text);
		*text = NULL;
		return fail_at(err, errlen, -ENOMEM, NULL, 0, "out of memory");
	}
	fclose(out);
	return 0;
}

/* --- reading --- */

struct decoder {
	const char *origin;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

/* One key a mapping must hold: take_fields() finds its value and line. */
struct field {
	const char *name;
	const yaml_node_t *value;
	unsigned line;
	bool optional; /* may be missing (a key that older manifests lack) */
};

#define FIELD(key) { .name = (key) }
#define OPTIONAL_FIELD(key) { .name = (key), .optional = true }

#define DECODE_FAIL(d, line, ...) fail_at((d)->err, (d)->errlen, -EINVAL, (d)->origin, line, __VA_ARGS__)

static unsigned node_line(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a sequence";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static const char *join_path(const char *path, const char *name, char *buf, size_t cap)
{
	if (snprintf(buf, cap, "%s%s%s", path, path[0] ? "." : "", name) >= (int)cap)
		buf[cap - 4] = buf[cap - 3] = buf[cap - 2] = '.';
	return buf;
}


static void list_fields(const struct field *fields, size_t n, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
					 fields[i].name);
}

/* Matches the mapping `node` (at key path `path`) against fields[n]: each of its keys must be
 * one of them, once, and each of them must be there. */
static int take_fields(const struct decoder *d, const yaml_node_t *node, const char *path,
		       struct field *fields, size_t n)
{
	char where[PATH_TEXT_MAX], accepted[256], quoted[48];
	if (node->type != YAML_MAPPING_NODE)
		return DECODE_FAIL(d, node_line(node), "key '%s': expected a mapping, found %s",
				   path[0] ? path : "(top level)", node_kind(node));
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     p < node->data.mapping.pairs.top; p++) {
		const yaml_node_t *key = yaml_document_get_node(d->doc, p->key);
		size_t i;
		if (key->type != YAML_SCALAR_NODE)
			return DECODE_FAIL(d, node_line(key), "key '%s': expected a key name, found %s",
					   path[0] ? path : "(top level)", node_kind(key));
		const char *name = (const char *)key->data.scalar.value;
		for (i = 0; i < n && strcmp(fields[i].name, name) != 0; i++)
			;
		if (i == n) {
			list_fields(fields, n, accepted, sizeof(accepted));
			return DECODE_FAIL(d, node_line(key), "key '%s': unknown key (accepted: %s)",
					   join_path(path, quote_value(name, quoted, sizeof(quoted)),
						     where, sizeof(where)),
					   accepted);
		}
		if (fields[i].value)
			return DECODE_FAIL(d, node_line(key), "key '%s': given twice (first on line %u)",
					   join_path(path, name, where, sizeof(where)), fields[i].line);
		fields[i].value = yaml_document_get_node(d->doc, p->value);
		fields[i].line = node_line(key);
	}
	for (size_t i = 0; i < n; i++)
		if (!fields[i].value && !fields[i].optional)
			return DECODE_FAIL(d, node_line(node), "key '%s': missing",
					   join_path(path, fields[i].name, where, sizeof(where)));
	return 0;
}

/* The text of a scalar field. */
static int get_scalar(const struct decoder *d, const struct field *f, const char *path,
		      const char **text)
{
	char where[PATH_TEXT_MAX];
	if (f->value->type != YAML_SCALAR_NODE)
		return DECODE_FAIL(d, f->line, "key '%s': expected a scalar, found %s",
				   join_path(path, f->name, where, sizeof(where)),
				   node_kind(f->value));
	*text = (const char *)f->value->data.scalar.value;
	if (strlen(*text) != f->value->data.scalar.length)
		return DECODE_FAIL(d, f->line, "key '%s': holds a NUL byte",
				   join_path(path, f->name, where, sizeof(where)));
	return 0;
}

static int get_u64(const struct decoder *d, const struct field *f, const char *path,
		   uint64_t max, uint64_t *out)
{
	char where[PATH_TEXT_MAX], quoted[48];
	const char *text;
	int rc = get_scalar(d, f, path, &text);
	if (rc < 0)
		return rc;
	if (util_parse_u64(text, out) < 0 || *out > max)
		return DECODE_FAIL(d, f->line, "key '%s': expected a whole number from 0 to %" PRIu64
				   ", found '%s'", join_path(path, f->name, where, sizeof(where)),
				   max, quote_value(text, quoted, sizeof(quoted)));
	return 0;
}

static int get_u32(const struct decoder *d, const struct field *f, const char *path,
		   uint32_t *out)
{
	uint64_t v;
	int rc = get_u64(d, f, path, UINT32_MAX, &v);
	*out = (uint32_t)v;
	return rc;
}

static int get_text(const struct decoder *d, const struct field *f, const char *path,
		    char *dst, size_t cap)
{
	char where[PATH_TEXT_MAX];
	const char *text;
	int rc = get_scalar(d, f, path, &text);
	if (rc == 0 && util_copy_string(dst, cap, text) < 0)
		rc = DECODE_FAIL(d, f->line, "key '%s': longer than %zu bytes",
				 join_path(path, f->name, where, sizeof(where)), cap - 1);
	return rc;
}

/* Exactly 16 hexadecimal digits. */
static int get_hash(const struct decoder *d, const struct field *f, const char *path,
		    uint64_t *out)
{
	char where[PATH_TEXT_MAX], quoted[48], *end;
	const char *text;
	int rc = get_scalar(d, f, path, &text);
	if (rc < 0)
		return rc;
	if (strlen(text) != 16 || strspn(text, "0123456789abcdefABCDEF") != 16)
		return DECODE_FAIL(d, f->line, "key '%s': expected an XXH3 hash of 16 hexadecimal "
				   "digits, found '%s'", join_path(path, f->name, where, sizeof(where)),
				   quote_value(text, quoted, sizeof(quoted)));
	*out = strtoull(text, &end, 16);
	return 0;
}

static int get_seconds(const struct decoder *d, const struct field *f, const char *path,
		       double *out)
{
	char where[PATH_TEXT_MAX], quoted[48], *end;
	const char *text;
	int rc = get_scalar(d, f, path, &text);
	if (rc < 0)
		return rc;
	*out = strtod(text, &end);
	if (end == text || *end || strspn(text, "0123456789.") != strlen(text) || !isfinite(*out))
		return DECODE_FAIL(d, f->line, "key '%s': expected a number of seconds, found '%s'",
				   join_path(path, f->name, where, sizeof(where)),
				   quote_value(text, quoted, sizeof(quoted)));
	return 0;
}

/* A sequence field: its items and their count. */
static int get_sequence(const struct decoder *d, const struct field *f, const char *path,
			yaml_node_item_t **items, size_t *count)
{
	char where[PATH_TEXT_MAX];
	if (f->value->type != YAML_SEQUENCE_NODE)
		return DECODE_FAIL(d, f->line, "key '%s': expected a sequence, found %s",
				   join_path(path, f->name, where, sizeof(where)),
				   node_kind(f->value));
	*items = f->value->data.sequence.items.start;
	*count = (size_t)(f->value->data.sequence.items.top - f->value->data.sequence.items.start);
	return 0;
}

/* A zeroed array of count elements (one at least, so that 0 is not a failure). */
static int alloc_items(const struct decoder *d, void **out, size_t count, size_t size)
{
	*out = calloc(count ? count : 1, size);
	return *out ? 0 : fail_at(d->err, d->errlen, -ENOMEM, d->origin, 0, "out of memory");
}

static const yaml_node_t *item_node(const struct decoder *d, yaml_node_item_t *items, size_t i)
{
	return yaml_document_get_node(d->doc, items[i]);
}

static int find_writer(const struct decoder *d, const struct manifest *m, const char *node,
		       unsigned line, const char *path, uint32_t *out)
{
	char quoted[48];
	for (size_t i = 0; i < m->writer_count; i++) {
		if (strcmp(m->writers[i].node, node) == 0) {
			*out = (uint32_t)i;
			return 0;
		}
	}
	return DECODE_FAIL(d, line, "key '%s.writer': '%s' is not one of the writers", path,
			   quote_value(node, quoted, sizeof(quoted)));
}

static int decode_range(const struct decoder *d, const yaml_node_t *node, const char *path,
			const struct manifest *m, struct manifest_range *g)
{
	struct field f[] = { FIELD("offset"), FIELD("length"), FIELD("xxh3"), FIELD("writer") };
	char writer[WIRE_NODE_NAME_MAX + 1];
	int rc = take_fields(d, node, path, f, ARRAY_SIZE(f));
	g->line = node_line(node);
	if (rc == 0)
		rc = get_u64(d, &f[0], path, UINT64_MAX, &g->offset);
	if (rc == 0)
		rc = get_u64(d, &f[1], path, UINT64_MAX, &g->length);
	if (rc == 0)
		rc = get_hash(d, &f[2], path, &g->xxh3);
	if (rc == 0)
		rc = get_text(d, &f[3], path, writer, sizeof(writer));
	if (rc == 0)
		rc = find_writer(d, m, writer, f[3].line, path, &g->writer);
	return rc;
}

static int decode_region(const struct decoder *d, const yaml_node_t *node, const char *path,
			 const struct manifest *m, struct manifest_region *r)
{
	struct field f[] = { FIELD("name"), FIELD("kind"), FIELD("size"), FIELD("file"),
			     FIELD("ranges") };
	char kind[16], where[PATH_TEXT_MAX], item[PATH_TEXT_MAX];
	yaml_node_item_t *items;
	int rc = take_fields(d, node, path, f, ARRAY_SIZE(f));
	r->line = node_line(node);
	if (rc == 0)
		rc = get_text(d, &f[0], path, r->name, sizeof(r->name));
	if (rc == 0 && get_text(d, &f[1], path, kind, sizeof(kind)) == 0 &&
	    manifest_kind_parse(kind, &r->kind) < 0)
		rc = DECODE_FAIL(d, f[1].line, "key '%s': expected host or cuda",
				 join_path(path, "kind", where, sizeof(where)));
	if (rc == 0)
		rc = get_u64(d, &f[2], path, UINT64_MAX, &r->size);
	if (rc == 0)
		rc = get_text(d, &f[3], path, r->file, sizeof(r->file));
	if (rc == 0)
		rc = get_sequence(d, &f[4], path, &items, &r->range_count);
	if (rc == 0)
		rc = alloc_items(d, (void **)&r->ranges, r->range_count, sizeof(*r->ranges));
	for (size_t i = 0; rc == 0 && i < r->range_count; i++) {
		item_path(item, path, "ranges", i);
		rc = decode_range(d, item_node(d, items, i), item, m, &r->ranges[i]);
	}
	return rc;
}

static int decode_shard_ranks(const struct decoder *d, const struct field *f, const char *path,
			      struct manifest_shard *s)
{
	char where[PATH_TEXT_MAX];
	yaml_node_item_t *items;
	int rc = get_sequence(d, f, path, &items, &s->rank_count);
	if (rc == 0)
		rc = alloc_items(d, (void **)&s->ranks, s->rank_count, sizeof(*s->ranks));
	for (size_t i = 0; rc == 0 && i < s->rank_count; i++) {
		const yaml_node_t *node = item_node(d, items, i);
		struct field item = { .value = node, .line = node_line(node) };
		item.name = item_path(where, "", "ranks", i);
		rc = get_u32(d, &item, path, &s->ranks[i]);
	}
	return rc;
}

static int decode_shard(const struct decoder *d, const yaml_node_t *node, const char *path,
			const struct manifest *m, struct manifest_shard *s)
{
	struct field f[] = { FIELD("key"), FIELD("dp_size"), FIELD("ranks"), FIELD("regions") };
	char item[PATH_TEXT_MAX];
	yaml_node_item_t *items;
	int rc = take_fields(d, node, path, f, ARRAY_SIZE(f));
	s->line = node_line(node);
	if (rc == 0)
		rc = get_text(d, &f[0], path, s->key, sizeof(s->key));
	if (rc == 0)
		rc = get_u32(d, &f[1], path, &s->dp_size);
	if (rc == 0)
		rc = decode_shard_ranks(d, &f[2], path, s);
	if (rc == 0)
		rc = get_sequence(d, &f[3], path, &items, &s->region_count);
	if (rc == 0)
		rc = alloc_items(d, (void **)&s->regions, s->region_count, sizeof(*s->regions));
	for (size_t i = 0; rc == 0 && i < s->region_count; i++) {
		item_path(item, path, "regions", i);
		rc = decode_region(d, item_node(d, items, i), item, m, &s->regions[i]);
	}
	return rc;
}

static int decode_writer(const struct decoder *d, const yaml_node_t *node, const char *path,
			 struct manifest_writer *w)
{
	struct field f[] = { FIELD("node"), FIELD("node_id"), FIELD("bytes"),
			     FIELD("seconds") };
	int rc = take_fields(d, node, path, f, ARRAY_SIZE(f));
	w->line = node_line(node);
	if (rc == 0)
		rc = get_text(d, &f[0], path, w->node, sizeof(w->node));
	if (rc == 0)
		rc = get_u32(d, &f[1], path, &w->node_id);
	if (rc == 0)
		rc = get_u64(d, &f[2], path, UINT64_MAX, &w->bytes);
	if (rc == 0)
		rc = get_seconds(d, &f[3], path, &w->seconds);
	return rc;
}

/* format and hash: the only values this reader knows. */
static int decode_format(const struct decoder *d, struct field *format, struct field *hash)
{
	char quoted[48];
	const char *text;
	uint64_t version;
	int rc = get_u64(d, format, "", UINT32_MAX, &version);
	if (rc == 0 && version != MANIFEST_FORMAT)
		rc = DECODE_FAIL(d, format->line, "key 'format': version %" PRIu64 " is not one this "
				 "LCR reads (accepted: %d)", version, MANIFEST_FORMAT);
	if (rc == 0)
		rc = get_scalar(d, hash, "", &text);
	if (rc == 0 && strcmp(text, MANIFEST_HASH) != 0)
		rc = DECODE_FAIL(d, hash->line, "key 'hash': '%s' is not a hash this LCR computes "
				 "(accepted: %s)", quote_value(text, quoted, sizeof(quoted)),
				 MANIFEST_HASH);
	return rc;
}

static int decode_root(const struct decoder *d, const yaml_node_t *root, struct manifest *m)
{
	struct field f[] = { FIELD("format"), FIELD("job"), FIELD("step"), FIELD("created"),
			     FIELD("hash"), FIELD("alignment"), FIELD("ranks"),
			     FIELD("shards"), FIELD("writers"), OPTIONAL_FIELD("generation") };
	char item[PATH_TEXT_MAX];
	yaml_node_item_t *shards, *writers;
	uint64_t created = 0;
	int rc = take_fields(d, root, "", f, ARRAY_SIZE(f));
	m->line = node_line(root);
	if (rc == 0)
		rc = decode_format(d, &f[0], &f[4]);
	if (rc == 0)
		rc = get_u32(d, &f[1], "", &m->job_id);
	if (rc == 0)
		rc = get_u64(d, &f[2], "", UINT64_MAX - 1, &m->step);
	if (rc == 0)
		rc = get_u64(d, &f[3], "", INT64_MAX, &created);
	m->created = (int64_t)created;
	if (rc == 0)
		rc = get_u64(d, &f[5], "", UINT64_MAX, &m->alignment);
	if (rc == 0)
		rc = get_u32(d, &f[6], "", &m->rank_count);
	if (rc == 0 && f[9].value)
		rc = get_u64(d, &f[9], "", UINT64_MAX, &m->generation);
	/* Writers first: ranges name them. */
	if (rc == 0)
		rc = get_sequence(d, &f[8], "", &writers, &m->writer_count);
	if (rc == 0)
		rc = alloc_items(d, (void **)&m->writers, m->writer_count, sizeof(*m->writers));
	for (size_t i = 0; rc == 0 && i < m->writer_count; i++) {
		item_path(item, "", "writers", i);
		rc = decode_writer(d, item_node(d, writers, i), item, &m->writers[i]);
	}
	if (rc == 0)
		rc = get_sequence(d, &f[7], "", &shards, &m->shard_count);
	if (rc == 0)
		rc = alloc_items(d, (void **)&m->shards, m->shard_count, sizeof(*m->shards));
	for (size_t i = 0; rc == 0 && i < m->shard_count; i++) {
		item_path(item, "", "shards", i);
		rc = decode_shard(d, item_node(d, shards, i), item, m, &m->shards[i]);
	}
	return rc;
}

static int yaml_error(const char *origin, const yaml_parser_t *p, char *err, size_t errlen)
{
	if (p->error == YAML_MEMORY_ERROR)
		return fail_at(err, errlen, -ENOMEM, origin, 0, "out of memory reading YAML");
	if (p->error == YAML_READER_ERROR)
		return fail_at(err, errlen, -EINVAL, origin, 0, "malformed YAML: %s at byte %zu",
			       p->problem ? p->problem : "error", p->problem_offset);
	return fail_at(err, errlen, -EINVAL, origin, (unsigned)p->problem_mark.line + 1,
		       "malformed YAML: %s", p->problem ? p->problem : "error");
}

/* The anchor an event defines, or NULL. */
static const char *event_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT: return (const char *)ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT: return (const char *)ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT: return (const char *)ev->data.mapping_start.anchor;
	default: return NULL;
	}
}

/* Refuses anchors and aliases before the document is built: a manifest never needs them,
 * and aliases let a few KiB of text stand for gigabytes of nodes to walk. One pass over the
 * events; a syntax error is left to the loader, which names it. */
static int refuse_anchors(const char *text, size_t len, const char *origin, char *err,
			  size_t errlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0;
	bool end = false;
	if (!yaml_parser_initialize(&parser))
		return fail_at(err, errlen, -ENOMEM, origin, 0, "out of memory reading YAML");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!end && rc == 0 && yaml_parser_parse(&parser, &ev)) {
		const char *anchor = event_anchor(&ev);
		if (ev.type == YAML_ALIAS_EVENT || anchor)
			rc = fail_at(err, errlen, -EINVAL, origin, (unsigned)ev.start_mark.line + 1,
				     "%s '%s%s': anchors and aliases are not allowed in a manifest",
				     anchor ? "anchor" : "alias", anchor ? "&" : "*",
				     anchor ? anchor : (const char *)ev.data.alias.anchor);
		end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* Loads the one document of text into doc; a second document is an error. */
static int load_document(const char *text, size_t len, const char *origin, yaml_document_t *doc,
			 char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int rc = 0;
	if (!yaml_parser_initialize(&parser))
		return fail_at(err, errlen, -ENOMEM, origin, 0, "out of memory reading YAML");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, doc)) {
		rc = yaml_error(origin, &parser, err, errlen);
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		rc = yaml_error(origin, &parser, err, errlen);
		yaml_document_delete(doc);
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		rc = fail_at(err, errlen, -EINVAL, origin,
			     node_line(yaml_document_get_root_node(&extra)),
			     "a second YAML document (a manifest holds one)");
		yaml_document_delete(doc);
	}
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&parser);
	return rc;
}

int manifest_decode(const char *text, size_t len, const char *origin, struct manifest *out,
		    char *err, size_t errlen)
{
	yaml_document_t doc;
	struct decoder d = { origin, &doc, err, errlen };
	int rc;
	memset(out, 0, sizeof(*out));
	rc = refuse_anchors(text, len, origin, err, errlen);
	if (rc == 0)
		rc = load_document(text, len, origin, &doc, err, errlen);
	if (rc < 0)
		return rc;
	const yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root)
		rc = fail_at(err, errlen, -EINVAL, origin, 0, "empty manifest");
	else
		rc = decode_root(&d, root, out);
	if (rc == 0)
		rc = manifest_check(out, origin, err, errlen);
	yaml_document_delete(&doc);
	if (rc < 0)
		manifest_free(out);
	return rc;
}

/* Reads len bytes from the start of fd: the count read (less at its end) or -errno. */
static ssize_t read_from_start(int fd, char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int manifest_read_fd(int fd, const char *path, struct manifest *out, char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	ssize_t got;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	if (fstat(fd, &st) < 0)
		return fail_at(err, errlen, -errno, path, 0, "cannot read: %s", strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > MANIFEST_FILE_LIMIT)
		return fail_at(err, errlen, -EINVAL, path, 0, "not a regular file of at most %u MiB",
			       MANIFEST_FILE_LIMIT >> 20);
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return fail_at(err, errlen, -ENOMEM, path, 0, "out of memory");
	got = read_from_start(fd, text, (size_t)st.st_size);
	if (got < 0)
		rc = fail_at(err, errlen, (int)got, path, 0, "cannot read: %s", strerror((int)-got));
	else if (got != st.st_size)
		rc = fail_at(err, errlen, -EIO, path, 0, "cannot read: it shrank while being read");
	if (rc == 0)
		rc = manifest_decode(text, (size_t)st.st_size, path, out, err, errlen);
	free(text);
	return rc;
}

int manifest_read_file(const char *path, struct manifest *out, char *err, size_t errlen)
{
	int rc, fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		memset(out, 0, sizeof(*out));
		return fail_at(err, errlen, -errno, path, 0, "cannot read: %s", strerror(errno));
	}
	rc = manifest_read_fd(fd, path, out, err, errlen);
	close(fd);
	return rc;
}
