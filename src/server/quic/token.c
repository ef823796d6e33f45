/* token.c: see token.h. */
#include "token.h"

int qs_token_key_init(struct qs_token_key *k, const struct qs_secret *s) {
  int rv = qs_secret_derive(s, "retry token", NULL, 0, k->key, sizeof k->key);
  if (rv != 0)
    return rv;
  return qs_secret_derive(s, "address token", NULL, 0, k->addr, sizeof k->addr);
}

ngtcp2_ssize qs_token_retry_make(const struct qs_token_key *k, uint8_t *token, uint32_t version,
                                 const struct sockaddr *remote, socklen_t remotelen,
                                 const ngtcp2_cid *retry_scid, const ngtcp2_cid *odcid,
                                 ngtcp2_tstamp now) {
  return ngtcp2_crypto_generate_retry_token(token, k->key, sizeof k->key, version, remote,
                                            remotelen, retry_scid, odcid, now);
}

int qs_token_retry_check(const struct qs_token_key *k, ngtcp2_cid *odcid, const uint8_t *token,
                         size_t tokenlen, uint32_t version, const struct sockaddr *remote,
                         socklen_t remotelen, const ngtcp2_cid *dcid, ngtcp2_tstamp now) {
  if (tokenlen == 0 || token[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY)
    return -1;
  return ngtcp2_crypto_verify_retry_token(odcid, token, tokenlen, k->key, sizeof k->key, version,
                                          remote, remotelen, dcid, QS_RETRY_TOKEN_TTL, now) == 0
             ? 0
             : -1;
}

ngtcp2_ssize qs_token_addr_make(const struct qs_token_key *k, uint8_t *token,
                                const struct sockaddr *remote, socklen_t remotelen,
                                ngtcp2_tstamp now) {
  /* ngtcp2 seals the IP address alone (not the port) into the AAD */
  return ngtcp2_crypto_generate_regular_token(token, k->addr, sizeof k->addr, remote, remotelen,
                                              now);
}

int qs_token_addr_check(const struct qs_token_key *k, const uint8_t *token, size_t tokenlen,
                        const struct sockaddr *remote, socklen_t remotelen, ngtcp2_tstamp now) {
  if (tokenlen == 0 || token[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR)
    return -1;
  return ngtcp2_crypto_verify_regular_token(token, tokenlen, k->addr, sizeof k->addr, remote,
                                            remotelen, QS_ADDR_TOKEN_TTL, now) == 0
             ? 0
             : -1;
}
