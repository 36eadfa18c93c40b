/* main.c: lcrd, the LCR helper: one per node per job step, running as the job's user. It
 * holds the ranks' state memory (regions) and their control pages, serves the client API
 * and lcrctl on its control socket, and follows the step's tasks through the plugin's
 * channel and pidfds. This file reads the options, sets up every module in order, runs the
 * one event loop, and takes everything down in reverse order. See lcrd(8). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "internal/util.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "mesh/mesh.h"
#include "requests/plugin_channel.h"
#include "requests/requests.h"
#include "services/ckpt.h"
#include "services/ckpt_restore.h"
#include "services/fence.h"
#include "services/jobkv.h"
#include "services/kv.h"
#include "services/mesh_ckpt.h"
#include "services/recovery.h"
#include "services/recovery_timeline.h"
#include "services/rendezvous_server.h"
#include "services/snapshot.h"
#include "services/tasks.h"
#include "services/transfer.h"

/* A module asked the loop to stop (loop_request_stop): the helper shuts down. */
static void shutdown_requested(struct loop *loop, const char *reason, void *arg)
{
	struct lcrd *d = arg;
	(void)loop;
	if (d->state != WIRE_HELPER_STOPPING)
		log_info("shutting down: %s", reason);
	d->state = WIRE_HELPER_STOPPING;
}

static void signal_readable(struct loop *loop, int fd, short revents, void *arg)
{
	struct lcrd *d = arg;
	struct signalfd_siginfo si;
	char reason[64];
	(void)loop;
	(void)revents;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {
		ckpt_now(d, "SIGUSR1", NULL, 0);
		return;
	}
	snprintf(reason, sizeof(reason), "received %s", strsignal((int)si.ssi_signo));
	loop_request_stop(d->loop, reason);
}

/* SIGTERM, SIGINT and SIGHUP (shut down) and SIGUSR1 (take a checkpoint) arrive through a
 * signalfd in the loop; SIGPIPE is ignored. */
static int setup_signals(struct lcrd *d)
{
	sigset_t set;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->signal_fd < 0)
		return -errno;
	return loop_add_fd(d->loop, d->signal_fd, POLLIN, signal_readable, d);
}

static int start(struct lcrd *d)
{
	int rc;
	d->started_ms = util_now_ms();
	d->state = WIRE_HELPER_RUNNING;
	d->signal_fd = -1;
	if ((rc = loop_create(&d->loop)) < 0 || (rc = setup_signals(d)) < 0) {
		log_error("cannot set up the event loop: %s", strerror(-rc));
		return rc;
	}
	loop_on_stop_request(d->loop, shutdown_requested, d);
	if (d->opt.plugin_fd >= 0 && (rc = plugin_channel_open(d, d->opt.plugin_fd)) < 0)
		return rc;
	if ((rc = runtime_dir_prepare(&d->dir, &d->opt)) < 0)
		return rc;
	region_table_init(&d->regions, d->opt.region_quota);
	/* The services register their requests with the control socket as they are created. */
	if ((rc = control_create(d)) < 0 || (rc = requests_register(d)) < 0 ||
	    (rc = tasks_create(d, &d->tasks)) < 0 || (rc = kv_create(d, &d->kv)) < 0 ||
	    (rc = jobkv_create(d, &d->jobkv)) < 0 || (rc = ckpt_create(d)) < 0) {
		log_error("cannot set up the helper's tables: %s", strerror(-rc));
		return rc;
	}
	if ((rc = ckpt_restore_open(d)) < 0)
		return rc;
	if ((rc = control_open(d)) < 0 || (rc = runtime_dir_write_pid(&d->dir)) < 0)
		return rc;
	/* The services attach to the mesh before the loop runs; the order of the stop hooks
	 * is the checkpoint's, then recovery's (mesh_on_stop). */
	if ((rc = mesh_create(d)) < 0 || (rc = mesh_ckpt_subscribe(d)) < 0 ||
	    (rc = ckpt_restore_subscribe(d)) < 0 ||
	    (rc = recovery_subscribe(d)) < 0 || (rc = transfer_server_register(d)) < 0 ||
	    (rc = jobkv_subscribe(d)) < 0 || (rc = snapshot_create(d)) < 0 ||
	    (rc = recovery_timeline_create(d)) < 0) {
		log_error("cannot set up the mesh: %s", strerror(-rc));
		return rc;
	}
	mesh_ckpt_on_end(d, ckpt_mesh_finished);
	mesh_on_fenced(d, fence_stop_ranks_and_exit);
	/* A replacement is ready once it has joined (mesh_join.c): its ranks then find the
	 * peers that hold their state. */
	if (d->opt.rejoin) {
		mesh_on_joined(d, lcrd_announce);
		return 0;
	}
	return lcrd_announce(d);
}

/* Takes everything down in reverse order: parked requests are answered, clients told,
 * regions freed, the runtime directory removed. */
static void stop(struct lcrd *d)
{
	d->state = WIRE_HELPER_STOPPING;
	mesh_destroy(d);
	recovery_timeline_destroy(d);
	snapshot_destroy(d);
	ckpt_destroy(d);
	ckpt_restore_close(d);
	jobkv_destroy(d->jobkv);
	d->jobkv = NULL;
	kv_destroy(d->kv);
	d->kv = NULL;
	control_close(d);
	plugin_channel_close(d);
	if (d->regions.count)
		log_info("freeing %u regions", d->regions.count);
	region_table_fini(&d->regions);
	tasks_destroy(d->tasks);
	d->tasks = NULL;
	runtime_dir_remove(&d->dir);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	loop_destroy(d->loop);
	options_free(&d->opt);
}

int main(int argc, char **argv)
{
	static struct lcrd d;
	char err[512];
	int rc = options_parse(argc, argv, &d.opt, err, sizeof(err));
	if (rc == OPTIONS_EXIT)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "lcrd: %s\n", err);
		return 2;
	}
	if (d.opt.rendezvous_server) {
		log_init("rendezvous", d.opt.log_level);
		rc = rendezvous_server_run(&d.opt);
		options_free(&d.opt);
		return rc == 0 ? 0 : 1;
	}
	log_init(d.opt.node_name, d.opt.log_level);
	rc = start(&d);
	if (rc == 0) {
		rc = loop_run(d.loop);
		if (rc < 0) {
			log_error("event loop failed: %s", strerror(-rc));
		} else {
			mesh_drain_reports(&d);
			recovery_drain(&d);
		}
	}
	if (rc == 0 && d.failed)
		rc = -EIO;
	stop(&d);
	log_verbose("exited %s", rc == 0 ? "cleanly" : "after an error");
	return rc == 0 ? 0 : 1;
}
