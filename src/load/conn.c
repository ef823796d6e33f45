/* conn.c: the life of a quicsteer-load connection slot: opening QUIC
 * connections (ngtcp2 0.12 + GnuTLS), reading and writing their packets,
 * sending HTTP/3 requests (nghttp3 0.8), the --rebind/--migrate path change,
 * timers, closing, and the accounting of every outcome.  The library
 * callbacks are in conn_cb.c.
 */
#include "conn_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#define QSL_SCID_LEN 8   /* the server routes on its own CIDs; ours can be short */
#define QSL_DCID_LEN 18  /* initial, random, >= 8 as QUIC requires */
#define QSL_SWITCH_FALLBACK_NS (100ull * 1000000) /* switch even without a response */
#define QSL_CID_WAIT_NS (1000ull * 1000000)       /* wait for a spare server CID */
#define QSL_BACKOFF_NS (20ull * 1000000)          /* before reconnecting after a failure */

/* ending a connection: an error kind (enum qsl_err, connection level), or */
#define QSL_END_CLEAN (-1) /* all work done */
#define QSL_END_STOP (-2)  /* cut short by the worker (interrupt, grace over) */

static void conn_after_io(struct qsl_conn *c, uint64_t now);
static void conn_end(struct qsl_conn *c, int kind, const ngtcp2_connection_close_error *cc);

/* single_request: each connection carries one request (its path change
 * then comes before it) */
static int single_request(const struct qsl_conn *c) {
  const struct qsl_opts *o = qsl_conn_opts(c);
  return o->new_conn || (!o->duration_ns && o->requests == 1);
}

/* ---- slot setup ---- */

int qsl_conn_init(struct qsl_conn *c, struct qsl_worker *w, uint32_t slot) {
  memset(c, 0, sizeof(*c));
  uint32_t k = w->o->streams;
  c->w = w;
  c->slot = slot;
  c->state = QSL_SLOT_WAIT;
  c->left = w->o->duration_ns ? UINT64_MAX : w->o->requests;
  c->streams = calloc(k, sizeof(*c->streams));
  c->free_idx = calloc(k, sizeof(*c->free_idx));
  if (!c->streams || !c->free_idx) {
    return -1;
  }
  for (uint32_t i = 0; i < k; i++) {
    c->streams[i].id = -1;
    c->free_idx[i] = k - 1 - i;
  }
  c->nfree = k;
  for (int i = 0; i < 2; i++) {
    c->sock[i].fd = -1;
    c->sock[i].c = c;
  }
  qsl_timer_init(&c->timer);
  c->ref.get_conn = qsl_conn_ref_get;
  c->ref.user_data = c;
  c->cb_err = -1;
  return 0;
}

void qsl_conn_free(struct qsl_conn *c) {
  free(c->streams);
  free(c->free_idx);
  c->streams = NULL;
  c->free_idx = NULL;
}

static void sock_close(struct qsl_sock *s) {
  if (s->fd >= 0) {
    close(s->fd); /* also leaves the epoll set */
    s->fd = -1;
  }
}

static int sock_open(struct qsl_conn *c, struct qsl_sock *s) {
  const struct qsl_opts *o = qsl_conn_opts(c);
  int fd = qsl_udp_open((const struct sockaddr *)&o->remote, o->remotelen, &s->local,
                        &s->locallen);
  if (fd < 0) {
    return -1;
  }
  s->fd = fd;
  if (qsl_worker_watch(c->w, s) != 0) {
    sock_close(s);
    return -1;
  }
  return 0;
}

static ngtcp2_path sock_path(struct qsl_conn *c, struct qsl_sock *s) {
  const struct qsl_opts *o = qsl_conn_opts(c);
  return (ngtcp2_path){
      .local = {.addr = (ngtcp2_sockaddr *)&s->local, .addrlen = s->locallen},
      .remote = {.addr = (ngtcp2_sockaddr *)&o->remote, .addrlen = o->remotelen},
      .user_data = s,
  };
}

/* --resume: keep the first session ticket a server sent this thread */
static int ticket_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                       const gnutls_datum_t *msg) {
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
  struct qsl_conn *c = ref->user_data;
  (void)htype;
  (void)when;
  (void)incoming;
  (void)msg;
  if (!c->w->session.data && gnutls_session_get_data2(s, &c->w->session) != 0)
    c->w->session.data = NULL;
  return 0;
}

/* conn_start opens a connection for the slot.  Returns 0, or -1 when it
 * ended at once (already accounted). */
static int conn_start(struct qsl_conn *c, uint64_t now) {
  struct qsl_worker *w = c->w;
  const struct qsl_opts *o = qsl_conn_opts(c);
  w->st.conns_started++;
  c->state = QSL_SLOT_RUN;
  c->t_start = now;
  c->hs_done = c->confirmed = c->first_resp = c->goaway = c->want_submit = 0;
  c->reset_rx = 0;
  c->cb_err = -1;
  c->nsent = 0;
  c->scan_at = UINT64_MAX;
  c->sw_retry = 0;
  c->hold_until = 0;
  c->sw = (o->rebind || o->migrate) ? QSL_SW_WAIT : QSL_SW_OFF;

  if (sock_open(c, &c->sock[0]) != 0) {
    conn_end(c, QSL_ERR_CONNECT, NULL);
    return -1;
  }
  ngtcp2_cid dcid, scid;
  dcid.datalen = QSL_DCID_LEN;
  scid.datalen = QSL_SCID_LEN;
  if (gnutls_rnd(GNUTLS_RND_NONCE, dcid.data, dcid.datalen) != 0 ||
      gnutls_rnd(GNUTLS_RND_NONCE, scid.data, scid.datalen) != 0) {
    conn_end(c, QSL_ERR_CONNECT, NULL);
    return -1;
  }
  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now;
  settings.initial_rtt = o->initial_rtt_ns;
  settings.handshake_timeout = o->timeout_ns;
  settings.rand_ctx.native_handle = w->prng;
  if (w->tokenlen) {
    /* --token: a returning client proves its address */
    settings.token.base = w->token;
    settings.token.len = w->tokenlen;
    w->st.token_sent++;
  }
  /* response bodies are consumed at once: large windows cost us nothing */
  settings.max_window = 24ull << 20;
  settings.max_stream_window = 16ull << 20;
  if (w->debug) {
    settings.log_printf = qsl_conn_debug_log;
  }
  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_local = 1u << 20;
  params.initial_max_stream_data_uni = 256u << 10;
  params.initial_max_data = (uint64_t)(o->streams < 4 ? 4 : o->streams) << 20;
  params.initial_max_streams_bidi = 0;
  params.initial_max_streams_uni = 8;
  params.max_idle_timeout = o->timeout_ns;
  params.active_connection_id_limit = 4; /* spare server CIDs for --migrate */

  ngtcp2_path path = sock_path(c, &c->sock[0]);
  if (ngtcp2_conn_client_new(&c->qc, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &qsl_qc_callbacks,
                             &settings, &params, NULL, c) != 0) {
    c->qc = NULL;
    conn_end(c, QSL_ERR_CONNECT, NULL);
    return -1;
  }
  if (qsl_tls_session_new(w->tls, w->prio, &c->tls, &c->ref) != 0) {
    c->tls = NULL;
    conn_end(c, QSL_ERR_CONNECT, NULL);
    return -1;
  }
  ngtcp2_conn_set_tls_native_handle(c->qc, c->tls);
  if (o->resume) {
    /* --resume: the thread's stored ticket, or wait for the first one */
    if (!w->session.data || gnutls_session_set_data(c->tls, w->session.data, w->session.size) != 0)
      gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
                                         GNUTLS_HOOK_POST, ticket_hook);
  }
  return 0;
}

/* ---- sending ---- */

static void tx_flush(struct qsl_worker *w) { qsl_tx_send(&w->tx, &w->st); }

/* conn_close_send writes and sends CONNECTION_CLOSE (best effort). */
static void conn_close_send(struct qsl_conn *c, const ngtcp2_connection_close_error *cc,
                            uint64_t now) {
  struct qsl_worker *w = c->w;
  if (!c->qc || ngtcp2_conn_is_in_closing_period(c->qc) ||
      ngtcp2_conn_is_in_draining_period(c->qc)) {
    return;
  }
  tx_flush(w);
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi;
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(c->qc, &ps.path, &pi, w->tx.buf,
                                                      NGTCP2_MAX_UDP_PAYLOAD_SIZE, cc, now);
  struct qsl_sock *s = ps.path.user_data ? ps.path.user_data : &c->sock[0];
  if (n > 0 && s->fd >= 0) {
    w->tx.fd = s->fd;
    w->tx.len[0] = (size_t)n;
    w->tx.n = 1;
    w->tx.used = (size_t)n;
    tx_flush(w);
  }
}

/* conn_fail ends the connection on a local error, telling the peer. */
static void conn_fail(struct qsl_conn *c, int kind, int liberr, uint64_t app_err,
                      uint64_t now) {
  ngtcp2_connection_close_error cc;
  ngtcp2_connection_close_error_default(&cc);
  if (app_err) {
    ngtcp2_connection_close_error_set_application_error(&cc, app_err, NULL, 0);
  } else if (liberr) {
    ngtcp2_connection_close_error_set_transport_error_liberr(&cc, liberr, NULL, 0);
  } else {
    ngtcp2_connection_close_error_set_transport_error(&cc, NGTCP2_INTERNAL_ERROR, NULL, 0);
  }
  conn_close_send(c, &cc, now);
  conn_end(c, kind, NULL);
}

/* conn_write produces packets until ngtcp2 has nothing more, or this
 * turn's share is used up (then the connection goes back in the run queue
 * so others get their turn).  Returns 0, or -1 if the connection ended. */
static int conn_write(struct qsl_conn *c, uint64_t now) {
  struct qsl_worker *w = c->w;
  struct qsl_tx *tx = &w->tx;
  size_t maxpkt = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->qc);
  if (maxpkt > QSL_TX_STRIDE) {
    maxpkt = QSL_TX_STRIDE;
  }
  size_t maxn = ngtcp2_conn_get_send_quantum(c->qc) / maxpkt;
  if (maxn < 1) {
    maxn = 1;
  } else if (maxn > QSL_TX_MAX_PKTS) {
    maxn = QSL_TX_MAX_PKTS;
  }
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi;
  size_t npkts = 0;
  int more = 0;
  for (;;) {
    int64_t sid = -1;
    int fin = 0;
    nghttp3_vec vec[16];
    nghttp3_ssize nvec = 0;
    if (c->h3 && ngtcp2_conn_get_max_data_left(c->qc)) {
      nvec = nghttp3_conn_writev_stream(c->h3, &sid, &fin, vec, 16);
      if (nvec < 0) {
        tx_flush(w);
        conn_fail(c, QSL_ERR_PROTOCOL, 0, nghttp3_err_infer_quic_app_error_code((int)nvec),
                  now);
        return -1;
      }
    }
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (fin) {
      flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_ssize ndatalen;
    ngtcp2_ssize nwrite = ngtcp2_conn_writev_stream(
        c->qc, &ps.path, &pi, tx->buf + tx->used, maxpkt, &ndatalen, flags, sid,
        (const ngtcp2_vec *)vec, (size_t)nvec, now);
    if (nwrite < 0) {
      int rv = 0;
      switch (nwrite) {
      case NGTCP2_ERR_STREAM_DATA_BLOCKED:
        nghttp3_conn_block_stream(c->h3, sid);
        continue;
      case NGTCP2_ERR_STREAM_SHUT_WR:
        nghttp3_conn_shutdown_stream_write(c->h3, sid);
        continue;
      case NGTCP2_ERR_WRITE_MORE:
        rv = nghttp3_conn_add_write_offset(c->h3, sid, (size_t)ndatalen);
        if (rv == 0) {
          continue;
        }
        tx_flush(w);
        conn_fail(c, QSL_ERR_PROTOCOL, 0, nghttp3_err_infer_quic_app_error_code(rv), now);
        return -1;
      default:
        tx_flush(w);
        conn_fail(c, QSL_ERR_PROTOCOL, (int)nwrite, 0, now);
        return -1;
      }
    }
    if (ndatalen >= 0 && sid >= 0) {
      int rv = nghttp3_conn_add_write_offset(c->h3, sid, (size_t)ndatalen);
      if (rv != 0) {
        tx_flush(w);
        conn_fail(c, QSL_ERR_PROTOCOL, 0, nghttp3_err_infer_quic_app_error_code(rv), now);
        return -1;
      }
    }
    if (nwrite == 0) {
      break; /* nothing more, or congestion / pacing limited */
    }
    struct qsl_sock *s = ps.path.user_data ? ps.path.user_data : &c->sock[0];
    if (tx->n && tx->fd != s->fd) {
      /* another path (migration): send the batch, then move this packet,
       * written behind it, to the front */
      size_t off = tx->used;
      tx_flush(w);
      memmove(tx->buf, tx->buf + off, (size_t)nwrite);
    }
    tx->fd = s->fd;
    tx->len[tx->n++] = (size_t)nwrite;
    tx->used += (size_t)nwrite;
    if (++npkts >= maxn) {
      more = 1;
      break;
    }
  }
  tx_flush(w);
  ngtcp2_conn_update_pkt_tx_time(c->qc, now);
  if (more) {
    qsl_worker_runq_push(w, c);
  }
  return 0;
}

/* ---- requests ---- */

/* can_issue: may this connection send another request (rate aside)?
 * |gate| also applies the hold before a pending path change. */
static int can_issue(const struct qsl_conn *c, int gate) {
  const struct qsl_worker *w = c->w;
  if (w->stopping || c->left == 0 || c->goaway) {
    return 0;
  }
  if (qsl_conn_opts(c)->new_conn && c->nsent > 0) {
    return 0;
  }
  if (gate && (c->sw == QSL_SW_WAIT || c->sw == QSL_SW_PENDING) &&
      c->nsent >= (single_request(c) ? 0u : 1u)) {
    return 0; /* the rest goes out after the path change */
  }
  return 1;
}

static int submit_requests(struct qsl_conn *c, uint64_t now) {
  struct qsl_worker *w = c->w;
  const struct qsl_opts *o = qsl_conn_opts(c);
  c->want_submit = 0;
  if (!c->h3 || !c->hs_done) {
    return 0;
  }
  while (c->nfree > 0 && can_issue(c, 1)) {
    if (c->prepaid) {
      c->prepaid = 0; /* --new-conn: the token paid for the connection */
    } else if (w->rate_ns && !qsl_worker_take_token(w, now)) {
      qsl_worker_waitq_push(w, c);
      break;
    }
    int64_t sid;
    int rv = ngtcp2_conn_open_bidi_stream(c->qc, &sid, NULL);
    if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) {
      if (w->rate_ns) {
        c->prepaid = 1; /* keep the token for when a stream frees up */
      }
      break; /* extend_max_local_streams_bidi will call us again */
    }
    if (rv != 0) {
      conn_fail(c, QSL_ERR_PROTOCOL, rv, 0, now);
      return -1;
    }
    const struct qsl_url *u = &o->urls[w->url_next++ % o->nurls];
    struct qsl_stream *st = &c->streams[c->free_idx[--c->nfree]];
    st->id = sid;
    st->t_sent = now;
    st->body = 0;
    st->status = 0;
    st->expect = o->verify_bytes ? u->bytes_n : UINT64_MAX;
    rv = nghttp3_conn_submit_request(c->h3, sid, u->nv, u->nnv, NULL, st);
    if (rv != 0) {
      st->id = -1;
      c->free_idx[c->nfree++] = (uint32_t)(st - c->streams);
      conn_fail(c, QSL_ERR_PROTOCOL, 0, nghttp3_err_infer_quic_app_error_code(rv), now);
      return -1;
    }
    c->nactive++;
    c->nsent++;
    if (c->left != UINT64_MAX) {
      c->left--;
    }
    w->st.req_sent++;
    if (c->scan_at == UINT64_MAX) {
      c->scan_at = now + o->timeout_ns;
    }
  }
  return 0;
}

/* scan_requests fails requests older than --timeout and resets their
 * streams. */
static void scan_requests(struct qsl_conn *c, uint64_t now) {
  const struct qsl_opts *o = qsl_conn_opts(c);
  uint64_t oldest = UINT64_MAX;
  for (uint32_t i = 0; i < o->streams; i++) {
    struct qsl_stream *st = &c->streams[i];
    if (st->id < 0) {
      continue;
    }
    if (now - st->t_sent >= o->timeout_ns) {
      int64_t sid = st->id;
      nghttp3_conn_set_stream_user_data(c->h3, sid, NULL);
      qsl_req_fail(c, QSL_ERR_REQ_TIMEOUT);
      qsl_stream_release(c, st);
      ngtcp2_conn_shutdown_stream(c->qc, sid, NGHTTP3_H3_REQUEST_CANCELLED);
    } else if (st->t_sent < oldest) {
      oldest = st->t_sent;
    }
  }
  c->scan_at = oldest == UINT64_MAX ? UINT64_MAX : oldest + o->timeout_ns;
}

/* ---- path changes ---- */

static void do_rebind(struct qsl_conn *c, uint64_t now) {
  struct qsl_worker *w = c->w;
  const struct qsl_opts *o = qsl_conn_opts(c);
  struct qsl_sock *s = &c->sock[0];
  struct sockaddr_storage local;
  socklen_t locallen;
  int fd = qsl_udp_open((const struct sockaddr *)&o->remote, o->remotelen, &local, &locallen);
  if (fd < 0) {
    c->sw = QSL_SW_UNAVAILABLE;
    w->st.rebind.unavailable++;
    return;
  }
  /* A NAT rebinding: the old port is gone for good, and packets still
   * addressed to it are lost, as behind a real NAT.  No path validation
   * from our side; the DCID stays. */
  sock_close(s);
  s->fd = fd;
  s->local = local;
  s->locallen = locallen;
  if (qsl_worker_watch(w, s) != 0) {
    sock_close(s); /* the connection will idle out: counted after_rebind */
  }
  ngtcp2_addr a;
  ngtcp2_addr_init(&a, (const ngtcp2_sockaddr *)&s->local, s->locallen);
  ngtcp2_conn_set_local_addr(c->qc, &a);
  ngtcp2_conn_set_path_user_data(c->qc, s);
  c->sw = QSL_SW_DONE;
  w->st.rebind.attempted++;
}

static void do_migrate(struct qsl_conn *c, uint64_t now) {
  struct qsl_worker *w = c->w;
  struct qsl_sock *s = &c->sock[1];
  if (sock_open(c, s) != 0) {
    c->sw = QSL_SW_UNAVAILABLE;
    w->st.migrate.unavailable++;
    return;
  }
  ngtcp2_path path = sock_path(c, s);
  int rv = ngtcp2_conn_initiate_migration(c->qc, &path, now);
  if (rv == NGTCP2_ERR_CONN_ID_BLOCKED && now < c->t_confirmed + QSL_CID_WAIT_NS) {
    sock_close(s); /* no spare server CID yet: NEW_CONNECTION_ID may be on its way */
    c->sw_retry = now + 5 * 1000000ull;
    return;
  }
  if (rv != 0) {
    sock_close(s);
    c->sw = QSL_SW_UNAVAILABLE;
    w->st.migrate.unavailable++;
    return;
  }
  c->sw = QSL_SW_PENDING;
  w->st.migrate.attempted++;
}

static void maybe_switch(struct qsl_conn *c, uint64_t now) {
  if (c->sw != QSL_SW_WAIT || !c->confirmed || c->w->stopping || now < c->sw_retry) {
    return;
  }
  if (!single_request(c) && !c->first_resp && now < c->t_confirmed + QSL_SWITCH_FALLBACK_NS) {
    return;
  }
  if (qsl_conn_opts(c)->rebind) {
    do_rebind(c, now);
  } else {
    do_migrate(c, now);
  }
  c->want_submit = 1;
}

/* ---- life cycle ---- */

/* conn_done: nothing in flight and nothing more to do on this connection */
static int conn_done(const struct qsl_conn *c) {
  if (!c->hs_done || c->nactive > 0) {
    return 0;
  }
  if (can_issue(c, 0)) {
    return 0;
  }
  if ((c->sw == QSL_SW_WAIT || c->sw == QSL_SW_PENDING) && !c->w->stopping) {
    return 0;
  }
  return 1;
}

/* conn_hold: the connection has nothing left to do; with --hold, the
 * slot's last connection stays open idle (answering the server, sending
 * keep-alive PINGs) until the hold is over.  Returns 1 while holding. */
static int conn_hold(struct qsl_conn *c, uint64_t now) {
  struct qsl_worker *w = c->w;
  const struct qsl_opts *o = qsl_conn_opts(c);
  if (!o->hold_ns || c->left != 0 || c->goaway || w->stopping) {
    return 0;
  }
  if (!c->hold_until) {
    c->hold_until = now + o->hold_ns;
    /* PING well within the idle timeout both ends agreed on */
    uint64_t idle = o->timeout_ns;
    const ngtcp2_transport_params *rp = ngtcp2_conn_get_remote_transport_params(c->qc);
    if (rp && rp->max_idle_timeout && rp->max_idle_timeout < idle) {
      idle = rp->max_idle_timeout;
    }
    ngtcp2_conn_set_keep_alive_timeout(c->qc, idle / 2);
    w->st.conns_held++;
    qsl_worker_slot_settled(w, 1);
  }
  return now < c->hold_until;
}

static void conn_arm(struct qsl_conn *c, uint64_t now) {
  uint64_t at = ngtcp2_conn_get_expiry(c->qc);
  if (c->scan_at < at) {
    at = c->scan_at;
  }
  if (c->hold_until && c->hold_until < at) {
    at = c->hold_until;
  }
  if (c->sw == QSL_SW_WAIT && c->confirmed) {
    uint64_t t = c->sw_retry ? c->sw_retry : c->t_confirmed + QSL_SWITCH_FALLBACK_NS;
    if (t < at) {
      at = t;
    }
  }
  qsl_heap_set(&c->w->heap, &c->timer, at);
}

static void conn_after_io(struct qsl_conn *c, uint64_t now) {
  if (!c->qc) {
    return;
  }
  if (c->w->stopping && !c->hs_done) {
    /* the run is over: abandon handshakes still under way */
    conn_end(c, QSL_END_STOP, NULL);
    return;
  }
  maybe_switch(c, now);
  if (submit_requests(c, now) != 0) {
    return;
  }
  if (conn_write(c, now) != 0) {
    return;
  }
  if (conn_done(c) && !conn_hold(c, now)) {
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_default(&cc);
    ngtcp2_connection_close_error_set_application_error(&cc, NGHTTP3_H3_NO_ERROR, NULL, 0);
    conn_end(c, QSL_END_CLEAN, &cc);
    return;
  }
  conn_arm(c, now);
}

static void switch_account(struct qsl_conn *c, int kind) {
  struct qsl_worker *w = c->w;
  const struct qsl_opts *o = qsl_conn_opts(c);
  struct qsl_switch_stats *ss = o->rebind ? &w->st.rebind : &w->st.migrate;
  switch (c->sw) {
  case QSL_SW_PENDING:
  case QSL_SW_FAILED:
    ss->failed++;
    break;
  case QSL_SW_DONE:
    if (kind == QSL_END_CLEAN) {
      ss->completed++;
    } else {
      ss->failed++;
    }
    break;
  case QSL_SW_WAIT:
    /* finished without its path change (stop and failures aside) */
    if (kind == QSL_END_CLEAN && c->hs_done && !w->stopping) {
      ss->unavailable++;
    }
    break;
  default:
    break;
  }
}

/* conn_end tears the connection down, sending |cc| first if given, charges
 * the outcome, and decides what the slot does next. */
static void conn_end(struct qsl_conn *c, int kind, const ngtcp2_connection_close_error *cc) {
  struct qsl_worker *w = c->w;
  const struct qsl_opts *o = qsl_conn_opts(c);
  uint64_t now = qsl_now();
  if (cc) {
    conn_close_send(c, cc, now);
  }
  if (kind >= 0) {
    int k = kind;
    if (c->sw == QSL_SW_DONE || c->sw == QSL_SW_PENDING || c->sw == QSL_SW_FAILED) {
      k = o->rebind ? QSL_ERR_AFTER_REBIND : QSL_ERR_AFTER_MIGRATION;
    }
    w->st.conns_failed++;
    w->st.err[k]++;
    qsl_live_add(&w->live.conns_failed, 1);
  }
  for (uint32_t i = 0; i < o->streams; i++) {
    if (c->streams[i].id >= 0) {
      qsl_req_fail(c, QSL_ERR_ABORTED);
      qsl_stream_release(c, &c->streams[i]);
    }
  }
  if (c->sw != QSL_SW_OFF) {
    switch_account(c, kind);
    c->sw = QSL_SW_OFF;
  }
  if (c->h3) {
    nghttp3_conn_del(c->h3);
    c->h3 = NULL;
  }
  if (c->qc) {
    ngtcp2_conn_del(c->qc);
    c->qc = NULL;
  }
  if (c->tls) {
    gnutls_deinit(c->tls);
    c->tls = NULL;
  }
  sock_close(&c->sock[0]);
  sock_close(&c->sock[1]);
  qsl_heap_set(&w->heap, &c->timer, UINT64_MAX);

  /* what the slot does next */
  int failed = kind >= 0;
  if (failed && !o->duration_ns && c->left != UINT64_MAX) {
    if (o->new_conn) {
      if (c->nsent == 0 && c->left > 0) {
        c->left--; /* this connection's request is lost */
        w->st.req_not_sent++;
      }
    } else {
      w->st.req_not_sent += c->left; /* keep-alive slots do not reconnect */
      c->left = 0;
    }
  }
  if (kind == QSL_END_STOP || w->stopping || c->left == 0) {
    if (!o->duration_ns && c->left != UINT64_MAX) {
      w->st.req_not_sent += c->left;
      c->left = 0;
    }
    c->state = QSL_SLOT_DONE;
    qsl_worker_slot_done(w);
    if (!c->hold_until) {
      qsl_worker_slot_settled(w, 0);
    }
    return;
  }
  c->state = QSL_SLOT_WAIT;
  if (failed) {
    /* do not spin on a server that refuses or does not answer */
    qsl_heap_set(&w->heap, &c->timer, now + QSL_BACKOFF_NS);
  } else {
    qsl_worker_runq_push(w, c);
  }
}

/* conn_read_error ends the connection after ngtcp2_conn_read_pkt failed. */
static void conn_read_error(struct qsl_conn *c, int rv, uint64_t now) {
  int hs_kind = QSL_ERR_HANDSHAKE_FAILED;
  switch (rv) {
  case NGTCP2_ERR_DRAINING: {
    /* the peer closed (CONNECTION_CLOSE or stateless reset) */
    if (!c->hs_done) {
      conn_end(c, hs_kind, NULL);
      return;
    }
    ngtcp2_connection_close_error cc;
    ngtcp2_conn_get_connection_close_error(c->qc, &cc);
    int graceful = !c->reset_rx &&
                   ((cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
                     cc.error_code == NGTCP2_NO_ERROR) ||
                    (cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION &&
                     cc.error_code == NGHTTP3_H3_NO_ERROR));
    /* a graceful close between requests is fine (the slot reconnects);
     * one before any request would make us loop */
    conn_end(c, graceful && c->nactive == 0 && c->nsent > 0 ? QSL_END_CLEAN : QSL_ERR_CONN_CLOSED,
             NULL);
    return;
  }
  case NGTCP2_ERR_CRYPTO: {
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_default(&cc);
    ngtcp2_connection_close_error_set_transport_error_tls_alert(
        &cc, ngtcp2_conn_get_tls_alert(c->qc), NULL, 0);
    conn_close_send(c, &cc, now);
    conn_end(c, c->hs_done ? QSL_ERR_PROTOCOL : hs_kind, NULL);
    return;
  }
  case NGTCP2_ERR_DROP_CONN:
  case NGTCP2_ERR_RECV_VERSION_NEGOTIATION:
    conn_end(c, c->hs_done ? QSL_ERR_PROTOCOL : hs_kind, NULL);
    return;
  case NGTCP2_ERR_CALLBACK_FAILURE:
    conn_fail(c, c->cb_err >= 0 ? c->cb_err : QSL_ERR_PROTOCOL, rv, c->cb_app_err, now);
    return;
  default:
    conn_fail(c, c->hs_done ? QSL_ERR_PROTOCOL : hs_kind, rv, 0, now);
    return;
  }
}

void qsl_conn_on_readable(struct qsl_sock *s) {
  struct qsl_conn *c = s->c;
  struct qsl_worker *w = c->w;
  if (s->fd < 0 || !c->qc) {
    return; /* a stale event for a socket closed earlier in this batch */
  }
  ngtcp2_path path = sock_path(c, s);
  uint64_t now = 0;
  /* a few batches per wake-up, then let the other sockets have a turn */
  for (int round = 0; round < 4; round++) {
    int n = qsl_rx_recv(&w->rx, s->fd, &w->st);
    if (n <= 0) {
      break;
    }
    now = qsl_now();
    for (int i = 0; i < n; i++) {
      const uint8_t *p = w->rx.iov[i].iov_base;
      size_t len = w->rx.msgs[i].msg_len;
      size_t seg = qsl_rx_seg(&w->rx, i);
      w->st.bytes_recv += len;
      for (size_t off = 0; off < len; off += seg) {
        size_t l = len - off < seg ? len - off : seg;
        w->st.dgrams_recv++;
        int rv = ngtcp2_conn_read_pkt(c->qc, &path, NULL, p + off, l, now);
        if (rv != 0) {
          conn_read_error(c, rv, now);
          return;
        }
      }
    }
    if (n < QSL_RX_BATCH) {
      break;
    }
  }
  if (now) {
    conn_after_io(c, now);
  }
}

void qsl_conn_on_timer(struct qsl_conn *c) {
  uint64_t now = qsl_now();
  if (c->state == QSL_SLOT_WAIT) {
    qsl_conn_kick(c);
    return;
  }
  if (!c->qc) {
    return;
  }
  if (now >= ngtcp2_conn_get_expiry(c->qc)) {
    int rv = ngtcp2_conn_handle_expiry(c->qc, now);
    if (rv != 0) {
      if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
        /* silent: the peer is gone or never answered */
        conn_end(c, c->hs_done ? QSL_ERR_IDLE_TIMEOUT : QSL_ERR_HANDSHAKE_TIMEOUT, NULL);
      } else {
        conn_fail(c, c->hs_done ? QSL_ERR_PROTOCOL : QSL_ERR_HANDSHAKE_FAILED, rv, 0, now);
      }
      return;
    }
  }
  if (now >= c->scan_at) {
    scan_requests(c, now);
  }
  conn_after_io(c, now);
}

void qsl_conn_kick(struct qsl_conn *c) {
  struct qsl_worker *w = c->w;
  uint64_t now = qsl_now();
  if (c->state == QSL_SLOT_DONE) {
    return;
  }
  if (c->state == QSL_SLOT_WAIT) {
    if (w->stopping) {
      conn_end(c, QSL_END_STOP, NULL);
      return;
    }
    if (c->timer.idx != QSL_TIMER_IDLE && c->timer.at > now) {
      return; /* backing off */
    }
    if (qsl_conn_opts(c)->new_conn && w->rate_ns && !qsl_worker_take_token(w, now)) {
      /* a --new-conn connection is its request: it waits for a token */
      qsl_worker_waitq_push(w, c);
      return;
    }
    qsl_heap_set(&w->heap, &c->timer, UINT64_MAX);
    c->prepaid = qsl_conn_opts(c)->new_conn && w->rate_ns;
    if (conn_start(c, now) != 0) {
      return;
    }
  }
  conn_after_io(c, now);
}

void qsl_conn_stop(struct qsl_conn *c) {
  if (c->state == QSL_SLOT_DONE) {
    return;
  }
  if (c->state == QSL_SLOT_RUN && c->qc) {
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_default(&cc);
    ngtcp2_connection_close_error_set_application_error(&cc, NGHTTP3_H3_NO_ERROR, NULL, 0);
    conn_end(c, QSL_END_STOP, &cc);
    return;
  }
  conn_end(c, QSL_END_STOP, NULL);
}
