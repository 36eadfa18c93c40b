/* conn_seal.h: the frame sealing of one helper connection (frame_seal.h), from what its
 * MUNGE handshake gave both ends. The secret is the opener's credential nonce, the
 * acceptor's credential nonce and the acceptor's CHALLENGE: the two nonces travel only
 * inside MUNGE credentials, which munged encrypts with the cluster's key and lets only the
 * job's user (and root) decode, once each (mesh_auth.c refuses a credential made without a
 * cipher). A peer that relays the handshake without decoding it cannot compute the keys,
 * so after the handshake every frame both ways is authenticated (FRAME_SEAL_MAC) or also
 * encrypted (FRAME_SEAL_ENCRYPT: the site's wire_encryption). */
#ifndef LCR_HELPER_CONN_SEAL_H
#define LCR_HELPER_CONN_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/frame_seal.h"

/* One connection's handshake, as both ends know it. */
struct conn_seal_handshake {
	uint32_t job_id, step_id;
	uint32_t opener, acceptor; /* node ids; WIRE_NO_NODE for the rendezvous */
	uint16_t purpose;          /* the type of the opening message (HELLO, XFER_HELLO, ...) */
	uint64_t challenge;        /* the acceptor's CHALLENGE */
	uint64_t opener_nonce;     /* sealed in the opening credential */
	uint64_t acceptor_nonce;   /* sealed in the answering credential (WELCOME) */
};

/* The mode a site setting asks for: encryption or authentication alone. */
enum frame_seal_mode conn_seal_mode(bool encrypt);

/* The session of this end (is_opener or the acceptor). 0, or -errno with err set. */
int conn_seal_start(const struct conn_seal_handshake *h, bool is_opener, enum frame_seal_mode mode,
		    struct frame_session **out, char *err, size_t errlen);

#endif
