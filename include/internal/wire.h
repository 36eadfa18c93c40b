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
 * The messages are grouped by link, one header each, all included here: wire_plugin.h (the
 * plugin's socketpair), wire_control.h (the control socket), wire_mesh.h (helpers and the
 * rendezvous over TCP), wire_mesh_ckpt.h (the mesh's checkpoint), wire_jobkv.h (the job-wide
 * key-value store, control socket and mesh), wire_xfer.h (state transfer) and
 * wire_snapshot.h (snapshots and their copies on other nodes). A flat message is described
 * once, by a field list from which its struct, its encoder and decoder and its entries in
 * the codec tests come (wire_describe.h); each link lists its message types once, from
 * which enum wire_type and wire_type_name come.
 *
 * Encoders write into buf (capacity cap) and return the byte count, or -EMSGSIZE (too small
 * a buffer) / -EINVAL (a field out of range, such as a string too long); decoders return 0
 * or -EBADMSG and read only `len` bytes.
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
#define WIRE_VERSION 10 /* 2: mesh credentials seal their purpose and the acceptor's challenge;
			 * 3: a checkpoint RESULT's hashes carry their rank and role;
			 * 4: frames after a mesh or transfer handshake carry a seal;
			 * 5: snapshots and their copies (wire_snapshot.h), the status' redundancy;
			 * 6: REPLACING carries the step the ranks resume at, a copy its shard key;
			 * 7: a checkpoint's ASK and WRITE may name a snapshot step, a copy its
			 *    rank's data-parallel size, SNAPSHOT_DONE its copy partners;
			 * 8: SNAPSHOT_PUT carries erasure-coded chunks, the status their groups
			 *    and what auto chose;
			 * 9: SNAPSHOT_PUT carries a snapshot's layout and the blocks of a
			 *    lost node's rebuild;
			 * 10: a snapshot's copy and layout carry their regions' kind (host or
			 *    CUDA), the status the snapshot hold's waits */
#define WIRE_HEADER_SIZE 16
#define WIRE_MAX_PAYLOAD 65536
#define WIRE_MAX_MESSAGE (WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD)
/* After the handshake of a connection between helpers (or with the rendezvous), every frame
 * is followed by a seal of this many bytes (helper/loop/conn_seal.h), which the length field
 * does not count. */
#define WIRE_SEAL_SIZE 16

#define WIRE_NAME_MAX 63       /* region names, KV keys, barrier names, shard keys */
#define WIRE_NODE_NAME_MAX 127 /* Slurm node names */
#define WIRE_PATH_MAX 107      /* a UNIX socket path (sun_path less its terminator) */
#define WIRE_TEXT_MAX 255      /* error and event messages */
#define WIRE_ADDR_MAX 45       /* a numeric IPv4 or IPv6 address */
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

#include "internal/wire_plugin.h"
#include "internal/wire_control.h"
#include "internal/wire_mesh.h"
#include "internal/wire_mesh_ckpt.h"
#include "internal/wire_xfer.h"
#include "internal/wire_jobkv.h"
#include "internal/wire_snapshot.h"

/* Every message type of every link, T(NAME, number). */
#define WIRE_TYPES(T)                                                                   \
	WIRE_PLUGIN_TYPES(T) WIRE_CONTROL_TYPES(T) WIRE_MESH_TYPES(T)                   \
	WIRE_MESH_CKPT_TYPES(T) WIRE_XFER_TYPES(T) WIRE_JOBKV_TYPES(T) WIRE_SNAPSHOT_TYPES(T)

/* Every payload kind of every link, X(kind): wire_encode_kind and wire_decode_kind. */
#define WIRE_MESSAGES(X)                                                                \
	WIRE_PLUGIN_MESSAGES(X) WIRE_CONTROL_MESSAGES(X) WIRE_MESH_MESSAGES(X)          \
	WIRE_MESH_CKPT_MESSAGES(X) WIRE_XFER_MESSAGES(X) WIRE_JOBKV_MESSAGES(X)         \
	WIRE_SNAPSHOT_MESSAGES(X)

#define WIRE_TYPE_ENUMERATOR(name, number) WIRE_##name = number,
enum wire_type { WIRE_TYPES(WIRE_TYPE_ENUMERATOR) };
#undef WIRE_TYPE_ENUMERATOR

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

/* The receive side of a stream socket (the mesh's TCP): bytes gather here until a whole
 * message is in. About 64 KiB. */
struct wire_stream {
	size_t len;
	uint8_t buf[WIRE_MAX_MESSAGE + WIRE_SEAL_SIZE];
};

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

/* The same for a sealed stream: the WIRE_SEAL_SIZE bytes after the payload go to seal. */
int wire_stream_next_sealed(struct wire_stream *s, struct wire_msg *out, uint8_t seal[WIRE_SEAL_SIZE]);

/* Writes header and payload of one message into buf[cap]: the frame's size, or -EMSGSIZE. */
int wire_frame(uint16_t type, uint32_t seq, const uint8_t *payload, uint32_t len, uint8_t *buf,
	       size_t cap);

#endif
