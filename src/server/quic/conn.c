/* conn.c: see conn.h. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ngtcp2/ngtcp2_crypto.h>

#include "h3.h"
#include "log.h"
#include "pkey.h"
#include "server.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"
#include "quicsteer/util.h"

#define QS_MAX_WINDOW (24 * 1024 * 1024)
#define QS_MAX_STREAM_WINDOW (16 * 1024 * 1024)
#define QS_ALERT_NO_APPLICATION_PROTOCOL 120

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref) {
  return ((struct qs_conn *)ref->user_data)->q;
}

void qs_conn_set_app_error(struct qs_conn *c, int h3_liberr) {
  if (c->ccerr_set)
    return;
  ngtcp2_connection_close_error_set_application_error(
      &c->ccerr, nghttp3_err_infer_quic_app_error_code(h3_liberr), NULL, 0);
  c->ccerr_set = 1;
}

/* ---- connection IDs ---- */

int qs_conn_add_cid(struct qs_conn *c, const ngtcp2_cid *cid) {
  if (c->ncids == c->capcids) {
    size_t cap = c->capcids ? c->capcids * 2 : 8;
    ngtcp2_cid *n = realloc(c->cids, cap * sizeof *n);
    if (!n)
      return -1;
    c->cids = n;
    c->capcids = cap;
  }
  if (qs_cidtab_insert(&c->w->tab, cid->data, cid->datalen, c) != 0)
    return -1;
  c->cids[c->ncids++] = *cid;
  return 0;
}

void qs_conn_remove_cid(struct qs_conn *c, const ngtcp2_cid *cid) {
  for (size_t i = 0; i < c->ncids; i++) {
    if (ngtcp2_cid_eq(&c->cids[i], cid)) {
      qs_cidtab_remove(&c->w->tab, cid->data, cid->datalen, c);
      c->cids[i] = c->cids[--c->ncids];
      return;
    }
  }
}

/* ---- ngtcp2 callbacks ---- */

static void cb_rand(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *ctx) {
  qs_worker_rand(ctx->native_handle, dest, destlen);
}

static int cb_get_new_connection_id(ngtcp2_conn *q, ngtcp2_cid *cid, uint8_t *token,
                                    size_t cidlen, void *user_data) {
  struct qs_conn *c = user_data;
  (void)q;
  (void)cidlen; /* always the length of our first SCID: the configuration's */
  if (qs_worker_mint(c->w, cid) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  qs_reset_token(&c->w->srv->secret, cid->data, cid->datalen, token);
  if (qs_conn_add_cid(c, cid) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int cb_remove_connection_id(ngtcp2_conn *q, const ngtcp2_cid *cid, void *user_data) {
  (void)q;
  qs_conn_remove_cid(user_data, cid);
  return 0;
}

/* NEW_TOKEN: a returning client proves its address without a Retry round
 * trip (token.h).  Not issuing one is no error. */
static void issue_token(struct qs_conn *c) {
  uint8_t token[NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN];
  const ngtcp2_path *path = ngtcp2_conn_get_path(c->q);
  ngtcp2_ssize n = qs_token_addr_make(&c->w->srv->token_key, token, path->remote.addr,
                                      path->remote.addrlen, qs_now());
  if (n > 0 && ngtcp2_conn_submit_new_token(c->q, token, (size_t)n) == 0)
    QS_STAT_ADD(c->w->st, new_token_tx, 1);
}

static void count_tls(struct qs_conn *c) {
  struct qs_wstats *st = c->w->st;
  if (gnutls_session_is_resumed(c->tls))
    QS_STAT_ADD(st, tls_resumed, 1);
  else
    QS_STAT_ADD(st, tls_full, 1);
  if (!c->early_offered)
    return;
  if (gnutls_session_get_flags(c->tls) & GNUTLS_SFLAGS_EARLY_DATA)
    QS_STAT_ADD(st, early_accepted, 1);
  else
    QS_STAT_ADD(st, early_rejected, 1);
}

static int cb_handshake_completed(ngtcp2_conn *q, void *user_data) {
  struct qs_conn *c = user_data;
  (void)q;
  c->handshake_done = 1;
  qs_admit_established(&c->w->admit);
  QS_STAT_SUB(c->w->st, handshakes_open, 1);
  QS_STAT_ADD(c->w->st, conns_completed, 1);
  issue_token(c);
  /* the client has switched to our CIDs: its own first DCID is no longer
   * a key to this connection */
  qs_conn_remove_cid(c, &c->initial_dcid);
  if (!qs_tls_alpn_is_h3(c->tls)) {
    ngtcp2_connection_close_error_set_transport_error_tls_alert(
        &c->ccerr, QS_ALERT_NO_APPLICATION_PROTOCOL, NULL, 0);
    c->ccerr_set = 1;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  count_tls(c);
  if (qs_tls_send_ticket(c->tls) != 0)
    QS_DEBUG(c->w->index, "cannot send a session ticket");
  /* requests held back while they could have been replays */
  if (c->h3)
    qs_h3_handshake_completed(c);
  return 0;
}

static int cb_recv_tx_key(ngtcp2_conn *q, ngtcp2_crypto_level level, void *user_data) {
  (void)q;
  /* 1-RTT keys: HTTP/3 may send its control streams from now on */
  if (level != NGTCP2_CRYPTO_LEVEL_APPLICATION)
    return 0;
  if (qs_h3_setup(user_data) != 0) {
    /* e.g. the client allows us no unidirectional streams (RFC 9114 s6.2) */
    qs_conn_set_app_error(user_data, NGHTTP3_ERR_H3_STREAM_CREATION_ERROR);
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int cb_path_validation(ngtcp2_conn *q, uint32_t flags, const ngtcp2_path *path,
                              ngtcp2_path_validation_result res, void *user_data) {
  struct qs_conn *c = user_data;
  char buf[64];
  (void)q;
  (void)flags;
  /* a server validates a path only when the client moved to it */
  if (res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS) {
    QS_STAT_ADD(c->w->st, migrations, 1);
    QS_DEBUG(c->w->index, "connection migrated to %s",
             qs_addr_format(buf, sizeof buf, path->remote.addr));
  } else {
    /* ngtcp2 falls back to the last validated path; a client that no
     * longer listens there (a real NAT rebinding whose challenges were all
     * lost) recovers only by sending again from the new one */
    QS_STAT_ADD(c->w->st, path_failed, 1);
    QS_DEBUG(c->w->index, "path validation to %s failed",
             qs_addr_format(buf, sizeof buf, path->remote.addr));
  }
  return 0;
}

static void cb_qlog_write(void *user_data, uint32_t flags, const void *data, size_t datalen) {
  struct qs_conn *c = user_data;
  if (!c->qlog)
    return;
  if (datalen)
    fwrite(data, 1, datalen, c->qlog);
  if (flags & NGTCP2_QLOG_WRITE_FLAG_FIN) {
    fclose(c->qlog);
    c->qlog = NULL;
  }
}

static const ngtcp2_callbacks callbacks = {
    .recv_client_initial = qs_pkey_recv_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .handshake_completed = cb_handshake_completed,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_stream_data = qs_h3_recv_stream_data,
    .acked_stream_data_offset = qs_h3_acked_stream_data_offset,
    .stream_close = qs_h3_stream_close,
    .rand = cb_rand,
    .get_new_connection_id = cb_get_new_connection_id,
    .remove_connection_id = cb_remove_connection_id,
    .update_key = qs_pkey_update_key_cb,
    .path_validation = cb_path_validation,
    .stream_reset = qs_h3_stream_reset,
    .extend_max_remote_streams_bidi = qs_h3_extend_max_remote_streams_bidi,
    .extend_max_stream_data = qs_h3_extend_max_stream_data,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .stream_stop_sending = qs_h3_stream_stop_sending,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
    .recv_tx_key = cb_recv_tx_key,
};

/* ---- timers ---- */

static void arm_timer_at(struct qs_conn *c, ngtcp2_tstamp expiry) {
  struct ev_loop *loop = c->w->loop;
  ngtcp2_tstamp now = qs_now();
  ev_timer_stop(loop, &c->timer);
  if (expiry == UINT64_MAX)
    return;
  ev_timer_set(&c->timer, expiry <= now ? 0. : (ev_tstamp)(expiry - now) / NGTCP2_SECONDS, 0.);
  ev_timer_start(loop, &c->timer);
}

void qs_conn_arm_timer(struct qs_conn *c) { arm_timer_at(c, ngtcp2_conn_get_expiry(c->q)); }

static void arm_close_timer(struct qs_conn *c) {
  /* RFC 9000 s10.2: closing and draining last at least three PTOs */
  arm_timer_at(c, qs_now() + 3 * ngtcp2_conn_get_pto(c->q));
}

/* ---- closing ---- */

static void conn_unlink(struct qs_conn *c) {
  struct qs_worker *w = c->w;
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  w->nconns--;
}

void qs_conn_kill(struct qs_conn *c) {
  struct qs_worker *w = c->w;
  if (c->state == QS_CONN_DEAD)
    return;
  c->state = QS_CONN_DEAD;
  ev_timer_stop(w->loop, &c->timer);
  for (size_t i = 0; i < c->ncids; i++)
    qs_cidtab_remove(&w->tab, c->cids[i].data, c->cids[i].datalen, c);
  c->ncids = 0;
  if (c->blocked) {
    struct qs_sock *sk = (&c->w->socks[c->group]);
    for (struct qs_conn **p = &sk->blocked; *p; p = &(*p)->next_blocked)
      if (*p == c) {
        *p = c->next_blocked;
        break;
      }
    c->blocked = 0;
  }
  conn_unlink(c);
  qs_admit_closed(&w->admit, !c->handshake_done);
  if (!c->handshake_done)
    QS_STAT_SUB(w->st, handshakes_open, 1);
  QS_STAT_SUB(w->st, conns_open, 1);
  QS_STAT_ADD(w->st, conns_closed, 1);
  /* freed at the end of the event: callers up the stack may still hold it */
  c->next_dead = w->dead;
  w->dead = c;
}

void qs_conn_free(struct qs_conn *c) {
  qs_h3_free(c);
  if (c->q)
    ngtcp2_conn_del(c->q);
  if (c->tls)
    gnutls_deinit(c->tls);
  if (c->qlog)
    fclose(c->qlog);
  free(c->cids);
  free(c->closebuf);
  free(c->pend);
  free(c);
}

void qs_conn_close_err(struct qs_conn *c, int liberr) {
  struct qs_worker *w = c->w;
  ngtcp2_path_storage ps;
  ngtcp2_pkt_info pi = {0};
  ngtcp2_ssize n;

  if (c->state != QS_CONN_OPEN)
    return;
  if (!c->ccerr_set) {
    if (liberr == NGTCP2_ERR_CRYPTO)
      ngtcp2_connection_close_error_set_transport_error_tls_alert(
          &c->ccerr, ngtcp2_conn_get_tls_alert(c->q), NULL, 0);
    else
      ngtcp2_connection_close_error_set_transport_error_liberr(&c->ccerr, liberr, NULL, 0);
    c->ccerr_set = 1;
  }
  if (ngtcp2_conn_is_in_closing_period(c->q) || ngtcp2_conn_is_in_draining_period(c->q)) {
    qs_conn_kill(c);
    return;
  }
  QS_DEBUG(w->index, "closing connection: %s (%s code 0x%llx)",
           liberr ? ngtcp2_strerror(liberr) : "shutdown",
           c->ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION ? "application"
                                                                               : "transport",
           (unsigned long long)c->ccerr.error_code);
  ngtcp2_path_storage_zero(&ps);
  n = ngtcp2_conn_write_connection_close(c->q, &ps.path, &pi, w->txbuf,
                                         ngtcp2_conn_get_max_tx_udp_payload_size(c->q),
                                         &c->ccerr, qs_now());
  if (n <= 0) {
    qs_conn_kill(c);
    return;
  }
  c->closebuf = malloc((size_t)n);
  if (c->closebuf) {
    memcpy(c->closebuf, w->txbuf, (size_t)n);
    c->closelen = (size_t)n;
  }
  c->close_rx = 0;
  c->close_next = 1;
  c->pendlen = 0; /* data waiting for the socket is moot now */
  qs_conn_send(c, &ps.path, (uint8_t)pi.ecn, w->txbuf, (size_t)n, (size_t)n);
  c->state = QS_CONN_CLOSING;
  if (w->stopping) {
    qs_conn_kill(c);
    return;
  }
  arm_close_timer(c);
}

void qs_conn_close_now(struct qs_conn *c) {
  if (c->state != QS_CONN_OPEN) {
    qs_conn_kill(c);
    return;
  }
  if (!c->ccerr_set) {
    if (c->h3)
      ngtcp2_connection_close_error_set_application_error(&c->ccerr, NGHTTP3_H3_NO_ERROR, NULL,
                                                          0);
    else
      ngtcp2_connection_close_error_set_transport_error(&c->ccerr, NGTCP2_NO_ERROR, NULL, 0);
    c->ccerr_set = 1;
  }
  qs_conn_close_err(c, 0);
  qs_conn_kill(c);
}

static void conn_drain(struct qs_conn *c) {
  c->state = QS_CONN_DRAINING;
  if (c->w->stopping) {
    qs_conn_kill(c);
    return;
  }
  arm_close_timer(c);
}

static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  struct qs_conn *c = t->data;
  struct qs_worker *w = c->w;
  int rv;
  (void)loop;
  (void)revents;
  switch (c->state) {
  case QS_CONN_OPEN:
    rv = ngtcp2_conn_handle_expiry(c->q, qs_now());
    if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
      QS_DEBUG(w->index, "connection %s", ngtcp2_strerror(rv));
      if (!c->handshake_done)
        QS_STAT_ADD(w->st, handshake_timeout, 1);
      qs_conn_kill(c);
    } else if (rv != 0) {
      qs_conn_close_err(c, rv);
    } else {
      qs_conn_write(c);
    }
    break;
  default:
    qs_conn_kill(c);
    break;
  }
  qs_worker_reap(w);
}

/* ---- receiving ---- */

void qs_conn_recv(struct qs_conn *c, const struct qs_dgram *d, const uint8_t *data, size_t len) {
  ngtcp2_path path = {
      .local = {.addr = (ngtcp2_sockaddr *)&d->local.sa, .addrlen = d->locallen},
      .remote = {.addr = (ngtcp2_sockaddr *)&d->remote.sa, .addrlen = d->remotelen},
  };
  ngtcp2_pkt_info pi = {.ecn = d->ecn};
  int rv;

  switch (c->state) {
  case QS_CONN_OPEN:
    break;
  case QS_CONN_CLOSING:
    /* repeat the close, ever more rarely (RFC 9000 s10.2.1) */
    if (c->closebuf && ++c->close_rx >= c->close_next) {
      struct qs_sock *sk = (&c->w->socks[c->group]);
      size_t sent;
      c->close_next *= 2;
      qs_udp_send(sk->fd, sk->wildcard, &d->local, &d->remote, d->remotelen, 0, c->closebuf,
                  c->closelen, 0, &c->w->gso_ok, &sent);
    }
    return;
  default:
    return;
  }
  rv = ngtcp2_conn_read_pkt(c->q, &path, &pi, data, len, qs_now());
  switch (rv) {
  case 0:
    break;
  case NGTCP2_ERR_DRAINING:
    conn_drain(c);
    return;
  case NGTCP2_ERR_DROP_CONN:
  case NGTCP2_ERR_RETRY:
    qs_conn_kill(c);
    return;
  case NGTCP2_ERR_DISCARD_PKT:
    return;
  default:
    QS_DEBUG(c->w->index, "read_pkt: %s", ngtcp2_strerror(rv));
    qs_conn_close_err(c, rv);
    return;
  }
  qs_worker_mark_dirty(c->w, c);
}

void qs_conn_shutdown(struct qs_conn *c, int final) {
  if (c->state != QS_CONN_OPEN)
    return;
  if (!c->h3) {
    /* no HTTP/3 yet: nothing to finish */
    qs_conn_close_now(c);
    return;
  }
  if (!final && c->goaway == 0) {
    /* A successor refuses 0-RTT on tickets older than itself (replay.h):
     * a fresh ticket lets this client come back to it with 0-RTT. */
    if (c->handshake_done && __atomic_load_n(&c->w->srv->successor, __ATOMIC_ACQUIRE) &&
        qs_tls_send_ticket(c->tls) != 0)
      QS_DEBUG(c->w->index, "cannot send a session ticket");
    nghttp3_conn_submit_shutdown_notice(c->h3);
    c->goaway = 1;
  } else if (final && c->goaway < 2) {
    if (c->goaway == 0)
      nghttp3_conn_submit_shutdown_notice(c->h3);
    nghttp3_conn_shutdown(c->h3);
    c->goaway = 2;
  }
  qs_worker_mark_dirty(c->w, c);
}

/* ---- creation ---- */

/* The transport parameters every connection starts with; qs_conn_accept
 * adds those of the connection. */
static void base_params(const struct qs_server *srv, ngtcp2_transport_params *params) {
  ngtcp2_transport_params_default(params);
  params->initial_max_stream_data_bidi_local = 256 * 1024;
  params->initial_max_stream_data_bidi_remote = 256 * 1024;
  params->initial_max_stream_data_uni = 256 * 1024;
  params->initial_max_data = 1024 * 1024;
  params->initial_max_streams_bidi = QS_MAX_STREAMS_BIDI;
  params->initial_max_streams_uni = 3;
  params->max_idle_timeout = (ngtcp2_duration)srv->cfg->idle_timeout_s * NGTCP2_SECONDS;
  params->max_udp_payload_size = QS_RX_MAX_UDP;
  params->active_connection_id_limit = 8;
}

void qs_conn_early_context(const struct qs_server *srv, uint8_t out[QS_EARLY_CTX_LEN]) {
  ngtcp2_transport_params p;
  base_params(srv, &p);
  /* what a client remembers for 0-RTT (RFC 9000 s7.4.1, RFC 9221 s3) */
  const uint64_t v[QS_EARLY_CTX_LEN / 8] = {
      p.initial_max_data,         p.initial_max_stream_data_bidi_local,
      p.initial_max_stream_data_bidi_remote, p.initial_max_stream_data_uni,
      p.initial_max_streams_bidi, p.initial_max_streams_uni,
      p.active_connection_id_limit, p.max_datagram_frame_size,
  };
  for (size_t i = 0; i < QS_EARLY_CTX_LEN / 8; i++)
    for (int b = 0; b < 8; b++)
      out[i * 8 + (size_t)b] = (uint8_t)(v[i] >> (56 - 8 * b));
}

/* Before the server reads the ClientHello: note whether the client sends
 * 0-RTT, to count acceptance and refusal when the handshake completes. */
static int hello_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                      const gnutls_datum_t *msg) {
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
  struct qs_conn *c = ref->user_data;
  (void)htype;
  (void)when;
  if (incoming && qs_tls_hello_offers_early_data(msg))
    c->early_offered = 1;
  return 0;
}

static FILE *open_qlog(const char *dir, const ngtcp2_cid *scid) {
  char hex[2 * NGTCP2_MAX_CIDLEN + 1], path[PATH_MAX];
  qs_hex_encode(hex, scid->data, scid->datalen);
  snprintf(path, sizeof path, "%s/%s.sqlog", dir, hex);
  return fopen(path, "we");
}

int qs_conn_accept(struct qs_worker *w, const struct qs_dgram *d, const ngtcp2_pkt_hd *hd,
                   const ngtcp2_cid *odcid, int validated, const uint8_t *data, size_t len) {
  struct qs_server *srv = w->srv;
  struct qs_conn *c;
  ngtcp2_cid scid;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_path path = {
      .local = {.addr = (ngtcp2_sockaddr *)&d->local.sa, .addrlen = d->locallen},
      .remote = {.addr = (ngtcp2_sockaddr *)&d->remote.sa, .addrlen = d->remotelen},
  };
  int rv;

  c = calloc(1, sizeof *c);
  if (!c)
    return -1;
  c->w = w;
  c->group = d->group;
  c->ref.get_conn = get_conn;
  c->ref.user_data = c;
  ev_timer_init(&c->timer, timer_cb, 0., 0.);
  c->timer.data = c;
  if (qs_worker_mint_handshake(w, &scid) != 0)
    goto fail;

  ngtcp2_settings_default(&settings);
  settings.initial_ts = qs_now();
  settings.initial_rtt = srv->initial_rtt;
  settings.cc_algo = NGTCP2_CC_ALGO_CUBIC;
  settings.max_window = QS_MAX_WINDOW;
  settings.max_stream_window = QS_MAX_STREAM_WINDOW;
  settings.rand_ctx.native_handle = w;
  settings.handshake_timeout = srv->handshake_timeout;
  if (validated) {
    /* a valid Retry or NEW_TOKEN token: the address is proven, so no
     * anti-amplification limit */
    settings.token = hd->token;
  }
  if (srv->cfg->qlog_dir) {
    c->qlog = open_qlog(srv->cfg->qlog_dir, &scid);
    if (c->qlog) {
      settings.qlog.write = cb_qlog_write;
      settings.qlog.odcid = odcid ? *odcid : hd->dcid;
    } else {
      QS_WARN(w->index, "cannot write qlog into %s: %s", srv->cfg->qlog_dir, strerror(errno));
    }
  }

  base_params(srv, &params);
  params.stateless_reset_token_present = 1;
  qs_reset_token(&srv->secret, scid.data, scid.datalen, params.stateless_reset_token);
  if (odcid) {
    params.original_dcid = *odcid;
    params.retry_scid = hd->dcid;
    params.retry_scid_present = 1;
  } else {
    params.original_dcid = hd->dcid;
  }

  rv = ngtcp2_conn_server_new(&c->q, &hd->scid, &scid, &path, hd->version, &callbacks, &settings,
                              &params, &w->mem.q, c);
  if (rv != 0) {
    QS_WARN(w->index, "ngtcp2_conn_server_new: %s", ngtcp2_strerror(rv));
    c->q = NULL;
    goto fail;
  }
  if (qs_tls_session_new(&srv->tls, &srv->tickets, srv->cfg->no_early_data ? NULL : &w->replay,
                         &c->tls, &c->ref) != 0) {
    QS_WARN(w->index, "cannot create a TLS session");
    goto fail;
  }
  gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE,
                                     hello_hook);
  ngtcp2_conn_set_tls_native_handle(c->q, c->tls);

  /* link first: qs_conn_kill undoes exactly this */
  c->next = w->conns;
  if (w->conns)
    w->conns->prev = c;
  w->conns = c;
  w->nconns++;
  qs_admit_opened(&w->admit);
  QS_STAT_ADD(w->st, conns_open, 1);
  QS_STAT_ADD(w->st, handshakes_open, 1);
  QS_STAT_ADD(w->st, conns_accepted, 1);
  c->initial_dcid = hd->dcid;
  if (qs_conn_add_cid(c, &scid) != 0 || qs_conn_add_cid(c, &hd->dcid) != 0) {
    qs_conn_kill(c);
    return -1;
  }
  qs_conn_recv(c, d, data, len);
  return 0;

fail:
  qs_conn_free(c);
  return -1;
}
