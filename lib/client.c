/* client.c: liblcr sessions: opening and closing the connections to the helper, the
 * request/reply exchange every call uses, rank registration with its control page, the
 * update marks, and error strings. See lcr.h for the API and lcr(3) for the manual. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal/client.h"
#include "internal/helper_socket.h"
#include "internal/util.h"

int lcr_api_version(void)
{
	return LCR_API_VERSION;
}

/* Meanings specific to LCR; other values are described by the C library. */
static const char *lcr_meaning(int err)
{
	switch (err) {
	case -EDQUOT: return "the helper's region quota does not allow this allocation";
	case -EBUSY: return "a live process holds this rank";
	case -EINPROGRESS: return "the helper is rolling the rank's regions back to a protected step "
				  "(a recovery): wait for NODE_JOINED";
	case -ESTALE: return "the state changed under the call (the helper rolled the rank's regions "
			     "back, or ranks kept updating during a checkpoint): lcr_last_error says "
			     "which";
	case -EPERM: return "the session has no registered rank";
	case -ENOTCONN: return "the connection to the helper is lost";
	case -EEXIST: return "the region exists with another size or kind";
	case -EALREADY: return "the session is registered as another rank";
	case -ENOBUFS: return "the buffer is too small for the value";
	case -EPROTO: return "the helper answered with an unexpected message";
	case -EACCES: return "the helper's socket is not this user's (or this user may not reach it)";
	}
	return NULL;
}

const char *lcr_strerror(int err)
{
	const char *meaning;
	if (err >= 0)
		return "success";
	meaning = lcr_meaning(err);
	if (meaning)
		return meaning;
	meaning = strerrordesc_np(-err);
	return meaning ? meaning : "unknown error";
}

const char *lcr_last_error(const lcr_session_t *s)
{
	return s ? s->last_error : "";
}

void client_set_error(struct lcr_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
}

int client_copy_name(struct lcr_session *s, char *dst, const char *name, const char *what)
{
	if (!name || !*name || util_copy_string(dst, WIRE_NAME_MAX + 1, name) < 0) {
		client_set_error(s, "%s must be 1 to %d bytes", what, WIRE_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

int client_request(struct lcr_session *s, uint16_t type, const uint8_t *payload, int len,
		   uint16_t want, int timeout_ms)
{
	struct wire_reply reply;
	uint32_t seq = ++s->seq;
	int rc;

	if (len < 0) {
		client_set_error(s, "request too large for the wire protocol");
		return len;
	}
	if (s->fd < 0)
		return -ENOTCONN;
	rc = wire_send_msg_full(s->fd, type, seq, payload, (uint32_t)len, -1);
	while (rc == 0) {
		rc = wire_recv_msg(s->fd, &s->reply, timeout_ms);
		if (rc == 0 && s->reply.header.seq == seq)
			break;
		if (rc == 0 && s->reply.fd >= 0)
			close(s->reply.fd);
	}
	if (rc == -ECONNRESET || rc == -EPIPE) {
		client_set_error(s, "the helper closed the connection");
		return -ENOTCONN;
	}
	if (rc < 0) {
		client_set_error(s, "no reply from the helper: %s", strerror(-rc));
		return rc;
	}
	if (s->reply.header.type == WIRE_REPLY) {
		if (wire_decode_reply(s->reply.payload, s->reply.header.length, &reply) < 0)
			return -EPROTO;
		if (reply.status < 0)
			memcpy(s->last_error, reply.message, sizeof(s->last_error));
		if (reply.status < 0 || want == WIRE_REPLY)
			return reply.status;
	}
	if (s->reply.header.type != want) {
		if (s->reply.fd >= 0)
			close(s->reply.fd);
		s->reply.fd = -1;
		client_set_error(s, "the helper answered %s to %s",
				 wire_type_name(s->reply.header.type), wire_type_name(type));
		return -EPROTO;
	}
	return 0;
}

/* A connection to the user's own helper (helper_socket.h): another user's is -EACCES. */
static int connect_socket(const char *path)
{
	char err[256];

	return helper_socket_connect(path, err, sizeof(err));
}

/* The event connection: a second session that only receives events. */
static int subscribe(struct lcr_session *s, const char *path)
{
	struct wire_reply reply;
	int rc, fd = connect_socket(path);
	if (fd < 0)
		return fd;
	rc = wire_send_msg_full(fd, WIRE_SUBSCRIBE, 1, NULL, 0, -1);
	if (rc == 0)
		rc = wire_recv_msg(fd, &s->event, CLIENT_REPLY_TIMEOUT_MS);
	if (rc == 0 && (s->event.header.type != WIRE_REPLY ||
			wire_decode_reply(s->event.payload, s->event.header.length, &reply) < 0))
		rc = -EPROTO;
	if (rc == 0)
		rc = reply.status;
	if (rc < 0) {
		close(fd);
		return rc == -ECONNRESET ? -ECONNREFUSED : rc;
	}
	return client_events_open(s, fd);
}

int lcr_open(const char *socket_path, lcr_session_t **out)
{
	struct lcr_session *s;
	int rc;
	if (!out)
		return -EINVAL;
	if (!socket_path)
		socket_path = getenv("LCR_SOCKET");
	if (!socket_path || !*socket_path)
		return -ENOENT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->event_fd = -1;
	s->fd = connect_socket(socket_path);
	if (s->fd < 0) {
		rc = s->fd;
		goto out;
	}
	rc = subscribe(s, socket_path);
	if (rc == 0)
		client_pmix_auto_attach(s);
out:
	if (rc < 0) {
		lcr_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

int lcr_close(lcr_session_t *s)
{
	if (!s)
		return 0;
	client_pmix_detach(s);
	client_unmap_all(s);
	if (s->page)
		munmap(s->page, CONTROL_PAGE_SIZE);
	if (s->fd >= 0)
		close(s->fd);
	client_events_close(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return 0;
}

/* Maps the control page that came with the registration reply. */
static int map_control_page(struct lcr_session *s, int fd)
{
	void *p = mmap(NULL, CONTROL_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int rc = -errno;
		client_set_error(s, "cannot map the control page: %s", strerror(errno));
		return rc;
	}
	if (((struct control_page *)p)->magic != CONTROL_PAGE_MAGIC) {
		munmap(p, CONTROL_PAGE_SIZE);
		client_set_error(s, "the helper passed something that is not a control page");
		return -EPROTO;
	}
	if (s->page)
		munmap(s->page, CONTROL_PAGE_SIZE);
	s->page = p;
	/* A new process of the rank starts from what the regions hold now. */
	atomic_store_explicit(&s->rollback_acknowledged, control_page_rollback_generation(p),
			      memory_order_relaxed);
	return 0;
}

int lcr_register(lcr_session_t *s, const struct lcr_rank_info *info)
{
	struct wire_register m = { 0 };
	uint8_t buf[sizeof(m)];
	int rc;
	if (!s || !info)
		return -EINVAL;
	m.global_rank = info->global_rank;
	m.dp_index = info->dp_index;
	m.dp_size = info->dp_size;
	if (info->shard_key && util_copy_string(m.shard_key, sizeof(m.shard_key),
						info->shard_key) < 0) {
		client_set_error(s, "shard key longer than %d bytes", WIRE_NAME_MAX);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	rc = client_request(s, WIRE_REGISTER, buf, wire_encode_register(&m, buf, sizeof(buf)),
			    WIRE_REPLY, CLIENT_REPLY_TIMEOUT_MS);
	if (rc == 0 && s->reply.fd < 0) {
		client_set_error(s, "the helper sent no control page");
		rc = -EPROTO;
	}
	if (rc == 0)
		rc = map_control_page(s, s->reply.fd);
	if (rc == 0)
		s->rank = info->global_rank;
	if (s->reply.fd >= 0)
		close(s->reply.fd);
	s->reply.fd = -1;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* lcr_update_begin's refusals, said in last_error when no other thread's request holds the
 * session (the update marks never wait for a request in flight: the detail is then left
 * out, the return value still says what happened). */
static void explain_refused_update(struct lcr_session *s, int rc)
{
	uint64_t committed = atomic_load_explicit(&s->page->committed_step, memory_order_relaxed);
	if (pthread_mutex_trylock(&s->lock) != 0)
		return; /* another thread's request owns last_error now; never wait for it here */
	if (rc == -EINPROGRESS)
		client_set_error(s, "the helper is rolling this rank's regions back to a protected "
				 "step: wait for NODE_JOINED, then call lcr_resume_step");
	else if (rc == -ESTALE)
		client_set_error(s, "the helper rolled this rank's regions back to step %" PRIu64
				 "; call lcr_resume_step and continue after it", committed);
	pthread_mutex_unlock(&s->lock);
}

int lcr_update_begin(lcr_session_t *s, uint64_t step)
{
	struct control_page *p = s ? s->page : NULL;
	int rc;
	if (!p)
		return -EINVAL;
	rc = control_page_begin_update(p, step, atomic_load_explicit(&s->rollback_acknowledged,
								     memory_order_relaxed));
	if (rc < 0)
		explain_refused_update(s, rc);
	return rc;
}

int lcr_update_end(lcr_session_t *s, uint64_t step)
{
	struct control_page *p = s ? s->page : NULL;
	if (!p || atomic_load_explicit(&p->step, memory_order_relaxed) != step ||
	    atomic_load_explicit(&p->phase, memory_order_relaxed) != WIRE_PHASE_UPDATING)
		return -EINVAL;
	atomic_store_explicit(&p->committed_step, step, memory_order_release);
	atomic_store_explicit(&p->phase, WIRE_PHASE_COMMITTED, memory_order_release);
	return 0;
}

int lcr_update_abandon(lcr_session_t *s, uint64_t step)
{
	struct control_page *p = s ? s->page : NULL;
	return p ? control_page_abandon_update(p, step) : -EINVAL;
}
