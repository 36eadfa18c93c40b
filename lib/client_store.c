/* client_store.c: liblcr's calls of the job-wide key-value store (lcr_store_*, lcr.h): one
 * STORE_REQUEST to the node's helper each, which forwards it to the store's leader
 * (helper/services/jobkv.h); the answer is a STORE_REPLY, or a WIRE_REPLY with the error. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "internal/client.h"

/* How long to wait for the helper: the request's own wait, the helper's deadline for the
 * leader's answer, and a margin. */
static int reply_wait(int timeout_ms)
{
	if (timeout_ms < 0 || timeout_ms > INT32_MAX - CLIENT_REPLY_TIMEOUT_MS)
		return -1;
	return timeout_ms + CLIENT_REPLY_TIMEOUT_MS;
}

/* Fills s's request with op on key (value and expected set by the caller after): 0 or
 * -EINVAL with last_error set. Hold s->lock. */
static int request_begin(struct lcr_session *s, uint16_t op, const char *key)
{
	struct wire_store_request *m = &s->kv.store_request;
	memset(m, 0, offsetof(struct wire_store_request, value));
	m->value_len = m->expected_len = 0;
	m->op = op;
	return client_copy_name(s, m->key, key, "a key");
}

static int copy_value(struct lcr_session *s, uint8_t *dst, uint32_t *dst_len, const void *src,
		      size_t len, const char *what)
{
	if (len && !src)
		return -EINVAL;
	if (len > WIRE_STORE_VALUE_MAX) {
		client_set_error(s, "%s is at most %d bytes, not %zu", what, WIRE_STORE_VALUE_MAX,
				 len);
		return -EINVAL;
	}
	*dst_len = (uint32_t)len;
	if (len)
		memcpy(dst, src, len);
	return 0;
}

/* Sends s's request and decodes the STORE_REPLY into s->kv.store_reply. Hold s->lock. */
static int request_send(struct lcr_session *s, int timeout_ms)
{
	struct wire_store_request *m = &s->kv.store_request;
	int len = wire_encode_store_request(m, s->out, sizeof(s->out));
	int rc = client_request(s, WIRE_STORE_REQUEST, s->out, len, WIRE_STORE_REPLY,
				reply_wait(timeout_ms));
	if (rc == 0 && wire_decode_store_reply(s->reply.payload, s->reply.header.length,
					       &s->kv.store_reply) < 0)
		rc = -EPROTO;
	return rc;
}

/* Copies the reply's value into value[cap], *len its length: 0 or -ENOBUFS. */
static int take_value(struct lcr_session *s, const char *key, void *value, size_t cap,
		      size_t *len)
{
	const struct wire_store_reply *r = &s->kv.store_reply;
	*len = r->value_len;
	if (r->value_len > cap) {
		client_set_error(s, "the value of '%s' has %u bytes, more than the %zu given", key,
				 r->value_len, cap);
		return -ENOBUFS;
	}
	if (r->value_len)
		memcpy(value, r->value, r->value_len);
	return 0;
}

int lcr_store_set(lcr_session_t *s, const char *key, const void *value, size_t len)
{
	int rc;
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	struct wire_store_request *m = &s->kv.store_request;
	rc = request_begin(s, WIRE_STORE_SET, key);
	if (rc == 0)
		rc = copy_value(s, m->value, &m->value_len, value, len, "a value");
	if (rc == 0)
		rc = request_send(s, 0);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lcr_store_get(lcr_session_t *s, const char *key, void *value, size_t cap, size_t *len,
		  int timeout_ms)
{
	int rc;
	if (!s || !len || (cap && !value))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = request_begin(s, WIRE_STORE_GET, key);
	s->kv.store_request.timeout_ms = timeout_ms < 0 ? WIRE_WAIT_FOREVER : (uint32_t)timeout_ms;
	if (rc == 0)
		rc = request_send(s, timeout_ms);
	if (rc == 0)
		rc = take_value(s, key, value, cap, len);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lcr_store_add(lcr_session_t *s, const char *key, int64_t delta, int64_t *sum)
{
	int rc;
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = request_begin(s, WIRE_STORE_ADD, key);
	s->kv.store_request.delta = (uint64_t)delta;
	if (rc == 0)
		rc = request_send(s, 0);
	if (rc == 0 && sum)
		*sum = (int64_t)s->kv.store_reply.number;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lcr_store_compare_set(lcr_session_t *s, const char *key, const void *expected,
			  size_t expected_len, const void *desired, size_t desired_len,
			  void *value, size_t cap, size_t *len)
{
	int rc;
	if (!s || !len || (cap && !value))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	struct wire_store_request *m = &s->kv.store_request;
	rc = request_begin(s, WIRE_STORE_COMPARE_SET, key);
	if (rc == 0)
		rc = copy_value(s, m->expected, &m->expected_len, expected, expected_len,
				"an expected value");
	if (rc == 0)
		rc = copy_value(s, m->value, &m->value_len, desired, desired_len, "a value");
	if (rc == 0)
		rc = request_send(s, 0);
	if (rc == 0)
		rc = take_value(s, key, value, cap, len);
	if (rc == 0)
		rc = s->kv.store_reply.swapped ? 1 : 0;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lcr_store_delete(lcr_session_t *s, const char *key)
{
	int rc;
	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = request_begin(s, WIRE_STORE_DELETE, key);
	if (rc == 0)
		rc = request_send(s, 0);
	pthread_mutex_unlock(&s->lock);
	return rc;
}
