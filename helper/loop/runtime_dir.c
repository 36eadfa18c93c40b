/* runtime_dir.c: checks the runtime base directory the plugin made for the job's user and
 * creates the helper's own directory in it (see runtime_dir.h). The checks matter: the
 * control socket hands out the job's memory, so nobody but the job's user may reach it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop/runtime_dir.h"
#include "internal/util.h"
#include "loop/log.h"

/* The base used in foreground mode without --runtime-dir. */
static int default_base(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (xdg && *xdg == '/')
		n = snprintf(buf, cap, "%s/lcr", xdg);
	else
		n = snprintf(buf, cap, "/tmp/lcr-%u", (unsigned)getuid());
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* A directory we own, closed to group and others. */
static int check_private_dir(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		int rc = -errno;
		log_error("runtime directory %s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("runtime directory %s is not a directory", path);
		return -ENOTDIR;
	}
	if (st.st_uid != getuid()) {
		log_error("runtime directory %s is owned by uid %u, not by lcrd's uid %u: refusing "
			  "to serve state memory from it",
			  path, (unsigned)st.st_uid, (unsigned)getuid());
		return -EPERM;
	}
	if (st.st_mode & 077) {
		log_error("runtime directory %s has mode %04o: it must not be accessible to group "
			  "or others (expected 0700)",
			  path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* mkdir 0700, accepting an existing directory; then the ownership and mode checks. */
static int make_private_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int rc = -errno;
		log_error("cannot create runtime directory %s: %s", path, strerror(errno));
		return rc;
	}
	return check_private_dir(path);
}

/* The pid in lcrd.pid, or 0 when there is none or it is unreadable. */
static pid_t read_pid_file(const char *path)
{
	FILE *f = fopen(path, "re");
	long pid = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid > 0 ? (pid_t)pid : 0;
}

/* True when pid runs and is not a zombie: /proc/PID/stat, since kill(pid, 0) also succeeds
 * for zombies that a late-reaping PID 1 has not collected. */
static bool process_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z' &&
	       close_paren[2] != 'X';
}

/* Refuses a directory a live lcrd serves; removes the leftovers of a dead one. */
static int claim_helper_dir(struct runtime_dir *rd)
{
	pid_t other = read_pid_file(rd->pid_path);
	if (other > 0 && other != getpid() && process_alive(other)) {
		log_error("another lcrd (pid %ld) already serves %s", (long)other, rd->dir);
		return -EADDRINUSE;
	}
	if (other > 0)
		log_warning("removing the leftovers of a helper (pid %ld) that did not exit "
			    "cleanly from %s",
			    (long)other, rd->dir);
	unlink(rd->socket_path);
	unlink(rd->pid_path);
	return 0;
}

static int build_paths(struct runtime_dir *rd, const struct lcrd_options *o)
{
	int n = snprintf(rd->dir, sizeof(rd->dir), "%s/%" PRIu32 ".%" PRIu32 ".%s", rd->base,
			 o->job_id, o->step_id, o->node_name);
	if (n < 0 || (size_t)n >= sizeof(rd->dir))
		goto too_long;
	n = snprintf(rd->pid_path, sizeof(rd->pid_path), "%s/lcrd.pid", rd->dir);
	if (n < 0 || (size_t)n >= sizeof(rd->pid_path))
		goto too_long;
	n = snprintf(rd->socket_path, sizeof(rd->socket_path), "%s/lcrd.sock", rd->dir);
	if (n < 0 || (size_t)n >= sizeof(rd->socket_path))
		goto too_long;
	return 0;
too_long:
	log_error("control socket path %s/lcrd.sock is longer than the %d bytes a UNIX socket "
		  "address holds: choose a shorter --runtime-dir",
		  rd->dir, WIRE_PATH_MAX);
	return -ENAMETOOLONG;
}

int runtime_dir_prepare(struct runtime_dir *rd, const struct lcrd_options *o)
{
	int rc;
	memset(rd, 0, sizeof(*rd));
	if (o->runtime_dir) {
		if (util_copy_string(rd->base, sizeof(rd->base), o->runtime_dir) < 0) {
			log_error("--runtime-dir=%s: path too long", o->runtime_dir);
			return -ENAMETOOLONG;
		}
		rc = check_private_dir(rd->base);
	} else {
		rc = default_base(rd->base, sizeof(rd->base));
		if (rc == 0)
			rc = make_private_dir(rd->base);
	}
	if (rc < 0)
		return rc;
	rc = build_paths(rd, o);
	if (rc < 0)
		return rc;
	rc = make_private_dir(rd->dir);
	if (rc == 0)
		rc = claim_helper_dir(rd);
	if (rc == 0)
		rd->created = true;
	return rc;
}

int runtime_dir_write_pid(struct runtime_dir *rd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid()), rc = 0;
	int fd = open(rd->pid_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		log_error("cannot write %s: %s", rd->pid_path, strerror(errno));
		return rc;
	}
	if (write(fd, buf, (size_t)n) != n) {
		rc = -EIO;
		log_error("cannot write %s: short write", rd->pid_path);
	}
	close(fd);
	return rc;
}

void runtime_dir_remove(struct runtime_dir *rd)
{
	if (!rd->created)
		return;
	unlink(rd->socket_path);
	unlink(rd->pid_path);
	if (rmdir(rd->dir) < 0 && errno != ENOENT)
		log_warning("cannot remove %s: %s", rd->dir, strerror(errno));
	rd->created = false;
}
