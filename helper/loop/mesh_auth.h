/* mesh_auth.h: MUNGE credentials for the mesh and the rendezvous. Every connection between
 * the step's helpers, and between a helper and the step's rendezvous, starts with one
 * credential each way. Its sealed payload (struct wire_mesh_auth) binds its purpose (the
 * type of the message that carries it), the job, the step, the sender and the addressee,
 * the sender's instance (its incarnation), a fresh nonce, and the nonce it answers: the
 * acceptor's CHALLENGE for an opening credential, the opener's nonce for the answer. Only a REGISTER may be addressed to the rendezvous (WIRE_NO_NODE) and only
 * a WELCOME may come from it, so a rendezvous credential never passes for a helper's.
 * munged vouches for the encoder's uid, which must be this helper's own (the job's user),
 * refuses a credential decoded twice (replay) or too old, and, since every credential is
 * restricted to our uid, lets no other user decode it. A credential made without a cipher
 * is refused: its nonces are the secret of the connection's frame keys (conn_seal.h), so
 * they must travel encrypted under the cluster's MUNGE key. */
#ifndef LCR_HELPER_MESH_AUTH_H
#define LCR_HELPER_MESH_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal/wire.h"

struct mesh_auth;

/* What an opened credential must say. */
struct mesh_auth_expect {
	uint16_t purpose;   /* the type of the message that carries the credential */
	uint32_t from_node; /* WIRE_NO_NODE: the rendezvous server */
	uint32_t to_node;   /* WIRE_NO_NODE: the rendezvous server */
	uint64_t echo;      /* the connection's CHALLENGE in an opening credential (HELLO,
			       XFER_HELLO, JOIN, REGISTER); the opener's nonce in an answer */
};

/* A context for munged at socket_path ("" or NULL: MUNGE's default socket), for job/step.
 * 0 or -ENOMEM / -EINVAL (with a message in err). */
int mesh_auth_create(const char *socket_path, uint32_t job_id, uint32_t step_id,
		     struct mesh_auth **out, char *err, size_t errlen);
void mesh_auth_destroy(struct mesh_auth *a);

/* The instance this helper seals into its credentials from now on: the generation of the
 * NODE_JOINED that brought it (a replacement), 0 for the step's first helpers (the
 * default). The receiver compares it with its table: an earlier instance of a node that was
 * replaced is told it is fenced. */
void mesh_auth_set_incarnation(struct mesh_auth *a, uint64_t incarnation);

/* Seals a credential for a message of type `purpose` from `from` to `to` that echoes
 * `echo`, with a fresh nonce returned in *nonce, into cred[WIRE_CRED_MAX + 1]. 0, or -EIO
 * with munged's reason in err. */
int mesh_auth_seal(struct mesh_auth *a, uint16_t purpose, uint32_t from, uint32_t to, uint64_t echo,
		   uint64_t *nonce, char *cred, char *err, size_t errlen);

/* Opens a credential and checks it against *expect; the payload goes to *out. 0; -EACCES
 * (munged refused it: invalid, replayed, expired, not ours to decode; or a check failed),
 * with the reason in err. */
int mesh_auth_open(struct mesh_auth *a, const char *cred, const struct mesh_auth_expect *expect,
		   struct wire_mesh_auth *out, char *err, size_t errlen);

/* The checks of mesh_auth_open on a decoded payload and the uid munged vouched for: 0 or
 * -EACCES with the first mismatch named in err. */
int mesh_auth_check(const struct wire_mesh_auth *payload, uid_t encoder_uid, uid_t own_uid,
		    uint32_t job_id, uint32_t step_id, const struct mesh_auth_expect *expect,
		    char *err, size_t errlen);

/* Whether munged encrypted a credential it decoded (its cipher, a munge_cipher_t): 0, or
 * -EACCES with the reason in err for MUNGE_CIPHER_NONE. */
int mesh_auth_check_cipher(int cipher, char *err, size_t errlen);

/* A random 64-bit value from getrandom(2), never 0. */
uint64_t mesh_auth_random(void);

#endif
