/* proxy_bench.c: benchmarks of the device proxy (host backend), each against a baseline
 * measured in the same run:
 *
 *   helper_copy_GBps    lcrd's copy out of a 1 GiB region (region_read, the path checkpoint
 *                       and transfer code use) vs memcpy from a plain malloc buffer; both
 *                       into the same destination, pages touched beforehand, best of 5
 *   update_mark_ns      one lcr_update_begin or lcr_update_end (target: under 50 ns) vs one
 *                       getppid system call, the least a mark that told lcrd would cost
 *   region_alloc_4KiB_us / region_alloc_256MiB_ms
 *                       lcr_region_alloc + lcr_region_free through a real lcrd (request,
 *                       memfd, fallocate, SCM_RIGHTS, mmap) vs the same memfd work done
 *                       locally
 *
 * Each figure ends as one line: RESULT name=<figure> value=<v> unit=<u> baseline=<b>
 * ratio=<v/b>. Usage: proxy_bench [--lcrd=PATH] [--copy-size=BYTES] (lcrd defaults to
 * helper/lcrd, relative to the build directory). About half a minute on 2 cores. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal/util.h"
#include "lcr.h"
#include "loop/regions.h"

#define REPEATS 5

static void result(const char *name, double value, const char *unit, double baseline)
{
	printf("RESULT name=%s value=%.3f unit=%s baseline=%.3f ratio=%.3f\n", name, value, unit,
	       baseline, value / baseline);
	fflush(stdout);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "proxy_bench: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static double seconds_since(uint64_t start_ns)
{
	return (double)(util_now_ns() - start_ns) / 1e9;
}

/* --- helper-side copy --- */

static void bench_copy(uint64_t size)
{
	struct region_table table;
	struct region *r;
	char err[256];
	int fd, rc;
	region_table_init(&table, 0);
	rc = region_table_alloc(&table, 0, "bench", WIRE_REGION_HOST, size, NULL, &r, err,
				sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "proxy_bench: %s\n", err);
		exit(1);
	}
	/* The client's view of the region, written the way a rank writes its state. */
	if ((rc = r->backend->export_fd(r, &fd)) < 0)
		die("export", rc);
	uint8_t *client = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint8_t *plain = malloc(size), *dst = malloc(size);
	if (client == MAP_FAILED || !plain || !dst)
		die("allocating the copy buffers", ENOMEM);
	memset(client, 0x3c, size);
	memset(plain, 0x3c, size);
	memset(dst, 0, size);

	double best_region = 1e9, best_plain = 1e9;
	for (int i = 0; i < REPEATS; i++) {
		uint64_t t0 = util_now_ns();
		if ((rc = region_read(r, 0, dst, size)) < 0)
			die("region_read", rc);
		double t = seconds_since(t0);
		best_region = t < best_region ? t : best_region;
		t0 = util_now_ns();
		memcpy(dst, plain, size);
		__asm__ volatile("" ::"r"(dst) : "memory");
		t = seconds_since(t0);
		best_plain = t < best_plain ? t : best_plain;
	}
	double gb = (double)size / 1e9;
	result("helper_copy_GBps", gb / best_region, "GB/s", gb / best_plain);
	munmap(client, r->map_size);
	close(fd);
	free(plain);
	free(dst);
	region_table_fini(&table);
}

/* --- a real lcrd for the client-side figures --- */

static pid_t start_lcrd(const char *lcrd, char *socket_path, size_t cap)
{
	char dir_opt[128], dir[64];
	int out[2];
	snprintf(dir, sizeof(dir), "/tmp/lcr-bench.%ld", (long)getpid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		die("mkdir", errno);
	snprintf(dir_opt, sizeof(dir_opt), "--runtime-dir=%s", dir);
	if (pipe(out) < 0)
		die("pipe", errno);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		execl(lcrd, "lcrd", "--job-id=1", "--foreground", dir_opt, "--node-name=bench",
		      "--log-level=warning", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	char line[512];
	if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "LCR_SOCKET=", 11) != 0) {
		fprintf(stderr, "proxy_bench: cannot start %s (use --lcrd=PATH)\n", lcrd);
		exit(1);
	}
	line[strcspn(line, "\n")] = '\0';
	if (util_copy_string(socket_path, cap, line + 11) < 0)
		die("socket path", ENAMETOOLONG);
	fclose(f);
	return pid;
}

static void stop_lcrd(pid_t pid)
{
	char dir[64];
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(dir, sizeof(dir), "/tmp/lcr-bench.%ld", (long)getpid());
	rmdir(dir);
}

static void bench_update_marks(lcr_session_t *s)
{
	const uint64_t n = 20000000;
	uint64_t t0 = util_now_ns();
	for (uint64_t step = 0; step < n; step++) {
		lcr_update_begin(s, step);
		lcr_update_end(s, step);
	}
	double mark_ns = seconds_since(t0) * 1e9 / (double)(2 * n);
	const uint64_t calls = 2000000;
	t0 = util_now_ns();
	for (uint64_t i = 0; i < calls; i++)
		syscall(SYS_getppid);
	double syscall_ns = seconds_since(t0) * 1e9 / (double)calls;
	result("update_mark_ns", mark_ns, "ns", syscall_ns);
}

/* Local memfd work equal to what lcrd does for a host region, and the client's mmap. */
static void local_memfd_region(uint64_t size)
{
	int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 || posix_fallocate(fd, 0, (off_t)size) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		die("local memfd", errno);
	void *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || b == MAP_FAILED)
		die("local mmap", errno);
	munmap(a, size);
	munmap(b, size);
	close(fd);
}

static void bench_alloc(lcr_session_t *s, const char *name, uint64_t size, int rounds,
			double scale, const char *unit)
{
	double proxy = 1e9, local = 1e9;
	void *p;
	for (int i = 0; i < rounds; i++) {
		uint64_t t0 = util_now_ns();
		int rc = lcr_region_alloc(s, "bench.alloc", size, LCR_REGION_HOST, -1, &p);
		if (rc < 0)
			die("lcr_region_alloc", rc);
		if ((rc = lcr_region_free(s, "bench.alloc")) < 0)
			die("lcr_region_free", rc);
		double t = seconds_since(t0);
		proxy = t < proxy ? t : proxy;
		t0 = util_now_ns();
		local_memfd_region(size);
		t = seconds_since(t0);
		local = t < local ? t : local;
	}
	result(name, proxy * scale, unit, local * scale);
}

int main(int argc, char **argv)
{
	const char *lcrd = "helper/lcrd";
	uint64_t copy_size = 1ull << 30;
	char socket_path[256];
	lcr_session_t *s;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--lcrd=", 7) == 0)
			lcrd = argv[i] + 7;
		else if (strncmp(argv[i], "--copy-size=", 12) == 0 &&
			 util_parse_size(argv[i] + 12, &copy_size) == 0)
			continue;
		else {
			fprintf(stderr, "usage: proxy_bench [--lcrd=PATH] [--copy-size=BYTES]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	bench_copy(copy_size);

	pid_t pid = start_lcrd(lcrd, socket_path, sizeof(socket_path));
	struct lcr_rank_info me = { .global_rank = 0, .dp_size = 1, .shard_key = "bench" };
	int rc = lcr_open(socket_path, &s);
	if (rc == 0)
		rc = lcr_register(s, &me);
	if (rc < 0)
		die("connecting to lcrd", rc);
	bench_update_marks(s);
	bench_alloc(s, "region_alloc_4KiB_us", 4096, 200, 1e6, "us");
	bench_alloc(s, "region_alloc_256MiB_ms", 256ull << 20, 5, 1e3, "ms");
	lcr_close(s);
	stop_lcrd(pid);
	return 0;
}
