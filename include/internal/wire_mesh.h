/* wire_mesh.h: the messages between the step's helpers over TCP, and between each helper and
 * the step's rendezvous (part of wire.h: include internal/wire.h; the mesh's checkpoint
 * messages are in wire_mesh_ckpt.h, state transfer's in wire_xfer.h).
 *
 * The step's helpers talk over TCP, one stream per pair and direction of connect, framed by
 * the header's length. A connection starts with CHALLENGE (acceptor: a fresh nonce), then
 * HELLO (connector; or XFER_HELLO, JOIN, RDV_REGISTER) and WELCOME (acceptor), each carrying
 * a MUNGE credential whose payload is a struct wire_mesh_auth: the acceptor checks uid, job,
 * step, purpose, that it is the addressee and that its challenge is echoed; the connector
 * checks the same and that its nonce is echoed. Nothing else is sent before that. The sender of every later
 * message is the authenticated peer of the connection, so messages name no sender. See
 * doc/mesh.md. */
#ifndef LCR_INTERNAL_WIRE_MESH_H
#define LCR_INTERNAL_WIRE_MESH_H

#include <stdint.h>

#include "internal/wire_describe.h"

/* The link's message types: T(NAME, number) gives enum wire_type's WIRE_NAME and its log
 * name (wire_type_name). */
#define WIRE_MESH_TYPES(T)                                                              \
	T(MESH_HELLO, 40)     /* connector -> acceptor: who it is, with a credential */ \
	T(MESH_WELCOME, 41)   /* acceptor -> connector: its own credential; the link is up */ \
	T(RDV_REGISTER, 42)   /* lcrd -> rendezvous; reply: WIRE_MESH_WELCOME, later TABLE */ \
	T(RDV_TABLE, 43)      /* rendezvous -> lcrd: one page of the step's node table */ \
	T(MESH_HEARTBEAT, 44) /* to each ring successor, every timeout/4 */             \
	T(MESH_SUSPECT, 45)   /* watcher -> decider: a node looks dead */               \
	T(MESH_PING, 46)      /* decider -> suspect: answer if alive */                 \
	T(MESH_PONG, 47)                                                                \
	T(MESH_REPORT, 48)    /* node -> leader: a local rank exited, to be sequenced */ \
	T(MESH_LEAVE, 49)     /* no payload: the sender's helper is ending normally */  \
	T(MESH_EVENT, 50)     /* leader -> every live node, along the broadcast tree */ \
	T(MESH_FENCED, 51)    /* to a node that was removed and still speaks: end */    \
	T(MESH_SYNC, 52)      /* a lagging node asks for the events after a generation */ \
	T(MESH_PROBE, 55)     /* decider -> a third node: probe this suspect for me */  \
	T(MESH_JOIN, 56)      /* replacement -> leader: take a removed node's place */  \
	/* leader -> replacement: credential, generation; then the table as             \
	 * WIRE_RDV_TABLE pages */                                                      \
	T(MESH_JOIN_ACCEPT, 57)                                                         \
	T(MESH_JOIN_REFUSED, 58) /* leader (or not) -> replacement: why, and the leader */ \
	/* acceptor -> connector, first on every connection: the nonce the opening      \
	 * credential must echo */                                                      \
	T(MESH_CHALLENGE, 59)

#define WIRE_CRED_MAX 2047        /* a MUNGE credential, base64 text */
#define WIRE_TOKEN_MAX 64         /* the rendezvous token */
#define WIRE_TABLE_PAGE_MAX 32    /* nodes per WIRE_RDV_TABLE (each with its ranks) */
#define WIRE_MESH_NODES_MAX 8192  /* nodes in one step's mesh */

/* The payload sealed in every mesh credential. */
#define WIRE_FIELDS_mesh_auth(F)                                                        \
	/* the type of the message that carries it (WIRE_MESH_HELLO, WIRE_XFER_HELLO,   \
	 * WIRE_MESH_JOIN, WIRE_RDV_REGISTER, WIRE_MESH_WELCOME, WIRE_MESH_JOIN_ACCEPT): \
	 * a credential is valid for that message only */                               \
	F(u16, purpose)                                                                 \
	F(u32, job_id)                                                                  \
	F(u32, step_id)                                                                 \
	F(u32, from_node) /* WIRE_NO_NODE: the rendezvous server */                     \
	F(u32, to_node)   /* WIRE_NO_NODE: the rendezvous server */                     \
	F(u64, nonce)     /* fresh random value of the sender */                        \
	/* the nonce answered: in an opening credential (HELLO, XFER_HELLO, JOIN,       \
	 * REGISTER) the acceptor's CHALLENGE, in an answer (WELCOME, JOIN_ACCEPT) the  \
	 * opening credential's nonce */                                                \
	F(u64, echo)                                                                    \
	/* the sender's instance: the generation of the NODE_JOINED that brought its    \
	 * helper, 0 for the step's first helpers */                                    \
	F(u64, incarnation)

#define WIRE_FIELDS_mesh_hello(F)                                                       \
	F(u32, from_node) /* as the credential says; for logs before it is checked */   \
	F(u32, to_node)                                                                 \
	F(str, credential, WIRE_CRED_MAX)

#define WIRE_FIELDS_mesh_welcome(F) F(str, credential, WIRE_CRED_MAX)

/* A zero nonce is rejected by the decoder. */
#define WIRE_FIELDS_mesh_challenge(F)                                                   \
	F(u64, nonce) /* fresh random value of the acceptor, never 0 */                 \
	F(valid_decoded, wire_mesh_challenge_valid)

/* node_id < node_count <= WIRE_MESH_NODES_MAX, else refused. */
#define WIRE_FIELDS_rdv_register(F)                                                     \
	F(str, token, WIRE_TOKEN_MAX) /* LCR_RENDEZVOUS_TOKEN */                        \
	F(u32, node_id)                                                                 \
	F(u32, node_count)            /* every registrant must give the same */         \
	F(str, node_name, WIRE_NODE_NAME_MAX)                                           \
	F(str, address, WIRE_ADDR_MAX) /* where its mesh listener is */                 \
	F(u16, port)                                                                    \
	F(str, credential, WIRE_CRED_MAX)                                               \
	F(u32s, ranks, rank_count, WIRE_MAX_LOCAL_RANKS) /* its global ranks (lcrd --ranks) */ \
	F(valid, wire_rdv_register_valid)

enum wire_node_state {
	WIRE_NODE_LIVE = 1,
	WIRE_NODE_DOWN = 2,
	WIRE_NODE_LEFT = 3,
};

/* One node of a table: the rendezvous' (state always LIVE) or a leader's answer to a JOIN
 * (every node's state), and the node a NODE_JOINED event brings back. */
struct wire_rdv_node {
	uint32_t node_id;
	uint16_t port;
	char node_name[WIRE_NODE_NAME_MAX + 1];
	char address[WIRE_ADDR_MAX + 1];
	uint16_t state;                  /* enum wire_node_state */
	uint32_t rank_count;             /* its global ranks, at most WIRE_MAX_LOCAL_RANKS */
	uint32_t ranks[WIRE_MAX_LOCAL_RANKS];
	uint64_t incarnation;            /* its helper's instance (struct wire_mesh_auth); in a
					  * NODE_JOINED, the event's own generation is used */
};

/* One page of the node table; pages come in order, start + count == total ends it. */
struct wire_rdv_table {
	uint32_t total;
	uint32_t start;
	uint32_t count;
	struct wire_rdv_node nodes[WIRE_TABLE_PAGE_MAX];
};

/* A replacement helper asks the leader for a removed node's place (doc/mesh.md,
 * "Replacement and rejoin"). The credential is sealed like a HELLO's: from = node_id,
 * to = the addressee. node_id < node_count <= WIRE_MESH_NODES_MAX, else refused. */
#define WIRE_FIELDS_mesh_join(F)                                                        \
	F(u32, node_id)    /* the node it replaces */                                   \
	F(u32, to_node)    /* the helper it believes leads */                           \
	F(u32, node_count) /* the step's, as it was started with */                     \
	F(str, node_name, WIRE_NODE_NAME_MAX)                                           \
	F(str, address, WIRE_ADDR_MAX) /* its mesh listener */                          \
	F(u16, port)                                                                    \
	F(u32s, ranks, rank_count, WIRE_MAX_LOCAL_RANKS)                                \
	F(str, credential, WIRE_CRED_MAX)                                               \
	F(valid, wire_mesh_join_valid)

/* The leader took the replacement: its credential (echoing the JOIN's nonce), the
 * generation of the NODE_JOINED event and its epoch. The table follows in WIRE_RDV_TABLE
 * pages, every node with its state. */
#define WIRE_FIELDS_mesh_join_accept(F)                                                 \
	F(u64, generation)                                                              \
	F(u64, epoch)                                                                   \
	F(u32, leader)                                                                  \
	F(str, credential, WIRE_CRED_MAX)

/* A JOIN refused: why, and where the leader is when the addressee is not it (leader
 * WIRE_NO_NODE and address "" when unknown or irrelevant). A status >= 0 is refused. */
#define WIRE_FIELDS_mesh_join_refused(F)                                                \
	F(i32, status) /* -EREMOTE: not the leader, ask it; other -errno: final */      \
	F(u32, leader)                                                                  \
	F(str, address, WIRE_ADDR_MAX)                                                  \
	F(u16, port)                                                                    \
	F(str, message, WIRE_TEXT_MAX)                                                  \
	F(valid, wire_mesh_join_refused_valid)

#define WIRE_FIELDS_mesh_heartbeat(F)                                                   \
	F(u64, generation) /* the sender's; a peer that is behind or ahead syncs */

enum wire_evidence {
	WIRE_EVIDENCE_SILENT = 1,  /* no heartbeat for the timeout */
	WIRE_EVIDENCE_REFUSED = 2, /* its helper refused or reset a connection */
	WIRE_EVIDENCE_LEFT = 3,    /* it said LEAVE: its helper ends normally */
};

#define WIRE_FIELDS_mesh_suspect(F)                                                     \
	F(u32, node)                                                                    \
	F(u16, evidence)  /* enum wire_evidence */                                      \
	F(u32, silent_ms) /* since the suspect was last heard */                        \
	F(valid, wire_mesh_suspect_valid)

#define WIRE_FIELDS_mesh_ping(F) F(u64, nonce) /* PING and PONG */

#define WIRE_FIELDS_mesh_probe(F) F(u32, node) /* the suspect to probe */

/* A rank's exit, which the leader sequences (type WIRE_EVENT_RANK_EXITED, else refused). */
#define WIRE_FIELDS_mesh_report(F)                                                      \
	F(u16, type)                                                                    \
	F(u32, rank)                                                                    \
	F(u32, pid)                                                                     \
	F(i32, status)                                                                  \
	F(str, message, WIRE_TEXT_MAX)                                                  \
	F(valid, wire_mesh_report_valid)

struct wire_mesh_member {
	uint32_t node;
	uint16_t state; /* WIRE_NODE_DOWN or WIRE_NODE_LEFT */
};

/* One membership change, as the leader sequenced it, with the whole membership after it:
 * the nodes not listed in removed[] are live. About 64 KiB: allocate it statically. */
struct wire_mesh_event {
	uint64_t generation;
	uint32_t leader;  /* lowest live node id after the change */
	uint64_t time_ms; /* CLOCK_REALTIME at the leader */
	uint16_t type;    /* WIRE_EVENT_NODE_DOWN, _NODE_LEFT, _RANK_EXITED, _REPLACING,
			   * _NODE_JOINED or _RECOVERY_FAILED */
	uint32_t node;    /* the node concerned: the dead or leaving one, the rank's, the
			   * replaced one */
	uint32_t rank;
	uint32_t pid;
	int32_t status;
	char message[WIRE_TEXT_MAX + 1];
	uint64_t epoch;   /* REPLACING, NODE_JOINED: the replacement attempt's epoch, else 0 */
	uint64_t resume_step; /* REPLACING: the protected step every rank is rolled back to and
			       * resumes after (recovery from the copies), else WIRE_NO_STEP */
	struct wire_rdv_node joined; /* NODE_JOINED: the node's new helper (state LIVE);
				      * otherwise empty (node_id WIRE_NO_NODE, state 0) */
	uint32_t removed_count;
	struct wire_mesh_member removed[WIRE_MESH_NODES_MAX];
};

#define WIRE_FIELDS_mesh_fenced(F)                                                      \
	F(u64, generation) /* the generation at which the peer was removed, or later */

#define WIRE_FIELDS_mesh_sync(F) F(u64, after) /* send every event with a higher generation */

/* The link's payloads: the flat ones (wire_describe.h), then those coded by hand. */
#define WIRE_MESH_FLAT_MESSAGES(X)                                                      \
	X(mesh_auth) X(mesh_hello) X(mesh_welcome) X(mesh_challenge) X(rdv_register)    \
	X(mesh_join) X(mesh_join_accept) X(mesh_join_refused) X(mesh_heartbeat)         \
	X(mesh_suspect) X(mesh_ping) X(mesh_probe) X(mesh_report) X(mesh_fenced)        \
	X(mesh_sync)
#define WIRE_MESH_MESSAGES(X) WIRE_MESH_FLAT_MESSAGES(X) X(rdv_table) X(mesh_event)
WIRE_MESH_FLAT_MESSAGES(WIRE_FLAT_DECLARE)
WIRE_CODEC_DECLARE(rdv_table)
WIRE_CODEC_DECLARE(mesh_event)

#endif
