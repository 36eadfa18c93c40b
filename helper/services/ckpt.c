/* ckpt.c: the checkpoint requests of lcrd (see ckpt.h): `ckpt now` from a rank, lcrctl or
 * SIGUSR1 goes to the mesh's one checkpoint flow (mesh_ckpt.c); its end comes back here to
 * answer whoever waits and to be told by CKPT_INFO. Also the bookkeeping that keeps regions
 * alive while their bytes are being read. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/ckpt.h"
#include "internal/util.h"
#include "loop/control.h"
#include "loop/lcrd.h"
#include "loop/log.h"
#include "services/ckpt_restore.h"
#include "services/mesh_ckpt.h"
#include "services/snapshot.h"
#include "services/tasks.h"
#include "services/transfer.h"

/* A requester waiting for the checkpoint in progress. */
struct waiter {
	struct client *c;
	uint32_t seq;
	struct waiter *next;
};

struct ckpt {
	struct lcrd *d;
	struct waiter *waiters;
	struct wire_ckpt_result last; /* the last outcome, for CKPT_INFO */
};

static request_handler request_ckpt_now, request_ckpt_info;

int ckpt_create(struct lcrd *d)
{
	static const struct control_request requests[] = {
		{ WIRE_CKPT_NOW, request_ckpt_now },
		{ WIRE_CKPT_INFO_REQUEST, request_ckpt_info },
	};
	int rc = control_register(d, requests, sizeof(requests) / sizeof(requests[0]));
	if (rc == 0)
		rc = control_on_release(d, ckpt_release_client);
	if (rc < 0)
		return rc;
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

/* Answers one requester at once (the request could not even start). */
static void refuse(struct client *c, uint32_t seq, int status, const char *message)
{
	log_warning("no checkpoint taken: %s", message);
	if (c)
		control_reply_status(c, seq, status, "%s", message);
}

/* The mesh's leader takes the checkpoint; when it cannot be asked, the waiters learn why. */
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
	ask_mesh(k, reason);
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
}

bool ckpt_region_busy(struct lcrd *d, const struct region *r)
{
	return ckpt_restore_uses(d, r) || mesh_ckpt_uses(d, r) || transfer_server_uses(d, r) ||
	       snapshot_uses(d, r);
}

void ckpt_destroy(struct lcrd *d)
{
	struct ckpt *k = d->ckpt;
	if (!k)
		return;
	if (k->waiters) {
		struct wire_ckpt_result r = { .status = -ECANCELED, .step = WIRE_NO_STEP };
		snprintf(r.message, sizeof(r.message), "no checkpoint taken: lcrd is shutting down");
		answer_waiters(k, &r);
	}
	free(k);
	d->ckpt = NULL;
}

/* --- requests --- */

static void request_ckpt_now(struct client *c, const struct wire_msg *msg)
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

static void request_ckpt_info(struct client *c, const struct wire_msg *msg)
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
	info.busy = mesh_ckpt_in_progress(d, &info.busy_step);
	info.last_status = k->last.status;
	info.last_step = k->last.step;
	memcpy(info.last_message, k->last.message, sizeof(info.last_message));
	control_reply(c, msg->header.seq, WIRE_CKPT_INFO, buf,
		      wire_encode_ckpt_info(&info, buf, sizeof(buf)), -1);
}
