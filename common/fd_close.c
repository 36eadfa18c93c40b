/* fd_close.c: close every descriptor from a number up, but one (see fd_close.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal/fd_close.h"

/* A record of getdents64(2); glibc declares none for the raw system call. */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int close_range_call(unsigned first, unsigned last)
{
	return first > last || syscall(SYS_close_range, first, last, 0) == 0 ? 0 : -errno;
}

/* The descriptor a /proc/self/fd entry names, or -1 for "." and "..". */
static int entry_number(const char *name)
{
	int number = 0;

	if (!*name)
		return -1;
	for (; *name; name++) {
		if (*name < '0' || *name > '9' || number > (INT32_MAX - 9) / 10)
			return -1;
		number = number * 10 + (*name - '0');
	}
	return number;
}

static void close_if_wanted(int fd, int lowest, int keep, int listing_fd)
{
	if (fd >= lowest && fd != keep && fd != listing_fd)
		close(fd);
}

/* Without /proc: every number up to the hard limit on open descriptors. */
static int close_by_counting(int lowest, int keep)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
		return -errno;
	for (rlim_t fd = (rlim_t)lowest; fd < limit.rlim_max && fd <= INT32_MAX; fd++)
		close_if_wanted((int)fd, lowest, keep, -1);
	return 0;
}

int fd_close_from_listing(int lowest, int keep)
{
	char buffer[4096] __attribute__((aligned(8)));
	long got;
	int listing_fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (listing_fd < 0)
		return close_by_counting(lowest, keep);
	/* /proc/self/fd lists by number, so closing what was read does not disturb the rest. */
	while ((got = syscall(SYS_getdents64, listing_fd, buffer, sizeof(buffer))) > 0) {
		for (long at = 0; at < got;) {
			struct linux_dirent64 *entry = (struct linux_dirent64 *)(buffer + at);

			close_if_wanted(entry_number(entry->d_name), lowest, keep, listing_fd);
			at += entry->d_reclen;
		}
	}
	close(listing_fd);
	return got < 0 ? close_by_counting(lowest, keep) : 0;
}

int fd_close_from(int lowest, int keep)
{
	int rc;

	if (lowest < 0)
		return -EINVAL;
	if (keep < lowest)
		rc = close_range_call((unsigned)lowest, ~0U);
	else if ((rc = close_range_call((unsigned)lowest, (unsigned)keep - 1)) == 0)
		rc = close_range_call((unsigned)keep + 1, ~0U);
	return rc == 0 ? 0 : fd_close_from_listing(lowest, keep);
}
