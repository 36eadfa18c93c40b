/* comm_auth.c: keys and HMACs of the communicators' ring handshake (see comm_auth.h). The
 * MAC is HMAC-SHA256 from OpenSSL's libcrypto over a label naming the role, the acceptor's
 * challenge and the hello; nothing cryptographic is written here. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "internal/comm_auth.h"

int comm_auth_random(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom((char *)buf + got, len - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

void comm_auth_key_to_hex(const uint8_t key[COMM_AUTH_KEY_BYTES], char hex[COMM_AUTH_KEY_HEX + 1])
{
	for (size_t i = 0; i < COMM_AUTH_KEY_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int comm_auth_key_from_hex(const char *hex, uint8_t key[COMM_AUTH_KEY_BYTES])
{
	if (strlen(hex) != COMM_AUTH_KEY_HEX)
		return -EPROTO;
	for (size_t i = 0; i < COMM_AUTH_KEY_BYTES; i++) {
		int high = hex_digit(hex[2 * i]), low = hex_digit(hex[2 * i + 1]);

		if (high < 0 || low < 0)
			return -EPROTO;
		key[i] = (uint8_t)(high << 4 | low);
	}
	return 0;
}

static const char *role_label(enum comm_auth_role role)
{
	return role == COMM_AUTH_CONNECTOR ? "lcr comm connector v1" : "lcr comm acceptor v1";
}

int comm_auth_mac(const uint8_t key[COMM_AUTH_KEY_BYTES], enum comm_auth_role role,
		  const uint8_t challenge[COMM_AUTH_NONCE_BYTES], const void *message, size_t len,
		  uint8_t mac[COMM_AUTH_MAC_BYTES])
{
	const char *label = role_label(role);
	int rc = -EIO;
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t outlen = 0;

	if (ctx && EVP_MAC_init(ctx, key, COMM_AUTH_KEY_BYTES, params) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)label, strlen(label) + 1) == 1 &&
	    EVP_MAC_update(ctx, challenge, COMM_AUTH_NONCE_BYTES) == 1 &&
	    EVP_MAC_update(ctx, message, len) == 1 &&
	    EVP_MAC_final(ctx, mac, &outlen, COMM_AUTH_MAC_BYTES) == 1 && outlen == COMM_AUTH_MAC_BYTES)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	return rc;
}

bool comm_auth_mac_valid(const uint8_t key[COMM_AUTH_KEY_BYTES], enum comm_auth_role role,
			 const uint8_t challenge[COMM_AUTH_NONCE_BYTES], const void *message,
			 size_t len, const uint8_t mac[COMM_AUTH_MAC_BYTES])
{
	uint8_t expected[COMM_AUTH_MAC_BYTES];

	if (comm_auth_mac(key, role, challenge, message, len, expected) < 0)
		return false;
	return CRYPTO_memcmp(expected, mac, COMM_AUTH_MAC_BYTES) == 0;
}
