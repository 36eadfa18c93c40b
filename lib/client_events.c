/* client_events.c: liblcr's event interface (a second connection on which the helper only
 * pushes events, with a queue of the events read ahead of the application, see struct
 * lcr_session), and the key-value store and barrier calls. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal/client.h"

int lcr_event_fd(lcr_session_t *s)
{
	return s ? s->event_fd : -EINVAL;
}

int client_events_open(struct lcr_session *s, int socket)
{
	struct epoll_event watch = { .events = EPOLLIN };
	int ready = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), set = epoll_create1(EPOLL_CLOEXEC);
	int rc = 0;

	if (ready < 0 || set < 0)
		rc = -errno;
	if (rc == 0 && (epoll_ctl(set, EPOLL_CTL_ADD, socket, &watch) < 0 ||
			epoll_ctl(set, EPOLL_CTL_ADD, ready, &watch) < 0))
		rc = -errno;
	if (rc < 0) {
		close(socket);
		if (ready >= 0)
			close(ready);
		if (set >= 0)
			close(set);
		return rc;
	}
	pthread_mutex_init(&s->events_lock, NULL);
	s->event_socket = socket;
	s->event_ready = ready;
	s->event_fd = set;
	return 0;
}

void client_events_close(struct lcr_session *s)
{
	if (s->event_fd < 0)
		return;
	while (s->queued_first) {
		struct client_queued_event *q = s->queued_first;

		s->queued_first = q->next;
		free(q);
	}
	close(s->event_fd);
	close(s->event_ready);
	close(s->event_socket);
	s->event_fd = -1;
	pthread_mutex_destroy(&s->events_lock);
}

/* Reads one event from the event socket without blocking: 0 with *ev filled, -EAGAIN when
 * none is waiting, -ENOTCONN when the socket ended (events_ended set), or -errno. Messages
 * that are not events are skipped. Hold events_lock. */
static int read_event(struct lcr_session *s, struct lcr_event *ev)
{
	struct wire_event m;
	int rc;

	if (s->events_ended)
		return -ENOTCONN;
	for (;;) {
		rc = wire_recv_msg(s->event_socket, &s->event, 0);
		if (rc == -ETIMEDOUT)
			return -EAGAIN;
		if (rc == -ECONNRESET || rc == -ENOTCONN) {
			s->events_ended = true;
			return -ENOTCONN;
		}
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

/* Appends q to the queue; the eventfd becomes readable with the first. Hold events_lock. */
static void queue_push(struct lcr_session *s, struct client_queued_event *q)
{
	q->next = NULL;
	if (s->queued_last)
		s->queued_last->next = q;
	else
		s->queued_first = q;
	s->queued_last = q;
	if (s->queued_first == q)
		eventfd_write(s->event_ready, 1);
}

/* Takes the oldest queued event into *ev; the eventfd is reset with the last. Hold
 * events_lock; the queue is not empty. */
static void queue_pop(struct lcr_session *s, struct lcr_event *ev)
{
	struct client_queued_event *q = s->queued_first;
	eventfd_t count;

	*ev = q->event;
	s->queued_first = q->next;
	if (!s->queued_first) {
		s->queued_last = NULL;
		eventfd_read(s->event_ready, &count);
	}
	free(q);
}

bool client_event_join_told_after(struct lcr_session *s, uint64_t epoch)
{
	struct client_queued_event *q;
	bool told = false;

	if (s->event_fd < 0)
		return false;
	pthread_mutex_lock(&s->events_lock);
	while ((q = malloc(sizeof(*q))) && read_event(s, &q->event) == 0)
		queue_push(s, q);
	free(q);
	for (q = s->queued_first; q && !told; q = q->next)
		told = q->event.type == LCR_EVENT_NODE_JOINED && q->event.epoch > epoch;
	pthread_mutex_unlock(&s->events_lock);
	return told;
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
	int rc;

	if (!s || !ev)
		return -EINVAL;
	if (s->event_fd < 0)
		return -ENOTCONN;
	pthread_mutex_lock(&s->events_lock);
	if (s->events_lost) {
		rc = -ENOTCONN;
	} else if (s->queued_first) {
		queue_pop(s, ev);
		rc = 0;
	} else {
		rc = read_event(s, ev);
		if (rc == -ENOTCONN)
			rc = helper_lost(s, ev);
	}
	pthread_mutex_unlock(&s->events_lock);
	return rc;
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
