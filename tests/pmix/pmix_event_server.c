/* pmix_event_server.c: a small PMIx server for the tests, built on libpmix's server API. It
 * stands in for a resource manager that reports failures with PMIx events, which Slurm
 * 22.05 never does (see doc/pmix-events.md). It registers one namespace, forks and execs
 * NPROCS copies of a client with the environment PMIx_server_setup_fork gives each rank plus
 * LCR_PMIX_TEST_READY_FD, waits until every client has written one byte on that pipe, and:
 *
 *   --mode=notify  notifies the four failure events LCR forwards (and, second, an abort of a
 *                  process of another namespace, which LCR must not take for a rank), then
 *                  waits for every client and reports how each ended;
 *   --mode=vanish  exits at once without finalising: the clients lose their server.
 *
 * Its host accepts registrations for system events such as PMIX_EVENT_NODE_DOWN (a
 * register_events function that agrees); with --like-slurm it has none, as slurmstepd, and
 * the PMIx library refuses those registrations.
 *
 * Usage: pmix_event_server --mode=notify|vanish [--like-slurm] --tmpdir=DIR --nprocs=N --
 *        CLIENT [ARGS...]
 * Prints "client RANK pid PID" for each client, and in notify mode "client RANK exited with
 * status S" or "client RANK was killed by signal S". Exit status: 0 when every client exited
 * with 0 (notify) or every client was ready (vanish), 1 otherwise, 2 on bad usage. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pmix.h>
#include <pmix_server.h>

#define NSPACE "lcr-pmix-test"
#define FOREIGN_NSPACE "prte-daemons"
#define MAX_PROCS 8
#define READY_TIMEOUT_MS 15000
#define EXIT_TIMEOUT_MS 20000

/* The events notified in notify mode, each described by what its info names. */
struct notice {
	pmix_status_t code;
	const char *nspace; /* affected process's namespace, or NULL */
	pmix_rank_t rank;
	bool as_array;      /* PMIX_EVENT_AFFECTED_PROCS instead of PMIX_EVENT_AFFECTED_PROC */
	const char *host;   /* PMIX_HOSTNAME, or NULL */
	uint32_t node_id;   /* PMIX_NODEID when host is set */
};

static const struct notice notices[] = {
	{ PMIX_EVENT_NODE_DOWN, NULL, 0, false, "n3", 3 },
	{ PMIX_ERR_PROC_ABORTED, FOREIGN_NSPACE, 2, false, NULL, 0 },
	{ PMIX_ERR_PROC_ABORTED, NSPACE, 5, false, NULL, 0 },
	{ PMIX_EVENT_PROC_TERMINATED, NSPACE, 6, true, NULL, 0 },
	{ PMIX_ERR_LOST_CONNECTION, NULL, 0, false, NULL, 0 },
};

static volatile bool aborted; /* a client called PMIx_Abort */

static pmix_status_t client_abort(const pmix_proc_t *proc, void *server_object, int status,
				  const char msg[], pmix_proc_t procs[], size_t nprocs,
				  pmix_op_cbfunc_t cbfunc, void *cbdata)
{
	(void)server_object;
	(void)procs;
	(void)nprocs;
	(void)cbfunc;
	(void)cbdata;
	printf("client %u called PMIx_Abort(%d): %s\n", proc->rank, status, msg ? msg : "");
	fflush(stdout);
	aborted = true;
	return PMIX_OPERATION_SUCCEEDED;
}

/* Agrees to deliver system events; what it would do for a real resource manager is nothing
 * here, since this server notifies them itself. */
static pmix_status_t register_events(pmix_status_t *codes, size_t ncodes,
				     const pmix_info_t info[], size_t ninfo,
				     pmix_op_cbfunc_t cbfunc, void *cbdata)
{
	(void)codes;
	(void)ncodes;
	(void)info;
	(void)ninfo;
	(void)cbfunc;
	(void)cbdata;
	return PMIX_OPERATION_SUCCEEDED;
}

static pmix_server_module_t module = { .abort = client_abort,
				       .register_events = register_events };

/* --- waiting for PMIx's callbacks --- */

struct completion {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	pmix_status_t status;
};

static void completed(pmix_status_t status, void *cbdata)
{
	struct completion *c = cbdata;
	pthread_mutex_lock(&c->lock);
	c->status = status;
	c->done = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Waits for `completed` unless the call that was to trigger it returned `rc` != SUCCESS. */
static pmix_status_t complete(struct completion *c, pmix_status_t rc)
{
	if (rc == PMIX_SUCCESS) {
		pthread_mutex_lock(&c->lock);
		while (!c->done)
			pthread_cond_wait(&c->cond, &c->lock);
		rc = c->status;
		pthread_mutex_unlock(&c->lock);
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	return rc == PMIX_OPERATION_SUCCEEDED ? PMIX_SUCCESS : rc;
}

#define COMPLETION { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, PMIX_SUCCESS }

static int check(pmix_status_t rc, const char *what)
{
	if (rc == PMIX_SUCCESS || rc == PMIX_OPERATION_SUCCEEDED)
		return 0;
	fprintf(stderr, "pmix_event_server: %s failed: %s\n", what, PMIx_Error_string(rc));
	return -1;
}

/* --- setting up the server and the namespace --- */

static int server_init(const char *tmpdir)
{
	pmix_info_t info[4];
	pmix_rank_t rank = 0;
	int rc;
	if (mkdir(tmpdir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "pmix_event_server: cannot create %s: %s\n", tmpdir, strerror(errno));
		return -1;
	}
	memset(info, 0, sizeof(info)); /* PMIx_Info_load sets no flags: none may be left over */
	PMIX_INFO_LOAD(&info[0], PMIX_SERVER_TMPDIR, tmpdir, PMIX_STRING);
	PMIX_INFO_LOAD(&info[1], PMIX_SYSTEM_TMPDIR, tmpdir, PMIX_STRING);
	PMIX_INFO_LOAD(&info[2], PMIX_SERVER_NSPACE, "lcr-pmix-test-server", PMIX_STRING);
	PMIX_INFO_LOAD(&info[3], PMIX_SERVER_RANK, &rank, PMIX_PROC_RANK);
	rc = check(PMIx_server_init(&module, info, 4), "PMIx_server_init");
	for (size_t i = 0; i < 4; i++)
		PMIX_INFO_DESTRUCT(&info[i]);
	return rc;
}

/* "0,1,...,n-1" into buf. */
static void rank_list(uint32_t nprocs, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (uint32_t r = 0; r < nprocs && len < cap; r++)
		len += (size_t)snprintf(buf + len, cap - len, r ? ",%u" : "%u", r);
}

/* The job as PMIx clients expect to find it: sizes, this one node and its ranks. */
static int register_nspace(uint32_t nprocs)
{
	struct completion c = COMPLETION;
	char host[256], ranks[64], *node_map = NULL, *proc_map = NULL;
	uint32_t zero = 0;
	pmix_nspace_t nspace;
	pmix_info_t info[8];
	pmix_status_t rc;

	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	rank_list(nprocs, ranks, sizeof(ranks));
	if (check(PMIx_generate_regex(host, &node_map), "PMIx_generate_regex") < 0 ||
	    check(PMIx_generate_ppn(ranks, &proc_map), "PMIx_generate_ppn") < 0)
		return -1;
	PMIX_LOAD_NSPACE(nspace, NSPACE);
	memset(info, 0, sizeof(info));
	PMIX_INFO_LOAD(&info[0], PMIX_UNIV_SIZE, &nprocs, PMIX_UINT32);
	PMIX_INFO_LOAD(&info[1], PMIX_JOB_SIZE, &nprocs, PMIX_UINT32);
	PMIX_INFO_LOAD(&info[2], PMIX_LOCAL_SIZE, &nprocs, PMIX_UINT32);
	PMIX_INFO_LOAD(&info[3], PMIX_MAX_PROCS, &nprocs, PMIX_UINT32);
	PMIX_INFO_LOAD(&info[4], PMIX_NODE_MAP, node_map, PMIX_STRING);
	PMIX_INFO_LOAD(&info[5], PMIX_PROC_MAP, proc_map, PMIX_STRING);
	PMIX_INFO_LOAD(&info[6], PMIX_LOCAL_PEERS, ranks, PMIX_STRING);
	PMIX_INFO_LOAD(&info[7], PMIX_LOCALLDR, &zero, PMIX_PROC_RANK);
	rc = PMIx_server_register_nspace(nspace, (int)nprocs, info, 8, completed, &c);
	rc = complete(&c, rc);
	for (size_t i = 0; i < 8; i++)
		PMIX_INFO_DESTRUCT(&info[i]);
	free(node_map);
	free(proc_map);
	return check(rc, "PMIx_server_register_nspace");
}

static int register_client(const pmix_proc_t *proc)
{
	struct completion c = COMPLETION;
	pmix_status_t rc = PMIx_server_register_client(proc, getuid(), getgid(), NULL, completed,
						       &c);
	return check(complete(&c, rc), "PMIx_server_register_client");
}

/* --- the clients --- */

static void exec_client(char **env, int ready_fd, char **argv)
{
	char fd[16];
	for (size_t i = 0; env && env[i]; i++)
		putenv(env[i]);
	snprintf(fd, sizeof(fd), "%d", ready_fd);
	setenv("LCR_PMIX_TEST_READY_FD", fd, 1);
	execv(argv[0], argv);
	fprintf(stderr, "pmix_event_server: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static pid_t start_client(pmix_rank_t rank, int ready[2], char **argv)
{
	pmix_proc_t proc;
	char **env = NULL;
	PMIX_LOAD_PROCID(&proc, NSPACE, rank);
	if (register_client(&proc) < 0 ||
	    check(PMIx_server_setup_fork(&proc, &env), "PMIx_server_setup_fork") < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(ready[0]);
		exec_client(env, ready[1], argv);
	}
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
	if (pid < 0)
		fprintf(stderr, "pmix_event_server: cannot fork: %s\n", strerror(errno));
	else
		printf("client %u pid %ld\n", rank, (long)pid);
	fflush(stdout);
	return pid;
}

/* Reads one byte per client from the ready pipe: 0, or -1 when a client never got ready. */
static int wait_ready(int fd, uint32_t nprocs)
{
	uint32_t got = 0;
	char buf[MAX_PROCS];
	while (got < nprocs) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, READY_TIMEOUT_MS) <= 0)
			break;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		got += (uint32_t)n;
	}
	if (got >= nprocs)
		return 0;
	fprintf(stderr, "pmix_event_server: %u of %u clients got ready\n", got, nprocs);
	return -1;
}

/* --- notifying --- */

static int notify(const struct notice *n)
{
	struct completion c = COMPLETION;
	pmix_info_t info[3];
	size_t ninfo = 0;
	pmix_proc_t proc;
	pmix_data_array_t procs = { .type = PMIX_PROC, .size = 1, .array = &proc };
	pmix_status_t rc;

	memset(info, 0, sizeof(info));
	if (n->nspace) {
		PMIX_LOAD_PROCID(&proc, n->nspace, n->rank);
		if (n->as_array)
			PMIX_INFO_LOAD(&info[ninfo++], PMIX_EVENT_AFFECTED_PROCS, &procs,
				       PMIX_DATA_ARRAY);
		else
			PMIX_INFO_LOAD(&info[ninfo++], PMIX_EVENT_AFFECTED_PROC, &proc, PMIX_PROC);
	}
	if (n->host) {
		PMIX_INFO_LOAD(&info[ninfo++], PMIX_HOSTNAME, n->host, PMIX_STRING);
		PMIX_INFO_LOAD(&info[ninfo++], PMIX_NODEID, &n->node_id, PMIX_UINT32);
	}
	rc = PMIx_Notify_event(n->code, NULL, PMIX_RANGE_LOCAL, ninfo ? info : NULL, ninfo,
			       completed, &c);
	rc = complete(&c, rc);
	for (size_t i = 0; i < ninfo; i++)
		PMIX_INFO_DESTRUCT(&info[i]);
	return check(rc, PMIx_Error_string(n->code));
}

/* Waits for every client; prints how each ended. 0 when all exited with 0. */
static int wait_clients(const pid_t *pids, uint32_t nprocs)
{
	struct timespec step = { 0, 50 * 1000 * 1000 };
	uint32_t left = nprocs;
	int failed = 0;
	for (int waited = 0; left > 0 && waited < EXIT_TIMEOUT_MS; waited += 50) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			nanosleep(&step, NULL);
			continue;
		}
		for (uint32_t r = 0; r < nprocs; r++) {
			if (pids[r] != pid)
				continue;
			left--;
			if (WIFSIGNALED(status))
				printf("client %u was killed by signal %d\n", r, WTERMSIG(status));
			else
				printf("client %u exited with status %d\n", r, WEXITSTATUS(status));
			failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		}
	}
	for (uint32_t r = 0; left > 0 && r < nprocs; r++)
		kill(pids[r], SIGKILL);
	if (left > 0)
		printf("%u clients did not exit within %d ms\n", left, EXIT_TIMEOUT_MS);
	return failed || left > 0 ? -1 : 0;
}

/* --- main --- */

struct options {
	bool vanish;
	const char *tmpdir;
	uint32_t nprocs;
	char **client_argv;
};

static int parse(int argc, char **argv, struct options *o)
{
	int i;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--mode=notify") == 0)
			o->vanish = false;
		else if (strcmp(argv[i], "--mode=vanish") == 0)
			o->vanish = true;
		else if (strcmp(argv[i], "--like-slurm") == 0)
			module.register_events = NULL;
		else if (strncmp(argv[i], "--tmpdir=", 9) == 0)
			o->tmpdir = argv[i] + 9;
		else if (strncmp(argv[i], "--nprocs=", 9) == 0)
			o->nprocs = (uint32_t)strtoul(argv[i] + 9, NULL, 10);
		else
			return -1;
	}
	if (i + 1 >= argc || !o->tmpdir || o->nprocs < 1 || o->nprocs > MAX_PROCS)
		return -1;
	o->client_argv = argv + i + 1;
	return 0;
}

static int run(const struct options *o)
{
	pid_t pids[MAX_PROCS];
	int ready[2];
	if (register_nspace(o->nprocs) < 0 || pipe(ready) < 0)
		return 1;
	for (uint32_t r = 0; r < o->nprocs; r++)
		if ((pids[r] = start_client(r, ready, o->client_argv)) < 0)
			return 1;
	close(ready[1]);
	if (wait_ready(ready[0], o->nprocs) < 0) {
		wait_clients(pids, o->nprocs);
		return 1;
	}
	if (o->vanish)
		_exit(0);
	int rc = 0;
	for (size_t i = 0; i < sizeof(notices) / sizeof(notices[0]); i++)
		rc |= notify(&notices[i]);
	rc |= wait_clients(pids, o->nprocs);
	return rc || aborted ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: pmix_event_server --mode=notify|vanish [--like-slurm] "
				"--tmpdir=DIR --nprocs=1..%d -- CLIENT [ARGS...]\n", MAX_PROCS);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (server_init(o.tmpdir) < 0)
		return 1;
	int rc = run(&o);
	PMIx_server_finalize();
	return rc;
}
