/* mesh.c: the mesh of the step's helpers: its life (a mesh of one, or bootstrapping through
 * the rendezvous, up, fenced), the node table, the TCP listener, connections to peers and
 * their MUNGE handshake, and the dispatch of the messages that arrive on them (see
 * mesh_internal.h for the model, doc/mesh.md for the protocol).
 *
 * Connections. There is at most one outgoing connection being set up per peer, opened on
 * demand when something must be sent; an established connection in either direction is
 * used to send. A connection is established only after both ends checked each other's
 * credential; a peer that fails is refused with a reason, logged with its address.
 * Anyone may connect, so an incoming connection counts against a gate until it is
 * established (conn_gate.h: caps per address and in all, idle ones make room), and the
 * credentials of HELLO, JOIN and XFER_HELLO are opened off the loop (auth_queue.h), so
 * neither a flood nor a slow munged holds up the heartbeats.
 *
 * Instances. A node id names a place in the step, not a helper: a replacement takes the id
 * of the node it replaces. Every credential carries its sender's incarnation (the
 * generation of the NODE_JOINED that brought that helper, 0 for the step's first helpers),
 * every connection keeps its peer's, and the table holds each node's current one. A HELLO
 * or a message from a node that the mesh removed, or from an instance that is not the
 * node's current one (a node that hung or was cut off, replaced meanwhile, and came back),
 * is answered with FENCED, which ends that helper: nothing it says is ever taken for the
 * replacement's. A connection that a live peer closes is dialled again at once: a refusal
 * then is evidence that its helper is gone. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal/util.h"
#include "loop/auth_queue.h"
#include "loop/conn_gate.h"
#include "loop/conn_seal.h"
#include "loop/lcrd.h"
#include "loop/listener.h"
#include "loop/log.h"
#include "loop/mesh_auth.h"
#include "mesh/detector.h"
#include "mesh/mesh_internal.h"
#include "mesh/rendezvous_client.h"

#define MESH_LEAVE_FLUSH_MS 200
#define MESH_TURNED_AWAY_LOG_MS 10000 /* how often connections turned away are logged */

static const struct mesh_conn_ops peer_ops;

struct mesh *mesh_of(struct lcrd *d)
{
	return d->mesh;
}

void mesh_node_set_ranks(struct mesh_node *x, const uint32_t *ranks, uint32_t count)
{
	x->rank_count = count;
	memcpy(x->ranks, ranks, count * sizeof(ranks[0]));
}

const char *mesh_node_label(const struct mesh *m, uint32_t node, char *buf, size_t cap)
{
	if (node < m->count && m->nodes[node].name[0])
		snprintf(buf, cap, "%s (%" PRIu32 ")", m->nodes[node].name, node);
	else if (node == WIRE_NO_NODE)
		snprintf(buf, cap, "none");
	else
		snprintf(buf, cap, "node %" PRIu32, node);
	return buf;
}

static bool is_live(const struct mesh *m, uint32_t node)
{
	return node < m->count && m->nodes[node].state == WIRE_NODE_LIVE;
}

/* Removed by the mesh (a node not in the table yet, while bootstrapping, is not). */
static bool is_removed(const struct mesh *m, uint32_t node)
{
	return node < m->count && (m->nodes[node].state == WIRE_NODE_DOWN ||
				   m->nodes[node].state == WIRE_NODE_LEFT);
}

/* Whether the instance `incarnation` of node is no member now: the node was removed, or
 * the mesh holds another instance of it (one that replaced it, or, for a peer that is
 * behind, one it does not know yet). */
static bool is_fenced_instance(const struct mesh *m, uint32_t node, uint64_t incarnation)
{
	return is_removed(m, node) || m->nodes[node].joined_generation != incarnation;
}

uint32_t mesh_nodes_down(const struct mesh *m)
{
	uint32_t down = 0;
	for (uint32_t node = 0; node < m->count; node++)
		down += m->nodes[node].state == WIRE_NODE_DOWN;
	return down;
}

uint32_t mesh_total_ranks(const struct mesh *m)
{
	uint32_t total = 0;
	for (uint32_t node = 0; node < m->count; node++)
		total += m->nodes[node].rank_count;
	return total;
}

void mesh_rebuild_live(struct mesh *m)
{
	m->live_count = 0;
	for (uint32_t node = 0; node < m->count; node++)
		if (m->nodes[node].state == WIRE_NODE_LIVE)
			m->live[m->live_count++] = node;
	m->leader = m->live_count ? m->live[0] : WIRE_NO_NODE;
}

/* --- connections --- */

static void link_conn(struct mesh *m, struct mesh_conn *c)
{
	c->next = m->conns;
	m->conns = c;
}

static void unlink_conn(struct mesh *m, struct mesh_conn *c)
{
	for (struct mesh_conn **pos = &m->conns; *pos; pos = &(*pos)->next) {
		if (*pos == c) {
			*pos = c->next;
			return;
		}
	}
}

/* Another established connection with the same peer, or NULL. */
static struct mesh_conn *other_conn(struct mesh *m, const struct mesh_conn *c)
{
	for (struct mesh_conn *o = m->conns; o; o = o->next)
		if (o != c && o->established && o->peer == c->peer && !o->closed)
			return o;
	return NULL;
}

static void close_conns_of(struct mesh *m, uint32_t node)
{
	struct mesh_conn *c = m->conns, *next;
	for (; c; c = next) {
		next = c->next;
		if (c->peer == node)
			mesh_conn_close(c, 0);
	}
}

static void close_all_conns(struct mesh *m)
{
	while (m->conns)
		mesh_conn_close(m->conns, 0);
}

static void refused_due(struct loop *loop, void *arg)
{
	struct mesh_node *x = arg;
	(void)loop;
	x->refused_timer = 0;
	if (x->mesh->state == WIRE_MESH_UP)
		detector_on_refused(x->mesh, x->id);
}

/* A connection to node was refused: tell the detector from the loop, not from here. */
static void note_refused(struct mesh *m, uint32_t node)
{
	struct mesh_node *x = &m->nodes[node];
	if (!x->refused_timer && loop_add_timer(m->d->loop, 0, refused_due, x, &x->refused_timer) < 0)
		x->refused_timer = 0;
}

/* Starts an outgoing connection to node, at most one at a time and one per period. */
static void dial(struct mesh *m, uint32_t node)
{
	struct mesh_node *x = &m->nodes[node];
	char label[WIRE_NODE_NAME_MAX + 16];
	uint64_t now = util_now_ms();
	struct mesh_conn *c;
	if (x->dialing || node == m->self || !is_live(m, node) || now < x->next_dial_ms)
		return;
	x->next_dial_ms = now + m->period_ms;
	int rc = mesh_conn_connect(m->d->loop, (struct sockaddr *)&x->sa, x->sa_len,
				   2 * m->timeout_ms, &peer_ops, &m->stats, m, &c);
	if (rc == -ECONNREFUSED) {
		note_refused(m, node);
		return;
	}
	if (rc < 0) {
		log_verbose("cannot connect to %s at %s:%u: %s",
			    mesh_node_label(m, node, label, sizeof(label)), x->address, x->port,
			    strerror(-rc));
		return;
	}
	c->peer = node;
	x->dialing = c;
	link_conn(m, c);
}

int mesh_send(struct mesh *m, uint32_t node, uint16_t type, const uint8_t *payload, int len)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	if (len < 0) {
		log_error("cannot encode %s for %s: %s", wire_type_name(type),
			  mesh_node_label(m, node, label, sizeof(label)), strerror(-len));
		return len;
	}
	if (node == m->self || !is_live(m, node))
		return -EHOSTDOWN;
	struct mesh_node *x = &m->nodes[node];
	if (!x->conn && !x->dialing)
		dial(m, node);
	struct mesh_conn *c = x->conn ? x->conn : x->dialing;
	return c ? mesh_conn_send(c, type, payload, len) : -EAGAIN;
}

/* --- handshake --- */

static void send_hello(struct mesh_conn *c)
{
	struct mesh *m = c->owner;
	static struct wire_mesh_hello hello;
	char err[256], label[WIRE_NODE_NAME_MAX + 16];
	uint8_t *buf = m->scratch;
	hello.from_node = m->self;
	hello.to_node = c->peer;
	if (mesh_auth_seal(m->auth, WIRE_MESH_HELLO, m->self, c->peer, c->challenge, &c->nonce,
			   hello.credential, err, sizeof(err)) < 0) {
		log_error("cannot make a credential for %s: %s",
			  mesh_node_label(m, c->peer, label, sizeof(label)), err);
		mesh_conn_close(c, -EIO);
		return;
	}
	mesh_conn_send(c, WIRE_MESH_HELLO, buf, wire_encode_mesh_hello(&hello, buf, WIRE_MAX_PAYLOAD));
}

/* Refuses an incoming connection: logged with its address, and the peer is told why. */
static void refuse(struct mesh_conn *c, const char *claim, const char *why)
{
	struct mesh *m = c->owner;
	struct wire_reply reply = { .status = -EACCES };
	uint8_t buf[sizeof(reply)];
	log_warning("refused a mesh connection from %s%s: %s", c->peer_text, claim, why);
	snprintf(reply.message, sizeof(reply.message), "lcrd on %s refused the connection: %s",
		 m->d->opt.node_name, why);
	mesh_conn_send(c, WIRE_REPLY, buf, wire_encode_reply(&reply, buf, sizeof(buf)));
	mesh_conn_close(c, 0);
}

static void send_fenced(struct mesh *m, struct mesh_conn *c)
{
	struct wire_mesh_fenced f = { .generation = m->generation };
	uint8_t buf[16];
	mesh_conn_send(c, WIRE_MESH_FENCED, buf, wire_encode_mesh_fenced(&f, buf, sizeof(buf)));
}

int mesh_seal_start(struct mesh *m, struct conn_seal_handshake *h, bool is_opener,
		    struct frame_session **seal, char *err, size_t errlen)
{
	h->job_id = m->d->opt.job_id;
	h->step_id = m->d->opt.step_id;
	return conn_seal_start(h, is_opener, conn_seal_mode(m->d->opt.wire_encryption), seal, err,
			       errlen);
}

static void adopt_established(struct mesh *m, struct mesh_conn *c, uint32_t node,
			      uint64_t incarnation, struct frame_session *seal)
{
	struct mesh_node *x = &m->nodes[node];
	if (m->gate)
		conn_gate_leave(m->gate, c);
	mesh_conn_establish(c, node, seal);
	c->peer_incarnation = incarnation;
	if (x->dialing == c)
		x->dialing = NULL;
	if (!x->conn)
		x->conn = c;
}

/* A HELLO from an instance that is no member: why it is told FENCED. */
static void log_fenced_instance(struct mesh *m, struct mesh_conn *c, uint32_t node,
				uint64_t incarnation)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	uint64_t current = m->nodes[node].joined_generation;
	mesh_node_label(m, node, label, sizeof(label));
	if (is_removed(m, node))
		log_info("%s, removed from the mesh, says HELLO from %s: telling it that it is "
			 "fenced", label, c->peer_text);
	else if (incarnation < current)
		log_warning("an earlier instance of node %" PRIu32 " (generation %" PRIu64 ") says "
			    "HELLO from %s; node %" PRIu32 " is now %s, which joined at generation "
			    "%" PRIu64 ": telling the earlier one that it is fenced",
			    node, incarnation, c->peer_text, node, label, current);
	else
		log_info("%s says HELLO as the instance of generation %" PRIu64 ", which this "
			 "helper (generation %" PRIu64 ") does not know yet: it will try again",
			 label, incarnation, m->generation);
}

/* A peer says FENCED. A replacement that joined at generation J is not the node that was
 * removed before J: a peer that says so has not applied the join yet, and will. */
static void on_fenced(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	struct wire_mesh_fenced f = { .generation = UINT64_MAX };
	char label[WIRE_NODE_NAME_MAX + 16];
	if (wire_decode_mesh_fenced(msg->payload, msg->header.length, &f) == 0 &&
	    m->joined_generation && f.generation < m->joined_generation) {
		log_verbose("%s, at generation %" PRIu64 ", does not know yet that this helper "
			    "joined at generation %" PRIu64 ": trying again later",
			    mesh_node_label(m, c->peer, label, sizeof(label)), f.generation,
			    m->joined_generation);
		mesh_conn_close(c, 0);
		return;
	}
	mesh_fence_self(m, m->generation, c->established ?
				 "a peer says the mesh removed this node" :
				 "a peer answered this helper's HELLO with FENCED");
}

static void on_hello(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	static struct wire_mesh_hello hello;
	static struct wire_mesh_welcome welcome;
	struct wire_mesh_auth auth;
	char err[512], claim[WIRE_NODE_NAME_MAX + 32];
	struct frame_session *seal;
	if (wire_decode_mesh_hello(msg->payload, msg->header.length, &hello) < 0) {
		refuse(c, "", "malformed HELLO");
		return;
	}
	int rc = mesh_hello_open(m, c, msg, WIRE_MESH_HELLO, hello.from_node, hello.to_node,
				 hello.credential, &auth, claim, sizeof(claim), err, sizeof(err));
	if (rc == -EINPROGRESS)
		return;
	if (rc < 0) {
		refuse(c, claim, err);
		return;
	}
	if (is_fenced_instance(m, hello.from_node, auth.incarnation)) {
		log_fenced_instance(m, c, hello.from_node, auth.incarnation);
		send_fenced(m, c);
		mesh_conn_close(c, 0);
		return;
	}
	if (mesh_hello_answer(m, c, WIRE_MESH_HELLO, hello.from_node, &auth, &welcome, &seal, err,
			      sizeof(err)) < 0) {
		/* Said, so that the peer does not take the closed connection for a dead node. */
		refuse(c, claim, err);
		return;
	}
	mesh_conn_send(c, WIRE_MESH_WELCOME, m->scratch,
		       wire_encode_mesh_welcome(&welcome, m->scratch, sizeof(m->scratch)));
	adopt_established(m, c, hello.from_node, auth.incarnation, seal);
}

/* Opens a WELCOME's credential and checks that it comes from the node's current instance:
 * 0, or -EACCES with the reason in err. */
static int check_welcome(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg,
			 struct wire_mesh_auth *auth, char *err, size_t errlen)
{
	static struct wire_mesh_welcome welcome;
	struct mesh_auth_expect expect = { .purpose = WIRE_MESH_WELCOME, .from_node = c->peer,
					   .to_node = m->self, .echo = c->nonce };
	uint64_t current = m->nodes[c->peer].joined_generation;
	if (wire_decode_mesh_welcome(msg->payload, msg->header.length, &welcome) < 0) {
		snprintf(err, errlen, "malformed WELCOME");
		return -EACCES;
	}
	if (mesh_auth_open(m->auth, welcome.credential, &expect, auth, err, errlen) < 0)
		return -EACCES;
	if (auth->incarnation != current) {
		snprintf(err, errlen, "it is the instance of generation %" PRIu64 ", the mesh holds "
			 "the one of generation %" PRIu64, auth->incarnation, current);
		return -EACCES;
	}
	return 0;
}

static void on_welcome(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	struct wire_mesh_auth auth;
	struct frame_session *seal;
	char err[512], label[WIRE_NODE_NAME_MAX + 16];
	if (check_welcome(m, c, msg, &auth, err, sizeof(err)) == 0) {
		struct conn_seal_handshake h = { .opener = m->self, .acceptor = c->peer,
						 .purpose = WIRE_MESH_HELLO, .challenge = c->challenge,
						 .opener_nonce = c->nonce, .acceptor_nonce = auth.nonce };
		if (mesh_seal_start(m, &h, true, &seal, err, sizeof(err)) == 0) {
			adopt_established(m, c, c->peer, auth.incarnation, seal);
			return;
		}
	}
	log_warning("the peer at %s, expected to be %s, failed authentication: %s", c->peer_text,
		    mesh_node_label(m, c->peer, label, sizeof(label)), err);
	mesh_conn_close(c, -EACCES);
}

static void on_refusal(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	struct wire_reply reply;
	char label[WIRE_NODE_NAME_MAX + 16];
	if (wire_decode_reply(msg->payload, msg->header.length, &reply) < 0)
		snprintf(reply.message, sizeof(reply.message), "(malformed reply)");
	log_error("%s refused this helper's connection: %s",
		  mesh_node_label(m, c->peer, label, sizeof(label)), reply.message);
	mesh_conn_close(c, -EACCES);
}

static void on_handshake(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	uint16_t type = msg->header.type;
	char why[96];
	if (!c->outgoing && type == WIRE_MESH_HELLO)
		on_hello(m, c, msg);
	else if (!c->outgoing && mesh_hooks_adopt(m, c, msg))
		; /* a service's own connection (a state transfer), taken over */
	else if (c->outgoing && type == WIRE_MESH_WELCOME)
		on_welcome(m, c, msg);
	else if (c->outgoing && type == WIRE_MESH_FENCED)
		on_fenced(m, c, msg);
	else if (!c->outgoing && type == WIRE_MESH_JOIN)
		mesh_join_on_request(m, c, msg);
	else if (c->outgoing && type == WIRE_REPLY)
		on_refusal(m, c, msg);
	else if (c->outgoing)
		mesh_conn_close(c, -EPROTO);
	else {
		snprintf(why, sizeof(why), "sent %s before HELLO", wire_type_name(type));
		refuse(c, "", why);
	}
}

/* --- established connections --- */

/* Decodes msg with decode into out, or logs it malformed and closes c. */
#define DECODE_OR_CLOSE(kind, out)                                                          \
	do {                                                                                \
		if (wire_decode_##kind(msg->payload, msg->header.length, (out)) < 0) {      \
			malformed(m, c, msg->header.type);                                  \
			return;                                                             \
		}                                                                           \
	} while (0)

static void malformed(struct mesh *m, struct mesh_conn *c, uint16_t type)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	log_warning("%s sent a malformed %s: closing its connection",
		    mesh_node_label(m, c->peer, label, sizeof(label)), wire_type_name(type));
	mesh_conn_close(c, -EBADMSG);
}

static void answer_ping(struct mesh *m, uint32_t node, const struct wire_mesh_ping *ping)
{
	uint8_t buf[16];
	mesh_send(m, node, WIRE_MESH_PONG, buf, wire_encode_mesh_ping(ping, buf, sizeof(buf)));
}

static void dispatch(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	uint32_t node = c->peer;
	char label[WIRE_NODE_NAME_MAX + 16];
	struct wire_mesh_heartbeat hb;
	struct wire_mesh_suspect suspect;
	struct wire_mesh_ping ping;
	struct wire_mesh_probe probe;
	struct wire_mesh_report report;
	struct wire_mesh_sync sync;
	detector_on_heard(m, node);
	switch (msg->header.type) {
	case WIRE_MESH_HEARTBEAT:
		DECODE_OR_CLOSE(mesh_heartbeat, &hb);
		mesh_on_peer_generation(m, node, hb.generation);
		return;
	case WIRE_MESH_SUSPECT:
		DECODE_OR_CLOSE(mesh_suspect, &suspect);
		detector_on_suspect(m, node, &suspect);
		return;
	case WIRE_MESH_PING:
		DECODE_OR_CLOSE(mesh_ping, &ping);
		answer_ping(m, node, &ping);
		return;
	case WIRE_MESH_PONG:
		DECODE_OR_CLOSE(mesh_ping, &ping);
		if (!quorum_on_pong(m->quorum, node, ping.nonce))
			detector_on_pong(m, node, ping.nonce);
		return;
	case WIRE_MESH_PROBE:
		DECODE_OR_CLOSE(mesh_probe, &probe);
		detector_on_probe_request(m, node, probe.node);
		return;
	case WIRE_MESH_REPORT:
		DECODE_OR_CLOSE(mesh_report, &report);
		mesh_on_report(m, node, &report);
		return;
	case WIRE_MESH_LEAVE:
		detector_on_leave(m, node);
		return;
	case WIRE_MESH_EVENT:
		DECODE_OR_CLOSE(mesh_event, &m->incoming);
		mesh_on_event(m, node, &m->incoming);
		return;
	case WIRE_MESH_SYNC:
		DECODE_OR_CLOSE(mesh_sync, &sync);
		mesh_on_sync(m, node, sync.after);
		return;
	case WIRE_MESH_FENCED:
		on_fenced(m, c, msg);
		return;
	default:
		if (mesh_hooks_message(m, node, msg))
			return;
		log_warning("%s sent %s, which is not a mesh message: closing its connection",
			    mesh_node_label(m, node, label, sizeof(label)),
			    wire_type_name(msg->header.type));
		mesh_conn_close(c, -EPROTO);
	}
}

static void peer_connected(struct mesh_conn *c)
{
	send_hello(c);
}

static void peer_message(struct mesh_conn *c, const struct wire_msg *msg)
{
	struct mesh *m = c->owner;
	char label[WIRE_NODE_NAME_MAX + 16];
	if (!c->established) {
		if (!c->outgoing && m->gate)
			conn_gate_heard(m->gate, c);
		if (m->auth_queue && auth_queue_busy(m->auth_queue, c))
			refuse(c, "", "sent more before its credential was checked");
		else
			on_handshake(m, c, msg);
		return;
	}
	if (is_fenced_instance(m, c->peer, c->peer_incarnation)) {
		log_info("%s (the instance of generation %" PRIu64 "), no member of the mesh now, "
			 "still speaks: telling it that it is fenced",
			 mesh_node_label(m, c->peer, label, sizeof(label)), c->peer_incarnation);
		send_fenced(m, c);
		mesh_conn_close(c, 0);
		return;
	}
	if (m->state == WIRE_MESH_UP)
		dispatch(m, c, msg);
}

static void peer_closed(struct mesh_conn *c, int why)
{
	struct mesh *m = c->owner;
	char label[WIRE_NODE_NAME_MAX + 16];
	unlink_conn(m, c);
	if (m->gate)
		conn_gate_leave(m->gate, c);
	if (m->auth_queue)
		auth_queue_forget(m->auth_queue, c);
	if (c->peer >= m->count)
		return;
	struct mesh_node *x = &m->nodes[c->peer];
	if (x->conn == c)
		x->conn = other_conn(m, c);
	if (x->dialing == c)
		x->dialing = NULL;
	if (why == 0 || m->state != WIRE_MESH_UP || !is_live(m, c->peer) || x->leaving)
		return;
	if (c->outgoing && !c->established && (why == -ECONNREFUSED || why == -ECONNRESET)) {
		log_info("%s refused a connection (%s)",
			 mesh_node_label(m, c->peer, label, sizeof(label)), strerror(-why));
		note_refused(m, c->peer);
	} else if (c->established) {
		log_verbose("the connection with %s ended (%s): checking that its helper still runs",
			    mesh_node_label(m, c->peer, label, sizeof(label)), strerror(-why));
		x->next_dial_ms = 0;
		dial(m, c->peer);
	}
}

static const struct mesh_conn_ops peer_ops = {
	.connected = peer_connected,
	.message = peer_message,
	.closed = peer_closed,
};

/* --- the listener --- */

static void redeliver(void *conn, const struct wire_msg *msg)
{
	mesh_conn_redeliver(conn, msg);
}

int mesh_open_credential(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg,
			 const char *cred, const struct mesh_auth_expect *expect,
			 struct wire_mesh_auth *out, char *err, size_t errlen)
{
	int rc = auth_queue_open(m->auth_queue, c, msg, cred, expect, out, err, errlen);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "this helper is out of memory");
	return rc;
}

int mesh_hello_open(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg,
		    uint16_t purpose, uint32_t from, uint32_t to, const char *cred,
		    struct wire_mesh_auth *auth, char *claim, size_t claimcap, char *err,
		    size_t errlen)
{
	snprintf(claim, claimcap, " (claims to be node %" PRIu32 ")", from);
	if (from >= m->count || from == m->self || to != m->self) {
		snprintf(err, errlen, "not a node of this step, or not addressed to this node");
		return -EACCES;
	}
	struct mesh_auth_expect expect = { .purpose = purpose, .from_node = from,
					   .to_node = m->self, .echo = c->challenge };
	return mesh_open_credential(m, c, msg, cred, &expect, auth, err, errlen);
}

int mesh_hello_answer(struct mesh *m, const struct mesh_conn *c, uint16_t purpose, uint32_t from,
		      const struct wire_mesh_auth *auth, struct wire_mesh_welcome *welcome,
		      struct frame_session **seal, char *err, size_t errlen)
{
	uint64_t nonce;
	int rc = mesh_auth_seal(m->auth, WIRE_MESH_WELCOME, m->self, from, auth->nonce, &nonce,
				welcome->credential, err, errlen);
	if (rc < 0)
		return rc;
	struct conn_seal_handshake h = { .opener = from, .acceptor = m->self, .purpose = purpose,
					 .challenge = c->challenge, .opener_nonce = auth->nonce,
					 .acceptor_nonce = nonce };
	return mesh_seal_start(m, &h, false, seal, err, errlen);
}

/* Connections turned away (closed to make room, or refused), logged at most once per
 * MESH_TURNED_AWAY_LOG_MS: a flood would fill the log. */
static void log_turned_away(const struct sockaddr_storage *from, bool refused)
{
	static uint64_t last_ms, evicted_since, refused_since;
	char text[64];
	uint64_t now = util_now_ms();
	*(refused ? &refused_since : &evicted_since) += 1;
	if (last_ms && now - last_ms < MESH_TURNED_AWAY_LOG_MS)
		return;
	mesh_conn_format_address((const struct sockaddr *)from, text, sizeof(text));
	log_warning("too many mesh connections wait to authenticate (at most %d from one "
		    "address, %" PRIu32 " in all from addresses of no node of the step): %" PRIu64
		    " idle ones closed to make room and %" PRIu64 " refused since the last report, "
		    "the last from %s",
		    MESH_PREAUTH_PER_ADDRESS, conn_gate_total_within_limit(MESH_PREAUTH_TOTAL),
		    evicted_since, refused_since, text);
	last_ms = now;
	evicted_since = refused_since = 0;
}

/* A connection the gate has no room for: told so (a REPLY, not a reset, which its helper
 * would take for a sign that this one is dead), what it sent is read away, it is closed. */
static void turn_away(struct mesh *m, int fd)
{
	struct wire_reply reply = { .status = -EBUSY };
	uint8_t payload[sizeof(reply)], frame[WIRE_HEADER_SIZE + sizeof(reply)];
	snprintf(reply.message, sizeof(reply.message), "lcrd on %s is busy: too many connections "
		 "wait to authenticate", m->d->opt.node_name);
	int n = wire_encode_reply(&reply, payload, sizeof(payload));
	n = n < 0 ? n : wire_frame(WIRE_REPLY, 0, payload, (uint32_t)n, frame, sizeof(frame));
	if (n > 0 && send(fd, frame, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("cannot tell a connection turned away: %s", strerror(errno));
	while (recv(fd, payload, sizeof(payload), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

/* Whether sa is the address of one of the step's nodes (the port aside). */
static bool from_node_address(const struct mesh *m, const struct sockaddr *sa)
{
	for (uint32_t node = 0; node < m->count; node++)
		if (m->nodes[node].sa_len &&
		    conn_gate_same_address((const struct sockaddr *)&m->nodes[node].sa, sa))
			return true;
	return false;
}

/* Lets a new connection in through the gate (idle ones may be closed to make room). One
 * from a node's address does not count against the cap in all. */
static void take_peer(struct mesh *m, int fd, const struct sockaddr_storage *from)
{
	const struct sockaddr *sa = (const struct sockaddr *)from;
	bool member = from_node_address(m, sa);
	struct mesh_conn *c;
	void *victim;
	int rc;
	while ((rc = conn_gate_make_room(m->gate, sa, member, &victim)) == -EAGAIN) {
		log_turned_away(from, false);
		mesh_conn_close(victim, -EUSERS);
	}
	if (rc < 0) {
		log_turned_away(from, true);
		turn_away(m, fd);
		return;
	}
	rc = mesh_conn_adopt(m->d->loop, fd, 2 * m->timeout_ms, &peer_ops, &m->stats, m, &c);
	if (rc < 0) {
		log_warning("cannot take a mesh connection: %s", strerror(-rc));
		return;
	}
	link_conn(m, c);
	if (conn_gate_enter(m->gate, c, fd, sa, member) < 0)
		mesh_conn_close(c, -ENOMEM);
}

/* Takes the connections that wait on the listener, LISTENER_BATCH at a time. */
static void accept_peer(struct loop *loop, int fd, short revents, void *arg)
{
	struct mesh *m = arg;
	struct sockaddr_storage from;
	char what[WIRE_ADDR_MAX + 32];
	(void)revents;
	snprintf(what, sizeof(what), "the mesh listener %s:%u", m->address, m->port);
	for (int i = 0; i < LISTENER_BATCH; i++) {
		int cfd = listener_accept(loop, fd, what, &from);
		if (cfd == -EAGAIN || listener_out_of_resources(cfd))
			return;
		if (cfd >= 0)
			take_peer(m, cfd, &from);
		else
			log_verbose("a connection to %s failed before it was taken: %s", what,
				    strerror(-cfd));
	}
}

/* The numeric address of sa into buf, and its port. */
static void numeric_address(const struct sockaddr *sa, char *buf, size_t cap, uint16_t *port)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)cap);
		*port = ntohs(in6->sin6_port);
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)cap);
		*port = ntohs(in->sin_port);
	}
}

int mesh_listen(struct mesh *m, const struct sockaddr *local, socklen_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int rc;
	if (m->listen_fd >= 0)
		return 0;
	memcpy(&ss, local, len);
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	else
		((struct sockaddr_in *)&ss)->sin_port = 0;
	m->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0 || bind(m->listen_fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(m->listen_fd, SOMAXCONN) < 0 ||
	    getsockname(m->listen_fd, (struct sockaddr *)&ss, &sslen) < 0) {
		rc = -errno;
		goto out;
	}
	numeric_address((struct sockaddr *)&ss, m->address, sizeof(m->address), &m->port);
	rc = loop_add_fd(m->d->loop, m->listen_fd, POLLIN, accept_peer, m);
out:
	if (rc < 0) {
		log_error("cannot open the mesh listener: %s", strerror(-rc));
		if (m->listen_fd >= 0)
			close(m->listen_fd);
		m->listen_fd = -1;
	}
	return rc;
}

int mesh_listen_where_reached(struct mesh *m, int fd)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return -errno;
	return mesh_listen(m, (struct sockaddr *)&local, len);
}

static void close_listener(struct mesh *m)
{
	if (m->listen_fd < 0)
		return;
	loop_remove_fd(m->d->loop, m->listen_fd);
	close(m->listen_fd);
	m->listen_fd = -1;
}

/* The nodes' states are set: the live list, the leader, and the failure detector. */
static int go_up(struct mesh *m)
{
	int rc;
	mesh_rebuild_live(m);
	m->state = WIRE_MESH_UP;
	m->up_since_ms = util_now_ms();
	memset(&m->stats, 0, sizeof(m->stats));
	rc = quorum_create(m, m->timeout_ms, detector_quorum_reached, mesh_fence_cut_off,
			   &m->quorum);
	if (rc == 0)
		rc = detector_create(m);
	if (rc < 0) {
		mesh_give_up(m, "cannot start the failure detector");
		return rc;
	}
	mesh_resend_reports(m); /* rank exits from before the mesh was up */
	return 0;
}

/* --- life --- */

static int resolve_node(struct mesh *m, struct mesh_node *x)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&x->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&x->sa;
	char label[WIRE_NODE_NAME_MAX + 16];
	memset(&x->sa, 0, sizeof(x->sa));
	if (inet_pton(AF_INET, x->address, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(x->port);
		x->sa_len = sizeof(*in);
	} else if (inet_pton(AF_INET6, x->address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(x->port);
		x->sa_len = sizeof(*in6);
	} else {
		log_error("the table gives %s the address '%s', which is not numeric",
			  mesh_node_label(m, x->id, label, sizeof(label)), x->address);
		return -EINVAL;
	}
	return 0;
}

int mesh_node_take(struct mesh *m, struct mesh_node *x, const struct wire_rdv_node *n,
		   uint64_t joined_generation)
{
	snprintf(x->name, sizeof(x->name), "%s", n->node_name);
	snprintf(x->address, sizeof(x->address), "%s", n->address);
	x->port = n->port;
	mesh_node_set_ranks(x, n->ranks, n->rank_count);
	x->joined_generation = joined_generation;
	x->leaving = false;
	x->next_dial_ms = 0;
	int rc = resolve_node(m, x);
	if (rc == 0 && x->id != m->self)
		x->state = (enum wire_node_state)n->state;
	return rc;
}

int mesh_start_joined(struct mesh *m, uint64_t generation, uint64_t epoch)
{
	char label[WIRE_NODE_NAME_MAX + 16], message[WIRE_TEXT_MAX + 1];
	int rc;
	for (uint32_t node = 0; node < m->count; node++) {
		struct mesh_node *x = &m->nodes[node];
		if (x->state == WIRE_NODE_DOWN || x->state == WIRE_NODE_LEFT)
			mesh_record_removal(m, node, (uint16_t)x->state, 0);
	}
	m->nodes[m->self].state = WIRE_NODE_LIVE;
	m->nodes[m->self].joined_generation = generation;
	snprintf(m->nodes[m->self].address, sizeof(m->nodes[m->self].address), "%s", m->address);
	m->nodes[m->self].port = m->port; /* its table entry, should it lead and send the table */
	m->generation = m->joined_generation = generation;
	mesh_auth_set_incarnation(m->auth, generation);
	if ((rc = go_up(m)) < 0)
		return rc;
	snprintf(message, sizeof(message),
		 "this helper replaced node %s (%" PRIu32 ") and joined the mesh at generation "
		 "%" PRIu64 ", epoch %" PRIu64 ": %" PRIu32 " of %" PRIu32 " helpers live, leader %s",
		 m->d->opt.node_name, m->self, generation, epoch, m->live_count, m->count,
		 mesh_node_label(m, m->leader, label, sizeof(label)));
	log_info("%s; listening on %s:%u", message, m->address, m->port);
	mesh_log_joined(m, epoch, message);
	return 0;
}

int mesh_start(struct mesh *m)
{
	char label[WIRE_NODE_NAME_MAX + 16], message[WIRE_TEXT_MAX + 1];
	struct mesh_node *me = &m->nodes[m->self];
	int rc;
	if (strcmp(me->address, m->address) || me->port != m->port) {
		mesh_give_up(m, "the table does not list this helper's own listener");
		return -EPROTO;
	}
	for (uint32_t node = 0; node < m->count; node++) {
		if ((rc = resolve_node(m, &m->nodes[node])) < 0) {
			mesh_give_up(m, "the table holds an unusable address");
			return rc;
		}
		m->nodes[node].state = WIRE_NODE_LIVE;
	}
	if ((rc = go_up(m)) < 0)
		return rc;
	snprintf(message, sizeof(message),
		 "the mesh of %" PRIu32 " helpers is up: leader %s, timeout %.1f s, heartbeats "
		 "to %" PRIu32 " peers",
		 m->count, mesh_node_label(m, m->leader, label, sizeof(label)),
		 m->timeout_ms / 1000.0, m->heartbeat_peers);
	log_info("%s; listening on %s:%u", message, m->address, m->port);
	mesh_log_local(m, WIRE_EVENT_MESH_UP, WIRE_NO_NODE, WIRE_NO_RANK, 0, -1, message);
	return 0;
}

void mesh_give_up(struct mesh *m, const char *why)
{
	char message[WIRE_TEXT_MAX + 1];
	if (m->state != WIRE_MESH_BOOTSTRAPPING)
		return;
	m->state = WIRE_MESH_FAILED;
	snprintf(message, sizeof(message), "no mesh for this step: %s", why);
	log_error("%s; this helper reports only its own ranks' exits", message);
	close_all_conns(m);
	close_listener(m);
}

void mesh_remove_node(struct mesh *m, uint32_t node, enum wire_node_state state)
{
	struct mesh_node *x = &m->nodes[node];
	x->state = state;
	if (x->refused_timer) {
		loop_cancel_timer(m->d->loop, x->refused_timer);
		x->refused_timer = 0;
	}
	close_conns_of(m, node);
}

/* Ends this helper's membership: message goes to the log and, as a NODE_DOWN of this node,
 * to its ranks. */
static void fence(struct mesh *m, uint64_t generation, const char *message, const char *why)
{
	if (m->state == WIRE_MESH_FENCED_STATE)
		return;
	m->state = WIRE_MESH_FENCED_STATE;
	m->fenced_generation = generation;
	log_error("%s; stopping this node's ranks and ending this helper", message);
	quorum_destroy(&m->quorum);
	detector_destroy(m);
	close_all_conns(m);
	close_listener(m);
	/* The checkpoint stops this node's writers and leaves the directory alone; recovery
	 * writes no outcome (mesh_may_write_shared says no). */
	mesh_hooks_stop(m, true);
	mesh_log_local(m, WIRE_EVENT_NODE_DOWN, m->self, WIRE_NO_RANK, 0, -1, message);
	mesh_hooks_fenced(m, why);
}

void mesh_fence_self(struct mesh *m, uint64_t generation, const char *why)
{
	char message[WIRE_TEXT_MAX + 1];
	util_format_text(message, sizeof(message), "the other helpers removed this node from the "
			 "mesh (generation %" PRIu64 "): %s", generation, why);
	fence(m, generation, message, why);
}

void mesh_fence_cut_off(struct mesh *m, const char *why)
{
	char message[WIRE_TEXT_MAX + 1];
	util_format_text(message, sizeof(message), "this node is cut off from the majority of the "
			 "mesh (generation %" PRIu64 "): %s", m->generation, why);
	fence(m, m->generation, message, why);
}

uint64_t mesh_generation(struct lcrd *d)
{
	return d->mesh ? d->mesh->generation : 0;
}

bool mesh_may_write_shared(struct mesh *m, const char *what)
{
	if (m->state != WIRE_MESH_FENCED_STATE)
		return true;
	log_warning("not %s: this helper is no member of the step's mesh (fenced at generation "
		    "%" PRIu64 ")", what, m->fenced_generation);
	return false;
}

static int allocate_tables(struct mesh *m)
{
	m->nodes = calloc(m->count, sizeof(*m->nodes));
	m->live = calloc(m->count, sizeof(*m->live));
	m->removals = calloc(m->count, sizeof(*m->removals));
	if (!m->nodes || !m->live || !m->removals)
		return -ENOMEM;
	for (uint32_t node = 0; node < m->count; node++) {
		m->nodes[node].id = node;
		m->nodes[node].mesh = m;
		m->nodes[node].state = MESH_NODE_UNKNOWN;
	}
	struct mesh_node *me = &m->nodes[m->self];
	snprintf(me->name, sizeof(me->name), "%s", m->d->opt.node_name);
	mesh_node_set_ranks(me, m->d->opt.ranks, (uint32_t)m->d->opt.rank_count);
	me->state = WIRE_NODE_LIVE;
	mesh_rebuild_live(m);
	return 0;
}

static void free_mesh(struct mesh *m)
{
	struct mesh_report *r, *next;
	for (r = m->reports; r; r = next) {
		next = r->next;
		free(r);
	}
	mesh_log_free(m);
	auth_queue_destroy(m->auth_queue);
	conn_gate_destroy(m->gate);
	mesh_auth_destroy(m->auth);
	free(m->nodes);
	free(m->live);
	free(m->removals);
	free(m);
}

/* --rejoin: MUNGE, then the JOIN through a live helper (mesh_join.c). */
static int start_rejoin(struct mesh *m)
{
	const struct lcrd_options *o = &m->d->opt;
	char err[512];
	int rc = mesh_auth_create(o->munge_socket, o->job_id, o->step_id, &m->auth, err,
				  sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	m->state = WIRE_MESH_BOOTSTRAPPING;
	return mesh_join_start(m, o->rejoin);
}

static int start_rendezvous(struct mesh *m)
{
	const struct lcrd_options *o = &m->d->opt;
	const char *token = getenv("LCR_RENDEZVOUS_TOKEN");
	char err[512];
	int rc;
	if (!token || !*token || strlen(token) > WIRE_TOKEN_MAX) {
		log_error("--rendezvous needs the step's token in LCR_RENDEZVOUS_TOKEN (1 to %d "
			  "characters)",
			  WIRE_TOKEN_MAX);
		return -EINVAL;
	}
	rc = mesh_auth_create(o->munge_socket, o->job_id, o->step_id, &m->auth, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	m->state = WIRE_MESH_BOOTSTRAPPING;
	return rendezvous_client_start(m, o->rendezvous, token);
}

/* The gate and the credential queue of the listener that a mesh opens. */
static int create_admission(struct mesh *m)
{
	const struct lcrd_options *o = &m->d->opt;
	char err[512];
	int rc = conn_gate_create(MESH_PREAUTH_PER_ADDRESS,
				  conn_gate_total_within_limit(MESH_PREAUTH_TOTAL),
				  MESH_PREAUTH_GRACE_MS, &m->gate);
	if (rc == 0)
		rc = auth_queue_create(m->d->loop, o->munge_socket, o->job_id, o->step_id,
				       redeliver, &m->auth_queue, err, sizeof(err));
	if (rc < 0)
		log_error("cannot set up the mesh listener's admission: %s",
			  m->gate ? err : strerror(-rc));
	return rc;
}

int mesh_create(struct lcrd *d)
{
	const struct lcrd_options *o = &d->opt;
	struct mesh *m = calloc(1, sizeof(*m));
	int rc;
	if (!m)
		return -ENOMEM;
	m->d = d;
	m->self = o->node_id;
	m->count = o->node_count;
	m->timeout_ms = o->detect_timeout_ms;
	m->period_ms = m->timeout_ms / 4 ? m->timeout_ms / 4 : 1;
	m->heartbeat_peers = o->heartbeat_peers;
	m->listen_fd = -1;
	m->sync_peer = WIRE_NO_NODE;
	m->state = WIRE_MESH_STANDALONE;
	rc = allocate_tables(m);
	if (rc == 0 && (o->rendezvous || o->rejoin))
		rc = create_admission(m);
	if (rc == 0 && o->rendezvous)
		rc = start_rendezvous(m);
	else if (rc == 0 && o->rejoin)
		rc = start_rejoin(m);
	if (rc < 0) {
		mesh_join_destroy(m);
		rendezvous_client_destroy(m);
		free_mesh(m);
		return rc;
	}
	d->mesh = m;
	return 0;
}

/* Says LEAVE on every established connection and gives it a moment to go out. */
static void say_leave(struct mesh *m)
{
	uint64_t deadline = util_now_ms() + MESH_LEAVE_FLUSH_MS;
	for (struct mesh_conn *c = m->conns; c; c = c->next)
		if (c->established)
			mesh_conn_send(c, WIRE_MESH_LEAVE, NULL, 0);
	for (struct mesh_conn *c = m->conns; c; c = c->next) {
		uint64_t now = util_now_ms();
		if (c->established && now < deadline)
			mesh_conn_flush(c, (int)(deadline - now));
	}
}

void mesh_destroy(struct lcrd *d)
{
	struct mesh *m = d->mesh;
	if (!m)
		return;
	if (m->state == WIRE_MESH_UP)
		say_leave(m);
	m->state = WIRE_MESH_FAILED;
	mesh_hooks_stop(m, false);
	quorum_destroy(&m->quorum);
	detector_destroy(m);
	rendezvous_client_destroy(m);
	mesh_join_destroy(m);
	close_all_conns(m);
	close_listener(m);
	for (uint32_t node = 0; node < m->count; node++)
		if (m->nodes[node].refused_timer)
			loop_cancel_timer(d->loop, m->nodes[node].refused_timer);
	free_mesh(m);
	d->mesh = NULL;
}
