/* conn_pkey.c: the installation half of pkey.h.  The same steps as
 * libngtcp2_crypto 0.12's server side (which contexts are set, which
 * install function each level takes), with the keys from pkey.c.  The
 * contexts are libngtcp2_crypto_gnutls's: AEAD contexts from its exported
 * init functions, header protection contexts as it makes them (a GnuTLS
 * cipher handle of the ngtcp2_crypto_cipher's algorithm, which its
 * hp_mask and delete callbacks use). */
#include "pkey.h"

#include <stdint.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#define INITIAL_KEYLEN 16 /* AEAD_AES_128_GCM */
#define INITIAL_IVLEN 12

/* One direction's keys, wiped when done. */
struct pk {
  uint8_t key[QS_PKEY_KEY_MAX], iv[QS_PKEY_IV_MAX], hp[QS_PKEY_KEY_MAX];
};

static int hp_ctx_init(ngtcp2_crypto_cipher_ctx *cc, const ngtcp2_crypto_cipher *hp,
                       const uint8_t *key) {
  gnutls_cipher_algorithm_t alg = (gnutls_cipher_algorithm_t)(intptr_t)hp->native_handle;
  gnutls_datum_t k = {.data = (unsigned char *)key, .size = gnutls_cipher_get_key_size(alg)};
  gnutls_cipher_hd_t hd;
  if (gnutls_cipher_init(&hd, alg, &k, NULL) != 0)
    return -1;
  cc->native_handle = hd;
  return 0;
}

static void hp_ctx_free(ngtcp2_crypto_cipher_ctx *cc) {
  if (cc->native_handle)
    gnutls_cipher_deinit(cc->native_handle);
  cc->native_handle = NULL;
}

static void aead_ctx_free(ngtcp2_crypto_aead_ctx *ac) {
  ngtcp2_crypto_aead_ctx_free(ac);
  ac->native_handle = NULL;
}

/* the AEAD and header protection contexts of one direction */
static int ctx_init(ngtcp2_crypto_aead_ctx *ac, ngtcp2_crypto_cipher_ctx *hc,
                    const ngtcp2_crypto_ctx *ctx, const struct pk *k, size_t ivlen, int rx) {
  int rv = rx ? ngtcp2_crypto_aead_ctx_decrypt_init(ac, &ctx->aead, k->key, ivlen)
              : ngtcp2_crypto_aead_ctx_encrypt_init(ac, &ctx->aead, k->key, ivlen);
  if (rv != 0)
    return -1;
  if (hc && hp_ctx_init(hc, &ctx->hp, k->hp) != 0) {
    aead_ctx_free(ac);
    return -1;
  }
  return 0;
}

/* libngtcp2_crypto_gnutls's Initial context (not exported by it) */
static void initial_ctx(ngtcp2_crypto_ctx *ctx) {
  memset(ctx, 0, sizeof *ctx);
  ctx->aead.native_handle = (void *)(intptr_t)GNUTLS_CIPHER_AES_128_GCM;
  ctx->aead.max_overhead = gnutls_cipher_get_tag_size(GNUTLS_CIPHER_AES_128_GCM);
  ctx->md.native_handle = (void *)(intptr_t)GNUTLS_DIG_SHA256;
  ctx->hp.native_handle = (void *)(intptr_t)GNUTLS_CIPHER_AES_128_CBC;
}

int qs_pkey_recv_client_initial_cb(ngtcp2_conn *conn, const ngtcp2_cid *dcid, void *user_data) {
  uint8_t csec[QS_PKEY_INITIAL_SECRET_LEN], ssec[QS_PKEY_INITIAL_SECRET_LEN];
  uint32_t version = ngtcp2_conn_get_client_chosen_version(conn);
  ngtcp2_crypto_aead_ctx rx = {0}, tx = {0};
  ngtcp2_crypto_cipher_ctx rxhp = {0}, txhp = {0};
  ngtcp2_crypto_ctx ctx;
  struct pk rk, tk;
  int rv = -1;
  (void)user_data;

  initial_ctx(&ctx);
  ngtcp2_conn_set_initial_crypto_ctx(conn, &ctx);
  qs_pkey_initial_secrets(version, dcid->data, dcid->datalen, csec, ssec);
  /* a server receives with the client's keys */
  if (qs_pkey_derive(version, csec, sizeof csec, INITIAL_KEYLEN, INITIAL_IVLEN, rk.key, rk.iv,
                     rk.hp) != 0 ||
      qs_pkey_derive(version, ssec, sizeof ssec, INITIAL_KEYLEN, INITIAL_IVLEN, tk.key, tk.iv,
                     tk.hp) != 0)
    goto out;
  if (ctx_init(&rx, &rxhp, &ctx, &rk, INITIAL_IVLEN, 1) != 0)
    goto out;
  if (ctx_init(&tx, &txhp, &ctx, &tk, INITIAL_IVLEN, 0) != 0)
    goto out;
  rv = ngtcp2_conn_install_initial_key(conn, &rx, rk.iv, &rxhp, &tx, tk.iv, &txhp,
                                       INITIAL_IVLEN);
out:
  if (rv != 0) {
    hp_ctx_free(&txhp);
    aead_ctx_free(&tx);
    hp_ctx_free(&rxhp);
    aead_ctx_free(&rx);
  }
  explicit_bzero(csec, sizeof csec);
  explicit_bzero(ssec, sizeof ssec);
  explicit_bzero(&rk, sizeof rk);
  explicit_bzero(&tk, sizeof tk);
  return rv == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

/* The keys of one direction of |level| from GnuTLS's |secret|. */
static int install(ngtcp2_conn *conn, ngtcp2_crypto_level level, const uint8_t *secret,
                   size_t secretlen, int rx) {
  void *tls = ngtcp2_conn_get_tls_native_handle(conn);
  const ngtcp2_crypto_ctx *ctx;
  ngtcp2_crypto_aead_ctx ac = {0};
  ngtcp2_crypto_cipher_ctx hc = {0};
  ngtcp2_crypto_ctx cctx;
  uint32_t version;
  size_t ivlen;
  struct pk k;
  int rv = -1;

  if (level == NGTCP2_CRYPTO_LEVEL_EARLY) {
    if (!rx)
      return 0; /* a server sends no 0-RTT */
    memset(&cctx, 0, sizeof cctx);
    ngtcp2_crypto_ctx_tls_early(&cctx, tls);
    ngtcp2_conn_set_early_crypto_ctx(conn, &cctx);
    ctx = ngtcp2_conn_get_early_crypto_ctx(conn);
    version = ngtcp2_conn_get_client_chosen_version(conn);
  } else if (level == NGTCP2_CRYPTO_LEVEL_HANDSHAKE || level == NGTCP2_CRYPTO_LEVEL_APPLICATION) {
    ctx = ngtcp2_conn_get_crypto_ctx(conn);
    if (!ctx->aead.native_handle) {
      memset(&cctx, 0, sizeof cctx);
      ngtcp2_crypto_ctx_tls(&cctx, tls);
      ngtcp2_conn_set_crypto_ctx(conn, &cctx);
      ctx = ngtcp2_conn_get_crypto_ctx(conn);
    }
    version = ngtcp2_conn_get_negotiated_version(conn);
  } else {
    return -1;
  }
  if (!ctx->aead.native_handle || secretlen != ngtcp2_crypto_md_hashlen(&ctx->md))
    return -1;
  ivlen = ngtcp2_crypto_packet_protection_ivlen(&ctx->aead);
  if (qs_pkey_derive(version, secret, secretlen, ngtcp2_crypto_aead_keylen(&ctx->aead), ivlen,
                     k.key, k.iv, k.hp) != 0 ||
      ctx_init(&ac, &hc, ctx, &k, ivlen, rx) != 0)
    goto out;
  switch (level) {
  case NGTCP2_CRYPTO_LEVEL_EARLY:
    rv = ngtcp2_conn_install_early_key(conn, &ac, k.iv, ivlen, &hc);
    break;
  case NGTCP2_CRYPTO_LEVEL_HANDSHAKE:
    rv = rx ? ngtcp2_conn_install_rx_handshake_key(conn, &ac, k.iv, ivlen, &hc)
            : ngtcp2_conn_install_tx_handshake_key(conn, &ac, k.iv, ivlen, &hc);
    break;
  default: /* 1-RTT: ngtcp2 keeps the secret for key updates */
    rv = rx ? ngtcp2_conn_install_rx_key(conn, secret, secretlen, &ac, k.iv, ivlen, &hc)
            : ngtcp2_conn_install_tx_key(conn, secret, secretlen, &ac, k.iv, ivlen, &hc);
    break;
  }
  if (rv != 0) {
    hp_ctx_free(&hc);
    aead_ctx_free(&ac);
  }
out:
  explicit_bzero(&k, sizeof k);
  return rv == 0 ? 0 : -1;
}

/* GnuTLS's secret function (gnutls_handshake_set_secret_function).  The
 * transport parameters need nothing here: with GnuTLS they travel in the
 * extension libngtcp2_crypto_gnutls registers. */
static int secret_func(gnutls_session_t session, gnutls_record_encryption_level_t glevel,
                       const void *rx_secret, const void *tx_secret, size_t secretlen) {
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
  ngtcp2_conn *conn = ref->get_conn(ref);
  ngtcp2_crypto_level level = ngtcp2_crypto_gnutls_from_gnutls_record_encryption_level(glevel);
  if (rx_secret && install(conn, level, rx_secret, secretlen, 1) != 0)
    return -1;
  if (tx_secret && install(conn, level, tx_secret, secretlen, 0) != 0)
    return -1;
  return 0;
}

void qs_pkey_configure_session(gnutls_session_t s) {
  gnutls_handshake_set_secret_function(s, secret_func);
}

int qs_pkey_update_key_cb(ngtcp2_conn *conn, uint8_t *rx_secret, uint8_t *tx_secret,
                          ngtcp2_crypto_aead_ctx *rx_aead_ctx, uint8_t *rx_iv,
                          ngtcp2_crypto_aead_ctx *tx_aead_ctx, uint8_t *tx_iv,
                          const uint8_t *current_rx_secret, const uint8_t *current_tx_secret,
                          size_t secretlen, void *user_data) {
  const ngtcp2_crypto_ctx *ctx = ngtcp2_conn_get_crypto_ctx(conn);
  uint32_t version = ngtcp2_conn_get_negotiated_version(conn);
  size_t keylen = ngtcp2_crypto_aead_keylen(&ctx->aead);
  size_t ivlen = ngtcp2_crypto_packet_protection_ivlen(&ctx->aead);
  struct pk rk, tk;
  int rv = NGTCP2_ERR_CALLBACK_FAILURE;
  (void)user_data;

  /* the next generation's secrets and keys; header protection keys do not
   * change (RFC 9001 s6) */
  if (qs_pkey_next_secret(current_rx_secret, secretlen, rx_secret) != 0 ||
      qs_pkey_derive(version, rx_secret, secretlen, keylen, ivlen, rk.key, rx_iv, NULL) != 0 ||
      qs_pkey_next_secret(current_tx_secret, secretlen, tx_secret) != 0 ||
      qs_pkey_derive(version, tx_secret, secretlen, keylen, ivlen, tk.key, tx_iv, NULL) != 0)
    goto out;
  if (ctx_init(rx_aead_ctx, NULL, ctx, &rk, ivlen, 1) != 0)
    goto out;
  if (ctx_init(tx_aead_ctx, NULL, ctx, &tk, ivlen, 0) != 0) {
    aead_ctx_free(rx_aead_ctx);
    goto out;
  }
  rv = 0;
out:
  explicit_bzero(&rk, sizeof rk);
  explicit_bzero(&tk, sizeof tk);
  return rv;
}
