/* client_events.c: liblcr's event interface (a second connection on which the helper only
 * pushes events), and the key-value store and barrier calls. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal/client.h"

int lcr_event_fd(lcr_session_t *s)
{
	return s ? s->event_fd : -EINVAL;
}

/* The helper went away: one HELPER_LOST event, then -ENOTCONN. */
static int helper_lost(struct lcr_session *s, struct lcr_event *ev)
{
	if (s->events_lost)
		return -ENOTCONN;
	s->events_lost = true;
	memset(ev, 0, sizeof(*ev));
	ev->type = LCR_EVENT_HELPER_LOST;
	ev->status = -1;
	ev->node_id = ev->leader = LCR_NO_NODE;
	snprintf(ev->message, sizeof(ev->message), "the connection to the helper is lost");
	return 0;
}

int lcr_event_next(lcr_session_t *s, struct lcr_event *ev)
{
	struct wire_event m;
	int rc;
	if (!s || !ev)
		return -EINVAL;
	if (s->events_lost)
		return -ENOTCONN;
	for (;;) {
		rc = wire_recv_msg(s->event_fd, &s->event, 0);
		if (rc == -ETIMEDOUT)
			return -EAGAIN;
		if (rc == -ECONNRESET || rc == -ENOTCONN)
			return helper_lost(s, ev);
		if (rc < 0)
			return rc;
		if (s->event.fd >= 0)
			close(s->event.fd);
		if (s->event.header.type == WIRE_EVENT &&
		    wire_decode_event(s->event.payload, s->event.header.length, &m) == 0)
			break;
	}
	ev->type = (enum lcr_event_type)m.type;
	ev->source = (enum lcr_event_source)m.source;
	ev->rank = m.rank;
	ev->pid = (int32_t)m.pid;
	ev->status = m.status;
	memcpy(ev->node, m.node, sizeof(ev->node));
	memcpy(ev->message, m.message, sizeof(ev->message));
	ev->node_id = m.node_id;
	ev->generation = m.generation;
	ev->leader = m.leader;
	ev->epoch = m.epoch;
	return 0;
}

/* A client-side wait in milliseconds for a request the helper parks for timeout_ms. */
static int reply_wait(int timeout_ms)
{
	if (timeout_ms < 0 || timeout_ms > INT32_MAX - CLIENT_REPLY_TIMEOUT_MS)
		return -1;
	return timeout_ms + CLIENT_REPLY_TIMEOUT_MS;
}

static uint32_t wire_timeout(int timeout_ms)
{
	return timeout_ms < 0 ? WIRE_WAIT_FOREVER : (uint32_t)timeout_ms;
}

int lcr_kv_put(lcr_session_t *s, const char *key, const void *value, size_t len)
{
	int rc;
	if (!s || (len && !value))
		return -EINVAL;
	if (len > WIRE_KV_VALUE_MAX) {
		client_set_error(s, "a value is at most %d bytes", WIRE_KV_VALUE_MAX);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	struct wire_kv_put *m = &s->kv.put;
	rc = client_copy_name(s, m->key, key, "a key");
	if (rc == 0) {
		m->value_len = (uint32_t)len;
		if (len)
			memcpy(m->value, value, len);
		rc = client_request(s, WIRE_KV_PUT, s->out,
				    wire_encode_kv_put(m, s->out, sizeof(s->out)), WIRE_REPLY,
				    CLIENT_REPLY_TIMEOUT_MS);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lcr_kv_get(lcr_session_t *s, const char *key, void *value, size_t cap, size_t *len,
	       int timeout_ms)
{
	struct wire_kv_get m = { .timeout_ms = wire_timeout(timeout_ms) };
	uint8_t buf[sizeof(m)];
	int rc;
	if (!s || !len || (cap && !value))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = client_copy_name(s, m.key, key, "a key");
	if (rc == 0)
		rc = client_request(s, WIRE_KV_GET, buf, wire_encode_kv_get(&m, buf, sizeof(buf)),
				    WIRE_KV_VALUE, reply_wait(timeout_ms));
	struct wire_kv_value *v = &s->kv.value;
	if (rc == 0 && wire_decode_kv_value(s->reply.payload, s->reply.header.length, v) < 0)
		rc = -EPROTO;
	if (rc == 0) {
		*len = v->value_len;
		if (v->value_len > cap) {
			client_set_error(s, "the value of '%s' has %u bytes, more than the %zu given",
					 m.key, v->value_len, cap);
			rc = -ENOBUFS;
		} else if (v->value_len) {
			memcpy(value, v->value, v->value_len);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int lcr_barrier(lcr_session_t *s, const char *name, uint32_t participants, int timeout_ms)
{
	struct wire_barrier m = { .participants = participants,
				  .timeout_ms = wire_timeout(timeout_ms) };
	uint8_t buf[sizeof(m)];
	int rc;
	if (!s || participants == 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	rc = client_copy_name(s, m.name, name, "a barrier name");
	if (rc == 0)
		rc = client_request(s, WIRE_BARRIER, buf, wire_encode_barrier(&m, buf, sizeof(buf)),
				    WIRE_REPLY, reply_wait(timeout_ms));
	pthread_mutex_unlock(&s->lock);
	return rc;
}
