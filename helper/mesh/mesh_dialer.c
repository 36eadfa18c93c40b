/* mesh_dialer.c: one connection at a time to a helper or a rendezvous, tried again until a
 * deadline, and the node table read from it (see mesh_dialer.h). */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh_dialer.h"
#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/options.h"
#include "mesh/mesh_internal.h"

static int resolve(struct mesh_dialer *d)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *found = NULL;
	char host[256], port_text[8];
	uint16_t port;
	if (options_split_host_port(d->target, host, sizeof(host), &port) < 0)
		return -EINVAL;
	util_format_text(port_text, sizeof(port_text), "%u", port);
	int e = getaddrinfo(host, port_text, &hints, &found);
	if (e != 0) {
		log_error("cannot resolve %s at '%s': %s", d->what, host, gai_strerror(e));
		return -EHOSTUNREACH;
	}
	memcpy(&d->sa, found->ai_addr, found->ai_addrlen);
	d->sa_len = found->ai_addrlen;
	freeaddrinfo(found);
	return 0;
}

int mesh_dialer_init(struct mesh_dialer *d, struct mesh *m, const char *what, const char *target,
		     const struct mesh_conn_ops *ops, void *owner, uint32_t retry_ms,
		     uint32_t handshake_ms)
{
	*d = (struct mesh_dialer){ .m = m, .what = what, .ops = ops, .owner = owner,
				   .retry_ms = retry_ms, .handshake_ms = handshake_ms };
	d->seen = calloc(m->count, 1);
	if (!d->seen)
		return -ENOMEM;
	return mesh_dialer_retarget(d, target);
}

int mesh_dialer_retarget(struct mesh_dialer *d, const char *target)
{
	util_format_text(d->target, sizeof(d->target), "%s", target);
	return resolve(d);
}

static void dial(struct mesh_dialer *d)
{
	int err = mesh_conn_connect(d->m->d->loop, (struct sockaddr *)&d->sa, d->sa_len,
				    d->handshake_ms, d->ops, &d->stats, d->owner, &d->conn);
	if (err < 0) {
		util_format_text(d->last_error, sizeof(d->last_error), "cannot connect to %s at %s: %s",
				 d->what, d->target, strerror(-err));
		log_warning("%s; trying again", d->last_error);
		d->conn = NULL;
	}
}

static void retry_due(struct loop *loop, void *arg)
{
	struct mesh_dialer *d = arg;
	(void)loop;
	d->retry_timer = 0;
	if (!d->finished && !d->conn)
		dial(d);
	if (!d->conn)
		mesh_dialer_retry_later(d);
}

void mesh_dialer_retry_later(struct mesh_dialer *d)
{
	if (!d->finished && !d->retry_timer &&
	    loop_add_timer(d->m->d->loop, d->retry_ms, retry_due, d, &d->retry_timer) < 0)
		d->retry_timer = 0;
}

static void deadline_due(struct loop *loop, void *arg)
{
	struct mesh_dialer *d = arg;
	(void)loop;
	d->deadline_timer = 0;
	d->deadline(d->owner);
}

int mesh_dialer_start(struct mesh_dialer *d, uint64_t deadline_ms,
		      mesh_dialer_deadline_fn deadline)
{
	d->deadline = deadline;
	int err = loop_add_timer(d->m->d->loop, deadline_ms, deadline_due, d, &d->deadline_timer);
	if (err < 0)
		return err;
	dial(d);
	if (!d->conn)
		mesh_dialer_retry_later(d);
	return 0;
}

bool mesh_dialer_lost(struct mesh_dialer *d, int why)
{
	d->conn = NULL;
	if (d->finished || why == 0)
		return false;
	util_format_text(d->last_error, sizeof(d->last_error), "the connection to %s at %s ended (%s)",
			 d->what, d->target, strerror(-why));
	log_verbose("%s before the table: trying again", d->last_error);
	d->listed = 0;
	memset(d->seen, 0, d->m->count);
	mesh_dialer_retry_later(d);
	return true;
}

int mesh_dialer_read_table(struct mesh_dialer *d, const struct wire_msg *msg, bool *complete,
			   char *why, size_t cap)
{
	const struct mesh *m = d->m;
	struct wire_rdv_table *page = &d->page;
	*complete = false;
	if (wire_decode_rdv_table(msg->payload, msg->header.length, page) < 0 ||
	    page->total != m->count) {
		util_format_text(why, cap, "%s sent a malformed table, or one of another size", d->what);
		return -EPROTO;
	}
	for (uint32_t i = 0; i < page->count; i++) {
		const struct wire_rdv_node *n = &page->nodes[i];
		if (n->node_id >= m->count || d->seen[n->node_id] || n->port == 0) {
			util_format_text(why, cap, "the table from %s lists a node twice, or one out of range",
					 d->what);
			return -EPROTO;
		}
		d->seen[n->node_id] = 1;
		d->listed++;
	}
	if (page->start + page->count < page->total)
		return 0;
	if (d->listed != m->count) {
		util_format_text(why, cap, "the table from %s misses nodes", d->what);
		return -EPROTO;
	}
	*complete = true;
	return 0;
}

void mesh_dialer_stop(struct mesh_dialer *d)
{
	struct loop *loop = d->m->d->loop;
	d->finished = true;
	if (d->deadline_timer)
		loop_cancel_timer(loop, d->deadline_timer);
	if (d->retry_timer)
		loop_cancel_timer(loop, d->retry_timer);
	d->deadline_timer = d->retry_timer = 0;
	if (d->conn)
		mesh_conn_close(d->conn, 0);
}

void mesh_dialer_fini(struct mesh_dialer *d)
{
	if (d->m)
		mesh_dialer_stop(d);
	free(d->seen);
	d->seen = NULL;
}
