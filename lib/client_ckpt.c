/* client_ckpt.c: liblcr's checkpoint calls (see lcr.h): the step a restored rank resumes
 * from (which acknowledges the helper's rollbacks of the rank's regions), asking the helper
 * for a checkpoint, and the opt-in forwarding of a signal to the helper as a checkpoint
 * request. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal/client.h"

int lcr_resume_step(lcr_session_t *s, uint64_t *step)
{
	struct wire_resume_info info;
	uint32_t generation = 0;
	int rc;
	if (!s || !step)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	/* Read before the helper answers: a rollback that ends after it is not acknowledged. */
	if (s->page)
		generation = control_page_rollback_generation(s->page);
	rc = client_request(s, WIRE_RESUME_STEP, NULL, 0, WIRE_RESUME_INFO, CLIENT_REPLY_TIMEOUT_MS);
	if (rc == 0 && wire_decode_resume_info(s->reply.payload, s->reply.header.length, &info) < 0) {
		client_set_error(s, "the helper sent a malformed RESUME_INFO");
		rc = -EPROTO;
	}
	if (rc == 0 && s->page)
		atomic_store_explicit(&s->rollback_acknowledged, generation, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		*step = info.step;
	return rc;
}

int lcr_checkpoint(lcr_session_t *s, uint64_t *step)
{
	struct wire_ckpt_result result;
	int rc;
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	/* No timeout: the helper answers once the state is on disk, however long that takes. */
	rc = client_request(s, WIRE_CKPT_NOW, NULL, 0, WIRE_CKPT_RESULT, -1);
	if (rc == 0 && wire_decode_ckpt_result(s->reply.payload, s->reply.header.length,
					       &result) < 0) {
		client_set_error(s, "the helper sent a malformed CKPT_RESULT");
		rc = -EPROTO;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && step)
		*step = result.step;
	return rc;
}

/* The helper the forwarding handler signals; 0 until lcr_checkpoint_on_signal. */
static volatile sig_atomic_t helper_pid;

static void forward_to_helper(int signo)
{
	int saved = errno;
	(void)signo;
	if (helper_pid > 0)
		kill((pid_t)helper_pid, SIGUSR1);
	errno = saved;
}

/* The helper's pid, from its status. */
static int ask_helper_pid(struct lcr_session *s, pid_t *pid)
{
	struct wire_status_reply *status = malloc(sizeof(*status));
	int rc;
	if (!status)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	rc = client_request(s, WIRE_STATUS_REQUEST, NULL, 0, WIRE_STATUS_REPLY,
			    CLIENT_REPLY_TIMEOUT_MS);
	if (rc == 0 && wire_decode_status_reply(s->reply.payload, s->reply.header.length,
						status) < 0) {
		client_set_error(s, "the helper sent a malformed STATUS_REPLY");
		rc = -EPROTO;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		*pid = (pid_t)status->pid;
	free(status);
	return rc;
}

int lcr_checkpoint_on_signal(lcr_session_t *s, int signo)
{
	struct sigaction action;
	pid_t pid = 0;
	int rc;
	if (!s || signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	rc = ask_helper_pid(s, &pid);
	if (rc < 0)
		return rc;
	helper_pid = (sig_atomic_t)pid;
	memset(&action, 0, sizeof(action));
	action.sa_handler = forward_to_helper;
	action.sa_flags = SA_RESTART;
	sigemptyset(&action.sa_mask);
	if (sigaction(signo, &action, NULL) < 0) {
		rc = -errno;
		pthread_mutex_lock(&s->lock);
		client_set_error(s, "cannot handle signal %d: %s", signo, strerror(-rc));
		pthread_mutex_unlock(&s->lock);
	}
	return rc;
}
