/* frame_seal.c: per-frame authentication and encryption of helper connections (see
 * frame_seal.h): HKDF-SHA256 for the two direction keys, AES-256-GCM for the frames. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "internal/frame_seal.h"

#define KEY_BYTES 32
#define NONCE_BYTES 12

struct direction {
	EVP_CIPHER_CTX *ctx;
	uint8_t key[KEY_BYTES];
	bool keyed;       /* ctx holds the key's schedule: each frame sets only its nonce */
	uint64_t counter; /* the next frame's number */
};

struct frame_session {
	enum frame_seal_mode mode;
	struct direction out, in;
	bool refused; /* a frame failed to open: nothing more is accepted */
};

static void put_u32(uint8_t *at, uint32_t value)
{
	for (int i = 0; i < 4; i++)
		at[i] = (uint8_t)(value >> (24 - 8 * i));
}

/* The HKDF info of one direction: a label, the identity, and who sends. */
static size_t direction_info(const struct frame_seal_identity *id, bool from_opener, uint8_t *info)
{
	static const char label[] = "lcr frame seal v1";
	size_t n = sizeof(label);

	memcpy(info, label, n);
	put_u32(info + n, id->job_id);
	put_u32(info + n + 4, id->step_id);
	put_u32(info + n + 8, id->opener);
	put_u32(info + n + 12, id->acceptor);
	put_u32(info + n + 16, id->purpose);
	info[n + 20] = from_opener ? 'o' : 'a';
	return n + 21;
}

static int derive_key(const uint8_t *secret, size_t secret_len, const uint8_t *info, size_t info_len,
		      uint8_t key[KEY_BYTES])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
		OSSL_PARAM_construct_end(),
	};
	int rc = ctx && EVP_KDF_derive(ctx, key, KEY_BYTES, params) == 1 ? 0 : -EIO;

	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

static int direction_init(struct direction *d, const uint8_t *secret, size_t secret_len,
			  const struct frame_seal_identity *id, bool from_opener)
{
	uint8_t info[64];

	d->ctx = EVP_CIPHER_CTX_new();
	if (!d->ctx)
		return -ENOMEM;
	return derive_key(secret, secret_len, info, direction_info(id, from_opener, info), d->key);
}

int frame_session_create(const uint8_t *secret, size_t secret_len, const struct frame_seal_identity *identity,
			 bool is_opener, enum frame_seal_mode mode, struct frame_session **out, char *err,
			 size_t errlen)
{
	struct frame_session *s;
	int rc;

	if (secret_len < FRAME_SEAL_SECRET_MIN || (mode != FRAME_SEAL_MAC && mode != FRAME_SEAL_ENCRYPT)) {
		snprintf(err, errlen, "frame seal: %s", secret_len < FRAME_SEAL_SECRET_MIN ?
			 "the handshake's secret is too short" : "unknown mode");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "frame seal: out of memory");
		return -ENOMEM;
	}
	s->mode = mode;
	rc = direction_init(&s->out, secret, secret_len, identity, is_opener);
	if (rc == 0)
		rc = direction_init(&s->in, secret, secret_len, identity, !is_opener);
	if (rc < 0) {
		snprintf(err, errlen, "frame seal: cannot derive the session keys (libcrypto)");
		frame_session_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

void frame_session_destroy(struct frame_session *session)
{
	if (!session)
		return;
	EVP_CIPHER_CTX_free(session->out.ctx);
	EVP_CIPHER_CTX_free(session->in.ctx);
	OPENSSL_cleanse(session, sizeof(*session));
	free(session);
}

/* GCM's nonce for frame `counter`: four zero bytes, then the counter. */
static void nonce_of(uint64_t counter, uint8_t nonce[NONCE_BYTES])
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

/* Starts frame `counter` of direction d: the key's schedule is made once, then each frame
 * gives only its nonce. */
static int start_frame(struct direction *d, bool sealing)
{
	uint8_t nonce[NONCE_BYTES];
	int (*init)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *,
		    const unsigned char *) = sealing ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;

	if (!d->keyed && init(d->ctx, EVP_aes_256_gcm(), NULL, d->key, NULL) != 1)
		return -EIO;
	d->keyed = true;
	nonce_of(d->counter, nonce);
	return init(d->ctx, NULL, NULL, NULL, nonce) == 1 ? 0 : -EIO;
}

/* Runs one frame through GCM: in[len] is encrypted (or decrypted) into out when the mode
 * encrypts (out may be in), else only authenticated (out unused). */
static int run_gcm(struct direction *d, enum frame_seal_mode mode, bool sealing, const uint8_t *header,
		   size_t header_len, const uint8_t *in, uint8_t *out, size_t len)
{
	int n, (*update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int) =
		sealing ? EVP_EncryptUpdate : EVP_DecryptUpdate;

	if (start_frame(d, sealing) < 0 || update(d->ctx, NULL, &n, header, (int)header_len) != 1)
		return -EIO;
	for (size_t done = 0; done < len;) {
		int piece = len - done > (1u << 30) ? 1 << 30 : (int)(len - done);
		if (mode == FRAME_SEAL_ENCRYPT ? update(d->ctx, out + done, &n, in + done, piece) != 1 :
						 update(d->ctx, NULL, &n, in + done, piece) != 1)
			return -EIO;
		done += (size_t)piece;
	}
	return 0;
}

static int finish_seal(struct direction *d, uint8_t tag[FRAME_SEAL_TAG_BYTES])
{
	int n;

	if (EVP_EncryptFinal_ex(d->ctx, NULL, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_GCM_GET_TAG, FRAME_SEAL_TAG_BYTES, tag) != 1)
		return -EIO;
	d->counter++;
	return 0;
}

int frame_seal(struct frame_session *session, const uint8_t *header, size_t header_len, uint8_t *payload,
	       size_t payload_len, uint8_t tag[FRAME_SEAL_TAG_BYTES])
{
	struct direction *d = &session->out;

	if (run_gcm(d, session->mode, true, header, header_len, payload, payload, payload_len) < 0)
		return -EIO;
	return finish_seal(d, tag);
}

int frame_seal_from(struct frame_session *session, const uint8_t *header, size_t header_len,
		    const uint8_t *payload, uint8_t *out, size_t payload_len,
		    uint8_t tag[FRAME_SEAL_TAG_BYTES])
{
	struct direction *d = &session->out;

	if ((session->mode == FRAME_SEAL_ENCRYPT && !out) ||
	    run_gcm(d, session->mode, true, header, header_len, payload, out, payload_len) < 0)
		return -EIO;
	return finish_seal(d, tag);
}

bool frame_session_encrypts(const struct frame_session *session)
{
	return session->mode == FRAME_SEAL_ENCRYPT;
}

int frame_open(struct frame_session *session, const uint8_t *header, size_t header_len, uint8_t *payload,
	       size_t payload_len, const uint8_t tag[FRAME_SEAL_TAG_BYTES])
{
	struct direction *d = &session->in;
	int n;

	if (session->refused ||
	    run_gcm(d, session->mode, false, header, header_len, payload, payload, payload_len) < 0 ||
	    EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_GCM_SET_TAG, FRAME_SEAL_TAG_BYTES, (void *)tag) != 1 ||
	    EVP_DecryptFinal_ex(d->ctx, NULL, &n) != 1) {
		session->refused = true;
		return -EBADMSG;
	}
	d->counter++;
	return 0;
}
