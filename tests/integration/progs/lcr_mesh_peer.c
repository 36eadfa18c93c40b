/* lcr_mesh_peer.c: plays a peer that connects to a helper's mesh listener and opens with
 * a HELLO of its choosing, to check that the helper refuses what it must and accepts what
 * it may. It prints what the helper answered and exits with:
 *   0  "welcomed": a WELCOME whose credential answers this HELLO
 *   1  "refused: <reason>": the helper's refusal
 *   2  "fenced", "closed" (no answer), or a usage or local error
 *
 * Usage: lcr_mesh_peer HOST:PORT none|garbage|sealed|register|replayed [options]
 *   none     a HELLO without a credential
 *   garbage  a HELLO whose credential is not a MUNGE credential
 *   sealed   a HELLO with a real credential, made with --job, --step, --from, --to, that
 *            echoes the helper's CHALLENGE
 *   register the same credential sealed for an RDV_REGISTER instead of a HELLO
 *   replayed a real credential that echoes the CHALLENGE of another connection (opened
 *            first, then closed unused), as one captured in flight and replayed
 * Options: --job=J --step=S --from=NODE --to=NODE --munge-socket=PATH */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netdb.h>
#include <unistd.h>

#include "internal/util.h"
#include "internal/wire.h"
#include "loop/mesh_auth.h"
#include "loop/options.h"

#define ANSWER_MS 5000

struct settings {
	const char *target;
	const char *mode;
	uint32_t job, step, from, to;
	const char *munge_socket;
};

static int connect_to(const char *target)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *found;
	char host[256], port_text[8];
	uint16_t port;
	int fd;
	if (options_split_host_port(target, host, sizeof(host), &port) < 0)
		return -EINVAL;
	snprintf(port_text, sizeof(port_text), "%u", port);
	if (getaddrinfo(host, port_text, &hints, &found) != 0)
		return -EHOSTUNREACH;
	fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) < 0) {
		close(fd);
		fd = -errno;
	}
	freeaddrinfo(found);
	return fd;
}

/* The next message from the helper into msg: 0, or -errno when none came. */
static int read_answer(int fd, struct wire_stream *in, struct wire_msg *msg)
{
	uint64_t deadline = util_now_ms() + ANSWER_MS;
	for (;;) {
		int rc = wire_stream_next(in, msg);
		if (rc != -EAGAIN)
			return rc;
		uint64_t now = util_now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			return -ETIMEDOUT;
		rc = wire_stream_fill(fd, in);
		if (rc < 0 && rc != -EAGAIN)
			return rc;
	}
}

/* Connects and reads the helper's CHALLENGE: the socket, or -errno. */
static int open_challenged(const struct settings *s, struct wire_stream *in, struct wire_msg *msg,
			   uint64_t *challenge)
{
	struct wire_mesh_challenge ch;
	int fd = connect_to(s->target), rc;
	if (fd < 0)
		return fd;
	wire_stream_init(in);
	rc = read_answer(fd, in, msg);
	if (rc == 0 && (msg->header.type != WIRE_MESH_CHALLENGE ||
			wire_decode_mesh_challenge(msg->payload, msg->header.length, &ch) < 0))
		rc = -EPROTO;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*challenge = ch.nonce;
	return fd;
}

static int make_hello(const struct settings *s, struct mesh_auth *auth, uint64_t challenge,
		      struct wire_mesh_hello *hello, uint64_t *nonce)
{
	uint16_t purpose = strcmp(s->mode, "register") == 0 ? WIRE_RDV_REGISTER : WIRE_MESH_HELLO;
	char err[512];
	hello->from_node = s->from;
	hello->to_node = s->to;
	if (strcmp(s->mode, "none") == 0)
		return 0;
	if (strcmp(s->mode, "garbage") == 0) {
		strcpy(hello->credential, "MUNGE:this-is-not-a-credential:");
		return 0;
	}
	if (mesh_auth_seal(auth, purpose, s->from, s->to, challenge, nonce, hello->credential, err,
			   sizeof(err)) < 0) {
		fprintf(stderr, "lcr_mesh_peer: %s\n", err);
		return -EIO;
	}
	return 0;
}

/* Prints what the helper answered and returns the exit status. */
static int judge(const struct settings *s, struct mesh_auth *auth, const struct wire_msg *msg,
		 uint64_t nonce)
{
	static struct wire_mesh_welcome welcome;
	struct wire_mesh_auth payload;
	struct wire_reply reply;
	char err[512];
	struct mesh_auth_expect expect = { .purpose = WIRE_MESH_WELCOME, .from_node = s->to,
					   .to_node = s->from, .echo = nonce };
	if (msg->header.type == WIRE_REPLY &&
	    wire_decode_reply(msg->payload, msg->header.length, &reply) == 0) {
		printf("refused: %s\n", reply.message);
		return 1;
	}
	if (msg->header.type == WIRE_MESH_FENCED) {
		printf("fenced\n");
		return 2;
	}
	if (msg->header.type == WIRE_MESH_WELCOME &&
	    wire_decode_mesh_welcome(msg->payload, msg->header.length, &welcome) == 0 &&
	    mesh_auth_open(auth, welcome.credential, &expect, &payload, err, sizeof(err)) == 0) {
		printf("welcomed\n");
		return 0;
	}
	printf("unexpected answer %s\n", wire_type_name(msg->header.type));
	return 2;
}

static int run(const struct settings *s)
{
	static struct wire_mesh_hello hello;
	static struct wire_stream in;
	static struct wire_msg msg;
	static uint8_t payload[WIRE_MAX_PAYLOAD], frame[WIRE_MAX_MESSAGE];
	struct mesh_auth *auth = NULL;
	char err[512];
	uint64_t nonce = 0, challenge = 0, unused;
	int fd = -1, rc = 2, n;
	if (mesh_auth_create(s->munge_socket, s->job, s->step, &auth, err, sizeof(err)) < 0) {
		fprintf(stderr, "lcr_mesh_peer: %s\n", err);
		goto out;
	}
	fd = open_challenged(s, &in, &msg, &challenge);
	if (fd >= 0 && strcmp(s->mode, "replayed") == 0) {
		int second = open_challenged(s, &in, &msg, &unused);
		close(fd);
		fd = second;
	}
	if (fd < 0) {
		fprintf(stderr, "lcr_mesh_peer: cannot open a connection to %s: %s\n", s->target,
			strerror(-fd));
		goto out;
	}
	if (make_hello(s, auth, challenge, &hello, &nonce) < 0)
		goto out;
	n = wire_encode_mesh_hello(&hello, payload, sizeof(payload));
	n = wire_frame(WIRE_MESH_HELLO, 0, payload, (uint32_t)n, frame, sizeof(frame));
	if (n < 0 || send(fd, frame, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "lcr_mesh_peer: cannot send the HELLO\n");
		goto out;
	}
	if (read_answer(fd, &in, &msg) < 0) {
		printf("closed\n");
		goto out;
	}
	rc = judge(s, auth, &msg, nonce);
out:
	if (fd >= 0)
		close(fd);
	mesh_auth_destroy(auth);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "step", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "munge-socket", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct settings s = { .job = 0, .step = 0, .from = 1, .to = 0 };
	int c;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'j': s.job = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': s.step = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'f': s.from = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't': s.to = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'm': s.munge_socket = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || (strcmp(argv[optind + 1], "none") &&
				   strcmp(argv[optind + 1], "garbage") &&
				   strcmp(argv[optind + 1], "sealed") &&
				   strcmp(argv[optind + 1], "register") &&
				   strcmp(argv[optind + 1], "replayed"))) {
		fprintf(stderr, "usage: lcr_mesh_peer HOST:PORT none|garbage|sealed|register|replayed "
				"[--job=J] [--step=S] [--from=N] [--to=N] [--munge-socket=PATH]\n");
		return 2;
	}
	s.target = argv[optind];
	s.mode = argv[optind + 1];
	return run(&s);
}
