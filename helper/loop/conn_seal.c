/* conn_seal.c: the session keys of a helper connection from its handshake (see
 * conn_seal.h). */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "loop/conn_seal.h"

enum frame_seal_mode conn_seal_mode(bool encrypt)
{
	return encrypt ? FRAME_SEAL_ENCRYPT : FRAME_SEAL_MAC;
}

static void put_u64(uint8_t *at, uint64_t value)
{
	for (int i = 0; i < 8; i++)
		at[i] = (uint8_t)(value >> (8 * i));
}

int conn_seal_start(const struct conn_seal_handshake *h, bool is_opener, enum frame_seal_mode mode,
		    struct frame_session **out, char *err, size_t errlen)
{
	struct frame_seal_identity identity = {
		.job_id = h->job_id, .step_id = h->step_id, .opener = h->opener,
		.acceptor = h->acceptor, .purpose = h->purpose,
	};
	uint8_t secret[24];
	int rc;

	put_u64(secret, h->opener_nonce);
	put_u64(secret + 8, h->acceptor_nonce);
	put_u64(secret + 16, h->challenge);
	rc = frame_session_create(secret, sizeof(secret), &identity, is_opener, mode, out, err, errlen);
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}
