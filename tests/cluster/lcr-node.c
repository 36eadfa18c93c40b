/*
 * lcr-node: the process that stands for one node of the local test cluster.
 *
 * It becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER), then starts the node's
 * slurmd in the foreground. Everything that slurmd starts, slurmstepd's, the tasks and the
 * detached lcrd helpers included, stays in this process's tree even after it double-forks
 * or calls setsid, so `testcluster kill-node nX` can kill exactly one node's processes and
 * `testcluster down` can prove nothing of the cluster is left. It reaps every orphan it
 * inherits and exits when its last descendant is gone. SIGTERM/SIGINT are passed on to
 * slurmd, as a node shutdown would.
 *
 * usage: lcr-node PIDFILE PROGRAM [ARG...]
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t forwarded_signal;

static void remember_signal(int sig)
{
	forwarded_signal = sig;
}

static int write_pid_file(const char *path)
{
	FILE *file = fopen(path, "w");

	if (!file)
		return -errno;
	fprintf(file, "%ld\n", (long)getpid());
	if (fclose(file) != 0)
		return -errno;
	return 0;
}

static pid_t start_program(char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "lcr-node: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	struct sigaction action = { .sa_handler = remember_signal };
	pid_t program;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: lcr-node PIDFILE PROGRAM [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		fprintf(stderr, "lcr-node: cannot become a child subreaper: %s\n", strerror(errno));
		return 1;
	}
	rc = write_pid_file(argv[1]);
	if (rc < 0) {
		fprintf(stderr, "lcr-node: cannot write %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);

	program = start_program(argv + 2);
	if (program < 0) {
		fprintf(stderr, "lcr-node: cannot fork: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		pid_t reaped = waitpid(-1, NULL, 0);

		if (reaped < 0 && errno == ECHILD)
			return 0;
		if (forwarded_signal) {
			kill(program, forwarded_signal);
			forwarded_signal = 0;
		}
	}
}
