/* lcrctl.c: the LCR command-line tool. Finds the lcrd helpers of the calling user under
 * ROOT/<uid>/<job>.<step>.<node>/lcrd.sock (ROOT from --runtime-dir, $LCR_RUNTIME_DIR or
 * /run/lcr), or talks to one socket given with --socket, and asks each for its status, its
 * regions, its mesh's event log, or to shut down. Output is one block per helper, in a
 * stable format that is easy to grep. `ckpt now` asks the helpers for a checkpoint; `ckpt list|show|verify` read the
 * checkpoint directory themselves (lcrctl_ckpt.c). `wait` waits for a step's outcome file in the
 * checkpoint directory and exits with the training's status (lcrctl_wait.c). See lcrctl(1). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal/helper_socket.h"
#include "internal/settings.h"
#include "internal/util.h"
#include "internal/wire.h"
#include "lcrctl_ckpt.h"
#include "lcrctl_wait.h"

#define REPLY_TIMEOUT_MS 10000
#define MAX_HELPERS 4096

struct helper {
	uint32_t job;
	uint32_t step;
	char node[WIRE_NODE_NAME_MAX + 1];
	char socket_path[WIRE_PATH_MAX + 1];
};

struct settings {
	const char *root;
	const char *socket;
	const char *job;
	const char *step;
	const char *node;
	bool checksum;
	const char *command;
	const char *ckpt_dir;
	const char *ckpt_command; /* ckpt now|list|show|verify */
	const char *ckpt_arg;     /* the STEP of show and verify */
	const char *timeout;      /* wait --timeout */
};

static struct wire_msg reply_msg;
static int reply_timeout_ms = REPLY_TIMEOUT_MS; /* -1 while a checkpoint is awaited */

static const char usage[] =
	"Usage: lcrctl [--runtime-dir=ROOT] [--job=J] [--step=S] [--node=NAME]\n"
	"              [--socket=PATH] [--checksum] status|regions|events|shutdown\n"
	"       lcrctl [--ckpt-dir=DIR] [...] ckpt now|list|show STEP|verify STEP\n"
	"       lcrctl [--ckpt-dir=DIR] [--job=J] wait [--step=S] [--timeout=SECONDS]\n"
	"\n"
	"Talks to the LCR helpers (lcrd) of your jobs on this machine.\n"
	"  status     identity, state, ranks and clients of each helper\n"
	"  regions    the state regions each helper holds: name, size, kind, owner rank,\n"
	"             shard key, last committed step and phase (--checksum adds an XXH3 hash\n"
	"             of each region's contents, read by the helper)\n"
	"  events     the mesh's state and its event log: nodes down or left, ranks\n"
	"             exited, each with its time, generation and leader\n"
	"  shutdown   ask each helper to end: its regions are freed\n"
	"  ckpt now   ask each helper for a checkpoint now, and wait until it is saved\n"
	"  ckpt list | show STEP | verify STEP\n"
	"             the checkpoints in DIR (--ckpt-dir, else $LCR_CKPT_DIR, else the\n"
	"             helper's), read from the filesystem, no helper needed; STEP may be the\n"
	"             path of a checkpoint instead. verify reads every byte and reports each\n"
	"             damaged or truncated file with its offset\n"
	"  wait       wait (--timeout, 300 s) for the outcome of step S of job J (default:\n"
	"             $SLURM_JOB_ID, and its highest step with an outcome) in DIR, print it\n"
	"             and exit with the training's status (124: no outcome in time)\n"
	"\n"
	"Helpers are found under ROOT/<uid>/<job>.<step>.<node>/lcrd.sock. ROOT defaults to\n"
	"$LCR_RUNTIME_DIR, else /run/lcr; the job to $SLURM_JOB_ID (else every job); the node\n"
	"to $SLURMD_NODENAME (else every node); without --step, every step. --socket=PATH\n"
	"talks to the one helper listening there instead. See lcrctl(1).\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "lcrctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see lcrctl --help)\n");
	return 2;
}

/* ckpt now | list | show STEP | verify STEP */
static int parse_ckpt_command(int argc, char **argv, struct settings *s)
{
	if (argc < 1)
		return usage_error("ckpt needs a command: now, list, show STEP or verify STEP%s", "");
	s->ckpt_command = argv[0];
	bool takes_step = !strcmp(argv[0], "show") || !strcmp(argv[0], "verify");
	if (!takes_step && strcmp(argv[0], "now") && strcmp(argv[0], "list"))
		return usage_error("unknown ckpt command '%s' (now, list, show, verify)", argv[0]);
	if (argc != (takes_step ? 2 : 1))
		return usage_error(takes_step ? "ckpt %s needs one STEP (or the path of a "
			"checkpoint)" : "ckpt %s takes no argument", argv[0]);
	s->ckpt_arg = takes_step ? argv[1] : NULL;
	return 0;
}

static int parse_args(int argc, char **argv, struct settings *s)
{
	enum { OPT_ROOT = 256, OPT_SOCKET, OPT_JOB, OPT_STEP, OPT_NODE, OPT_CHECKSUM, OPT_HELP,
	       OPT_VERSION, OPT_CKPT_DIR, OPT_TIMEOUT };
	static const struct option options[] = {
		{ "runtime-dir", required_argument, NULL, OPT_ROOT },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "job", required_argument, NULL, OPT_JOB },
		{ "step", required_argument, NULL, OPT_STEP },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "checksum", no_argument, NULL, OPT_CHECKSUM },
		{ "ckpt-dir", required_argument, NULL, OPT_CKPT_DIR },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT: s->root = optarg; break;
		case OPT_SOCKET: s->socket = optarg; break;
		case OPT_JOB: s->job = optarg; break;
		case OPT_STEP: s->step = optarg; break;
		case OPT_NODE: s->node = optarg; break;
		case OPT_CHECKSUM: s->checksum = true; break;
		case OPT_CKPT_DIR: s->ckpt_dir = optarg; break;
		case OPT_TIMEOUT: s->timeout = optarg; break;
		case OPT_HELP: fputs(usage, stdout); return -1;
		case OPT_VERSION: printf("lcrctl %s\n", PACKAGE_VERSION); return -1;
		default:
			return usage_error(c == ':' ? "missing value for '%s'" : "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind], "ckpt") == 0) {
		int rc = parse_ckpt_command(argc - optind - 1, argv + optind + 1, s);
		if (rc != 0)
			return rc;
	} else if (optind != argc - 1) {
		return usage_error("expected one command: status, regions, events, shutdown, "
				   "ckpt or wait%s", "");
	}
	s->command = argv[optind];
	if (strcmp(s->command, "status") && strcmp(s->command, "regions") &&
	    strcmp(s->command, "events") && strcmp(s->command, "shutdown") &&
	    strcmp(s->command, "ckpt") && strcmp(s->command, "wait"))
		return usage_error("unknown command '%s'", s->command);
	if (s->timeout && strcmp(s->command, "wait") != 0)
		return usage_error("--timeout=%s belongs to wait", s->timeout);
	if (!s->root)
		s->root = getenv("LCR_RUNTIME_DIR");
	if (!s->root || !*s->root)
		s->root = "/run/lcr";
	if (!s->job)
		s->job = getenv("SLURM_JOB_ID");
	if (!s->node)
		s->node = getenv("SLURMD_NODENAME");
	uint32_t v;
	if (s->job && *s->job && util_parse_u32(s->job, &v) < 0)
		return usage_error("--job=%s: not a job id", s->job);
	if (s->step && util_parse_u32(s->step, &v) < 0)
		return usage_error("--step=%s: not a step id", s->step);
	return 0;
}

/* "<job>.<step>.<node>" into h; false when the name has another shape. */
static bool parse_helper_dir(const char *name, struct helper *h)
{
	char job[16], step[16];
	const char *dot1 = strchr(name, '.'), *dot2;
	if (!dot1 || (size_t)(dot1 - name) >= sizeof(job))
		return false;
	dot2 = strchr(dot1 + 1, '.');
	if (!dot2 || (size_t)(dot2 - dot1 - 1) >= sizeof(step) || !dot2[1])
		return false;
	memcpy(job, name, (size_t)(dot1 - name));
	job[dot1 - name] = '\0';
	memcpy(step, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	step[dot2 - dot1 - 1] = '\0';
	return util_parse_u32(job, &h->job) == 0 && util_parse_u32(step, &h->step) == 0 &&
	       util_copy_string(h->node, sizeof(h->node), dot2 + 1) == 0;
}

static bool helper_selected(const struct settings *s, const struct helper *h)
{
	uint32_t v;
	if (s->job && *s->job && util_parse_u32(s->job, &v) == 0 && v != h->job)
		return false;
	if (s->step && util_parse_u32(s->step, &v) == 0 && v != h->step)
		return false;
	return !(s->node && *s->node && strcmp(s->node, h->node) != 0);
}

static int compare_helpers(const void *a, const void *b)
{
	const struct helper *x = a, *y = b;
	if (x->job != y->job)
		return x->job < y->job ? -1 : 1;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return strcmp(x->node, y->node);
}

/* Every selected helper under ROOT/<uid>, sorted by job, step and node. */
static int find_helpers(const struct settings *s, struct helper *out, size_t max, size_t *count,
			char *base, size_t base_len)
{
	struct dirent *e;
	snprintf(base, base_len, "%s/%u", s->root, (unsigned)getuid());
	DIR *dir = opendir(base);
	*count = 0;
	if (!dir)
		return -errno;
	while ((e = readdir(dir)) && *count < max) {
		struct helper h;
		if (e->d_name[0] == '.' || !parse_helper_dir(e->d_name, &h) || !helper_selected(s, &h))
			continue;
		int n = snprintf(h.socket_path, sizeof(h.socket_path), "%s/%s/lcrd.sock", base,
				 e->d_name);
		if (n < 0 || (size_t)n >= sizeof(h.socket_path) || access(h.socket_path, F_OK) < 0)
			continue;
		out[(*count)++] = h;
	}
	closedir(dir);
	qsort(out, *count, sizeof(*out), compare_helpers);
	return 0;
}

/* A connection to the user's own helper at path (helper_socket.h), or -errno, said on stderr. */
static int connect_helper(const char *path)
{
	char err[512];
	int fd = helper_socket_connect(path, err, sizeof(err));

	if (fd < 0)
		fprintf(stderr, "lcrctl: %s\n", err);
	return fd;
}

/* Sends a request and waits for its reply into reply_msg. A WIRE_REPLY with an error
 * becomes that error, its message in err. */
static int request(int fd, uint16_t type, const uint8_t *payload, int len, uint16_t want,
		   char *err, size_t errlen)
{
	static uint32_t seq;
	struct wire_reply reply;
	int rc;
	if (len < 0)
		return len;
	rc = wire_send_msg_full(fd, type, ++seq, payload, (uint32_t)len, -1);
	if (rc < 0)
		return rc;
	do {
		rc = wire_recv_msg(fd, &reply_msg, reply_timeout_ms);
		if (rc == 0 && reply_msg.fd >= 0)
			close(reply_msg.fd);
	} while (rc == 0 && reply_msg.header.seq != seq);
	if (rc < 0)
		return rc;
	if (reply_msg.header.type == WIRE_REPLY) {
		if (wire_decode_reply(reply_msg.payload, reply_msg.header.length, &reply) < 0)
			return -EBADMSG;
		snprintf(err, errlen, "%s", reply.message);
		if (reply.status < 0 || want != WIRE_REPLY)
			return reply.status < 0 ? reply.status : -EBADMSG;
		return 0;
	}
	return reply_msg.header.type == want ? 0 : -EBADMSG;
}

/* A size without blanks ("1.5GiB"), so status lines split into key-value words. */
static char *compact_size(uint64_t bytes, char *buf, size_t cap)
{
	char *space = strchr(util_format_size(bytes, buf, cap), ' ');
	if (space)
		memmove(space, space + 1, strlen(space));
	return buf;
}

static const char *state_name(uint16_t state)
{
	return state == WIRE_HELPER_RUNNING ? "running" :
	       state == WIRE_HELPER_STOPPING ? "stopping" : "unknown";
}

static const char *task_state_name(uint16_t state)
{
	switch (state) {
	case WIRE_TASK_EXPECTED: return "expected";
	case WIRE_TASK_RUNNING: return "running";
	case WIRE_TASK_EXITED_STATE: return "exited";
	}
	return "unknown";
}

static void print_task(const struct wire_task_status *t)
{
	printf("  rank %" PRIu32 " pid %" PRIu32 " %s", t->global_rank, t->pid,
	       task_state_name(t->state));
	if (t->state == WIRE_TASK_EXITED_STATE && t->wait_status >= 0) {
		if (WIFSIGNALED(t->wait_status))
			printf(" (signal %d)", WTERMSIG(t->wait_status));
		else
			printf(" (status %d)", WEXITSTATUS(t->wait_status));
	}
	printf("%s\n", t->registered ? " registered" : "");
}

/* "redundancy: copy, 1 copy per node, protected step 40 (snapshot every 10), memory 2.1 GiB
 * of 8 GiB" (or "(no limit)"; erasure: "groups of 4 with 1 parity" for "1 copy per node";
 * "copy (chosen by auto)" when auto chose it), then "snapshot hold: updates of this node's
 * ranks waited 12 times for its copies, 0.034 s in all (at most 1 s each)" (or "off");
 * nothing without redundancy, "redundancy: none (chosen by auto)" when auto chose none. */
static void print_redundancy(const struct wire_status_reply *s)
{
	char used[32], max[48], step[32] = "none", how[64];
	if (s->redundancy == LCR_REDUNDANCY_NONE) {
		if (s->redundancy_auto)
			printf("redundancy: none (chosen by auto)\n");
		return;
	}
	if (s->protected_step != WIRE_NO_STEP)
		snprintf(step, sizeof(step), "%" PRIu64, s->protected_step);
	if (s->redundancy_memory_max) {
		char limit[32];
		snprintf(max, sizeof(max), "of %s",
			 util_format_size(s->redundancy_memory_max, limit, sizeof(limit)));
	} else {
		snprintf(max, sizeof(max), "(no limit)");
	}
	if (s->redundancy == LCR_REDUNDANCY_ERASURE)
		snprintf(how, sizeof(how), "groups of %" PRIu32 " with %" PRIu32 " parity",
			 s->redundancy_group_size, s->redundancy_parity);
	else
		snprintf(how, sizeof(how), "%" PRIu32 " cop%s per node", s->redundancy_copies,
			 s->redundancy_copies == 1 ? "y" : "ies");
	printf("redundancy: %s%s, %s, protected step %s (snapshot every %" PRIu32 "), memory %s %s\n",
	       lcr_redundancy_mode_name((enum lcr_redundancy_mode)s->redundancy),
	       s->redundancy_auto ? " (chosen by auto)" : "", how, step,
	       s->snapshot_every, util_format_size(s->redundancy_bytes, used, sizeof(used)), max);
	if (s->snapshot_hold_max_ms == 0)
		printf("snapshot hold: off (updates never wait for a copy)\n");
	else
		printf("snapshot hold: updates of this node's ranks waited %" PRIu64 " time%s for "
		       "its copies, %.3f s in all (at most %.3g s each)\n", s->hold_waits,
		       s->hold_waits == 1 ? "" : "s", (double)s->hold_waited_us / 1e6,
		       (double)s->snapshot_hold_max_ms / 1e3);
}

static int show_status(int fd, char *err, size_t errlen)
{
	static struct wire_status_reply s;
	char ranks[2048], bytes[32], quota[32];
	int rc = request(fd, WIRE_STATUS_REQUEST, NULL, 0, WIRE_STATUS_REPLY, err, errlen);
	if (rc < 0)
		return rc;
	rc = wire_decode_status_reply(reply_msg.payload, reply_msg.header.length, &s);
	if (rc < 0)
		return rc;
	struct passwd *pw = getpwuid(s.uid);
	printf("node %s (id %" PRIu32 " of %" PRIu32 ") job %" PRIu32 " step %" PRIu32
	       " pid %" PRIu32 " uid %" PRIu32 " user %s state %s ranks %s clients %" PRIu32
	       " regions %" PRIu32 " bytes %s quota %s uptime %" PRIu64 "s\n",
	       s.node_name, s.node_id, s.node_count, s.job_id, s.step_id, s.pid, s.uid,
	       pw ? pw->pw_name : "?", state_name(s.state),
	       util_format_rank_list(s.ranks, s.rank_count, ranks, sizeof(ranks)), s.clients,
	       s.region_count, compact_size(s.region_bytes, bytes, sizeof(bytes)),
	       s.region_quota ? compact_size(s.region_quota, quota, sizeof(quota)) : "none",
	       s.uptime_ms / 1000);
	print_redundancy(&s);
	for (uint32_t i = 0; i < s.task_count; i++)
		print_task(&s.tasks[i]);
	return 0;
}

static void print_region(int fd, const struct wire_region_entry *e, bool checksum)
{
	char size[32], step[24], sum[24] = "";
	char err[WIRE_TEXT_MAX + 1];
	if (e->committed_step == WIRE_NO_STEP)
		strcpy(step, "-");
	else
		snprintf(step, sizeof(step), "%" PRIu64, e->committed_step);
	if (checksum) {
		struct wire_region_checksum m = { .owner_rank = e->owner_rank };
		struct wire_region_checksum_reply r;
		uint8_t buf[sizeof(m)];
		strcpy(m.name, e->name);
		if (request(fd, WIRE_REGION_CHECKSUM, buf, wire_encode_region_checksum(&m, buf, sizeof(buf)),
			    WIRE_REGION_CHECKSUM_REPLY, err, sizeof(err)) == 0 &&
		    wire_decode_region_checksum_reply(reply_msg.payload, reply_msg.header.length, &r) == 0)
			snprintf(sum, sizeof(sum), "  %016" PRIx64, r.xxh64);
		else
			snprintf(sum, sizeof(sum), "  unreadable");
	}
	printf("  %-24s %-10s %-4s %-6" PRIu32 " %-12s %-6s %-9s %s%s\n", e->name,
	       util_format_size(e->size, size, sizeof(size)), e->kind == WIRE_REGION_CUDA ? "cuda" : "host",
	       e->owner_rank, e->shard_key[0] ? e->shard_key : "-", step, wire_phase_name(e->phase),
	       e->flags & WIRE_OWNER_ALIVE ? "alive" : "gone", sum);
}

static int show_regions(int fd, const struct helper *h, bool checksum, char *err, size_t errlen)
{
	static struct wire_region_list_reply list;
	struct wire_region_list m = { .start = 0 };
	uint8_t buf[16];
	bool header = false;
	do {
		int rc = request(fd, WIRE_REGION_LIST, buf, wire_encode_region_list(&m, buf, sizeof(buf)),
				 WIRE_REGION_LIST_REPLY, err, errlen);
		if (rc < 0)
			return rc;
		rc = wire_decode_region_list_reply(reply_msg.payload, reply_msg.header.length, &list);
		if (rc < 0)
			return rc;
		if (!header) {
			printf("node %s job %" PRIu32 " step %" PRIu32 " regions %" PRIu32 "\n", h->node,
			       h->job, h->step, list.total);
			if (list.total)
				printf("  %-24s %-10s %-4s %-6s %-12s %-6s %-9s %s%s\n", "NAME", "SIZE",
				       "KIND", "RANK", "SHARD", "STEP", "PHASE", "OWNER",
				       checksum ? "  XXH3" : "");
			header = true;
		}
		/* Entries are printed after the page is decoded: checksums reuse reply_msg. */
		for (uint32_t i = 0; i < list.count; i++)
			print_region(fd, &list.entries[i], checksum);
		m.start += list.count;
	} while (list.count > 0 && m.start < list.total);
	return 0;
}

static const char *mesh_state_name(uint16_t state)
{
	switch (state) {
	case WIRE_MESH_STANDALONE: return "standalone";
	case WIRE_MESH_BOOTSTRAPPING: return "bootstrapping";
	case WIRE_MESH_UP: return "up";
	case WIRE_MESH_FENCED_STATE: return "fenced";
	case WIRE_MESH_FAILED: return "failed";
	}
	return "unknown";
}

static const char *event_type_name(uint16_t type)
{
	switch (type) {
	case WIRE_EVENT_RANK_EXITED: return "RANK_EXITED";
	case WIRE_EVENT_SHUTDOWN: return "SHUTDOWN";
	case WIRE_EVENT_NODE_DOWN: return "NODE_DOWN";
	case WIRE_EVENT_NODE_LEFT: return "NODE_LEFT";
	case WIRE_EVENT_MESH_UP: return "MESH_UP";
	case WIRE_EVENT_CHECKPOINT: return "CHECKPOINT";
	case WIRE_EVENT_REPLACING: return "REPLACING";
	case WIRE_EVENT_NODE_JOINED: return "NODE_JOINED";
	case WIRE_EVENT_RECOVERY_FAILED: return "RECOVERY_FAILED";
	case WIRE_EVENT_PROTECTED: return "PROTECTED";
	case WIRE_EVENT_RECOVERY_TIMELINE: return "RECOVERY_TIMELINE";
	}
	return "UNKNOWN";
}

/* "2025-03-01T12:00:03.456" (local time) from milliseconds since the epoch. */
static char *format_time_ms(uint64_t ms, char *buf, size_t cap)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", localtime_r(&seconds, &tm));
	snprintf(buf + n, cap - n, ".%03u", (unsigned)(ms % 1000));
	return buf;
}

static void print_mesh_state(const struct helper *h, const struct wire_event_log_reply *r)
{
	printf("node %s job %" PRIu32 " step %" PRIu32 " mesh %s generation %" PRIu64
	       " leader %" PRIu32 " live %" PRIu32 " of %" PRIu32,
	       h->node, h->job, h->step, mesh_state_name(r->state), r->generation, r->leader,
	       r->live_count, r->node_count);
	if (r->address[0])
		printf(" address %s%s%s:%u", strchr(r->address, ':') ? "[" : "", r->address,
		       strchr(r->address, ':') ? "]" : "", r->port);
	printf(" timeout %.1fs peers %" PRIu32 " uptime %" PRIu64 "s sent %" PRIu64
	       " received %" PRIu64 " bytes-sent %" PRIu64 " bytes-received %" PRIu64 "\n",
	       r->timeout_ms / 1000.0, r->heartbeat_peers, r->uptime_ms / 1000, r->messages_sent,
	       r->messages_received, r->bytes_sent, r->bytes_received);
}

static void print_event(const struct wire_event_log_entry *e)
{
	char when[40];
	printf("  %s gen %" PRIu64 " %s", format_time_ms(e->time_ms, when, sizeof(when)),
	       e->generation, event_type_name(e->type));
	if (e->node != WIRE_NO_NODE)
		printf(" node %" PRIu32, e->node);
	if (e->rank != WIRE_NO_RANK)
		printf(" rank %" PRIu32 " pid %" PRIu32, e->rank, e->pid);
	if (e->type == WIRE_EVENT_REPLACING || e->type == WIRE_EVENT_NODE_JOINED)
		printf(" epoch %" PRIu64, e->epoch);
	printf(" leader %" PRIu32 ": %s\n", e->leader, e->message);
}

/* The mesh's state, then its whole event log, page by page. */
static int show_events(int fd, const struct helper *h, char *err, size_t errlen)
{
	static struct wire_event_log_reply reply;
	struct wire_event_log m = { .start = 0 };
	uint8_t buf[16];
	bool header = false;
	do {
		int rc = request(fd, WIRE_EVENT_LOG, buf, wire_encode_event_log(&m, buf, sizeof(buf)),
				 WIRE_EVENT_LOG_REPLY, err, errlen);
		if (rc < 0)
			return rc;
		rc = wire_decode_event_log_reply(reply_msg.payload, reply_msg.header.length, &reply);
		if (rc < 0)
			return rc;
		if (!header)
			print_mesh_state(h, &reply);
		header = true;
		for (uint32_t i = 0; i < reply.count; i++)
			print_event(&reply.entries[i]);
		m.start += reply.count;
	} while (reply.count > 0 && m.start < reply.total);
	return 0;
}

static int request_shutdown(int fd, const struct helper *h, char *err, size_t errlen)
{
	int rc = request(fd, WIRE_SHUTDOWN, NULL, 0, WIRE_REPLY, err, errlen);
	if (rc == 0)
		printf("node %s job %" PRIu32 " step %" PRIu32 " shutting down\n", h->node, h->job,
		       h->step);
	return rc;
}

/* Asks for a checkpoint and waits, however long it takes, for it to be saved. */
static int request_ckpt_now(int fd, const struct helper *h, char *err, size_t errlen)
{
	struct wire_ckpt_result r;
	char size[32];
	reply_timeout_ms = -1;
	int rc = request(fd, WIRE_CKPT_NOW, NULL, 0, WIRE_CKPT_RESULT, err, errlen);
	reply_timeout_ms = REPLY_TIMEOUT_MS;
	if (rc == 0)
		rc = wire_decode_ckpt_result(reply_msg.payload, reply_msg.header.length, &r);
	if (rc == 0)
		printf("node %s job %" PRIu32 " step %" PRIu32 " checkpoint step %" PRIu64 " path %s "
		       "bytes %s seconds %.3f\n", h->node, h->job, h->step, r.step, r.path,
		       compact_size(r.bytes, size, sizeof(size)), (double)r.elapsed_us / 1e6);
	return rc;
}

/* The checkpoint directory of the first helper that has one, into dir[cap]. */
static int helper_ckpt_dir(const struct helper *helpers, size_t count, char *dir, size_t cap)
{
	static struct wire_ckpt_info info;
	char err[WIRE_TEXT_MAX + 1];
	for (size_t i = 0; i < count; i++) {
		int fd = connect_helper(helpers[i].socket_path);
		if (fd < 0)
			continue;
		int rc = request(fd, WIRE_CKPT_INFO_REQUEST, NULL, 0, WIRE_CKPT_INFO, err, sizeof(err));
		close(fd);
		if (rc == 0 && wire_decode_ckpt_info(reply_msg.payload, reply_msg.header.length,
						     &info) == 0 && info.ckpt_dir[0])
			return util_copy_string(dir, cap, info.ckpt_dir);
	}
	return -ENOENT;
}

/* ckpt list|show|verify: from the filesystem, the directory given, else the helper's. */
static int run_ckpt_reader(const struct settings *s, const struct helper *helpers, size_t count)
{
	char dir[WIRE_CKPT_PATH_MAX + 1];
	const char *where = s->ckpt_dir;
	if (!where && getenv("LCR_CKPT_DIR") && *getenv("LCR_CKPT_DIR"))
		where = getenv("LCR_CKPT_DIR");
	if (!where && helper_ckpt_dir(helpers, count, dir, sizeof(dir)) == 0)
		where = dir;
	if (strcmp(s->ckpt_command, "list") == 0) {
		if (!where) {
			fprintf(stderr, "lcrctl: no checkpoint directory: give --ckpt-dir=DIR or set "
				"LCR_CKPT_DIR\n");
			return 1;
		}
		return lcrctl_ckpt_list(where);
	}
	if (strcmp(s->ckpt_command, "show") == 0)
		return lcrctl_ckpt_show(where, s->ckpt_arg);
	return lcrctl_ckpt_verify(where, s->ckpt_arg);
}

/* With --socket, the helper's identity comes from its status. */
static int identify_helper(struct helper *h)
{
	static struct wire_status_reply s;
	char err[WIRE_TEXT_MAX + 1] = "";
	int fd = connect_helper(h->socket_path), rc;
	if (fd < 0)
		return fd;
	rc = request(fd, WIRE_STATUS_REQUEST, NULL, 0, WIRE_STATUS_REPLY, err, sizeof(err));
	if (rc == 0)
		rc = wire_decode_status_reply(reply_msg.payload, reply_msg.header.length, &s);
	if (rc == 0) {
		h->job = s.job_id;
		h->step = s.step_id;
		strcpy(h->node, s.node_name);
	}
	close(fd);
	return rc;
}

/* Runs the command against one helper; prints why when it fails. */
static int run_command(const struct settings *s, const struct helper *h)
{
	char err[WIRE_TEXT_MAX + 1] = "";
	int rc, fd = connect_helper(h->socket_path);
	if (fd < 0)
		return fd;
	if (strcmp(s->command, "status") == 0)
		rc = show_status(fd, err, sizeof(err));
	else if (strcmp(s->command, "events") == 0)
		rc = show_events(fd, h, err, sizeof(err));
	else if (strcmp(s->command, "regions") == 0)
		rc = show_regions(fd, h, s->checksum, err, sizeof(err));
	else if (strcmp(s->command, "ckpt") == 0)
		rc = request_ckpt_now(fd, h, err, sizeof(err));
	else
		rc = request_shutdown(fd, h, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "lcrctl: %s failed on the helper at %s: %s%s%s\n", s->command,
			h->socket_path, strerror(-rc), err[0] ? ": " : "", err);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	static struct settings s;
	static struct helper helpers[MAX_HELPERS];
	char base[PATH_MAX];
	size_t count = 0;
	int rc = parse_args(argc, argv, &s), failures = 0;
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (strcmp(s.command, "wait") == 0)
		return lcrctl_wait(s.ckpt_dir, s.job, s.step, s.timeout);
	bool reader = s.ckpt_command && strcmp(s.ckpt_command, "now") != 0;
	if (reader && (s.ckpt_dir || (s.ckpt_arg && s.ckpt_arg[0] == '/')))
		return run_ckpt_reader(&s, helpers, 0);
	if (s.socket) {
		if (util_copy_string(helpers[0].socket_path, sizeof(helpers[0].socket_path),
				     s.socket) < 0) {
			fprintf(stderr, "lcrctl: --socket=%s: path too long\n", s.socket);
			return 2;
		}
		rc = identify_helper(&helpers[0]);
		if (rc < 0) {
			fprintf(stderr, "lcrctl: cannot reach the helper at %s: %s\n", s.socket,
				strerror(-rc));
			return 1;
		}
		count = 1;
	} else {
		rc = find_helpers(&s, helpers, MAX_HELPERS, &count, base, sizeof(base));
		if (reader)
			return run_ckpt_reader(&s, helpers, count);
		if (rc < 0 && rc != -ENOENT) {
			fprintf(stderr, "lcrctl: cannot read %s: %s\n", base, strerror(-rc));
			return 1;
		}
		if (count == 0) {
			fprintf(stderr, "lcrctl: no lcrd found under %s%s%s%s%s%s%s\n", base,
				s.job && *s.job ? " for job " : "", s.job && *s.job ? s.job : "",
				s.step ? " step " : "", s.step ? s.step : "",
				s.node && *s.node ? " on node " : "", s.node && *s.node ? s.node : "");
			return 1;
		}
	}
	if (reader)
		return run_ckpt_reader(&s, helpers, count);
	for (size_t i = 0; i < count; i++)
		if (run_command(&s, &helpers[i]) < 0)
			failures++;
	return failures ? 1 : 0;
}
