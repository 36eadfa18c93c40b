/* options.c: parses lcrd's command line into struct lcrd_options (see lcrd(8)). Defaults
 * first, then each option checked as it comes, then the rules that tie options together:
 * exactly one of --plugin-fd and --foreground, and a full identity when the plugin starts
 * the helper; for --rendezvous-server, exactly one of --listen-fd and --listen. The options
 * that carry a setting (--ckpt-keep, --replace, ...) are not listed here: they are the rows
 * of lcr_settings[] with an lcrd_arg, read with the row's default, bounds and message by
 * apply_setting(). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop/options.h"
#include "internal/parse.h"
#include "internal/util.h"

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
	OPT_RENDEZVOUS,
	OPT_RENDEZVOUS_SERVER,
	OPT_LISTEN_FD,
	OPT_LISTEN,
	OPT_PARENT_PIDFD,
	OPT_RENDEZVOUS_WAIT,
	OPT_REPLACE_TIMEOUT,
	OPT_LAUNCHER,
	OPT_REJOIN,
	OPT_JOB_ENV_FD,
	OPT_HELP,
	OPT_VERSION,
	OPT_SETTING, /* OPT_SETTING + i: the lcrd_arg of lcr_settings[i] */
};

_Static_assert((int)LCR_RESTORE_NEVER == (int)WIRE_RESTORE_NEVER &&
		       (int)LCR_RESTORE_AUTO == (int)WIRE_RESTORE_AUTO &&
		       (int)LCR_RESTORE_PATH == (int)WIRE_RESTORE_PATH,
	       "lcrd puts its restore mode on the wire as it is");

/* How much longer a setting's canonical text may be than the value given: a byte count's
 * digits ("1G" is 1073741824), seconds' decimals ("2" is 2.000), "true" for "1". */
#define LCRD_CANONICAL_GROWTH 32

/* Where struct lcrd_options keeps each setting lcrd takes; 0: lcrd does not take it. */
static const size_t setting_field[LCR_SETTING_COUNT] = {
	[LCR_SETTING_CKPT_DIR] = offsetof(struct lcrd_options, ckpt_dir),
	[LCR_SETTING_CKPT_ROOTS] = offsetof(struct lcrd_options, ckpt_roots),
	[LCR_SETTING_CKPT_KEEP] = offsetof(struct lcrd_options, ckpt_keep),
	[LCR_SETTING_DETECT_TIMEOUT] = offsetof(struct lcrd_options, detect_timeout_ms),
	[LCR_SETTING_LOG_LEVEL] = offsetof(struct lcrd_options, log_level),
	[LCR_SETTING_MUNGE_SOCKET] = offsetof(struct lcrd_options, munge_socket),
	[LCR_SETTING_REGION_QUOTA] = offsetof(struct lcrd_options, region_quota),
	[LCR_SETTING_HEARTBEAT_PEERS] = offsetof(struct lcrd_options, heartbeat_peers),
	[LCR_SETTING_WIRE_ENCRYPTION] = offsetof(struct lcrd_options, wire_encryption),
	[LCR_SETTING_RESTORE] = offsetof(struct lcrd_options, restore),
	[LCR_SETTING_REPLACE] = offsetof(struct lcrd_options, replace),
	[LCR_SETTING_REDUNDANCY] = offsetof(struct lcrd_options, redundancy),
	[LCR_SETTING_REDUNDANCY_COPIES] = offsetof(struct lcrd_options, redundancy_copies),
	[LCR_SETTING_REDUNDANCY_GROUP_SIZE] = offsetof(struct lcrd_options, redundancy_group_size),
	[LCR_SETTING_REDUNDANCY_PARITY] = offsetof(struct lcrd_options, redundancy_parity),
	[LCR_SETTING_SNAPSHOT_EVERY] = offsetof(struct lcrd_options, snapshot_every),
	[LCR_SETTING_SNAPSHOT_HOLD_MAX] = offsetof(struct lcrd_options, snapshot_hold_max_ms),
	[LCR_SETTING_REDUNDANCY_MEMORY_MAX] = offsetof(struct lcrd_options, redundancy_memory_max),
};

/* lcrd's own options; build_long_options() adds the settings' after them. */
static const struct option own_options[] = {
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
	{ "rendezvous", required_argument, NULL, OPT_RENDEZVOUS },
	{ "rendezvous-server", no_argument, NULL, OPT_RENDEZVOUS_SERVER },
	{ "listen-fd", required_argument, NULL, OPT_LISTEN_FD },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "parent-pidfd", required_argument, NULL, OPT_PARENT_PIDFD },
	{ "rendezvous-wait", required_argument, NULL, OPT_RENDEZVOUS_WAIT },
	{ "job-env-fd", required_argument, NULL, OPT_JOB_ENV_FD },
	{ "replace-timeout", required_argument, NULL, OPT_REPLACE_TIMEOUT },
	{ "launcher", required_argument, NULL, OPT_LAUNCHER },
	{ "rejoin", required_argument, NULL, OPT_REJOIN },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
};

#define OWN_OPTION_COUNT (sizeof(own_options) / sizeof(own_options[0]))

/* own_options, then a row per setting with an lcrd_arg, then the end. */
static struct option long_options[OWN_OPTION_COUNT + LCR_SETTING_COUNT + 1];

static void build_long_options(void)
{
	size_t n = OWN_OPTION_COUNT;

	memcpy(long_options, own_options, sizeof(own_options));
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++)
		if (lcr_settings[i].lcrd_arg)
			long_options[n++] = (struct option){ lcr_settings[i].lcrd_arg, required_argument,
							     NULL, OPT_SETTING + (int)i };
	long_options[n] = (struct option){ NULL, 0, NULL, 0 };
}

static const char usage[] =
	"Usage: lcrd --job-id=J [--step-id=S] [--node-id=N] [--node-count=M]\n"
	"            [--node-name=NAME] [--ranks=R0,R1,...] [--step-nodes=HOSTLIST]\n"
	"            [--job-nodes=HOSTLIST] [--runtime-dir=DIR] (--plugin-fd=FD | --foreground)\n"
	"            [--region-quota=BYTES] [--log-level=error|warning|info|verbose|debug]\n"
	"            [--rendezvous=HOST:PORT] [--munge-socket=PATH] [--detect-timeout=SECONDS]\n"
	"            [--heartbeat-peers=K] [--rendezvous-wait=SECONDS]\n"
	"            [--wire-encryption=true|false]\n"
	"            [--ckpt-dir=DIR] [--restore=auto|never|PATH] [--ckpt-keep=N]\n"
	"            [--ckpt-roots=DIR[:DIR...]]\n"
	"            [--replace=spare|none] [--replace-timeout=SECONDS] [--launcher=PATH]\n"
	"            [--rejoin=HOST:PORT] [--job-env-fd=FD]\n"
	"            [--redundancy=none|copy|erasure|auto] [--redundancy-copies=K]\n"
	"            [--redundancy-group-size=G] [--redundancy-parity=M] [--snapshot-every=N]\n"
	"            [--snapshot-hold-max=SECONDS]\n"
	"            [--redundancy-memory-max=BYTES] [-- PROGRAM ARGS...]\n"
	"       lcrd --rendezvous-server --job-id=J --step-id=S (--listen-fd=FD | --listen=HOST:PORT)\n"
	"            [--parent-pidfd=FD] [--munge-socket=PATH] [--rendezvous-wait=SECONDS]\n"
	"            [--wire-encryption=true|false]\n"
	"\n"
	"The LCR helper: one per node per job step. It holds the ranks' state memory, serves\n"
	"them on a UNIX control socket in DIR/<job>.<step>.<node-name>/lcrd.sock, and is\n"
	"normally started by the spank_lcr plugin with --plugin-fd. With --foreground it prints\n"
	"LCR_SOCKET=<path> once listening and runs until SIGTERM, SIGINT or a shutdown request.\n"
	"With --rendezvous, it joins the step's mesh of helpers (the token comes from\n"
	"$LCR_RENDEZVOUS_TOKEN) to detect dead nodes and ranks. --rendezvous-server runs the\n"
	"step's rendezvous instead; with --listen it prints LCR_RENDEZVOUS=<port>.\n"
	"With --replace=spare, the leader replaces a dead node by running --launcher (srun)\n"
	"for PROGRAM ARGS on a spare node of --job-nodes; the replacement's lcrd joins the\n"
	"mesh with --rejoin=HOST:PORT (a live helper) instead of --rendezvous.\n"
	"See lcrd(8) and doc/mesh.md.\n";

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

static int parse_fd_option(const char *name, const char *value, int *out, char *err,
			   size_t errlen)
{
	uint32_t fd;
	if (util_parse_u32(value, &fd) < 0 || fd < 3 || fd > 65535)
		return bad_option(err, errlen, "--%s=%s: expected an inherited descriptor >= 3",
				  name, value);
	*out = (int)fd;
	return 0;
}

int options_split_host_port(const char *text, char *host, size_t cap, uint16_t *port)
{
	const char *colon = strrchr(text, ':'), *start = text, *end;
	uint32_t value;
	if (!colon || util_parse_u32(colon + 1, &value) < 0 || value > 65535)
		return -EINVAL;
	end = colon;
	if (*start == '[') {
		if (end == start || end[-1] != ']')
			return -EINVAL;
		start++;
		end--;
	}
	if (end == start || (size_t)(end - start) >= cap)
		return -EINVAL;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	*port = (uint16_t)value;
	return 0;
}

static int replace_string(char **slot, const char *value, char *err, size_t errlen)
{
	free(*slot);
	*slot = strdup(value);
	return *slot ? 0 : bad_option(err, errlen, "out of memory");
}

/* "--ARG=VALUE: " and the row's message, then why (as the plugin's check words it); why
 * alone when the row has no message. */
static int bad_setting(const struct lcr_setting_spec *spec, const char *value, const char *why, char *err,
		       size_t errlen)
{
	if (!spec->lcrd_expects)
		return bad_option(err, errlen, "--%s=%s: %s", spec->lcrd_arg, value, why);
	return bad_option(err, errlen, "--%s=%s: %s (%s)", spec->lcrd_arg, value, spec->lcrd_expects, why);
}

/*
 * The row as lcrd checks it: the plugin passes the checkpoint directory with its pattern
 * expanded (a literal '%' may be left, from "%%"), so lcrd checks that one as a path.
 */
static struct lcr_setting_spec as_lcrd_reads_it(const struct lcr_setting_spec *spec)
{
	struct lcr_setting_spec lcrd_spec = *spec;

	if (lcrd_spec.type == LCR_TYPE_PATTERN)
		lcrd_spec.type = LCR_TYPE_PATH;
	return lcrd_spec;
}

/* Seconds written by lcr_setting_canonical ("2.000"), within lcrd's bounds, into ms. */
static void store_milliseconds(const char *seconds, uint32_t *out_ms)
{
	*out_ms = (uint32_t)(strtod(seconds, NULL) * 1000 + 0.5);
}

/* auto, never, or the path of a checkpoint (kept in restore_path). */
static int store_restore(const char *text, struct lcrd_options *o, char *why, size_t whylen)
{
	if (lcr_restore_mode_parse(text, &o->restore) == 0)
		return 0;
	o->restore = LCR_RESTORE_PATH;
	return replace_string(&o->restore_path, text, why, whylen);
}

/*
 * Stores a setting's canonical text (lcr_setting_canonical, already checked against
 * lcrd's bounds) into field, by the row's type: a conversion, not a second check.
 */
static int store_setting(const struct lcr_setting_spec *spec, const char *text, void *field,
			 struct lcrd_options *o, char *why, size_t whylen)
{
	switch (spec->type) {
	case LCR_TYPE_PATH:
	case LCR_TYPE_PATTERN:
	case LCR_TYPE_PATH_OR_EMPTY:
		return replace_string(field, text, why, whylen);
	case LCR_TYPE_PATH_LIST:
		return lcr_parse_path_list(text, field, why, whylen);
	case LCR_TYPE_SECONDS:
		store_milliseconds(text, field);
		return 0;
	case LCR_TYPE_COUNT:
		return util_parse_u32(text, field);
	case LCR_TYPE_BYTES:
		return util_parse_u64(text, field);
	case LCR_TYPE_LOG_LEVEL:
		return log_level_parse(text, field);
	case LCR_TYPE_RESTORE:
		return store_restore(text, o, why, whylen);
	case LCR_TYPE_REPLACE:
		return lcr_replace_mode_parse(text, field);
	case LCR_TYPE_REDUNDANCY:
		return lcr_redundancy_mode_parse(text, field);
	case LCR_TYPE_BOOL:
		*(bool *)field = strcmp(text, "true") == 0;
		return 0;
	}
	return -EINVAL;
}

/*
 * One option that carries a setting: checked by lcr_setting_canonical, as the plugin and
 * the site configuration check it but within lcrd's bounds, then stored. On error the
 * message names the option and what is accepted.
 */
static int apply_setting(enum lcr_setting setting, const char *value, struct lcrd_options *o, char *err,
			 size_t errlen)
{
	const struct lcr_setting_spec lcrd_spec = as_lcrd_reads_it(&lcr_settings[setting]);
	size_t cap = strlen(value) + LCRD_CANONICAL_GROWTH;
	char why[512] = "not accepted";
	char *text;
	int rc;

	if (!setting_field[setting])
		return bad_option(err, errlen, "--%s: lcrd keeps no field for this setting", lcrd_spec.lcrd_arg);
	text = malloc(cap);
	if (!text)
		return bad_option(err, errlen, "--%s: out of memory", lcrd_spec.lcrd_arg);
	rc = lcr_setting_canonical(&lcrd_spec, value, &lcrd_spec.lcrd_bounds, text, cap, why, sizeof(why));
	if (rc == 0)
		rc = store_setting(&lcrd_spec, text, (char *)o + setting_field[setting], o, why, sizeof(why));
	free(text);
	return rc < 0 ? bad_setting(&lcrd_spec, value, why, err, errlen) : 0;
}

/* Bit of an identity option (--job-id ... --runtime-dir) in the `seen` mask. */
#define SEEN(id) (1u << ((id) - OPT_JOB_ID))

static int apply_mesh_option(int id, const char *value, struct lcrd_options *o, char *err,
			     size_t errlen);
static int apply_recovery_option(int id, const char *value, struct lcrd_options *o, char *err,
				 size_t errlen);

/* "HOST:PORT" with a non-zero port when port_required. */
static int parse_address_option(const char *name, const char *value, bool port_required,
				char **slot, char *err, size_t errlen)
{
	char host[256];
	uint16_t port;
	if (options_split_host_port(value, host, sizeof(host), &port) < 0 ||
	    (port_required && port == 0))
		return bad_option(err, errlen,
				  "--%s=%s: expected HOST:PORT, such as 10.0.0.1:40000 or "
				  "[fe80::1]:40000",
				  name, value);
	return replace_string(slot, value, err, errlen);
}

/* Applies one option; `seen` gathers which identity options were given. */
static int apply_option(int id, const char *value, struct lcrd_options *o, unsigned *seen,
			char *err, size_t errlen)
{
	if (id >= OPT_SETTING) {
		o->setting_given[id - OPT_SETTING] = value;
		return apply_setting((enum lcr_setting)(id - OPT_SETTING), value, o, err, errlen);
	}
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
	default:
		return apply_mesh_option(id, value, o, err, errlen);
	}
}

/* --replace, --replace-timeout, --launcher and --rejoin (in-job recovery). */
static int apply_recovery_option(int id, const char *value, struct lcrd_options *o, char *err,
				 size_t errlen)
{
	uint32_t number;
	switch (id) {
	case OPT_REPLACE_TIMEOUT:
		if (util_parse_u32(value, &number) < 0 || number < 1 || number > 86400)
			return bad_option(err, errlen,
					  "--replace-timeout=%s: expected seconds from 1 to 86400",
					  value);
		o->replace_timeout_s = number;
		return 0;
	case OPT_LAUNCHER:
		if (*value == '\0')
			return bad_option(err, errlen,
					  "--launcher=: expected a program (a path, or a name looked "
					  "up in PATH)");
		return replace_string(&o->launcher, value, err, errlen);
	case OPT_REJOIN:
		return parse_address_option("rejoin", value, true, &o->rejoin, err, errlen);
	case OPT_JOB_ENV_FD:
		if (util_parse_u32(value, &number) < 0 || number < 3 || number > 65535)
			return bad_option(err, errlen,
					  "--job-env-fd=%s: expected an inherited descriptor >= 3", value);
		o->job_env_fd = (int)number;
		return 0;
	default:
		return bad_option(err, errlen, "unknown option (see lcrd --help)");
	}
}

/* The mesh's options and those of --rendezvous-server. */
static int apply_mesh_option(int id, const char *value, struct lcrd_options *o, char *err,
			     size_t errlen)
{
	uint32_t number;
	switch (id) {
	case OPT_RENDEZVOUS:
		return parse_address_option("rendezvous", value, true, &o->rendezvous, err, errlen);
	case OPT_RENDEZVOUS_SERVER:
		o->rendezvous_server = true;
		return 0;
	case OPT_LISTEN_FD:
		return parse_fd_option("listen-fd", value, &o->listen_fd, err, errlen);
	case OPT_LISTEN:
		return parse_address_option("listen", value, false, &o->listen, err, errlen);
	case OPT_PARENT_PIDFD:
		return parse_fd_option("parent-pidfd", value, &o->parent_pidfd, err, errlen);
	case OPT_RENDEZVOUS_WAIT:
		if (util_parse_u32(value, &number) < 0 || number < 1 || number > 86400)
			return bad_option(err, errlen,
					  "--rendezvous-wait=%s: expected seconds from 1 to 86400",
					  value);
		o->rendezvous_wait_s = number;
		return 0;
	default:
		return apply_recovery_option(id, value, o, err, errlen);
	}
}

/* --rendezvous-server needs its socket and its step; the helper's options do not apply. */
static int check_server_combination(struct lcrd_options *o, unsigned seen, char *err,
				    size_t errlen)
{
	if (o->foreground || o->plugin_fd >= 0 || o->rendezvous || o->rejoin)
		return bad_option(err, errlen,
				  "--rendezvous-server cannot be combined with --foreground, "
				  "--plugin-fd, --rendezvous or --rejoin");
	if ((o->listen_fd >= 0) == (o->listen != NULL))
		return bad_option(err, errlen,
				  "--rendezvous-server needs exactly one of --listen-fd and --listen");
	if (!(seen & SEEN(OPT_JOB_ID)))
		return bad_option(err, errlen, "--job-id is required");
	return 0;
}

/* The rules between options, checked once all are read. */
static int check_combination(struct lcrd_options *o, unsigned seen, char *err, size_t errlen)
{
	if (o->rendezvous_server)
		return check_server_combination(o, seen, err, errlen);
	if (o->listen_fd >= 0 || o->listen || o->parent_pidfd >= 0)
		return bad_option(err, errlen,
				  "--listen-fd, --listen and --parent-pidfd belong to "
				  "--rendezvous-server");
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
	if (o->rejoin && o->rendezvous)
		return bad_option(err, errlen,
				  "--rejoin and --rendezvous cannot be combined: a replacement "
				  "joins the mesh through a live helper (--rejoin), not the "
				  "rendezvous");
	if (o->rejoin && (!(seen & SEEN(OPT_NODE_ID)) || !(seen & SEEN(OPT_NODE_COUNT)) ||
			  !(seen & SEEN(OPT_STEP_ID))))
		return bad_option(err, errlen,
				  "--rejoin needs --step-id, --node-id and --node-count: the step "
				  "and the node this helper replaces");
	if (o->redundancy == LCR_REDUNDANCY_ERASURE && o->redundancy_parity >= o->redundancy_group_size)
		return bad_option(err, errlen,
				  "--redundancy-parity=%u must be below --redundancy-group-size=%u: "
				  "each node of a group gives at least one data chunk per stripe",
				  o->redundancy_parity, o->redundancy_group_size);
	return 0;
}

static void set_defaults(struct lcrd_options *o)
{
	char err[256];

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < LCR_SETTING_COUNT; i++)
		if (lcr_settings[i].lcrd_arg && lcr_settings[i].lcrd_default)
			(void)apply_setting((enum lcr_setting)i, lcr_settings[i].lcrd_default, o, err,
					    sizeof(err));
	o->node_count = 1;
	o->plugin_fd = -1;
	o->listen_fd = -1;
	o->parent_pidfd = -1;
	o->job_env_fd = -1;
	o->rendezvous_wait_s = 300;
	o->replace_timeout_s = 60;
	if (gethostname(o->node_name, sizeof(o->node_name) - 1) < 0 || !o->node_name[0])
		strcpy(o->node_name, "localhost");
	o->node_name[sizeof(o->node_name) - 1] = '\0';
}

int options_parse(int argc, char **argv, struct lcrd_options *o, char *err, size_t errlen)
{
	unsigned seen = 0;
	int c, rc;
	set_defaults(o);
	build_long_options();
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
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0)
		return bad_option(err, errlen,
				  "unexpected argument '%s': the step's program goes after '--' "
				  "(see lcrd --help)",
				  argv[optind]);
	if (optind < argc) {
		o->program = &argv[optind];
		o->program_argc = argc - optind;
	}
	if (!o->launcher && replace_string(&o->launcher, "srun", err, errlen) < 0)
		return -EINVAL;
	return check_combination(o, seen, err, errlen);
}

void options_free(struct lcrd_options *o)
{
	free(o->step_nodes);
	free(o->job_nodes);
	free(o->runtime_dir);
	free(o->rendezvous);
	free(o->munge_socket);
	free(o->listen);
	free(o->ckpt_dir);
	free(o->restore_path);
	lcr_path_list_clear(&o->ckpt_roots);
	free(o->launcher);
	free(o->rejoin);
	o->launcher = o->rejoin = NULL;
	o->program = NULL;
	o->program_argc = 0;
	o->ckpt_dir = o->restore_path = NULL;
	o->step_nodes = o->job_nodes = o->runtime_dir = NULL;
	o->rendezvous = o->munge_socket = o->listen = NULL;
}
