/* trusted_path.c: opening a user's directory level by level so that no other user can
 * redirect or replace any part of it (see trusted_path.h).
 *
 * The walk keeps the real path walked so far ("done", no symbolic link in it) and its
 * descriptor (O_PATH, so that a level the user may only search is walked too), and the
 * components still to walk ("pending"). A symbolic link or a ".." turns the rest into a new
 * absolute path and the walk starts again from "/", checking every level again. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/trusted_path.h"

#define SYMLINKS_MAX 40 /* as the kernel's own limit on a path */

struct walk {
	uid_t uid;
	enum trusted_create create;
	char done[PATH_MAX];    /* the real path walked so far; "" is "/" */
	char pending[PATH_MAX]; /* what is left, relative to done */
	int fd;                 /* O_PATH descriptor of done */
	unsigned restarts;
	char *err;
	size_t errlen;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const char *shown(const char *path)
{
	return path[0] ? path : "/";
}

/* A level others could change is refused: its owner must be uid or root, and if group or
 * others may write it, the sticky bit must keep them from renaming what is below. */
static int check_level(const struct walk *w, const struct stat *st)
{
	if (st->st_uid != w->uid && st->st_uid != 0)
		return fail(w->err, w->errlen, -EPERM, "%s is owned by uid %u, neither you (uid %u) "
			    "nor root: that user could replace what is below it", shown(w->done),
			    (unsigned)st->st_uid, (unsigned)w->uid);
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return fail(w->err, w->errlen, -EPERM, "%s is writable by others (mode %04o) "
			    "without the sticky bit: anyone could replace what is below it",
			    shown(w->done), (unsigned)(st->st_mode & 07777));
	return 0;
}

static int start_at_root(struct walk *w)
{
	struct stat st;
	if (w->fd >= 0)
		close(w->fd);
	w->done[0] = '\0';
	w->fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->fd < 0 || fstat(w->fd, &st) < 0)
		return fail(w->err, w->errlen, -errno, "cannot open /: %s", strerror(errno));
	return check_level(w, &st);
}

/* pending = prefix + "/" + pending, then walk again from "/". */
static int restart_with(struct walk *w, const char *prefix)
{
	char next[PATH_MAX];
	if (++w->restarts > SYMLINKS_MAX)
		return fail(w->err, w->errlen, -ELOOP, "%s: too many symbolic links",
			    shown(w->done));
	if (snprintf(next, sizeof(next), "%s/%s", prefix, w->pending) >= (int)sizeof(next))
		return fail(w->err, w->errlen, -ENAMETOOLONG, "%s/%s: path too long", prefix,
			    w->pending);
	memcpy(w->pending, next, sizeof(next));
	return start_at_root(w);
}

/* ".." of a real path is its parent, by the text alone. */
static int walk_up(struct walk *w)
{
	char parent[PATH_MAX];
	char *slash;
	memcpy(parent, w->done, sizeof(parent));
	slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	return restart_with(w, parent);
}

/* A link is followed only when its owner is uid or root: nobody else chose where it points. */
static int follow_link(struct walk *w, const char *name, const struct stat *st)
{
	char target[PATH_MAX], prefix[PATH_MAX];
	ssize_t len;
	if (st->st_uid != w->uid && st->st_uid != 0)
		return fail(w->err, w->errlen, -EPERM, "%s/%s is a symbolic link owned by uid %u, "
			    "neither you (uid %u) nor root", w->done, name, (unsigned)st->st_uid,
			    (unsigned)w->uid);
	len = readlinkat(w->fd, name, target, sizeof(target) - 1);
	if (len < 0)
		return fail(w->err, w->errlen, -errno, "cannot read the link %s/%s: %s", w->done,
			    name, strerror(errno));
	target[len] = '\0';
	if (target[0] == '/')
		return restart_with(w, target);
	if (snprintf(prefix, sizeof(prefix), "%s/%s", w->done, target) >= (int)sizeof(prefix))
		return fail(w->err, w->errlen, -ENAMETOOLONG, "%s/%s: path too long", w->done,
			    target);
	return restart_with(w, prefix);
}

/* Moves the walk into the directory name, creating it if asked. */
static int enter(struct walk *w, const char *name)
{
	struct stat st;
	size_t used = strlen(w->done);
	int fd;
	if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT || w->create == TRUSTED_OPEN_EXISTING)
			return fail(w->err, w->errlen, -errno, "%s/%s: %s", w->done, name,
				    strerror(errno));
		if (mkdirat(w->fd, name, 0700) < 0 && errno != EEXIST)
			return fail(w->err, w->errlen, -errno, "cannot create %s/%s: %s", w->done,
				    name, strerror(errno));
		if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(w->err, w->errlen, -errno, "%s/%s: %s", w->done, name,
				    strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return follow_link(w, name, &st);
	fd = openat(w->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = fail(w->err, w->errlen, -errno, "%s/%s: %s", w->done, name,
			      strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (snprintf(w->done + used, sizeof(w->done) - used, "/%s", name) >=
	    (int)(sizeof(w->done) - used)) {
		close(fd);
		return fail(w->err, w->errlen, -ENAMETOOLONG, "%s/%s: path too long", w->done, name);
	}
	close(w->fd);
	w->fd = fd;
	return check_level(w, &st);
}

/* Takes the next component off pending into name; false when none is left. */
static bool next_component(struct walk *w, char *name, size_t cap)
{
	char *p = w->pending + strspn(w->pending, "/");
	size_t len = strcspn(p, "/");
	if (len == 0)
		return false;
	snprintf(name, cap, "%.*s", (int)len, p);
	p += len;
	memmove(w->pending, p, strlen(p) + 1);
	return true;
}

static int walk_all(struct walk *w)
{
	char name[NAME_MAX + 2];
	int rc = start_at_root(w);
	while (rc == 0 && next_component(w, name, sizeof(name))) {
		if (strlen(name) > NAME_MAX)
			return fail(w->err, w->errlen, -ENAMETOOLONG, "%s/%.32s...: name too long",
				    w->done, name);
		if (strcmp(name, ".") == 0)
			continue;
		rc = strcmp(name, "..") == 0 ? walk_up(w) : enter(w, name);
	}
	return rc;
}

/* The directory itself holds the user's files: only the user may change it. */
static int check_last(const struct walk *w)
{
	struct stat st;
	if (fstat(w->fd, &st) < 0)
		return fail(w->err, w->errlen, -errno, "%s: %s", shown(w->done), strerror(errno));
	if (st.st_uid != w->uid)
		return fail(w->err, w->errlen, -EPERM, "%s is owned by uid %u, not by you (uid %u)",
			    shown(w->done), (unsigned)st.st_uid, (unsigned)w->uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fail(w->err, w->errlen, -EPERM, "%s is writable by others (mode %04o): "
			    "chmod go-w it", shown(w->done), (unsigned)(st.st_mode & 07777));
	return 0;
}

int trusted_dir_open(const char *path, uid_t uid, enum trusted_create create, char *resolved,
		     size_t cap, char *err, size_t errlen)
{
	struct walk w = { .uid = uid, .create = create, .fd = -1, .err = err, .errlen = errlen };
	int rc, fd = -1;
	if (path[0] != '/')
		return fail(err, errlen, -EINVAL, "'%s' is not an absolute path", path);
	if (snprintf(w.pending, sizeof(w.pending), "%s", path) >= (int)sizeof(w.pending))
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	rc = walk_all(&w);
	if (rc == 0)
		rc = check_last(&w);
	if (rc == 0) {
		fd = openat(w.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			rc = fail(err, errlen, -errno, "cannot open %s: %s", shown(w.done),
				  strerror(errno));
	}
	if (rc == 0 && resolved && snprintf(resolved, cap, "%s", shown(w.done)) >= (int)cap)
		rc = fail(err, errlen, -ENAMETOOLONG, "%s: path too long", w.done);
	if (w.fd >= 0)
		close(w.fd);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

int trusted_open_at(int dir_fd, const char *name, int flags, uid_t uid, const char *what,
		    char *err, size_t errlen)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO planted in place of a file does not hang the open. */
	int rc = 0, fd = openat(dir_fd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "cannot open %s: %s", what,
			    errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	if (fstat(fd, &st) < 0)
		rc = fail(err, errlen, -errno, "cannot open %s: %s", what, strerror(errno));
	else if (!(flags & O_DIRECTORY) && !S_ISREG(st.st_mode))
		rc = fail(err, errlen, -EINVAL, "%s is not a regular file", what);
	else if (st.st_uid != uid)
		rc = fail(err, errlen, -EPERM, "%s is owned by uid %u, not by you (uid %u)", what,
			  (unsigned)st.st_uid, (unsigned)uid);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		rc = fail(err, errlen, -EPERM, "%s is writable by others (mode %04o)", what,
			  (unsigned)(st.st_mode & 07777));
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int trusted_create_at(int dir_fd, const char *name, int flags, uid_t uid, const char *what,
		      char *err, size_t errlen)
{
	int fd = openat(dir_fd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EEXIST)
		return fail(err, errlen, -errno, "cannot create %s: %s", what, strerror(errno));
	fd = trusted_open_at(dir_fd, name, flags, uid, what, err, errlen);
	/* trusted_open_at opened it O_NONBLOCK (no FIFO waited on): give the writer the same
	 * descriptor as a new file's. */
	if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		return fail(err, errlen, -e, "cannot use %s: %s", what, strerror(e));
	}
	return fd;
}
