/* rendezvous_client.c: joining the step's mesh through its rendezvous (see
 * rendezvous_client.h). One connection at a time; a connection that fails before the table
 * is complete is tried again every RETRY_MS until --rendezvous-wait runs out. A refusal
 * from the rendezvous (bad token, credential or node id) is final. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/rendezvous_client.h"
#include "internal/util.h"
#include "loop/conn_seal.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/mesh_auth.h"
#include "mesh/mesh_dialer.h"
#include "mesh/mesh_internal.h"

#define RETRY_MS 500
#define WELCOME_MS 10000

struct rendezvous_client {
	struct mesh *m;
	char token[WIRE_TOKEN_MAX + 1];
	struct mesh_dialer dialer;
};

static const struct mesh_conn_ops rendezvous_ops;

static void fail(struct rendezvous_client *rc, const char *why)
{
	mesh_dialer_stop(&rc->dialer);
	mesh_give_up(rc->m, why);
}

static void deadline_due(void *owner)
{
	struct rendezvous_client *rc = owner;
	char why[400];
	snprintf(why, sizeof(why),
		 "no table from the rendezvous at %s within %" PRIu32 " s (%" PRIu32 " of %" PRIu32
		 " nodes listed)",
		 rc->dialer.target, rc->m->d->opt.rendezvous_wait_s, rc->dialer.listed, rc->m->count);
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
	if (mesh_auth_seal(m->auth, WIRE_RDV_REGISTER, m->self, WIRE_NO_NODE, c->challenge, &c->nonce,
			   reg.credential, err, sizeof(err)) < 0) {
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

/* The frame session of the connection, from its handshake: 0 or -errno with err set. */
static int start_seal(struct rendezvous_client *rc, struct mesh_conn *c, uint64_t acceptor_nonce,
		      struct frame_session **seal, char *err, size_t errlen)
{
	const struct lcrd_options *o = &rc->m->d->opt;
	struct conn_seal_handshake h = {
		.job_id = o->job_id, .step_id = o->step_id, .opener = rc->m->self,
		.acceptor = WIRE_NO_NODE, .purpose = WIRE_RDV_REGISTER, .challenge = c->challenge,
		.opener_nonce = c->nonce, .acceptor_nonce = acceptor_nonce,
	};
	return conn_seal_start(&h, true, conn_seal_mode(o->wire_encryption), seal, err, errlen);
}

static void on_welcome(struct rendezvous_client *rc, struct mesh_conn *c,
		       const struct wire_msg *msg)
{
	static struct wire_mesh_welcome welcome;
	struct wire_mesh_auth auth;
	struct mesh_auth_expect expect = { .purpose = WIRE_MESH_WELCOME, .from_node = WIRE_NO_NODE,
					   .to_node = rc->m->self, .echo = c->nonce };
	struct frame_session *seal;
	char err[512], why[900];
	if (wire_decode_mesh_welcome(msg->payload, msg->header.length, &welcome) < 0)
		snprintf(err, sizeof(err), "malformed WELCOME");
	else if (mesh_auth_open(rc->m->auth, welcome.credential, &expect, &auth, err,
				sizeof(err)) == 0 &&
		 start_seal(rc, c, auth.nonce, &seal, err, sizeof(err)) == 0) {
		mesh_conn_establish(c, WIRE_NO_NODE, seal);
		log_verbose("registered with the rendezvous at %s as node %" PRIu32 " of %" PRIu32,
			    rc->dialer.target, rc->m->self, rc->m->count);
		return;
	}
	snprintf(why, sizeof(why), "the rendezvous at %s failed authentication: %s",
		 rc->dialer.target, err);
	fail(rc, why);
}

static void on_refusal(struct rendezvous_client *rc, const struct wire_msg *msg)
{
	struct wire_reply reply;
	char why[700];
	if (wire_decode_reply(msg->payload, msg->header.length, &reply) < 0)
		snprintf(reply.message, sizeof(reply.message), "(malformed reply)");
	snprintf(why, sizeof(why), "the rendezvous at %s refused this helper: %s",
		 rc->dialer.target, reply.message);
	fail(rc, why);
}

/* Copies one page of the table into the node table; the last page starts the mesh. */
static void on_table(struct rendezvous_client *rc, const struct wire_msg *msg)
{
	struct mesh *m = rc->m;
	const struct wire_rdv_table *page = &rc->dialer.page;
	char why[300];
	bool complete;
	if (mesh_dialer_read_table(&rc->dialer, msg, &complete, why, sizeof(why)) < 0) {
		fail(rc, why);
		return;
	}
	for (uint32_t i = 0; i < page->count; i++) {
		const struct wire_rdv_node *n = &page->nodes[i];
		struct mesh_node *x = &m->nodes[n->node_id];
		strcpy(x->name, n->node_name);
		strcpy(x->address, n->address);
		x->port = n->port;
		mesh_node_set_ranks(x, n->ranks, n->rank_count);
	}
	if (!complete)
		return;
	mesh_dialer_stop(&rc->dialer);
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
	mesh_dialer_lost(&rc->dialer, why);
}

static const struct mesh_conn_ops rendezvous_ops = {
	.connected = rendezvous_connected,
	.message = rendezvous_message,
	.closed = rendezvous_closed,
};

int rendezvous_client_start(struct mesh *m, const char *target, const char *token)
{
	struct rendezvous_client *rc = calloc(1, sizeof(*rc));
	int err;
	if (!rc)
		return -ENOMEM;
	rc->m = m;
	m->rendezvous = rc;
	snprintf(rc->token, sizeof(rc->token), "%s", token);
	err = mesh_dialer_init(&rc->dialer, m, "the rendezvous", target, &rendezvous_ops, rc,
			       RETRY_MS, WELCOME_MS);
	if (err < 0)
		return err;
	log_verbose("joining the step's mesh through the rendezvous at %s", rc->dialer.target);
	return mesh_dialer_start(&rc->dialer, (uint64_t)m->d->opt.rendezvous_wait_s * 1000,
				 deadline_due);
}

void rendezvous_client_destroy(struct mesh *m)
{
	struct rendezvous_client *rc = m->rendezvous;
	if (!rc)
		return;
	mesh_dialer_fini(&rc->dialer);
	free(rc);
	m->rendezvous = NULL;
}
