/* trusted_path.h: opening a user's directory and the files in it so that no other user can
 * redirect, replace or plant any part of it (a checkpoint directory under a shared /tmp or
 * /scratch, a checkpoint given with --restore=PATH).
 *
 * A path is trusted for user uid when every level of it, from "/" down, is:
 *   - a directory owned by uid or by root (a symbolic link is followed only when uid or root
 *     owns it, so nobody else can point a level somewhere else);
 *   - not writable by group or others, unless the sticky bit is set (as on /tmp): then
 *     others may create entries in it, but not rename or remove uid's, and the next level
 *     must again be owned by uid or root.
 * The last level is the directory itself: it must be uid's and writable by nobody else.
 *
 * Levels are opened one by one with O_NOFOLLOW from the level above, and the checks use
 * fstat of what was opened, so a level swapped during the walk is either refused or the one
 * that was checked. All later I/O goes relative to the returned descriptor.
 *
 * Functions return 0 or a descriptor, or a negative errno, with err set to a sentence that
 * names the path and what is wrong with it. No global state. */
#ifndef LCR_INTERNAL_TRUSTED_PATH_H
#define LCR_INTERNAL_TRUSTED_PATH_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How trusted_dir_open treats missing levels. */
enum trusted_create {
	TRUSTED_OPEN_EXISTING, /* a missing level is -ENOENT */
	TRUSTED_CREATE_MISSING /* missing levels are created, mode 0700 */
};

/* Opens the directory at the absolute path for uid (O_RDONLY | O_DIRECTORY | O_CLOEXEC) after
 * checking every level as above. resolved[cap] (may be NULL) receives the path with every
 * symbolic link replaced by its target: the place the descriptor really names. */
int trusted_dir_open(const char *path, uid_t uid, enum trusted_create create, char *resolved,
		     size_t cap, char *err, size_t errlen);

/* Opens name (one component, no '/') inside the trusted directory dir_fd with O_NOFOLLOW and
 * flags (O_DIRECTORY for a directory, else a regular file is required), and checks that it is
 * owned by uid and writable by nobody else. what names it in err ("checkpoint step-7"). */
int trusted_open_at(int dir_fd, const char *name, int flags, uid_t uid, const char *what,
		    char *err, size_t errlen);

/* Creates name (one component) in the trusted directory dir_fd as a new file of mode 0600
 * (O_CREAT | O_EXCL | O_NOFOLLOW, opened with flags: O_WRONLY or O_RDWR). When name exists
 * already (a file that several writers share, or one written in several passes), it is
 * opened as trusted_open_at opens it: never through a link, only a regular file of uid's
 * that nobody else may write, and a FIFO is refused without waiting on it. */
int trusted_create_at(int dir_fd, const char *name, int flags, uid_t uid, const char *what,
		      char *err, size_t errlen);

#endif
