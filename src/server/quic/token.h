/* token.h: address-validation tokens (RFC 9000 s8.1), sealed with keys
 * derived from the static secret so that any worker, and any process
 * started with the same --secret-file, validates them.
 *
 * Retry tokens (label "retry token") bind the client address and port, the
 * original DCID and the Retry SCID, and expire after QS_RETRY_TOKEN_TTL.
 * NEW_TOKEN tokens (label "address token"), issued once a handshake
 * completes, bind the client's IP address only (a returning client has a
 * new port) and expire after QS_ADDR_TOKEN_TTL; an Initial carrying a
 * valid one skips Retry.
 */
#ifndef QS_SERVER_TOKEN_H
#define QS_SERVER_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <ngtcp2/ngtcp2_crypto.h>

#include "quicsteer/reset.h"

#define QS_RETRY_TOKEN_TTL (10 * NGTCP2_SECONDS)
#define QS_ADDR_TOKEN_TTL (3600 * NGTCP2_SECONDS)
#define QS_TOKEN_KEY_LEN 32

struct qs_token_key {
  uint8_t key[QS_TOKEN_KEY_LEN];  /* Retry tokens */
  uint8_t addr[QS_TOKEN_KEY_LEN]; /* NEW_TOKEN tokens */
};

/* qs_token_key_init derives the token keys from |s|.  Returns 0 or
 * QS_ERR_INVAL. */
int qs_token_key_init(struct qs_token_key *k, const struct qs_secret *s);

/* qs_token_retry_make writes a Retry token (NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN
 * octets of room) and returns its length, or -1. */
ngtcp2_ssize qs_token_retry_make(const struct qs_token_key *k, uint8_t *token, uint32_t version,
                                 const struct sockaddr *remote, socklen_t remotelen,
                                 const ngtcp2_cid *retry_scid, const ngtcp2_cid *odcid,
                                 ngtcp2_tstamp now);

/* qs_token_retry_check validates |token| that arrived in an Initial whose
 * DCID is |dcid| from |remote|; on success stores the original DCID in
 * |odcid| and returns 0, else -1. */
int qs_token_retry_check(const struct qs_token_key *k, ngtcp2_cid *odcid, const uint8_t *token,
                         size_t tokenlen, uint32_t version, const struct sockaddr *remote,
                         socklen_t remotelen, const ngtcp2_cid *dcid, ngtcp2_tstamp now);

/* qs_token_addr_make writes a NEW_TOKEN token for |remote|
 * (NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN octets of room) and returns its
 * length, or -1. */
ngtcp2_ssize qs_token_addr_make(const struct qs_token_key *k, uint8_t *token,
                                const struct sockaddr *remote, socklen_t remotelen,
                                ngtcp2_tstamp now);

/* qs_token_addr_check returns 0 if |token| is a NEW_TOKEN token issued to
 * the IP address of |remote| less than QS_ADDR_TOKEN_TTL ago, else -1. */
int qs_token_addr_check(const struct qs_token_key *k, const uint8_t *token, size_t tokenlen,
                        const struct sockaddr *remote, socklen_t remotelen, ngtcp2_tstamp now);

#endif
