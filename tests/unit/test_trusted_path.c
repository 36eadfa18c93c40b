/* test_trusted_path.c: opening a user's directory so that nobody else can redirect or
 * replace it (common/trusted_path.c): missing levels are made 0700, a level others may write
 * without the sticky bit, a level or a symbolic link another user owns, and a last level
 * that is not the user's are refused with the level named; links the user owns are
 * followed and the real path is returned; files are opened without following links and a
 * FIFO does not hang; a file to write is created new, mode 0600, or else opened only when it
 * is the user's own regular file (a checkpoint's data file that several writers share),
 * never through a link, a FIFO or a file someone else owns or may write. The cases that give
 * a file to another user need root (CI is root). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal/trusted_path.h"

#define OTHER_UID 65534 /* nobody: the second user of these tests */

struct fixture {
	char base[64]; /* a fresh directory of ours under /tmp */
	char path[PATH_MAX];
	char resolved[PATH_MAX];
	char err[PATH_MAX + 256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->base, "/tmp/lcr-trusted-XXXXXX");
	assert_non_null(mkdtemp(f->base));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char command[128];
	snprintf(command, sizeof(command), "rm -rf %s", f->base);
	assert_int_equal(system(command), 0);
	free(f);
	return 0;
}

/* f->path = base + "/" + rest */
static const char *at(struct fixture *f, const char *rest)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->base, rest);
	return f->path;
}

static int open_dir(struct fixture *f, const char *rest, enum trusted_create create)
{
	f->err[0] = '\0';
	return trusted_dir_open(at(f, rest), geteuid(), create, f->resolved, sizeof(f->resolved),
				f->err, sizeof(f->err));
}

static void expect_refused(struct fixture *f, const char *rest, int rc, const char *why)
{
	int fd = open_dir(f, rest, TRUSTED_OPEN_EXISTING);
	if (fd >= 0)
		close(fd);
	assert_int_equal(fd, rc);
	if (!strstr(f->err, why))
		fail_msg("expected \"%s\" in \"%s\"", why, f->err);
}

static void test_missing_levels_are_made_private(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	int fd = open_dir(f, "a/b/c", TRUSTED_CREATE_MISSING);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());
	assert_string_equal(f->resolved, at(f, "a/b/c"));
	close(fd);
	assert_int_equal(stat(at(f, "a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	expect_refused(f, "a/b/missing", -ENOENT, "missing: No such file or directory");
}

static void test_a_level_others_may_write_without_sticky_bit_is_refused(void **state)
{
	struct fixture *f = *state;
	int fd = open_dir(f, "shared/me", TRUSTED_CREATE_MISSING);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(at(f, "shared"), 0777), 0);
	expect_refused(f, "shared/me", -EPERM, "/shared is writable by others (mode 0777) without "
		       "the sticky bit");
	/* Sticky, as /tmp: others cannot rename what is ours below it. */
	assert_int_equal(chmod(at(f, "shared"), 01777), 0);
	fd = open_dir(f, "shared/me", TRUSTED_OPEN_EXISTING);
	assert_true(fd >= 0);
	close(fd);
}

static void test_a_level_another_user_owns_is_refused(void **state)
{
	struct fixture *f = *state;
	char want[128];
	int fd;
	if (geteuid() != 0)
		skip();
	fd = open_dir(f, "theirs/mine", TRUSTED_CREATE_MISSING);
	assert_true(fd >= 0);
	close(fd);
	/* A second user made the shared level first, as with mkdir -m 0755 /tmp/lcr. */
	assert_int_equal(chown(at(f, "theirs"), OTHER_UID, OTHER_UID), 0);
	snprintf(want, sizeof(want), "/theirs is owned by uid %d, neither you (uid 0) nor root",
		 OTHER_UID);
	expect_refused(f, "theirs/mine", -EPERM, want);
}

static void test_the_directory_itself_must_be_the_users_alone(void **state)
{
	struct fixture *f = *state;
	int fd = open_dir(f, "ckpt", TRUSTED_CREATE_MISSING);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(at(f, "ckpt"), 0770), 0);
	expect_refused(f, "ckpt", -EPERM, "/ckpt is writable by others (mode 0770) without the "
		       "sticky bit");
	/* Sticky is enough above, not for the directory whose entries are read. */
	assert_int_equal(chmod(at(f, "ckpt"), 01777), 0);
	expect_refused(f, "ckpt", -EPERM, "/ckpt is writable by others (mode 1777): chmod go-w");
	if (geteuid() != 0)
		return;
	assert_int_equal(chmod(at(f, "ckpt"), 0700), 0);
	assert_int_equal(chown(at(f, "ckpt"), OTHER_UID, OTHER_UID), 0);
	expect_refused(f, "ckpt", -EPERM, "/ckpt is owned by uid 65534, neither you (uid 0) nor root");
}

static void test_links_are_followed_only_when_the_user_owns_them(void **state)
{
	struct fixture *f = *state;
	char target[PATH_MAX];
	int fd = open_dir(f, "real/ckpt", TRUSTED_CREATE_MISSING);
	assert_true(fd >= 0);
	close(fd);
	snprintf(target, sizeof(target), "%s/real", f->base);
	assert_int_equal(symlink(target, at(f, "absolute")), 0);
	assert_int_equal(symlink("real/../real", at(f, "relative")), 0);
	fd = open_dir(f, "absolute/ckpt", TRUSTED_OPEN_EXISTING);
	assert_true(fd >= 0);
	close(fd);
	assert_string_equal(f->resolved, at(f, "real/ckpt"));
	fd = open_dir(f, "relative/./ckpt", TRUSTED_OPEN_EXISTING);
	assert_true(fd >= 0);
	close(fd);
	assert_string_equal(f->resolved, at(f, "real/ckpt"));
	if (geteuid() != 0)
		return;
	/* A second user's link, planted where the user's directory would be. */
	assert_int_equal(lchown(at(f, "absolute"), OTHER_UID, OTHER_UID), 0);
	expect_refused(f, "absolute/ckpt", -EPERM, "/absolute is a symbolic link owned by uid "
		       "65534, neither you (uid 0) nor root");
}

static void test_a_link_loop_ends(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(symlink("loop", at(f, "loop")), 0);
	expect_refused(f, "loop/x", -ELOOP, "too many symbolic links");
}

static void test_a_relative_path_is_refused(void **state)
{
	char err[256];
	(void)state;
	assert_int_equal(trusted_dir_open("tmp/x", 0, TRUSTED_OPEN_EXISTING, NULL, 0, err,
					  sizeof(err)), -EINVAL);
	assert_string_equal(err, "'tmp/x' is not an absolute path");
}

static void test_files_are_opened_without_links_and_fifos_do_not_hang(void **state)
{
	struct fixture *f = *state;
	int fd, dir_fd = open_dir(f, "d", TRUSTED_CREATE_MISSING);
	assert_true(dir_fd >= 0);
	fd = open(at(f, "d/file"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink("file", at(f, "d/link")), 0);
	assert_int_equal(mkfifo(at(f, "d/fifo"), 0600), 0);
	fd = trusted_open_at(dir_fd, "file", O_RDONLY, geteuid(), "file", f->err, sizeof(f->err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(trusted_open_at(dir_fd, "link", O_RDONLY, geteuid(), "link", f->err,
					 sizeof(f->err)), -ELOOP);
	assert_string_equal(f->err, "cannot open link: it is a symbolic link");
	assert_int_equal(trusted_open_at(dir_fd, "fifo", O_RDONLY, geteuid(), "fifo", f->err,
					 sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "fifo is not a regular file");
	close(dir_fd);
}

/* trusted_create_at on name, expected to fail with rc and why in the message. */
static void expect_not_created(struct fixture *f, int dir_fd, const char *name, int rc,
			       const char *why)
{
	alarm(5); /* an open that blocks on a FIFO fails the test instead of hanging it */
	int fd = trusted_create_at(dir_fd, name, O_WRONLY, geteuid(), name, f->err,
				   sizeof(f->err));
	alarm(0);
	if (fd >= 0)
		close(fd);
	assert_int_equal(fd, rc);
	if (!strstr(f->err, why))
		fail_msg("expected \"%s\" in \"%s\"", why, f->err);
}

static void test_files_to_write_are_new_or_the_users_own(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char text[16] = "", victim_path[PATH_MAX];
	int fd, dir_fd = open_dir(f, "d", TRUSTED_CREATE_MISSING);
	assert_true(dir_fd >= 0);
	fd = trusted_create_at(dir_fd, "new", O_WRONLY, geteuid(), "new", f->err, sizeof(f->err));
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
	/* A second writer of the same file opens the one the first created. */
	fd = trusted_create_at(dir_fd, "new", O_WRONLY, geteuid(), "new", f->err, sizeof(f->err));
	assert_true(fd >= 0);
	close(fd);

	snprintf(victim_path, sizeof(victim_path), "%s", at(f, "victim"));
	FILE *victim = fopen(victim_path, "w");
	assert_non_null(victim);
	fputs("precious\n", victim);
	fclose(victim);
	assert_int_equal(symlink(victim_path, at(f, "d/link")), 0);
	expect_not_created(f, dir_fd, "link", -ELOOP, "cannot open link: it is a symbolic link");
	victim = fopen(victim_path, "r");
	assert_non_null(victim);
	assert_non_null(fgets(text, sizeof(text), victim));
	fclose(victim);
	assert_string_equal(text, "precious\n");

	assert_int_equal(mkfifo(at(f, "d/fifo"), 0600), 0);
	expect_not_created(f, dir_fd, "fifo", -ENXIO, "cannot open fifo");
	fd = open(at(f, "d/shared"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0666), 0);
	close(fd);
	expect_not_created(f, dir_fd, "shared", -EPERM, "shared is writable by others (mode 0666)");
	if (geteuid() == 0) {
		fd = open(at(f, "d/theirs"), O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		assert_int_equal(fchown(fd, OTHER_UID, OTHER_UID), 0);
		close(fd);
		expect_not_created(f, dir_fd, "theirs", -EPERM, "theirs is owned by uid 65534");
	}
	close(dir_fd);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_missing_levels_are_made_private),
		TEST(test_a_level_others_may_write_without_sticky_bit_is_refused),
		TEST(test_a_level_another_user_owns_is_refused),
		TEST(test_the_directory_itself_must_be_the_users_alone),
		TEST(test_links_are_followed_only_when_the_user_owns_them),
		TEST(test_a_link_loop_ends),
		cmocka_unit_test(test_a_relative_path_is_refused),
		TEST(test_files_are_opened_without_links_and_fifos_do_not_hang),
		TEST(test_files_to_write_are_new_or_the_users_own),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
