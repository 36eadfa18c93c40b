/* comm_impostor.c: a stranger at a TCP ring communicator's listener, driven by
 * tests/comm/comm_impostor.sh. It finds the victim's listener from the victim's entry in the
 * store (a real stranger would scan the ports; it never uses the key beside the address).
 *
 *   comm_impostor forge NAME RANK SIZE HOLD_MS
 *       connects and sends the hello of rank RANK-1 of communicator NAME at epoch 0 (with
 *       no valid MAC: it does not know the secret), then gradients of 1e30 for the victim's
 *       allreduce, and keeps the connection open HOLD_MS.
 *   comm_impostor idle NAME RANK SIZE HOLD_MS
 *       opens 20 connections to the victim (more than its backlog: without waiting for
 *       them to be accepted) and sends nothing on them for HOLD_MS.
 *
 * Prints "impostor ready ADDRESS:PORT" (the victim's listener) once its connections are open and its bytes are sent.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lcr.h"

#define IDLE_CONNECTIONS 20

/* The fields a member's hello starts with: magic, rank, epoch, name; then room for a
 * nonce and a MAC, which the impostor can only fill with zeros. */
struct forged_hello {
	uint32_t magic;
	uint32_t rank;
	uint64_t epoch;
	char name[LCR_NAME_MAX + 1];
	uint8_t unknown[48];
};

static int victim_address(lcr_session_t *s, const char *name, uint32_t rank, struct sockaddr_in *addr)
{
	char key[LCR_NAME_MAX + 1], value[300], *colon, *space;
	size_t len = 0;

	snprintf(key, sizeof(key), "lcrc.%s.0.%u", name, rank);
	if (lcr_store_get(s, key, value, sizeof(value) - 1, &len, 20000) < 0)
		return -1;
	value[len] = '\0';
	if ((space = strchr(value, ' ')))
		*space = '\0';
	if (!(colon = strrchr(value, ':')))
		return -1;
	*colon = '\0';
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, value, &addr->sin_addr) == 1 ? 0 : -1;
}

/* A connection to addr; without waiting for it to be accepted when `wait` is 0. */
static int connect_to(const struct sockaddr_in *addr, int wait)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (wait ? 0 : SOCK_NONBLOCK), 0);

	if (fd >= 0 && (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
			(!wait && errno == EINPROGRESS)))
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static int forge(const struct sockaddr_in *addr, const char *name, uint32_t rank, uint32_t size)
{
	struct forged_hello hello = { .magic = 0x4352434cu, .rank = (rank + size - 1) % size, .epoch = 0 };
	static float poison[1 << 16];
	int fd = connect_to(addr, 1);

	if (fd < 0)
		return -1;
	snprintf(hello.name, sizeof(hello.name), "%s", name);
	for (size_t i = 0; i < sizeof(poison) / sizeof(poison[0]); i++)
		poison[i] = 1e30f;
	if (send(fd, &hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
		return -1;
	/* Whatever the victim takes in; a victim that refused the hello closes the connection. */
	send(fd, poison, sizeof(poison), MSG_NOSIGNAL | MSG_DONTWAIT);
	return 0;
}

static int idle(const struct sockaddr_in *addr)
{
	for (int i = 0; i < IDLE_CONNECTIONS; i++)
		if (connect_to(addr, 0) < 0)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr;
	lcr_session_t *s;
	int rc;

	if (argc != 6 || (strcmp(argv[1], "forge") != 0 && strcmp(argv[1], "idle") != 0)) {
		fprintf(stderr, "usage: comm_impostor forge|idle NAME RANK SIZE HOLD_MS\n");
		return 2;
	}
	if (lcr_open(NULL, &s) < 0 || victim_address(s, argv[2], (uint32_t)atoi(argv[3]), &addr) < 0) {
		fprintf(stderr, "comm_impostor: cannot find the victim's listener\n");
		return 1;
	}
	if (strcmp(argv[1], "forge") == 0)
		rc = forge(&addr, argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]));
	else
		rc = idle(&addr);
	if (rc < 0) {
		fprintf(stderr, "comm_impostor: cannot reach the victim's listener\n");
		return 1;
	}
	printf("impostor ready %s:%u\n", inet_ntoa(addr.sin_addr), ntohs(addr.sin_port));
	fflush(stdout);
	long hold = atol(argv[5]);
	struct timespec pause = { hold / 1000, (hold % 1000) * 1000000L };
	nanosleep(&pause, NULL);
	lcr_close(s);
	return 0;
}
