/* wire.h: the LCR wire protocol, one header for every message that lcrd exchanges with the
 * SPANK plugin (over its socketpair), with clients and lcrctl (over the control socket), and
 * with the other helpers of the step and its rendezvous (over TCP, see "mesh" below).
 *
 * Framing. Every message is a 16-byte header followed by `length` bytes of payload; over a
 * SOCK_SEQPACKET socket one message is one datagram, over a stream the length frames it.
 * All integers are little-endian, whatever the host. The header:
 *
 *     offset 0  u32 magic    WIRE_MAGIC ("LCRW")
 *     offset 4  u16 version  WIRE_VERSION
 *     offset 6  u16 type     enum wire_type
 *     offset 8  u32 length   payload bytes, at most WIRE_MAX_PAYLOAD
 *     offset 12 u32 seq      chosen by the requester, echoed in the reply; 0 for events
 *
 * Payload fields are fixed-width integers in the order of the structs below; strings are a
 * u16 byte count followed by the bytes (no terminator), bounded by the size of the struct's
 * array; byte blobs are a u32 count followed by the bytes. A decoder checks every length
 * before it reads and rejects trailing bytes. A request that fails is answered with
 * WIRE_REPLY carrying a negative errno and a message; a request that succeeds gets its own
 * reply type (or WIRE_REPLY with status 0 when it has nothing to return). File descriptors
 * (regions, control pages) travel beside the message as SCM_RIGHTS ancillary data.
 *
 * Every function here returns 0 (or a byte count) or a negative errno, never prints, never
 * exits and keeps no global state: the plugin calls them inside slurmstepd as root.
 * Decode errors: -EBADMSG (short, bad magic, a length field that is not what arrived, bad
 * string, trailing bytes), -EMSGSIZE (beyond WIRE_MAX_PAYLOAD), -EPROTONOSUPPORT (other
 * version), -EOPNOTSUPP (unknown type).
 */
#ifndef LCR_INTERNAL_WIRE_H
#define LCR_INTERNAL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x5752434cu /* bytes "LCRW" on the wire */
#define WIRE_VERSION 2 /* 2: mesh credentials seal their purpose and the acceptor's challenge */
#define WIRE_HEADER_SIZE 16
#define WIRE_MAX_PAYLOAD 65536
#define WIRE_MAX_MESSAGE (WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD)

#define WIRE_NAME_MAX 63       /* region names, KV keys, barrier names, shard keys */
#define WIRE_NODE_NAME_MAX 127 /* Slurm node names */
#define WIRE_PATH_MAX 107      /* a UNIX socket path (sun_path less its terminator) */
#define WIRE_TEXT_MAX 255      /* error and event messages */
#define WIRE_KV_VALUE_MAX 32768
#define WIRE_MAX_LOCAL_RANKS 256 /* ranks one helper serves */
#define WIRE_REGION_LIST_MAX 256 /* regions per WIRE_REGION_LIST_REPLY */
#define WIRE_UUID_SIZE 16
#define WIRE_NO_NODE UINT32_MAX  /* no step node (a node-less event, the rendezvous server) */
#define WIRE_NO_RANK UINT32_MAX  /* no rank (a node event) */

/* No step committed yet (wire_region_entry.committed_step). */
#define WIRE_NO_STEP UINT64_MAX
/* A timeout that never expires (KV_GET, BARRIER); 0 means "do not wait". */
#define WIRE_WAIT_FOREVER UINT32_MAX

enum wire_type {
	/* plugin <-> lcrd, over the plugin's socketpair */
	WIRE_READY = 1,        /* lcrd -> plugin: listening, here is the control socket */
	WIRE_TASK_STARTED = 2, /* plugin -> lcrd */
	WIRE_TASK_EXITED = 3,  /* plugin -> lcrd */
	WIRE_SHUTDOWN = 4,     /* plugin or lcrctl -> lcrd: end the helper; no payload */
	/* generic reply */
	WIRE_REPLY = 16,
	/* control socket */
	WIRE_STATUS_REQUEST = 17, /* no payload */
	WIRE_STATUS_REPLY = 18,
	WIRE_REGISTER = 19,        /* reply: WIRE_REPLY + the rank's control page fd */
	WIRE_REGION_ALLOC = 20,    /* reply: WIRE_REGION_INFO + region fd */
	WIRE_REGION_LOOKUP = 21,   /* reply: WIRE_REGION_INFO + region fd */
	WIRE_REGION_INFO = 22,
	WIRE_REGION_FREE = 23,     /* reply: WIRE_REPLY */
	WIRE_REGION_LIST = 24,     /* reply: WIRE_REGION_LIST_REPLY */
	WIRE_REGION_LIST_REPLY = 25,
	WIRE_REGION_CHECKSUM = 26, /* reply: WIRE_REGION_CHECKSUM_REPLY */
	WIRE_REGION_CHECKSUM_REPLY = 27,
	WIRE_SUBSCRIBE = 28,       /* no payload; reply: WIRE_REPLY, then WIRE_EVENTs */
	WIRE_EVENT = 29,
	WIRE_KV_PUT = 30,          /* reply: WIRE_REPLY */
	WIRE_KV_GET = 31,          /* reply: WIRE_KV_VALUE, or WIRE_REPLY -ENOENT/-ETIMEDOUT */
	WIRE_KV_VALUE = 32,
	WIRE_BARRIER = 33,         /* reply: WIRE_REPLY once every participant arrived */
	/* mesh: lcrd <-> lcrd over TCP, and lcrd <-> the step's rendezvous (40-69) */
	WIRE_MESH_HELLO = 40,      /* connector -> acceptor: who it is, with a credential */
	WIRE_MESH_WELCOME = 41,    /* acceptor -> connector: its own credential; the link is up */
	WIRE_RDV_REGISTER = 42,    /* lcrd -> rendezvous; reply: WIRE_MESH_WELCOME, later TABLE */
	WIRE_RDV_TABLE = 43,       /* rendezvous -> lcrd: one page of the step's node table */
	WIRE_MESH_HEARTBEAT = 44,  /* to each ring successor, every timeout/4 */
	WIRE_MESH_SUSPECT = 45,    /* watcher -> decider: a node looks dead */
	WIRE_MESH_PING = 46,       /* decider -> suspect: answer if alive */
	WIRE_MESH_PONG = 47,
	WIRE_MESH_REPORT = 48,     /* node -> leader: a local rank exited, to be sequenced */
	WIRE_MESH_LEAVE = 49,      /* no payload: the sender's helper is ending normally */
	WIRE_MESH_EVENT = 50,      /* leader -> every live node, along the broadcast tree */
	WIRE_MESH_FENCED = 51,     /* to a node that was removed and still speaks: end */
	WIRE_MESH_SYNC = 52,       /* a lagging node asks for the events after a generation */
	WIRE_EVENT_LOG = 53,       /* control: reply WIRE_EVENT_LOG_REPLY */
	WIRE_EVENT_LOG_REPLY = 54,
	WIRE_MESH_PROBE = 55,      /* decider -> a third node: probe this suspect for me */
	WIRE_MESH_JOIN = 56,       /* replacement -> leader: take a removed node's place */
	WIRE_MESH_JOIN_ACCEPT = 57, /* leader -> replacement: credential, generation; then
				     * the table as WIRE_RDV_TABLE pages */
	WIRE_MESH_JOIN_REFUSED = 58, /* leader (or not) -> replacement: why, and the leader */
	WIRE_MESH_CHALLENGE = 59,  /* acceptor -> connector, first on every connection: the
				    * nonce the opening credential must echo */
	/* PMIx events a rank's liblcr forwards to its helper (70-79) */
	WIRE_PMIX_EVENT = 70,      /* reply: WIRE_REPLY */
	/* checkpoints (80-99) */
	WIRE_CKPT_NOW = 80,          /* no payload; reply: WIRE_CKPT_RESULT once saved, or failed */
	WIRE_CKPT_RESULT = 81,
	WIRE_CKPT_INFO_REQUEST = 82, /* no payload; reply: WIRE_CKPT_INFO */
	WIRE_CKPT_INFO = 83,
	WIRE_RESUME_STEP = 84,       /* no payload, from a registered rank; reply: RESUME_INFO */
	WIRE_RESUME_INFO = 85,
	/* the mesh's multi-node checkpoint (86-99; doc/checkpoint.md) */
	WIRE_MESH_CKPT_ASK = 86,     /* leader -> every live node: send your replicas' reports */
	WIRE_MESH_CKPT_REPORTS = 87, /* node -> leader: its reports (or why it has none) */
	WIRE_MESH_CKPT_WRITE = 88,   /* leader -> writer: the plan's inputs; write your ranges */
	WIRE_MESH_CKPT_RESULT = 89,  /* writer -> leader: its ranges' hashes, or its error */
	WIRE_MESH_CKPT_REQUEST = 90, /* node -> leader: `lcrctl ckpt now` or a rank asked */
	WIRE_MESH_CKPT_DONE = 91,    /* leader -> every live node: a wire_ckpt_result */
	/* state transfer between helpers (92-95; see "state transfer" below) */
	WIRE_XFER_HELLO = 92,   /* client -> a peer's mesh listener; reply MESH_WELCOME or REPLY */
	WIRE_XFER_REQUEST = 93, /* client -> server: one range; reply REPLY (refused) or DATA */
	WIRE_XFER_DATA = 94,    /* server -> client: `length` raw bytes follow, then XFER_END */
	WIRE_XFER_END = 95,     /* server -> client: the hash of those bytes, or why they are void */
};

/* The fixed header, decoded. */
struct wire_header {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t length;
	uint32_t seq;
};

/* One received message. About 64 KiB: allocate it on the heap or statically. */
struct wire_msg {
	struct wire_header header;
	int fd; /* a descriptor passed with the message, or -1; the receiver owns it */
	uint8_t payload[WIRE_MAX_PAYLOAD];
};

/* --- plugin channel --- */

struct wire_ready {
	uint32_t pid;                         /* lcrd's pid */
	char socket_path[WIRE_PATH_MAX + 1];  /* the control socket */
};

struct wire_task_started {
	uint32_t local_task_id;
	uint32_t global_rank;
	uint32_t pid;
};

struct wire_task_exited {
	uint32_t global_rank;
	uint32_t pid;
	int32_t wait_status; /* as from waitpid(2) */
};

/* --- generic reply --- */

struct wire_reply {
	int32_t status; /* 0 or a negative errno */
	char message[WIRE_TEXT_MAX + 1];
};

/* --- status --- */

enum wire_helper_state {
	WIRE_HELPER_RUNNING = 1,
	WIRE_HELPER_STOPPING = 2,
};

enum wire_task_state {
	WIRE_TASK_EXPECTED = 1, /* named by --ranks, not started yet */
	WIRE_TASK_RUNNING = 2,
	WIRE_TASK_EXITED_STATE = 3,
};

struct wire_task_status {
	uint32_t global_rank;
	uint32_t pid;        /* 0 while unknown */
	uint16_t state;      /* enum wire_task_state */
	uint16_t registered; /* 1 when a client holds this rank now */
	int32_t wait_status; /* meaningful once exited */
};

struct wire_status_reply {
	uint32_t job_id;
	uint32_t step_id;
	uint32_t node_id;
	uint32_t node_count;
	uint32_t uid;
	uint32_t pid;
	uint64_t uptime_ms;
	uint16_t state; /* enum wire_helper_state */
	uint32_t clients;
	uint32_t region_count;
	uint64_t region_bytes;
	uint64_t region_quota; /* 0: unlimited */
	char node_name[WIRE_NODE_NAME_MAX + 1];
	uint32_t rank_count;
	uint32_t ranks[WIRE_MAX_LOCAL_RANKS];
	uint32_t task_count;
	struct wire_task_status tasks[WIRE_MAX_LOCAL_RANKS];
};

/* --- ranks and regions --- */

struct wire_register {
	uint32_t global_rank;
	uint32_t dp_index; /* data-parallel index */
	uint32_t dp_size;  /* data-parallel size */
	char shard_key[WIRE_NAME_MAX + 1]; /* same key = replicas holding identical state */
};

enum wire_region_kind {
	WIRE_REGION_HOST = 1,
	WIRE_REGION_CUDA = 2,
};

struct wire_region_alloc {
	uint64_t size;
	uint16_t kind;                   /* enum wire_region_kind */
	uint8_t device_uuid[WIRE_UUID_SIZE]; /* CUDA device (zero for host) */
	char name[WIRE_NAME_MAX + 1];
};

struct wire_region_name {
	char name[WIRE_NAME_MAX + 1]; /* WIRE_REGION_LOOKUP, WIRE_REGION_FREE */
};

#define WIRE_REGION_REATTACHED 0x1 /* wire_region_info.flags: the region existed before */

struct wire_region_info {
	uint64_t id;
	uint64_t size;     /* bytes asked for */
	uint64_t map_size; /* bytes to map (size rounded to the backend's granularity) */
	uint16_t kind;
	uint16_t flags;
	uint8_t device_uuid[WIRE_UUID_SIZE];
	char name[WIRE_NAME_MAX + 1];
};

struct wire_region_list {
	uint32_t start; /* index of the first entry wanted */
};

enum wire_phase {
	WIRE_PHASE_RUNNING = 0,
	WIRE_PHASE_UPDATING = 1,
	WIRE_PHASE_COMMITTED = 2,
};

#define WIRE_OWNER_ALIVE 0x1 /* wire_region_entry.flags: the owner rank holds a session */

struct wire_region_entry {
	uint64_t id;
	uint64_t size;
	uint16_t kind;
	uint16_t flags;
	uint32_t owner_rank;
	uint16_t phase;          /* enum wire_phase, from the owner's control page */
	uint64_t committed_step; /* WIRE_NO_STEP when none */
	char name[WIRE_NAME_MAX + 1];
	char shard_key[WIRE_NAME_MAX + 1];
};

struct wire_region_list_reply {
	uint32_t total; /* regions in the table */
	uint32_t count; /* entries in this reply, from the requested start */
	struct wire_region_entry entries[WIRE_REGION_LIST_MAX];
};

struct wire_region_checksum {
	uint32_t owner_rank;
	char name[WIRE_NAME_MAX + 1];
};

struct wire_region_checksum_reply {
	uint64_t size;
	uint64_t xxh64; /* XXH3 64-bit hash of the region's first `size` bytes, seed 0 */
};

/* --- events --- */

enum wire_event_type {
	WIRE_EVENT_RANK_EXITED = 1, /* a rank's process ended */
	WIRE_EVENT_SHUTDOWN = 2,    /* the helper is shutting down (the step ends) */
	WIRE_EVENT_HELPER_LOST = 3, /* a rank lost its resource manager's daemon (PMIx server) */
	WIRE_EVENT_NODE_DOWN = 4,   /* a node of the job is down (node) */
	WIRE_EVENT_NODE_LEFT = 5,   /* a node's helper ended normally (node_id) */
	WIRE_EVENT_MESH_UP = 6,     /* the step's helpers found each other (generation 0) */
	WIRE_EVENT_CHECKPOINT = 7,  /* a checkpoint was published (status 0) or abandoned */
	WIRE_EVENT_REPLACING = 8,   /* the leader launches a replacement for node (epoch) */
	WIRE_EVENT_NODE_JOINED = 9, /* a replacement took node's place (epoch of the attempt) */
	WIRE_EVENT_RECOVERY_FAILED = 10, /* no replacement for node: restart from a checkpoint */
};

/* What detected an event. */
enum wire_event_source {
	WIRE_SOURCE_HELPER = 0, /* lcrd itself: its pidfd watch, the plugin, its own state */
	WIRE_SOURCE_PMIX = 1,   /* a PMIx event that a rank forwarded (WIRE_PMIX_EVENT) */
};

struct wire_event {
	uint16_t type;   /* enum wire_event_type */
	uint16_t source; /* enum wire_event_source */
	uint32_t rank;
	uint32_t pid;
	int32_t status; /* wait status for RANK_EXITED when known, else -1 */
	char node[WIRE_NODE_NAME_MAX + 1]; /* the node concerned (NODE_DOWN), else "" */
	char message[WIRE_TEXT_MAX + 1];
	uint32_t node_id;    /* the step node concerned, or WIRE_NO_NODE */
	uint64_t generation; /* the mesh membership generation the event belongs to */
	uint32_t leader;     /* the mesh leader at that generation, or WIRE_NO_NODE */
	uint64_t epoch;      /* REPLACING, NODE_JOINED: the communicator epoch, else 0 */
};

/* --- key-value store and barrier --- */

struct wire_kv_put {
	char key[WIRE_NAME_MAX + 1];
	uint32_t value_len;
	uint8_t value[WIRE_KV_VALUE_MAX];
};

struct wire_kv_get {
	uint32_t timeout_ms; /* 0: answer now; WIRE_WAIT_FOREVER */
	char key[WIRE_NAME_MAX + 1];
};

struct wire_kv_value {
	uint32_t value_len;
	uint8_t value[WIRE_KV_VALUE_MAX];
};

struct wire_barrier {
	uint32_t participants;
	uint32_t timeout_ms; /* 0: do not wait; WIRE_WAIT_FOREVER */
	char name[WIRE_NAME_MAX + 1];
};

/* --- PMIx events --- */

#define WIRE_PMIX_NSPACE_MAX 255      /* PMIX_MAX_NSLEN */
#define WIRE_PMIX_NO_RANK UINT32_MAX   /* wire_pmix_event.rank: the event names no process */
#define WIRE_PMIX_NO_NODE_ID UINT32_MAX /* wire_pmix_event.node_id: no PMIX_NODEID given */

/* The PMIx events liblcr forwards; the PMIx status that arrived is in `status`. */
enum wire_pmix_kind {
	WIRE_PMIX_NODE_DOWN = 1,       /* PMIX_EVENT_NODE_DOWN */
	WIRE_PMIX_PROC_ABORTED = 2,    /* PMIX_ERR_PROC_ABORTED */
	WIRE_PMIX_PROC_TERMINATED = 3, /* PMIX_EVENT_PROC_TERMINATED */
	WIRE_PMIX_LOST_CONNECTION = 4, /* PMIX_ERR_LOST_CONNECTION */
};
#define WIRE_PMIX_KIND_MAX WIRE_PMIX_LOST_CONNECTION

/* One PMIx event as a rank received it, one message per affected process. A decoder
 * rejects a kind outside 1..WIRE_PMIX_KIND_MAX. */
struct wire_pmix_event {
	uint16_t kind;   /* enum wire_pmix_kind */
	int32_t status;  /* the pmix_status_t delivered to the handler */
	uint32_t rank;   /* the affected process (PMIX_EVENT_AFFECTED_PROC[S]), or WIRE_PMIX_NO_RANK */
	char nspace[WIRE_PMIX_NSPACE_MAX + 1]; /* its namespace, "" when none */
	uint32_t node_id;                      /* the affected node (PMIX_NODEID), or WIRE_PMIX_NO_NODE_ID */
	char node[WIRE_NODE_NAME_MAX + 1];     /* the affected node (PMIX_HOSTNAME), "" when none */
	uint32_t reporter_rank;                        /* the forwarding rank, in PMIx terms */
	char reporter_nspace[WIRE_PMIX_NSPACE_MAX + 1]; /* and its namespace */
};
/* The longest encoded wire_pmix_event (a little more than its struct). */
#define WIRE_PMIX_EVENT_SIZE_MAX \
	(2 + 4 + 4 + 2 + WIRE_PMIX_NSPACE_MAX + 4 + 2 + WIRE_NODE_NAME_MAX + 4 + 2 + \
	 WIRE_PMIX_NSPACE_MAX)

/* --- mesh and rendezvous ---
 *
 * The step's helpers talk over TCP, one stream per pair and direction of connect, framed by
 * the header's length. A connection starts with CHALLENGE (acceptor: a fresh nonce), then
 * HELLO (connector; or XFER_HELLO, JOIN, RDV_REGISTER) and WELCOME (acceptor), each carrying
 * a MUNGE credential whose payload is a struct wire_mesh_auth: the acceptor checks uid, job,
 * step, purpose, that it is the addressee and that its challenge is echoed; the connector
 * checks the same and that its nonce is echoed. Nothing else is sent before that. The sender of every later
 * message is the authenticated peer of the connection, so messages name no sender. See
 * doc/mesh.md. */

#define WIRE_CRED_MAX 2047        /* a MUNGE credential, base64 text */
#define WIRE_ADDR_MAX 45          /* a numeric IPv4 or IPv6 address */
#define WIRE_TOKEN_MAX 64         /* the rendezvous token */
#define WIRE_TABLE_PAGE_MAX 32    /* nodes per WIRE_RDV_TABLE (each with its ranks) */
#define WIRE_MESH_NODES_MAX 8192  /* nodes in one step's mesh */
#define WIRE_EVENT_LOG_MAX 128    /* entries per WIRE_EVENT_LOG_REPLY */

/* The payload sealed in every mesh credential. */
struct wire_mesh_auth {
	uint16_t purpose;   /* the type of the message that carries it (WIRE_MESH_HELLO,
			     * WIRE_XFER_HELLO, WIRE_MESH_JOIN, WIRE_RDV_REGISTER, WIRE_MESH_WELCOME,
			     * WIRE_MESH_JOIN_ACCEPT): a credential is valid for that message only */
	uint32_t job_id;
	uint32_t step_id;
	uint32_t from_node; /* WIRE_NO_NODE: the rendezvous server */
	uint32_t to_node;   /* WIRE_NO_NODE: the rendezvous server */
	uint64_t nonce;     /* fresh random value of the sender */
	uint64_t echo;      /* the nonce answered: in an opening credential (HELLO, XFER_HELLO,
			     * JOIN, REGISTER) the acceptor's CHALLENGE, in an answer (WELCOME,
			     * JOIN_ACCEPT) the opening credential's nonce */
	uint64_t incarnation; /* the sender's instance: the generation of the NODE_JOINED that
			       * brought its helper, 0 for the step's first helpers */
};

struct wire_mesh_hello {
	uint32_t from_node; /* as the credential says; for logs before it is checked */
	uint32_t to_node;
	char credential[WIRE_CRED_MAX + 1];
};

struct wire_mesh_welcome {
	char credential[WIRE_CRED_MAX + 1];
};

struct wire_mesh_challenge {
	uint64_t nonce; /* fresh random value of the acceptor, never 0 */
};

struct wire_rdv_register {
	char token[WIRE_TOKEN_MAX + 1]; /* LCR_RENDEZVOUS_TOKEN */
	uint32_t node_id;
	uint32_t node_count;            /* every registrant must give the same */
	char node_name[WIRE_NODE_NAME_MAX + 1];
	char address[WIRE_ADDR_MAX + 1]; /* where its mesh listener is */
	uint16_t port;
	char credential[WIRE_CRED_MAX + 1];
	uint32_t rank_count;             /* its global ranks (lcrd --ranks) */
	uint32_t ranks[WIRE_MAX_LOCAL_RANKS];
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
 * to = the addressee. */
struct wire_mesh_join {
	uint32_t node_id;    /* the node it replaces */
	uint32_t to_node;    /* the helper it believes leads */
	uint32_t node_count; /* the step's, as it was started with */
	char node_name[WIRE_NODE_NAME_MAX + 1];
	char address[WIRE_ADDR_MAX + 1]; /* its mesh listener */
	uint16_t port;
	uint32_t rank_count;
	uint32_t ranks[WIRE_MAX_LOCAL_RANKS];
	char credential[WIRE_CRED_MAX + 1];
};

/* The leader took the replacement: its credential (echoing the JOIN's nonce), the
 * generation of the NODE_JOINED event and its epoch. The table follows in WIRE_RDV_TABLE
 * pages, every node with its state. */
struct wire_mesh_join_accept {
	uint64_t generation;
	uint64_t epoch;
	uint32_t leader;
	char credential[WIRE_CRED_MAX + 1];
};

/* A JOIN refused: why, and where the leader is when the addressee is not it (leader
 * WIRE_NO_NODE and address "" when unknown or irrelevant). */
struct wire_mesh_join_refused {
	int32_t status; /* -EREMOTE: not the leader, ask it; other -errno: final */
	uint32_t leader;
	char address[WIRE_ADDR_MAX + 1];
	uint16_t port;
	char message[WIRE_TEXT_MAX + 1];
};

struct wire_mesh_heartbeat {
	uint64_t generation; /* the sender's; a peer that is behind or ahead syncs */
};

enum wire_evidence {
	WIRE_EVIDENCE_SILENT = 1,  /* no heartbeat for the timeout */
	WIRE_EVIDENCE_REFUSED = 2, /* its helper refused or reset a connection */
	WIRE_EVIDENCE_LEFT = 3,    /* it said LEAVE: its helper ends normally */
};

struct wire_mesh_suspect {
	uint32_t node;
	uint16_t evidence;  /* enum wire_evidence */
	uint32_t silent_ms; /* since the suspect was last heard */
};

struct wire_mesh_ping {
	uint64_t nonce; /* PING and PONG */
};

struct wire_mesh_probe {
	uint32_t node; /* the suspect to probe */
};

/* A rank's exit, which the leader sequences (type WIRE_EVENT_RANK_EXITED). */
struct wire_mesh_report {
	uint16_t type;
	uint32_t rank;
	uint32_t pid;
	int32_t status;
	char message[WIRE_TEXT_MAX + 1];
};

enum wire_node_state {
	WIRE_NODE_LIVE = 1,
	WIRE_NODE_DOWN = 2,
	WIRE_NODE_LEFT = 3,
};

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
	struct wire_rdv_node joined; /* NODE_JOINED: the node's new helper (state LIVE);
				      * otherwise empty (node_id WIRE_NO_NODE, state 0) */
	uint32_t removed_count;
	struct wire_mesh_member removed[WIRE_MESH_NODES_MAX];
};

struct wire_mesh_fenced {
	uint64_t generation; /* the generation at which the peer was removed, or later */
};

struct wire_mesh_sync {
	uint64_t after; /* send every event with a higher generation */
};

struct wire_event_log {
	uint32_t start; /* index of the first entry wanted */
};

struct wire_event_log_entry {
	uint64_t time_ms; /* CLOCK_REALTIME when this helper applied it */
	uint64_t generation;
	uint32_t leader;
	uint16_t type; /* enum wire_event_type */
	uint32_t node;
	uint32_t rank;
	uint32_t pid;
	int32_t status;
	char message[WIRE_TEXT_MAX + 1];
	uint64_t epoch; /* REPLACING, NODE_JOINED: the communicator epoch, else 0 */
};

enum wire_mesh_state {
	WIRE_MESH_STANDALONE = 1,    /* no rendezvous given: a mesh of one */
	WIRE_MESH_BOOTSTRAPPING = 2, /* waiting for the rendezvous' table */
	WIRE_MESH_UP = 3,
	WIRE_MESH_FENCED_STATE = 4,  /* removed by the others */
	WIRE_MESH_FAILED = 5,        /* the rendezvous failed: running alone */
};

struct wire_event_log_reply {
	uint32_t node_id;
	uint16_t state; /* enum wire_mesh_state */
	uint64_t generation;
	uint32_t leader;
	uint32_t live_count;
	uint32_t node_count;
	char address[WIRE_ADDR_MAX + 1]; /* the mesh listener, "" when none */
	uint16_t port;
	uint32_t heartbeat_peers;
	uint32_t timeout_ms;
	uint64_t uptime_ms;          /* since the mesh came up, 0 before */
	uint64_t messages_sent;      /* mesh messages since it came up */
	uint64_t messages_received;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint32_t total; /* entries in the log */
	uint32_t count; /* entries in this reply, from the requested start */
	struct wire_event_log_entry entries[WIRE_EVENT_LOG_MAX];
};

/* The receive side of a stream socket (the mesh's TCP): bytes gather here until a whole
 * message is in. About 64 KiB. */
struct wire_stream {
	size_t len;
	uint8_t buf[WIRE_MAX_MESSAGE];
};

/* --- checkpoints --- */

#define WIRE_CKPT_PATH_MAX 1023 /* a checkpoint directory */

/* The outcome of a checkpoint (WIRE_CKPT_NOW). */
struct wire_ckpt_result {
	int32_t status;      /* 0, or the negative errno of the failure */
	uint64_t step;       /* the step saved, or WIRE_NO_STEP when none could be chosen */
	uint64_t bytes;      /* state bytes written */
	uint64_t elapsed_us; /* from the request (or failure event) to publication */
	char path[WIRE_CKPT_PATH_MAX + 1];  /* the complete checkpoint, "" on failure */
	char message[WIRE_TEXT_MAX + 1];    /* what happened, or why it failed */
};

/* The mesh's multi-node checkpoint. The leader gathers every live node's replica reports
 * (ASK, REPORTS), chooses the step and sends the same reports to every writer (WRITE), so
 * that each computes the same plan (ckpt_plan_build, then ckpt_plan_reassign for each lost
 * writer in `lost`, in order) and writes its ranges; each writer answers RESULT. `id` names
 * one checkpoint of one leader: a message with another id is stale. */
#define WIRE_CKPT_REPLICAS_MAX 64  /* replicas in one REPORTS or WRITE */
#define WIRE_CKPT_REGIONS_MAX 128  /* their regions, all together */
#define WIRE_CKPT_LOST_MAX 32      /* writers lost during one checkpoint */
#define WIRE_CKPT_HASHES_MAX 2048  /* ranges one RESULT confirms */

struct wire_ckpt_replica {
	uint32_t rank;
	uint32_t node_id;
	char node[WIRE_NODE_NAME_MAX + 1];
	char shard_key[WIRE_NAME_MAX + 1];
	uint32_t dp_size;
	uint16_t phase;          /* enum wire_phase */
	uint64_t committed_step; /* WIRE_NO_STEP when none */
	uint32_t region_count;   /* its regions: the next region_count of the list */
};

struct wire_ckpt_replica_region {
	char name[WIRE_NAME_MAX + 1];
	uint16_t kind; /* enum wire_region_kind */
	uint64_t size;
};

/* Replicas and their regions, in replica order: the regions' count is the sum of the
 * replicas' region_count. */
struct wire_ckpt_replicas {
	uint32_t count;
	struct wire_ckpt_replica replicas[WIRE_CKPT_REPLICAS_MAX];
	uint32_t region_count;
	struct wire_ckpt_replica_region regions[WIRE_CKPT_REGIONS_MAX];
};

struct wire_mesh_ckpt_ask {
	uint64_t id;
};

struct wire_mesh_ckpt_reports {
	uint64_t id;
	int32_t status;                /* 0, or why this node has no reports (-errno) */
	char error[WIRE_TEXT_MAX + 1];
	struct wire_ckpt_replicas replicas;
};

struct wire_mesh_ckpt_write {
	uint64_t id;
	uint64_t step;
	uint32_t lost_count;               /* writers lost, in the order they were lost */
	uint32_t lost[WIRE_CKPT_LOST_MAX];
	struct wire_ckpt_replicas replicas; /* every report the plan was built from */
};

struct wire_ckpt_hash {
	uint32_t shard;
	uint32_t region;
	uint32_t range;
	uint64_t xxh3;
};

struct wire_mesh_ckpt_result {
	uint64_t id;
	int32_t status; /* 0, or -errno (-ESTALE: a replica began an update meanwhile) */
	char error[WIRE_TEXT_MAX + 1];
	uint64_t step;
	uint64_t bytes;
	uint64_t elapsed_us;
	uint32_t hash_count;
	struct wire_ckpt_hash hashes[WIRE_CKPT_HASHES_MAX];
};

struct wire_mesh_ckpt_request {
	char reason[WIRE_TEXT_MAX + 1];
};

enum wire_restore_mode {
	WIRE_RESTORE_NEVER = 0,
	WIRE_RESTORE_AUTO = 1, /* the newest complete checkpoint of the checkpoint directory */
	WIRE_RESTORE_PATH = 2, /* one checkpoint named by its path */
};

/* What a helper knows of checkpoints (WIRE_CKPT_INFO_REQUEST). */
struct wire_ckpt_info {
	char ckpt_dir[WIRE_CKPT_PATH_MAX + 1]; /* "" when none was given */
	uint32_t keep;                         /* complete checkpoints kept, 0: all */
	uint16_t restore_mode;                 /* enum wire_restore_mode */
	uint64_t restored_step;                /* WIRE_NO_STEP when nothing is restored */
	char restored_from[WIRE_CKPT_PATH_MAX + 1];
	uint16_t busy;                         /* 1 while a checkpoint is being written */
	uint64_t busy_step;
	int32_t last_status;                   /* the last checkpoint: 0 or -errno */
	uint64_t last_step;                    /* WIRE_NO_STEP when there was none */
	char last_message[WIRE_TEXT_MAX + 1];
};

/* The step a rank resumes from (WIRE_RESUME_STEP). */
struct wire_resume_info {
	uint64_t step; /* WIRE_NO_STEP: nothing was restored for this rank */
	char checkpoint[WIRE_CKPT_PATH_MAX + 1];
};

/* --- state transfer ---
 *
 * A helper that needs a rank's state (the replacement of a lost node) fetches it from the
 * memory of surviving replicas. It connects to a peer's mesh listener and opens with
 * XFER_HELLO (a credential as in MESH_HELLO: job, step, from, to); the peer answers with
 * MESH_WELCOME (its credential, echoing the nonce) or REPLY (refused, with the reason). The
 * connection then carries requests, one at a time: XFER_REQUEST names a shard key, a
 * region, the committed step wanted and a byte range. The server answers REPLY with a
 * negative errno when it cannot serve it (no replica of that shard, no such region, another
 * step, a torn replica, a range beyond the region), else XFER_DATA, then exactly `length`
 * raw bytes outside any frame, then XFER_END with the XXH3-64 of the bytes as it read them
 * and status 0, or a negative status when they must be thrown away (the replica began
 * another update while it was read). See helper/transfer.h. */

#define WIRE_XFER_LENGTH_MAX (1ull << 40) /* bytes one XFER_REQUEST may ask for */

struct wire_xfer_hello {
	uint32_t from_node; /* as the credential says */
	uint32_t to_node;
	char credential[WIRE_CRED_MAX + 1];
};

struct wire_xfer_request {
	char shard_key[WIRE_NAME_MAX + 1];
	char region[WIRE_NAME_MAX + 1];
	uint64_t step;   /* the committed step the bytes must be of */
	uint64_t offset; /* in the region */
	uint64_t length; /* 1 .. WIRE_XFER_LENGTH_MAX; offset + length does not overflow */
};

struct wire_xfer_data {
	uint64_t offset;
	uint64_t length;     /* raw bytes that follow this message */
	uint32_t rank;       /* the replica they are read from */
};

struct wire_xfer_end {
	int32_t status;      /* 0, or a negative errno: the bytes sent are void */
	uint64_t xxh3;       /* of the bytes sent, as the server read them */
	char message[WIRE_TEXT_MAX + 1];
};

int wire_encode_xfer_hello(const struct wire_xfer_hello *m, uint8_t *buf, size_t cap);
int wire_decode_xfer_hello(const uint8_t *buf, size_t len, struct wire_xfer_hello *out);
int wire_encode_xfer_request(const struct wire_xfer_request *m, uint8_t *buf, size_t cap);
int wire_decode_xfer_request(const uint8_t *buf, size_t len, struct wire_xfer_request *out);
int wire_encode_xfer_data(const struct wire_xfer_data *m, uint8_t *buf, size_t cap);
int wire_decode_xfer_data(const uint8_t *buf, size_t len, struct wire_xfer_data *out);
int wire_encode_xfer_end(const struct wire_xfer_end *m, uint8_t *buf, size_t cap);
int wire_decode_xfer_end(const uint8_t *buf, size_t len, struct wire_xfer_end *out);

/* --- framing --- */

/* Name of a message type for logs ("TASK_STARTED"), or NULL when unknown. */
const char *wire_type_name(uint16_t type);
/* "running", "updating", "committed" for a control page's phase, else "unknown". */
const char *wire_phase_name(uint16_t phase);

/* Encodes a header into buf[WIRE_HEADER_SIZE]. */
void wire_encode_header(uint16_t type, uint32_t seq, uint32_t length, uint8_t *buf);

/* Checks and decodes a received message of `len` bytes: magic, version, known type, and that
 * the length field matches. 0 or -EBADMSG / -EMSGSIZE / -EPROTONOSUPPORT / -EOPNOTSUPP. */
int wire_parse_header(const uint8_t *buf, size_t len, struct wire_header *out);

/* Sends one message (header + payload) as one datagram, with seq 0. */
int wire_send_msg(int fd, uint16_t type, const void *payload, uint32_t len);

/* Sends one message with a sequence number, and a descriptor to pass when pass_fd >= 0. */
int wire_send_msg_full(int fd, uint16_t type, uint32_t seq, const void *payload, uint32_t len,
		       int pass_fd);

/* Receives one datagram from a SOCK_SEQPACKET socket into *out, waiting at most timeout_ms
 * (-1: for ever, 0: not at all). 0 on success; -ETIMEDOUT (nothing arrived), -ECONNRESET
 * (the peer closed), -EMSGSIZE (datagram over WIRE_MAX_MESSAGE, dropped), a header error
 * from wire_parse_header (the datagram is dropped: read again for the next), or another
 * -errno from the socket. out->fd is -1 unless a descriptor came with the message. */
int wire_recv_msg(int fd, struct wire_msg *out, int timeout_ms);

/* Empties a stream reader. */
void wire_stream_init(struct wire_stream *s);

/* Reads what a non-blocking stream socket has into s: the byte count (> 0), -EAGAIN when
 * nothing is waiting, -ECONNRESET at end of stream, or another -errno. */
int wire_stream_fill(int fd, struct wire_stream *s);

/* Takes the next whole message out of s into *out (out->fd is -1): 0, -EAGAIN when it is
 * not all there yet, or a header error from the first bytes (-EBADMSG, -EMSGSIZE,
 * -EPROTONOSUPPORT, -EOPNOTSUPP), after which the stream cannot be trusted: close it. */
int wire_stream_next(struct wire_stream *s, struct wire_msg *out);

/* Writes header and payload of one message into buf[cap]: the frame's size, or -EMSGSIZE. */
int wire_frame(uint16_t type, uint32_t seq, const uint8_t *payload, uint32_t len, uint8_t *buf,
	       size_t cap);

/* --- payload encoders: write into buf (capacity cap), return the byte count or -EMSGSIZE
 * (too small a buffer) / -EINVAL (a field out of range, such as a string too long) --- */

int wire_encode_ready(const struct wire_ready *m, uint8_t *buf, size_t cap);
int wire_encode_task_started(const struct wire_task_started *m, uint8_t *buf, size_t cap);
int wire_encode_task_exited(const struct wire_task_exited *m, uint8_t *buf, size_t cap);
int wire_encode_reply(const struct wire_reply *m, uint8_t *buf, size_t cap);
int wire_encode_status_reply(const struct wire_status_reply *m, uint8_t *buf, size_t cap);
int wire_encode_register(const struct wire_register *m, uint8_t *buf, size_t cap);
int wire_encode_region_alloc(const struct wire_region_alloc *m, uint8_t *buf, size_t cap);
int wire_encode_region_name(const struct wire_region_name *m, uint8_t *buf, size_t cap);
int wire_encode_region_info(const struct wire_region_info *m, uint8_t *buf, size_t cap);
int wire_encode_region_list(const struct wire_region_list *m, uint8_t *buf, size_t cap);
int wire_encode_region_list_reply(const struct wire_region_list_reply *m, uint8_t *buf,
				  size_t cap);
int wire_encode_region_checksum(const struct wire_region_checksum *m, uint8_t *buf, size_t cap);
int wire_encode_region_checksum_reply(const struct wire_region_checksum_reply *m, uint8_t *buf,
				      size_t cap);
int wire_encode_event(const struct wire_event *m, uint8_t *buf, size_t cap);
int wire_encode_kv_put(const struct wire_kv_put *m, uint8_t *buf, size_t cap);
int wire_encode_kv_get(const struct wire_kv_get *m, uint8_t *buf, size_t cap);
int wire_encode_kv_value(const struct wire_kv_value *m, uint8_t *buf, size_t cap);
int wire_encode_barrier(const struct wire_barrier *m, uint8_t *buf, size_t cap);
int wire_encode_pmix_event(const struct wire_pmix_event *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_auth(const struct wire_mesh_auth *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_hello(const struct wire_mesh_hello *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_welcome(const struct wire_mesh_welcome *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_challenge(const struct wire_mesh_challenge *m, uint8_t *buf, size_t cap);
int wire_encode_rdv_register(const struct wire_rdv_register *m, uint8_t *buf, size_t cap);
int wire_encode_rdv_table(const struct wire_rdv_table *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_heartbeat(const struct wire_mesh_heartbeat *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_join(const struct wire_mesh_join *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_join_accept(const struct wire_mesh_join_accept *m, uint8_t *buf,
				 size_t cap);
int wire_encode_mesh_join_refused(const struct wire_mesh_join_refused *m, uint8_t *buf,
				  size_t cap);
int wire_encode_mesh_suspect(const struct wire_mesh_suspect *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_ping(const struct wire_mesh_ping *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_probe(const struct wire_mesh_probe *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_report(const struct wire_mesh_report *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_event(const struct wire_mesh_event *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_fenced(const struct wire_mesh_fenced *m, uint8_t *buf, size_t cap);
int wire_encode_mesh_sync(const struct wire_mesh_sync *m, uint8_t *buf, size_t cap);
int wire_encode_event_log(const struct wire_event_log *m, uint8_t *buf, size_t cap);
int wire_encode_event_log_reply(const struct wire_event_log_reply *m, uint8_t *buf, size_t cap);

/* --- payload decoders: 0 or -EBADMSG; they read only `len` bytes --- */

int wire_decode_ready(const uint8_t *buf, size_t len, struct wire_ready *out);
int wire_decode_task_started(const uint8_t *buf, size_t len, struct wire_task_started *out);
int wire_decode_task_exited(const uint8_t *buf, size_t len, struct wire_task_exited *out);
int wire_decode_reply(const uint8_t *buf, size_t len, struct wire_reply *out);
int wire_decode_status_reply(const uint8_t *buf, size_t len, struct wire_status_reply *out);
int wire_decode_register(const uint8_t *buf, size_t len, struct wire_register *out);
int wire_decode_region_alloc(const uint8_t *buf, size_t len, struct wire_region_alloc *out);
int wire_decode_region_name(const uint8_t *buf, size_t len, struct wire_region_name *out);
int wire_decode_region_info(const uint8_t *buf, size_t len, struct wire_region_info *out);
int wire_decode_region_list(const uint8_t *buf, size_t len, struct wire_region_list *out);
int wire_decode_region_list_reply(const uint8_t *buf, size_t len,
				  struct wire_region_list_reply *out);
int wire_decode_region_checksum(const uint8_t *buf, size_t len, struct wire_region_checksum *out);
int wire_decode_region_checksum_reply(const uint8_t *buf, size_t len,
				      struct wire_region_checksum_reply *out);
int wire_decode_event(const uint8_t *buf, size_t len, struct wire_event *out);
int wire_decode_kv_put(const uint8_t *buf, size_t len, struct wire_kv_put *out);
int wire_decode_kv_get(const uint8_t *buf, size_t len, struct wire_kv_get *out);
int wire_decode_kv_value(const uint8_t *buf, size_t len, struct wire_kv_value *out);
int wire_decode_barrier(const uint8_t *buf, size_t len, struct wire_barrier *out);
int wire_decode_pmix_event(const uint8_t *buf, size_t len, struct wire_pmix_event *out);
int wire_decode_mesh_auth(const uint8_t *buf, size_t len, struct wire_mesh_auth *out);
int wire_decode_mesh_hello(const uint8_t *buf, size_t len, struct wire_mesh_hello *out);
int wire_decode_mesh_welcome(const uint8_t *buf, size_t len, struct wire_mesh_welcome *out);
int wire_decode_mesh_challenge(const uint8_t *buf, size_t len, struct wire_mesh_challenge *out);
int wire_decode_rdv_register(const uint8_t *buf, size_t len, struct wire_rdv_register *out);
int wire_decode_rdv_table(const uint8_t *buf, size_t len, struct wire_rdv_table *out);
int wire_decode_mesh_heartbeat(const uint8_t *buf, size_t len, struct wire_mesh_heartbeat *out);
int wire_decode_mesh_join(const uint8_t *buf, size_t len, struct wire_mesh_join *out);
int wire_decode_mesh_join_accept(const uint8_t *buf, size_t len,
				 struct wire_mesh_join_accept *out);
int wire_decode_mesh_join_refused(const uint8_t *buf, size_t len,
				  struct wire_mesh_join_refused *out);
int wire_decode_mesh_suspect(const uint8_t *buf, size_t len, struct wire_mesh_suspect *out);
int wire_decode_mesh_ping(const uint8_t *buf, size_t len, struct wire_mesh_ping *out);
int wire_decode_mesh_probe(const uint8_t *buf, size_t len, struct wire_mesh_probe *out);
int wire_decode_mesh_report(const uint8_t *buf, size_t len, struct wire_mesh_report *out);
int wire_decode_mesh_event(const uint8_t *buf, size_t len, struct wire_mesh_event *out);
int wire_decode_mesh_fenced(const uint8_t *buf, size_t len, struct wire_mesh_fenced *out);
int wire_decode_mesh_sync(const uint8_t *buf, size_t len, struct wire_mesh_sync *out);
int wire_decode_event_log(const uint8_t *buf, size_t len, struct wire_event_log *out);
int wire_decode_event_log_reply(const uint8_t *buf, size_t len,
				struct wire_event_log_reply *out);

/* --- checkpoint payloads: encoders as above, decoders 0 or -EBADMSG --- */

int wire_encode_mesh_ckpt_ask(const struct wire_mesh_ckpt_ask *m, uint8_t *buf, size_t cap);
int wire_decode_mesh_ckpt_ask(const uint8_t *buf, size_t len, struct wire_mesh_ckpt_ask *out);
int wire_encode_mesh_ckpt_reports(const struct wire_mesh_ckpt_reports *m, uint8_t *buf,
				  size_t cap);
int wire_decode_mesh_ckpt_reports(const uint8_t *buf, size_t len,
				  struct wire_mesh_ckpt_reports *out);
int wire_encode_mesh_ckpt_write(const struct wire_mesh_ckpt_write *m, uint8_t *buf, size_t cap);
int wire_decode_mesh_ckpt_write(const uint8_t *buf, size_t len, struct wire_mesh_ckpt_write *out);
int wire_encode_mesh_ckpt_result(const struct wire_mesh_ckpt_result *m, uint8_t *buf,
				 size_t cap);
int wire_decode_mesh_ckpt_result(const uint8_t *buf, size_t len,
				 struct wire_mesh_ckpt_result *out);
int wire_encode_mesh_ckpt_request(const struct wire_mesh_ckpt_request *m, uint8_t *buf,
				  size_t cap);
int wire_decode_mesh_ckpt_request(const uint8_t *buf, size_t len,
				  struct wire_mesh_ckpt_request *out);

int wire_encode_ckpt_result(const struct wire_ckpt_result *m, uint8_t *buf, size_t cap);
int wire_decode_ckpt_result(const uint8_t *buf, size_t len, struct wire_ckpt_result *out);
int wire_encode_ckpt_info(const struct wire_ckpt_info *m, uint8_t *buf, size_t cap);
int wire_decode_ckpt_info(const uint8_t *buf, size_t len, struct wire_ckpt_info *out);
int wire_encode_resume_info(const struct wire_resume_info *m, uint8_t *buf, size_t cap);
int wire_decode_resume_info(const uint8_t *buf, size_t len, struct wire_resume_info *out);

/* --- senders for the plugin: encode and send in one call, seq 0 --- */

int wire_send_ready(int fd, const char *socket_path, uint32_t pid);
int wire_send_task_started(int fd, uint32_t local_task_id, uint32_t global_rank, uint32_t pid);
int wire_send_task_exited(int fd, uint32_t global_rank, uint32_t pid, int32_t wait_status);
int wire_send_shutdown(int fd);

#endif
