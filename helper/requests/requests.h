/* requests.h: the handlers of the ranks' own control-socket requests (status, shutdown,
 * registration, regions, events, PMIx events), one per message type. control.c receives and
 * checks the datagram and calls the handler registered for its type (requests_register
 * registers these; the services register theirs); the handler decodes the payload
 * (answering -EBADMSG when it is malformed), acts, and replies through control_reply*. */
#ifndef LCR_HELPER_REQUESTS_H
#define LCR_HELPER_REQUESTS_H

#include "internal/wire.h"
#include "loop/control.h"

/* Registers the handlers below with the control socket: 0 or -errno. */
int requests_register(struct lcrd *d);

request_handler request_status;
request_handler request_shutdown;
request_handler request_register;
request_handler request_region_alloc;
request_handler request_region_lookup;
request_handler request_region_free;
request_handler request_region_list;
request_handler request_region_checksum;
request_handler request_subscribe;
request_handler request_event_log;
request_handler request_pmix_event; /* pmix_events.c */

#endif
