/* ckpt_bench.c: just-in-time checkpoint throughput against the raw sequential write of the
 * same bytes to the same filesystem, measured in the same run.
 *
 * N foreground lcrd processes stand for N nodes; each holds one rank with one region of
 * SIZE bytes (filled with a pattern, step committed). Each round then measures, in an order
 * that alternates between rounds:
 *
 *   raw   N processes at once, each writing one region's bytes (straight from its mapping)
 *         into a file of DIR with pwrite in 8 MiB chunks, then fsync: the bytes on disk
 *         with nothing else done, the baseline. The N writers are processes started once
 *         and kept for the whole run, their mappings faulted in, as the helpers are: on
 *         this VM a process's first write pass runs several times slower than its later
 *         ones (a fresh process per round measured 0.1-0.4 GB/s where the helpers' later
 *         rounds gave 0.5-1.4), so that a writer forked per round was no baseline;
 *   ckpt  a CKPT_NOW sent to the N helpers at once, until the N checkpoints are published:
 *         each helper plans, hashes its region (XXH3) and writes it with pwrite + fsync,
 *         both straight from its own mapping, writes and syncs its manifest and renames the
 *         directory.
 *
 * Figures, one line each: RESULT name=<figure> value=<v> unit=<u> baseline=<b> ratio=<v/b>
 *   jit_ckpt_GBps           N * SIZE / wall time of the ckpt phase (GB = 10^9 bytes,
 *                           median of rounds), against the best raw round's N * SIZE /
 *                           wall time: the most the disk gave N parallel writers in this run
 *   jit_ckpt_median_GBps    the same against the raw phase's median round
 *   event_to_published_s    the longest time a helper took from receiving the request
 *                           (the failure event of the node-local flow) to publishing,
 *                           against the raw phase's median wall time
 * and a "spread" line: the slowest and fastest round of each phase.
 *
 * Usage: ckpt_bench --lcrd=PATH --dir=DIR [--nodes=N] [--size=BYTES] [--rounds=R]
 * (defaults 4 nodes, 1 GiB, 3 rounds). DIR must be on the filesystem to measure; the
 * benchmark removes what it writes there. Memory: N * SIZE of regions, plus page cache. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal/util.h"
#include "internal/wire.h"
#include "lcr.h"

#define MAX_NODES 16
#define CHUNK (8u << 20)

struct node {
	pid_t pid;
	char socket_path[WIRE_PATH_MAX + 1];
	char ckpt_dir[512];
	lcr_session_t *session;
	uint8_t *region;
	int ctl_fd; /* a raw connection for CKPT_NOW */
	pid_t raw_pid; /* the raw writer of this node's region */
	int raw_go, raw_done;
	char raw_path[600];
};

struct bench {
	const char *lcrd;
	const char *dir;
	char work[400];
	int nodes;
	uint64_t size;
	int rounds;
	struct node node[MAX_NODES];
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "ckpt_bench: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static double seconds_since(uint64_t start_ns)
{
	return (double)(util_now_ns() - start_ns) / 1e9;
}

static void result(const char *name, double value, const char *unit, double baseline)
{
	printf("RESULT name=%s value=%.3f unit=%s baseline=%.3f ratio=%.3f\n", name, value, unit,
	       baseline, value / baseline);
	fflush(stdout);
}

static void start_lcrd(struct bench *b, int i)
{
	struct node *n = &b->node[i];
	char job[32], name[32], rt[600], ckpt[600];
	int out[2];
	snprintf(job, sizeof(job), "--job-id=%d", 9000 + i);
	snprintf(name, sizeof(name), "--node-name=bench%d", i);
	snprintf(rt, sizeof(rt), "--runtime-dir=%s/run", b->work);
	snprintf(n->ckpt_dir, sizeof(n->ckpt_dir), "%s/job%d", b->work, i);
	snprintf(ckpt, sizeof(ckpt), "--ckpt-dir=%s", n->ckpt_dir);
	if (pipe(out) < 0)
		die("pipe", errno);
	n->pid = fork();
	if (n->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		execl(b->lcrd, "lcrd", "--foreground", job, name, "--ranks=0", rt, ckpt,
		      "--ckpt-keep=0", "--log-level=warning", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	char line[512];
	if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "LCR_SOCKET=", 11) != 0) {
		fprintf(stderr, "ckpt_bench: cannot start %s (use --lcrd=PATH)\n", b->lcrd);
		exit(1);
	}
	line[strcspn(line, "\n")] = '\0';
	if (util_copy_string(n->socket_path, sizeof(n->socket_path), line + 11) < 0)
		die("socket path", ENAMETOOLONG);
	fclose(f);
}

/* The rank: registered, one region filled with a pattern, step 0 committed. */
static void fill_node(struct bench *b, int i)
{
	struct node *n = &b->node[i];
	struct lcr_rank_info me = { .global_rank = 0, .dp_size = 1, .shard_key = "tp0" };
	void *p;
	int rc = lcr_open(n->socket_path, &n->session);
	if (rc == 0)
		rc = lcr_register(n->session, &me);
	if (rc == 0)
		rc = lcr_region_alloc(n->session, "state", b->size, LCR_REGION_HOST, -1, &p);
	if (rc < 0)
		die("setting up a rank", rc);
	n->region = p;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	for (uint64_t off = 0; off + 8 <= b->size; off += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(n->region + off, &x, 8);
	}
	lcr_update_begin(n->session, 0);
	lcr_update_end(n->session, 0);
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || util_copy_string(addr.sun_path, sizeof(addr.sun_path), path) < 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("connecting to lcrd", errno);
	return fd;
}

/* --- the raw phase --- */

/* Reads one byte of each page of data, so that its page tables are filled: a forked child
 * does not inherit them for a shared mapping. */
static void fault_in(const uint8_t *data, uint64_t size)
{
	const volatile uint8_t *bytes = data;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint8_t sum = 0;
	for (uint64_t off = 0; off < size; off += page)
		sum ^= bytes[off];
	(void)sum;
}

/* Writes data into a new file path with pwrite in CHUNK pieces, then fsync: 0 or 1. */
static char raw_write_file(const uint8_t *data, uint64_t size, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 1;
	for (uint64_t off = 0; off < size;) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t w = pwrite(fd, data + off, len, (off_t)off);
		if (w <= 0) {
			close(fd);
			return 1;
		}
		off += (uint64_t)w;
	}
	return fsync(fd) == 0 && close(fd) == 0 ? 0 : 1;
}

/* A raw writer: a process kept for the whole run, as a helper is, its mapping faulted in
 * once; for each byte on go it writes the region into path and answers a byte on done. */
static void raw_writer(const uint8_t *data, uint64_t size, const char *path, int go, int done)
{
	char byte;
	fault_in(data, size);
	while (read(go, &byte, 1) == 1) {
		byte = raw_write_file(data, size, path);
		if (write(done, &byte, 1) != 1)
			break;
	}
	_exit(0);
}

static void start_raw_writer(struct bench *b, int i)
{
	struct node *n = &b->node[i];
	int go[2], done[2];
	snprintf(n->raw_path, sizeof(n->raw_path), "%s/raw%d", b->work, i);
	if (pipe(go) < 0 || pipe(done) < 0)
		die("pipe", errno);
	n->raw_pid = fork();
	if (n->raw_pid < 0)
		die("fork", errno);
	if (n->raw_pid == 0) {
		/* Only the bench may hold a writer's go end: its close ends the writer. */
		for (int j = 0; j < i; j++)
			close(b->node[j].raw_go);
		close(go[1]);
		raw_writer(n->region, b->size, n->raw_path, go[0], done[1]);
	}
	close(go[0]);
	close(done[1]);
	n->raw_go = go[1];
	n->raw_done = done[0];
}

/* Times the N writers from the go to the last one's answer. */
static double raw_round(struct bench *b)
{
	char byte = 0, failed = 0;
	uint64_t t0 = util_now_ns();
	for (int i = 0; i < b->nodes; i++)
		if (write(b->node[i].raw_go, &byte, 1) != 1)
			die("starting a raw writer", errno);
	for (int i = 0; i < b->nodes; i++) {
		if (read(b->node[i].raw_done, &byte, 1) != 1)
			die("a raw writer ended", EIO);
		failed |= byte;
	}
	double t = seconds_since(t0);
	if (failed)
		die("raw writes", EIO);
	for (int i = 0; i < b->nodes; i++)
		unlink(b->node[i].raw_path);
	return t;
}

/* --- the checkpoint phase --- */

static void remove_checkpoint(const struct node *n, uint64_t step)
{
	char command[700];
	snprintf(command, sizeof(command), "rm -rf '%s/step-%" PRIu64 "'", n->ckpt_dir, step);
	if (system(command) != 0)
		die("removing a checkpoint", EIO);
}

/* Commits `step` on every rank, asks every helper at once, waits for every result. */
static double ckpt_round(struct bench *b, uint64_t step, double *event_to_published)
{
	static struct wire_msg msg;
	struct wire_ckpt_result r;
	uint64_t t0;
	int pending = b->nodes;
	*event_to_published = 0;
	for (int i = 0; i < b->nodes; i++) {
		lcr_update_begin(b->node[i].session, step);
		lcr_update_end(b->node[i].session, step);
	}
	t0 = util_now_ns();
	for (int i = 0; i < b->nodes; i++)
		if (wire_send_msg_full(b->node[i].ctl_fd, WIRE_CKPT_NOW, (uint32_t)step, NULL, 0, -1) < 0)
			die("sending CKPT_NOW", EIO);
	while (pending > 0) {
		struct pollfd p[MAX_NODES];
		for (int i = 0; i < b->nodes; i++)
			p[i] = (struct pollfd){ .fd = b->node[i].ctl_fd, .events = POLLIN };
		if (poll(p, (nfds_t)b->nodes, -1) < 0)
			die("poll", errno);
		for (int i = 0; i < b->nodes; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			if (wire_recv_msg(p[i].fd, &msg, 0) < 0 || msg.header.type != WIRE_CKPT_RESULT ||
			    wire_decode_ckpt_result(msg.payload, msg.header.length, &r) < 0 ||
			    r.step != step) {
				fprintf(stderr, "ckpt_bench: helper %d did not save step %" PRIu64
					" (see its log on stderr)\n", i, step);
				exit(1);
			}
			double published = (double)r.elapsed_us / 1e6;
			*event_to_published = published > *event_to_published ? published
									       : *event_to_published;
			pending--;
		}
	}
	double t = seconds_since(t0);
	for (int i = 0; i < b->nodes; i++)
		remove_checkpoint(&b->node[i], step);
	return t;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void run(struct bench *b)
{
	double raw[64], ckpt[64], event[64], gb = (double)b->size * b->nodes / 1e9;
	for (int r = 0; r < b->rounds; r++) {
		if (r % 2 == 0) {
			raw[r] = raw_round(b);
			ckpt[r] = ckpt_round(b, (uint64_t)r + 1, &event[r]);
		} else {
			ckpt[r] = ckpt_round(b, (uint64_t)r + 1, &event[r]);
			raw[r] = raw_round(b);
		}
		printf("round %d: raw %.3f s (%.2f GB/s), checkpoint %.3f s (%.2f GB/s), event to "
		       "published %.3f s\n", r + 1, raw[r], gb / raw[r], ckpt[r], gb / ckpt[r],
		       event[r]);
		fflush(stdout);
	}
	double raw_s = median(raw, b->rounds), ckpt_s = median(ckpt, b->rounds);
	/* median() sorted both: [0] is the fastest round, [rounds - 1] the slowest. */
	printf("spread: raw %.2f-%.2f GB/s, checkpoint %.2f-%.2f GB/s over %d rounds\n",
	       gb / raw[b->rounds - 1], gb / raw[0], gb / ckpt[b->rounds - 1], gb / ckpt[0], b->rounds);
	result("jit_ckpt_GBps", gb / ckpt_s, "GB/s", gb / raw[0]);
	result("jit_ckpt_median_GBps", gb / ckpt_s, "GB/s", gb / raw_s);
	result("event_to_published_s", median(event, b->rounds), "s", raw_s);
}

static void parse_args(int argc, char **argv, struct bench *b)
{
	uint64_t v;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--lcrd=", 7) == 0)
			b->lcrd = a + 7;
		else if (strncmp(a, "--dir=", 6) == 0)
			b->dir = a + 6;
		else if (strncmp(a, "--size=", 7) == 0 && util_parse_size(a + 7, &b->size) == 0)
			continue;
		else if (strncmp(a, "--nodes=", 8) == 0 && util_parse_u64(a + 8, &v) == 0 && v >= 1 &&
			 v <= MAX_NODES)
			b->nodes = (int)v;
		else if (strncmp(a, "--rounds=", 9) == 0 && util_parse_u64(a + 9, &v) == 0 && v >= 1 &&
			 v <= 64)
			b->rounds = (int)v;
		else
			goto usage;
	}
	if (b->dir && b->size > 0)
		return;
usage:
	fprintf(stderr, "usage: ckpt_bench --lcrd=PATH --dir=DIR [--nodes=1..%d] [--size=BYTES] "
		"[--rounds=1..64]\n", MAX_NODES);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct bench b = { .lcrd = "helper/lcrd", .nodes = 4, .size = 1ull << 30,
				  .rounds = 3 };
	char run_dir[600], command[700];
	parse_args(argc, argv, &b);
	signal(SIGPIPE, SIG_IGN);
	snprintf(b.work, sizeof(b.work), "%s/lcr-ckpt-bench.%ld", b.dir, (long)getpid());
	snprintf(run_dir, sizeof(run_dir), "%s/run", b.work);
	if (mkdir(b.work, 0700) < 0 || mkdir(run_dir, 0700) < 0)
		die(b.work, errno);
	printf("%d helpers x %" PRIu64 " bytes, %d rounds, in %s\n", b.nodes, b.size, b.rounds,
	       b.work);
	for (int i = 0; i < b.nodes; i++) {
		start_lcrd(&b, i);
		fill_node(&b, i);
		b.node[i].ctl_fd = connect_to(b.node[i].socket_path);
	}
	for (int i = 0; i < b.nodes; i++)
		start_raw_writer(&b, i);
	run(&b);
	for (int i = 0; i < b.nodes; i++) {
		close(b.node[i].raw_go);
		waitpid(b.node[i].raw_pid, NULL, 0);
		close(b.node[i].raw_done);
	}
	for (int i = 0; i < b.nodes; i++) {
		close(b.node[i].ctl_fd);
		lcr_close(b.node[i].session);
		kill(b.node[i].pid, SIGTERM);
		waitpid(b.node[i].pid, NULL, 0);
	}
	snprintf(command, sizeof(command), "rm -rf '%s'", b.work);
	return system(command) == 0 ? 0 : 1;
}
