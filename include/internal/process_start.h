/* process_start.h: the one way LCR starts another program: lcrd's replacement launcher
 * (srun), scancel and the Slurm queries, and, inside slurmstepd and srun, the plugin's
 * helper, its rendezvous server and the removal of the helper's files.
 *
 * The child resets every signal to its default and clears its signal mask, optionally
 * enters a session or process group of its own, runs the plan's prepare hook (to become the
 * user and open what it must open as the user), gets its standard streams (or /dev/null)
 * and the descriptors the plan keeps at the numbers it names, closes every other descriptor
 * (fd_close.h), changes directory, runs the plan's setup hook (what must come after the
 * closing, such as resource limits) and executes the program. When any step fails, it
 * reports the errno and what it was doing on a close-on-exec pipe or socket, which the
 * parent reads: so a program that could not be executed is an error with its errno, not an
 * exit status to interpret later.
 *
 * process_start runs the program as the caller's child. process_start_detached runs it as a
 * grandchild in a session of its own, which the caller never waits for (the plugin's
 * helper and rendezvous server): the intermediate child reports the program's pid and stays
 * until released, so that the number cannot name another process before the caller has a
 * pidfd of it. The caller holds a pidfd of the intermediate child from its fork on and
 * signals it only through that, never by number (it may run as root inside slurmstepd). When
 * the caller gives a start up, or the intermediate child cannot report the pid, the
 * intermediate child kills the program before it ends: no program is left running whose pid
 * the caller does not know.
 *
 * Between fork() and execve() the children make only async-signal-safe system calls on
 * memory prepared before the fork: the plugin forks inside slurmstepd and srun, which have
 * threads, and a lock held by another thread at fork time would never be released in the
 * child. The hooks must keep to that too. */
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
	/* More descriptors, keep_count of them. Unlike a stream, a kept descriptor that is not
	 * open fails the start ("cannot move a kept descriptor: Bad file descriptor"). */
	struct process_fd keep[PROCESS_KEEP_MAX];
	int keep_count;
	bool new_session;   /* setsid(): detached from the parent's terminal and group */
	bool new_group;     /* setpgid(0, 0): killable as one group */
	const char *dir;    /* chdir() there, after the descriptors are set, or NULL */
	/* Called in the child (async-signal-safe only) before its descriptors are set, with the
	 * child's own copy of the plan: it may change the process's ids, open descriptors (as
	 * the user it became) and name them in the copy (stdout_fd, keep, ...). 0, or -1 with
	 * errno set and *what saying what failed. */
	int (*prepare)(struct process_plan *plan, const char **what);
	/* Called last before execve, in the child (async-signal-safe only), once every other
	 * descriptor is closed: 0, or -1 with errno set and *what saying what failed. */
	int (*setup)(void *arg, const char **what);
	void *setup_arg;    /* setup's argument; prepare finds it in its copy of the plan */
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

/* A program started by process_start_detached, until its start is finished. */
struct process_detached {
	pid_t pid;          /* the program's */
	pid_t intermediate; /* its parent, which holds pid's number until released */
	int intermediate_pidfd; /* the intermediate's, opened as soon as it was forked */
	int report_fd;      /* the caller's end of the report socket */
	long long deadline_ms; /* CLOCK_MONOTONIC, or -1: none */
};

/* Starts the plan's program detached: an intermediate child enters a new session, starts
 * the program as its own child and reports its pid. 0 with it in started->pid (the program
 * may not have been executed yet: process_detached_finish says), or -errno with why it could
 * not be started (the program, if it was started, killed and the intermediate child reaped).
 * timeout_ms (-1: none) bounds the whole start, finish included, with one exception: a start
 * that failed waits up to 2 s more for the intermediate child to kill the program and end
 * (then SIGKILLs it), so that no program is left running unknown. */
int process_start_detached(const struct process_plan *plan, int timeout_ms, struct process_detached *started,
			   char *why, size_t whylen);

/* Releases the intermediate child and reaps it (it may have been reaped by someone else),
 * waiting for it to end until the start's deadline but at most 2 s, then SIGKILLing it
 * through its pidfd; then waits, until the deadline, for the program to be executed: 0 when
 * it was, -errno with why when it could not be (a failed program has ended), -ETIMEDOUT
 * when no word came in time (the program then SIGKILLed, through a pidfd opened before the
 * release). */
int process_detached_finish(struct process_detached *started, char *why, size_t whylen);

#endif
