/* wire_plugin.c: the payloads between the SPANK plugin and its lcrd (wire_plugin.h), from
 * their descriptions, and the senders the plugin calls inside slurmstepd (no global state,
 * no allocation). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "internal/wire.h"
#include "wire_cursor.h"

WIRE_PLUGIN_MESSAGES(WIRE_FLAT_CODEC)

int wire_send_ready(int fd, const char *socket_path, uint32_t pid)
{
	struct wire_ready m = { .pid = pid };
	uint8_t buf[sizeof(m)];
	if (strlen(socket_path) > WIRE_PATH_MAX)
		return -ENAMETOOLONG;
	strcpy(m.socket_path, socket_path);
	int n = wire_encode_ready(&m, buf, sizeof(buf));
	return n < 0 ? n : wire_send_msg(fd, WIRE_READY, buf, (uint32_t)n);
}

int wire_send_task_started(int fd, uint32_t local_task_id, uint32_t global_rank, uint32_t pid)
{
	struct wire_task_started m = { local_task_id, global_rank, pid };
	uint8_t buf[sizeof(m)];
	int n = wire_encode_task_started(&m, buf, sizeof(buf));
	return n < 0 ? n : wire_send_msg(fd, WIRE_TASK_STARTED, buf, (uint32_t)n);
}

int wire_send_task_exited(int fd, uint32_t global_rank, uint32_t pid, int32_t wait_status)
{
	struct wire_task_exited m = { global_rank, pid, wait_status };
	uint8_t buf[sizeof(m)];
	int n = wire_encode_task_exited(&m, buf, sizeof(buf));
	return n < 0 ? n : wire_send_msg(fd, WIRE_TASK_EXITED, buf, (uint32_t)n);
}

int wire_send_shutdown(int fd)
{
	return wire_send_msg(fd, WIRE_SHUTDOWN, NULL, 0);
}
