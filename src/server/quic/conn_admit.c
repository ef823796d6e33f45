/* conn_admit.c: whether an Initial for an unknown DCID becomes a
 * connection (see conn.h, qs_conn_admit, and admit.h for the policy). */
#include "conn.h"

#include <ngtcp2/ngtcp2_crypto.h>

#include "admit.h"
#include "log.h"
#include "server.h"
#include "stateless.h"
#include "stats.h"
#include "token.h"
#include "worker.h"

void qs_conn_admit(struct qs_worker *w, const struct qs_dgram *d, const ngtcp2_pkt_hd *hd,
                   const uint8_t *data, size_t len) {
  const struct qs_server *srv = w->srv;
  ngtcp2_cid odcid;
  const ngtcp2_cid *pod = NULL;
  uint64_t now = qs_now();
  int validated = 0;

  if (hd->token.len && hd->token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
    if (qs_token_retry_check(&srv->token_key, &odcid, hd->token.base, hd->token.len,
                             hd->version, &d->remote.sa, d->remotelen, &hd->dcid, now) != 0) {
      QS_DEBUG(w->index, "invalid Retry token");
      qs_stateless_close(w, d, hd, NGTCP2_INVALID_TOKEN);
      QS_STAT_ADD(w->st, token_invalid, 1);
      return;
    }
    pod = &odcid;
    validated = 1;
  } else if (hd->token.len &&
             qs_token_addr_check(&srv->token_key, hd->token.base, hd->token.len, &d->remote.sa,
                                 d->remotelen, now) == 0) {
    /* a NEW_TOKEN token: the address is proven.  A stale or foreign one is
     * no error (RFC 9000 s8.1.3): the Initial is treated as tokenless. */
    validated = 1;
  }
  switch (qs_admit_decide(&srv->admit, &w->admit, w->nconns, validated, now)) {
  case QS_ADMIT_REFUSE_CONNS:
    qs_stateless_close(w, d, hd, NGTCP2_CONNECTION_REFUSED);
    QS_STAT_ADD(w->st, refused_conns, 1);
    return;
  case QS_ADMIT_REFUSE_HANDSHAKES:
    qs_stateless_close(w, d, hd, NGTCP2_CONNECTION_REFUSED);
    QS_STAT_ADD(w->st, refused_handshakes, 1);
    return;
  case QS_ADMIT_RETRY:
    qs_stateless_retry(w, d, hd);
    return;
  default:
    break;
  }
  if (validated && !pod)
    QS_STAT_ADD(w->st, token_accepted, 1);
  qs_conn_accept(w, d, hd, pod, validated, data, len);
}
