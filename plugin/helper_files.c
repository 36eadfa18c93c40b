/*
 * helper_files.c: removes a helper's runtime files when its step ends: its log and its
 * directory, user_dir/<job>.<step>.<node>[.log] (see helper_launch.h).
 *
 * The removal runs in slurmstepd's own process, on a thread of its own that takes the job's
 * user's file system identity (setfsuid and setfsgid act on the calling thread only), so that
 * root touches nothing of the user's. It used to be an `rm` child as the user; but slurmstepd's
 * children are the step's processes to Slurm, and the SIGKILL it sends them when the job ends
 * (an allocation that srun made ends with its step) could stop that rm between the directory
 * and the log, leaving the log behind. Every name is opened relative to the user's directory,
 * without following a link.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper_launch.h"

/* lcrd makes a flat directory; deeper trees are the user's own doing and are left. */
#define REMOVE_DEPTH_MAX 4
/* Passes over one directory: files that keep appearing (a helper not yet dead) are left. */
#define REMOVE_PASSES_MAX 8

struct removal {
	const char *user_dir;
	const char *node_name; /* the directory's name in user_dir */
	const char *log_name;  /* the log's name in user_dir */
	uid_t uid;
	gid_t gid;
};

static void remove_tree_at(int parent_fd, const char *name, int depth);

/* Removes what dir_fd holds, in passes until a pass removes nothing (entries removed while
 * a directory is read may hide others from that read). */
static void empty_directory(int dir_fd, int depth)
{
	bool removed = true;
	for (int pass = 0; removed && pass < REMOVE_PASSES_MAX; pass++) {
		int fd = dup(dir_fd);
		DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *entry;
		if (!dir) {
			if (fd >= 0)
				close(fd);
			return;
		}
		rewinddir(dir);
		removed = false;
		while ((entry = readdir(dir))) {
			if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
				continue;
			if (unlinkat(dir_fd, entry->d_name, 0) == 0) {
				removed = true;
			} else if (errno == EISDIR) {
				remove_tree_at(dir_fd, entry->d_name, depth + 1);
				removed = removed || faccessat(dir_fd, entry->d_name, F_OK, AT_SYMLINK_NOFOLLOW) < 0;
			}
		}
		closedir(dir);
	}
}

/* Removes name, a directory with what it holds or anything else, from parent_fd. */
static void remove_tree_at(int parent_fd, const char *name, int depth)
{
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
	empty_directory(fd, depth);
	close(fd);
	unlinkat(parent_fd, name, AT_REMOVEDIR);
}

static void *remove_as_user(void *arg)
{
	const struct removal *r = arg;
	int fd;
	syscall(SYS_setfsgid, r->gid);
	syscall(SYS_setfsuid, r->uid);
	/* Each call answers the identity before it: asking again with -1 (no change) checks. */
	if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != r->uid ||
	    (gid_t)syscall(SYS_setfsgid, (gid_t)-1) != r->gid)
		return NULL;
	fd = open(r->user_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	unlinkat(fd, r->log_name, 0);
	remove_tree_at(fd, r->node_name, 0);
	close(fd);
	return NULL;
}

/* The last component of path, when path is user_dir/NAME; else NULL. */
static const char *name_in(const char *user_dir, const char *path)
{
	size_t n = strlen(user_dir);
	if (strncmp(path, user_dir, n) != 0 || path[n] != '/' || !path[n + 1] || strchr(path + n + 1, '/'))
		return NULL;
	return path + n + 1;
}

void helper_remove_files(struct helper_handle *helper)
{
	struct removal r = {
		.user_dir = helper->user_dir,
		.node_name = name_in(helper->user_dir, helper->node_dir),
		.log_name = name_in(helper->user_dir, helper->log_path),
		.uid = helper->uid,
		.gid = helper->gid,
	};
	pthread_t thread;
	if (!helper->node_dir[0] || !r.node_name || !r.log_name)
		return;
	if (pthread_create(&thread, NULL, remove_as_user, &r) == 0)
		pthread_join(thread, NULL);
}
