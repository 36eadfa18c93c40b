/* auth_queue.c: MUNGE credentials opened on a worker thread (see auth_queue.h).
 *
 * The jobs are a list in arrival order. A job waits, runs (on the one worker, with the
 * queue's own mesh_auth: MUNGE contexts are not shared between threads), then is finished
 * until its handler takes the result. A job whose connection went away is marked orphaned:
 * freed at once if it waits or is finished, when the worker ends if it runs. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop/auth_queue.h"
#include "loop/log.h"
#include "loop/worker.h"

enum job_state { JOB_WAITING, JOB_RUNNING, JOB_FINISHED };

struct auth_job {
	enum job_state state;
	const void *conn; /* NULL: orphaned */
	char cred[WIRE_CRED_MAX + 1];
	struct mesh_auth_expect expect;
	struct wire_header header; /* the message, to hand back */
	uint8_t *payload;
	int rc; /* the result, once finished */
	struct wire_mesh_auth opened;
	char err[512];
	struct auth_job *next;
};

struct auth_queue {
	struct loop *loop;
	struct mesh_auth *auth; /* the worker's only */
	auth_queue_redeliver_fn *redeliver;
	struct auth_job *jobs; /* oldest first */
	uint32_t count;
	struct worker *worker; /* opening `running`, or NULL */
	struct auth_job *running; /* set before the worker starts, read by its thread */
};

static void start_next(struct auth_queue *q);

int auth_queue_create(struct loop *loop, const char *munge_socket, uint32_t job_id,
		      uint32_t step_id, auth_queue_redeliver_fn *redeliver,
		      struct auth_queue **out, char *err, size_t errlen)
{
	struct auth_queue *q = calloc(1, sizeof(*q));
	int rc;
	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = mesh_auth_create(munge_socket, job_id, step_id, &q->auth, err, errlen);
	if (rc < 0) {
		free(q);
		return rc;
	}
	q->loop = loop;
	q->redeliver = redeliver;
	*out = q;
	return 0;
}

static void free_job(struct auth_job *j)
{
	free(j->payload);
	free(j);
}

static void unlink_job(struct auth_queue *q, struct auth_job *j)
{
	for (struct auth_job **pos = &q->jobs; *pos; pos = &(*pos)->next) {
		if (*pos == j) {
			*pos = j->next;
			q->count--;
			return;
		}
	}
}

void auth_queue_destroy(struct auth_queue *q)
{
	if (!q)
		return;
	worker_cancel(q->worker);
	while (q->jobs) {
		struct auth_job *j = q->jobs;
		q->jobs = j->next;
		free_job(j);
	}
	mesh_auth_destroy(q->auth);
	free(q);
}

bool auth_queue_plausible(const char *cred)
{
	static const char prefix[] = "MUNGE:";
	size_t len = strlen(cred), body = len - (sizeof(prefix) - 1) - 1;
	if (len < sizeof(prefix) + 1 || strncmp(cred, prefix, sizeof(prefix) - 1) != 0 ||
	    cred[len - 1] != ':')
		return false;
	return strspn(cred + sizeof(prefix) - 1,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == body;
}

/* Runs on the worker thread. */
static int open_job(void *arg, const atomic_bool *cancel)
{
	struct auth_queue *q = arg;
	struct auth_job *j = q->running;
	(void)cancel;
	j->rc = mesh_auth_open(q->auth, j->cred, &j->expect, &j->opened, j->err,
			       sizeof(j->err));
	return 0;
}

/* The message of j, as it came. */
static const struct wire_msg *message_of(const struct auth_job *j)
{
	static struct wire_msg msg;
	msg.header = j->header;
	msg.fd = -1;
	memcpy(msg.payload, j->payload, j->header.length);
	return &msg;
}

static void job_ended(void *arg, int rc)
{
	struct auth_queue *q = arg;
	struct auth_job *j = q->running;
	(void)rc;
	q->worker = NULL;
	q->running = NULL;
	if (j) {
		j->state = JOB_FINISHED;
		if (!j->conn) {
			unlink_job(q, j);
			free_job(j);
		} else {
			q->redeliver((void *)j->conn, message_of(j));
		}
	}
	start_next(q);
}

/* Starts the oldest waiting job, unless one runs. A worker that cannot start fails the job. */
static void start_next(struct auth_queue *q)
{
	struct auth_job *j;
	int rc;
	if (q->worker)
		return;
	for (j = q->jobs; j && j->state != JOB_WAITING; j = j->next)
		;
	if (!j)
		return;
	j->state = JOB_RUNNING;
	q->running = j;
	rc = worker_start(q->loop, open_job, job_ended, q, &q->worker);
	if (rc < 0) {
		log_error("cannot start a thread to open a credential: %s", strerror(-rc));
		j->rc = -EACCES;
		snprintf(j->err, sizeof(j->err), "this helper cannot check credentials now (%s)",
			 strerror(-rc));
		q->worker = NULL;
		job_ended(q, rc);
	}
}

static struct auth_job *job_of(const struct auth_queue *q, const void *conn)
{
	for (struct auth_job *j = q->jobs; j; j = j->next)
		if (j->conn == conn)
			return j;
	return NULL;
}

/* Takes a finished job's result for the handler, and frees the job. */
static int take_result(struct auth_queue *q, struct auth_job *j, struct wire_mesh_auth *out,
		       char *err, size_t errlen)
{
	int rc = j->rc;
	if (rc == 0)
		*out = j->opened;
	else
		snprintf(err, errlen, "%s", j->err);
	unlink_job(q, j);
	free_job(j);
	return rc < 0 ? -EACCES : 0;
}

static int queue_job(struct auth_queue *q, const void *conn, const struct wire_msg *msg,
		     const char *cred, const struct mesh_auth_expect *expect)
{
	struct auth_job *j = calloc(1, sizeof(*j)), **tail;
	if (!j || !(j->payload = malloc(msg->header.length ? msg->header.length : 1))) {
		free(j);
		return -ENOMEM;
	}
	j->conn = conn;
	snprintf(j->cred, sizeof(j->cred), "%s", cred);
	j->expect = *expect;
	j->header = msg->header;
	memcpy(j->payload, msg->payload, msg->header.length);
	for (tail = &q->jobs; *tail; tail = &(*tail)->next)
		;
	*tail = j;
	q->count++;
	start_next(q);
	return -EINPROGRESS;
}

int auth_queue_open(struct auth_queue *q, void *conn, const struct wire_msg *msg,
		    const char *cred, const struct mesh_auth_expect *expect,
		    struct wire_mesh_auth *out, char *err, size_t errlen)
{
	struct auth_job *j = job_of(q, conn);
	if (j && j->state == JOB_FINISHED && strcmp(j->cred, cred) == 0)
		return take_result(q, j, out, err, errlen);
	if (j) {
		snprintf(err, errlen, "sent another credential while one was being checked");
		return -EACCES;
	}
	if (!*cred) {
		snprintf(err, errlen, "no credential");
		return -EACCES;
	}
	if (!auth_queue_plausible(cred)) {
		snprintf(err, errlen, "the credential is not a MUNGE credential");
		return -EACCES;
	}
	if (q->count >= AUTH_QUEUE_MAX) {
		snprintf(err, errlen, "too many credentials wait to be checked; try again later");
		return -EBUSY;
	}
	return queue_job(q, conn, msg, cred, expect);
}

bool auth_queue_busy(const struct auth_queue *q, const void *conn)
{
	const struct auth_job *j = job_of(q, conn);
	return j && j->state != JOB_FINISHED;
}

void auth_queue_forget(struct auth_queue *q, const void *conn)
{
	struct auth_job *j = job_of(q, conn);
	if (!j)
		return;
	j->conn = NULL;
	if (j->state != JOB_RUNNING) {
		unlink_job(q, j);
		free_job(j);
	}
}
