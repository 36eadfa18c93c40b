/* transfer_server.c: the serving end of state transfer (see transfer.h). A connection that
 * opened with XFER_HELLO is authenticated here, taken out of the mesh (mesh_conn_detach) and
 * becomes a session: the event loop reads its requests and finds the replica that can serve
 * each (tasks and regions are the loop's), and a worker thread streams the bytes, so that a
 * large range never holds up the loop. One request is served at a time per session; a
 * client wanting more parallelism opens more sessions, on other peers.
 *
 * Answers: REPLY with a negative errno and a sentence for a request that cannot be served;
 * else XFER_DATA, the raw bytes (a held copy's sent in place; a live region's read once,
 * into the cipher or into a buffer: source_bytes), then XFER_END with their XXH3-64. The
 * control page is checked before and after the read: a replica that began another update
 * meanwhile voids the bytes (XFER_END status -ESTALE). A region being streamed cannot be
 * freed (transfer_server_uses).
 *
 * Copies pushed here (SNAPSHOT_PUT, wire_snapshot.h) go the other way on the same kind of
 * session: the service that holds them (transfer_server_take_copies) says where the bytes
 * go or why not (REPLY), a worker receives them into that memory, and once they are in the
 * holder is told and the sender gets SNAPSHOT_ACK with their XXH3. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal/util.h"
#include "internal/xxh3_stream.h"
#include "loop/conn_seal.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "loop/mesh_auth.h"
#include "loop/mesh_conn.h"
#include "loop/regions.h"
#include "loop/worker.h"
#include "mesh/mesh.h"
#include "services/snapshot.h"
#include "services/tasks.h"
#include "services/transfer.h"

/* One client connection. */
struct session {
	struct lcrd *d;
	int fd;
	uint32_t peer; /* its node */
	char label[WIRE_NODE_NAME_MAX + 96]; /* "h0 (0) at 127.0.0.1:4242" */
	struct wire_stream in;
	struct wire_msg msg;
	struct frame_session *seal; /* the handshake's: every frame both ways */
	uint64_t idle_timer;
	bool paused;           /* not read while a range streams (the next request waits) */
	/* the request being served, while worker runs */
	struct worker *worker;
	struct wire_xfer_request req;
	uint32_t seq;
	struct region *region;
	const struct task *task;
	struct snapshot_source copy; /* or a held copy of another node's snapshot (snapshot.h),
				      * pinned while it is served */
	uint32_t copy_rank;
	char error[WIRE_TEXT_MAX + 1];
	/* the copy being received, while worker runs */
	struct wire_snapshot_put put;
	uint8_t *put_dst;
	uint64_t put_xxh3;
	/* totals, for the session's last log line */
	uint64_t bytes_served;
	uint32_t ranges_served;
	uint32_t refusals;
	struct session *next;
};

/* One lcrd per process: its sessions, and the holder of copies pushed to it. */
static struct session *sessions;
static struct {
	transfer_copy_reserve_fn *reserve;
	transfer_copy_done_fn *done;
	void *arg;
} copy_taker;

/* --- the end of a session --- */

static void drop_copy(struct session *s);

static void unlink_session(struct session *s)
{
	for (struct session **pos = &sessions; *pos; pos = &(*pos)->next)
		if (*pos == s) {
			*pos = s->next;
			return;
		}
}

static void end_session(struct session *s, const char *why)
{
	char size[32];
	if (s->worker) {
		shutdown(s->fd, SHUT_RDWR);
		worker_cancel(s->worker);
	}
	snapshot_source_unpin(s->d, &s->copy);
	drop_copy(s);
	log_info("transfer session with %s ended (%s): served %" PRIu64 " bytes (%s) in %" PRIu32
		 " ranges, refused %" PRIu32, s->label, why, s->bytes_served,
		 util_format_size(s->bytes_served, size, sizeof(size)), s->ranges_served,
		 s->refusals);
	if (s->idle_timer)
		loop_cancel_timer(s->d->loop, s->idle_timer);
	loop_remove_fd(s->d->loop, s->fd);
	close(s->fd);
	unlink_session(s);
	frame_session_destroy(s->seal);
	free(s);
}

static void idle_expired(struct loop *loop, void *arg)
{
	struct session *s = arg;
	(void)loop;
	s->idle_timer = 0;
	if (s->worker)
		return;
	end_session(s, "idle for too long");
}

static void arm_idle_timer(struct session *s)
{
	if (s->idle_timer)
		loop_cancel_timer(s->d->loop, s->idle_timer);
	if (loop_add_timer(s->d->loop, TRANSFER_IDLE_MS, idle_expired, s, &s->idle_timer) < 0)
		s->idle_timer = 0;
}

/* --- finding the replica that serves a request --- */

static int refusal(char *why, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refusal(char *why, size_t cap, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return rc;
}

/* Whether task t can serve q: 0 with its region in *out, or a refusal. */
static int check_replica(struct lcrd *d, const struct task *t, const struct wire_xfer_request *q,
			 struct region **out, char *why, size_t cap)
{
	uint64_t committed;
	uint16_t phase;
	tasks_read_marks(t, &committed, &phase);
	if (phase == WIRE_PHASE_UPDATING)
		return refusal(why, cap, -EAGAIN, "rank %" PRIu32 " of shard '%s' on %s is in the "
			       "middle of an update (phase updating, last committed step %" PRIu64
			       "): its state is torn", t->rank, q->shard_key, d->opt.node_name,
			       committed);
	if (phase != WIRE_PHASE_COMMITTED || committed != q->step) {
		if (committed == WIRE_NO_STEP)
			return refusal(why, cap, -ESTALE, "rank %" PRIu32 " of shard '%s' on %s has "
				       "committed no step (phase %s), not step %" PRIu64, t->rank,
				       q->shard_key, d->opt.node_name, wire_phase_name(phase), q->step);
		return refusal(why, cap, -ESTALE, "rank %" PRIu32 " of shard '%s' on %s holds "
			       "committed step %" PRIu64 " (phase %s), not step %" PRIu64, t->rank,
			       q->shard_key, d->opt.node_name, committed, wire_phase_name(phase), q->step);
	}
	struct region *r = region_table_find(&d->regions, t->rank, q->region);
	if (!r)
		return refusal(why, cap, -ENOENT, "rank %" PRIu32 " of shard '%s' on %s has no "
			       "region '%s'", t->rank, q->shard_key, d->opt.node_name, q->region);
	if (q->offset > r->size || q->length > r->size - q->offset)
		return refusal(why, cap, -ERANGE, "bytes %" PRIu64 "..%" PRIu64 " are beyond region "
			       "'%s' of rank %" PRIu32 " (%" PRIu64 " bytes)", q->offset,
			       q->offset + q->length, q->region, t->rank, r->size);
	*out = r;
	return 0;
}

/* The first local replica of q's shard that can serve it, else the first one's refusal. */
static int find_replica(struct lcrd *d, const struct wire_xfer_request *q,
			const struct task **task, struct region **region, char *why, size_t cap)
{
	char other[WIRE_TEXT_MAX + 1];
	int first = 0;
	for (size_t i = 0; i < tasks_count(d->tasks); i++) {
		const struct task *t = tasks_at(d->tasks, i);
		if (!t->registered || strcmp(t->shard_key, q->shard_key) != 0)
			continue;
		int rc = check_replica(d, t, q, region, first ? other : why, first ? sizeof(other) : cap);
		if (rc == 0) {
			*task = t;
			return 0;
		}
		if (!first)
			first = rc;
	}
	if (first)
		return first;
	return refusal(why, cap, -ENOENT, "no rank of shard '%s' on %s", q->shard_key,
		       d->opt.node_name);
}

/* --- streaming one range, on the worker --- */

/* The replica still shows the step the bytes were asked for. */
static bool still_committed(const struct session *s, char *why, size_t cap)
{
	uint64_t committed;
	uint16_t phase;
	tasks_read_marks(s->task, &committed, &phase);
	if (phase == WIRE_PHASE_COMMITTED && committed == s->req.step)
		return true;
	snprintf(why, cap, "rank %" PRIu32 " of shard '%s' began another update while the range "
		 "was read (phase %s, committed step %" PRIu64 "): the bytes are torn", s->task->rank,
		 s->req.shard_key, wire_phase_name(phase), committed);
	return false;
}

/* Where the n bytes of the range at offset `at` are: in place where they cannot change
 * under the send (a held copy), or read once into buf. A live host region is read in place
 * only when the session encrypts: the cipher reads each byte once into buf, so a rank that
 * writes meanwhile makes the bytes differ from the hash (a piece the client fetches again),
 * never the tag from the bytes sent. Authenticated only, the tag and the kernel's send
 * would read the mapping at two moments: such a change would look like tampering and end
 * the session, so the bytes are copied into buf first. A CUDA region is always copied. */
static int source_bytes(struct session *s, uint64_t at, size_t n, uint8_t *buf,
			const uint8_t **out)
{
	if (s->copy.data) {
		*out = s->copy.data + at;
		return 0;
	}
	const uint8_t *view;
	int rc = region_view(s->region, at, n, &view);
	if (rc == 0 && frame_session_encrypts(s->seal)) {
		*out = view;
		return 0;
	}
	*out = buf;
	if (rc == 0) {
		memcpy(buf, view, n);
		return 0;
	}
	return rc == -EOPNOTSUPP ? region_read(s->region, at, buf, n) : rc;
}

/* The range's bytes, TRANSFER_CHUNK at a time, hashed and sealed from where source_bytes
 * put them. A replica that changes them meanwhile makes the client's hash check fail, and
 * XFER_END voids them anyway (still_committed). */
static int stream_bytes(struct session *s, uint8_t *buf, XXH3_state_t *state,
			const atomic_bool *cancel)
{
	const struct wire_xfer_request *q = &s->req;
	for (uint64_t done = 0; done < q->length;) {
		size_t n = q->length - done < TRANSFER_CHUNK ? (size_t)(q->length - done)
							     : TRANSFER_CHUNK;
		const uint8_t *bytes;
		int rc = source_bytes(s, q->offset + done, n, buf, &bytes);
		if (rc < 0) {
			snprintf(s->error, sizeof(s->error), "cannot read region '%s' of rank %" PRIu32
				 " at offset %" PRIu64 ": %s", q->region, s->copy_rank, q->offset + done,
				 strerror(-rc));
			return rc;
		}
		xxh3_stream_update(state, bytes, n);
		rc = transfer_send_sealed_bytes(s->fd, s->seal, q->offset + done, bytes, buf, n);
		if (rc < 0) {
			snprintf(s->error, sizeof(s->error), "cannot send region '%s' at offset %" PRIu64
				 ": %s", q->region, q->offset + done, strerror(-rc));
			return rc;
		}
		done += n;
		if (atomic_load(cancel))
			return -ECANCELED;
	}
	return 0;
}

static int stream_range(void *arg, const atomic_bool *cancel)
{
	struct session *s = arg;
	struct wire_xfer_data data = { .offset = s->req.offset, .length = s->req.length,
				       .rank = s->copy_rank };
	struct wire_xfer_end end = { .status = 0 };
	uint8_t head[64], tail[WIRE_TEXT_MAX + 32];
	XXH3_state_t *state = XXH3_createState();
	uint8_t *buf = malloc(TRANSFER_CHUNK);
	int rc = -ENOMEM;
	if (!state || !buf) {
		snprintf(s->error, sizeof(s->error), "out of memory");
		goto out;
	}
	XXH3_64bits_reset(state);
	/* A host region's pages mapped ahead in one call, not faulted in one by one (lcrd may
	 * never have read them: its ranks write them through their own mapping). Best effort. */
	if (!s->copy.data)
		region_populate(s->region, s->req.offset, s->req.length, false);
	rc = transfer_send_message(s->fd, s->seal, WIRE_XFER_DATA, s->seq, head,
				   wire_encode_xfer_data(&data, head, sizeof(head)));
	if (rc < 0) {
		snprintf(s->error, sizeof(s->error), "cannot send XFER_DATA: %s", strerror(-rc));
		goto out;
	}
	rc = stream_bytes(s, buf, state, cancel);
	if (rc < 0)
		goto out;
	end.xxh3 = XXH3_64bits_digest(state);
	if (!s->copy.data && !still_committed(s, end.message, sizeof(end.message)))
		end.status = -ESTALE;
	rc = transfer_send_message(s->fd, s->seal, WIRE_XFER_END, s->seq, tail,
				   wire_encode_xfer_end(&end, tail, sizeof(tail)));
	if (rc < 0)
		snprintf(s->error, sizeof(s->error), "cannot send XFER_END: %s", strerror(-rc));
	else if (end.status < 0)
		snprintf(s->error, sizeof(s->error), "%s", end.message);
	else
		s->error[0] = '\0';
out:
	XXH3_freeState(state);
	free(buf);
	return rc;
}

static void session_readable(struct loop *loop, int fd, short revents, void *arg);
static int handle_buffered(struct session *s);

/* Watches the socket again after a range, and serves a request that came meanwhile. */
static void resume_reading(struct session *s)
{
	if (s->paused) {
		if (loop_add_fd(s->d->loop, s->fd, POLLIN, session_readable, s) < 0) {
			end_session(s, "cannot watch its socket");
			return;
		}
		s->paused = false;
	}
	handle_buffered(s);
}

/* On the loop, once the worker ended. */
static void range_streamed(void *arg, int rc)
{
	struct session *s = arg;
	char size[32];
	s->worker = NULL;
	s->region = NULL;
	snapshot_source_unpin(s->d, &s->copy);
	if (rc < 0) {
		log_warning("transfer to %s stopped: %s", s->label, s->error);
		end_session(s, "stream failed");
		return;
	}
	if (s->error[0]) {
		log_warning("transfer to %s: voided %s bytes %" PRIu64 "..%" PRIu64 ": %s", s->label,
			    s->req.region, s->req.offset, s->req.offset + s->req.length, s->error);
		s->refusals++;
	} else {
		s->bytes_served += s->req.length;
		s->ranges_served++;
		log_verbose("sent %s of region '%s' (shard '%s', step %" PRIu64 ", offset %" PRIu64
			    ") from rank %" PRIu32 "%s to %s",
			    util_format_size(s->req.length, size, sizeof(size)), s->req.region,
			    s->req.shard_key, s->req.step, s->req.offset, s->copy_rank,
			    s->task ? "" : "'s held copy", s->label);
	}
	arm_idle_timer(s);
	resume_reading(s);
}

/* --- requests, on the loop --- */

static void send_reply(struct session *s, uint32_t seq, int status, const char *message)
{
	struct wire_reply reply = { .status = status };
	uint8_t buf[sizeof(reply)];
	snprintf(reply.message, sizeof(reply.message), "%s", message);
	transfer_send_message(s->fd, s->seal, WIRE_REPLY, seq, buf,
			      wire_encode_reply(&reply, buf, sizeof(buf)));
}

/* No local replica can serve q: a held copy of another node's snapshot of that step
 * (recovery from the copies) can. 0 with s->copy pinned, else the replica's refusal stays. */
static int find_copy(struct session *s, const struct wire_xfer_request *q, char *why, size_t cap)
{
	if (snapshot_copy_pin(s->d, q->shard_key, q->region, q->step, &s->copy) < 0)
		return -ENOENT;
	uint64_t size = s->copy.size;
	if (q->offset > size || q->length > size - q->offset) {
		snapshot_source_unpin(s->d, &s->copy);
		return refusal(why, cap, -ERANGE, "bytes %" PRIu64 "..%" PRIu64 " are beyond the "
			       "copy of region '%s' (%" PRIu64 " bytes)", q->offset,
			       q->offset + q->length, q->region, size);
	}
	s->copy_rank = s->copy.rank;
	s->task = NULL;
	return 0;
}

static void serve(struct session *s, uint32_t seq, const struct wire_xfer_request *q)
{
	char why[WIRE_TEXT_MAX + 1];
	int rc = find_replica(s->d, q, &s->task, &s->region, why, sizeof(why));
	if (rc == 0)
		s->copy_rank = s->task->rank;
	else if (find_copy(s, q, why, sizeof(why)) == 0)
		rc = 0;
	if (rc == 0) {
		s->req = *q;
		s->seq = seq;
		rc = worker_start(s->d->loop, stream_range, range_streamed, s, &s->worker);
		if (rc == 0)
			return;
		snprintf(why, sizeof(why), "lcrd on %s cannot start a transfer thread: %s",
			 s->d->opt.node_name, strerror(-rc));
	}
	s->region = NULL;
	snapshot_source_unpin(s->d, &s->copy);
	s->refusals++;
	log_info("refused a transfer of region '%s' (shard '%s', step %" PRIu64 ") to %s: %s",
		 q->region, q->shard_key, q->step, s->label, why);
	send_reply(s, seq, rc, why);
}

/* --- copies pushed here --- */

/* Exactly len bytes from the client: what the session had buffered first, then the socket. */
static int session_read(void *arg, void *buf, size_t len)
{
	struct session *s = arg;
	size_t from_buffer = s->in.len < len ? s->in.len : len;
	memcpy(buf, s->in.buf, from_buffer);
	memmove(s->in.buf, s->in.buf + from_buffer, s->in.len - from_buffer);
	s->in.len -= from_buffer;
	return from_buffer == len ? 0 : transfer_recv_all(s->fd, (uint8_t *)buf + from_buffer,
							 len - from_buffer);
}

static int receive_copy(void *arg, const atomic_bool *cancel)
{
	struct session *s = arg;
	XXH3_state_t *state = XXH3_createState();
	int rc = state ? 0 : -ENOMEM;
	if (state)
		XXH3_64bits_reset(state);
	for (uint64_t done = 0; rc == 0 && done < s->put.size;) {
		size_t n = s->put.size - done < TRANSFER_CHUNK ? (size_t)(s->put.size - done)
							       : TRANSFER_CHUNK;
		rc = transfer_recv_sealed_bytes(session_read, s, s->seal, done, s->put_dst + done, n);
		if (rc == 0)
			xxh3_stream_update(state, s->put_dst + done, n);
		else
			snprintf(s->error, sizeof(s->error), "the copy stopped at offset %" PRIu64
				 ": %s", done, rc == -EACCES ? "its bytes failed authentication"
							     : strerror(-rc));
		done += n;
		if (rc == 0 && atomic_load(cancel))
			rc = -ECANCELED;
	}
	if (rc == 0)
		s->put_xxh3 = XXH3_64bits_digest(state);
	XXH3_freeState(state);
	return rc;
}

static void send_ack(struct session *s, int status, const char *message)
{
	struct wire_snapshot_ack ack = { .status = status, .xxh3 = s->put_xxh3 };
	uint8_t buf[sizeof(ack) + 16];
	snprintf(ack.message, sizeof(ack.message), "%s", message);
	transfer_send_message(s->fd, s->seal, WIRE_SNAPSHOT_ACK, s->seq, buf,
			      wire_encode_snapshot_ack(&ack, buf, sizeof(buf)));
}

/* On the loop, once the copy's bytes are in (or not): the holder keeps it or frees it. */
static void copy_received(void *arg, int rc)
{
	struct session *s = arg;
	char why[WIRE_TEXT_MAX + 1] = "";
	s->worker = NULL;
	int held = copy_taker.done(copy_taker.arg, s->peer, &s->put, s->put_dst, rc, s->put_xxh3,
				   why, sizeof(why));
	s->put_dst = NULL;
	if (rc < 0) {
		log_warning("copy from %s stopped: %s", s->label, s->error);
		end_session(s, "copy failed");
		return;
	}
	send_ack(s, held, why);
	arm_idle_timer(s);
	resume_reading(s);
}

/* Frees the copy being received, when the session ends before it is in. */
static void drop_copy(struct session *s)
{
	char why[WIRE_TEXT_MAX + 1];
	if (s->put_dst && copy_taker.done)
		copy_taker.done(copy_taker.arg, s->peer, &s->put, s->put_dst, -ECANCELED, 0, why,
				sizeof(why));
	s->put_dst = NULL;
}

/* A SNAPSHOT_PUT: the go-ahead (REPLY 0) and a worker that receives the bytes, or a
 * refusal. 0, or -1 when the session ended. */
static int take_copy(struct session *s, uint32_t seq)
{
	char why[WIRE_TEXT_MAX + 1];
	int rc;
	s->seq = seq;
	if (wire_decode_snapshot_put(s->msg.payload, s->msg.header.length, &s->put) < 0)
		rc = refusal(why, sizeof(why), -EBADMSG, "malformed SNAPSHOT_PUT");
	else if (!copy_taker.reserve)
		rc = refusal(why, sizeof(why), -EOPNOTSUPP, "lcrd on %s holds no copies (its "
			     "redundancy is not copy)", s->d->opt.node_name);
	else
		rc = copy_taker.reserve(copy_taker.arg, s->peer, &s->put, &s->put_dst, why,
					sizeof(why));
	if (rc < 0) {
		s->refusals++;
		log_info("refused a copy from %s: %s", s->label, why);
		send_reply(s, seq, rc, why);
		return 0;
	}
	/* The go-ahead goes before the worker starts: the loop and the worker never use the
	 * seal at once. */
	send_reply(s, seq, 0, "");
	rc = worker_start(s->d->loop, receive_copy, copy_received, s, &s->worker);
	if (rc < 0) {
		log_warning("cannot start a thread to receive a copy from %s: %s", s->label,
			    strerror(-rc));
		drop_copy(s);
		end_session(s, "cannot receive a copy");
		return -1;
	}
	return 0;
}

/* One whole message from the client: 0, or -1 when the session ended. */
static int handle_message(struct session *s)
{
	struct wire_xfer_request q;
	char why[96];
	if (s->msg.header.type == WIRE_SNAPSHOT_PUT)
		return take_copy(s, s->msg.header.seq);
	if (s->msg.header.type != WIRE_XFER_REQUEST) {
		snprintf(why, sizeof(why), "sent %s where XFER_REQUEST was expected",
			 wire_type_name(s->msg.header.type));
		send_reply(s, s->msg.header.seq, -EPROTO, why);
		end_session(s, why);
		return -1;
	}
	if (wire_decode_xfer_request(s->msg.payload, s->msg.header.length, &q) < 0) {
		send_reply(s, s->msg.header.seq, -EBADMSG, "malformed XFER_REQUEST");
		end_session(s, "malformed XFER_REQUEST");
		return -1;
	}
	if (s->idle_timer) {
		loop_cancel_timer(s->d->loop, s->idle_timer);
		s->idle_timer = 0;
	}
	serve(s, s->msg.header.seq, &q);
	return 0;
}

/* Serves the whole requests read so far, up to one that starts a stream: 0, or -1 when the
 * session ended. */
static int handle_buffered(struct session *s)
{
	uint8_t header[WIRE_HEADER_SIZE], tag[WIRE_SEAL_SIZE];
	int next;
	while (!s->worker && (next = wire_stream_next_sealed(&s->in, &s->msg, tag)) != -EAGAIN) {
		if (next < 0) {
			end_session(s, "a corrupt stream");
			return -1;
		}
		wire_encode_header(s->msg.header.type, s->msg.header.seq, s->msg.header.length, header);
		if (frame_open(s->seal, header, sizeof(header), s->msg.payload, s->msg.header.length,
			       tag) < 0) {
			log_warning("closing the transfer session with %s: a %s frame failed "
				    "authentication (altered, replayed, out of order, or sealed with "
				    "another wire_encryption setting)", s->label,
				    wire_type_name(s->msg.header.type));
			end_session(s, "a frame failed authentication");
			return -1;
		}
		if (handle_message(s) < 0)
			return -1;
	}
	return 0;
}

static void session_readable(struct loop *loop, int fd, short revents, void *arg)
{
	struct session *s = arg;
	int rc;
	(void)revents;
	if (s->worker) {
		/* The next request (or the end of stream) waits until the range is sent: the
		 * worker owns the socket. A client that went away makes the worker's send fail. */
		s->paused = true;
		loop_remove_fd(loop, fd);
		return;
	}
	rc = wire_stream_fill(fd, &s->in);
	if (handle_buffered(s) < 0)
		return;
	if (rc < 0 && rc != -EAGAIN && !s->worker)
		end_session(s, rc == -ECONNRESET ? "closed by the client" : strerror(-rc));
	else if (rc < 0 && rc != -EAGAIN) {
		s->paused = true;
		loop_remove_fd(loop, fd);
	}
}

/* --- the handshake --- */

/* Refuses a connection still in the mesh: logged, and the peer is told why. */
static void refuse(struct mesh *m, struct mesh_conn *c, const char *claim, const char *why)
{
	struct wire_reply reply = { .status = -EACCES };
	uint8_t buf[sizeof(reply)];
	log_warning("refused a transfer connection from %s%s: %s", c->peer_text, claim, why);
	snprintf(reply.message, sizeof(reply.message), "lcrd on %s refused the transfer "
		 "connection: %s", mesh_lcrd(m)->opt.node_name, why);
	mesh_conn_send(c, WIRE_REPLY, buf, wire_encode_reply(&reply, buf, sizeof(buf)));
	mesh_conn_close(c, 0);
}

/* Starts a session on fd, sealed by seal (taken over), which the welcome (frame[len])
 * opens. */
static void start_session(struct mesh *m, int fd, uint32_t peer, const char *peer_text,
			  struct frame_session *seal, const uint8_t *frame, size_t len)
{
	char label[WIRE_NODE_NAME_MAX + 16];
	struct session *s = calloc(1, sizeof(*s));
	int rc = s ? 0 : -ENOMEM;
	if (rc == 0) {
		s->d = mesh_lcrd(m);
		s->fd = fd;
		s->peer = peer;
		s->seal = seal;
		snprintf(s->label, sizeof(s->label), "%s at %s",
			 mesh_node_label(m, peer, label, sizeof(label)), peer_text);
		wire_stream_init(&s->in);
		rc = transfer_send_all(fd, frame, len);
	}
	if (rc == 0)
		rc = loop_add_fd(mesh_lcrd(m)->loop, fd, POLLIN, session_readable, s);
	if (rc < 0) {
		log_warning("cannot start a transfer session with %s: %s", peer_text, strerror(-rc));
		close(fd);
		frame_session_destroy(seal);
		free(s);
		return;
	}
	s->next = sessions;
	sessions = s;
	arm_idle_timer(s);
	log_info("transfer session with %s started", s->label);
}

/* A WIRE_XFER_HELLO on an incoming mesh connection (registered with the mesh): checks the
 * credential and, when it is good, takes the connection out of the mesh as a transfer
 * session; else refuses it with the reason. */
static void adopt(struct mesh *m, struct mesh_conn *c, const struct wire_msg *msg)
{
	static struct wire_xfer_hello hello;
	static struct wire_mesh_welcome welcome;
	static uint8_t frame[WIRE_MAX_MESSAGE];
	static uint8_t payload[WIRE_MAX_PAYLOAD];
	struct wire_mesh_auth auth;
	char err[512], claim[64], peer_text[sizeof(c->peer_text)];
	struct frame_session *seal;
	int n;
	if (wire_decode_xfer_hello(msg->payload, msg->header.length, &hello) < 0) {
		refuse(m, c, "", "malformed XFER_HELLO");
		return;
	}
	int rc = mesh_hello_open(m, c, msg, WIRE_XFER_HELLO, hello.from_node, hello.to_node,
				 hello.credential, &auth, claim, sizeof(claim), err, sizeof(err));
	if (rc == -EINPROGRESS)
		return;
	if (rc < 0) {
		refuse(m, c, claim, err);
		return;
	}
	if (c->in->len != 0) {
		refuse(m, c, claim, "sent more than XFER_HELLO before the answer");
		return;
	}
	if (mesh_hello_answer(m, c, WIRE_XFER_HELLO, hello.from_node, &auth, &welcome, &seal, err,
			      sizeof(err)) < 0) {
		refuse(m, c, claim, err);
		return;
	}
	n = wire_encode_mesh_welcome(&welcome, payload, sizeof(payload));
	n = n < 0 ? n : wire_frame(WIRE_MESH_WELCOME, 0, payload, (uint32_t)n, frame, sizeof(frame));
	if (n < 0) {
		frame_session_destroy(seal);
		refuse(m, c, claim, "cannot encode the answer");
		return;
	}
	snprintf(peer_text, sizeof(peer_text), "%s", c->peer_text);
	start_session(m, mesh_conn_detach(c), hello.from_node, peer_text, seal, frame, (size_t)n);
}

/* --- the rest of lcrd --- */

int transfer_server_register(struct lcrd *d)
{
	return mesh_handle_connection(d, WIRE_XFER_HELLO, adopt);
}

void transfer_server_take_copies(struct lcrd *d, transfer_copy_reserve_fn *reserve,
				 transfer_copy_done_fn *done, void *arg)
{
	(void)d;
	copy_taker.reserve = reserve;
	copy_taker.done = done;
	copy_taker.arg = arg;
}

bool transfer_server_uses(struct lcrd *d, const struct region *r)
{
	for (struct session *s = sessions; s; s = s->next)
		if (s->d == d && s->worker && s->region == r)
			return true;
	return false;
}

void transfer_server_close(struct lcrd *d)
{
	struct session *s = sessions, *next;
	for (; s; s = next) {
		next = s->next;
		if (s->d == d)
			end_session(s, "the helper ends");
	}
}
