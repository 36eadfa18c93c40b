/* xfer_client.c: plays the fetching end of state transfer against running helpers, as mesh
 * node --self of their step, so that the transfer tests (tests/helper/transfer.sh) and the
 * benchmark (contrib/bench/transfer.sh) need no replacement helper. It links the helper's
 * own client code (helper/services/transfer_client.c).
 *
 *   get SHARD REGION STEP OFFSET LENGTH   one range from the first --peer; prints
 *                                         "got N bytes xxh3 H from rank R", or "refused: why"
 *   garbage                               an XFER_HELLO whose credential is not one; prints
 *                                         "refused: why"
 *   fill CKPT_DIR SHARD REGION            fills a local copy of REGION (as checkpoint
 *                                         CKPT_DIR describes it) from every --peer with
 *                                         transfer_fill, falling back to CKPT_DIR's file;
 *                                         prints where the bytes came from, the bytes
 *                                         hashed a second time to check them, the CPU
 *                                         time the fill took (all threads) and the
 *                                         region's xxh3
 * Options: --peer=NODE@HOST:PORT (repeatable) --self=NODE --job=J --step=S
 *          --munge-socket=PATH --wire-encryption (the site's wire_encryption: true)
 * Exit status: 0 done, 1 refused or failed, 2 usage or local error. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal/ckpt_store.h"
#include "internal/manifest.h"
#include "internal/util.h"
#include "internal/wire.h"
#include "loop/log.h"
#include "loop/options.h"
#include "loop/regions.h"
#include "services/transfer.h"

struct settings {
	struct transfer_peer peers[TRANSFER_MAX_PEERS];
	size_t peer_count;
	struct transfer_identity id;
};

/* "NODE@HOST:PORT" into a peer. */
static int parse_peer(const char *text, struct transfer_peer *p)
{
	char host[256];
	uint16_t port;
	const char *at = strchr(text, '@');
	char node[16];
	if (!at || (size_t)(at - text) >= sizeof(node))
		return -EINVAL;
	memcpy(node, text, (size_t)(at - text));
	node[at - text] = '\0';
	if (util_parse_u32(node, &p->node) < 0 ||
	    options_split_host_port(at + 1, host, sizeof(host), &port) < 0)
		return -EINVAL;
	snprintf(p->name, sizeof(p->name), "node%" PRIu32, p->node);
	struct sockaddr_in *in = (struct sockaddr_in *)&p->sa;
	memset(&p->sa, 0, sizeof(p->sa));
	if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return -EINVAL;
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	p->sa_len = sizeof(*in);
	return 0;
}

static int get_range(const struct settings *s, char **argv)
{
	struct wire_xfer_request req = { 0 };
	struct transfer_conn *c;
	struct transfer_fetched f;
	char err[512];
	if (util_copy_string(req.shard_key, sizeof(req.shard_key), argv[0]) < 0 ||
	    util_copy_string(req.region, sizeof(req.region), argv[1]) < 0 ||
	    util_parse_u64(argv[2], &req.step) < 0 || util_parse_u64(argv[3], &req.offset) < 0 ||
	    util_parse_size(argv[4], &req.length) < 0)
		return 2;
	int rc = transfer_conn_open(&s->peers[0], &s->id, &c, err, sizeof(err));
	if (rc < 0) {
		printf("%s: %s\n", rc == -EACCES ? "refused" : "error", err);
		return rc == -EACCES ? 1 : 2;
	}
	rc = transfer_conn_fetch(c, &req, NULL, NULL, &f, err, sizeof(err));
	transfer_conn_close(c);
	if (rc < 0) {
		printf("%s: %s\n", f.refused ? "refused" : "error", err);
		return 1;
	}
	printf("got %" PRIu64 " bytes xxh3 %016" PRIx64 " from rank %" PRIu32 "\n", req.length,
	       f.received_xxh3, f.rank);
	return 0;
}

/* The next message on fd into buf: its header in *h, 0 or -1. */
static int recv_message(int fd, uint8_t *buf, struct wire_header *h)
{
	uint32_t length;
	if (transfer_recv_all(fd, buf, WIRE_HEADER_SIZE) < 0)
		return -1;
	length = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 |
		 (uint32_t)buf[11] << 24;
	if (length > WIRE_MAX_PAYLOAD || transfer_recv_all(fd, buf + WIRE_HEADER_SIZE, length) < 0 ||
	    wire_parse_header(buf, WIRE_HEADER_SIZE + length, h) < 0)
		return -1;
	return 0;
}

/* An XFER_HELLO with a credential that is not one (after the server's CHALLENGE), and the
 * answer. */
static int send_garbage(const struct settings *s)
{
	struct wire_xfer_hello hello = { .from_node = s->id.self, .to_node = s->peers[0].node };
	static uint8_t buf[WIRE_MAX_MESSAGE];
	struct wire_reply reply;
	struct wire_header h;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	snprintf(hello.credential, sizeof(hello.credential), "MUNGE:not-a-credential:");
	if (fd < 0 || (connect(fd, (struct sockaddr *)&s->peers[0].sa, s->peers[0].sa_len) < 0 &&
		       errno != EINPROGRESS))
		return 2;
	if (recv_message(fd, buf, &h) < 0 || h.type != WIRE_MESH_CHALLENGE ||
	    transfer_send_message(fd, NULL, WIRE_XFER_HELLO, 0, buf,
				  wire_encode_xfer_hello(&hello, buf, sizeof(buf))) < 0 ||
	    recv_message(fd, buf, &h) < 0)
		return 2;
	close(fd);
	if (h.type == WIRE_REPLY && wire_decode_reply(buf + WIRE_HEADER_SIZE, h.length, &reply) == 0) {
		printf("refused: %s\n", reply.message);
		return 1;
	}
	printf("answered %s\n", wire_type_name(h.type));
	return 0;
}

/* The CPU time of this process so far (every thread, user and system), in seconds. */
static double cpu_seconds(void)
{
	struct rusage u;
	if (getrusage(RUSAGE_SELF, &u) < 0)
		return 0;
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void print_stats(const struct transfer_stats *st, uint64_t size)
{
	char line[1024];
	transfer_describe(st, size, line, sizeof(line));
	printf("%s\n", line);
	for (size_t i = 0; i < st->peer_count; i++)
		printf("peer %s bytes %" PRIu64 "\n", st->peer_name[i], st->peer_bytes[i]);
	printf("from-peers %" PRIu64 "\nfrom-file %" PRIu64 "\nhashed-again %" PRIu64
	       "\nseconds %.6f\n", st->bytes_from_peers, st->bytes_from_file,
	       st->bytes_hashed_again, (double)st->elapsed_ns / 1e9);
}

static int fill_region(const struct settings *s, char **argv)
{
	static struct manifest m;
	struct region_table table;
	struct region *r = NULL;
	struct transfer_stats st;
	atomic_bool cancel = false;
	char err[1024], path[PATH_MAX], file[PATH_MAX];
	uint64_t hash;
	int rc = 2;
	snprintf(path, sizeof(path), "%s/%s", argv[0], MANIFEST_FILE_NAME);
	if (manifest_read_file(path, &m, err, sizeof(err)) < 0) {
		printf("error: %s\n", err);
		return 2;
	}
	const struct manifest_shard *sh = manifest_find_shard(&m, argv[1]);
	const struct manifest_region *g = sh ? manifest_find_region(sh, argv[2]) : NULL;
	if (!g) {
		printf("error: %s holds no region '%s' of shard '%s'\n", argv[0], argv[2], argv[1]);
		goto out;
	}
	snprintf(file, sizeof(file), "%s/%s", argv[0], g->file);
	region_table_init(&table, 0);
	if (region_table_alloc(&table, 0, g->name, WIRE_REGION_HOST, g->size, NULL, &r, err,
			       sizeof(err)) < 0) {
		printf("error: %s\n", err);
		goto out_table;
	}
	struct transfer_want w = { .shard_key = sh->key, .region_name = g->name, .step = m.step,
				   .ranges = g->ranges, .range_count = g->range_count,
				   .file_fd = open(file, O_RDONLY | O_CLOEXEC), .file = file };
	double cpu_before = cpu_seconds();
	rc = transfer_fill(r, &w, &s->id, s->peers, s->peer_count, &cancel, &st, err, sizeof(err));
	printf("cpu-seconds %.6f\n", cpu_seconds() - cpu_before);
	if (w.file_fd >= 0)
		close(w.file_fd);
	print_stats(&st, g->size);
	if (rc < 0) {
		printf("failed: %s\n", err);
		rc = 1;
	} else if (region_checksum(r, &hash) == 0) {
		printf("filled %s xxh3 %016" PRIx64 "\n", g->name, hash);
		rc = 0;
	}
out_table:
	region_table_fini(&table);
out:
	manifest_free(&m);
	return rc;
}

int main(int argc, char **argv)
{
	static struct settings s = { .id = { .job_id = 0 } };
	static const struct option longopts[] = {
		{ "peer", required_argument, NULL, 'p' },
		{ "self", required_argument, NULL, 'n' },
		{ "job", required_argument, NULL, 'j' },
		{ "step", required_argument, NULL, 's' },
		{ "munge-socket", required_argument, NULL, 'm' },
		{ "wire-encryption", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	log_init("xfer_client", LOG_LEVEL_INFO);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int bad = 0;
		switch (opt) {
		case 'p':
			bad = s.peer_count == TRANSFER_MAX_PEERS ||
			      parse_peer(optarg, &s.peers[s.peer_count++]) < 0;
			break;
		case 'n': bad = util_parse_u32(optarg, &s.id.self) < 0; break;
		case 'j': bad = util_parse_u32(optarg, &s.id.job_id) < 0; break;
		case 's': bad = util_parse_u32(optarg, &s.id.step_id) < 0; break;
		case 'm': s.id.munge_socket = optarg; break;
		case 'e': s.id.wire_encryption = true; break;
		default: bad = 1;
		}
		if (bad) {
			fprintf(stderr, "xfer_client: bad option (see the comment at the top of "
				"tests/helper/xfer_client.c)\n");
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc >= 1 && s.peer_count > 0) {
		if (strcmp(argv[0], "get") == 0 && argc == 6)
			return get_range(&s, argv + 1);
		if (strcmp(argv[0], "garbage") == 0 && argc == 1)
			return send_garbage(&s);
		if (strcmp(argv[0], "fill") == 0 && argc == 4)
			return fill_region(&s, argv + 1);
	}
	fprintf(stderr, "usage: xfer_client --peer=NODE@HOST:PORT... --self=N --job=J "
		"[--step=S] [--munge-socket=PATH] get|garbage|fill ...\n");
	return 2;
}
