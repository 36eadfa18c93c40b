/* options.c: parses lcrd's command line into struct lcrd_options (see lcrd(8)). Defaults
 * first, then each option checked as it comes, then the rules that tie options together:
 * exactly one of --plugin-fd and --foreground, and a full identity when the plugin starts
 * the helper. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/util.h"
#include "options.h"

enum option_id {
	OPT_JOB_ID = 256,
	OPT_STEP_ID,
	OPT_NODE_ID,
	OPT_NODE_COUNT,
	OPT_NODE_NAME,
	OPT_RANKS,
	OPT_STEP_NODES,
	OPT_JOB_NODES,
	OPT_RUNTIME_DIR,
	OPT_PLUGIN_FD,
	OPT_FOREGROUND,
	OPT_REGION_QUOTA,
	OPT_LOG_LEVEL,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{ "job-id", required_argument, NULL, OPT_JOB_ID },
	{ "step-id", required_argument, NULL, OPT_STEP_ID },
	{ "node-id", required_argument, NULL, OPT_NODE_ID },
	{ "node-count", required_argument, NULL, OPT_NODE_COUNT },
	{ "node-name", required_argument, NULL, OPT_NODE_NAME },
	{ "ranks", required_argument, NULL, OPT_RANKS },
	{ "step-nodes", required_argument, NULL, OPT_STEP_NODES },
	{ "job-nodes", required_argument, NULL, OPT_JOB_NODES },
	{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
	{ "plugin-fd", required_argument, NULL, OPT_PLUGIN_FD },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "region-quota", required_argument, NULL, OPT_REGION_QUOTA },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char usage[] =
	"Usage: lcrd --job-id=J [--step-id=S] [--node-id=N] [--node-count=M]\n"
	"            [--node-name=NAME] [--ranks=R0,R1,...] [--step-nodes=HOSTLIST]\n"
	"            [--job-nodes=HOSTLIST] [--runtime-dir=DIR] (--plugin-fd=FD | --foreground)\n"
	"            [--region-quota=BYTES] [--log-level=error|warning|info|verbose|debug]\n"
	"\n"
	"The LCR helper: one per node per job step. It holds the ranks' state memory, serves\n"
	"them on a UNIX control socket in DIR/<job>.<step>.<node-name>/lcrd.sock, and is\n"
	"normally started by the spank_lcr plugin with --plugin-fd. With --foreground it prints\n"
	"LCR_SOCKET=<path> once listening and runs until SIGTERM, SIGINT or a shutdown request.\n"
	"See lcrd(8).\n";

static int bad_option(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad_option(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_u32_option(const char *name, const char *value, uint32_t *out, char *err,
			    size_t errlen)
{
	if (util_parse_u32(value, out) < 0)
		return bad_option(err, errlen, "--%s=%s: not a number from 0 to 4294967295", name,
				  value);
	return 0;
}

static int replace_string(char **slot, const char *value, char *err, size_t errlen)
{
	free(*slot);
	*slot = strdup(value);
	return *slot ? 0 : bad_option(err, errlen, "out of memory");
}

/* Bit of an identity option (--job-id ... --runtime-dir) in the `seen` mask. */
#define SEEN(id) (1u << ((id) - OPT_JOB_ID))

/* Applies one option; `seen` gathers which identity options were given. */
static int apply_option(int id, const char *value, struct lcrd_options *o, unsigned *seen,
			char *err, size_t errlen)
{
	uint64_t quota;
	if (id >= OPT_JOB_ID && id <= OPT_RUNTIME_DIR)
		*seen |= SEEN(id);
	switch (id) {
	case OPT_JOB_ID:
		return parse_u32_option("job-id", value, &o->job_id, err, errlen);
	case OPT_STEP_ID:
		return parse_u32_option("step-id", value, &o->step_id, err, errlen);
	case OPT_NODE_ID:
		return parse_u32_option("node-id", value, &o->node_id, err, errlen);
	case OPT_NODE_COUNT:
		return parse_u32_option("node-count", value, &o->node_count, err, errlen);
	case OPT_NODE_NAME:
		if (*value == '\0' || strchr(value, '/') ||
		    util_copy_string(o->node_name, sizeof(o->node_name), value) < 0)
			return bad_option(err, errlen,
					  "--node-name=%s: must be 1 to %d characters without '/'",
					  value, WIRE_NODE_NAME_MAX);
		return 0;
	case OPT_RANKS:
		if (util_parse_rank_list(value, o->ranks, WIRE_MAX_LOCAL_RANKS, &o->rank_count) < 0)
			return bad_option(err, errlen,
					  "--ranks=%s: expected a comma-separated list of at most "
					  "%d ranks, such as 0,1,2 or 4-7",
					  value, WIRE_MAX_LOCAL_RANKS);
		return 0;
	case OPT_STEP_NODES:
		return replace_string(&o->step_nodes, value, err, errlen);
	case OPT_JOB_NODES:
		return replace_string(&o->job_nodes, value, err, errlen);
	case OPT_RUNTIME_DIR:
		if (*value != '/')
			return bad_option(err, errlen, "--runtime-dir=%s: must be an absolute path",
					  value);
		return replace_string(&o->runtime_dir, value, err, errlen);
	case OPT_PLUGIN_FD: {
		uint32_t fd;
		if (util_parse_u32(value, &fd) < 0 || fd < 3 || fd > 65535)
			return bad_option(err, errlen,
					  "--plugin-fd=%s: expected an inherited descriptor >= 3",
					  value);
		o->plugin_fd = (int)fd;
		return 0;
	}
	case OPT_FOREGROUND:
		o->foreground = true;
		return 0;
	case OPT_REGION_QUOTA:
		if (util_parse_size(value, &quota) < 0)
			return bad_option(err, errlen,
					  "--region-quota=%s: expected a byte count such as "
					  "68719476736 or 64G",
					  value);
		o->region_quota = quota;
		return 0;
	case OPT_LOG_LEVEL:
		if (log_level_parse(value, &o->log_level) < 0)
			return bad_option(err, errlen,
					  "--log-level=%s: expected error, warning, info, "
					  "verbose or debug",
					  value);
		return 0;
	default:
		return bad_option(err, errlen, "unknown option (see lcrd --help)");
	}
}

/* The rules between options, checked once all are read. */
static int check_combination(struct lcrd_options *o, unsigned seen, char *err, size_t errlen)
{
	static const int required_with_plugin[] = {
		OPT_STEP_ID, OPT_NODE_ID, OPT_NODE_COUNT, OPT_NODE_NAME, OPT_RUNTIME_DIR,
	};
	if (o->foreground == (o->plugin_fd >= 0))
		return bad_option(err, errlen, "exactly one of --plugin-fd and --foreground is needed");
	if (!(seen & SEEN(OPT_JOB_ID)))
		return bad_option(err, errlen, "--job-id is required");
	for (size_t i = 0; o->plugin_fd >= 0 && i < sizeof(required_with_plugin) / sizeof(int); i++)
		if (!(seen & SEEN(required_with_plugin[i])))
			return bad_option(err, errlen, "--%s is required with --plugin-fd",
					  long_options[required_with_plugin[i] - OPT_JOB_ID].name);
	if (o->node_count == 0 || o->node_id >= o->node_count)
		return bad_option(err, errlen, "--node-id=%u must be below --node-count=%u",
				  o->node_id, o->node_count);
	return 0;
}

static void set_defaults(struct lcrd_options *o)
{
	memset(o, 0, sizeof(*o));
	o->node_count = 1;
	o->plugin_fd = -1;
	o->log_level = LOG_LEVEL_INFO;
	if (gethostname(o->node_name, sizeof(o->node_name) - 1) < 0 || !o->node_name[0])
		strcpy(o->node_name, "localhost");
	o->node_name[sizeof(o->node_name) - 1] = '\0';
}

int options_parse(int argc, char **argv, struct lcrd_options *o, char *err, size_t errlen)
{
	unsigned seen = 0;
	int c, rc;
	set_defaults(o);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		if (c == OPT_HELP) {
			fputs(usage, stdout);
			return OPTIONS_EXIT;
		}
		if (c == OPT_VERSION) {
			printf("lcrd %s\n", PACKAGE_VERSION);
			return OPTIONS_EXIT;
		}
		if (c == '?' || c == ':')
			return bad_option(err, errlen, "%s '%s' (see lcrd --help)",
					  c == ':' ? "missing value for" : "unknown option",
					  argv[optind - 1]);
		rc = apply_option(c, optarg, o, &seen, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (optind < argc)
		return bad_option(err, errlen, "unexpected argument '%s' (see lcrd --help)",
				  argv[optind]);
	return check_combination(o, seen, err, errlen);
}

void options_free(struct lcrd_options *o)
{
	free(o->step_nodes);
	free(o->job_nodes);
	free(o->runtime_dir);
	o->step_nodes = o->job_nodes = o->runtime_dir = NULL;
}
