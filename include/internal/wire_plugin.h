/* wire_plugin.h: the messages between the SPANK plugin and its lcrd, over the socketpair the
 * plugin made when it started the helper (part of wire.h: include internal/wire.h). The
 * plugin runs inside slurmstepd as root, so it sends with the wire_send_* calls below. */
#ifndef LCR_INTERNAL_WIRE_PLUGIN_H
#define LCR_INTERNAL_WIRE_PLUGIN_H

#include <stdint.h>

#include "internal/wire_describe.h"

/* The link's message types: T(NAME, number) gives enum wire_type's WIRE_NAME and its log
 * name (wire_type_name). */
#define WIRE_PLUGIN_TYPES(T)                                                            \
	T(READY, 1)        /* lcrd -> plugin: listening, here is the control socket */  \
	T(TASK_STARTED, 2) /* plugin -> lcrd */                                         \
	T(TASK_EXITED, 3)  /* plugin -> lcrd */                                         \
	T(SHUTDOWN, 4)     /* plugin or lcrctl -> lcrd: end the helper; no payload */

#define WIRE_FIELDS_ready(F)                                                            \
	F(u32, pid)                        /* lcrd's pid */                             \
	F(str, socket_path, WIRE_PATH_MAX) /* the control socket */

#define WIRE_FIELDS_task_started(F)                                                     \
	F(u32, local_task_id)                                                           \
	F(u32, global_rank)                                                             \
	F(u32, pid)

#define WIRE_FIELDS_task_exited(F)                                                      \
	F(u32, global_rank)                                                             \
	F(u32, pid)                                                                     \
	F(i32, wait_status) /* as from waitpid(2) */

/* The link's payloads, all flat (wire_describe.h). */
#define WIRE_PLUGIN_MESSAGES(X) X(ready) X(task_started) X(task_exited)
WIRE_PLUGIN_MESSAGES(WIRE_FLAT_DECLARE)

/* Senders for the plugin: encode and send in one call, seq 0. */
int wire_send_ready(int fd, const char *socket_path, uint32_t pid);
int wire_send_task_started(int fd, uint32_t local_task_id, uint32_t global_rank, uint32_t pid);
int wire_send_task_exited(int fd, uint32_t global_rank, uint32_t pid, int32_t wait_status);
int wire_send_shutdown(int fd);

#endif
