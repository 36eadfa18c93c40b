/* rendezvous_client.c: joining the step's mesh through its rendezvous (see
 * rendezvous_client.h). One connection at a time; a connection that fails before the table
 * is complete is tried again every RETRY_MS until --rendezvous-wait runs out. A refusal
 * from the rendezvous (bad token, credential or node id) is final. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/util.h"
#include "lcrd.h"
#include "log.h"
#include "mesh_auth.h"
#include "mesh_internal.h"
#include "options.h"
#include "rendezvous_client.h"

#define RETRY_MS 500
#define WELCOME_MS 10000

struct rendezvous_client {
	struct mesh *m;
	char target[300];
	char token[WIRE_TOKEN_MAX + 1];
	struct sockaddr_storage sa;
	socklen_t sa_len;
	struct mesh_conn *conn;
	struct mesh_stats stats;
	uint64_t deadline_timer;
	uint64_t retry_timer;
	uint8_t *seen;     /* per node id: listed in a table page */
	uint32_t listed;   /* nodes listed so far */
	bool finished;     /* the table is complete, or the client gave up */
	struct wire_rdv_table page;
};

static const struct mesh_conn_ops rendezvous_ops;

static void finish(struct rendezvous_client *rc)
{
	struct loop *loop = rc->m->d->loop;
	rc->finished = true;
	if (rc->deadline_timer)
		loop_cancel_timer(loop, rc->deadline_timer);
	if (rc->retry_timer)
		loop_cancel_timer(loop, rc->retry_timer);
	rc->deadline_timer = rc->retry_timer = 0;
	if (rc->conn)
		mesh_conn_close(rc->conn, 0);
}

static void fail(struct rendezvous_client *rc, const char *why)
{
	finish(rc);
	mesh_give_up(rc->m, why);
}

static void dial(struct rendezvous_client *rc)
{
	struct mesh *m = rc->m;
	char why[400];
	int err = mesh_conn_connect(m->d->loop, (struct sockaddr *)&rc->sa, rc->sa_len, WELCOME_MS,
				    &rendezvous_ops, &rc->stats, rc, &rc->conn);
	if (err < 0) {
		snprintf(why, sizeof(why), "cannot connect to the rendezvous at %s: %s", rc->target,
			 strerror(-err));
		log_warning("%s; trying again", why);
		rc->conn = NULL;
	}
}

static void retry_due(struct loop *loop, void *arg)
{
	struct rendezvous_client *rc = arg;
	(void)loop;
	rc->retry_timer = 0;
	if (!rc->finished && !rc->conn)
		dial(rc);
	if (!rc->finished && !rc->conn &&
	    loop_add_timer(rc->m->d->loop, RETRY_MS, retry_due, rc, &rc->retry_timer) < 0)
		rc->retry_timer = 0;
}

static void deadline_due(struct loop *loop, void *arg)
{
	struct rendezvous_client *rc = arg;
	char why[400];
	(void)loop;
	rc->deadline_timer = 0;
	snprintf(why, sizeof(why),
		 "no table from the rendezvous at %s within %" PRIu32 " s (%" PRIu32 " of %" PRIu32
		 " nodes listed)",
		 rc->target, rc->m->d->opt.rendezvous_wait_s, rc->listed, rc->m->count);
	fail(rc, why);
}

static void send_register(struct rendezvous_client *rc, struct mesh_conn *c)
{
	struct mesh *m = rc->m;
	static struct wire_rdv_register reg;
	char err[512];
	memset(&reg, 0, sizeof(reg));
	strcpy(reg.token, rc->token);
	reg.node_id = m->self;
	reg.node_count = m->count;
	snprintf(reg.node_name, sizeof(reg.node_name), "%s", m->d->opt.node_name);
	strcpy(reg.address, m->address);
	reg.port = m->port;
	reg.rank_count = (uint32_t)m->d->opt.rank_count;
	memcpy(reg.ranks, m->d->opt.ranks, m->d->opt.rank_count * sizeof(reg.ranks[0]));
	if (mesh_auth_seal(m->auth, m->self, WIRE_NO_NODE, 0, &c->nonce, reg.credential, err,
			   sizeof(err)) < 0) {
		char why[600];
		snprintf(why, sizeof(why), "cannot make a credential for the rendezvous: %s", err);
		fail(rc, why);
		return;
	}
	mesh_conn_send(c, WIRE_RDV_REGISTER, m->scratch,
		       wire_encode_rdv_register(&reg, m->scratch, sizeof(m->scratch)));
}

/* The local end of the connection is where the other nodes reach this one. */
static void rendezvous_connected(struct mesh_conn *c)
{
	struct rendezvous_client *rc = c->owner;
	if (mesh_listen_where_reached(rc->m, c->fd) < 0) {
		fail(rc, "cannot open the mesh listener on the address that reaches the rendezvous");
		return;
	}
	send_register(rc, c);
}

static void on_welcome(struct rendezvous_client *rc, struct mesh_conn *c,
		       const struct wire_msg *msg)
{
	static struct wire_mesh_welcome welcome;
	struct wire_mesh_auth auth;
	struct mesh_auth_expect expect = { .from_node = WIRE_NO_NODE, .to_node = rc->m->self,
					   .echo = c->nonce };
	char err[512], why[900];
	if (wire_decode_mesh_welcome(msg->payload, msg->header.length, &welcome) < 0)
		snprintf(err, sizeof(err), "malformed WELCOME");
	else if (mesh_auth_open(rc->m->auth, welcome.credential, &expect, &auth, err,
				sizeof(err)) == 0) {
		mesh_conn_establish(c, WIRE_NO_NODE);
		log_verbose("registered with the rendezvous at %s as node %" PRIu32 " of %" PRIu32,
			    rc->target, rc->m->self, rc->m->count);
		return;
	}
	snprintf(why, sizeof(why), "the rendezvous at %s failed authentication: %s", rc->target,
		 err);
	fail(rc, why);
}

static void on_refusal(struct rendezvous_client *rc, const struct wire_msg *msg)
{
	struct wire_reply reply;
	char why[700];
	if (wire_decode_reply(msg->payload, msg->header.length, &reply) < 0)
		snprintf(reply.message, sizeof(reply.message), "(malformed reply)");
	snprintf(why, sizeof(why), "the rendezvous at %s refused this helper: %s", rc->target,
		 reply.message);
	fail(rc, why);
}

/* Copies one page of the table into the node table; the last page starts the mesh. */
static void on_table(struct rendezvous_client *rc, const struct wire_msg *msg)
{
	struct mesh *m = rc->m;
	struct wire_rdv_table *page = &rc->page;
	if (wire_decode_rdv_table(msg->payload, msg->header.length, page) < 0 ||
	    page->total != m->count) {
		fail(rc, "the rendezvous sent a malformed table, or one of another size");
		return;
	}
	for (uint32_t i = 0; i < page->count; i++) {
		const struct wire_rdv_node *n = &page->nodes[i];
		if (n->node_id >= m->count || rc->seen[n->node_id] || n->port == 0) {
			fail(rc, "the rendezvous' table lists a node twice, or one out of range");
			return;
		}
		struct mesh_node *x = &m->nodes[n->node_id];
		rc->seen[n->node_id] = 1;
		rc->listed++;
		strcpy(x->name, n->node_name);
		strcpy(x->address, n->address);
		x->port = n->port;
		mesh_node_set_ranks(x, n->ranks, n->rank_count);
	}
	if (page->start + page->count < page->total)
		return;
	if (rc->listed != m->count) {
		fail(rc, "the rendezvous' table misses nodes");
		return;
	}
	finish(rc);
	mesh_start(m);
}

static void rendezvous_message(struct mesh_conn *c, const struct wire_msg *msg)
{
	struct rendezvous_client *rc = c->owner;
	uint16_t type = msg->header.type;
	if (!c->established && type == WIRE_MESH_WELCOME)
		on_welcome(rc, c, msg);
	else if (type == WIRE_REPLY)
		on_refusal(rc, msg);
	else if (c->established && type == WIRE_RDV_TABLE)
		on_table(rc, msg);
	else
		fail(rc, "the rendezvous sent an unexpected message");
}

static void rendezvous_closed(struct mesh_conn *c, int why)
{
	struct rendezvous_client *rc = c->owner;
	rc->conn = NULL;
	if (rc->finished || why == 0)
		return;
	log_verbose("the connection to the rendezvous at %s ended before the table (%s): "
		    "trying again",
		    rc->target, strerror(-why));
	if (!rc->retry_timer &&
	    loop_add_timer(rc->m->d->loop, RETRY_MS, retry_due, rc, &rc->retry_timer) < 0)
		rc->retry_timer = 0;
}

static const struct mesh_conn_ops rendezvous_ops = {
	.connected = rendezvous_connected,
	.message = rendezvous_message,
	.closed = rendezvous_closed,
};

/* HOST:PORT into an address; HOST may be a name. */
static int resolve_target(struct rendezvous_client *rc)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *found = NULL;
	char host[256], port_text[8];
	uint16_t port;
	int e;
	if (options_split_host_port(rc->target, host, sizeof(host), &port) < 0)
		return -EINVAL;
	snprintf(port_text, sizeof(port_text), "%u", port);
	e = getaddrinfo(host, port_text, &hints, &found);
	if (e != 0) {
		log_error("cannot resolve the rendezvous host '%s': %s", host, gai_strerror(e));
		return -EHOSTUNREACH;
	}
	memcpy(&rc->sa, found->ai_addr, found->ai_addrlen);
	rc->sa_len = found->ai_addrlen;
	freeaddrinfo(found);
	return 0;
}

int rendezvous_client_start(struct mesh *m, const char *target, const char *token)
{
	struct rendezvous_client *rc = calloc(1, sizeof(*rc));
	int err;
	if (!rc)
		return -ENOMEM;
	rc->m = m;
	m->rendezvous = rc;
	snprintf(rc->target, sizeof(rc->target), "%s", target);
	snprintf(rc->token, sizeof(rc->token), "%s", token);
	rc->seen = calloc(m->count, 1);
	if (!rc->seen)
		return -ENOMEM;
	err = resolve_target(rc);
	if (err < 0)
		return err;
	err = loop_add_timer(m->d->loop, (uint64_t)m->d->opt.rendezvous_wait_s * 1000,
			     deadline_due, rc, &rc->deadline_timer);
	if (err < 0)
		return err;
	log_verbose("joining the step's mesh through the rendezvous at %s", rc->target);
	dial(rc);
	if (!rc->conn && loop_add_timer(m->d->loop, RETRY_MS, retry_due, rc, &rc->retry_timer) < 0)
		rc->retry_timer = 0;
	return 0;
}

void rendezvous_client_destroy(struct mesh *m)
{
	struct rendezvous_client *rc = m->rendezvous;
	if (!rc)
		return;
	finish(rc);
	free(rc->seen);
	free(rc);
	m->rendezvous = NULL;
}
