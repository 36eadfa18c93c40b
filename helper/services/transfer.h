/* transfer.h: state transfer between helpers. A helper that needs its ranks' state (the
 * replacement of a lost node, lcrd --rejoin) takes it straight from the memory of the
 * surviving replicas instead of reading a checkpoint back from storage.
 *
 * Server (transfer_server.c). A peer connects to this helper's mesh listener and opens with
 * WIRE_XFER_HELLO instead of WIRE_MESH_HELLO; mesh.c hands the connection over here. Once
 * its MUNGE credential checks out (same job and step, a node of the step, addressed to this
 * node) the connection leaves the mesh and becomes a transfer session: it answers requests
 * {shard key, region, step S, offset, length} one at a time from a local replica of that
 * shard whose control page shows step S committed, streaming the bytes on a worker thread
 * followed by their XXH3-64, and refuses with a reason what it cannot serve. It only reads.
 *
 * Client (transfer_client.c). transfer_fill fills one region from up to TRANSFER_MAX_PEERS
 * peers in parallel: the region's checkpoint ranges (whose hashes come from the manifest)
 * are cut into pieces, each peer is handed pieces as it finishes the last one, each piece
 * is checked against the hash its server read, and each whole range against the manifest's
 * hash (end to end). A piece that fails is retried on another peer; a range that no peer
 * could serve, or whose bytes do not match the manifest, is read from the checkpoint file.
 * Without a manifest (no_hashes: a replacement that starts before the failure's checkpoint
 * is published) the server's hash of each piece is the end-to-end check.
 * A peer that moves no byte for TRANSFER_STALL_MS is dropped. See wire.h, "state transfer".
 *
 * After the handshake every message both ways, and every piece of at most TRANSFER_CHUNK
 * bytes of a range, is followed by its seal (conn_seal.h): one that does not open ends the
 * connection, logged with the peer's name. */
#ifndef LCR_HELPER_TRANSFER_H
#define LCR_HELPER_TRANSFER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal/manifest.h"
#include "internal/wire.h"

struct lcrd;
struct mesh;
struct frame_session;
struct mesh_conn;
struct region;

#define TRANSFER_MAX_PEERS 4        /* peers one fill streams from at once */
#define TRANSFER_STALL_MS 10000     /* no byte moved for this long: the peer is dropped */
#define TRANSFER_IDLE_MS 60000      /* a server session without a request is closed */
#define TRANSFER_CHUNK (4u << 20)   /* bytes per read of a region or of the socket */
#define TRANSFER_PIECE_MIN (1u << 20)
#define TRANSFER_PIECE_MAX (64u << 20)

/* --- server --- */

/* Registers with the mesh (mesh_handle_connection) for the incoming connections that open
 * with WIRE_XFER_HELLO: each, once its credential is checked, leaves the mesh as a transfer
 * session; one whose credential is not good is refused with the reason. 0 or -errno. */
int transfer_server_register(struct lcrd *d);

/* Copies pushed to this helper (SNAPSHOT_PUT, wire_snapshot.h), for the service that holds
 * them (snapshot.c). On the loop. reserve says where a copy's bytes go: 0 with *dst of
 * put->size bytes (the taker's), or a negative errno with the reason in why (the sender is
 * refused with it). done is told whether every byte arrived (rc 0, their XXH3) or not
 * (rc < 0): it returns 0 when the copy is held, or a negative errno with why; the sender's
 * SNAPSHOT_ACK says which. Without a taker, every SNAPSHOT_PUT is refused. */
struct wire_snapshot_put;
typedef int transfer_copy_reserve_fn(void *arg, uint32_t peer, const struct wire_snapshot_put *put,
				     uint8_t **dst, char *why, size_t cap);
typedef int transfer_copy_done_fn(void *arg, uint32_t peer, const struct wire_snapshot_put *put,
				  uint8_t *dst, int rc, uint64_t xxh3, char *why, size_t cap);
void transfer_server_take_copies(struct lcrd *d, transfer_copy_reserve_fn *reserve,
				 transfer_copy_done_fn *done, void *arg);

/* Whether a transfer session is reading region r (it must not be freed meanwhile). */
bool transfer_server_uses(struct lcrd *d, const struct region *r);

/* Ends every session (their workers stopped), for a helper that ends. */
void transfer_server_close(struct lcrd *d);

/* --- the socket, on either end (transfer_client.c) --- */

/* Sends / receives exactly len bytes on a non-blocking socket, waiting for progress at most
 * TRANSFER_STALL_MS at a time: 0, -ETIMEDOUT, -ECONNRESET (the peer closed) or -errno. */
int transfer_send_all(int fd, const void *buf, size_t len);
int transfer_recv_all(int fd, void *buf, size_t len);

/* Frames, seals (conn_seal.h) and sends one message of at most TRANSFER_SEALED_MAX bytes
 * (payload_len < 0: the encoder's error, returned); seal NULL: before the handshake, in the
 * clear. */
int transfer_send_message(int fd, struct frame_session *seal, uint16_t type, uint32_t seq,
			  const uint8_t *payload, int payload_len);

/* Seals and sends len bytes of a range, their offset authenticated with them. bytes stay
 * unchanged: they go on the wire from where they are when the session only authenticates,
 * else encrypted into scratch (len bytes, which may be bytes itself) first. */
int transfer_send_sealed_bytes(int fd, struct frame_session *seal, uint64_t offset,
			       const uint8_t *bytes, uint8_t *scratch, size_t len);

/* Receives len bytes of a range sealed by transfer_send_sealed_bytes at offset, and opens
 * them in place: 0, -EACCES (they do not open), or the socket's -errno. read(arg, buf, n)
 * receives exactly n bytes (transfer_recv_all, or a session's buffered bytes first). */
typedef int transfer_read_fn(void *arg, void *buf, size_t len);
int transfer_recv_sealed_bytes(transfer_read_fn *read, void *arg, struct frame_session *seal,
			       uint64_t offset, uint8_t *buf, size_t len);

#define TRANSFER_SEALED_MAX 2048 /* the largest message after the handshake, in bytes */

/* --- client --- */

/* A peer to fetch from: its node id and name (for logs) and its mesh listener. */
struct transfer_peer {
	uint32_t node;
	char name[WIRE_NODE_NAME_MAX + 1];
	struct sockaddr_storage sa;
	socklen_t sa_len;
};

/* Who this client is, for the credentials. */
struct transfer_identity {
	uint32_t self;
	uint32_t job_id;
	uint32_t step_id;
	const char *munge_socket; /* NULL: MUNGE's default */
	bool wire_encryption;     /* the site's: frames encrypted, not only authenticated */
};

/* Every live node of d's mesh but this one, at most cap, into out: the count (0 when the
 * mesh is not up). On the loop thread. */
size_t transfer_peers_of(struct lcrd *d, struct transfer_peer *out, size_t cap);

/* This helper's identity in its mesh. */
void transfer_identity_of(struct lcrd *d, struct transfer_identity *out);

/* One authenticated connection to a peer's transfer server. */
struct transfer_conn;

/* Connects to peer, sends XFER_HELLO and checks the answer's credential. 0, or -errno with
 * err set (-EACCES: the peer refused, with its reason). */
int transfer_conn_open(const struct transfer_peer *peer, const struct transfer_identity *id,
		       struct transfer_conn **out, char *err, size_t errlen);
void transfer_conn_close(struct transfer_conn *c);

/* Where fetched bytes go, as they arrive (offset in the region): 0 or -errno (stops). */
typedef int transfer_sink_fn(void *arg, uint64_t offset, const void *data, size_t len);

/* What one fetch got: the server's hash, the hash of what arrived, and the replica. */
struct transfer_fetched {
	uint64_t server_xxh3;
	uint64_t received_xxh3;
	uint32_t rank;
	bool refused; /* the server refused or voided the range: err has its reason */
};

/* Asks for one range and passes its bytes to sink. 0 when every byte arrived and the
 * server's hash matches what arrived; -EILSEQ when they differ; the server's negative
 * status with f->refused set when it refused or voided the range; or -errno of the
 * connection (-ETIMEDOUT after TRANSFER_STALL_MS without progress), the connection then
 * unusable. err says what happened. */
int transfer_conn_fetch(struct transfer_conn *c, const struct wire_xfer_request *req,
			transfer_sink_fn *sink, void *arg, struct transfer_fetched *f, char *err,
			size_t errlen);

/* The same, the bytes received straight into dst (req->length bytes of host memory, such as
 * a region's view): no copy after the socket's, each chunk opened and hashed where it
 * landed. dst holds bytes that are not checked yet until the fetch returns 0. */
int transfer_conn_fetch_into(struct transfer_conn *c, const struct wire_xfer_request *req,
			     uint8_t *dst, struct transfer_fetched *f, char *err, size_t errlen);

/* Pushes one copy (SNAPSHOT_PUT): put->size bytes of data, which stay unchanged. 0 with
 * *held_xxh3 the hash of what the peer now holds; the peer's negative status when it
 * refused or did not keep the copy; or -errno of the connection, then unusable. err says
 * what happened. */
int transfer_conn_put(struct transfer_conn *c, const struct wire_snapshot_put *put,
		      const uint8_t *data, uint64_t *held_xxh3, char *err, size_t errlen);

/* What to fill a region with. */
struct transfer_want {
	const char *shard_key;
	const char *region_name;
	uint64_t step;
	const struct manifest_range *ranges; /* tiling the region, with their hashes */
	size_t range_count;
	bool no_hashes;   /* the ranges carry no hash (no checkpoint published yet): each piece
			   * is checked against the hash its server read, nothing else */
	int file_fd;      /* the checkpoint data file, open read-only, or -1: no fallback */
	const char *file; /* its path, for messages */
};

struct transfer_stats {
	size_t peer_count;
	uint32_t peer_node[TRANSFER_MAX_PEERS];
	char peer_name[TRANSFER_MAX_PEERS][WIRE_NODE_NAME_MAX + 1];
	uint64_t peer_bytes[TRANSFER_MAX_PEERS];
	uint64_t bytes_from_peers;
	uint64_t bytes_from_file;
	uint32_t ranges_from_file;
	uint32_t pieces_retried;
	uint64_t bytes_hashed_again; /* read back from the region to check a range (not hashed
				      * as they arrived: a range of several pieces, a CUDA region) */
	uint64_t elapsed_ns;
};

/* Fills region r as described, from peers[0 .. peer_count) (at most TRANSFER_MAX_PEERS are
 * used) and from the checkpoint file where they fail. Blocking: run it on a worker thread.
 * 0 when every range is in and matches its hash; -EUCLEAN when a range matches from nowhere,
 * -ECANCELED, or -errno; err says why. *stats counts where the bytes came from. */
int transfer_fill(struct region *r, const struct transfer_want *w,
		  const struct transfer_identity *id, const struct transfer_peer *peers,
		  size_t peer_count, const atomic_bool *cancel, struct transfer_stats *stats,
		  char *err, size_t errlen);

/* "1.0 GiB in 0.52 s (1.9 GiB/s): 1.0 GiB from 2 peers (h1: 512 MiB, h2: 512 MiB), 0 B from
 * the checkpoint file" into buf. */
void transfer_describe(const struct transfer_stats *s, uint64_t total, char *buf, size_t cap);

#endif
