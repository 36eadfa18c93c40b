/* ckpt.c: the checkpoint coordinator of lcrd (see ckpt.h): the node-local flow from a
 * request to a published checkpoint, the requests that start it or ask about it, and the
 * bookkeeping that keeps regions alive while their bytes are being written. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "ckpt_restore.h"
#include "ckpt_write.h"
#include "control.h"
#include "internal/ckpt_store.h"
#include "internal/util.h"
#include "lcrd.h"
#include "log.h"
#include "mesh.h"
#include "tasks.h"
#include "transfer.h"

/* A message for the log, naming a checkpoint's path; requesters get its first
 * WIRE_TEXT_MAX bytes. */
#define MESSAGE_MAX (PATH_MAX + 256)

/* A requester waiting for the checkpoint in progress. */
struct waiter {
	struct client *c;
	uint32_t seq;
	struct waiter *next;
};

struct ckpt {
	struct lcrd *d;
	struct ckpt_writer *writer; /* while a checkpoint is being written */
	struct manifest plan;
	unsigned attempt;
	uint64_t started_ns;
	char reason[96];
	struct waiter *waiters;
	struct wire_ckpt_result last; /* the last outcome, for CKPT_INFO */
};

int ckpt_create(struct lcrd *d)
{
	d->ckpt = calloc(1, sizeof(*d->ckpt));
	if (!d->ckpt)
		return -ENOMEM;
	d->ckpt->d = d;
	d->ckpt->last.status = 0;
	d->ckpt->last.step = WIRE_NO_STEP;
	return 0;
}

/* Answers every waiter with result, a success or an error. */
static void answer_waiters(struct ckpt *k, const struct wire_ckpt_result *result)
{
	uint8_t buf[sizeof(*result)];
	int len = wire_encode_ckpt_result(result, buf, sizeof(buf));
	while (k->waiters) {
		struct waiter *w = k->waiters;
		k->waiters = w->next;
		if (result->status < 0)
			control_reply_status(w->c, w->seq, result->status, "%s", result->message);
		else
			control_reply(w->c, w->seq, WIRE_CKPT_RESULT, buf, len, -1);
		free(w);
	}
}

static uint64_t elapsed_us(const struct ckpt *k)
{
	return (util_now_ns() - k->started_ns) / 1000;
}

/* Ends the checkpoint, elapsed_us after it was asked for: logs, answers the waiters,
 * remembers the outcome. */
static void finish(struct ckpt *k, int status, uint64_t step, uint64_t bytes, const char *path,
		   uint64_t elapsed, const char *message)
{
	struct wire_ckpt_result *r = &k->last;
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->step = step;
	r->bytes = status == 0 ? bytes : 0;
	r->elapsed_us = elapsed;
	if (status == 0)
		util_copy_string(r->path, sizeof(r->path), path);
	snprintf(r->message, sizeof(r->message), "%s", message);
	if (status < 0)
		log_error("checkpoint (%s) failed: %s", k->reason, message);
	else
		log_info("checkpoint (%s): %s", k->reason, message);
	answer_waiters(k, r);
	manifest_free(&k->plan);
	k->writer = NULL;
}

static void fail_step(struct ckpt *k, int status, uint64_t step, const char *why)
{
	char err[WIRE_TEXT_MAX + 1], message[MESSAGE_MAX];
	if (step != WIRE_NO_STEP && ckpt_abandon(&k->d->opt, step, err, sizeof(err)) < 0)
		log_error("cannot remove the abandoned checkpoint: %s", err);
	if (step != WIRE_NO_STEP)
		snprintf(message, sizeof(message), "checkpoint of step %" PRIu64 " abandoned: %s",
			 step, why);
	else
		snprintf(message, sizeof(message), "no checkpoint taken: %s", why);
	finish(k, status, step, 0, "", elapsed_us(k), message);
}

static void start_attempt(struct ckpt *k);

/* Publishes a checkpoint whose every range is written, and applies the retention. */
static void publish(struct ckpt *k, const struct ckpt_write_result *result)
{
	struct lcrd *d = k->d;
	char err[WIRE_TEXT_MAX + 1], path[PATH_MAX], message[MESSAGE_MAX], size[32];
	int rc = ckpt_apply_result(&k->plan, result, err, sizeof(err));
	if (rc >= 0 && (size_t)rc != ckpt_plan_range_count(&k->plan)) {
		snprintf(err, sizeof(err), "%d of %zu ranges were written", rc,
			 ckpt_plan_range_count(&k->plan));
		rc = -EPROTO;
	}
	k->plan.generation = mesh_generation(d);
	if (rc >= 0)
		rc = ckpt_publish(&d->opt, &k->plan, err, sizeof(err));
	if (rc < 0) {
		fail_step(k, rc, k->plan.step, err);
		return;
	}
	/* The time to publication; removing older checkpoints comes after. */
	uint64_t elapsed = elapsed_us(k);
	ckpt_store_path(path, sizeof(path), d->opt.ckpt_dir, k->plan.step, false);
	snprintf(message, sizeof(message), "step %" PRIu64 " saved in %s: %s in %.3f s (%.2f GB/s)",
		 k->plan.step, path, util_format_size(result->bytes, size, sizeof(size)),
		 (double)elapsed / 1e6, elapsed ? (double)result->bytes / (double)elapsed / 1e3 : 0.0);
	if (ckpt_prune(&d->opt, d->opt.ckpt_keep, err, sizeof(err)) < 0)
		log_warning("checkpoint retention: %s", err);
	finish(k, 0, k->plan.step, result->bytes, path, elapsed, message);
}

static void writer_done(struct lcrd *d, const struct ckpt_write_result *result, void *arg)
{
	struct ckpt *k = arg;
	char err[WIRE_TEXT_MAX + 1];
	(void)d;
	k->writer = NULL;
	if (result->status == -ESTALE && ++k->attempt < CKPT_ATTEMPTS) {
		log_warning("checkpoint of step %" PRIu64 ": %s; trying again", result->step,
			    result->error);
		if (ckpt_abandon(&k->d->opt, result->step, err, sizeof(err)) < 0) {
			finish(k, -EIO, result->step, 0, "", elapsed_us(k), err);
			return;
		}
		manifest_free(&k->plan);
		start_attempt(k);
		return;
	}
	if (result->status < 0) {
		fail_step(k, result->status, result->step, result->error);
		return;
	}
	publish(k, result);
}

/* Plans and starts one attempt: step S from the local reports. */
static void start_attempt(struct ckpt *k)
{
	struct lcrd *d = k->d;
	struct ckpt_plan_params params = { d->opt.job_id, CKPT_ALIGNMENT, CKPT_RANGE_MAX };
	char err[WIRE_TEXT_MAX + 1], path[PATH_MAX], message[MESSAGE_MAX];
	struct ckpt_report *reports = NULL;
	size_t count = 0;
	uint64_t step = WIRE_NO_STEP;
	int rc = ckpt_gather_reports(d, &reports, &count, err, sizeof(err));
	if (rc == 0)
		rc = ckpt_plan_choose_step(reports, count, &step, err, sizeof(err));
	if (rc == 0)
		rc = ckpt_plan_build(reports, count, step, &params, &k->plan, err, sizeof(err));
	ckpt_reports_free(reports, count);
	if (rc == 0)
		rc = ckpt_prepare_dir(&d->opt, step, err, sizeof(err));
	if (rc == -EEXIST) {
		ckpt_store_path(path, sizeof(path), d->opt.ckpt_dir, step, false);
		snprintf(message, sizeof(message), "step %" PRIu64 " is saved already in %s", step,
			 path);
		finish(k, 0, step, 0, path, elapsed_us(k), message);
		return;
	}
	if (rc < 0) {
		fail_step(k, rc, rc == -ENODATA ? WIRE_NO_STEP : step, err);
		return;
	}
	log_info("checkpoint (%s): saving step %" PRIu64 " of %" PRIu32 " ranks into %s%s",
		 k->reason, step, k->plan.rank_count, d->opt.ckpt_dir,
		 k->attempt ? " (again)" : "");
	rc = ckpt_write_start(d, &k->plan, NULL, 0, writer_done, k, &k->writer,
			      err, sizeof(err));
	if (rc < 0)
		fail_step(k, rc, step, err);
}

/* Answers one requester at once (the request could not even start). */
static void refuse(struct client *c, uint32_t seq, int status, const char *message)
{
	log_warning("no checkpoint taken: %s", message);
	if (c)
		control_reply_status(c, seq, status, "%s", message);
}

/* A step on several nodes: the mesh's leader takes the checkpoint. */
static void ask_mesh(struct ckpt *k, const char *reason)
{
	char err[WIRE_TEXT_MAX + 1];
	struct wire_ckpt_result r = { .step = WIRE_NO_STEP };
	int rc = mesh_ckpt_request(k->d, reason, err, sizeof(err));
	if (rc == 0)
		return;
	r.status = rc;
	snprintf(r.message, sizeof(r.message), "no checkpoint taken: %.200s", err);
	log_warning("%s", r.message);
	k->last = r;
	answer_waiters(k, &r);
}

void ckpt_mesh_finished(struct lcrd *d, const struct wire_ckpt_result *result)
{
	struct ckpt *k = d->ckpt;
	if (!k)
		return;
	k->last = *result;
	answer_waiters(k, result);
}

void ckpt_now(struct lcrd *d, const char *reason, struct client *c, uint32_t seq)
{
	struct ckpt *k = d->ckpt;
	if (!d->opt.ckpt_dir) {
		refuse(c, seq, -ENOENT, "this lcrd has no checkpoint directory (--ckpt-dir)");
		return;
	}
	if (c) {
		struct waiter *w = calloc(1, sizeof(*w));
		if (!w) {
			refuse(c, seq, -ENOMEM, "out of memory");
			return;
		}
		*w = (struct waiter){ c, seq, k->waiters };
		k->waiters = w;
	}
	if (d->opt.node_count > 1) {
		ask_mesh(k, reason);
		return;
	}
	if (k->writer) {
		log_info("checkpoint requested (%s): one is in progress already", reason);
		return;
	}
	snprintf(k->reason, sizeof(k->reason), "%s", reason);
	k->attempt = 0;
	k->started_ns = util_now_ns();
	start_attempt(k);
}

void ckpt_on_failure(struct lcrd *d, const char *what)
{
	char reason[96];
	snprintf(reason, sizeof(reason), "failure: %s", what);
	ckpt_now(d, reason, NULL, 0);
}

void ckpt_release_client(struct lcrd *d, struct client *c)
{
	if (!d->ckpt)
		return;
	for (struct waiter **pos = &d->ckpt->waiters; *pos;) {
		struct waiter *w = *pos;
		if (w->c == c) {
			*pos = w->next;
			free(w);
		} else {
			pos = &w->next;
		}
	}
	ckpt_restore_release_client(d, c);
}

bool ckpt_region_busy(struct lcrd *d, const struct region *r)
{
	return (d->ckpt && ckpt_write_uses(d->ckpt->writer, r)) || ckpt_restore_uses(d, r) ||
	       mesh_ckpt_uses(d, r) || transfer_server_uses(d, r);
}

void ckpt_destroy(struct lcrd *d)
{
	struct ckpt *k = d->ckpt;
	if (!k)
		return;
	if (k->writer) {
		ckpt_write_cancel(k->writer);
		fail_step(k, -ECANCELED, k->plan.step, "lcrd is shutting down");
	}
	free(k);
	d->ckpt = NULL;
}

/* --- requests --- */

void request_ckpt_now(struct client *c, const struct wire_msg *msg)
{
	char reason[64];
	if (msg->header.length != 0) {
		control_reply_status(c, msg->header.seq, -EBADMSG, "malformed CKPT_NOW");
		return;
	}
	if (c->task)
		snprintf(reason, sizeof(reason), "asked by rank %u", c->task->rank);
	else
		snprintf(reason, sizeof(reason), "asked by pid %ld", (long)c->pid);
	ckpt_now(c->d, reason, c, msg->header.seq);
}

void request_ckpt_info(struct client *c, const struct wire_msg *msg)
{
	static struct wire_ckpt_info info;
	static uint8_t buf[sizeof(info)];
	struct lcrd *d = c->d;
	struct ckpt *k = d->ckpt;
	if (msg->header.length != 0) {
		control_reply_status(c, msg->header.seq, -EBADMSG, "malformed CKPT_INFO_REQUEST");
		return;
	}
	memset(&info, 0, sizeof(info));
	if (d->opt.ckpt_dir)
		util_copy_string(info.ckpt_dir, sizeof(info.ckpt_dir), d->opt.ckpt_dir);
	info.keep = d->opt.ckpt_keep;
	info.restore_mode = (uint16_t)d->opt.restore;
	info.restored_step = ckpt_restore_step(d, info.restored_from, sizeof(info.restored_from));
	info.busy = k->writer != NULL;
	info.busy_step = k->writer ? k->plan.step : WIRE_NO_STEP;
	info.last_status = k->last.status;
	info.last_step = k->last.step;
	memcpy(info.last_message, k->last.message, sizeof(info.last_message));
	control_reply(c, msg->header.seq, WIRE_CKPT_INFO, buf,
		      wire_encode_ckpt_info(&info, buf, sizeof(buf)), -1);
}
