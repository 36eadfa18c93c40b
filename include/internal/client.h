/* client.h: liblcr's internals shared by its source files (client.c: sessions and requests;
 * client_regions.c: region mapping; client_cuda.c: the CUDA import; client_events.c:
 * events, key-value store and barriers; client_store.c: the job-wide store; client_pmix.c: PMIx failure events forwarded to the
 * helper). Not installed. */
#ifndef LCR_INTERNAL_CLIENT_H
#define LCR_INTERNAL_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal/control_page.h"
#include "internal/wire.h"
#include "lcr.h"

/* How long a request that does not wait by design may take before the helper is deemed
 * hung (a large CUDA allocation or a checksum of a large region can take seconds). */
#define CLIENT_REPLY_TIMEOUT_MS 120000

/* An event read from the helper and not yet returned by lcr_event_next. */
struct client_queued_event {
	struct lcr_event event;
	struct client_queued_event *next;
};

/* A region this process has mapped. */
struct client_region {
	char name[WIRE_NAME_MAX + 1];
	enum lcr_region_kind kind;
	uint64_t size;
	uint64_t map_size;
	void *ptr;
	int cuda_device; /* CUdevice of a CUDA mapping (its primary context is retained) */
	struct client_region *next;
};

struct lcr_session {
	pthread_mutex_t lock; /* serializes requests; update marks do not take it */
	int fd;               /* requests and replies */
	/* Events: the helper pushes them on event_socket; the ones read from it before the
	 * application asked (client_event_join_told_after) wait in a queue, and event_ready (an
	 * eventfd) is readable while the queue holds one. event_fd, what lcr_event_fd gives,
	 * is an epoll set of both: readable while an event waits in either place. The three
	 * are valid together, when event_fd >= 0. events_lock guards the queue and the socket. */
	int event_fd;
	int event_socket;
	int event_ready;
	pthread_mutex_t events_lock;
	struct client_queued_event *queued_first, *queued_last;
	bool events_ended;    /* the event socket reached its end; HELPER_LOST not yet returned */
	bool events_lost;     /* HELPER_LOST was returned */
	uint32_t seq;
	struct control_page *page; /* NULL until registered */
	/* the page's rollback generation the rank knows of: lcr_update_begin refuses another */
	_Atomic uint32_t rollback_acknowledged;
	uint32_t rank;
	struct client_region *regions;
	char last_error[WIRE_TEXT_MAX + 1];
	struct client_pmix *pmix; /* PMIx event forwarding, NULL until attached (client_pmix.c) */
	struct wire_msg reply;
	struct wire_msg event;
	/* scratch for the larger requests, used under the lock */
	union {
		struct wire_kv_put put;
		struct wire_kv_value value;
		struct wire_store_request store_request;
		struct wire_store_reply store_reply;
	} kv;
	uint8_t out[WIRE_MAX_PAYLOAD];
};

/* Sends a request and waits for its reply in s->reply (timeout_ms, -1: for ever). When the
 * helper answers WIRE_REPLY, its status is returned and its message kept as last_error; a
 * reply of type `want` returns 0. -ENOTCONN when the helper went away. Hold s->lock. A
 * descriptor that comes with the reply is in s->reply.fd, owned by the caller. */
int client_request(struct lcr_session *s, uint16_t type, const uint8_t *payload, int len,
		   uint16_t want, int timeout_ms);

/* Sets last_error to a message of the library's own. */
void client_set_error(struct lcr_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Copies a name of 1 to WIRE_NAME_MAX bytes: 0 or -EINVAL (last_error set). */
int client_copy_name(struct lcr_session *s, char *dst, const char *name, const char *what);

/* Makes socket (subscribed to the helper's events) the session's event connection, with
 * its queue, eventfd and epoll set: 0, or -errno with socket closed. */
int client_events_open(struct lcr_session *s, int socket);

/* Closes the event connection and frees the queued events (at close). */
void client_events_close(struct lcr_session *s);

/* Reads every event waiting on the event socket into the queue without blocking, then says
 * whether a queued LCR_EVENT_NODE_JOINED has an epoch greater than `epoch`: helpers tell a
 * join only once no node is down, so a build at `epoch` is then obsolete (no member comes
 * at it any more). The events stay queued for lcr_event_next. */
bool client_event_join_told_after(struct lcr_session *s, uint64_t epoch);

/* Unmaps every region of the session (at close). */
void client_unmap_all(struct lcr_session *s);

/* lcr_open's automatic lcr_pmix_attach: when PMIX_NAMESPACE and PMIX_RANK are set and
 * LCR_PMIX is not "0". A failure leaves the session without PMIx, its message in last_error. */
void client_pmix_auto_attach(struct lcr_session *s);

/* Deregisters the PMIx handler and finalises PMIx, if attached (lcr_close). */
void client_pmix_detach(struct lcr_session *s);

#ifdef HAVE_CUDA
/* The UUID of CUDA device `device` of this process (-1: the current context's device, or
 * device 0): 0 or -errno. */
int client_cuda_device_uuid(struct lcr_session *s, int device, uint8_t uuid[WIRE_UUID_SIZE]);
/* Imports the allocation behind fd and maps map_size bytes of it on the device with this
 * UUID, retaining the device's primary context (made current when the thread has none):
 * 0 with *ptr and *device set, or -errno. fd is left open. */
int client_cuda_map(struct lcr_session *s, int fd, uint64_t map_size,
		    const uint8_t uuid[WIRE_UUID_SIZE], void **ptr, int *device);
/* Unmaps a mapping made by client_cuda_map and releases its context. */
void client_cuda_unmap(void *ptr, uint64_t map_size, int device);
#endif

#endif
