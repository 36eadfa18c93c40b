/* conn_flood.c: plays an attacker on the network who floods a helper's mesh listener with
 * connections that never authenticate, to check that the helper caps them and keeps
 * serving its peers. It opens PER connections from each of ADDRESSES source addresses
 * (127.0.0.2, 127.0.0.3, ... by default: all of 127/8 is this machine's), optionally sends a
 * junk HELLO on each (a text shaped like a MUNGE credential, which munged must be asked
 * about), holds them for SECONDS, and with --refill opens a new one for each the helper
 * closes. At the end it prints
 *   open N closed M opened T
 * (connections still open, closed by the helper, opened in all) and exits 0.
 *
 * Usage: conn_flood HOST:PORT [--from=IPV4] [--addresses=N] [--per-address=K]
 *                   [--junk] [--hello-from=NODE] [--hello-to=NODE] [--refill]
 *                   [--seconds=S] */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal/util.h"
#include "internal/wire.h"

struct flood {
	struct sockaddr_in target;
	struct in_addr first;
	unsigned addresses, per_address, seconds;
	bool junk, refill;
	uint32_t hello_from, hello_to;
	struct pollfd *fds; /* addresses * per_address; fd -1: closed by the helper */
	unsigned opened, closed;
};

static int parse_target(const char *text, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

/* A HELLO whose credential has MUNGE's shape but is none: the helper cannot refuse it
 * without asking munged. */
static int junk_hello(const struct flood *f, uint8_t *frame, size_t cap)
{
	static struct wire_mesh_hello hello;
	static uint8_t payload[WIRE_MAX_PAYLOAD];
	hello.from_node = f->hello_from;
	hello.to_node = f->hello_to;
	strcpy(hello.credential, "MUNGE:");
	for (int i = 0; i < 200; i++)
		strcat(hello.credential, "QUJD");
	strcat(hello.credential, ":");
	int n = wire_encode_mesh_hello(&hello, payload, sizeof(payload));
	return n < 0 ? n : wire_frame(WIRE_MESH_HELLO, 0, payload, (uint32_t)n, frame, cap);
}

/* Opens connection i, from the address of its group: the descriptor, or -errno. */
static int open_one(struct flood *f, unsigned i)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	static uint8_t frame[WIRE_MAX_MESSAGE];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), n;
	if (fd < 0)
		return -errno;
	from.sin_addr.s_addr = htonl(ntohl(f->first.s_addr) + i / f->per_address);
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    connect(fd, (struct sockaddr *)&f->target, sizeof(f->target)) < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	if (f->junk && (n = junk_hello(f, frame, sizeof(frame))) > 0)
		send(fd, frame, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	f->opened++;
	return fd;
}

/* Reads what the helper sent on fds[i]; notes it closed when it did. */
static void drain(struct flood *f, unsigned i)
{
	uint8_t buf[4096];
	ssize_t n = recv(f->fds[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	close(f->fds[i].fd);
	f->fds[i].fd = -1;
	f->closed++;
	if (f->refill) {
		int fd = open_one(f, i);
		f->fds[i].fd = fd >= 0 ? fd : -1;
	}
}

static int run(struct flood *f)
{
	unsigned count = f->addresses * f->per_address, open = 0;
	uint64_t deadline;
	f->fds = calloc(count, sizeof(*f->fds));
	if (!f->fds)
		return 2;
	for (unsigned i = 0; i < count; i++) {
		int fd = open_one(f, i);
		if (fd < 0)
			fprintf(stderr, "conn_flood: connection %u: %s\n", i, strerror(-fd));
		f->fds[i] = (struct pollfd){ .fd = fd >= 0 ? fd : -1, .events = POLLIN };
	}
	deadline = util_now_ms() + f->seconds * 1000ull;
	for (uint64_t now; (now = util_now_ms()) < deadline;) {
		int n = poll(f->fds, count, (int)(deadline - now));
		for (unsigned i = 0; n > 0 && i < count; i++)
			if (f->fds[i].fd >= 0 && f->fds[i].revents)
				drain(f, i);
	}
	for (unsigned i = 0; i < count; i++)
		open += f->fds[i].fd >= 0;
	printf("open %u closed %u opened %u\n", open, f->closed, f->opened);
	fflush(stdout);
	free(f->fds);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "addresses", required_argument, NULL, 'a' },
		{ "per-address", required_argument, NULL, 'p' },
		{ "junk", no_argument, NULL, 'j' },
		{ "hello-from", required_argument, NULL, 'F' },
		{ "hello-to", required_argument, NULL, 'T' },
		{ "refill", no_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct flood f = { .addresses = 1, .per_address = 100, .seconds = 5, .hello_from = 0,
			   .hello_to = 1 };
	int c;
	inet_pton(AF_INET, "127.0.0.2", &f.first);
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (inet_pton(AF_INET, optarg, &f.first) != 1)
				return 2;
			break;
		case 'a': f.addresses = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': f.per_address = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'j': f.junk = true; break;
		case 'F': f.hello_from = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'T': f.hello_to = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': f.refill = true; break;
		case 's': f.seconds = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (argc - optind != 1 || parse_target(argv[optind], &f.target) < 0 || !f.addresses ||
	    !f.per_address) {
		fprintf(stderr, "usage: conn_flood HOST:PORT [--from=IPV4] [--addresses=N] "
				"[--per-address=K] [--junk] [--hello-from=NODE] [--hello-to=NODE] "
				"[--refill] [--seconds=S]\n");
		return 2;
	}
	return run(&f);
}
