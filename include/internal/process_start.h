/* process_start.h: the one way LCR starts another program: lcrd's replacement launcher
 * (srun), scancel and the Slurm queries, and, inside slurmstepd and srun, the plugin's
 * rendezvous server and the removal of the helper's files.
 *
 * The child resets every signal to its default and clears its signal mask, optionally
 * enters a session or process group of its own, gets its standard streams (or /dev/null)
 * and the descriptors the plan keeps at the numbers it names, closes every other descriptor
 * (fd_close.h), changes directory, runs the plan's setup (to drop privileges) and executes
 * the program. When any step fails, it reports the errno and what it was doing on a
 * close-on-exec pipe, which the parent reads: so a program that could not be executed is an
 * error of process_start with its errno, not an exit status to interpret later.
 *
 * Between fork() and execve() the child makes only async-signal-safe system calls on memory
 * prepared before the fork: the plugin forks inside slurmstepd and srun, which have
 * threads, and a lock held by another thread at fork time would never be released in the
 * child. The setup hook must keep to that too. */
#ifndef LCR_INTERNAL_PROCESS_START_H
#define LCR_INTERNAL_PROCESS_START_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROCESS_KEEP_MAX 4 /* descriptors a plan keeps besides the standard streams */

/* A descriptor of the parent to give the child at another number (3 or more). */
struct process_fd {
	int fd;
	int target;
};

struct process_plan {
	const char *path;   /* the program; looked up in PATH when it has no '/' */
	char *const *argv;  /* NULL-terminated */
	char *const *envp;  /* NULL-terminated, or NULL for the parent's environment */
	int stdin_fd;       /* the child's standard streams; -1, or one not open: /dev/null */
	int stdout_fd;
	int stderr_fd;
	struct process_fd keep[PROCESS_KEEP_MAX]; /* more descriptors, keep_count of them */
	int keep_count;
	bool new_session;   /* setsid(): detached from the parent's terminal and group */
	bool new_group;     /* setpgid(0, 0): killable as one group */
	const char *dir;    /* chdir() there first, or NULL */
	/* Called last before execve, in the child (async-signal-safe only): 0, or -1 with errno
	 * set and *what saying what failed. */
	int (*setup)(void *arg, const char **what);
	void *setup_arg;
};

/* A plan with nothing set: standard streams on /dev/null, no descriptor kept. */
#define PROCESS_PLAN_INIT { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 }

/* Starts the plan's program: 0 with its pid in *pid once it was executed, or -errno with why
 * it could not be (why: "cannot execute /bin/x: No such file or directory"); a child that
 * failed has been reaped. */
int process_start(const struct process_plan *plan, pid_t *pid, char *why, size_t whylen);

/* Waits for pid at most timeout_ms (-1: for ever; 0: not at all); past that, SIGKILLs it
 * (its whole process group when kill_group) and reaps it. 0 with its wait status in
 * *status, -ETIMEDOUT when it had to be killed (*status then says so), or -errno. */
int process_wait(pid_t pid, int timeout_ms, bool kill_group, int *status);

/* --- for children that fork again before they execute (the plugin's detached servers) --- */

/* In a forked child: carries out the plan and executes it, reporting a failure on
 * report_fd (a pipe or socket the parent reads with process_read_report). Never returns. */
void process_exec_child(const struct process_plan *plan, int report_fd) __attribute__((noreturn));

/* In a forked child: reports errno and what failed on report_fd, then _exit(127). */
void process_report_failure(int report_fd, const char *what) __attribute__((noreturn));

/* In the parent: waits at most timeout_ms (-1: for ever) for report_fd to close (0: the
 * program was executed) or to carry a report (-errno of the failure, with why). -ETIMEDOUT
 * when neither came in time. */
int process_read_report(int report_fd, int timeout_ms, char *why, size_t whylen);

#endif
