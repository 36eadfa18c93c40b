/* test_helper_files.c: the removal of a helper's runtime files when its step ends
 * (plugin/helper_files.c). It removes the helper's directory, with what lcrd left in it, and
 * its log, and nothing else of the user's directory; a link in the directory's place is
 * removed, not followed; it starts no process (an `rm` child could be killed by Slurm halfway,
 * which left logs behind); and, run as root, it removes nothing that the job's user could not
 * remove, and leaves the caller root. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_launch.h"

/* A uid and gid that own nothing here: the job's user in the test run as root. */
#define NOBODY 65534

/* snprintf into an array, failing the test when it does not fit. */
#define FORMAT(buf, ...) assert_true((size_t)snprintf((buf), sizeof(buf), __VA_ARGS__) < sizeof(buf))

/* Children that ended (SIGCHLD), however they were started: fork, vfork or posix_spawn. */
static volatile sig_atomic_t children_ended;

static void count_child(int sig)
{
	(void)sig;
	children_ended++;
}

struct tree {
	char root[64];
	struct helper_handle helper;
};

static void make_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;
	FORMAT(path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* user_dir with the helper's directory (its socket and pid files, and a subdirectory) and
 * log, and another step's directory and log beside them. */
static void make_tree(struct tree *t)
{
	char sub[PATH_MAX + 8];
	strcpy(t->root, "/tmp/test_helper_files.XXXXXX");
	assert_non_null(mkdtemp(t->root));
	memset(&t->helper, 0, sizeof(t->helper));
	t->helper.uid = getuid();
	t->helper.gid = getgid();
	FORMAT(t->helper.user_dir, "%s/%u", t->root, (unsigned)getuid());
	FORMAT(t->helper.node_dir, "%s/7.0.n1", t->helper.user_dir);
	FORMAT(t->helper.log_path, "%s.log", t->helper.node_dir);
	assert_int_equal(mkdir(t->helper.user_dir, 0700), 0);
	assert_int_equal(mkdir(t->helper.node_dir, 0700), 0);
	make_file(t->helper.node_dir, "lcrd.sock");
	make_file(t->helper.node_dir, "lcrd.pid");
	FORMAT(sub, "%s/sub", t->helper.node_dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	make_file(sub, "inner");
	make_file(t->helper.user_dir, "7.0.n1.log");
	FORMAT(sub, "%s/8.0.n1", t->helper.user_dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	make_file(sub, "lcrd.sock");
	make_file(t->helper.user_dir, "8.0.n1.log");
}

static void remove_tree(struct tree *t)
{
	char command[PATH_MAX + 16];
	FORMAT(command, "rm -rf %s", t->root);
	assert_int_equal(system(command), 0);
}

static void test_removes_the_directory_and_the_log_and_nothing_else(void **state)
{
	(void)state;
	struct tree t;
	char other[PATH_MAX + 16];
	make_tree(&t);
	children_ended = 0;
	assert_int_equal(helper_remove_files(&t.helper), 0);
	assert_int_equal(children_ended, 0); /* no rm child that Slurm could kill halfway */
	assert_false(exists(t.helper.node_dir));
	assert_false(exists(t.helper.log_path));
	FORMAT(other, "%s/8.0.n1/lcrd.sock", t.helper.user_dir);
	assert_true(exists(other));
	FORMAT(other, "%s/8.0.n1.log", t.helper.user_dir);
	assert_true(exists(other));
	helper_remove_files(&t.helper); /* again: nothing left to remove, no harm */
	assert_true(exists(other));
	remove_tree(&t);
}

static void test_a_link_in_the_directorys_place_is_removed_not_followed(void **state)
{
	(void)state;
	struct tree t;
	char target[PATH_MAX + 16], kept[PATH_MAX + 32];
	make_tree(&t);
	FORMAT(target, "%s/elsewhere", t.root);
	assert_int_equal(mkdir(target, 0700), 0);
	make_file(target, "precious");
	FORMAT(kept, "%s/precious", target);
	{
		char command[PATH_MAX + 16];
		FORMAT(command, "rm -rf %s", t.helper.node_dir);
		assert_int_equal(system(command), 0);
	}
	assert_int_equal(symlink(target, t.helper.node_dir), 0);
	helper_remove_files(&t.helper);
	assert_false(exists(t.helper.node_dir));
	assert_true(exists(kept));
	remove_tree(&t);
}

/* As root, with a job's user who may not write the directory: nothing is removed, and the
 * caller hears why. */
static void test_removes_nothing_the_user_may_not(void **state)
{
	(void)state;
	struct tree t;
	if (geteuid() != 0)
		skip();
	make_tree(&t); /* owned by root, 0700 */
	t.helper.uid = NOBODY;
	t.helper.gid = NOBODY;
	assert_int_equal(helper_remove_files(&t.helper), -EACCES);
	assert_true(exists(t.helper.node_dir));
	assert_true(exists(t.helper.log_path));
	remove_tree(&t);
}

/* As root, the user's tree with a directory of root's in it: the user's files go, root's
 * directory and what it holds stay, and the caller is still root for the file system. */
static void test_removes_as_the_user_only(void **state)
{
	(void)state;
	struct tree t;
	char command[PATH_MAX + 64], roots[PATH_MAX + 16], kept[PATH_MAX + 32], sock[PATH_MAX + 16];
	if (geteuid() != 0)
		skip();
	make_tree(&t);
	FORMAT(command, "chmod 755 %s && chown -R %d:%d %s", t.root, NOBODY, NOBODY, t.helper.user_dir);
	assert_int_equal(system(command), 0);
	FORMAT(roots, "%s/roots", t.helper.node_dir);
	assert_int_equal(mkdir(roots, 0755), 0); /* root's, in the user's directory */
	make_file(roots, "kept");
	FORMAT(kept, "%s/kept", roots);
	FORMAT(sock, "%s/lcrd.sock", t.helper.node_dir);
	t.helper.uid = NOBODY;
	t.helper.gid = NOBODY;
	assert_int_equal(helper_remove_files(&t.helper), 0);
	assert_false(exists(t.helper.log_path));
	assert_false(exists(sock));
	assert_true(exists(kept)); /* the user could not remove it, so nor could the removal */
	assert_int_equal(setfsuid((uid_t)-1), 0);
	remove_tree(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removes_the_directory_and_the_log_and_nothing_else),
		cmocka_unit_test(test_a_link_in_the_directorys_place_is_removed_not_followed),
		cmocka_unit_test(test_removes_nothing_the_user_may_not),
		cmocka_unit_test(test_removes_as_the_user_only),
	};
	struct sigaction on_child = { .sa_handler = count_child };
	sigaction(SIGCHLD, &on_child, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
