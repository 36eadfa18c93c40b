/* frame_seal.h: authenticates, and where the site asks encrypts, every frame of a
 * connection between helpers after its MUNGE handshake (issue 18, item 5c). Both ends
 * derive the same session keys from a secret the handshake gave them both and from the
 * connection's identity (job, step, opener, acceptor, purpose), with HKDF-SHA256; each
 * direction has its own key and its own frame counter, so a frame cannot be altered,
 * dropped, replayed, reordered or sent back to its sender without the receiver noticing.
 *
 * The cipher is AES-256-GCM (OpenSSL's libcrypto). The frame's header is authenticated;
 * its payload is authenticated as it is (FRAME_SEAL_MAC) or encrypted (FRAME_SEAL_ENCRYPT);
 * a FRAME_SEAL_TAG_BYTES tag goes with each frame. The GCM nonce is the direction's frame
 * counter, so no nonce is ever used twice with one key. After a frame fails to open, the
 * session refuses every later frame, and the payload it was given holds nothing usable:
 * the connection must be closed. */
#ifndef LCR_INTERNAL_FRAME_SEAL_H
#define LCR_INTERNAL_FRAME_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_SEAL_TAG_BYTES 16
#define FRAME_SEAL_SECRET_MIN 16 /* the least secret the handshake must give, in bytes */

enum frame_seal_mode {
	FRAME_SEAL_MAC = 1,     /* payloads travel in the clear, authenticated */
	FRAME_SEAL_ENCRYPT = 2, /* payloads travel encrypted and authenticated */
};

/* Who the connection is between and what for: both ends must give the same. */
struct frame_seal_identity {
	uint32_t job_id, step_id;
	uint32_t opener, acceptor; /* node ids; WIRE_NO_NODE for the rendezvous */
	uint16_t purpose;          /* the message type that opened the connection */
};

struct frame_session;

/* A session from secret[secret_len] (at least FRAME_SEAL_SECRET_MIN bytes), for the end
 * that opened the connection (is_opener) or the one that accepted it. 0, or -EINVAL /
 * -ENOMEM / -EIO with err set. */
int frame_session_create(const uint8_t *secret, size_t secret_len, const struct frame_seal_identity *identity,
			 bool is_opener, enum frame_seal_mode mode, struct frame_session **out, char *err,
			 size_t errlen);
void frame_session_destroy(struct frame_session *session);

/* Seals the next outgoing frame: header[header_len] is authenticated, payload[payload_len]
 * is authenticated or encrypted in place; the tag is written to tag. 0, or -EIO. */
int frame_seal(struct frame_session *session, const uint8_t *header, size_t header_len, uint8_t *payload,
	       size_t payload_len, uint8_t tag[FRAME_SEAL_TAG_BYTES]);

/* Seals the next outgoing frame from payload[payload_len], which stays unchanged: the
 * same frame as frame_seal's, its payload as it goes on the wire written to out when the
 * session encrypts (out unused, and may be NULL, when it only authenticates), so that
 * bytes that travel in the clear are sent from where they are. 0, or -EIO (also for an
 * encrypting session without out). */
int frame_seal_from(struct frame_session *session, const uint8_t *header, size_t header_len,
		    const uint8_t *payload, uint8_t *out, size_t payload_len,
		    uint8_t tag[FRAME_SEAL_TAG_BYTES]);

/* Whether the session's payloads travel encrypted (FRAME_SEAL_ENCRYPT). */
bool frame_session_encrypts(const struct frame_session *session);

/* Opens the next incoming frame: checks the tag over header and payload and decrypts the
 * payload in place. 0, or -EBADMSG (altered, out of order, replayed, reflected, or the
 * session already refused a frame). */
int frame_open(struct frame_session *session, const uint8_t *header, size_t header_len, uint8_t *payload,
	       size_t payload_len, const uint8_t tag[FRAME_SEAL_TAG_BYTES]);

#endif
