/* jobkv_state.c: the job-wide store's contents (see jobkv_state.h). Keys hash (FNV-1a) into
 * JOBKV_BUCKETS chained lists; the remembered writes are a ring searched from the newest,
 * since a retry follows its first try within seconds. ADD keeps its number as decimal text,
 * as PyTorch's stores do, so a GET of a counter reads "42". */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/jobkv_state.h"

struct jobkv_entry {
	char key[WIRE_NAME_MAX + 1];
	uint32_t len;
	uint8_t *value;
	struct jobkv_entry *next;
};

static uint32_t bucket_of(const char *key)
{
	uint32_t h = 2166136261u;
	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h % JOBKV_BUCKETS;
}

static struct jobkv_entry **slot_of(struct jobkv_state *s, const char *key)
{
	struct jobkv_entry **pos = &s->buckets[bucket_of(key)];
	while (*pos && strcmp((*pos)->key, key) != 0)
		pos = &(*pos)->next;
	return pos;
}

void jobkv_state_init(struct jobkv_state *s)
{
	memset(s, 0, sizeof(*s));
}

void jobkv_state_clear(struct jobkv_state *s)
{
	for (uint32_t b = 0; b < JOBKV_BUCKETS; b++) {
		while (s->buckets[b]) {
			struct jobkv_entry *e = s->buckets[b];
			s->buckets[b] = e->next;
			free(e->value);
			free(e);
		}
	}
	jobkv_state_init(s);
}

const uint8_t *jobkv_state_lookup(const struct jobkv_state *s, const char *key, uint32_t *len)
{
	const struct jobkv_entry *e = *slot_of((struct jobkv_state *)s, key);
	if (!e)
		return NULL;
	*len = e->len;
	return e->value;
}

/* Whether storing len bytes under key fits the bounds: 0, or -ENOSPC / -E2BIG with why. */
static int check_bounds(const struct jobkv_state *s, const struct jobkv_entry *old,
			const char *key, uint32_t len, char *why, size_t cap)
{
	uint64_t bytes = s->bytes + len + (old ? 0 : strlen(key)) - (old ? old->len : 0);
	if (!old && s->keys >= JOBKV_KEYS_MAX) {
		snprintf(why, cap, "cannot store key '%s': the job-wide store holds its maximum "
			 "of %d keys", key, JOBKV_KEYS_MAX);
		return -ENOSPC;
	}
	if (bytes > JOBKV_BYTES_MAX) {
		snprintf(why, cap, "cannot store key '%s' (%" PRIu32 " bytes): the job-wide store "
			 "would hold %" PRIu64 " bytes, more than its maximum of %u", key, len,
			 bytes, JOBKV_BYTES_MAX);
		return -E2BIG;
	}
	return 0;
}

/* Stores len bytes under key: 0, -ENOMEM, or a bound passed (why says which). */
static int store(struct jobkv_state *s, const char *key, const uint8_t *value, uint32_t len,
		 char *why, size_t cap)
{
	struct jobkv_entry **pos = slot_of(s, key), *e = *pos;
	int rc = check_bounds(s, e, key, len, why, cap);
	if (rc < 0)
		return rc;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy || (!e && !(e = calloc(1, sizeof(*e))))) {
		free(copy);
		snprintf(why, cap, "cannot store key '%s': out of memory", key);
		return -ENOMEM;
	}
	if (!*pos) {
		snprintf(e->key, sizeof(e->key), "%s", key);
		*pos = e;
		s->keys++;
		s->bytes += strlen(key);
	}
	memcpy(copy, value, len);
	s->bytes = s->bytes - e->len + len;
	free(e->value);
	e->value = copy;
	e->len = len;
	return 0;
}

static int delete(struct jobkv_state *s, const char *key)
{
	struct jobkv_entry **pos = slot_of(s, key), *e = *pos;
	if (!e)
		return -ENOENT;
	*pos = e->next;
	s->keys--;
	s->bytes -= strlen(e->key) + e->len;
	free(e->value);
	free(e);
	return 0;
}

void jobkv_state_remember(struct jobkv_state *s, uint64_t client, uint64_t client_seq,
			  uint64_t number)
{
	s->remembered[s->remembered_next] = (struct jobkv_remembered){ client, client_seq, number };
	s->remembered_next = (s->remembered_next + 1) % JOBKV_REMEMBERED_MAX;
	if (s->remembered_count < JOBKV_REMEMBERED_MAX)
		s->remembered_count++;
}

static const struct jobkv_remembered *recall(const struct jobkv_state *s, uint64_t client,
					     uint64_t client_seq)
{
	for (uint32_t i = 1; i <= s->remembered_count; i++) {
		const struct jobkv_remembered *r =
			&s->remembered[(s->remembered_next + JOBKV_REMEMBERED_MAX - i) %
				       JOBKV_REMEMBERED_MAX];
		if (r->client == client && r->client_seq == client_seq)
			return r;
	}
	return NULL;
}

int jobkv_state_apply(struct jobkv_state *s, const struct wire_jobkv_apply *a)
{
	char why[WIRE_TEXT_MAX + 1];
	int rc;
	if (a->index != s->index + 1)
		return -ESTALE;
	if (a->change == WIRE_JOBKV_STORED && (rc = store(s, a->key, a->value, a->value_len,
							   why, sizeof(why))) < 0)
		return rc;
	if (a->change == WIRE_JOBKV_DELETED)
		delete(s, a->key); /* absent in a copy that has every earlier write: not sent */
	s->index = a->index;
	jobkv_state_remember(s, a->client, a->client_seq, a->number);
	return 0;
}

static void fail(struct jobkv_outcome *out, int status, const char *fmt, const char *key)
{
	out->status = status;
	snprintf(out->message, sizeof(out->message), fmt, key);
}

static void reply_value(struct jobkv_outcome *out, const uint8_t *value, uint32_t len)
{
	out->reply.value_len = len;
	if (len)
		memcpy(out->reply.value, value, len);
}

/* The sum of ADD, from the number stored under the key (absent: 0). 0, -EINVAL (not a
 * decimal number), -ERANGE (overflow). */
static int add_to(const struct jobkv_state *s, const char *key, int64_t delta, int64_t *sum)
{
	uint32_t len = 0;
	const uint8_t *value = jobkv_state_lookup(s, key, &len);
	char text[32];
	int64_t old = 0;
	if (value) {
		char *end;
		if (len == 0 || len >= sizeof(text))
			return -EINVAL;
		memcpy(text, value, len);
		text[len] = '\0';
		errno = 0;
		old = strtoll(text, &end, 10);
		if (*end || errno)
			return -EINVAL;
	}
	if (__builtin_add_overflow(old, delta, sum))
		return -ERANGE;
	return 0;
}

/* Describes the change `key := value` (or its deletion) with the next index, and applies
 * it. */
static void change(struct jobkv_state *s, const struct wire_store_request *req,
		   uint64_t client, uint64_t client_seq, uint16_t kind, const uint8_t *value,
		   uint32_t len, uint64_t number, struct jobkv_outcome *out)
{
	struct wire_jobkv_apply *a = &out->change;
	a->index = s->index + 1;
	a->change = kind;
	a->client = client;
	a->client_seq = client_seq;
	a->number = number;
	snprintf(a->key, sizeof(a->key), "%s", req->key);
	a->value_len = len;
	if (len)
		memcpy(a->value, value, len);
	out->status = jobkv_state_apply(s, a);
	if (out->status < 0) {
		snprintf(out->message, sizeof(out->message), "cannot store key '%s': %s", req->key,
			 strerror(-out->status));
		return;
	}
	out->changed = true;
}

static void execute_add(struct jobkv_state *s, const struct wire_store_request *req,
			uint64_t client, uint64_t client_seq, struct jobkv_outcome *out)
{
	int64_t sum;
	char text[32];
	int rc = add_to(s, req->key, (int64_t)req->delta, &sum);
	if (rc == -EINVAL)
		return fail(out, rc, "cannot add to key '%s': its value is not a decimal number",
			    req->key);
	if (rc == -ERANGE)
		return fail(out, rc, "cannot add to key '%s': the sum overflows 64 bits", req->key);
	int len = snprintf(text, sizeof(text), "%" PRId64, sum);
	out->status = check_bounds(s, *slot_of(s, req->key), req->key, (uint32_t)len,
				   out->message, sizeof(out->message));
	if (out->status < 0)
		return;
	out->reply.number = (uint64_t)sum;
	reply_value(out, (const uint8_t *)text, (uint32_t)len);
	change(s, req, client, client_seq, WIRE_JOBKV_STORED, (const uint8_t *)text,
	       (uint32_t)len, (uint64_t)sum, out);
}

static void execute_compare_set(struct jobkv_state *s, const struct wire_store_request *req,
				uint64_t client, uint64_t client_seq, struct jobkv_outcome *out)
{
	uint32_t len = 0;
	const uint8_t *value = jobkv_state_lookup(s, req->key, &len);
	if (!value && req->expected_len)
		return fail(out, -ENOENT, "no key '%s' to compare", req->key);
	if (value && (len != req->expected_len || memcmp(value, req->expected, len) != 0)) {
		out->reply.swapped = 0;
		return reply_value(out, value, len);
	}
	out->status = check_bounds(s, *slot_of(s, req->key), req->key, req->value_len,
				   out->message, sizeof(out->message));
	if (out->status < 0)
		return;
	out->reply.swapped = 1;
	reply_value(out, req->value, req->value_len);
	change(s, req, client, client_seq, WIRE_JOBKV_STORED, req->value, req->value_len, 0, out);
}

/* The answer to a write applied before: as the first time (ADD's sum, COMPARE_SET swapped
 * with the value it stored). */
static void answer_again(const struct wire_store_request *req, const struct jobkv_remembered *r,
			 struct jobkv_outcome *out)
{
	out->repeated = true;
	if (req->op == WIRE_STORE_ADD) {
		char text[32];
		int len = snprintf(text, sizeof(text), "%" PRId64, (int64_t)r->number);
		out->reply.number = r->number;
		reply_value(out, (const uint8_t *)text, (uint32_t)len);
	} else if (req->op == WIRE_STORE_COMPARE_SET) {
		out->reply.swapped = 1;
		reply_value(out, req->value, req->value_len);
	}
}

void jobkv_state_execute(struct jobkv_state *s, const struct wire_store_request *req,
			 uint64_t client, uint64_t client_seq, struct jobkv_outcome *out)
{
	const struct jobkv_remembered *r;
	uint32_t len = 0;
	const uint8_t *value;
	memset(out, 0, offsetof(struct jobkv_outcome, change));
	if (req->op != WIRE_STORE_GET && (r = recall(s, client, client_seq)))
		return answer_again(req, r, out);
	switch (req->op) {
	case WIRE_STORE_GET:
		if (!(value = jobkv_state_lookup(s, req->key, &len)))
			return fail(out, -ENOENT, "no key '%s'", req->key);
		return reply_value(out, value, len);
	case WIRE_STORE_SET:
		out->status = check_bounds(s, *slot_of(s, req->key), req->key, req->value_len,
					   out->message, sizeof(out->message));
		if (out->status == 0)
			change(s, req, client, client_seq, WIRE_JOBKV_STORED, req->value,
			       req->value_len, 0, out);
		return;
	case WIRE_STORE_ADD:
		return execute_add(s, req, client, client_seq, out);
	case WIRE_STORE_COMPARE_SET:
		return execute_compare_set(s, req, client, client_seq, out);
	case WIRE_STORE_DELETE:
		if (!jobkv_state_lookup(s, req->key, &len))
			return fail(out, -ENOENT, "no key '%s' to delete", req->key);
		return change(s, req, client, client_seq, WIRE_JOBKV_DELETED, NULL, 0, 0, out);
	}
	fail(out, -EINVAL, "unknown operation on key '%s'", req->key);
}

void jobkv_state_each_entry(const struct jobkv_state *s, jobkv_entry_fn *fn, void *arg)
{
	for (uint32_t b = 0; b < JOBKV_BUCKETS; b++)
		for (const struct jobkv_entry *e = s->buckets[b]; e; e = e->next)
			fn(e->key, e->value, e->len, arg);
}

void jobkv_state_each_remembered(const struct jobkv_state *s, jobkv_remembered_fn *fn,
				 void *arg)
{
	for (uint32_t i = s->remembered_count; i >= 1; i--)
		fn(&s->remembered[(s->remembered_next + JOBKV_REMEMBERED_MAX - i) %
				  JOBKV_REMEMBERED_MAX], arg);
}

int jobkv_state_load_entry(struct jobkv_state *s, const char *key, const uint8_t *value,
			   uint32_t len)
{
	char why[WIRE_TEXT_MAX + 1];
	return store(s, key, value, len, why, sizeof(why));
}

void jobkv_state_move(struct jobkv_state *to, struct jobkv_state *from)
{
	jobkv_state_clear(to);
	memcpy(to, from, sizeof(*to));
	jobkv_state_init(from);
}
