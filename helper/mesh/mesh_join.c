/* mesh_join.c: a replacement helper takes a removed node's place in a running mesh
 * (doc/mesh.md, "Replacement and rejoin"). Both ends live here:
 *
 * - the joiner (lcrd --rejoin=HOST:PORT, started by the leader's launcher on a spare node)
 *   opens its mesh listener on the address that reaches HOST, sends MESH_JOIN with a MUNGE
 *   credential sealed for a JOIN (from = the node it replaces, to = the helper it
 *   addresses), and waits for JOIN_ACCEPT and the table. While it does not know that
 *   helper's id it addresses WIRE_NO_NODE, which is always refused with the leader's id
 *   and address. A refusal naming the leader (the addressee does not lead, or was not
 *   named) sends it there; any other refusal, or no table within --replace-timeout, ends it with
 *   status 1. Once the table is in, it closes that connection and runs as a full member
 *   from the join's generation on.
 * - the leader checks the credential, that it leads, and that recovery.c has an attempt in
 *   flight for exactly that node (once per attempt); it sequences NODE_JOINED, then answers
 *   JOIN_ACCEPT and the table (every node, its state and ranks) on the same connection,
 *   which never becomes a peer connection: the members dial the new helper as they dial
 *   any other. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/util.h"
#include "loop/conn_seal.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/mesh_auth.h"
#include "mesh/mesh_dialer.h"
#include "mesh/mesh_internal.h"

#define JOIN_RETRY_MS 500
#define JOIN_HANDSHAKE_MS 10000


struct mesh_joiner {
	struct mesh *m;
	struct mesh_dialer dialer;
	uint32_t target_node;      /* its node id once a refusal named it, else WIRE_NO_NODE */
	bool accepted;
	struct wire_mesh_join_accept accept;
};

static const struct mesh_conn_ops joiner_ops;

/* Ends a replacement that cannot join: lcrd exits with status 1. */
static void lcrd_fail(struct lcrd *d, const char *reason)
{
	log_error("%s; ending this helper", reason);
	d->failed = true;
	loop_request_stop(d->loop, reason);
}

/* --- the joiner --- */

static void joiner_fail(struct mesh_joiner *j, const char *why)
{
	char reason[WIRE_TEXT_MAX + 400];
	mesh_dialer_stop(&j->dialer);
	util_format_text(reason, sizeof(reason), "this replacement of node %" PRIu32 " cannot join the "
		 "mesh: %s", j->m->self, why);
	lcrd_fail(j->m->d, reason);
}

static void joiner_deadline_due(void *owner)
{
	struct mesh_joiner *j = owner;
	char why[WIRE_TEXT_MAX + 400];
	util_format_text(why, sizeof(why), "no table from %s within %" PRIu32 " s (%s)",
			 j->dialer.target, j->m->d->opt.replace_timeout_s,
			 j->dialer.last_error[0] ? j->dialer.last_error : "no answer");
	joiner_fail(j, why);
}

static void send_join(struct mesh_joiner *j, struct mesh_conn *c)
{
	struct mesh *m = j->m;
	const struct lcrd_options *o = &m->d->opt;
	static struct wire_mesh_join join;
	char err[512], why[600];
	memset(&join, 0, sizeof(join));
	join.node_id = m->self;
	join.to_node = j->target_node;
	join.node_count = m->count;
	util_format_text(join.node_name, sizeof(join.node_name), "%s", o->node_name);
	strcpy(join.address, m->address);
	join.port = m->port;
	join.rank_count = (uint32_t)o->rank_count;
	memcpy(join.ranks, o->ranks, o->rank_count * sizeof(join.ranks[0]));
	if (mesh_auth_seal(m->auth, WIRE_MESH_JOIN, m->self, j->target_node, c->challenge, &c->nonce,
			   join.credential, err, sizeof(err)) < 0) {
		util_format_text(why, sizeof(why), "cannot make a credential: %s", err);
		joiner_fail(j, why);
		return;
	}
	mesh_conn_send(c, WIRE_MESH_JOIN, m->scratch,
		       wire_encode_mesh_join(&join, m->scratch, sizeof(m->scratch)));
}

/* The local end of the connection is where the members reach this helper. */
static void joiner_connected(struct mesh_conn *c)
{
	struct mesh_joiner *j = c->owner;
	if (mesh_listen_where_reached(j->m, c->fd) < 0) {
		joiner_fail(j, "cannot open the mesh listener on the address that reaches the "
			       "helper to join");
		return;
	}
	send_join(j, c);
}

static void on_accept(struct mesh_joiner *j, const struct wire_msg *msg)
{
	struct mesh *m = j->m;
	struct wire_mesh_auth auth;
	char err[512], why[900];
	if (wire_decode_mesh_join_accept(msg->payload, msg->header.length, &j->accept) < 0) {
		joiner_fail(j, "the leader sent a malformed JOIN_ACCEPT");
		return;
	}
	struct mesh_auth_expect expect = { .purpose = WIRE_MESH_JOIN_ACCEPT, .from_node = j->accept.leader,
					   .to_node = m->self,
					   .echo = j->dialer.conn->nonce };
	if ((j->target_node != WIRE_NO_NODE && j->accept.leader != j->target_node) ||
	    j->accept.leader >= m->count ||
	    mesh_auth_open(m->auth, j->accept.credential, &expect, &auth, err, sizeof(err)) < 0) {
		util_format_text(why, sizeof(why), "the helper at %s failed authentication: %s", j->dialer.target,
			 j->accept.leader >= m->count ? "its node id is not of this step" : err);
		joiner_fail(j, why);
		return;
	}
	struct frame_session *seal;
	struct conn_seal_handshake h = { .opener = m->self, .acceptor = j->accept.leader,
					 .purpose = WIRE_MESH_JOIN, .challenge = j->dialer.conn->challenge,
					 .opener_nonce = j->dialer.conn->nonce, .acceptor_nonce = auth.nonce };
	if (mesh_seal_start(m, &h, true, &seal, err, sizeof(err)) < 0) {
		joiner_fail(j, err);
		return;
	}
	mesh_conn_seal(j->dialer.conn, seal);
	j->accepted = true;
	log_info("the leader (node %" PRIu32 ") at %s accepted this helper as node %" PRIu32
		 " at generation %" PRIu64 ", epoch %" PRIu64 ": reading the table",
		 j->accept.leader, j->dialer.target, m->self, j->accept.generation, j->accept.epoch);
}

/* One page of the leader's table; the last one starts the mesh. */
static void on_table(struct mesh_joiner *j, const struct wire_msg *msg)
{
	struct mesh *m = j->m;
	const struct wire_rdv_table *page = &j->dialer.page;
	char why[300];
	bool complete;
	if (mesh_dialer_read_table(&j->dialer, msg, &complete, why, sizeof(why)) < 0) {
		joiner_fail(j, why);
		return;
	}
	for (uint32_t i = 0; i < page->count; i++) {
		const struct wire_rdv_node *n = &page->nodes[i];
		bool self = n->node_id == m->self;
		if (self && (strcmp(n->address, m->address) || n->port != m->port)) {
			joiner_fail(j, "the leader's table does not list this helper's listener");
			return;
		}
		if (!self && mesh_node_take(m, &m->nodes[n->node_id], n, n->incarnation) < 0) {
			joiner_fail(j, "the leader's table holds an unusable address");
			return;
		}
	}
	if (!complete)
		return;
	mesh_dialer_stop(&j->dialer);
	if (mesh_start_joined(m, j->accept.generation, j->accept.epoch) < 0) {
		lcrd_fail(m->d, "the replacement cannot start its part of the mesh");
		return;
	}
	mesh_hooks_member(m, j->accept.epoch);
	if (mesh_hooks_ready(m) < 0)
		lcrd_fail(m->d, "the replacement cannot tell that it is ready");
}

/* A refusal: go to the leader it names, or end. */
static void on_refused(struct mesh_joiner *j, const struct wire_msg *msg)
{
	struct wire_mesh_join_refused r;
	char why[WIRE_TEXT_MAX + 200];
	if (wire_decode_mesh_join_refused(msg->payload, msg->header.length, &r) < 0) {
		joiner_fail(j, "the helper answered with a malformed refusal");
		return;
	}
	if (r.status == -EREMOTE && r.leader != WIRE_NO_NODE && r.address[0] && r.port) {
		log_info("%s: asking the leader (node %" PRIu32 ") at %s:%u", r.message, r.leader,
			 r.address, r.port);
		char leader[300];
		util_format_text(leader, sizeof(leader), strchr(r.address, ':') ? "[%s]:%u" : "%s:%u",
			 r.address, r.port);
		j->target_node = r.leader;
		util_format_text(j->dialer.last_error, sizeof(j->dialer.last_error), "%s", r.message);
		if (mesh_dialer_retarget(&j->dialer, leader) < 0) {
			joiner_fail(j, "cannot use the leader's address");
			return;
		}
		mesh_conn_close(j->dialer.conn, 0);
		mesh_dialer_retry_later(&j->dialer);
		return;
	}
	util_format_text(why, sizeof(why), "%s refused it: %s", j->dialer.target, r.message);
	joiner_fail(j, why);
}

static void joiner_message(struct mesh_conn *c, const struct wire_msg *msg)
{
	struct mesh_joiner *j = c->owner;
	uint16_t type = msg->header.type;
	char why[128];
	if (!j->accepted && type == WIRE_MESH_JOIN_ACCEPT)
		on_accept(j, msg);
	else if (!j->accepted && type == WIRE_MESH_JOIN_REFUSED)
		on_refused(j, msg);
	else if (j->accepted && type == WIRE_RDV_TABLE)
		on_table(j, msg);
	else if (type == WIRE_REPLY || type == WIRE_MESH_HELLO || type == WIRE_MESH_FENCED) {
		util_format_text(why, sizeof(why), "the helper at %s answered %s", j->dialer.target,
			 wire_type_name(type));
		joiner_fail(j, why);
	} else {
		util_format_text(why, sizeof(why), "the helper at %s sent an unexpected %s",
			 j->dialer.target,
			 wire_type_name(type));
		joiner_fail(j, why);
	}
}

static void joiner_closed(struct mesh_conn *c, int why)
{
	struct mesh_joiner *j = c->owner;
	if (mesh_dialer_lost(&j->dialer, why))
		j->accepted = false;
}

static const struct mesh_conn_ops joiner_ops = {
	.connected = joiner_connected,
	.message = joiner_message,
	.closed = joiner_closed,
};

int mesh_join_start(struct mesh *m, const char *target)
{
	struct mesh_joiner *j = calloc(1, sizeof(*j));
	int err;
	if (!j)
		return -ENOMEM;
	j->m = m;
	m->joiner = j;
	j->target_node = WIRE_NO_NODE;
	err = mesh_dialer_init(&j->dialer, m, "the helper to join", target, &joiner_ops, j,
			       JOIN_RETRY_MS, JOIN_HANDSHAKE_MS);
	if (err < 0)
		return err;
	log_info("replacing node %" PRIu32 " of step %" PRIu32 ": joining the mesh through %s",
		 m->self, m->d->opt.step_id, j->dialer.target);
	return mesh_dialer_start(&j->dialer, (uint64_t)m->d->opt.replace_timeout_s * 1000,
				 joiner_deadline_due);
}

void mesh_join_destroy(struct mesh *m)
{
	struct mesh_joiner *j = m->joiner;
	if (!j)
		return;
	mesh_dialer_fini(&j->dialer);
	free(j);
	m->joiner = NULL;
}

/* --- the leader --- */

static void refuse_join(struct mesh *m, struct mesh_conn *c, uint32_t node, int status,
			const char *why)
{
	struct wire_mesh_join_refused r = { .status = status, .leader = WIRE_NO_NODE };
	uint8_t buf[sizeof(r) + 16];
	log_warning("refused the JOIN of node %" PRIu32 " from %s: %s", node, c->peer_text, why);
	if (status == -EREMOTE && m->leader < m->count) {
		const struct mesh_node *l = &m->nodes[m->leader];
		bool self = m->leader == m->self; /* a replacement's own entry may lack its listener */
		r.leader = m->leader;
		util_format_text(r.address, sizeof(r.address), "%s", self ? m->address : l->address);
		r.port = self ? m->port : l->port;
	}
	util_format_text(r.message, sizeof(r.message), "lcrd on %s refused the JOIN: %s",
		 m->d->opt.node_name, why);
	mesh_conn_send(c, WIRE_MESH_JOIN_REFUSED, buf, wire_encode_mesh_join_refused(&r, buf,
										      sizeof(buf)));
	mesh_conn_close(c, 0);
}

/* Every node's entry, page by page, on c. */
static void send_table(struct mesh *m, struct mesh_conn *c)
{
	static struct wire_rdv_table page;
	for (uint32_t start = 0; start < m->count; start += page.count) {
		page.total = m->count;
		page.start = start;
		page.count = m->count - start < WIRE_TABLE_PAGE_MAX ? m->count - start :
								      WIRE_TABLE_PAGE_MAX;
		for (uint32_t i = 0; i < page.count; i++) {
			const struct mesh_node *x = &m->nodes[start + i];
			struct wire_rdv_node *n = &page.nodes[i];
			*n = (struct wire_rdv_node){ .node_id = x->id, .port = x->port,
						     .state = (uint16_t)x->state,
						     .rank_count = x->rank_count,
						     .incarnation = x->joined_generation };
			memcpy(n->ranks, x->ranks, x->rank_count * sizeof(x->ranks[0]));
			strcpy(n->node_name, x->name);
			strcpy(n->address, x->address);
		}
		mesh_conn_send(c, WIRE_RDV_TABLE, m->scratch,
			       wire_encode_rdv_table(&page, m->scratch, sizeof(m->scratch)));
	}
}

/* Checks a JOIN, which msg on c carries: 0, -EINPROGRESS while its credential is opened
 * off the loop (msg comes back), or the status and reason of its refusal in why. */
static int check_join(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg,
		      const struct wire_mesh_join *join, uint64_t *epoch, uint64_t *join_nonce,
		      char *why, size_t cap)
{
	struct wire_mesh_auth auth;
	char err[512];
	if (join->node_count != m->count || join->node_id >= m->count) {
		util_format_text(why, cap, "node %" PRIu32 " of %" PRIu32 " is not a node of this step of %"
			 PRIu32, join->node_id, join->node_count, m->count);
		return -EINVAL;
	}
	/* A JOIN must name its addressee, as a rendezvous credential (to WIRE_NO_NODE) cannot:
	 * one that does not is only told the leader, before any credential is opened. */
	if (join->to_node == WIRE_NO_NODE) {
		util_format_text(why, cap, "the JOIN names no addressee%s: ask node %" PRIu32 ", the leader",
				 m->leader == m->self ? "" : " and this helper does not lead", m->leader);
		return m->state == WIRE_MESH_UP ? -EREMOTE : -EAGAIN;
	}
	if (join->to_node != m->self) {
		util_format_text(why, cap, "the JOIN is addressed to node %" PRIu32, join->to_node);
		return -EACCES;
	}
	struct mesh_auth_expect expect = { .purpose = WIRE_MESH_JOIN, .from_node = join->node_id,
					   .to_node = join->to_node, .echo = c->challenge };
	int rc = mesh_open_credential(m, c, msg, join->credential, &expect, &auth, err,
				      sizeof(err));
	if (rc == -EINPROGRESS)
		return rc;
	if (rc < 0) {
		util_format_text(why, cap, "%s", err);
		return -EACCES;
	}
	*join_nonce = auth.nonce;
	if (m->state != WIRE_MESH_UP) {
		util_format_text(why, cap, "this helper's mesh is not up");
		return -EAGAIN;
	}
	if (m->leader != m->self) {
		util_format_text(why, cap, "this helper does not lead: ask node %" PRIu32, m->leader);
		return -EREMOTE;
	}
	return mesh_hooks_admit(m, join->node_id, join->node_name, epoch, why, cap);
}

void mesh_join_on_request(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	static struct wire_mesh_join join;
	static struct wire_mesh_join_accept accept;
	struct wire_rdv_node joined;
	char why[WIRE_TEXT_MAX + 1], message[WIRE_TEXT_MAX + 1], ranks[200], err[512];
	uint64_t epoch = 0, nonce, join_nonce = 0;
	if (wire_decode_mesh_join(msg->payload, msg->header.length, &join) < 0) {
		refuse_join(m, c, WIRE_NO_NODE, -EBADMSG, "malformed JOIN");
		return;
	}
	int status = check_join(m, c, msg, &join, &epoch, &join_nonce, why, sizeof(why));
	if (status == -EINPROGRESS)
		return;
	if (status < 0) {
		refuse_join(m, c, join.node_id, status, why);
		return;
	}
	joined = (struct wire_rdv_node){ .node_id = join.node_id, .port = join.port,
					 .state = WIRE_NODE_LIVE, .rank_count = join.rank_count };
	memcpy(joined.ranks, join.ranks, join.rank_count * sizeof(join.ranks[0]));
	strcpy(joined.node_name, join.node_name);
	strcpy(joined.address, join.address);
	struct frame_session *seal;
	if (mesh_auth_seal(m->auth, WIRE_MESH_JOIN_ACCEPT, m->self, join.node_id, join_nonce, &nonce,
			   accept.credential, err, sizeof(err)) < 0) {
		refuse_join(m, c, join.node_id, -EIO, err);
		return;
	}
	struct conn_seal_handshake h = { .opener = join.node_id, .acceptor = m->self,
					 .purpose = WIRE_MESH_JOIN, .challenge = c->challenge,
					 .opener_nonce = join_nonce, .acceptor_nonce = nonce };
	if (mesh_seal_start(m, &h, false, &seal, err, sizeof(err)) < 0) {
		refuse_join(m, c, join.node_id, -EIO, err);
		return;
	}
	util_format_text(message, sizeof(message), "node %" PRIu32 " rejoined: %s at %s:%u, ranks %s, "
		 "epoch %" PRIu64, join.node_id, join.node_name, join.address, join.port,
		 util_format_rank_list(join.ranks, join.rank_count, ranks, sizeof(ranks)), epoch);
	uint64_t g = mesh_sequence_recovery(m, WIRE_EVENT_NODE_JOINED, join.node_id, epoch, &joined,
					    message);
	accept.generation = g;
	accept.epoch = epoch;
	accept.leader = m->self;
	mesh_conn_send(c, WIRE_MESH_JOIN_ACCEPT, m->scratch,
		       wire_encode_mesh_join_accept(&accept, m->scratch, sizeof(m->scratch)));
	mesh_conn_seal(c, seal);
	send_table(m, c);
	mesh_hooks_joined(m, join.node_id, g);
}
