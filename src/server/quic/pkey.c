/* pkey.c: the derivation half of pkey.h (installation: conn_pkey.c). */
#include "pkey.h"

#include <string.h>

#include <nettle/hkdf.h>
#include <nettle/hmac.h>

/* Initial salts (RFC 9001 s5.2; draft-ietf-quic-v2; draft-ietf-quic-tls-29) */
static const uint8_t salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
static const uint8_t salt_v2_draft[20] = {0xa7, 0x07, 0xc2, 0x03, 0xa5, 0x9b, 0x47,
                                          0x18, 0x4a, 0x1d, 0x62, 0xca, 0x57, 0x04,
                                          0x06, 0xea, 0x7a, 0xe3, 0xe5, 0xd3};
static const uint8_t salt_draft[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2,
                                       0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61,
                                       0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};

/* An HMAC keyed once with a secret; nettle's digest leaves it keyed, so
 * every label is expanded from the same context. */
struct mac {
  union {
    struct hmac_sha256_ctx s256;
    struct hmac_sha512_ctx s384;
  } u;
  nettle_hash_update_func *update;
  nettle_hash_digest_func *digest;
  size_t len;
};

static int mac_key(struct mac *m, const uint8_t *key, size_t keylen, size_t hashlen) {
  switch (hashlen) {
  case SHA256_DIGEST_SIZE:
    hmac_sha256_set_key(&m->u.s256, keylen, key);
    m->update = (nettle_hash_update_func *)hmac_sha256_update;
    m->digest = (nettle_hash_digest_func *)hmac_sha256_digest;
    break;
  case SHA384_DIGEST_SIZE:
    hmac_sha384_set_key(&m->u.s384, keylen, key);
    m->update = (nettle_hash_update_func *)hmac_sha512_update;
    m->digest = (nettle_hash_digest_func *)hmac_sha384_digest;
    break;
  default:
    return -1;
  }
  m->len = hashlen;
  return 0;
}

/* HKDF-Expand-Label (RFC 8446 s7.1) with an empty context: the info is
 * the output length (16 bits), the label's length and "tls13 " label, and
 * a zero context length. */
static void expand_label(struct mac *m, const char *label, uint8_t *out, size_t outlen) {
  static const char prefix[] = "tls13 ";
  uint8_t info[2 + 1 + sizeof prefix - 1 + 16 + 1];
  size_t llen = strlen(label), n = 0;
  info[n++] = (uint8_t)(outlen >> 8);
  info[n++] = (uint8_t)outlen;
  info[n++] = (uint8_t)(sizeof prefix - 1 + llen);
  memcpy(info + n, prefix, sizeof prefix - 1);
  n += sizeof prefix - 1;
  memcpy(info + n, label, llen); /* labels here are at most 10 octets */
  n += llen;
  info[n++] = 0;
  hkdf_expand(&m->u, m->update, m->digest, m->len, n, info, outlen, out);
}

void qs_pkey_initial_secrets(uint32_t version, const uint8_t *dcid, size_t dcidlen,
                             uint8_t client[QS_PKEY_INITIAL_SECRET_LEN],
                             uint8_t server[QS_PKEY_INITIAL_SECRET_LEN]) {
  const uint8_t *salt = version == NGTCP2_PROTO_VER_V1         ? salt_v1
                        : version == NGTCP2_PROTO_VER_V2_DRAFT ? salt_v2_draft
                                                               : salt_draft;
  uint8_t initial[QS_PKEY_INITIAL_SECRET_LEN];
  struct mac m;
  mac_key(&m, salt, sizeof salt_v1, SHA256_DIGEST_SIZE);
  hkdf_extract(&m.u, m.update, m.digest, m.len, dcidlen, dcid, initial);
  mac_key(&m, initial, sizeof initial, SHA256_DIGEST_SIZE);
  expand_label(&m, "client in", client, QS_PKEY_INITIAL_SECRET_LEN);
  expand_label(&m, "server in", server, QS_PKEY_INITIAL_SECRET_LEN);
  explicit_bzero(initial, sizeof initial);
  explicit_bzero(&m, sizeof m);
}

int qs_pkey_derive(uint32_t version, const uint8_t *secret, size_t secretlen, size_t keylen,
                   size_t ivlen, uint8_t *key, uint8_t *iv, uint8_t *hp) {
  int v2 = version == NGTCP2_PROTO_VER_V2_DRAFT;
  struct mac m;
  if (keylen > QS_PKEY_KEY_MAX || ivlen > QS_PKEY_IV_MAX ||
      mac_key(&m, secret, secretlen, secretlen) != 0)
    return -1;
  expand_label(&m, v2 ? "quicv2 key" : "quic key", key, keylen);
  expand_label(&m, v2 ? "quicv2 iv" : "quic iv", iv, ivlen);
  if (hp)
    expand_label(&m, v2 ? "quicv2 hp" : "quic hp", hp, keylen);
  explicit_bzero(&m, sizeof m);
  return 0;
}

int qs_pkey_next_secret(const uint8_t *secret, size_t secretlen, uint8_t *next) {
  struct mac m;
  if (mac_key(&m, secret, secretlen, secretlen) != 0)
    return -1;
  expand_label(&m, "quic ku", next, secretlen);
  explicit_bzero(&m, sizeof m);
  return 0;
}
