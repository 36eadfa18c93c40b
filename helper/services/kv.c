/* kv.c: the helper's key-value store and barriers (see kv.h). Entries and waiters are kept
 * in linked lists: a step's rendezvous needs few keys. Each parked request (a get waiting
 * for its key, or an arrival at a barrier) holds its session, its sequence number for the
 * reply and its timeout timer. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/kv.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"

#define KV_MAX_ENTRIES 4096

struct kv_entry {
	char key[WIRE_NAME_MAX + 1];
	uint32_t len;
	uint8_t *value;
	struct kv_entry *next;
};

struct barrier;

struct waiter {
	struct kv *kv;
	struct client *c;
	uint32_t seq;
	uint64_t timer; /* 0: none */
	char key[WIRE_NAME_MAX + 1]; /* the key a get waits for */
	struct barrier *barrier;     /* the barrier it waits at, or NULL for a get */
	struct waiter *next;
};

struct barrier {
	char name[WIRE_NAME_MAX + 1];
	uint32_t participants;
	uint32_t arrived;
	struct waiter *waiters;
	struct barrier *next;
};

struct kv {
	struct lcrd *d;
	struct kv_entry *entries;
	uint32_t nentries;
	struct waiter *gets;
	struct barrier *barriers;
};

static request_handler request_kv_put, request_kv_get, request_barrier;

int kv_create(struct lcrd *d, struct kv **out)
{
	static const struct control_request requests[] = {
		{ WIRE_KV_PUT, request_kv_put },
		{ WIRE_KV_GET, request_kv_get },
		{ WIRE_BARRIER, request_barrier },
	};
	struct kv *kv = calloc(1, sizeof(*kv));
	int rc;
	if (!kv)
		return -ENOMEM;
	kv->d = d;
	rc = control_register(d, requests, sizeof(requests) / sizeof(requests[0]));
	if (rc == 0)
		rc = control_on_release(d, kv_release_client);
	if (rc < 0) {
		free(kv);
		return rc;
	}
	*out = kv;
	return 0;
}

static struct kv_entry *kv_find(struct kv *kv, const char *key)
{
	for (struct kv_entry *e = kv->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void reply_value(struct client *c, uint32_t seq, const struct kv_entry *e)
{
	static struct wire_kv_value v;
	static uint8_t buf[sizeof(v)];
	v.value_len = e->len;
	memcpy(v.value, e->value, e->len);
	control_reply(c, seq, WIRE_KV_VALUE, buf, wire_encode_kv_value(&v, buf, sizeof(buf)), -1);
}

/* Unlinks w from whichever list holds it. */
static void waiter_unlink(struct waiter *w)
{
	struct waiter **pos = w->barrier ? &w->barrier->waiters : &w->kv->gets;
	for (; *pos; pos = &(*pos)->next) {
		if (*pos == w) {
			*pos = w->next;
			break;
		}
	}
	if (w->barrier)
		w->barrier->arrived--;
}

static void barrier_free_if_empty(struct kv *kv, struct barrier *b)
{
	if (b->waiters)
		return;
	for (struct barrier **pos = &kv->barriers; *pos; pos = &(*pos)->next) {
		if (*pos == b) {
			*pos = b->next;
			free(b);
			return;
		}
	}
}

/* Drops a parked request, answering it first when `reply` is set. Its barrier, if any,
 * stays: the caller frees it once it is empty. */
static void waiter_drop(struct waiter *w, bool reply, int status, const char *message)
{
	if (w->timer)
		loop_cancel_timer(w->kv->d->loop, w->timer);
	waiter_unlink(w);
	if (reply)
		control_reply_status(w->c, w->seq, status, "%s", message);
	free(w);
}

static void waiter_timed_out(struct loop *loop, void *arg)
{
	struct waiter *w = arg;
	struct barrier *b = w->barrier;
	struct kv *kv = w->kv;
	char message[WIRE_TEXT_MAX + 1];
	(void)loop;
	w->timer = 0;
	if (b)
		snprintf(message, sizeof(message),
			 "barrier '%s' timed out with %u of %u participants", b->name, b->arrived,
			 b->participants);
	else
		snprintf(message, sizeof(message), "key '%s' did not appear in time", w->key);
	waiter_drop(w, true, -ETIMEDOUT, message);
	if (b)
		barrier_free_if_empty(kv, b);
}

static struct waiter *waiter_park(struct kv *kv, struct client *c, uint32_t seq,
				  uint32_t timeout_ms)
{
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->kv = kv;
	w->c = c;
	w->seq = seq;
	if (timeout_ms != WIRE_WAIT_FOREVER &&
	    loop_add_timer(kv->d->loop, timeout_ms, waiter_timed_out, w, &w->timer) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

void kv_release_client(struct lcrd *d, struct client *c)
{
	struct kv *kv = d->kv;
	struct waiter *w, *next;
	if (!kv)
		return;
	for (w = kv->gets; w; w = next) {
		next = w->next;
		if (w->c == c)
			waiter_drop(w, false, 0, NULL);
	}
	for (struct barrier *b = kv->barriers, *bnext; b; b = bnext) {
		bnext = b->next;
		for (w = b->waiters; w; w = next) {
			next = w->next;
			if (w->c == c)
				waiter_drop(w, false, 0, NULL);
		}
		barrier_free_if_empty(kv, b);
	}
}

void kv_destroy(struct kv *kv)
{
	if (!kv)
		return;
	while (kv->gets)
		waiter_drop(kv->gets, true, -ECANCELED, "the helper is shutting down");
	while (kv->barriers) {
		struct barrier *b = kv->barriers;
		while (b->waiters)
			waiter_drop(b->waiters, true, -ECANCELED, "the helper is shutting down");
		barrier_free_if_empty(kv, b);
	}
	while (kv->entries) {
		struct kv_entry *e = kv->entries;
		kv->entries = e->next;
		free(e->value);
		free(e);
	}
	free(kv);
}

/* Stores a value (replacing an older one) and answers the gets waiting for it. */
static int kv_store(struct kv *kv, const struct wire_kv_put *m)
{
	struct kv_entry *e = kv_find(kv, m->key);
	uint8_t *value = malloc(m->value_len ? m->value_len : 1);
	if (!value)
		return -ENOMEM;
	if (!e) {
		if (kv->nentries == KV_MAX_ENTRIES) {
			free(value);
			return -ENOSPC;
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			free(value);
			return -ENOMEM;
		}
		strcpy(e->key, m->key);
		e->next = kv->entries;
		kv->entries = e;
		kv->nentries++;
	}
	free(e->value);
	memcpy(value, m->value, m->value_len);
	e->value = value;
	e->len = m->value_len;
	for (struct waiter *w = kv->gets, *next; w; w = next) {
		next = w->next;
		if (strcmp(w->key, m->key) == 0) {
			reply_value(w->c, w->seq, e);
			waiter_drop(w, false, 0, NULL);
		}
	}
	return 0;
}

static void request_kv_put(struct client *c, const struct wire_msg *msg)
{
	static struct wire_kv_put m;
	uint32_t seq = msg->header.seq;
	if (wire_decode_kv_put(msg->payload, msg->header.length, &m) < 0 || !m.key[0]) {
		control_reply_status(c, seq, -EBADMSG, "malformed KV_PUT");
		return;
	}
	int rc = kv_store(c->d->kv, &m);
	if (rc == -ENOSPC)
		control_reply_status(c, seq, rc, "cannot store key '%s': the store holds its "
				     "maximum of %d keys", m.key, KV_MAX_ENTRIES);
	else if (rc < 0)
		control_reply_status(c, seq, rc, "cannot store key '%s': %s", m.key, strerror(-rc));
	else
		control_reply_status(c, seq, 0, "stored");
}

static void request_kv_get(struct client *c, const struct wire_msg *msg)
{
	struct wire_kv_get m;
	struct kv *kv = c->d->kv;
	uint32_t seq = msg->header.seq;
	if (wire_decode_kv_get(msg->payload, msg->header.length, &m) < 0 || !m.key[0]) {
		control_reply_status(c, seq, -EBADMSG, "malformed KV_GET");
		return;
	}
	struct kv_entry *e = kv_find(kv, m.key);
	if (e) {
		reply_value(c, seq, e);
		return;
	}
	if (m.timeout_ms == 0) {
		control_reply_status(c, seq, -ENOENT, "no key '%s'", m.key);
		return;
	}
	struct waiter *w = waiter_park(kv, c, seq, m.timeout_ms);
	if (!w) {
		control_reply_status(c, seq, -ENOMEM, "cannot wait for key '%s': out of memory",
				     m.key);
		return;
	}
	strcpy(w->key, m.key);
	w->next = kv->gets;
	kv->gets = w;
}

static struct barrier *barrier_get(struct kv *kv, const char *name, uint32_t participants)
{
	for (struct barrier *b = kv->barriers; b; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	struct barrier *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	strcpy(b->name, name);
	b->participants = participants;
	b->next = kv->barriers;
	kv->barriers = b;
	return b;
}

/* The last participant arrived: release everyone; the name can then be used again. */
static void barrier_release(struct kv *kv, struct barrier *b)
{
	char message[WIRE_TEXT_MAX + 1];
	snprintf(message, sizeof(message), "barrier '%s' complete with %u participants", b->name,
		 b->participants);
	log_debug("%s", message);
	while (b->waiters)
		waiter_drop(b->waiters, true, 0, message);
	barrier_free_if_empty(kv, b);
}

static void request_barrier(struct client *c, const struct wire_msg *msg)
{
	struct wire_barrier m;
	struct kv *kv = c->d->kv;
	uint32_t seq = msg->header.seq;
	if (wire_decode_barrier(msg->payload, msg->header.length, &m) < 0 || !m.name[0] ||
	    m.participants == 0) {
		control_reply_status(c, seq, -EBADMSG, "malformed BARRIER");
		return;
	}
	struct barrier *b = barrier_get(kv, m.name, m.participants);
	if (!b) {
		control_reply_status(c, seq, -ENOMEM, "barrier '%s': out of memory", m.name);
		return;
	}
	if (b->participants != m.participants) {
		control_reply_status(c, seq, -EINVAL,
				     "barrier '%s' has %u participants, not %u", m.name,
				     b->participants, m.participants);
		return;
	}
	struct waiter *w = waiter_park(kv, c, seq, m.timeout_ms);
	if (!w) {
		control_reply_status(c, seq, -ENOMEM, "barrier '%s': out of memory", m.name);
		barrier_free_if_empty(kv, b);
		return;
	}
	w->barrier = b;
	w->next = b->waiters;
	b->waiters = w;
	b->arrived++;
	if (b->arrived == b->participants)
		barrier_release(kv, b);
}
