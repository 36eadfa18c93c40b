/* jobkv_replica.c: the job-wide store's replication (jobkv_internal.h). The leader executes
 * every request on its copy (jobkv_state.c), numbers each write that changes it (`index`),
 * keeps it until every live helper acknowledged it, and sends it to each follower in index
 * order (JOBKV_APPLY); a follower applies the next index only and acknowledges what it has
 * (JOBKV_ACK). An answer waits until every live helper has every write up to the index the
 * store had when the request was executed, so what a client was told survives the loss of
 * any one node, and a read never shows a write that could still be lost.
 *
 * A leader's reign is its term, the generation at which it began to lead. It syncs every
 * other copy first with the whole store (SNAPSHOT_BEGIN, ENTRY per key, CLIENT per write
 * remembered, END with the counts); a follower swaps its copy only for a complete one, and
 * then takes APPLYs of that term. A replacement helper is synced the same way. What is
 * lost on the way (a connection that closes) is sent again after JOBKV_RESEND_MS: the
 * writes after what a follower acknowledged, or the whole store when those are gone. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "mesh/mesh.h"
#include "services/jobkv_internal.h"

struct jobkv_answer {
	uint32_t origin;
	uint64_t op_id;
	uint64_t needs; /* the index every live helper must have */
	int status;
	char message[WIRE_TEXT_MAX + 1];
	struct wire_store_reply reply;
	struct jobkv_answer *next;
};

struct jobkv_waiter {
	struct jobkv *kv;
	uint32_t origin;
	uint64_t op_id;
	uint32_t timeout_ms;
	uint64_t timer;
	char key[WIRE_NAME_MAX + 1];
	struct jobkv_waiter *next;
};

struct jobkv_change {
	struct wire_jobkv_apply apply;
	struct jobkv_change *next;
};

static bool leads(struct jobkv *kv)
{
	struct mesh *m = jobkv_mesh(kv);
	return m && kv->leader == mesh_self(m);
}

static bool is_live_peer(struct mesh *m, uint32_t node)
{
	return node != mesh_self(m) && mesh_is_live(m, node);
}

/* --- answers: sent once every live helper has what they read --- */

/* The highest index every live helper has (this one's own copy included). */
static uint64_t committed(struct jobkv *kv)
{
	struct mesh *m = jobkv_mesh(kv);
	uint64_t c = kv->state.index;
	for (uint32_t i = 0; m && kv->followers && i < mesh_live_count(m); i++) {
		uint32_t n = mesh_live_ids(m)[i];
		if (n == mesh_self(m) || n >= kv->follower_count)
			continue;
		const struct jobkv_follower *f = &kv->followers[n];
		uint64_t has = f->term == kv->term ? f->acked : 0;
		if (has < c)
			c = has;
	}
	return c;
}

static void prune_changes(struct jobkv *kv, uint64_t upto)
{
	while (kv->changes && kv->changes->apply.index <= upto) {
		struct jobkv_change *x = kv->changes;
		kv->changes = x->next;
		kv->change_count--;
		free(x);
	}
	if (!kv->changes)
		kv->last_change = NULL;
}

/* Sends the answers whose writes every live helper has, and forgets those writes. */
static void release_answers(struct jobkv *kv)
{
	uint64_t c = committed(kv);
	while (kv->answers && kv->answers->needs <= c) {
		struct jobkv_answer *a = kv->answers;
		kv->answers = a->next;
		jobkv_send_result(kv, a->origin, a->op_id, a->status, a->message, &a->reply);
		free(a);
	}
	prune_changes(kv, c);
}

static void answer_when_committed(struct jobkv *kv, uint32_t origin, uint64_t op_id,
				  int status, const char *message,
				  const struct wire_store_reply *reply)
{
	struct jobkv_answer *a = malloc(sizeof(*a)), **pos = &kv->answers;
	if (!a) {
		log_error("job-wide store: cannot keep an answer: out of memory");
		return; /* the forwarding helper's deadline answers the client */
	}
	a->origin = origin;
	a->op_id = op_id;
	a->needs = kv->state.index;
	a->status = status;
	util_copy_string(a->message, sizeof(a->message), message);
	a->reply = *reply;
	a->next = NULL;
	while (*pos)
		pos = &(*pos)->next;
	*pos = a;
	release_answers(kv);
}

/* --- sending to followers --- */

static void send_encoded(struct jobkv *kv, uint32_t node, uint16_t type, int len)
{
	mesh_send(jobkv_mesh(kv), node, type, kv->buf, len);
}

struct snapshot_cursor {
	struct jobkv *kv;
	uint32_t node;
	uint32_t entries;
	uint32_t clients;
};

static void send_entry(const char *key, const uint8_t *value, uint32_t len, void *arg)
{
	struct snapshot_cursor *cur = arg;
	static struct wire_jobkv_snapshot_entry e;
	e.term = cur->kv->term;
	util_copy_string(e.key, sizeof(e.key), key);
	e.value_len = len;
	memcpy(e.value, value, len);
	send_encoded(cur->kv, cur->node, WIRE_JOBKV_SNAPSHOT_ENTRY,
		     wire_encode_jobkv_snapshot_entry(&e, cur->kv->buf, sizeof(cur->kv->buf)));
	cur->entries++;
}

static void send_remembered(const struct jobkv_remembered *r, void *arg)
{
	struct snapshot_cursor *cur = arg;
	struct wire_jobkv_snapshot_client c = { .term = cur->kv->term, .client = r->client,
						.client_seq = r->client_seq, .number = r->number };
	send_encoded(cur->kv, cur->node, WIRE_JOBKV_SNAPSHOT_CLIENT,
		     wire_encode_jobkv_snapshot_client(&c, cur->kv->buf, sizeof(cur->kv->buf)));
	cur->clients++;
}

/* The whole store to node, which acknowledges it at the index it holds. */
static void send_snapshot(struct jobkv *kv, uint32_t node)
{
	struct snapshot_cursor cur = { kv, node, 0, 0 };
	struct wire_jobkv_snapshot_begin b = { kv->term, kv->state.index };
	struct jobkv_follower *f = &kv->followers[node];
	send_encoded(kv, node, WIRE_JOBKV_SNAPSHOT_BEGIN,
		     wire_encode_jobkv_snapshot_begin(&b, kv->buf, sizeof(kv->buf)));
	jobkv_state_each_entry(&kv->state, send_entry, &cur);
	jobkv_state_each_remembered(&kv->state, send_remembered, &cur);
	struct wire_jobkv_snapshot_end e = { kv->term, kv->state.index, cur.entries, cur.clients };
	send_encoded(kv, node, WIRE_JOBKV_SNAPSHOT_END,
		     wire_encode_jobkv_snapshot_end(&e, kv->buf, sizeof(kv->buf)));
	f->sent = kv->state.index;
	f->sent_ms = util_now_ms();
}

static void send_change(struct jobkv *kv, uint32_t node, const struct jobkv_change *x)
{
	send_encoded(kv, node, WIRE_JOBKV_APPLY,
		     wire_encode_jobkv_apply(&x->apply, kv->buf, sizeof(kv->buf)));
	kv->followers[node].sent = x->apply.index;
	kv->followers[node].sent_ms = util_now_ms();
}

/* Sends a synced follower the writes after what it was sent; the whole store when they are
 * no longer kept. */
static void catch_up(struct jobkv *kv, uint32_t node)
{
	struct jobkv_follower *f = &kv->followers[node];
	if (f->sent >= kv->state.index)
		return;
	if (!kv->changes || kv->changes->apply.index > f->sent + 1)
		return send_snapshot(kv, node);
	for (const struct jobkv_change *x = kv->changes; x; x = x->next)
		if (x->apply.index > f->sent)
			send_change(kv, node, x);
}

/* A follower that lags and was sent nothing for JOBKV_RESEND_MS is sent again: the whole
 * store when not synced in this term, else the writes after what it acknowledged. */
static void resend_lagging(struct jobkv *kv, uint32_t node, uint64_t now)
{
	struct jobkv_follower *f = &kv->followers[node];
	bool synced = f->term == kv->term;
	if (synced && f->acked >= kv->state.index)
		return;
	if (f->sent_ms && now - f->sent_ms < JOBKV_RESEND_MS)
		return;
	if (!synced)
		return send_snapshot(kv, node);
	f->sent = f->acked;
	catch_up(kv, node);
}

/* --- the leader --- */

static void waiter_free(struct jobkv_waiter *w)
{
	struct jobkv *kv = w->kv;
	for (struct jobkv_waiter **pos = &kv->waiters; *pos; pos = &(*pos)->next) {
		if (*pos == w) {
			*pos = w->next;
			break;
		}
	}
	if (w->timer)
		loop_cancel_timer(kv->d->loop, w->timer);
	free(w);
}

static void waiter_timed_out(struct loop *loop, void *arg)
{
	struct jobkv_waiter *w = arg;
	static const struct wire_store_reply none;
	char message[WIRE_TEXT_MAX + 1];
	(void)loop;
	w->timer = 0;
	snprintf(message, sizeof(message), "key '%s' did not appear within %u ms", w->key,
		 w->timeout_ms);
	answer_when_committed(w->kv, w->origin, w->op_id, -ETIMEDOUT, message, &none);
	waiter_free(w);
}

/* The GET op_id of origin that waits here already, or NULL. */
static struct jobkv_waiter *find_waiter(struct jobkv *kv, uint32_t origin, uint64_t op_id)
{
	for (struct jobkv_waiter *w = kv->waiters; w; w = w->next)
		if (w->origin == origin && w->op_id == op_id)
			return w;
	return NULL;
}

/* Parks a GET until its key is written or its wait ends. The same GET sent again (its
 * helper had no answer) replaces the one that waits: one answer, after the wait left. */
static void park(struct jobkv *kv, uint32_t origin, uint64_t op_id,
		 const struct wire_store_request *req)
{
	static const struct wire_store_reply none;
	struct jobkv_waiter *again = find_waiter(kv, origin, op_id);
	if (again)
		waiter_free(again);
	struct jobkv_waiter *w = calloc(1, sizeof(*w));
	if (w) {
		*w = (struct jobkv_waiter){ .kv = kv, .origin = origin, .op_id = op_id,
					    .timeout_ms = req->timeout_ms, .next = kv->waiters };
		util_copy_string(w->key, sizeof(w->key), req->key);
	}
	if (w && req->timeout_ms != WIRE_WAIT_FOREVER &&
	    loop_add_timer(kv->d->loop, req->timeout_ms, waiter_timed_out, w, &w->timer) < 0) {
		free(w);
		w = NULL;
	}
	if (!w) {
		jobkv_send_result(kv, origin, op_id, -ENOMEM, "cannot wait for the key: out of "
				  "memory", &none);
		return;
	}
	kv->waiters = w;
}

/* A write stored key: the GETs waiting for it are answered with its value. */
static void wake_waiters(struct jobkv *kv, const struct wire_jobkv_apply *a)
{
	static struct wire_store_reply reply;
	reply.value_len = a->value_len;
	memcpy(reply.value, a->value, a->value_len);
	for (struct jobkv_waiter *w = kv->waiters, *next; w; w = next) {
		next = w->next;
		if (strcmp(w->key, a->key) != 0)
			continue;
		answer_when_committed(kv, w->origin, w->op_id, 0, "", &reply);
		waiter_free(w);
	}
}

/* Keeps the write in x (allocated before the write was applied, so that a write is never
 * applied here without its record) until every live helper has it, and sends it to the
 * synced followers that have every write before it. */
static void replicate(struct jobkv *kv, struct jobkv_change *x, const struct wire_jobkv_apply *a)
{
	struct mesh *m = jobkv_mesh(kv);
	x->apply = *a;
	x->apply.term = kv->term;
	x->next = NULL;
	if (kv->last_change)
		kv->last_change->next = x;
	else
		kv->changes = x;
	kv->last_change = x;
	kv->change_count++;
	for (uint32_t i = 0; i < mesh_live_count(m); i++) {
		uint32_t n = mesh_live_ids(m)[i];
		if (n != mesh_self(m) && n < kv->follower_count &&
		    kv->followers[n].term == kv->term &&
		    kv->followers[n].sent + 1 == x->apply.index)
			send_change(kv, n, x);
	}
}

void jobkv_leader_execute(struct jobkv *kv, uint32_t origin, uint64_t op_id, uint64_t client,
			  uint64_t client_seq, const struct wire_store_request *req)
{
	static const struct wire_store_reply none;
	struct jobkv_outcome *out = &kv->outcome;
	char message[WIRE_TEXT_MAX + 1];
	if (req->op != WIRE_STORE_GET && kv->change_count >= JOBKV_LOG_MAX) {
		snprintf(message, sizeof(message), "cannot write key '%s': %d writes wait for the "
			 "other helpers' copies", req->key, JOBKV_LOG_MAX);
		return jobkv_send_result(kv, origin, op_id, -EBUSY, message, &none);
	}
	struct jobkv_change *record = NULL;
	if (req->op != WIRE_STORE_GET && !(record = malloc(sizeof(*record)))) {
		snprintf(message, sizeof(message), "cannot write key '%s': the store's leader is "
			 "out of memory", req->key);
		return jobkv_send_result(kv, origin, op_id, -ENOMEM, message, &none);
	}
	jobkv_state_execute(&kv->state, req, client, client_seq, out);
	if (req->op == WIRE_STORE_GET && out->status == -ENOENT && req->timeout_ms != 0)
		return park(kv, origin, op_id, req);
	if (out->changed) {
		replicate(kv, record, &out->change);
		record = NULL;
		if (out->change.change == WIRE_JOBKV_STORED)
			wake_waiters(kv, &out->change);
	}
	free(record);
	answer_when_committed(kv, origin, op_id, out->status, out->message, &out->reply);
}

void jobkv_leader_begin(struct jobkv *kv, uint64_t term)
{
	struct mesh *m = jobkv_mesh(kv);
	jobkv_replica_free(kv);
	kv->term = term;
	kv->follower_count = mesh_node_count(m);
	kv->followers = calloc(kv->follower_count ? kv->follower_count : 1, sizeof(*kv->followers));
	if (!kv->followers) {
		log_error("job-wide store: cannot lead: out of memory");
		kv->follower_count = 0;
		return;
	}
	for (uint32_t n = 0; n < mesh_node_count(m); n++)
		kv->followers[n].term = JOBKV_NO_TERM;
	log_info("leading the job-wide store from generation %llu (%u keys, write %llu)",
		 (unsigned long long)term, kv->state.keys, (unsigned long long)kv->state.index);
	for (uint32_t i = 0; i < mesh_live_count(m); i++) {
		uint32_t n = mesh_live_ids(m)[i];
		if (n != mesh_self(m))
			send_snapshot(kv, n);
	}
}

void jobkv_leader_end(struct jobkv *kv)
{
	jobkv_replica_free(kv);
}

void jobkv_leader_forget(struct jobkv *kv, uint32_t node)
{
	if (node < kv->follower_count) {
		kv->followers[node] = (struct jobkv_follower){ .term = JOBKV_NO_TERM };
		send_snapshot(kv, node);
	}
}

void jobkv_leader_tick(struct jobkv *kv)
{
	struct mesh *m = jobkv_mesh(kv);
	uint64_t now = util_now_ms();
	if (!leads(kv) || !kv->followers)
		return;
	for (uint32_t i = 0; i < mesh_live_count(m); i++) {
		uint32_t n = mesh_live_ids(m)[i];
		if (n != mesh_self(m) && n < kv->follower_count)
			resend_lagging(kv, n, now);
	}
	for (struct jobkv_waiter *w = kv->waiters, *next; w; w = next) {
		next = w->next;
		if (w->origin != mesh_self(m) && !is_live_peer(m, w->origin))
			waiter_free(w);
	}
	release_answers(kv);
}

static void on_ack(struct jobkv *kv, uint32_t from, const struct wire_jobkv_ack *a)
{
	struct jobkv_follower *f;
	if (!leads(kv) || from >= kv->follower_count || a->term != kv->term ||
	    a->index > kv->state.index)
		return;
	f = &kv->followers[from];
	if (f->term != kv->term || a->index > f->acked)
		f->acked = a->index;
	f->term = kv->term;
	if (f->sent < f->acked)
		f->sent = f->acked;
	catch_up(kv, from);
	release_answers(kv);
}

/* --- a follower --- */

static void send_ack(struct jobkv *kv)
{
	struct wire_jobkv_ack a = { kv->term, kv->state.index };
	send_encoded(kv, kv->leader, WIRE_JOBKV_ACK,
		     wire_encode_jobkv_ack(&a, kv->buf, sizeof(kv->buf)));
}

static void on_apply(struct jobkv *kv, const struct wire_jobkv_apply *a)
{
	int rc;
	if (a->term != kv->term || a->index > kv->state.index + 1)
		return; /* not synced in this term, or a gap: the leader sends again */
	if (a->index == kv->state.index + 1 && (rc = jobkv_state_apply(&kv->state, a)) < 0) {
		log_error("job-wide store: cannot apply write %llu to key '%s': %s",
			  (unsigned long long)a->index, a->key, strerror(-rc));
		return;
	}
	send_ack(kv);
}

static void drop_incoming(struct jobkv *kv)
{
	if (kv->incoming) {
		jobkv_state_clear(kv->incoming);
		free(kv->incoming);
		kv->incoming = NULL;
	}
}

static void on_snapshot_begin(struct jobkv *kv, const struct wire_jobkv_snapshot_begin *b)
{
	drop_incoming(kv);
	if (!(kv->incoming = malloc(sizeof(*kv->incoming)))) {
		log_error("job-wide store: cannot take the leader's copy: out of memory");
		return;
	}
	jobkv_state_init(kv->incoming);
	kv->incoming_term = b->term;
	kv->incoming_index = b->index;
	kv->incoming_entries = kv->incoming_clients = 0;
}

static void on_snapshot_entry(struct jobkv *kv, const struct wire_jobkv_snapshot_entry *e)
{
	if (!kv->incoming || e->term != kv->incoming_term)
		return;
	if (jobkv_state_load_entry(kv->incoming, e->key, e->value, e->value_len) < 0) {
		log_error("job-wide store: cannot take key '%s' of the leader's copy", e->key);
		return drop_incoming(kv);
	}
	kv->incoming_entries++;
}

static void on_snapshot_client(struct jobkv *kv, const struct wire_jobkv_snapshot_client *c)
{
	if (!kv->incoming || c->term != kv->incoming_term)
		return;
	jobkv_state_remember(kv->incoming, c->client, c->client_seq, c->number);
	kv->incoming_clients++;
}

/* The copy is complete when its counts match what arrived: it replaces this one. */
static void on_snapshot_end(struct jobkv *kv, const struct wire_jobkv_snapshot_end *e)
{
	if (!kv->incoming || e->term != kv->incoming_term || e->index != kv->incoming_index ||
	    e->entries != kv->incoming_entries || e->clients != kv->incoming_clients)
		return drop_incoming(kv); /* something was lost: the leader sends it again */
	kv->incoming->index = e->index;
	jobkv_state_move(&kv->state, kv->incoming);
	drop_incoming(kv);
	kv->term = e->term;
	log_verbose("job-wide store: took the leader's copy (%u keys, write %llu, generation "
		    "%llu)", kv->state.keys, (unsigned long long)kv->state.index,
		    (unsigned long long)kv->term);
	send_ack(kv);
}

static int follower_message(struct jobkv *kv, const struct wire_msg *msg)
{
	static struct wire_jobkv_snapshot_entry entry;
	const uint8_t *p = msg->payload;
	uint32_t len = msg->header.length;
	int rc;
	switch (msg->header.type) {
	case WIRE_JOBKV_APPLY:
		if ((rc = wire_decode_jobkv_apply(p, len, &kv->apply)) == 0)
			on_apply(kv, &kv->apply);
		return rc;
	case WIRE_JOBKV_SNAPSHOT_BEGIN: {
		struct wire_jobkv_snapshot_begin b;
		if ((rc = wire_decode_jobkv_snapshot_begin(p, len, &b)) == 0)
			on_snapshot_begin(kv, &b);
		return rc;
	}
	case WIRE_JOBKV_SNAPSHOT_ENTRY:
		if ((rc = wire_decode_jobkv_snapshot_entry(p, len, &entry)) == 0)
			on_snapshot_entry(kv, &entry);
		return rc;
	case WIRE_JOBKV_SNAPSHOT_CLIENT: {
		struct wire_jobkv_snapshot_client c;
		if ((rc = wire_decode_jobkv_snapshot_client(p, len, &c)) == 0)
			on_snapshot_client(kv, &c);
		return rc;
	}
	case WIRE_JOBKV_SNAPSHOT_END: {
		struct wire_jobkv_snapshot_end e;
		if ((rc = wire_decode_jobkv_snapshot_end(p, len, &e)) == 0)
			on_snapshot_end(kv, &e);
		return rc;
	}
	}
	return 0;
}

void jobkv_replica_message(struct jobkv *kv, uint32_t from, const struct wire_msg *msg)
{
	struct mesh *m = jobkv_mesh(kv);
	char label[WIRE_NODE_NAME_MAX + 16];
	int rc = 0;
	if (msg->header.type == WIRE_JOBKV_ACK) {
		struct wire_jobkv_ack a;
		if ((rc = wire_decode_jobkv_ack(msg->payload, msg->header.length, &a)) == 0)
			on_ack(kv, from, &a);
	} else if (from == kv->leader && !leads(kv)) {
		rc = follower_message(kv, msg); /* only the leader seen here writes this copy */
	}
	if (rc < 0)
		log_warning("malformed job-wide store message (type %u) from %s: ignored",
			    msg->header.type, mesh_node_label(m, from, label, sizeof(label)));
}

void jobkv_replica_free(struct jobkv *kv)
{
	while (kv->answers) {
		struct jobkv_answer *a = kv->answers;
		kv->answers = a->next;
		free(a);
	}
	while (kv->waiters)
		waiter_free(kv->waiters);
	prune_changes(kv, UINT64_MAX);
	free(kv->followers);
	kv->followers = NULL;
	kv->follower_count = 0;
	drop_incoming(kv);
}
