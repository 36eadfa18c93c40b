/* tcp_baseline.c: the raw loopback TCP throughput between two processes, the baseline of
 * contrib/bench/transfer.sh. A child process sends SIZE bytes from one buffer through a
 * TCP connection on 127.0.0.1; the parent receives them into a buffer of the same chunk size
 * as state transfer uses (4 MiB) and prints "bytes B seconds S cpu C", timed from connect to
 * the last byte, C the CPU seconds both processes took (user and system, the whole run).
 * Usage: tcp_baseline SIZE_IN_MIB */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal/util.h"

#define CHUNK (4u << 20)

static int send_bytes(const struct sockaddr_in *to, uint64_t size, uint8_t *buf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0)
		return 1;
	memset(buf, 0x5a, CHUNK);
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < CHUNK ? (size_t)(size - done) : CHUNK;
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			return 1;
		done += (uint64_t)w;
	}
	close(fd);
	return 0;
}

static int receive_bytes(int listener, uint64_t size, uint8_t *buf, double *seconds)
{
	uint64_t started = util_now_ns(), done = 0;
	int fd = accept(listener, NULL, NULL);
	if (fd < 0)
		return -errno;
	while (done < size) {
		ssize_t n = recv(fd, buf, CHUNK, 0);
		if (n <= 0)
			return -EIO;
		done += (uint64_t)n;
	}
	*seconds = (double)(util_now_ns() - started) / 1e9;
	close(fd);
	return 0;
}

/* The CPU seconds of this process and of its children waited for. */
static double cpu_seconds(void)
{
	struct rusage self, children;
	if (getrusage(RUSAGE_SELF, &self) < 0 || getrusage(RUSAGE_CHILDREN, &children) < 0)
		return 0;
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + children.ru_utime.tv_sec +
			children.ru_stime.tv_sec) +
	       (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + children.ru_utime.tv_usec +
			children.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	uint64_t mib;
	double seconds = 0;
	uint8_t *buf = malloc(CHUNK);
	int listener = socket(AF_INET, SOCK_STREAM, 0), status;
	if (argc != 2 || util_parse_u64(argv[1], &mib) < 0 || !buf) {
		fprintf(stderr, "usage: tcp_baseline SIZE_IN_MIB\n");
		return 2;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listener, 1) < 0 || getsockname(listener, (struct sockaddr *)&sa, &len) < 0) {
		perror("tcp_baseline: listener");
		return 1;
	}
	pid_t child = fork();
	if (child == 0)
		_exit(send_bytes(&sa, mib << 20, buf));
	if (child < 0 || receive_bytes(listener, mib << 20, buf, &seconds) < 0 ||
	    waitpid(child, &status, 0) < 0 || status != 0) {
		fprintf(stderr, "tcp_baseline: the transfer failed\n");
		return 1;
	}
	printf("bytes %llu seconds %.6f cpu %.6f\n", (unsigned long long)(mib << 20), seconds,
	       cpu_seconds());
	return 0;
}
