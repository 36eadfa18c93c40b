/* mesh_auth.c: sealing and opening the mesh's MUNGE credentials (see mesh_auth.h). A
 * credential is the base64 text munge_encode makes of a wire-encoded struct wire_mesh_auth;
 * it travels as a string field of HELLO, WELCOME and RDV_REGISTER. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <munge.h>

#include "loop/mesh_auth.h"

struct mesh_auth {
	munge_ctx_t ctx;
	uint32_t job_id;
	uint32_t step_id;
	uint64_t incarnation; /* this helper's instance, sealed into every credential */
};

int mesh_auth_create(const char *socket_path, uint32_t job_id, uint32_t step_id,
		     struct mesh_auth **out, char *err, size_t errlen)
{
	struct mesh_auth *a = calloc(1, sizeof(*a));
	munge_err_t e;
	if (!a)
		return -ENOMEM;
	a->job_id = job_id;
	a->step_id = step_id;
	a->ctx = munge_ctx_create();
	if (!a->ctx) {
		free(a);
		return -ENOMEM;
	}
	e = munge_ctx_set(a->ctx, MUNGE_OPT_UID_RESTRICTION, getuid());
	if (e == EMUNGE_SUCCESS && socket_path && *socket_path)
		e = munge_ctx_set(a->ctx, MUNGE_OPT_SOCKET, socket_path);
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "cannot set up MUNGE for socket %s: %s",
			 socket_path && *socket_path ? socket_path : "(default)", munge_strerror(e));
		mesh_auth_destroy(a);
		return -EINVAL;
	}
	*out = a;
	return 0;
}

void mesh_auth_destroy(struct mesh_auth *a)
{
	if (!a)
		return;
	munge_ctx_destroy(a->ctx);
	free(a);
}

/* munged's detailed reason when it gave one, else the error's name. */
static const char *munge_reason(const struct mesh_auth *a, munge_err_t e)
{
	const char *text = munge_ctx_strerror(a->ctx);
	return text ? text : munge_strerror(e);
}

void mesh_auth_set_incarnation(struct mesh_auth *a, uint64_t incarnation)
{
	a->incarnation = incarnation;
}

uint64_t mesh_auth_random(void)
{
	uint64_t v = 0;
	while (v == 0)
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			v = 0;
	return v;
}

int mesh_auth_seal(struct mesh_auth *a, uint16_t purpose, uint32_t from, uint32_t to, uint64_t echo,
		   uint64_t *nonce, char *cred, char *err, size_t errlen)
{
	struct wire_mesh_auth payload = {
		.purpose = purpose,
		.job_id = a->job_id,
		.step_id = a->step_id,
		.from_node = from,
		.to_node = to,
		.nonce = mesh_auth_random(),
		.echo = echo,
		.incarnation = a->incarnation,
	};
	uint8_t buf[sizeof(payload)];
	char *text = NULL;
	int n = wire_encode_mesh_auth(&payload, buf, sizeof(buf)), rc = 0;
	if (n < 0)
		return n;
	munge_err_t e = munge_encode(&text, a->ctx, buf, n);
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "munge_encode failed: %s", munge_reason(a, e));
		rc = -EIO;
		goto out;
	}
	if (strlen(text) > WIRE_CRED_MAX) {
		snprintf(err, errlen, "munged made a credential of %zu bytes, over %d", strlen(text),
			 WIRE_CRED_MAX);
		rc = -EIO;
		goto out;
	}
	strcpy(cred, text);
	*nonce = payload.nonce;
out:
	free(text);
	return rc;
}

/* "node 3" or "the rendezvous" into buf. */
static const char *node_text(uint32_t node, char *buf, size_t cap)
{
	if (node == WIRE_NO_NODE)
		snprintf(buf, cap, "the rendezvous");
	else
		snprintf(buf, cap, "node %" PRIu32, node);
	return buf;
}

/* The name of the message type a credential was sealed for. */
static const char *purpose_name(uint16_t purpose)
{
	const char *name = wire_type_name(purpose);
	return name ? name : "message of unknown type";
}

/* Only a REGISTER is addressed to the rendezvous and only a WELCOME comes from it. */
static bool rendezvous_end_allowed(const struct wire_mesh_auth *p)
{
	return (p->to_node != WIRE_NO_NODE || p->purpose == WIRE_RDV_REGISTER) &&
	       (p->from_node != WIRE_NO_NODE || p->purpose == WIRE_MESH_WELCOME);
}

int mesh_auth_check(const struct wire_mesh_auth *p, uid_t encoder_uid, uid_t own_uid,
		    uint32_t job_id, uint32_t step_id, const struct mesh_auth_expect *expect,
		    char *err, size_t errlen)
{
	char want[32], got[32];
	if (encoder_uid != own_uid)
		snprintf(err, errlen, "the credential is from uid %u, not the job's user (uid %u)",
			 (unsigned)encoder_uid, (unsigned)own_uid);
	else if (p->purpose != expect->purpose)
		snprintf(err, errlen, "the credential was sealed for a %s, not a %s",
			 purpose_name(p->purpose), purpose_name(expect->purpose));
	else if (!rendezvous_end_allowed(p))
		snprintf(err, errlen, "a %s credential cannot be %s the rendezvous",
			 purpose_name(p->purpose), p->to_node == WIRE_NO_NODE ? "addressed to" : "from");
	else if (p->job_id != job_id || p->step_id != step_id)
		snprintf(err, errlen, "the credential is for job %" PRIu32 " step %" PRIu32
			 ", not job %" PRIu32 " step %" PRIu32,
			 p->job_id, p->step_id, job_id, step_id);
	else if (p->from_node != expect->from_node)
		snprintf(err, errlen, "the credential is from %s, not %s",
			 node_text(p->from_node, got, sizeof(got)),
			 node_text(expect->from_node, want, sizeof(want)));
	else if (p->to_node != expect->to_node)
		snprintf(err, errlen, "the credential is addressed to %s, not %s",
			 node_text(p->to_node, got, sizeof(got)),
			 node_text(expect->to_node, want, sizeof(want)));
	else if (p->echo != expect->echo)
		snprintf(err, errlen, "the credential does not answer this connection's nonce");
	else
		return 0;
	return -EACCES;
}

int mesh_auth_check_cipher(int cipher, char *err, size_t errlen)
{
	if (cipher != MUNGE_CIPHER_NONE)
		return 0;
	snprintf(err, errlen, "the credential was made without encryption (MUNGE cipher none): "
		 "its nonces would be readable on the wire");
	return -EACCES;
}

int mesh_auth_open(struct mesh_auth *a, const char *cred, const struct mesh_auth_expect *expect,
		   struct wire_mesh_auth *out, char *err, size_t errlen)
{
	void *buf = NULL;
	int len = 0, rc;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	if (!*cred) {
		snprintf(err, errlen, "no credential");
		return -EACCES;
	}
	munge_err_t e = munge_decode(cred, a->ctx, &buf, &len, &uid, &gid);
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "munged refused the credential: %s", munge_reason(a, e));
		rc = -EACCES;
		goto out;
	}
	int cipher = MUNGE_CIPHER_NONE;
	if (munge_ctx_get(a->ctx, MUNGE_OPT_CIPHER_TYPE, &cipher) != EMUNGE_SUCCESS)
		cipher = MUNGE_CIPHER_NONE;
	rc = mesh_auth_check_cipher(cipher, err, errlen);
	if (rc < 0)
		goto out;
	if (wire_decode_mesh_auth(buf, (size_t)len, out) < 0) {
		snprintf(err, errlen, "the credential's payload is not an LCR mesh credential");
		rc = -EACCES;
		goto out;
	}
	rc = mesh_auth_check(out, uid, getuid(), a->job_id, a->step_id, expect, err, errlen);
out:
	free(buf);
	return rc;
}
