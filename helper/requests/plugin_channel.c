/* plugin_channel.c: messages between lcrd and the spank_lcr plugin (see plugin_channel.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "requests/plugin_channel.h"
#include "internal/util.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "services/tasks.h"

struct plugin_channel {
	int fd;
	struct wire_msg msg;
};

static void handle_message(struct lcrd *d, const struct wire_msg *msg)
{
	struct wire_task_started started;
	struct wire_task_exited exited;
	switch (msg->header.type) {
	case WIRE_TASK_STARTED:
		if (wire_decode_task_started(msg->payload, msg->header.length, &started) == 0) {
			tasks_on_started(d, &started);
			return;
		}
		break;
	case WIRE_TASK_EXITED:
		if (wire_decode_task_exited(msg->payload, msg->header.length, &exited) == 0) {
			tasks_on_exited(d, &exited);
			return;
		}
		break;
	case WIRE_SHUTDOWN:
		loop_request_stop(d->loop, "the plugin asked to shut down");
		return;
	default:
		log_warning("the plugin sent %s, which lcrd does not expect from it: ignored",
			    wire_type_name(msg->header.type));
		return;
	}
	log_warning("the plugin sent a malformed %s: ignored", wire_type_name(msg->header.type));
}

static void plugin_readable(struct loop *loop, int fd, short revents, void *arg)
{
	struct lcrd *d = arg;
	struct wire_msg *msg = &d->plugin->msg;
	(void)loop;
	(void)revents;

	int rc = wire_recv_msg(fd, msg, 0);
	if (rc == -ETIMEDOUT)
		return;
	if (rc == -ECONNRESET) {
		loop_request_stop(d->loop, "the plugin closed its channel: the step is over");
		return;
	}
	if (rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT || rc == -EOPNOTSUPP) {
		log_warning("the plugin sent a malformed message: %s: ignored", strerror(-rc));
		return;
	}
	if (rc < 0) {
		log_error("cannot read from the plugin: %s", strerror(-rc));
		loop_request_stop(d->loop, "the plugin channel failed");
		return;
	}
	if (msg->fd >= 0) {
		close(msg->fd);
		msg->fd = -1;
	}
	handle_message(d, msg);
}

int plugin_channel_open(struct lcrd *d, int fd)
{
	struct stat st;
	int rc;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		log_error("--plugin-fd=%d is not an open socket", fd);
		return -EBADF;
	}
	struct plugin_channel *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = fd;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	rc = loop_add_fd(d->loop, fd, POLLIN, plugin_readable, d);
	if (rc < 0) {
		free(p);
		return rc;
	}
	d->plugin = p;
	return 0;
}

int plugin_channel_send_ready(struct lcrd *d)
{
	int rc = wire_send_ready(d->plugin->fd, d->dir.socket_path, (uint32_t)getpid());
	if (rc < 0)
		log_error("cannot tell the plugin that lcrd is ready: %s", strerror(-rc));
	return rc;
}

void plugin_channel_close(struct lcrd *d)
{
	if (!d->plugin)
		return;
	loop_remove_fd(d->loop, d->plugin->fd);
	close(d->plugin->fd);
	free(d->plugin);
	d->plugin = NULL;
}

/* Declared in lcrd.h; here because the plugin is who hears it, when there is one. */
int lcrd_announce(struct lcrd *d)
{
	char ranks[512];
	log_info("serving job %u step %u on node %s (%u of %u), ranks %s, uid %u, socket %s",
		 d->opt.job_id, d->opt.step_id, d->opt.node_name, d->opt.node_id, d->opt.node_count,
		 util_format_rank_list(d->opt.ranks, d->opt.rank_count, ranks, sizeof(ranks)),
		 (unsigned)getuid(), d->dir.socket_path);
	if (d->plugin)
		return plugin_channel_send_ready(d);
	printf("LCR_SOCKET=%s\n", d->dir.socket_path);
	return fflush(stdout) == 0 ? 0 : -errno;
}
