/* stateless.c: see stateless.h. */
#include "stateless.h"

#include <ngtcp2/ngtcp2_crypto.h>

#include "log.h"
#include "server.h"
#include "stats.h"
#include "token.h"
#include "worker.h"

void qs_stateless_vneg(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *data,
                       size_t len) {
  static const uint32_t versions[] = {NGTCP2_PROTO_VER_V1, NGTCP2_PROTO_VER_V2_DRAFT};
  ngtcp2_version_cid vc;
  uint8_t buf[1500], rnd;
  ngtcp2_ssize n;
  int rv;

  if (len < NGTCP2_MAX_UDP_PAYLOAD_SIZE)
    return;
  rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, 0);
  if (rv != NGTCP2_ERR_VERSION_NEGOTIATION)
    return;
  qs_worker_rand(w, &rnd, 1);
  n = ngtcp2_pkt_write_version_negotiation(buf, sizeof buf, rnd, vc.scid, vc.scidlen, vc.dcid,
                                           vc.dcidlen, versions,
                                           sizeof versions / sizeof versions[0]);
  if (n <= 0)
    return;
  if (qs_worker_send_raw(w, d, buf, (size_t)n) == 0)
    QS_STAT_ADD(w->st, vneg_tx, 1);
}

void qs_stateless_reset(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *dcid,
                        size_t dcidlen, size_t len) {
  uint8_t buf[QS_RESET_TRIGGER_MIN], token[QS_RESET_TOKEN_LEN], rnd[QS_RESET_TRIGGER_MIN];
  uint64_t now = qs_now();
  size_t out;
  ngtcp2_ssize n;

  if (len < QS_RESET_TRIGGER_MIN)
    return;
  if (now - w->reset_window_start > QS_RATE_WINDOW) {
    w->reset_window_start = now;
    w->resets_in_window = 0;
  }
  if (w->resets_in_window >= QS_RESETS_PER_WINDOW)
    return;
  w->resets_in_window++;
  /* between QS_RESET_LEN_MIN and the trigger size - 1, varying so that a
   * reset does not stand out by a fixed length */
  qs_worker_rand(w, rnd, sizeof rnd);
  out = QS_RESET_LEN_MIN + rnd[0] % (QS_RESET_TRIGGER_MIN - QS_RESET_LEN_MIN);
  if (out > len - 1)
    out = len - 1;
  qs_reset_token(&w->srv->secret, dcid, dcidlen, token);
  n = ngtcp2_pkt_write_stateless_reset(buf, out, token, rnd, out - QS_RESET_TOKEN_LEN);
  if (n <= 0)
    return;
  if (qs_worker_send_raw(w, d, buf, (size_t)n) == 0)
    QS_STAT_ADD(w->st, resets_tx, 1);
}

int qs_stateless_retry(struct qs_worker *w, const struct qs_dgram *d, const ngtcp2_pkt_hd *hd) {
  uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN], buf[1500];
  ngtcp2_cid scid;
  ngtcp2_ssize toklen, n;

  if (qs_worker_mint_handshake(w, &scid) != 0)
    return -1;
  toklen = qs_token_retry_make(&w->srv->token_key, token, hd->version, &d->remote.sa,
                               d->remotelen, &scid, &hd->dcid, qs_now());
  if (toklen < 0)
    return -1;
  n = ngtcp2_crypto_write_retry(buf, sizeof buf, hd->version, &hd->scid, &scid, &hd->dcid, token,
                                (size_t)toklen);
  if (n <= 0)
    return -1;
  if (qs_worker_send_raw(w, d, buf, (size_t)n) != 0)
    return -1;
  QS_STAT_ADD(w->st, retry_tx, 1);
  return 0;
}

void qs_stateless_close(struct qs_worker *w, const struct qs_dgram *d, const ngtcp2_pkt_hd *hd,
                        uint64_t code) {
  uint8_t buf[1500];
  ngtcp2_ssize n;
  n = ngtcp2_crypto_write_connection_close(buf, sizeof buf, hd->version, &hd->scid, &hd->dcid,
                                           code, NULL, 0);
  if (n > 0)
    qs_worker_send_raw(w, d, buf, (size_t)n);
}
