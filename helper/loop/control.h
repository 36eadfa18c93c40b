/* control.h: the control socket, a SOCK_SEQPACKET UNIX socket (one datagram per message, so
 * no framing is needed and descriptors travel with the message they belong to). Every
 * accepted peer is checked with SO_PEERCRED: its uid must be lcrd's own, or it is logged
 * and closed. Each connection is a client session: lcrctl, or a rank through liblcr. */
#ifndef LCR_HELPER_CONTROL_H
#define LCR_HELPER_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal/wire.h"

struct lcrd;
struct task;

struct client {
	struct lcrd *d;
	uint64_t id; /* for log lines */
	int fd;
	pid_t pid;
	uid_t uid;
	struct task *task; /* the rank this session registered, or NULL */
	bool subscribed;   /* receives WIRE_EVENTs */
	struct client *next;
};

/* A request type's handler: it answers with control_reply / control_reply_status, now or
 * later (a parked request). */
typedef void request_handler(struct client *c, const struct wire_msg *msg);
/* A service's cleanup when session c closes (it must forget c). */
typedef void control_release_fn(struct lcrd *d, struct client *c);

/* A service offers a request type: the requests the socket receives of that type go to
 * handler. 0, -EEXIST (the type is taken) or -ENOSPC (CONTROL_HANDLERS_MAX). */
#define CONTROL_HANDLERS_MAX 32
struct control_request {
	uint16_t type;
	request_handler *handler;
};
int control_register(struct lcrd *d, const struct control_request *requests, size_t count);
/* A service that keeps something per session is told when one closes (the last registered
 * first). 0 or -ENOSPC (CONTROL_RELEASES_MAX). */
#define CONTROL_RELEASES_MAX 8
int control_on_release(struct lcrd *d, control_release_fn *release);

/* Sets up d->control, before any service registers: 0 or -ENOMEM. */
int control_create(struct lcrd *d);
/* Binds and listens on d->dir.socket_path and watches it in the loop: 0 or -errno. */
int control_open(struct lcrd *d);
/* Sends WIRE_EVENT_SHUTDOWN to subscribers, closes every session and the socket. */
void control_close(struct lcrd *d);

uint32_t control_client_count(const struct lcrd *d);

/* Sends ev to every subscribed session. */
void control_broadcast_event(struct lcrd *d, const struct wire_event *ev);

/* The rank c held was taken over by a new session. */
void control_forget_rank(struct client *c);

/* Replies: a typed payload (and a descriptor when fd >= 0) / WIRE_REPLY with a status and a
 * printf-style message. Failures to send are logged; the session stays. */
void control_reply(struct client *c, uint32_t seq, uint16_t type, const uint8_t *payload,
		   int len, int fd);
void control_reply_status(struct client *c, uint32_t seq, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct region;

/* Answers with a region's description (flags: WIRE_REGION_REATTACHED or 0) and a
 * descriptor of its memory; a restored region is answered this way once it is filled. */
void control_reply_region(struct client *c, uint32_t seq, struct region *r, uint16_t flags);

#endif
