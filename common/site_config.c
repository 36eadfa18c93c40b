/*
 * site_config.c: LCR's site configuration: lcr.yaml and the plugin's plugstack arguments.
 *
 * The keys are the rows of LCR's one table of settings, lcr_settings[] (common/settings.c),
 * that have a yaml_key: its dotted name ("detect_timeout.min" is key min of the mapping
 * detect_timeout), its type, where it lives in struct lcr_site_config, its default (as
 * text, read by the same code as a site's value), its bounds and a one-line description.
 * Defaults, the YAML loader, plugstack overrides, error messages and
 * lcr_site_config_write_yaml() all read the table, so adding a key means one table row
 * (plus its entry in etc/lcr.yaml and doc/lcr.yaml.5, which the unit tests check).
 *
 * Every scalar value, whatever its source, goes through key_set(): parsed and checked into
 * a temporary, then stored, so a rejected value leaves the configuration as it was. The
 * loader uses libyaml's document API (the whole file as a tree of nodes, each with its
 * line), walks mappings recursively and hands each scalar to key_set() or each sequence to
 * load_path_sequence(). Rules that tie several keys together live in
 * lcr_site_config_check(), run once a source has been applied completely.
 */
#include "config.h"

#include "internal/site_config.h"
#include "internal/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define QUOTE_MAX 256		/* a value quoted in a message */
#define ORIGIN_MAX 512		/* "path:line" or "plugstack argument '...'" */
#define WHY_MAX 768		/* a value's message fragment (see parse.h) */
#define KEY_NAME_MAX 64		/* longest dotted key name, with room to spare */

/* The mapping whose keys lcr_site_config_check() relates to each other. */
#define TIMEOUT_SECTION "detect_timeout"

/* Whether row i of lcr_settings[] is a key of lcr.yaml. */
#define IS_KEY(i) (lcr_settings[i].yaml_key != NULL)

/* A file being loaded. */
struct yaml_source {
	const char *path;
	yaml_document_t *doc;
	struct lcr_site_config *cfg;
	unsigned long timeout_line;	/* line of TIMEOUT_SECTION, 0 if absent */
	char *err;
	size_t errlen;
};

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

/* Whether name is a mapping of keys ("detect_timeout"). */
static bool is_section(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < ARRAY_SIZE(lcr_settings); i++)
		if (IS_KEY(i) && strncmp(lcr_settings[i].yaml_key, name, len) == 0 &&
		    lcr_settings[i].yaml_key[len] == '.')
			return true;
	return false;
}

/*
 * Lists, comma-separated, the keys under prefix (every key if prefix is NULL): their full
 * dotted names, or only the next name segment ("detect_timeout" at the top, "min" inside
 * it) as they are written in YAML.
 */
static void list_keys(const char *prefix, bool full_names, char *buf, size_t buflen)
{
	size_t skip = prefix ? strlen(prefix) + 1 : 0;
	const char *last = "";
	size_t last_len = 0;
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(lcr_settings) && used < buflen; i++) {
		const char *name = lcr_settings[i].yaml_key;
		size_t len;

		if (!name)
			continue;
		if (prefix && !(strncmp(name, prefix, skip - 1) == 0 && name[skip - 1] == '.'))
			continue;
		name = full_names ? name : name + skip;
		len = full_names ? strlen(name) : strcspn(name, ".");
		if (len == last_len && strncmp(name, last, len) == 0)
			continue;
		used += (size_t)snprintf(buf + used, buflen - used, "%s%.*s", used ? ", " : "",
					 (int)len, name);
		last = name;
		last_len = len;
	}
}

static int unknown_key(char *err, size_t errlen, const char *origin, const char *name,
		       const char *prefix, bool full_names, const char *extra)
{
	char accepted[512];
	char quoted[QUOTE_MAX];

	list_keys(prefix, full_names, accepted, sizeof accepted);
	return fail(err, errlen, -EINVAL, "lcr: %s: unknown key '%s' (accepted: %s%s)", origin,
		    lcr_printable(name, quoted, sizeof quoted), extra ? extra : "", accepted);
}

/* Seconds as lcr_parse_seconds reads them back: at most 6 decimals, no trailing zeros. */
static void format_seconds(double seconds, char *buf, size_t buflen)
{
	size_t len;

	snprintf(buf, buflen, "%.*f", LCR_PARSE_MAX_DECIMALS, seconds);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
}

/* A path, a checkpoint directory pattern: as lcr_setting_canonical writes them. */
static int set_path(char *field, const struct lcr_setting_spec *key, const char *text,
		    char *why, size_t whylen)
{
	return lcr_setting_canonical(key, text, NULL, field, PATH_MAX, why, whylen);
}

static int set_seconds(double *field, const struct lcr_setting_spec *key, const char *text,
		       char *why, size_t whylen)
{
	double value;
	int rc;

	rc = lcr_parse_seconds(text, &value, why, whylen);
	if (rc == 0)
		rc = lcr_setting_check_range(key, value, text, why, whylen);
	if (rc == 0)
		*field = value;
	return rc;
}

static int set_bytes(uint64_t *field, const struct lcr_setting_spec *key, const char *text,
		     char *why, size_t whylen)
{
	uint64_t value;
	int rc;

	rc = lcr_parse_bytes(text, &value, why, whylen);
	if (rc == 0)
		rc = lcr_setting_check_range(key, (double)value, text, why, whylen);
	if (rc == 0)
		*field = value;
	return rc;
}

static int set_count(unsigned *field, const struct lcr_setting_spec *key, const char *text,
		     char *why, size_t whylen)
{
	uint64_t value;
	int rc;

	rc = lcr_parse_uint(text, &value, why, whylen);
	if (rc == 0)
		rc = lcr_setting_check_range(key, (double)value, text, why, whylen);
	if (rc == 0)
		*field = (unsigned)value;
	return rc;
}

static int set_redundancy(enum lcr_redundancy_mode *field, const char *text, char *why, size_t whylen)
{
	char quoted[256];
	int rc = lcr_redundancy_mode_parse(text, field);

	if (rc < 0)
		return fail(why, whylen, rc, "%s is not a redundancy method (accepted: none, copy, erasure, auto)",
			    lcr_printable(text, quoted, sizeof quoted));
	return 0;
}

/* Parses text as key's value and stores it; on error cfg is unchanged. */
static int key_set(struct lcr_site_config *cfg, const struct lcr_setting_spec *key, const char *text,
		   char *why, size_t whylen)
{
	void *field = (char *)cfg + key->site_field;

	switch (key->type) {
	case LCR_TYPE_PATH:
	case LCR_TYPE_PATH_OR_EMPTY:
	case LCR_TYPE_PATTERN:
		return set_path(field, key, text, why, whylen);
	case LCR_TYPE_PATH_LIST:
		return lcr_parse_path_list(text, field, why, whylen);
	case LCR_TYPE_SECONDS:
		return set_seconds(field, key, text, why, whylen);
	case LCR_TYPE_BOOL:
		return lcr_parse_bool(text, field, why, whylen);
	case LCR_TYPE_LOG_LEVEL:
		return lcr_parse_log_level(text, field, why, whylen);
	case LCR_TYPE_BYTES:
		return set_bytes(field, key, text, why, whylen);
	case LCR_TYPE_COUNT:
		return set_count(field, key, text, why, whylen);
	case LCR_TYPE_REDUNDANCY:
		return set_redundancy(field, text, why, whylen);
	case LCR_TYPE_RESTORE:
	case LCR_TYPE_REPLACE:
		break;
	}
	return fail(why, whylen, -EINVAL, "a setting of type %d cannot be a key of lcr.yaml",
		    (int)key->type);
}

/* What a key's value must look like, for wrong-type messages. */
static const char *key_expects(const struct lcr_setting_spec *key)
{
	switch (key->type) {
	case LCR_TYPE_PATH:
		return "an absolute path";
	case LCR_TYPE_PATH_OR_EMPTY:
		return "an absolute path or an empty string";
	case LCR_TYPE_PATTERN:
		return "an absolute path pattern, or one that starts with %h/";
	case LCR_TYPE_PATH_LIST:
		return "a sequence of absolute paths";
	case LCR_TYPE_SECONDS:
		return "a number of seconds";
	case LCR_TYPE_BOOL:
		return "a boolean";
	case LCR_TYPE_LOG_LEVEL:
		return "a log level";
	case LCR_TYPE_BYTES:
		return "a size in bytes";
	case LCR_TYPE_COUNT:
		return "a whole number";
	case LCR_TYPE_REDUNDANCY:
		return "none or copy";
	case LCR_TYPE_RESTORE:
	case LCR_TYPE_REPLACE:
		break;
	}
	return "a value";
}

void lcr_site_config_init_defaults(struct lcr_site_config *cfg)
{
	char why[WHY_MAX];

	memset(cfg, 0, sizeof *cfg);
	/* Defaults are constants, each checked by test_defaults_are_the_documented_ones. */
	for (size_t i = 0; i < ARRAY_SIZE(lcr_settings); i++)
		if (IS_KEY(i))
			(void)key_set(cfg, &lcr_settings[i], lcr_settings[i].default_text, why,
				      sizeof why);
}

void lcr_site_config_fini(struct lcr_site_config *cfg)
{
	lcr_path_list_clear(&cfg->ckpt_roots);
}

const char *lcr_site_config_key_name(size_t index)
{
	for (size_t i = 0; i < ARRAY_SIZE(lcr_settings); i++)
		if (IS_KEY(i) && index-- == 0)
			return lcr_settings[i].yaml_key;
	return NULL;
}

int lcr_site_config_set(struct lcr_site_config *cfg, const char *name, const char *value,
			const char *origin, char *err, size_t errlen)
{
	const struct lcr_setting_spec *key = lcr_setting_by_yaml_key(name);
	char accepted[256];
	char why[WHY_MAX];
	int rc;

	if (!key && is_section(name)) {
		list_keys(name, true, accepted, sizeof accepted);
		return fail(err, errlen, -EINVAL, "lcr: %s: key '%s' is a mapping: set one of its "
			    "keys instead (accepted: %s)", origin, name, accepted);
	}
	if (!key)
		return unknown_key(err, errlen, origin, name, NULL, true, NULL);
	rc = key_set(cfg, key, value, why, sizeof why);
	if (rc < 0)
		return fail(err, errlen, rc, "lcr: %s: key '%s': %s", origin, key->yaml_key, why);
	return 0;
}

int lcr_site_config_check(const struct lcr_site_config *cfg, const char *origin,
			  char *err, size_t errlen)
{
	char min[32];
	char def[32];
	char max[32];

	if (cfg->detect_timeout_min <= cfg->detect_timeout_default &&
	    cfg->detect_timeout_default <= cfg->detect_timeout_max)
		return 0;
	format_seconds(cfg->detect_timeout_min, min, sizeof min);
	format_seconds(cfg->detect_timeout_default, def, sizeof def);
	format_seconds(cfg->detect_timeout_max, max, sizeof max);
	return fail(err, errlen, -ERANGE, "lcr: %s: key '" TIMEOUT_SECTION "': min %s, default "
		    "%s and max %s are out of order (accepted: 0 < min <= default <= max <= "
		    "3600 seconds)", origin, min, def, max);
}

/* ---- loading lcr.yaml ---- */

static unsigned long node_line(const yaml_node_t *node)
{
	return (unsigned long)node->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* The text of a scalar node, or NULL if it holds a NUL byte (a "\0" escape). */
static const char *scalar_text(const yaml_node_t *node)
{
	const char *text = (const char *)node->data.scalar.value;

	return strlen(text) == node->data.scalar.length ? text : NULL;
}

/* "path:line", or "path" when line is 0. */
static const char *file_origin(const char *path, unsigned long line, char *buf, size_t buflen)
{
	char quoted[ORIGIN_MAX - 24];

	lcr_printable(path, quoted, sizeof quoted);
	if (line > 0)
		snprintf(buf, buflen, "%s:%lu", quoted, line);
	else
		snprintf(buf, buflen, "%s", quoted);
	return buf;
}

__attribute__((format(printf, 4, 5)))
static int yaml_fail(const struct yaml_source *src, unsigned long line, int rc,
		     const char *fmt, ...)
{
	char origin[ORIGIN_MAX];
	char message[WHY_MAX + KEY_NAME_MAX + 32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	return fail(src->err, src->errlen, rc, "lcr: %s: %s",
		    file_origin(src->path, line, origin, sizeof origin), message);
}

/* Errors about a value name the line of its key (a value may be an alias of a node elsewhere). */
static int load_scalar(struct yaml_source *src, const struct lcr_setting_spec *key, unsigned long line,
		       const yaml_node_t *value)
{
	char why[WHY_MAX];
	const char *text;
	int rc;

	if (value->type != YAML_SCALAR_NODE)
		return yaml_fail(src, line, -EINVAL, "key '%s': expected %s, found %s",
				 key->yaml_key, key_expects(key), node_kind(value));
	text = scalar_text(value);
	if (!text)
		return yaml_fail(src, line, -EINVAL, "key '%s': value holds a NUL "
				 "byte", key->yaml_key);
	rc = key_set(src->cfg, key, text, why, sizeof why);
	if (rc < 0)
		return yaml_fail(src, line, rc, "key '%s': %s", key->yaml_key, why);
	return 0;
}

static int load_path_sequence(struct yaml_source *src, const struct lcr_setting_spec *key,
			      unsigned long line, const yaml_node_t *value)
{
	struct lcr_path_list *field = (void *)((char *)src->cfg + key->site_field);
	struct lcr_path_list list = { 0 };
	char why[WHY_MAX];
	int rc = 0;

	if (value->type != YAML_SEQUENCE_NODE) {
		rc = yaml_fail(src, line, -EINVAL, "key '%s': expected %s, found %s",
			       key->yaml_key, key_expects(key), node_kind(value));
		goto out;
	}
	for (yaml_node_item_t *item = value->data.sequence.items.start;
	     item < value->data.sequence.items.top; item++) {
		const yaml_node_t *node = yaml_document_get_node(src->doc, *item);
		const char *text = node->type == YAML_SCALAR_NODE ? scalar_text(node) : NULL;

		if (!text) {
			rc = yaml_fail(src, node_line(node), -EINVAL, "key '%s': expected %s, found "
				       "%s in it", key->yaml_key, key_expects(key), node_kind(node));
			goto out;
		}
		rc = lcr_path_list_append(&list, text, why, sizeof why);
		if (rc < 0) {
			rc = yaml_fail(src, node_line(node), rc, "key '%s': %s", key->yaml_key, why);
			goto out;
		}
	}
	lcr_path_list_clear(field);
	*field = list;
	list = (struct lcr_path_list){ 0 };
out:
	lcr_path_list_clear(&list);
	return rc;
}

static int load_mapping(struct yaml_source *src, const char *prefix, const yaml_node_t *map);

/* Loads the value of the dotted key name, written at key_node. */
static int load_value(struct yaml_source *src, const char *prefix, const char *name,
		      const yaml_node_t *key_node, const yaml_node_t *value)
{
	const struct lcr_setting_spec *key = lcr_setting_by_yaml_key(name);
	char origin[ORIGIN_MAX];
	char accepted[256];

	if (key && key->type == LCR_TYPE_PATH_LIST)
		return load_path_sequence(src, key, node_line(key_node), value);
	if (key)
		return load_scalar(src, key, node_line(key_node), value);
	if (!is_section(name))
		return unknown_key(src->err, src->errlen,
				   file_origin(src->path, node_line(key_node), origin, sizeof origin),
				   name, prefix, false, NULL);
	if (value->type != YAML_MAPPING_NODE) {
		list_keys(name, false, accepted, sizeof accepted);
		return yaml_fail(src, node_line(key_node), -EINVAL, "key '%s': expected a mapping "
				 "of %s, found %s", name, accepted, node_kind(value));
	}
	if (strcmp(name, TIMEOUT_SECTION) == 0)
		src->timeout_line = node_line(key_node);
	return load_mapping(src, name, value);
}

/*
 * Checks the key of pair (a scalar, not seen earlier in map) and writes its dotted name
 * into name; a key that cannot be a name of the schema is reported as unknown.
 */
static int pair_key_name(struct yaml_source *src, const char *prefix, const yaml_node_t *map,
			 const yaml_node_pair_t *pair, char *name, size_t namelen)
{
	const yaml_node_t *key = yaml_document_get_node(src->doc, pair->key);
	const char *text = key->type == YAML_SCALAR_NODE ? scalar_text(key) : NULL;
	char origin[ORIGIN_MAX];
	int len;

	if (!text)
		return yaml_fail(src, node_line(key), -EINVAL, "expected a key name, found %s",
				 key->type == YAML_SCALAR_NODE ? "a NUL byte" : node_kind(key));
	len = prefix ? snprintf(name, namelen, "%s.%s", prefix, text)
		     : snprintf(name, namelen, "%s", text);
	if (strchr(text, '.') || len < 0 || (size_t)len >= namelen)
		return unknown_key(src->err, src->errlen,
				   file_origin(src->path, node_line(key), origin, sizeof origin),
				   text, prefix, false, NULL);
	for (const yaml_node_pair_t *seen = map->data.mapping.pairs.start; seen < pair; seen++) {
		const yaml_node_t *earlier = yaml_document_get_node(src->doc, seen->key);

		if (earlier->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)earlier->data.scalar.value, text) == 0)
			return yaml_fail(src, node_line(key), -EINVAL, "duplicate key '%s' (first "
					 "on line %lu)", name, node_line(earlier));
	}
	return 0;
}

static int load_mapping(struct yaml_source *src, const char *prefix, const yaml_node_t *map)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		char name[KEY_NAME_MAX];
		int rc;

		rc = pair_key_name(src, prefix, map, pair, name, sizeof name);
		if (rc == 0)
			rc = load_value(src, prefix, name,
					yaml_document_get_node(src->doc, pair->key),
					yaml_document_get_node(src->doc, pair->value));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int yaml_syntax_error(const char *path, const yaml_parser_t *parser,
			     char *err, size_t errlen)
{
	char origin[ORIGIN_MAX];
	char quoted[ORIGIN_MAX];

	if (parser->error == YAML_MEMORY_ERROR)
		return fail(err, errlen, -ENOMEM, "lcr: %s: out of memory while reading YAML",
			    lcr_printable(path, quoted, sizeof quoted));
	if (parser->error == YAML_READER_ERROR)
		return fail(err, errlen, -EINVAL, "lcr: %s: malformed YAML: %s at byte %zu",
			    lcr_printable(path, quoted, sizeof quoted), parser->problem,
			    parser->problem_offset);
	file_origin(path, (unsigned long)parser->problem_mark.line + 1, origin, sizeof origin);
	if (parser->context)
		return fail(err, errlen, -EINVAL, "lcr: %s: malformed YAML: %s (%s on line %lu)",
			    origin, parser->problem ? parser->problem : "error", parser->context,
			    (unsigned long)parser->context_mark.line + 1);
	return fail(err, errlen, -EINVAL, "lcr: %s: malformed YAML: %s", origin,
		    parser->problem ? parser->problem : "error");
}

/* Opens path for reading if it is a regular file. */
static int open_config_file(const char *path, FILE **file, char *err, size_t errlen)
{
	char quoted[ORIGIN_MAX];
	char reason[128];
	struct stat st;
	int rc = 0;
	int fd;

	lcr_printable(path, quoted, sizeof quoted);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "lcr: cannot read site config '%s': %s", quoted,
		     strerror_r(-rc, reason, sizeof reason));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(err, errlen, -EINVAL, "lcr: cannot read site config '%s': not a regular "
			  "file", quoted);
		goto out;
	}
	*file = fdopen(fd, "r");
	if (!*file) {
		rc = -errno;
		fail(err, errlen, rc, "lcr: cannot read site config '%s': %s", quoted,
		     strerror_r(-rc, reason, sizeof reason));
		goto out;
	}
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Fails if the stream holds another document after the one already loaded. */
static int expect_end_of_stream(const char *path, yaml_parser_t *parser, char *err, size_t errlen)
{
	yaml_document_t extra;
	yaml_node_t *root;
	unsigned long line = 0;
	char origin[ORIGIN_MAX];

	if (!yaml_parser_load(parser, &extra))
		return yaml_syntax_error(path, parser, err, errlen);
	root = yaml_document_get_root_node(&extra);
	if (root)
		line = node_line(root);
	yaml_document_delete(&extra);
	if (line == 0)
		return 0;
	return fail(err, errlen, -EINVAL, "lcr: %s: a second YAML document (a site config holds "
		    "one)", file_origin(path, line, origin, sizeof origin));
}

static int load_document(struct yaml_source *src)
{
	const yaml_node_t *root = yaml_document_get_root_node(src->doc);
	char origin[ORIGIN_MAX];
	int rc;

	/* No document, or "---" alone (an empty plain scalar, YAML's null): nothing to set. */
	if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0 &&
		      root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return yaml_fail(src, node_line(root), -EINVAL, "expected a mapping of keys at the "
				 "top level, found %s", node_kind(root));
	rc = load_mapping(src, NULL, root);
	if (rc < 0)
		return rc;
	return lcr_site_config_check(src->cfg,
				     file_origin(src->path, src->timeout_line, origin,
						 sizeof origin),
				     src->err, src->errlen);
}

int lcr_site_config_load_file(struct lcr_site_config *cfg, const char *path,
			      char *err, size_t errlen)
{
	struct yaml_source src = { .path = path, .cfg = cfg, .err = err, .errlen = errlen };
	yaml_document_t doc;
	yaml_parser_t parser;
	bool parser_ready = false;
	bool doc_ready = false;
	FILE *file = NULL;
	int rc;

	rc = open_config_file(path, &file, err, errlen);
	if (rc < 0)
		goto out;
	parser_ready = yaml_parser_initialize(&parser);
	if (!parser_ready) {
		rc = fail(err, errlen, -ENOMEM, "lcr: cannot read site config '%s': out of memory",
			  path);
		goto out;
	}
	yaml_parser_set_input_file(&parser, file);
	doc_ready = yaml_parser_load(&parser, &doc);
	if (!doc_ready) {
		rc = yaml_syntax_error(path, &parser, err, errlen);
		goto out;
	}
	rc = expect_end_of_stream(path, &parser, err, errlen);
	if (rc < 0)
		goto out;
	src.doc = &doc;
	rc = load_document(&src);
out:
	if (doc_ready)
		yaml_document_delete(&doc);
	if (parser_ready)
		yaml_parser_delete(&parser);
	if (file)
		fclose(file);
	return rc;
}

/* ---- plugstack arguments ---- */

#define CONFIG_ARGUMENT "config="

/* Finds the one config=PATH argument, if any, and sets *path to PATH. */
static int find_config_argument(int argc, char **argv, const char **path,
				char *err, size_t errlen)
{
	char quoted[QUOTE_MAX];

	*path = NULL;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (strncmp(arg, CONFIG_ARGUMENT, strlen(CONFIG_ARGUMENT)) != 0)
			continue;
		lcr_printable(arg, quoted, sizeof quoted);
		if (*path)
			return fail(err, errlen, -EINVAL, "lcr: plugstack argument '%s': config given "
				    "twice (a plugin reads one file)", quoted);
		if (arg[strlen(CONFIG_ARGUMENT)] == '\0')
			return fail(err, errlen, -EINVAL, "lcr: plugstack argument '%s': config "
				    "needs the path of an lcr.yaml", quoted);
		*path = arg + strlen(CONFIG_ARGUMENT);
	}
	return 0;
}

/* Applies one key=value plugstack argument (not config=). */
static int apply_plugstack_argument(struct lcr_site_config *cfg, const char *arg,
				    char *err, size_t errlen)
{
	const char *equals = strchr(arg, '=');
	char origin[ORIGIN_MAX];
	char quoted[QUOTE_MAX];
	char name[KEY_NAME_MAX];
	size_t len = equals ? (size_t)(equals - arg) : 0;

	snprintf(origin, sizeof origin, "plugstack argument '%s'",
		 lcr_printable(arg, quoted, sizeof quoted));
	if (!equals)
		return fail(err, errlen, -EINVAL, "lcr: %s: expected key=value", origin);
	snprintf(name, sizeof name, "%.*s", (int)len, arg);
	if (len >= sizeof name || (!lcr_setting_by_yaml_key(name) && !is_section(name)))
		return unknown_key(err, errlen, origin, name, NULL, true, "config, ");
	return lcr_site_config_set(cfg, name, equals + 1, origin, err, errlen);
}

int lcr_site_config_from_plugstack(struct lcr_site_config *cfg, int argc, char **argv,
				   char *err, size_t errlen)
{
	const char *path;
	int overrides = 0;
	int rc;

	lcr_site_config_init_defaults(cfg);
	rc = find_config_argument(argc, argv, &path, err, errlen);
	if (rc == 0 && path)
		rc = lcr_site_config_load_file(cfg, path, err, errlen);
	for (int i = 0; i < argc && rc == 0; i++) {
		if (strncmp(argv[i], CONFIG_ARGUMENT, strlen(CONFIG_ARGUMENT)) == 0)
			continue;
		rc = apply_plugstack_argument(cfg, argv[i], err, errlen);
		overrides++;
	}
	if (rc == 0 && overrides > 0)
		rc = lcr_site_config_check(cfg, "plugstack arguments", err, errlen);
	return rc;
}

/* ---- writing lcr.yaml ---- */

/* Writes text as a YAML single-quoted scalar (paths hold no control characters). */
static void write_quoted(FILE *out, const char *text)
{
	fputc('\'', out);
	for (const char *c = text; *c; c++) {
		if (*c == '\'')
			fputc('\'', out);
		fputc(*c, out);
	}
	fputc('\'', out);
}

static void write_path_list(FILE *out, const struct lcr_path_list *list, const char *indent)
{
	if (list->count == 0) {
		fputs(" []\n", out);
		return;
	}
	fputc('\n', out);
	for (size_t i = 0; i < list->count; i++) {
		fprintf(out, "%s  - ", indent);
		write_quoted(out, list->paths[i]);
		fputc('\n', out);
	}
}

/* Writes " value\n" for key (or a block sequence starting on the next line). */
static void write_value(FILE *out, const struct lcr_site_config *cfg,
			const struct lcr_setting_spec *key, const char *indent)
{
	const void *field = (const char *)cfg + key->site_field;
	char text[64];

	switch (key->type) {
	case LCR_TYPE_PATH:
	case LCR_TYPE_PATH_OR_EMPTY:
	case LCR_TYPE_PATTERN:
		fputc(' ', out);
		write_quoted(out, field);
		fputc('\n', out);
		return;
	case LCR_TYPE_PATH_LIST:
		write_path_list(out, field, indent);
		return;
	case LCR_TYPE_SECONDS:
		format_seconds(*(const double *)field, text, sizeof text);
		break;
	case LCR_TYPE_BOOL:
		snprintf(text, sizeof text, "%s", *(const bool *)field ? "true" : "false");
		break;
	case LCR_TYPE_LOG_LEVEL:
		snprintf(text, sizeof text, "%s",
			 lcr_log_level_name(*(const enum lcr_log_level *)field));
		break;
	case LCR_TYPE_BYTES:
		lcr_setting_format_bytes(*(const uint64_t *)field, text, sizeof text);
		break;
	case LCR_TYPE_COUNT:
		snprintf(text, sizeof text, "%u", *(const unsigned *)field);
		break;
	case LCR_TYPE_REDUNDANCY:
		snprintf(text, sizeof text, "%s",
			 lcr_redundancy_mode_name(*(const enum lcr_redundancy_mode *)field));
		break;
	case LCR_TYPE_RESTORE:
	case LCR_TYPE_REPLACE:
		return;
	}
	fprintf(out, " %s\n", text);
}

/* The site's value of a row that is a number, as a double. */
static double site_number(const struct lcr_site_config *cfg, const struct lcr_setting_spec *spec)
{
	const void *field = (const char *)cfg + spec->site_field;

	switch (spec->type) {
	case LCR_TYPE_SECONDS:
		return *(const double *)field;
	case LCR_TYPE_BYTES:
		return (double)*(const uint64_t *)field;
	case LCR_TYPE_COUNT:
		return *(const unsigned *)field;
	default:
		return NAN;
	}
}

void lcr_site_config_user_bounds(const struct lcr_site_config *cfg, const struct lcr_setting_spec *spec,
				 struct lcr_setting_bounds *out)
{
	const struct lcr_setting_spec *min = spec->user_min_key ? lcr_setting_by_yaml_key(spec->user_min_key) : NULL;
	const struct lcr_setting_spec *max = spec->user_max_key ? lcr_setting_by_yaml_key(spec->user_max_key) : NULL;

	*out = spec->bounds;
	if (min) {
		out->min = site_number(cfg, min);
		out->min_exclusive = false;
	}
	if (max)
		out->max = site_number(cfg, max);
}

int lcr_site_config_value_text(const struct lcr_site_config *cfg, const struct lcr_setting_spec *spec,
			       char *out, size_t cap, char *err, size_t errlen)
{
	const void *field = (const char *)cfg + spec->site_field;
	int len = -1;

	switch (spec->yaml_key ? spec->type : LCR_TYPE_RESTORE) {
	case LCR_TYPE_PATH:
	case LCR_TYPE_PATH_OR_EMPTY:
	case LCR_TYPE_PATTERN:
		len = snprintf(out, cap, "%s", (const char *)field);
		break;
	case LCR_TYPE_PATH_LIST:
		return lcr_path_list_join(field, out, cap, err, errlen);
	case LCR_TYPE_SECONDS:
		len = snprintf(out, cap, "%.3f", *(const double *)field);
		break;
	case LCR_TYPE_BOOL:
		len = snprintf(out, cap, "%s", *(const bool *)field ? "true" : "false");
		break;
	case LCR_TYPE_LOG_LEVEL:
		len = snprintf(out, cap, "%s", lcr_log_level_name(*(const enum lcr_log_level *)field));
		break;
	case LCR_TYPE_BYTES:
		len = snprintf(out, cap, "%" PRIu64, *(const uint64_t *)field);
		break;
	case LCR_TYPE_COUNT:
		len = snprintf(out, cap, "%u", *(const unsigned *)field);
		break;
	case LCR_TYPE_REDUNDANCY:
		len = snprintf(out, cap, "%s",
			       lcr_redundancy_mode_name(*(const enum lcr_redundancy_mode *)field));
		break;
	case LCR_TYPE_RESTORE:
	case LCR_TYPE_REPLACE:
		return fail(err, errlen, -EINVAL, "not a key of lcr.yaml");
	}
	if (len < 0 || (size_t)len >= cap)
		return fail(err, errlen, -ENAMETOOLONG, "value too long for lcrd (%d bytes)", len);
	return 0;
}

int lcr_site_config_write_yaml(const struct lcr_site_config *cfg, FILE *out)
{
	const char *section = "";
	size_t section_len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(lcr_settings); i++) {
		const struct lcr_setting_spec *key = &lcr_settings[i];
		const char *dot;
		size_t len;
		const char *indent;

		if (!key->yaml_key)
			continue;
		dot = strchr(key->yaml_key, '.');
		len = dot ? (size_t)(dot - key->yaml_key) : 0;
		indent = dot ? "  " : "";
		if (dot && (len != section_len || strncmp(section, key->yaml_key, len) != 0))
			fprintf(out, "%s%.*s:\n", i ? "\n" : "", (int)len, key->yaml_key);
		else if (i > 0)
			fputc('\n', out);
		section = key->yaml_key;
		section_len = len;
		fprintf(out, "%s# %s\n%s%s:", indent, key->doc, indent, dot ? dot + 1 : key->yaml_key);
		write_value(out, cfg, key, indent);
	}
	return ferror(out) || fflush(out) != 0 ? -EIO : 0;
}
