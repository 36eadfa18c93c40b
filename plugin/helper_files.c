/*
 * helper_files.c: removes a helper's runtime files when its step ends: its log and its
 * directory, user_dir/<job>.<step>.<node>[.log] (see helper_launch.h).
 *
 * The removal runs in slurmstepd's own process, on a thread of its own that takes the job's
 * user's file system identity and no supplementary group (setfsuid, setfsgid and the raw
 * setgroups system call act on the calling thread only), so that root touches nothing of the
 * user's. It used to be an `rm` child as the user; but slurmstepd's children are the step's
 * processes to Slurm, and the SIGKILL it sends them when the job ends (an allocation that
 * srun made ends with its step) could stop that rm between the directory and the log,
 * leaving the log behind.
 *
 * Every name is opened relative to the user's directory, without following a link; only
 * directories that the user owns, on the file system of the user's directory, are emptied
 * (what the user mounted or gave to someone else stays). slurmstepd waits for the removal at
 * most REMOVE_WAIT_SECONDS: a file system that does not answer cannot hold the step's end.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "helper_launch.h"

/* lcrd makes a flat directory; deeper trees are the user's own doing and are left. */
#define REMOVE_DEPTH_MAX 4
/* Passes over one directory: files that keep appearing (a helper not yet dead) are left. */
#define REMOVE_PASSES_MAX 8
#define REMOVE_WAIT_SECONDS 10

/* What the removal thread needs, its own copy: the thread may outlive helper_remove_files. */
struct removal {
	char user_dir[PATH_MAX];
	char node_name[PATH_MAX]; /* the directory's name in user_dir */
	char log_name[PATH_MAX];  /* the log's name in user_dir */
	uid_t uid;
	gid_t gid;
	dev_t device; /* user_dir's file system */
	int status;   /* 0, or the -errno that stopped it before any removal */
};

static void remove_tree_at(const struct removal *r, int parent_fd, const char *name, int depth);

static bool gone(int dir_fd, const char *name)
{
	struct stat st;
	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

/* Removes what dir_fd holds, in passes until a pass removes nothing (entries removed while
 * a directory is read may hide others from that read). */
static void empty_directory(const struct removal *r, int dir_fd, int depth)
{
	bool removed = true;
	for (int pass = 0; removed && pass < REMOVE_PASSES_MAX; pass++) {
		int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
		DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *entry;
		if (!dir) {
			if (fd >= 0)
				close(fd);
			return;
		}
		rewinddir(dir); /* the duplicate shares the offset an earlier pass left at the end */
		removed = false;
		while ((entry = readdir(dir))) {
			if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
				continue;
			if (unlinkat(dir_fd, entry->d_name, 0) == 0) {
				removed = true;
			} else if (errno == EISDIR) {
				remove_tree_at(r, dir_fd, entry->d_name, depth + 1);
				removed = removed || gone(dir_fd, entry->d_name);
			}
		}
		closedir(dir);
	}
}

/* Removes name from parent_fd: a directory of the user's on the same file system with what
 * it holds, or anything else but a directory. */
static void remove_tree_at(const struct removal *r, int parent_fd, const char *name, int depth)
{
	struct stat st;
	int fd;
	if (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return;
	if (errno == ENOTDIR) {
		unlinkat(parent_fd, name, 0); /* a link or a file in the directory's place */
		return;
	}
	if (depth >= REMOVE_DEPTH_MAX)
		return;
	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_uid == r->uid && st.st_dev == r->device) {
		empty_directory(r, fd, depth);
		unlinkat(parent_fd, name, AT_REMOVEDIR);
	}
	close(fd);
}

/* Takes the user's file system identity, without supplementary groups, on this thread
 * only: 0 or -EPERM. */
static int become_user_here(const struct removal *r)
{
	if (geteuid() == 0 && syscall(SYS_setgroups, 0, NULL) < 0)
		return -EPERM;
	setfsgid(r->gid);
	setfsuid(r->uid);
	/* Each call answers the identity before it: asking again with -1 (no change) checks. */
	if ((uid_t)setfsuid((uid_t)-1) != r->uid || (gid_t)setfsgid((gid_t)-1) != r->gid)
		return -EPERM;
	return 0;
}

static void *remove_as_user(void *arg)
{
	struct removal *r = arg;
	struct stat st;
	int fd;
	r->status = become_user_here(r);
	if (r->status < 0)
		return NULL;
	fd = open(r->user_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r->status = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	r->device = st.st_dev;
	unlinkat(fd, r->log_name, 0);
	remove_tree_at(r, fd, r->node_name, 0);
	close(fd);
	return NULL;
}

/* Copies path's last component into out when path is user_dir/NAME: 0, else -EINVAL. */
static int name_in(const char *user_dir, const char *path, char *out, size_t cap)
{
	size_t n = strlen(user_dir);
	const char *name = path + n + 1;
	if (strncmp(path, user_dir, n) != 0 || path[n] != '/' || !*name || strchr(name, '/') ||
	    strlen(name) >= cap)
		return -EINVAL;
	memcpy(out, name, strlen(name) + 1);
	return 0;
}

int helper_remove_files(const struct helper_handle *helper)
{
	struct removal *r;
	struct timespec deadline;
	pthread_t thread;
	int rc;
	if (!helper->node_dir[0])
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->uid = helper->uid;
	r->gid = helper->gid;
	memcpy(r->user_dir, helper->user_dir, sizeof(r->user_dir));
	if (name_in(helper->user_dir, helper->node_dir, r->node_name, sizeof(r->node_name)) < 0 ||
	    name_in(helper->user_dir, helper->log_path, r->log_name, sizeof(r->log_name)) < 0) {
		free(r);
		return -EINVAL;
	}
	rc = -pthread_create(&thread, NULL, remove_as_user, r);
	if (rc < 0) {
		free(r);
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += REMOVE_WAIT_SECONDS;
	if (pthread_timedjoin_np(thread, NULL, &deadline) != 0) {
		pthread_detach(thread); /* it and its copy stay until slurmstepd exits */
		return -ETIMEDOUT;
	}
	rc = r->status;
	free(r);
	return rc;
}
