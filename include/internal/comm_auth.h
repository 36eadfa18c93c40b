/* comm_auth.h: the secret and the challenge-response that admit a peer to a TCP ring
 * connection of a communicator (comm_tcp.c).
 *
 * Each member makes a fresh random key for its listener and publishes it beside its address
 * in the job's own store (the helper's key-value store, reached only through the user's
 * 0700 socket, or the rendezvous directory, where entries are files of mode 0600 owned by
 * the user): only the job's ranks can read it. The acceptor opens every connection with a
 * challenge (a fresh nonce); the connector answers with its hello and an HMAC-SHA256, under
 * the acceptor's key, of both nonces and the hello; the acceptor proves the same key back
 * over its own hello. Whoever cannot read the store cannot pass for a member, in either
 * direction, and a recorded hello does not answer another challenge. The HMAC is OpenSSL's
 * (libcrypto). */
#ifndef LCR_INTERNAL_COMM_AUTH_H
#define LCR_INTERNAL_COMM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COMM_AUTH_KEY_BYTES 32
#define COMM_AUTH_KEY_HEX (2 * COMM_AUTH_KEY_BYTES)
#define COMM_AUTH_NONCE_BYTES 16
#define COMM_AUTH_MAC_BYTES 32

/* Whose proof a MAC is: the connector's, or the acceptor's answer. */
enum comm_auth_role {
	COMM_AUTH_CONNECTOR = 1,
	COMM_AUTH_ACCEPTOR = 2,
};

/* Fills buf[len] from getrandom(2). 0 or -errno. */
int comm_auth_random(void *buf, size_t len);

/* Writes key as COMM_AUTH_KEY_HEX lowercase hex digits and a NUL into hex. */
void comm_auth_key_to_hex(const uint8_t key[COMM_AUTH_KEY_BYTES], char hex[COMM_AUTH_KEY_HEX + 1]);

/* Reads exactly COMM_AUTH_KEY_HEX hex digits. 0 or -EPROTO. */
int comm_auth_key_from_hex(const char *hex, uint8_t key[COMM_AUTH_KEY_BYTES]);

/* The MAC, under key, of role, the challenge's nonce and message[len]. 0 or -EIO. */
int comm_auth_mac(const uint8_t key[COMM_AUTH_KEY_BYTES], enum comm_auth_role role,
		  const uint8_t challenge[COMM_AUTH_NONCE_BYTES], const void *message, size_t len,
		  uint8_t mac[COMM_AUTH_MAC_BYTES]);

/* Whether mac is the MAC comm_auth_mac computes for these (compared in constant time). */
bool comm_auth_mac_valid(const uint8_t key[COMM_AUTH_KEY_BYTES], enum comm_auth_role role,
			 const uint8_t challenge[COMM_AUTH_NONCE_BYTES], const void *message,
			 size_t len, const uint8_t mac[COMM_AUTH_MAC_BYTES]);

#endif
