/* lcr_gpu_test.c: the device proxy with CUDA regions, on a real GPU (driven by
 * tests/gpu/run.sh). It starts lcrd, allocates CUDA regions through liblcr, writes them
 * from this process with cudaMemcpy, has lcrd read them (its XXH3 checksum of each region)
 * and compares; checks that a CUDA region outlives a killed rank and reads back intact when
 * a new process reattaches; and measures device-to-host copy bandwidth from a proxy region
 * against cudaMalloc memory in the same run. Prints "ok"/"not ok" lines and RESULT lines;
 * exits non-zero on any failure.
 *
 * Usage: lcr_gpu_test --lcrd=PATH [--bandwidth-size=BYTES]
 *        lcr_gpu_test child-write|child-check SOCKET   (used by itself) */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cuda_runtime_api.h>
#include <xxhash.h>

#include "internal/util.h"
#include "internal/wire.h"
#include "lcr.h"

#define CHILD_REGION "gpu.survivor"
#define CHILD_SIZE (48u << 20)
#define CHILD_SEED 77

static int failures;
static int test_number;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", ok ? "" : "not ", ++test_number);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	if (!ok)
		failures++;
}

static void fill_pattern(uint8_t *p, size_t size, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

/* lcrd's checksum of one region, through a raw control connection. */
static int helper_checksum(const char *socket_path, uint32_t rank, const char *name,
			   uint64_t *hash)
{
	static struct wire_msg msg;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct wire_region_checksum m = { .owner_rank = rank };
	struct wire_region_checksum_reply reply;
	uint8_t buf[sizeof(m)];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), rc = -EPROTO;
	util_copy_string(addr.sun_path, sizeof(addr.sun_path), socket_path);
	util_copy_string(m.name, sizeof(m.name), name);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto out;
	int len = wire_encode_region_checksum(&m, buf, sizeof(buf));
	if (wire_send_msg_full(fd, WIRE_REGION_CHECKSUM, 1, buf, (uint32_t)len, -1) < 0 ||
	    wire_recv_msg(fd, &msg, 60000) < 0 || msg.header.type != WIRE_REGION_CHECKSUM_REPLY ||
	    wire_decode_region_checksum_reply(msg.payload, msg.header.length, &reply) < 0)
		goto out;
	*hash = reply.xxh64;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static lcr_session_t *open_rank(const char *socket_path, uint32_t rank)
{
	struct lcr_rank_info me = { .global_rank = rank, .dp_size = 2, .shard_key = "gpu" };
	lcr_session_t *s;
	int rc = lcr_open(socket_path, &s);
	if (rc == 0)
		rc = lcr_register(s, &me);
	if (rc < 0) {
		printf("# cannot open rank %u: %s: %s\n", rank, lcr_strerror(rc), lcr_last_error(s));
		return NULL;
	}
	return s;
}

/* Writes a pattern into a fresh CUDA region and lcrd's checksum must match it. */
static void test_write_and_helper_reads(lcr_session_t *s, const char *socket_path,
					const char *name, size_t size, uint64_t seed)
{
	uint8_t *host = malloc(size);
	void *dev = NULL;
	uint64_t helper_hash = 0;
	int rc = lcr_region_alloc(s, name, size, LCR_REGION_CUDA, 0, &dev);
	check(rc == 0 && dev, "CUDA region '%s' (%zu bytes) allocated and mapped%s%s", name, size,
	      rc < 0 ? ": " : "", rc < 0 ? lcr_last_error(s) : "");
	if (rc < 0 || !host) {
		free(host);
		return;
	}
	fill_pattern(host, size, seed);
	cudaError_t e = cudaMemcpy(dev, host, size, cudaMemcpyHostToDevice);
	check(e == cudaSuccess, "the client writes '%s' with cudaMemcpy: %s", name,
	      cudaGetErrorString(e));
	cudaDeviceSynchronize();
	rc = helper_checksum(socket_path, 0, name, &helper_hash);
	check(rc == 0 && helper_hash == XXH3_64bits(host, size),
	      "lcrd reads '%s' from its own mapping and its checksum matches the client's data",
	      name);
	memset(host, 0, size);
	e = cudaMemcpy(host, dev, size, cudaMemcpyDeviceToHost);
	check(e == cudaSuccess && XXH3_64bits(host, size) == helper_hash,
	      "the client reads '%s' back unchanged", name);
	free(host);
}

/* A child process writes a region, then kills itself; a second one reattaches and reads. */
static int child_main(const char *mode, const char *socket_path)
{
	lcr_session_t *s = open_rank(socket_path, 1);
	uint8_t *host = malloc(CHILD_SIZE), *back = malloc(CHILD_SIZE);
	void *dev;
	if (!s || !host || !back)
		return 1;
	int rc = lcr_region_alloc(s, CHILD_REGION, CHILD_SIZE, LCR_REGION_CUDA, 0, &dev);
	if (rc < 0) {
		printf("# child %s: %s\n", mode, lcr_last_error(s));
		return 1;
	}
	fill_pattern(host, CHILD_SIZE, CHILD_SEED);
	if (strcmp(mode, "child-write") == 0) {
		lcr_update_begin(s, 5);
		if (cudaMemcpy(dev, host, CHILD_SIZE, cudaMemcpyHostToDevice) != cudaSuccess)
			return 1;
		cudaDeviceSynchronize();
		lcr_update_end(s, 5);
		raise(SIGKILL);
	}
	if (rc != LCR_REATTACHED)
		return 2;
	if (cudaMemcpy(back, dev, CHILD_SIZE, cudaMemcpyDeviceToHost) != cudaSuccess)
		return 1;
	return memcmp(host, back, CHILD_SIZE) == 0 ? 0 : 3;
}

static int run_child(const char *self, const char *mode, const char *socket_path)
{
	int status;
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, mode, socket_path, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return status;
}

static void test_region_survives_killed_rank(const char *self, const char *socket_path)
{
	int status = run_child(self, "child-write", socket_path);
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	      "a rank writes a CUDA region and is SIGKILLed");
	status = run_child(self, "child-check", socket_path);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a new process of the rank reattaches and reads the CUDA region back intact");
}

/* Best-of-5 device-to-host bandwidth from src into pinned host memory, in GB/s. */
static double d2h_bandwidth(void *host, const void *src, size_t size)
{
	cudaEvent_t start, stop;
	float best = 1e9f;
	cudaEventCreate(&start);
	cudaEventCreate(&stop);
	for (int i = 0; i < 5; i++) {
		float ms;
		cudaEventRecord(start, 0);
		cudaMemcpyAsync(host, src, size, cudaMemcpyDeviceToHost, 0);
		cudaEventRecord(stop, 0);
		cudaEventSynchronize(stop);
		cudaEventElapsedTime(&ms, start, stop);
		best = ms < best ? ms : best;
	}
	cudaEventDestroy(start);
	cudaEventDestroy(stop);
	return (double)size / 1e9 / ((double)best / 1e3);
}

static void bench_d2h(lcr_session_t *s, const char *socket_path, size_t size)
{
	void *proxy = NULL, *plain = NULL, *host = NULL;
	int rc = lcr_region_alloc(s, "gpu.bandwidth", size, LCR_REGION_CUDA, 0, &proxy);
	if (rc < 0 || cudaMalloc(&plain, size) != cudaSuccess ||
	    cudaMallocHost(&host, size) != cudaSuccess) {
		check(false, "buffers for the bandwidth test");
		return;
	}
	cudaMemset(proxy, 1, size);
	cudaMemset(plain, 1, size);
	cudaDeviceSynchronize();
	double from_plain = d2h_bandwidth(host, plain, size);
	double from_proxy = d2h_bandwidth(host, proxy, size);
	check(true, "device-to-host copies of %zu MiB measured", size >> 20);
	printf("RESULT name=cuda_d2h_proxy_GBps value=%.3f unit=GB/s baseline=%.3f ratio=%.3f\n",
	       from_proxy, from_plain, from_proxy / from_plain);
	uint64_t hash, t0 = util_now_ns();
	rc = helper_checksum(socket_path, 0, "gpu.bandwidth", &hash);
	double helper_s = (double)(util_now_ns() - t0) / 1e9;
	check(rc == 0, "lcrd reads the whole %zu MiB region", size >> 20);
	printf("# lcrd read and hashed %zu MiB in %.3f s (%.2f GB/s, pageable staging)\n",
	       size >> 20, helper_s, (double)size / 1e9 / helper_s);
	cudaFree(plain);
	cudaFreeHost(host);
	lcr_region_free(s, "gpu.bandwidth");
}

static pid_t start_lcrd(const char *lcrd, char *socket_path, size_t cap)
{
	static char dir[64];
	char dir_opt[128], line[512];
	int out[2];
	snprintf(dir, sizeof(dir), "/tmp/lcr-gpu.%ld", (long)getpid());
	mkdir(dir, 0700);
	snprintf(dir_opt, sizeof(dir_opt), "--runtime-dir=%s", dir);
	if (pipe(out) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		execl(lcrd, "lcrd", "--job-id=1", "--foreground", "--node-name=gpu", dir_opt,
		      "--log-level=info", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "LCR_SOCKET=", 11) != 0)
		return -1;
	line[strcspn(line, "\n")] = '\0';
	util_copy_string(socket_path, cap, line + 11);
	fclose(f);
	return pid;
}

int main(int argc, char **argv)
{
	const char *lcrd = NULL;
	uint64_t bandwidth_size = 1ull << 30;
	char socket_path[256];
	int status;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strncmp(argv[1], "child-", 6) == 0)
		return child_main(argv[1], argv[2]);
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--lcrd=", 7) == 0)
			lcrd = argv[i] + 7;
		else if (strncmp(argv[i], "--bandwidth-size=", 17) != 0 ||
			 util_parse_size(argv[i] + 17, &bandwidth_size) < 0)
			lcrd = NULL, i = argc;
	}
	if (!lcrd) {
		fprintf(stderr, "usage: lcr_gpu_test --lcrd=PATH [--bandwidth-size=BYTES]\n");
		return 2;
	}
	pid_t pid = start_lcrd(lcrd, socket_path, sizeof(socket_path));
	check(pid > 0, "lcrd starts (it touches no GPU until a CUDA region is asked for)");
	if (pid <= 0)
		return 1;
	lcr_session_t *s = open_rank(socket_path, 0);
	check(s != NULL, "rank 0 registers");
	if (s) {
		cudaSetDevice(0);
		test_write_and_helper_reads(s, socket_path, "gpu.weights", 64u << 20, 1);
		test_write_and_helper_reads(s, socket_path, "gpu.odd", (1u << 20) + 3, 2);
		test_region_survives_killed_rank(argv[0], socket_path);
		bench_d2h(s, socket_path, bandwidth_size);
		check(lcr_region_free(s, "gpu.weights") == 0, "a CUDA region is freed");
		lcr_close(s);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "lcrd exits 0 and frees the regions");
	printf("1..%d\n", test_number);
	return failures ? 1 : 0;
}
