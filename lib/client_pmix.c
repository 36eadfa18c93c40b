/* client_pmix.c: liblcr's PMIx event forwarding (lcr_pmix_attach). In a rank that is a PMIx
 * client, one event handler takes the failure events a resource manager may send
 * (PMIX_EVENT_NODE_DOWN, PMIX_ERR_PROC_ABORTED, PMIX_EVENT_PROC_TERMINATED,
 * PMIX_ERR_LOST_CONNECTION), forwards each to the helper as WIRE_PMIX_EVENT (one message per
 * affected process) and completes the event with PMIX_EVENT_ACTION_COMPLETE, so that no later
 * handler runs for it: not an MPI library's, and not a catch-all that would abort the job.
 *
 * Registrations. The handler is registered twice: once for the three process and connection
 * codes, once for PMIX_EVENT_NODE_DOWN alone. A PMIx server refuses, as a whole, a
 * registration that names a system event (PMIX_EVENT_NODE_DOWN) when its host has no
 * register_events function, which is slurmstepd's case (PMIx 4.2: PMIX_ERR_NOT_SUPPORTED,
 * seen by the client as PMIX_ERR_SERVER_FAILED_REQUEST), and after such a refusal the client
 * library never offers the other codes of that registration to its server again. Kept
 * apart, a refused node registration costs only the node events.
 *
 * Position. The process registration asks for PMIX_EVENT_HDLR_FIRST, the one slot PMIx runs
 * before every other handler. When the program already holds that slot, it falls back to
 * PMIX_EVENT_HDLR_PREPEND: first among the handlers of several codes, after the handlers of
 * a single code, before every default (catch-all) handler. The node registration is
 * prepended among the handlers of a single code.
 *
 * Threads. PMIx calls the handler on its progress thread. The handler never takes the
 * session's lock (a user thread may hold it through a long barrier) and never touches the
 * session: it owns a second connection to the helper and a lock of its own, and waits at
 * most CLIENT_PMIX_REPLY_TIMEOUT_MS for each answer, so PMIx's progress never stalls for
 * long. A report the helper does not acknowledge in time is dropped (the helper's other
 * detectors still see the failure). lcr_close deregisters the handler and waits for PMIx to
 * confirm before anything is freed, so the handler never runs on a closed session. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pmix.h>

#include "internal/client.h"
#include "internal/util.h"

/* How long the progress thread waits for the helper to acknowledge one event. */
#define CLIENT_PMIX_REPLY_TIMEOUT_MS 1000

/* A session's PMIx state (lcr_session.pmix), from lcr_pmix_attach to lcr_close. */
struct client_pmix {
	pmix_proc_t me;         /* this process in PMIx terms */
	size_t process_handler; /* the registration for process_codes */
	size_t node_handler;    /* the registration for node_codes, when node_events */
	bool node_events;       /* the PMIx server took the node registration */
	int fd;                 /* the forwarding connection to the helper */
	pthread_mutex_t lock;   /* serializes forwards */
	uint32_t seq;           /* of the last WIRE_PMIX_EVENT sent */
	struct wire_msg reply;  /* the helper's answers */
};

/* The codes of the two registrations. */
static pmix_status_t process_codes[] = { PMIX_ERR_PROC_ABORTED, PMIX_EVENT_PROC_TERMINATED,
					 PMIX_ERR_LOST_CONNECTION };
static pmix_status_t node_codes[] = { PMIX_EVENT_NODE_DOWN };
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* --- forwarding, on PMIx's progress thread --- */

/* Sends one report and waits for its acknowledgement; older answers that arrive late are
 * skipped by their sequence number. */
static void forward(struct client_pmix *p, const struct wire_pmix_event *m)
{
	uint8_t buf[WIRE_PMIX_EVENT_SIZE_MAX];
	int len = wire_encode_pmix_event(m, buf, sizeof(buf));
	if (len < 0)
		return;
	pthread_mutex_lock(&p->lock);
	uint32_t seq = ++p->seq;
	int rc = wire_send_msg_full(p->fd, WIRE_PMIX_EVENT, seq, buf, (uint32_t)len, -1);
	while (rc == 0) {
		rc = wire_recv_msg(p->fd, &p->reply, CLIENT_PMIX_REPLY_TIMEOUT_MS);
		if (rc == 0 && p->reply.fd >= 0)
			close(p->reply.fd);
		if (rc == 0 && p->reply.header.seq == seq)
			break;
	}
	pthread_mutex_unlock(&p->lock);
}

static void forward_proc(struct client_pmix *p, struct wire_pmix_event *m,
			 const pmix_proc_t *proc)
{
	m->rank = PMIX_RANK_IS_VALID(proc->rank) ? proc->rank : WIRE_PMIX_NO_RANK;
	util_copy_string(m->nspace, sizeof(m->nspace), proc->nspace);
	forward(p, m);
}

/* The node an event names: PMIX_HOSTNAME and PMIX_NODEID, when given. */
static void read_node(const pmix_info_t *info, size_t ninfo, struct wire_pmix_event *m)
{
	for (size_t i = 0; i < ninfo; i++) {
		const pmix_value_t *v = &info[i].value;
		if (PMIX_CHECK_KEY(&info[i], PMIX_HOSTNAME) && v->type == PMIX_STRING &&
		    v->data.string)
			util_copy_string(m->node, sizeof(m->node), v->data.string);
		else if (PMIX_CHECK_KEY(&info[i], PMIX_NODEID) && v->type == PMIX_UINT32)
			m->node_id = v->data.uint32;
	}
}

/* One report per affected process (PMIX_EVENT_AFFECTED_PROC, possibly repeated, and the
 * array PMIX_EVENT_AFFECTED_PROCS). Returns the number of processes reported. */
static size_t forward_affected(struct client_pmix *p, struct wire_pmix_event *m,
			       const pmix_info_t *info, size_t ninfo)
{
	size_t count = 0;
	for (size_t i = 0; i < ninfo; i++) {
		const pmix_value_t *v = &info[i].value;
		if (PMIX_CHECK_KEY(&info[i], PMIX_EVENT_AFFECTED_PROC) && v->type == PMIX_PROC &&
		    v->data.proc) {
			forward_proc(p, m, v->data.proc);
			count++;
		} else if (PMIX_CHECK_KEY(&info[i], PMIX_EVENT_AFFECTED_PROCS) &&
			   v->type == PMIX_DATA_ARRAY && v->data.darray &&
			   v->data.darray->type == PMIX_PROC && v->data.darray->array) {
			const pmix_proc_t *procs = v->data.darray->array;
			for (size_t j = 0; j < v->data.darray->size; j++, count++)
				forward_proc(p, m, &procs[j]);
		}
	}
	return count;
}

static enum wire_pmix_kind kind_of(pmix_status_t status)
{
	switch (status) {
	case PMIX_EVENT_NODE_DOWN: return WIRE_PMIX_NODE_DOWN;
	case PMIX_ERR_PROC_ABORTED: return WIRE_PMIX_PROC_ABORTED;
	case PMIX_EVENT_PROC_TERMINATED: return WIRE_PMIX_PROC_TERMINATED;
	case PMIX_ERR_LOST_CONNECTION: return WIRE_PMIX_LOST_CONNECTION;
	}
	return 0;
}

/* The session's forwarding state, which the handler was registered with. */
static struct client_pmix *return_object(const pmix_info_t *info, size_t ninfo)
{
	for (size_t i = 0; i < ninfo; i++)
		if (PMIX_CHECK_KEY(&info[i], PMIX_EVENT_RETURN_OBJECT) &&
		    info[i].value.type == PMIX_POINTER)
			return info[i].value.data.ptr;
	return NULL;
}

/* PMIx's call for one event, on its progress thread: forward it, then complete it so that
 * no later handler runs for it. */
static void handle_event(size_t handler_id, pmix_status_t status, const pmix_proc_t *source,
			 pmix_info_t info[], size_t ninfo, pmix_info_t *results, size_t nresults,
			 pmix_event_notification_cbfunc_fn_t cbfunc, void *cbdata)
{
	struct client_pmix *p = return_object(info, ninfo);
	struct wire_pmix_event m = {
		.kind = (uint16_t)kind_of(status),
		.status = status,
		.rank = WIRE_PMIX_NO_RANK,
		.node_id = WIRE_PMIX_NO_NODE_ID,
	};
	(void)handler_id;
	(void)source;
	(void)results;
	(void)nresults;
	if (p && m.kind) {
		m.reporter_rank = p->me.rank;
		util_copy_string(m.reporter_nspace, sizeof(m.reporter_nspace), p->me.nspace);
		read_node(info, ninfo, &m);
		if (forward_affected(p, &m, info, ninfo) == 0)
			forward(p, &m); /* an event that names no process */
	}
	if (cbfunc)
		cbfunc(PMIX_EVENT_ACTION_COMPLETE, NULL, 0, NULL, NULL, cbdata);
}

/* --- registration --- */

/* Waits for a PMIx callback that may run on the progress thread or inside the call. */
struct pmix_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	pmix_status_t status;
	size_t handler_id;
};

static void wait_init(struct pmix_wait *w)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->done = false;
}

static void wait_signal(struct pmix_wait *w, pmix_status_t status)
{
	pthread_mutex_lock(&w->lock);
	w->status = status;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static pmix_status_t wait_done(struct pmix_wait *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->done)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	return w->status;
}

static void registered(pmix_status_t status, size_t handler_id, void *cbdata)
{
	struct pmix_wait *w = cbdata;
	w->handler_id = handler_id;
	wait_signal(w, status);
}

static void deregistered(pmix_status_t status, void *cbdata)
{
	wait_signal(cbdata, status);
}

/* Registers the handler for codes[count] at `position` (PMIX_EVENT_HDLR_FIRST or _PREPEND):
 * a PMIx status, and *id. */
static pmix_status_t register_at(struct client_pmix *p, pmix_status_t *codes, size_t count,
				 const char *position, size_t *id)
{
	pmix_info_t info[3];
	struct pmix_wait w;
	bool yes = true;
	pmix_status_t rc;

	memset(info, 0, sizeof(info)); /* PMIx_Info_load sets no flags: none may be left over */
	PMIX_INFO_LOAD(&info[0], PMIX_EVENT_HDLR_NAME, "lcr", PMIX_STRING);
	PMIX_INFO_LOAD(&info[1], position, &yes, PMIX_BOOL);
	PMIX_INFO_LOAD(&info[2], PMIX_EVENT_RETURN_OBJECT, p, PMIX_POINTER);
	wait_init(&w);
	rc = PMIx_Register_event_handler(codes, count, info, 3, handle_event, registered, &w);
	if (rc != PMIX_SUCCESS)
		wait_signal(&w, rc);
	rc = wait_done(&w);
	if (rc == PMIX_SUCCESS)
		*id = w.handler_id;
	for (size_t i = 0; i < 3; i++)
		PMIX_INFO_DESTRUCT(&info[i]);
	return rc;
}

/* The process registration must succeed; the node registration may be refused. */
static int register_handlers(struct lcr_session *s, struct client_pmix *p)
{
	pmix_status_t rc = register_at(p, process_codes, COUNT(process_codes),
				       PMIX_EVENT_HDLR_FIRST, &p->process_handler);
	if (rc == PMIX_ERR_EVENT_REGISTRATION) /* the program holds the first slot */
		rc = register_at(p, process_codes, COUNT(process_codes), PMIX_EVENT_HDLR_PREPEND,
				 &p->process_handler);
	if (rc != PMIX_SUCCESS) {
		client_set_error(s, "cannot register the PMIx event handler of rank %u in '%s': %s",
				 p->me.rank, p->me.nspace, PMIx_Error_string(rc));
		return -EPROTO;
	}
	p->node_events = register_at(p, node_codes, COUNT(node_codes), PMIX_EVENT_HDLR_PREPEND,
				     &p->node_handler) == PMIX_SUCCESS;
	return 0;
}

static void deregister(size_t id)
{
	struct pmix_wait w;
	wait_init(&w);
	pmix_status_t rc = PMIx_Deregister_event_handler(id, deregistered, &w);
	if (rc != PMIX_SUCCESS)
		wait_signal(&w, rc);
	wait_done(&w);
}

/* --- attaching and detaching --- */

/* A second connection to the session's helper, at the address the session is connected to. */
static int connect_to_peer(int fd)
{
	struct sockaddr_un addr;
	socklen_t len = sizeof(addr);
	int rc, peer;
	if (getpeername(fd, (struct sockaddr *)&addr, &len) < 0)
		return -errno;
	peer = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (peer < 0)
		return -errno;
	if (connect(peer, (struct sockaddr *)&addr, len) < 0) {
		rc = -errno;
		close(peer);
		return rc;
	}
	return peer;
}

static void free_pmix(struct client_pmix *p)
{
	if (p->fd >= 0)
		close(p->fd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int attach(struct lcr_session *s)
{
	struct client_pmix *p;
	pmix_status_t status;
	int rc;

	if (!getenv("PMIX_NAMESPACE") || !getenv("PMIX_RANK")) {
		client_set_error(s, "this process is not a PMIx client: PMIX_NAMESPACE and "
				    "PMIX_RANK are not both set");
		return -ENOENT;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->fd = connect_to_peer(s->fd);
	if (p->fd < 0) {
		rc = p->fd;
		client_set_error(s, "cannot open a connection to the helper for PMIx events: %s",
				 strerror(-rc));
		goto out;
	}
	status = PMIx_Init(&p->me, NULL, 0);
	if (status != PMIX_SUCCESS) {
		client_set_error(s, "cannot initialise PMIx (namespace '%s', rank %s): %s",
				 getenv("PMIX_NAMESPACE"), getenv("PMIX_RANK"),
				 PMIx_Error_string(status));
		rc = -ECONNREFUSED;
		goto out;
	}
	rc = register_handlers(s, p);
	if (rc < 0)
		PMIx_Finalize(NULL, 0);
out:
	if (rc < 0) {
		free_pmix(p);
		return rc;
	}
	s->pmix = p;
	return 0;
}

int lcr_pmix_attach(lcr_session_t *s)
{
	int rc;
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = s->pmix ? 0 : attach(s);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void client_pmix_auto_attach(struct lcr_session *s)
{
	const char *setting = getenv("LCR_PMIX");
	if (setting && strcmp(setting, "0") == 0)
		return;
	if (getenv("PMIX_NAMESPACE") && getenv("PMIX_RANK"))
		lcr_pmix_attach(s);
}

void client_pmix_detach(struct lcr_session *s)
{
	struct client_pmix *p = s->pmix;
	if (!p)
		return;
	if (p->node_events)
		deregister(p->node_handler);
	deregister(p->process_handler);
	PMIx_Finalize(NULL, 0);
	free_pmix(p);
	s->pmix = NULL;
}
