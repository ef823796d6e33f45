/* pkey.h: QUIC packet protection keys (RFC 9001 s5.1-5.2, s6.1) derived
 * with nettle's HMAC, and the ngtcp2 callbacks that install them.
 *
 * Why not libngtcp2_crypto_gnutls's derivation: each of its HKDF calls goes
 * through gnutls_hkdf_expand, which sets up and then zeroizes a large MAC
 * context (about 22k instructions a call, 26 calls per connection: 0.6M of
 * a 4M-instruction full handshake, BENCHMARKS.md).  Here a secret keys one
 * HMAC context once and every label is expanded from it.  The AEAD and
 * header protection contexts are still libngtcp2_crypto_gnutls's (GnuTLS
 * does the packet crypto), and so is everything else it does.
 *
 * Versions: those libngtcp2 0.12 accepts, with the salts and labels
 * libngtcp2_crypto 0.12 uses for them, so peers on the same library agree:
 * QUIC v1 (RFC 9001), the v2 draft (NGTCP2_PROTO_VER_V2_DRAFT, 0x709a50c4:
 * draft-ietf-quic-v2's salt and "quicv2 key/iv/hp" labels; not RFC 9369's
 * final version and salt), and drafts 29-32 (the draft-29 salt).  The key
 * update label is "quic ku" for every version, as in libngtcp2_crypto 0.12.
 */
#ifndef QS_SERVER_PKEY_H
#define QS_SERVER_PKEY_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>

#define QS_PKEY_INITIAL_SECRET_LEN 32 /* SHA-256 */
#define QS_PKEY_SECRET_MAX 48         /* SHA-384 */
#define QS_PKEY_KEY_MAX 32
#define QS_PKEY_IV_MAX 32

/* ---- derivation (I/O-free) ---- */

/* qs_pkey_initial_secrets derives the client's and the server's Initial
 * secrets (32 octets each) of |version| from the client's first DCID. */
void qs_pkey_initial_secrets(uint32_t version, const uint8_t *dcid, size_t dcidlen,
                             uint8_t client[QS_PKEY_INITIAL_SECRET_LEN],
                             uint8_t server[QS_PKEY_INITIAL_SECRET_LEN]);

/* qs_pkey_derive derives the packet protection key (|keylen| octets), IV
 * (|ivlen|) and, unless |hp| is NULL, header protection key (|keylen|) of
 * |version| from a traffic secret.  The secret's length names the hash:
 * 32 SHA-256, 48 SHA-384.  Returns 0, or -1 for another secret length or a
 * key or IV longer than QS_PKEY_KEY_MAX / QS_PKEY_IV_MAX. */
int qs_pkey_derive(uint32_t version, const uint8_t *secret, size_t secretlen, size_t keylen,
                   size_t ivlen, uint8_t *key, uint8_t *iv, uint8_t *hp);

/* qs_pkey_next_secret derives the next generation's secret (key update,
 * "quic ku") into |next| (|secretlen| octets).  Returns 0 or -1 as above. */
int qs_pkey_next_secret(const uint8_t *secret, size_t secretlen, uint8_t *next);

/* ---- installation into ngtcp2 (conn_pkey.c) ---- */

/* ngtcp2 callbacks in place of ngtcp2_crypto_recv_client_initial_cb and
 * ngtcp2_crypto_update_key_cb (same contracts). */
int qs_pkey_recv_client_initial_cb(ngtcp2_conn *conn, const ngtcp2_cid *dcid, void *user_data);
int qs_pkey_update_key_cb(ngtcp2_conn *conn, uint8_t *rx_secret, uint8_t *tx_secret,
                          ngtcp2_crypto_aead_ctx *rx_aead_ctx, uint8_t *rx_iv,
                          ngtcp2_crypto_aead_ctx *tx_aead_ctx, uint8_t *tx_iv,
                          const uint8_t *current_rx_secret, const uint8_t *current_tx_secret,
                          size_t secretlen, void *user_data);

/* qs_pkey_configure_session makes a server session configured by
 * ngtcp2_crypto_gnutls_configure_server_session install its Handshake,
 * 0-RTT and 1-RTT keys with the derivation above (GnuTLS's secret
 * function).  The session's pointer must be an ngtcp2_crypto_conn_ref. */
void qs_pkey_configure_session(gnutls_session_t s);

#endif
