/* conn_tx.c: a connection's transmit path: packets from ngtcp2 (with
 * HTTP/3 stream data from nghttp3) into GSO batches, the send itself, and
 * what the socket refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "h3.h"
#include "log.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

/* ---- sending ---- */

int qs_conn_send(struct qs_conn *c, const ngtcp2_path *path, uint8_t ecn, const uint8_t *buf,
                      size_t len, size_t gso) {
  struct qs_worker *w = c->w;
  struct qs_sock *sk = (&c->w->socks[c->group]);
  size_t sent = 0;
  int rv;

  rv = qs_udp_send(sk->fd, sk->wildcard, (const union qs_sa *)path->local.addr,
                   (const union qs_sa *)path->remote.addr, path->remote.addrlen, ecn, buf, len,
                   gso, &w->gso_ok, &sent);
  if (sent) {
    QS_STAT_ADD(w->st, dgrams_tx, (sent + gso - 1) / gso);
    QS_STAT_ADD(w->st, bytes_tx, sent);
  }
  if (rv == -EAGAIN || rv == -ENOBUFS) {
    if (!c->pend) {
      c->pend = malloc(QS_TX_BUF);
      if (!c->pend)
        return 0; /* lost: ngtcp2 retransmits */
    }
    c->pendlen = len - sent;
    memcpy(c->pend, buf + sent, c->pendlen);
    c->pendgso = gso;
    memcpy(&c->pend_local, path->local.addr, path->local.addrlen);
    memcpy(&c->pend_remote, path->remote.addr, path->remote.addrlen);
    c->pend_remotelen = path->remote.addrlen;
    c->pend_ecn = ecn;
    qs_worker_block(w, c);
    return -1;
  }
  if (rv < 0) {
    char a[64];
    QS_DEBUG(w->index, "send to %s failed: %s",
             qs_addr_format(a, sizeof a, path->remote.addr), strerror(-rv));
  }
  return 0;
}

int qs_conn_resume_tx(struct qs_conn *c) {
  struct qs_sock *sk = (&c->w->socks[c->group]);
  size_t sent = 0;
  int rv;
  if (!c->pendlen) {
    c->blocked = 0;
    return 0;
  }
  rv = qs_udp_send(sk->fd, sk->wildcard, &c->pend_local, &c->pend_remote, c->pend_remotelen,
                   c->pend_ecn, c->pend, c->pendlen, c->pendgso, &c->w->gso_ok, &sent);
  if (sent) {
    QS_STAT_ADD(c->w->st, dgrams_tx, (sent + c->pendgso - 1) / c->pendgso);
    QS_STAT_ADD(c->w->st, bytes_tx, sent);
  }
  if (rv == -EAGAIN || rv == -ENOBUFS) {
    memmove(c->pend, c->pend + sent, c->pendlen - sent);
    c->pendlen -= sent;
    return -1;
  }
  /* drained: a connection that hit a full socket once should not keep a
   * QS_TX_BUF buffer for the rest of its life */
  free(c->pend);
  c->pend = NULL;
  c->pendlen = 0;
  c->blocked = 0;
  return 0;
}

/* ---- writing ---- */

static int write_pkts(struct qs_conn *c) {
  struct qs_worker *w = c->w;
  ngtcp2_tstamp ts = qs_now();
  size_t bufmax = ngtcp2_conn_get_max_tx_udp_payload_size(c->q);
  size_t pathmax = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->q);
  size_t maxpkts = ngtcp2_conn_get_send_quantum(c->q) / pathmax;
  size_t off = 0, gso = 0, nbatch = 0, total = 0;
  uint8_t *buf = w->txbuf, becn = 0;
  ngtcp2_path_storage ps, bps;
  ngtcp2_pkt_info pi = {0};
  int blocked = 0;

  if (maxpkts < 1)
    maxpkts = 1;
  if (maxpkts > QS_GSO_MAX_SEGS)
    maxpkts = QS_GSO_MAX_SEGS;
  if (maxpkts > QS_TX_BUF / bufmax)
    maxpkts = QS_TX_BUF / bufmax;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_path_storage_zero(&bps);

  for (;;) {
    int64_t sid = -1;
    int fin = 0, rv;
    nghttp3_vec vec[16];
    nghttp3_ssize nvec = 0;
    ngtcp2_ssize ndatalen = -1, nwrite;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;

    if (c->h3 && ngtcp2_conn_get_max_data_left(c->q)) {
      nvec = nghttp3_conn_writev_stream(c->h3, &sid, &fin, vec, 16);
      if (nvec < 0) {
        qs_conn_set_app_error(c, (int)nvec);
        qs_conn_close_err(c, NGTCP2_ERR_CALLBACK_FAILURE);
        return -1;
      }
    }
    if (fin)
      flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    nwrite = ngtcp2_conn_writev_stream(c->q, &ps.path, &pi, buf + off, bufmax, &ndatalen, flags,
                                       sid, (const ngtcp2_vec *)vec, (size_t)nvec, ts);
    if (nwrite < 0) {
      switch (nwrite) {
      case NGTCP2_ERR_STREAM_DATA_BLOCKED:
        nghttp3_conn_block_stream(c->h3, sid);
        continue;
      case NGTCP2_ERR_STREAM_SHUT_WR:
        nghttp3_conn_shutdown_stream_write(c->h3, sid);
        continue;
      case NGTCP2_ERR_WRITE_MORE:
        rv = nghttp3_conn_add_write_offset(c->h3, sid, (size_t)ndatalen);
        if (rv != 0) {
          qs_conn_set_app_error(c, rv);
          qs_conn_close_err(c, NGTCP2_ERR_CALLBACK_FAILURE);
          return -1;
        }
        continue;
      default:
        qs_conn_close_err(c, (int)nwrite);
        return -1;
      }
    }
    if (ndatalen >= 0 && sid >= 0) {
      rv = nghttp3_conn_add_write_offset(c->h3, sid, (size_t)ndatalen);
      if (rv != 0) {
        qs_conn_set_app_error(c, rv);
        qs_conn_close_err(c, NGTCP2_ERR_CALLBACK_FAILURE);
        return -1;
      }
    }
    if (nwrite == 0)
      break; /* nothing to send, or congestion/pacing limited */
    total++;

    /* GSO: one batch shares path and ECN; all segments but the last have
     * the size of the first */
    if (nbatch && (!ngtcp2_path_eq(&bps.path, &ps.path) || becn != pi.ecn ||
                   (size_t)nwrite > gso)) {
      if (qs_conn_send(c, &bps.path, becn, buf, off, gso) != 0) {
        blocked = 1; /* the packet just written is lost; ngtcp2 recovers */
        nbatch = off = 0;
        break;
      }
      memmove(buf, buf + off, (size_t)nwrite);
      off = nbatch = 0;
    }
    if (nbatch == 0) {
      ngtcp2_path_copy(&bps.path, &ps.path);
      becn = (uint8_t)pi.ecn;
      gso = (size_t)nwrite;
    }
    off += (size_t)nwrite;
    nbatch++;
    if ((size_t)nwrite < gso || nbatch >= maxpkts || off + bufmax > QS_TX_BUF ||
        total >= maxpkts) {
      if (qs_conn_send(c, &bps.path, becn, buf, off, gso) != 0)
        blocked = 1;
      off = nbatch = 0;
      if (blocked || total >= maxpkts)
        break;
    }
  }
  if (nbatch && qs_conn_send(c, &bps.path, becn, buf, off, gso) != 0)
    blocked = 1;
  ngtcp2_conn_update_pkt_tx_time(c->q, ts);
  return blocked ? -1 : 0;
}

void qs_conn_write(struct qs_conn *c) {
  struct qs_worker *w = c->w;
  if (c->state != QS_CONN_OPEN || c->blocked)
    return;
  for (int round = 0; round < 2; round++) {
    if (c->h3)
      qs_h3_pending(c);
    if (write_pkts(c) != 0) {
      /* closed, or waiting for the socket: the timer resumes with it */
      if (c->state == QS_CONN_OPEN)
        ev_timer_stop(w->loop, &c->timer);
      return;
    }
    if (!c->failed)
      break;
  }
  /* the final GOAWAY went out (a drain, or its key is being retired) */
  if (c->goaway == 2 && c->nreq == 0) {
    qs_conn_close_now(c);
    return;
  }
  qs_conn_arm_timer(c);
}

