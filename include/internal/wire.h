/* wire.h: the LCR wire protocol, one header for every message that lcrd exchanges with the
 * SPANK plugin (over its socketpair), with clients and lcrctl (over the control socket), and
 * later with other helpers (over TCP).
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
#define WIRE_VERSION 1
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
	WIRE_EVENT_RANK_EXITED = 1, /* a local rank's process ended */
	WIRE_EVENT_SHUTDOWN = 2,    /* the helper is shutting down (the step ends) */
};

struct wire_event {
	uint16_t type; /* enum wire_event_type */
	uint32_t rank;
	uint32_t pid;
	int32_t status; /* wait status for RANK_EXITED when known, else -1 */
	char message[WIRE_TEXT_MAX + 1];
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

/* --- framing --- */

/* Name of a message type for logs ("TASK_STARTED"), or NULL when unknown. */
const char *wire_type_name(uint16_t type);

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

/* --- senders for the plugin: encode and send in one call, seq 0 --- */

int wire_send_ready(int fd, const char *socket_path, uint32_t pid);
int wire_send_task_started(int fd, uint32_t local_task_id, uint32_t global_rank, uint32_t pid);
int wire_send_task_exited(int fd, uint32_t global_rank, uint32_t pid, int32_t wait_status);
int wire_send_shutdown(int fd);

#endif
