/* control.c: the control socket and its sessions (see control.h). Accepts peers, checks
 * their credentials, receives one datagram at a time, rejects malformed ones with an error
 * reply (the session and the helper carry on), and dispatches the rest to the handler that
 * a service registered for their type (control_register); it names no service. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/listener.h"
#include "loop/log.h"
#include "loop/regions.h"

struct control {
	int listen_fd;
	struct client *clients;
	uint32_t nclients;
	uint64_t next_client_id;
	struct wire_msg msg;               /* the datagram being handled */
	uint8_t out[WIRE_MAX_PAYLOAD];     /* scratch for encoded replies */
	struct control_request handlers[CONTROL_HANDLERS_MAX]; /* registered by the services */
	size_t handler_count;
	control_release_fn *releases[CONTROL_RELEASES_MAX];
	size_t release_count;
};

int control_register(struct lcrd *d, const struct control_request *requests, size_t count)
{
	struct control *ctl = d->control;
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < ctl->handler_count; j++)
			if (ctl->handlers[j].type == requests[i].type)
				return -EEXIST;
		if (ctl->handler_count == CONTROL_HANDLERS_MAX)
			return -ENOSPC;
		ctl->handlers[ctl->handler_count++] = requests[i];
	}
	return 0;
}

int control_on_release(struct lcrd *d, control_release_fn *release)
{
	struct control *ctl = d->control;
	if (ctl->release_count == CONTROL_RELEASES_MAX)
		return -ENOSPC;
	ctl->releases[ctl->release_count++] = release;
	return 0;
}

void control_reply(struct client *c, uint32_t seq, uint16_t type, const uint8_t *payload,
		   int len, int fd)
{
	int rc;
	if (len < 0) {
		log_error("cannot encode %s for client %llu: %s", wire_type_name(type),
			  (unsigned long long)c->id, strerror(-len));
		control_reply_status(c, seq, len, "lcrd could not encode its reply");
		return;
	}
	rc = wire_send_msg_full(c->fd, type, seq, payload, (uint32_t)len, fd);
	if (rc == -EPIPE || rc == -ECONNRESET)
		log_verbose("client %llu (pid %ld) went away before its %s",
			    (unsigned long long)c->id, (long)c->pid, wire_type_name(type));
	else if (rc < 0)
		log_warning("cannot send %s to client %llu (pid %ld): %s", wire_type_name(type),
			    (unsigned long long)c->id, (long)c->pid, strerror(-rc));
}

void control_reply_status(struct client *c, uint32_t seq, int status, const char *fmt, ...)
{
	struct wire_reply reply = { .status = status };
	uint8_t buf[sizeof(reply)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reply.message, sizeof(reply.message), fmt, ap);
	va_end(ap);
	int len = wire_encode_reply(&reply, buf, sizeof(buf));
	if (len < 0)
		return;
	control_reply(c, seq, WIRE_REPLY, buf, len, -1);
}

uint32_t control_client_count(const struct lcrd *d)
{
	return d->control ? d->control->nclients : 0;
}

void control_forget_rank(struct client *c)
{
	c->task = NULL;
}

void control_broadcast_event(struct lcrd *d, const struct wire_event *ev)
{
	uint8_t buf[sizeof(*ev)];
	int len = wire_encode_event(ev, buf, sizeof(buf));
	if (len < 0 || !d->control)
		return;
	for (struct client *c = d->control->clients; c; c = c->next)
		if (c->subscribed)
			control_reply(c, 0, WIRE_EVENT, buf, len, -1);
}

static void client_close(struct lcrd *d, struct client *c, const char *why)
{
	struct control *ctl = d->control;
	for (struct client **pos = &ctl->clients; *pos; pos = &(*pos)->next) {
		if (*pos == c) {
			*pos = c->next;
			break;
		}
	}
	ctl->nclients--;
	log_verbose("client %llu (pid %ld) %s", (unsigned long long)c->id, (long)c->pid, why);
	for (size_t i = ctl->release_count; i > 0; i--)
		ctl->releases[i - 1](d, c);
	loop_remove_fd(d->loop, c->fd);
	close(c->fd);
	free(c);
}

static void dispatch(struct client *c, const struct wire_msg *msg)
{
	struct control *ctl = c->d->control;
	for (size_t i = 0; i < ctl->handler_count; i++) {
		if (ctl->handlers[i].type == msg->header.type) {
			log_debug("client %llu: %s", (unsigned long long)c->id,
				  wire_type_name(msg->header.type));
			ctl->handlers[i].handler(c, msg);
			return;
		}
	}
	log_warning("client %llu (pid %ld) sent %s, which is not a control request",
		    (unsigned long long)c->id, (long)c->pid, wire_type_name(msg->header.type));
	control_reply_status(c, msg->header.seq, -EOPNOTSUPP, "%s is not a control request",
			     wire_type_name(msg->header.type));
}

static void client_readable(struct loop *loop, int fd, short revents, void *arg)
{
	struct client *c = arg;
	struct lcrd *d = c->d;
	struct wire_msg *msg = &d->control->msg;
	(void)loop;
	(void)fd;
	(void)revents;

	int rc = wire_recv_msg(c->fd, msg, 0);
	if (rc == -ETIMEDOUT)
		return;
	if (rc == -ECONNRESET || rc == -ENOTCONN || rc == -EPIPE) {
		client_close(d, c, "closed its session");
		return;
	}
	if (rc < 0) {
		log_warning("client %llu (pid %ld) sent a malformed message: %s",
			    (unsigned long long)c->id, (long)c->pid, strerror(-rc));
		control_reply_status(c, msg->header.seq, rc, "malformed message: %s",
				     strerror(-rc));
		return;
	}
	if (msg->fd >= 0) {
		close(msg->fd);
		msg->fd = -1;
	}
	dispatch(c, msg);
}

/* SO_PEERCRED: only lcrd's own uid may talk to it. */
static int check_peer(int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return -errno;
	return cred->uid == getuid() ? 0 : -EACCES;
}

static void accept_client(struct loop *loop, int fd, short revents, void *arg)
{
	struct lcrd *d = arg;
	struct control *ctl = d->control;
	struct ucred cred = { 0 };
	(void)revents;

	int cfd = listener_accept(loop, fd, d->dir.socket_path, NULL);
	if (cfd < 0) {
		if (cfd != -EAGAIN && !listener_out_of_resources(cfd))
			log_warning("cannot accept on %s: %s", d->dir.socket_path, strerror(-cfd));
		return;
	}
	int rc = check_peer(cfd, &cred);
	if (rc < 0) {
		if (rc == -EACCES)
			log_warning("refused a connection from uid %u (pid %ld): only uid %u may "
				    "use this helper",
				    (unsigned)cred.uid, (long)cred.pid, (unsigned)getuid());
		else
			log_warning("refused a connection: cannot read its credentials: %s",
				    strerror(-rc));
		close(cfd);
		return;
	}
	struct client *c = calloc(1, sizeof(*c));
	if (!c || loop_add_fd(loop, cfd, POLLIN, client_readable, c) < 0) {
		log_error("cannot take a connection from pid %ld: out of memory", (long)cred.pid);
		free(c);
		close(cfd);
		return;
	}
	c->d = d;
	c->id = ++ctl->next_client_id;
	c->fd = cfd;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->nclients++;
	log_verbose("client %llu connected (pid %ld)", (unsigned long long)c->id, (long)c->pid);
}

int control_create(struct lcrd *d)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->listen_fd = -1;
	d->control = ctl;
	return 0;
}

int control_open(struct lcrd *d)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct control *ctl = d->control;
	int rc = 0;
	ctl->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->listen_fd < 0) {
		rc = -errno;
		log_error("cannot create the control socket: %s", strerror(errno));
		goto out;
	}
	strcpy(addr.sun_path, d->dir.socket_path);
	if (bind(ctl->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(d->dir.socket_path, 0600) < 0 || listen(ctl->listen_fd, 128) < 0) {
		rc = -errno;
		log_error("cannot listen on %s: %s", d->dir.socket_path, strerror(errno));
		goto out;
	}
	rc = loop_add_fd(d->loop, ctl->listen_fd, POLLIN, accept_client, d);
out:
	if (rc < 0 && ctl->listen_fd >= 0) {
		close(ctl->listen_fd);
		ctl->listen_fd = -1;
	}
	return rc;
}

void control_close(struct lcrd *d)
{
	struct control *ctl = d->control;
	struct wire_event ev = { .type = WIRE_EVENT_SHUTDOWN, .status = -1,
				 .node_id = WIRE_NO_NODE, .leader = WIRE_NO_NODE };
	if (!ctl)
		return;
	snprintf(ev.message, sizeof(ev.message), "lcrd on %s is shutting down", d->opt.node_name);
	control_broadcast_event(d, &ev);
	while (ctl->clients)
		client_close(d, ctl->clients, "disconnected at shutdown");
	if (ctl->listen_fd >= 0) {
		loop_remove_fd(d->loop, ctl->listen_fd);
		close(ctl->listen_fd);
	}
	free(ctl);
	d->control = NULL;
}

void control_reply_region(struct client *c, uint32_t seq, struct region *r, uint16_t flags)
{
	struct wire_region_info info = {
		.id = r->id,
		.size = r->size,
		.map_size = r->map_size,
		.kind = (uint16_t)r->kind,
		.flags = flags,
	};
	uint8_t buf[sizeof(info)];
	int fd, rc;
	memcpy(info.device_uuid, r->device_uuid, WIRE_UUID_SIZE);
	strcpy(info.name, r->name);
	rc = r->backend->export_fd(r, &fd);
	if (rc < 0) {
		log_error("cannot export region '%s' of rank %u: %s", r->name, r->owner_rank,
			  strerror(-rc));
		control_reply_status(c, seq, rc, "cannot export region '%s': %s", r->name,
				     strerror(-rc));
		return;
	}
	control_reply(c, seq, WIRE_REGION_INFO, buf, wire_encode_region_info(&info, buf, sizeof(buf)),
		      fd);
	close(fd);
}
