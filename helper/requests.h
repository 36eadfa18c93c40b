/* requests.h: the handlers of control-socket requests, one per message type. control.c
 * receives and checks the datagram and calls the handler; the handler decodes the payload
 * (answering -EBADMSG when it is malformed), acts, and replies through control_reply*. */
#ifndef LCR_HELPER_REQUESTS_H
#define LCR_HELPER_REQUESTS_H

#include "control.h"
#include "internal/wire.h"

typedef void request_handler(struct client *c, const struct wire_msg *msg);

request_handler request_status;
request_handler request_shutdown;
request_handler request_register;
request_handler request_region_alloc;
request_handler request_region_lookup;
request_handler request_region_free;
request_handler request_region_list;
request_handler request_region_checksum;
request_handler request_subscribe;
request_handler request_kv_put;
request_handler request_kv_get;
request_handler request_barrier;
request_handler request_event_log;
request_handler request_pmix_event; /* pmix_events.c */

struct region;

/* Answers with a region's description (flags: WIRE_REGION_REATTACHED or 0) and a
 * descriptor of its memory; a restored region is answered this way once it is filled. */
void request_reply_region(struct client *c, uint32_t seq, struct region *r, uint16_t flags);

#endif
