/* rendezvous_server.c: the step's rendezvous (see rendezvous_server.h). One event loop, one
 * listening socket, one connection per registering helper. A registration is checked in
 * this order: the token (compared in constant time), the node id and count, the MUNGE
 * credential (uid, job, step, sender), the address; a bad one is answered with a reason,
 * logged, and its connection closed. A helper whose connection ends before the table went
 * out may register again. Anyone may connect: a connection counts against a gate until it
 * registered (conn_gate.h: caps per address and in all, idle ones make room), and the
 * listener pauses instead of spinning when out of descriptors (listener.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "services/rendezvous_server.h"
#include "internal/util.h"
#include "loop/conn_gate.h"
#include "loop/conn_seal.h"
#include "loop/listener.h"
#include "loop/log.h"
#include "loop/loop.h"
#include "loop/mesh_auth.h"
#include "loop/mesh_conn.h"

#define REGISTER_MS 10000
#define TABLE_FLUSH_MS 2000
/* Connections not registered yet: at most this many from one address, and in all (or a
 * quarter of RLIMIT_NOFILE, when that is less). */
#define REGISTRANTS_PREAUTH_PER_ADDRESS 32
#define REGISTRANTS_PREAUTH_TOTAL 256
#define REGISTRANTS_PREAUTH_GRACE_MS 1000 /* not closed to make room before */

struct registrant {
	bool registered;
	struct wire_rdv_node node;
	struct mesh_conn *conn;
};

struct server {
	const struct lcrd_options *o;
	const char *token;
	struct loop *loop;
	struct mesh_auth *auth;
	struct mesh_stats stats;
	struct conn_gate *gate;
	int listen_fd;
	int signal_fd;
	uint32_t node_count;     /* from the first registration, 0 before */
	uint32_t registered;
	struct registrant *nodes; /* node_count entries */
	struct mesh_conn *conns;
	int result;
	uint8_t buf[WIRE_MAX_PAYLOAD];
};

static const struct mesh_conn_ops server_ops;

static void stop(struct server *s, int result)
{
	s->result = result;
	loop_stop(s->loop);
}

static void unlink_conn(struct server *s, struct mesh_conn *c)
{
	for (struct mesh_conn **pos = &s->conns; *pos; pos = &(*pos)->next) {
		if (*pos == c) {
			*pos = c->next;
			return;
		}
	}
}

static void refuse(struct mesh_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void refuse(struct mesh_conn *c, const char *fmt, ...)
{
	struct wire_reply reply = { .status = -EACCES };
	uint8_t buf[sizeof(reply)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reply.message, sizeof(reply.message), fmt, ap);
	va_end(ap);
	log_warning("refused a registration from %s: %s", c->peer_text, reply.message);
	mesh_conn_send(c, WIRE_REPLY, buf, wire_encode_reply(&reply, buf, sizeof(buf)));
	mesh_conn_flush(c, 100);
	mesh_conn_close(c, 0);
}

static bool token_matches(const char *expected, const char *given)
{
	size_t n = strlen(expected);
	unsigned char diff = (unsigned char)(n != strlen(given));
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(expected[i] ^ (given[i] ? given[i] : 0));
	return diff == 0;
}

static bool numeric_address(const char *text)
{
	struct in6_addr a6;
	struct in_addr a4;
	return inet_pton(AF_INET, text, &a4) == 1 || inet_pton(AF_INET6, text, &a6) == 1;
}

/* Sends every registrant the table, page by page, then closes; the loop ends. */
static void send_table(struct server *s)
{
	static struct wire_rdv_table page;
	for (uint32_t i = 0; i < s->node_count; i++) {
		struct mesh_conn *c = s->nodes[i].conn;
		for (uint32_t start = 0; start < s->node_count; start += page.count) {
			page.total = s->node_count;
			page.start = start;
			page.count = s->node_count - start < WIRE_TABLE_PAGE_MAX ?
					     s->node_count - start : WIRE_TABLE_PAGE_MAX;
			for (uint32_t j = 0; j < page.count; j++)
				page.nodes[j] = s->nodes[start + j].node;
			mesh_conn_send(c, WIRE_RDV_TABLE, s->buf,
				       wire_encode_rdv_table(&page, s->buf, sizeof(s->buf)));
		}
	}
	for (uint32_t i = 0; i < s->node_count; i++) {
		mesh_conn_flush(s->nodes[i].conn, TABLE_FLUSH_MS);
		mesh_conn_close(s->nodes[i].conn, 0);
	}
	log_info("sent the table of %" PRIu32 " nodes of job %" PRIu32 " step %" PRIu32
		 "; the mesh runs without the rendezvous now",
		 s->node_count, s->o->job_id, s->o->step_id);
	stop(s, 0);
}

/* The first registration fixes the node count; the others must agree. */
static int take_node_count(struct server *s, struct mesh_conn *c, uint32_t count)
{
	if (s->node_count == 0) {
		s->nodes = calloc(count, sizeof(*s->nodes));
		if (!s->nodes) {
			refuse(c, "the rendezvous is out of memory");
			return -ENOMEM;
		}
		s->node_count = count;
		return 0;
	}
	if (count != s->node_count) {
		refuse(c, "node count %" PRIu32 " differs from the step's %" PRIu32, count,
		       s->node_count);
		return -EINVAL;
	}
	return 0;
}

static void on_register(struct server *s, struct mesh_conn *c, const struct wire_msg *msg)
{
	static struct wire_rdv_register reg;
	static struct wire_mesh_welcome welcome;
	struct wire_mesh_auth auth;
	char err[512];
	uint64_t nonce;
	if (wire_decode_rdv_register(msg->payload, msg->header.length, &reg) < 0) {
		refuse(c, "malformed RDV_REGISTER");
		return;
	}
	if (!token_matches(s->token, reg.token)) {
		refuse(c, "wrong token for job %" PRIu32 " step %" PRIu32, s->o->job_id,
		       s->o->step_id);
		return;
	}
	struct mesh_auth_expect expect = { .purpose = WIRE_RDV_REGISTER, .from_node = reg.node_id,
					   .to_node = WIRE_NO_NODE, .echo = c->challenge };
	if (mesh_auth_open(s->auth, reg.credential, &expect, &auth, err, sizeof(err)) < 0) {
		refuse(c, "node %" PRIu32 ": %s", reg.node_id, err);
		return;
	}
	if (!numeric_address(reg.address) || reg.port == 0) {
		refuse(c, "node %" PRIu32 ": '%s' port %u is not a usable mesh address",
		       reg.node_id, reg.address, reg.port);
		return;
	}
	if (take_node_count(s, c, reg.node_count) < 0)
		return;
	struct registrant *r = &s->nodes[reg.node_id];
	if (r->registered) {
		refuse(c, "node %" PRIu32 " is already registered from %s", reg.node_id,
		       r->conn->peer_text);
		return;
	}
	if (mesh_auth_seal(s->auth, WIRE_MESH_WELCOME, WIRE_NO_NODE, reg.node_id, auth.nonce, &nonce,
			   welcome.credential, err, sizeof(err)) < 0) {
		log_error("cannot answer node %" PRIu32 ": %s", reg.node_id, err);
		mesh_conn_close(c, -EIO);
		return;
	}
	struct conn_seal_handshake h = {
		.job_id = s->o->job_id, .step_id = s->o->step_id, .opener = reg.node_id,
		.acceptor = WIRE_NO_NODE, .purpose = WIRE_RDV_REGISTER, .challenge = c->challenge,
		.opener_nonce = auth.nonce, .acceptor_nonce = nonce,
	};
	struct frame_session *seal;
	if (conn_seal_start(&h, false, conn_seal_mode(s->o->wire_encryption), &seal, err,
			    sizeof(err)) < 0) {
		log_error("cannot answer node %" PRIu32 ": %s", reg.node_id, err);
		mesh_conn_close(c, -EIO);
		return;
	}
	mesh_conn_send(c, WIRE_MESH_WELCOME, s->buf,
		       wire_encode_mesh_welcome(&welcome, s->buf, sizeof(s->buf)));
	conn_gate_leave(s->gate, c);
	mesh_conn_establish(c, reg.node_id, seal);
	r->registered = true;
	r->conn = c;
	r->node = (struct wire_rdv_node){ .node_id = reg.node_id, .port = reg.port,
					  .state = WIRE_NODE_LIVE, .rank_count = reg.rank_count };
	memcpy(r->node.ranks, reg.ranks, reg.rank_count * sizeof(reg.ranks[0]));
	strcpy(r->node.node_name, reg.node_name);
	strcpy(r->node.address, reg.address);
	s->registered++;
	log_verbose("node %" PRIu32 " (%s) registered from %s, mesh at %s:%u; %" PRIu32
		    " of %" PRIu32,
		    reg.node_id, reg.node_name, c->peer_text, reg.address, reg.port, s->registered,
		    s->node_count);
	if (s->registered == s->node_count)
		send_table(s);
}

static void server_message(struct mesh_conn *c, const struct wire_msg *msg)
{
	struct server *s = c->owner;
	conn_gate_heard(s->gate, c);
	if (!c->established && msg->header.type == WIRE_RDV_REGISTER)
		on_register(s, c, msg);
	else
		refuse(c, "sent %s, not a registration", wire_type_name(msg->header.type));
}

static void server_connected(struct mesh_conn *c)
{
	(void)c;
}

static void server_closed(struct mesh_conn *c, int why)
{
	struct server *s = c->owner;
	unlink_conn(s, c);
	conn_gate_leave(s->gate, c);
	if (!c->established || c->peer >= s->node_count || s->nodes[c->peer].conn != c)
		return;
	if (why != 0)
		log_warning("node %" PRIu32 " left the rendezvous before the table (%s); it may "
			    "register again",
			    c->peer, strerror(-why));
	s->nodes[c->peer].registered = false;
	s->nodes[c->peer].conn = NULL;
	s->registered--;
}

static const struct mesh_conn_ops server_ops = {
	.connected = server_connected,
	.message = server_message,
	.closed = server_closed,
};

/* Lets a new connection in through the gate (idle ones may be closed to make room); one
 * there is no room for is closed, and its helper connects again. */
static void take_registrant(struct server *s, int fd, const struct sockaddr_storage *from)
{
	const struct sockaddr *sa = (const struct sockaddr *)from;
	struct mesh_conn *c;
	uint8_t discard[512];
	void *victim;
	int rc;
	while ((rc = conn_gate_make_room(s->gate, sa, false, &victim)) == -EAGAIN)
		mesh_conn_close(victim, -EUSERS);
	if (rc < 0) {
		while (recv(fd, discard, sizeof(discard), MSG_DONTWAIT) > 0)
			;
		close(fd);
		return;
	}
	if (mesh_conn_adopt(s->loop, fd, REGISTER_MS, &server_ops, &s->stats, s, &c) < 0)
		return;
	c->next = s->conns;
	s->conns = c;
	if (conn_gate_enter(s->gate, c, fd, sa, false) < 0)
		mesh_conn_close(c, -ENOMEM);
}

static void accept_registrant(struct loop *loop, int fd, short revents, void *arg)
{
	struct server *s = arg;
	struct sockaddr_storage from;
	(void)revents;
	for (int i = 0; i < LISTENER_BATCH; i++) {
		int cfd = listener_accept(loop, fd, "the rendezvous listener", &from);
		if (cfd == -EAGAIN || listener_out_of_resources(cfd))
			return;
		if (cfd >= 0)
			take_registrant(s, cfd, &from);
	}
}

static void parent_exited(struct loop *loop, int fd, short revents, void *arg)
{
	struct server *s = arg;
	(void)loop;
	(void)fd;
	(void)revents;
	log_info("srun ended before every node registered (%" PRIu32 " of %" PRIu32 "): exiting",
		 s->registered, s->node_count);
	stop(s, -ECHILD);
}

static void wait_expired(struct loop *loop, void *arg)
{
	struct server *s = arg;
	(void)loop;
	log_error("gave up after %" PRIu32 " s: %" PRIu32 " of %" PRIu32 " nodes registered",
		  s->o->rendezvous_wait_s, s->registered, s->node_count);
	stop(s, -ETIMEDOUT);
}

static void signal_arrived(struct loop *loop, int fd, short revents, void *arg)
{
	struct server *s = arg;
	struct signalfd_siginfo si;
	(void)loop;
	(void)revents;
	if (read(fd, &si, sizeof(si)) == sizeof(si))
		log_info("received %s: exiting", strsignal((int)si.ssi_signo));
	stop(s, -EINTR);
}

/* --listen=HOST:PORT: binds, and prints the port for whoever started the server. */
static int listen_on(struct server *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *found;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[256], port_text[8];
	uint16_t port;
	int one = 1;
	if (options_split_host_port(s->o->listen, host, sizeof(host), &port) < 0)
		return -EINVAL;
	snprintf(port_text, sizeof(port_text), "%u", port);
	if (getaddrinfo(host, port_text, &hints, &found) != 0) {
		log_error("cannot resolve --listen=%s", s->o->listen);
		return -EINVAL;
	}
	s->listen_fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = s->listen_fd < 0 ? -errno : 0;
	if (rc == 0) {
		setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s->listen_fd, found->ai_addr, found->ai_addrlen) < 0 ||
		    listen(s->listen_fd, SOMAXCONN) < 0 ||
		    getsockname(s->listen_fd, (struct sockaddr *)&ss, &len) < 0)
			rc = -errno;
	}
	freeaddrinfo(found);
	if (rc < 0) {
		log_error("cannot listen on %s: %s", s->o->listen, strerror(-rc));
		return rc;
	}
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						((struct sockaddr_in *)&ss)->sin_port);
	printf("LCR_RENDEZVOUS=%u\n", port);
	return fflush(stdout) == 0 ? 0 : -errno;
}

/* --listen-fd: the plugin's socket, made non-blocking (the listener takes connections until
 * none waits). */
static int take_listener(struct server *s, int fd)
{
	int flags = fcntl(fd, F_GETFL), rc = 0;
	s->listen_fd = fd;
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		rc = -errno;
		log_error("cannot make the listening socket (--listen-fd=%d) non-blocking: %s", fd,
			  strerror(-rc));
	}
	return rc;
}

static int setup_signals(struct server *s)
{
	sigset_t set;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	s->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->signal_fd < 0)
		return -errno;
	return loop_add_fd(s->loop, s->signal_fd, POLLIN, signal_arrived, s);
}

static int setup(struct server *s)
{
	const struct lcrd_options *o = s->o;
	char err[512];
	int rc;
	if (!s->token || !*s->token || strlen(s->token) > WIRE_TOKEN_MAX) {
		log_error("the step's token must be in LCR_RENDEZVOUS_TOKEN (1 to %d characters)",
			  WIRE_TOKEN_MAX);
		return -EINVAL;
	}
	if ((rc = loop_create(&s->loop)) < 0 || (rc = setup_signals(s)) < 0)
		return rc;
	rc = conn_gate_create(REGISTRANTS_PREAUTH_PER_ADDRESS,
			      conn_gate_total_within_limit(REGISTRANTS_PREAUTH_TOTAL),
			      REGISTRANTS_PREAUTH_GRACE_MS, &s->gate);
	if (rc < 0)
		return rc;
	rc = mesh_auth_create(o->munge_socket, o->job_id, o->step_id, &s->auth, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	if (o->listen_fd >= 0)
		rc = take_listener(s, o->listen_fd);
	else
		rc = listen_on(s);
	if (rc < 0)
		return rc;
	if ((rc = loop_add_fd(s->loop, s->listen_fd, POLLIN, accept_registrant, s)) < 0)
		return rc;
	if (o->parent_pidfd >= 0 &&
	    (rc = loop_add_fd(s->loop, o->parent_pidfd, POLLIN, parent_exited, s)) < 0)
		return rc;
	return loop_add_timer(s->loop, (uint64_t)o->rendezvous_wait_s * 1000, wait_expired, s,
			      NULL);
}

int rendezvous_server_run(const struct lcrd_options *o)
{
	static struct server s;
	int rc;
	/* In ps and pgrep, the rendezvous is not a helper. */
	prctl(PR_SET_NAME, "lcr-rendezvous");
	s.o = o;
	s.token = getenv("LCR_RENDEZVOUS_TOKEN");
	s.listen_fd = s.signal_fd = -1;
	rc = setup(&s);
	if (rc == 0) {
		log_verbose("rendezvous of job %" PRIu32 " step %" PRIu32 " is waiting for its nodes",
			    o->job_id, o->step_id);
		rc = loop_run(s.loop);
		if (rc == 0)
			rc = s.result;
	}
	while (s.conns)
		mesh_conn_close(s.conns, 0);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	if (s.signal_fd >= 0)
		close(s.signal_fd);
	mesh_auth_destroy(s.auth);
	conn_gate_destroy(s.gate);
	loop_destroy(s.loop);
	free(s.nodes);
	return rc;
}
