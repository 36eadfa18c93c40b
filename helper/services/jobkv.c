/* jobkv.c: the job-wide key-value store's service (jobkv.h): the ranks' STORE_REQUESTs,
 * each kept as an operation in flight until the store's leader answers it; who leads; and
 * the mesh's messages, the replication's handed to jobkv_replica.c.
 *
 * A request goes to the leader as it is seen here: a call when this helper leads, else a
 * JOBKV_FORWARD over the mesh. Without a leader yet (the mesh is bootstrapping) or when the
 * send fails, it waits for the next tick (JOBKV_TICK_MS). When the leader changes while
 * requests are in flight, each goes once to the new leader, a GET with what is left of its
 * wait (an absent key then ends a GET that asked to wait with -ETIMEDOUT, never -ENOENT,
 * even when nothing was left); a write carries this helper's client id and its sequence
 * number, so the new leader answers a write that reached it through the old one as before
 * instead of applying it twice. A request whose leader changes a second time fails (-EHOSTUNREACH). A request
 * forwarded without an answer is sent again to the same leader every JOBKV_RESEND_MS (a
 * forward lost with a connection would otherwise hang it until its deadline): the leader
 * answers a write it has as the first time, and a waiting GET it has refreshes its wait.
 * Every request has a deadline here: its own wait plus JOBKV_REPLY_MS. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "internal/util.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "mesh/mesh.h"
#include "services/jobkv_internal.h"

/* The not-the-leader refusal between helpers: the forwarding helper sends it again. */
#define JOBKV_NOT_LEADER (-EREMCHG)

struct jobkv_op {
	struct jobkv *kv;
	uint64_t id;
	struct client *c;
	uint32_t seq;          /* the control request's, for the reply */
	uint64_t client_seq;   /* writes: this helper's sequence number for it */
	uint32_t timeout_ms;   /* GET: the wait asked for */
	uint64_t started_ms;
	uint64_t timer;
	uint32_t sent_to;      /* the leader it went to, WIRE_NO_NODE: not sent */
	uint64_t sent_ms;      /* when it was last forwarded to that leader */
	bool retried;          /* it went to a second leader */
	bool to_send;          /* marked to go out (jobkv_send_marked) */
	struct wire_store_request request;
	struct jobkv_op *next;
};

static request_handler request_store;

struct mesh *jobkv_mesh(struct jobkv *kv)
{
	return mesh_of(kv->d);
}

static bool is_write(const struct wire_store_request *r)
{
	return r->op != WIRE_STORE_GET;
}

/* The store's leader: the live helper in the mesh longest (the lowest joined_generation,
 * then the lowest node id); this helper in a mesh of one or when the mesh failed; none
 * while the mesh bootstraps or once this helper is fenced. */
static uint32_t store_leader(struct jobkv *kv)
{
	struct mesh *m = jobkv_mesh(kv);
	uint32_t best = WIRE_NO_NODE;
	if (!m || kv->fenced)
		return WIRE_NO_NODE;
	if (mesh_state(m) == WIRE_MESH_STANDALONE || mesh_state(m) == WIRE_MESH_FAILED)
		return mesh_self(m);
	if (mesh_state(m) != WIRE_MESH_UP)
		return WIRE_NO_NODE;
	for (uint32_t i = 0; i < mesh_live_count(m); i++) {
		uint32_t n = mesh_live_ids(m)[i];
		if (best == WIRE_NO_NODE ||
		    mesh_node_joined_generation(m, n) < mesh_node_joined_generation(m, best))
			best = n;
	}
	return best;
}

static struct jobkv_op *find_op(struct jobkv *kv, uint64_t op_id)
{
	for (struct jobkv_op *op = kv->ops; op; op = op->next)
		if (op->id == op_id)
			return op;
	return NULL;
}

static void op_free(struct jobkv_op *op)
{
	struct jobkv *kv = op->kv;
	for (struct jobkv_op **pos = &kv->ops; *pos; pos = &(*pos)->next) {
		if (*pos == op) {
			*pos = op->next;
			break;
		}
	}
	if (op->timer)
		loop_cancel_timer(kv->d->loop, op->timer);
	free(op);
}

static void op_fail(struct jobkv_op *op, int status, const char *message)
{
	control_reply_status(op->c, op->seq, status, "%s", message);
	op_free(op);
}

void jobkv_op_answered(struct jobkv *kv, uint64_t op_id, int status, const char *message,
		       const struct wire_store_reply *reply)
{
	struct jobkv_op *op = find_op(kv, op_id);
	if (!op)
		return; /* its session closed, or it timed out */
	/* A GET that asked to wait went to a new leader with its wait used up (timeout 0):
	 * an absent key is then the end of its wait, as lcr_store_get says. */
	if (status == -ENOENT && op->request.op == WIRE_STORE_GET && op->timeout_ms != 0) {
		char why[WIRE_TEXT_MAX + 1];
		snprintf(why, sizeof(why), "key '%s' did not appear within %u ms", op->request.key,
			 op->timeout_ms);
		return op_fail(op, -ETIMEDOUT, why);
	}
	if (status < 0)
		return op_fail(op, status, message);
	int len = wire_encode_store_reply(reply, kv->buf, sizeof(kv->buf));
	control_reply(op->c, op->seq, WIRE_STORE_REPLY, kv->buf, len, -1);
	op_free(op);
}

/* The wait left to a GET that goes to a leader now. */
static uint32_t wait_left(const struct jobkv_op *op)
{
	uint64_t spent = util_now_ms() - op->started_ms;
	if (op->timeout_ms == WIRE_WAIT_FOREVER)
		return WIRE_WAIT_FOREVER;
	return spent >= op->timeout_ms ? 0 : op->timeout_ms - (uint32_t)spent;
}

/* Sends op to the leader seen now (a call when this helper leads); without one, or when it
 * cannot go, it waits for the next tick. op may be answered and freed before this returns. */
static void op_send(struct jobkv *kv, struct jobkv_op *op)
{
	uint32_t leader = kv->leader;
	struct mesh *m = jobkv_mesh(kv);
	op->sent_to = WIRE_NO_NODE;
	if (leader == WIRE_NO_NODE)
		return;
	op->request.timeout_ms = wait_left(op);
	op->sent_to = leader;
	if (m && leader == mesh_self(m)) {
		jobkv_leader_execute(kv, leader, op->id, kv->client_id, op->client_seq,
				     &op->request);
		return;
	}
	struct wire_jobkv_forward *f = &kv->forward;
	f->op_id = op->id;
	f->client = kv->client_id;
	f->client_seq = op->client_seq;
	f->request = op->request;
	int len = wire_encode_jobkv_forward(f, kv->buf, sizeof(kv->buf));
	op->sent_ms = util_now_ms();
	if (mesh_send(m, leader, WIRE_JOBKV_FORWARD, kv->buf, len) < 0)
		op->sent_to = WIRE_NO_NODE;
}

/* Whether the next tick sends op (again): not sent yet, or forwarded JOBKV_RESEND_MS ago
 * without an answer (the forward or its answer may have been lost with a connection: the
 * leader answers a write it has as the first time, and a GET that waits for its key
 * refreshes its wait). */
static bool op_due(struct jobkv *kv, const struct jobkv_op *op, uint64_t now)
{
	struct mesh *m = jobkv_mesh(kv);
	if (op->sent_to == WIRE_NO_NODE)
		return true;
	return m && op->sent_to != mesh_self(m) && now - op->sent_ms >= JOBKV_RESEND_MS;
}

/* Sends every op marked to_send, one at a time from the start of the list: sending may
 * answer and free ops (this helper leads). */
static void send_marked(struct jobkv *kv)
{
	for (;;) {
		struct jobkv_op *op = kv->ops;
		while (op && !op->to_send)
			op = op->next;
		if (!op)
			return;
		op->to_send = false;
		op_send(kv, op);
	}
}

void jobkv_op_resend(struct jobkv *kv, uint64_t op_id)
{
	struct jobkv_op *op = find_op(kv, op_id);
	if (op)
		op->sent_to = WIRE_NO_NODE; /* the next tick sends it to the leader seen then */
}

/* The leader changed: the requests sent to another one go to it, once. */
static void mark_for_new_leader(struct jobkv *kv)
{
	for (struct jobkv_op *op = kv->ops, *next; op; op = next) {
		next = op->next;
		if (op->sent_to == kv->leader)
			continue;
		if (op->sent_to != WIRE_NO_NODE && op->retried) {
			op_fail(op, -EHOSTUNREACH, "the job-wide store's leader changed twice "
				"during the request");
			continue;
		}
		if (op->sent_to != WIRE_NO_NODE)
			op->retried = true;
		op->to_send = true;
	}
}

/* Who leads, again: a new leader takes over (this helper, from its copy), and the requests
 * in flight go to it. */
static void refresh_leader(struct jobkv *kv)
{
	struct mesh *m = jobkv_mesh(kv);
	uint32_t leader = store_leader(kv);
	char label[WIRE_NODE_NAME_MAX + 16];
	if (leader == kv->leader)
		return;
	if (m && kv->leader == mesh_self(m))
		jobkv_leader_end(kv);
	kv->leader = leader;
	if (leader != WIRE_NO_NODE)
		log_verbose("the job-wide store's leader is %s",
			    mesh_node_label(m, leader, label, sizeof(label)));
	if (m && leader == mesh_self(m))
		jobkv_leader_begin(kv, mesh_applied_generation(m));
	mark_for_new_leader(kv);
	send_marked(kv);
}

static void tick(struct loop *loop, void *arg)
{
	struct jobkv *kv = arg;
	kv->tick_timer = 0;
	refresh_leader(kv);
	uint64_t now = util_now_ms();
	for (struct jobkv_op *op = kv->ops; op; op = op->next)
		op->to_send = op_due(kv, op, now);
	send_marked(kv);
	jobkv_leader_tick(kv);
	if (!kv->fenced && loop_add_timer(loop, JOBKV_TICK_MS, tick, kv, &kv->tick_timer) < 0)
		log_error("cannot arm the job-wide store's timer: requests wait for ever");
}

static void op_timed_out(struct loop *loop, void *arg)
{
	struct jobkv_op *op = arg;
	char message[WIRE_TEXT_MAX + 1], label[WIRE_NODE_NAME_MAX + 16];
	(void)loop;
	op->timer = 0;
	if (op->sent_to == WIRE_NO_NODE)
		snprintf(message, sizeof(message), "no leader of the job-wide store could be "
			 "reached within %u ms", op->timeout_ms);
	else
		snprintf(message, sizeof(message), "the job-wide store's leader %s did not answer "
			 "key '%s' in time", mesh_node_label(jobkv_mesh(op->kv), op->sent_to, label,
							     sizeof(label)), op->request.key);
	op_fail(op, -ETIMEDOUT, message);
}

/* The request's own deadline: its wait (GET) and the leader's answer. */
static int op_arm(struct jobkv *kv, struct jobkv_op *op)
{
	uint64_t ms = JOBKV_REPLY_MS;
	if (op->request.op == WIRE_STORE_GET) {
		if (op->timeout_ms == WIRE_WAIT_FOREVER)
			return 0;
		ms += op->timeout_ms;
	}
	return loop_add_timer(kv->d->loop, ms, op_timed_out, op, &op->timer);
}

static void request_store(struct client *c, const struct wire_msg *msg)
{
	struct jobkv *kv = c->d->jobkv;
	uint32_t seq = msg->header.seq;
	struct jobkv_op *op;
	if (kv->fenced) {
		control_reply_status(c, seq, -ESHUTDOWN, "this helper was fenced: it serves the "
				     "job-wide store no more");
		return;
	}
	if (!(op = calloc(1, sizeof(*op)))) {
		control_reply_status(c, seq, -ENOMEM, "cannot take a store request: out of memory");
		return;
	}
	if (wire_decode_store_request(msg->payload, msg->header.length, &op->request) < 0) {
		free(op);
		control_reply_status(c, seq, -EBADMSG, "malformed STORE_REQUEST");
		return;
	}
	op->kv = kv;
	op->id = ++kv->next_op_id;
	op->c = c;
	op->seq = seq;
	op->client_seq = is_write(&op->request) ? ++kv->next_client_seq : 0;
	op->timeout_ms = op->request.timeout_ms;
	op->started_ms = util_now_ms();
	op->sent_to = WIRE_NO_NODE;
	op->next = kv->ops;
	kv->ops = op;
	if (op_arm(kv, op) < 0)
		return op_fail(op, -ENOMEM, "cannot arm the request's timer");
	op_send(kv, op);
}

static void release_client(struct lcrd *d, struct client *c)
{
	struct jobkv *kv = d->jobkv;
	for (struct jobkv_op *op = kv ? kv->ops : NULL, *next; op; op = next) {
		next = op->next;
		if (op->c == c)
			op_free(op);
	}
}

void jobkv_send_result(struct jobkv *kv, uint32_t origin, uint64_t op_id, int status,
		       const char *message, const struct wire_store_reply *reply)
{
	struct mesh *m = jobkv_mesh(kv);
	static struct wire_jobkv_result r;
	if (!m || origin == mesh_self(m))
		return jobkv_op_answered(kv, op_id, status, message, reply);
	memset(&r, 0, offsetof(struct wire_jobkv_result, reply));
	r.op_id = op_id;
	r.status = status;
	util_copy_string(r.message, sizeof(r.message), message);
	r.reply = *reply;
	int len = wire_encode_jobkv_result(&r, kv->buf, sizeof(kv->buf));
	mesh_send(m, origin, WIRE_JOBKV_RESULT, kv->buf, len);
}

/* A FORWARD reaches a helper that does not lead: the sender tries again. */
static void on_forward(struct jobkv *kv, uint32_t from, const struct wire_jobkv_forward *f)
{
	static const struct wire_store_reply none;
	struct mesh *m = jobkv_mesh(kv);
	if (kv->leader != mesh_self(m)) {
		jobkv_send_result(kv, from, f->op_id, JOBKV_NOT_LEADER,
				  "this helper does not lead the job-wide store", &none);
		return;
	}
	jobkv_leader_execute(kv, from, f->op_id, f->client, f->client_seq, &f->request);
}

static void on_result(struct jobkv *kv, uint32_t from, const struct wire_jobkv_result *r)
{
	struct jobkv_op *op = find_op(kv, r->op_id);
	if (!op || op->sent_to != from)
		return; /* an answer from a leader it no longer waits for */
	if (r->status == JOBKV_NOT_LEADER)
		return jobkv_op_resend(kv, r->op_id);
	jobkv_op_answered(kv, r->op_id, r->status, r->message, &r->reply);
}

/* A WIRE_JOBKV_* message from a peer (registered with the mesh). */
static void on_message(struct mesh *m, uint32_t from, const struct wire_msg *msg)
{
	struct jobkv *kv = mesh_lcrd(m)->jobkv;
	char label[WIRE_NODE_NAME_MAX + 16];
	int rc = 0;
	if (!kv || kv->fenced)
		return;
	refresh_leader(kv);
	switch (msg->header.type) {
	case WIRE_JOBKV_FORWARD:
		if ((rc = wire_decode_jobkv_forward(msg->payload, msg->header.length,
						    &kv->forward)) == 0)
			on_forward(kv, from, &kv->forward);
		break;
	case WIRE_JOBKV_RESULT:
		if ((rc = wire_decode_jobkv_result(msg->payload, msg->header.length,
						   &kv->result)) == 0)
			on_result(kv, from, &kv->result);
		break;
	default:
		jobkv_replica_message(kv, from, msg);
	}
	if (rc < 0)
		log_warning("malformed job-wide store message (type %u) from %s: ignored",
			    msg->header.type, mesh_node_label(m, from, label, sizeof(label)));
}

/* Fenced, or the mesh ends: the requests in flight fail, nothing more is served. */
static void stop(struct mesh *m)
{
	struct jobkv *kv = mesh_lcrd(m)->jobkv;
	bool fenced = mesh_state(m) == WIRE_MESH_FENCED_STATE;
	if (!kv)
		return;
	if (kv->leader == mesh_self(m))
		jobkv_leader_end(kv);
	kv->leader = WIRE_NO_NODE;
	kv->fenced = true;
	loop_cancel_timer(kv->d->loop, kv->tick_timer);
	kv->tick_timer = 0;
	while (kv->ops)
		op_fail(kv->ops, fenced ? -ESHUTDOWN : -ECANCELED,
			fenced ? "this helper was fenced: it serves the job-wide store no more"
			       : "the helper is shutting down");
}

static void event_applied(struct mesh *m, const struct wire_mesh_event *ev, void *arg)
{
	struct jobkv *kv = arg;
	if (kv->fenced)
		return;
	refresh_leader(kv);
	if (ev->type == WIRE_EVENT_NODE_JOINED && kv->leader == mesh_self(m))
		jobkv_leader_forget(kv, ev->node);
	jobkv_leader_tick(kv);
}

int jobkv_create(struct lcrd *d, struct jobkv **out)
{
	static const struct control_request requests[] = { { WIRE_STORE_REQUEST, request_store } };
	struct jobkv *kv = calloc(1, sizeof(*kv));
	int rc;
	if (!kv)
		return -ENOMEM;
	kv->d = d;
	jobkv_state_init(&kv->state);
	kv->leader = WIRE_NO_NODE;
	kv->term = JOBKV_NO_TERM;
	if (getrandom(&kv->client_id, sizeof(kv->client_id), 0) != sizeof(kv->client_id))
		kv->client_id = util_now_ms() ^ ((uint64_t)getpid() << 32);
	rc = control_register(d, requests, 1);
	if (rc == 0)
		rc = control_on_release(d, release_client);
	if (rc < 0) {
		free(kv);
		return rc;
	}
	*out = kv;
	return 0;
}

int jobkv_subscribe(struct lcrd *d)
{
	static const uint16_t types[] = {
		WIRE_JOBKV_FORWARD,         WIRE_JOBKV_RESULT,          WIRE_JOBKV_APPLY,
		WIRE_JOBKV_ACK,             WIRE_JOBKV_SNAPSHOT_BEGIN,  WIRE_JOBKV_SNAPSHOT_ENTRY,
		WIRE_JOBKV_SNAPSHOT_CLIENT, WIRE_JOBKV_SNAPSHOT_END,
	};
	int rc;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((rc = mesh_handle_message(d, types[i], on_message)) < 0)
			return rc;
	if ((rc = mesh_on_stop(d, stop)) < 0 || (rc = mesh_subscribe(d, event_applied, d->jobkv)) < 0)
		return rc;
	return loop_add_timer(d->loop, JOBKV_TICK_MS, tick, d->jobkv, &d->jobkv->tick_timer);
}

void jobkv_destroy(struct jobkv *kv)
{
	if (!kv)
		return;
	while (kv->ops)
		op_fail(kv->ops, -ECANCELED, "the helper is shutting down");
	loop_cancel_timer(kv->d->loop, kv->tick_timer);
	jobkv_replica_free(kv);
	jobkv_state_clear(&kv->state);
	free(kv);
}
