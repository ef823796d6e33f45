/* conn_cb.c: the ngtcp2 and nghttp3 callbacks of a quicsteer-load
 * connection.  They only record what happened (flags, counters, flow-control
 * credit); the work ngtcp2 forbids inside callbacks (writing packets,
 * migrating, closing) happens in conn.c once the library call returned.
 */
#include "conn_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "tls.h"

static uint64_t prng_next(uint64_t s[2]) {
  /* xorshift128+: ngtcp2 asks for non-cryptographic randomness only */
  uint64_t a = s[0], b = s[1];
  s[0] = b;
  a ^= a << 23;
  s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
  return s[1] + b;
}

/* ---- ngtcp2 callbacks ---- */

ngtcp2_conn *qsl_conn_ref_get(ngtcp2_crypto_conn_ref *ref) {
  return ((struct qsl_conn *)ref->user_data)->qc;
}

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx) {
  uint64_t *s = ctx->native_handle;
  while (len) {
    uint64_t r = prng_next(s);
    size_t n = len < sizeof(r) ? len : sizeof(r);
    memcpy(dest, &r, n);
    dest += n;
    len -= n;
  }
}

static int cb_get_new_connection_id(ngtcp2_conn *qc, ngtcp2_cid *cid, uint8_t *token,
                                    size_t cidlen, void *ud) {
  /* CIDs must be unlinkable across paths, tokens unguessable */
  if (gnutls_rnd(GNUTLS_RND_NONCE, cid->data, cidlen) != 0 ||
      gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  cid->datalen = cidlen;
  return 0;
}

static int setup_h3(struct qsl_conn *c) {
  if (c->h3) {
    return 0;
  }
  if (ngtcp2_conn_get_max_local_streams_uni(c->qc) < 3) {
    return -1; /* HTTP/3 needs control + two QPACK streams */
  }
  nghttp3_settings s;
  nghttp3_settings_default(&s);
  s.qpack_max_dtable_capacity = 4096;
  s.qpack_blocked_streams = 100;
  if (nghttp3_conn_client_new(&c->h3, &qsl_h3_callbacks, &s, nghttp3_mem_default(), c) != 0) {
    c->h3 = NULL;
    return -1;
  }
  int64_t ctrl, qenc, qdec;
  if (ngtcp2_conn_open_uni_stream(c->qc, &ctrl, NULL) != 0 ||
      nghttp3_conn_bind_control_stream(c->h3, ctrl) != 0 ||
      ngtcp2_conn_open_uni_stream(c->qc, &qenc, NULL) != 0 ||
      ngtcp2_conn_open_uni_stream(c->qc, &qdec, NULL) != 0 ||
      nghttp3_conn_bind_qpack_streams(c->h3, qenc, qdec) != 0) {
    return -1;
  }
  return 0;
}

static int cb_recv_rx_key(ngtcp2_conn *qc, ngtcp2_crypto_level level, void *ud) {
  struct qsl_conn *c = ud;
  /* 1-RTT keys: the server's transport parameters are known, and its
   * SETTINGS may arrive in the very next packet */
  if (level == NGTCP2_CRYPTO_LEVEL_APPLICATION && setup_h3(c) != 0) {
    c->cb_err = QSL_ERR_HANDSHAKE_FAILED;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int cb_recv_retry(ngtcp2_conn *qc, const ngtcp2_pkt_hd *hd, void *ud) {
  struct qsl_conn *c = ud;
  c->w->st.retry_rx++;
  return ngtcp2_crypto_recv_retry_cb(qc, hd, ud);
}

static int cb_recv_new_token(ngtcp2_conn *qc, const ngtcp2_vec *token, void *ud) {
  struct qsl_conn *c = ud;
  struct qsl_worker *w = c->w;
  (void)qc;
  w->st.new_token_rx++;
  if (qsl_conn_opts(c)->token && token->len <= sizeof w->token) {
    memcpy(w->token, token->base, token->len);
    w->tokenlen = token->len;
  }
  return 0;
}

static int cb_handshake_completed(ngtcp2_conn *qc, void *ud) {
  struct qsl_conn *c = ud;
  if (!qsl_tls_alpn_is_h3(c->tls)) {
    c->cb_err = QSL_ERR_HANDSHAKE_FAILED;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  struct qsl_worker *w = c->w;
  uint64_t now = qsl_now();
  c->hs_done = 1;
  c->want_submit = 1;
  w->st.handshakes++;
  if (gnutls_session_is_resumed(c->tls)) {
    w->st.resumed++;
  }
  qsl_hist_add(&w->st.handshake, now - c->t_start);
  qsl_live_add(&w->live.handshakes, 1);
  return 0;
}

static int cb_handshake_confirmed(ngtcp2_conn *qc, void *ud) {
  struct qsl_conn *c = ud;
  c->confirmed = 1;
  c->t_confirmed = qsl_now();
  return 0;
}

/* An nghttp3 call failed inside an ngtcp2 callback: the connection closes
 * with H3 error |app|. */
static int h3_fail(struct qsl_conn *c, uint64_t app) {
  c->cb_err = QSL_ERR_PROTOCOL;
  c->cb_app_err = app;
  return NGTCP2_ERR_CALLBACK_FAILURE;
}

static int cb_recv_stream_data(ngtcp2_conn *qc, uint32_t flags, int64_t sid, uint64_t off,
                               const uint8_t *data, size_t len, void *ud, void *sud) {
  struct qsl_conn *c = ud;
  if (!c->h3) {
    return 0;
  }
  nghttp3_ssize n =
      nghttp3_conn_read_stream(c->h3, sid, data, len, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
  if (n < 0) {
    return h3_fail(c, nghttp3_err_infer_quic_app_error_code((int)n));
  }
  /* what nghttp3 consumed itself (framing, QPACK); bodies are credited in
   * h3_recv_data */
  ngtcp2_conn_extend_max_stream_offset(qc, sid, (uint64_t)n);
  ngtcp2_conn_extend_max_offset(qc, (uint64_t)n);
  return 0;
}

static int cb_acked_stream_data_offset(ngtcp2_conn *qc, int64_t sid, uint64_t off,
                                       uint64_t len, void *ud, void *sud) {
  struct qsl_conn *c = ud;
  if (c->h3 && nghttp3_conn_add_ack_offset(c->h3, sid, len) != 0) {
    return h3_fail(c, NGHTTP3_H3_INTERNAL_ERROR);
  }
  return 0;
}

static int cb_stream_close(ngtcp2_conn *qc, uint32_t flags, int64_t sid, uint64_t code,
                           void *ud, void *sud) {
  struct qsl_conn *c = ud;
  if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) {
    code = NGHTTP3_H3_NO_ERROR;
  }
  if (c->h3) {
    int rv = nghttp3_conn_close_stream(c->h3, sid, code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
      return h3_fail(c, nghttp3_err_infer_quic_app_error_code(rv));
    }
  }
  if (!ngtcp2_is_bidi_stream(sid) && !ngtcp2_conn_is_local_stream(qc, sid)) {
    ngtcp2_conn_extend_max_streams_uni(qc, 1);
  }
  return 0;
}

/* RESET_STREAM and STOP_SENDING alike: nghttp3 reads no more of |sid| */
static int shutdown_read(struct qsl_conn *c, int64_t sid) {
  if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, sid) != 0) {
    return h3_fail(c, NGHTTP3_H3_INTERNAL_ERROR);
  }
  return 0;
}

static int cb_stream_reset(ngtcp2_conn *qc, int64_t sid, uint64_t final_size, uint64_t code,
                           void *ud, void *sud) {
  return shutdown_read(ud, sid);
}

static int cb_stream_stop_sending(ngtcp2_conn *qc, int64_t sid, uint64_t code, void *ud,
                                  void *sud) {
  return shutdown_read(ud, sid);
}

static int cb_extend_max_local_streams_bidi(ngtcp2_conn *qc, uint64_t max, void *ud) {
  ((struct qsl_conn *)ud)->want_submit = 1;
  return 0;
}

static int cb_extend_max_stream_data(ngtcp2_conn *qc, int64_t sid, uint64_t max, void *ud,
                                     void *sud) {
  struct qsl_conn *c = ud;
  if (c->h3 && nghttp3_conn_unblock_stream(c->h3, sid) != 0) {
    return h3_fail(c, NGHTTP3_H3_INTERNAL_ERROR);
  }
  return 0;
}

static int cb_path_validation(ngtcp2_conn *qc, uint32_t flags, const ngtcp2_path *path,
                              ngtcp2_path_validation_result res, void *ud) {
  struct qsl_conn *c = ud;
  const struct qsl_sock *s = &c->sock[1];
  if (c->sw != QSL_SW_PENDING || s->fd < 0 || path->local.addrlen != s->locallen ||
      memcmp(path->local.addr, &s->local, s->locallen) != 0) {
    return 0; /* not the validation we started */
  }
  if (res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS) {
    c->sw = QSL_SW_DONE;
    c->w->st.migrate.validated++;
  } else {
    c->sw = QSL_SW_FAILED;
  }
  c->want_submit = 1;
  return 0;
}

static int cb_recv_stateless_reset(ngtcp2_conn *qc, const ngtcp2_pkt_stateless_reset *sr,
                                   void *ud) {
  /* ngtcp2 reports a reset like a close without an error code; remember
   * that it was one (a server that lost the connection, or a worker that
   * never had it), so that conn_read_error does not take it for a graceful
   * close between requests */
  ((struct qsl_conn *)ud)->reset_rx = 1;
  return 0;
}

/* ---- nghttp3 callbacks ---- */

static int h3_recv_header(nghttp3_conn *h3, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *cud, void *sud) {
  struct qsl_stream *st = sud;
  FILE *dump = qsl_conn_opts(cud)->dump;
  if (dump) {
    nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
    fprintf(dump, "%.*s: %.*s\n", (int)n.len, (const char *)n.base, (int)v.len,
            (const char *)v.base);
  }
  if (st && token == NGHTTP3_QPACK_TOKEN__STATUS) {
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    int status = 0;
    for (size_t i = 0; i < v.len && i < 3; i++) {
      status = status * 10 + (v.base[i] - '0');
    }
    st->status = v.len == 3 ? status : 0;
  }
  return 0;
}

/* --dump: the empty line after a header section */
static int h3_end_headers(nghttp3_conn *h3, int64_t sid, int fin, void *cud, void *sud) {
  FILE *dump = qsl_conn_opts(cud)->dump;
  if (dump) {
    fputc('\n', dump);
  }
  return 0;
}

static int h3_recv_data(nghttp3_conn *h3, int64_t sid, const uint8_t *data, size_t len,
                        void *cud, void *sud) {
  struct qsl_conn *c = cud;
  struct qsl_stream *st = sud;
  if (qsl_conn_opts(c)->dump) {
    fwrite(data, 1, len, qsl_conn_opts(c)->dump);
  }
  if (st) {
    st->body += len;
  }
  c->w->st.body_bytes += len;
  qsl_live_add(&c->w->live.body_bytes, len);
  /* bodies are discarded at once, so credit flow control at once */
  ngtcp2_conn_extend_max_stream_offset(c->qc, sid, len);
  ngtcp2_conn_extend_max_offset(c->qc, len);
  return 0;
}

static int h3_deferred_consume(nghttp3_conn *h3, int64_t sid, size_t n, void *cud, void *sud) {
  struct qsl_conn *c = cud;
  ngtcp2_conn_extend_max_stream_offset(c->qc, sid, n);
  ngtcp2_conn_extend_max_offset(c->qc, n);
  return 0;
}

static int h3_end_stream(nghttp3_conn *h3, int64_t sid, void *cud, void *sud) {
  struct qsl_conn *c = cud;
  struct qsl_stream *st = sud;
  if (!st) {
    return 0;
  }
  struct qsl_worker *w = c->w;
  uint64_t now = qsl_now();
  qsl_hist_add(&w->st.latency, now - st->t_sent);
  if (st->status >= QSL_STATUS_MIN && st->status <= QSL_STATUS_MAX) {
    w->st.status[st->status - QSL_STATUS_MIN]++;
  } else {
    w->st.status_other++;
  }
  if (st->status < 200 || st->status > 299) {
    qsl_req_fail(c, QSL_ERR_HTTP_STATUS);
  } else if (st->expect != UINT64_MAX && st->body != st->expect) {
    qsl_req_fail(c, QSL_ERR_BODY_LENGTH);
  } else {
    w->st.req_ok++;
    qsl_live_add(&w->live.req_ok, 1);
  }
  c->first_resp = 1;
  /* accounted: a later close of this stream must not count it again, and
   * the slot may carry the next request before that close arrives */
  nghttp3_conn_set_stream_user_data(h3, sid, NULL);
  qsl_stream_release(c, st);
  return 0;
}

static int h3_stream_close(nghttp3_conn *h3, int64_t sid, uint64_t code, void *cud, void *sud) {
  struct qsl_conn *c = cud;
  struct qsl_stream *st = sud;
  if (st) {
    /* closed before the response ended: reset by the server (or by us
     * on its STOP_SENDING) */
    qsl_req_fail(c, QSL_ERR_STREAM_RESET);
    qsl_stream_release(c, st);
  }
  return 0;
}

static int h3_stop_sending(nghttp3_conn *h3, int64_t sid, uint64_t code, void *cud, void *sud) {
  struct qsl_conn *c = cud;
  if (ngtcp2_conn_shutdown_stream_read(c->qc, sid, code) != 0) {
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int h3_reset_stream(nghttp3_conn *h3, int64_t sid, uint64_t code, void *cud, void *sud) {
  struct qsl_conn *c = cud;
  if (ngtcp2_conn_shutdown_stream_write(c->qc, sid, code) != 0) {
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int h3_shutdown(nghttp3_conn *h3, int64_t id, void *cud) {
  /* GOAWAY: finish what is in flight, then reconnect for the rest */
  ((struct qsl_conn *)cud)->goaway = 1;
  return 0;
}

/* ---- the tables ---- */

const ngtcp2_callbacks qsl_qc_callbacks = {
    /* the crypto helpers of libngtcp2_crypto_gnutls, and ours */
    .client_initial = ngtcp2_crypto_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .handshake_completed = cb_handshake_completed,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_stream_data = cb_recv_stream_data,
    .acked_stream_data_offset = cb_acked_stream_data_offset,
    .stream_close = cb_stream_close,
    .recv_retry = cb_recv_retry,
    .recv_new_token = cb_recv_new_token,
    .extend_max_local_streams_bidi = cb_extend_max_local_streams_bidi,
    .rand = cb_rand,
    .get_new_connection_id = cb_get_new_connection_id,
    .update_key = ngtcp2_crypto_update_key_cb,
    .path_validation = cb_path_validation,
    .stream_reset = cb_stream_reset,
    .extend_max_stream_data = cb_extend_max_stream_data,
    .handshake_confirmed = cb_handshake_confirmed,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .stream_stop_sending = cb_stream_stop_sending,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
    .recv_rx_key = cb_recv_rx_key,
    .recv_stateless_reset = cb_recv_stateless_reset,
};

const nghttp3_callbacks qsl_h3_callbacks = {
    .stream_close = h3_stream_close,
    .recv_data = h3_recv_data,
    .deferred_consume = h3_deferred_consume,
    .recv_header = h3_recv_header,
    .end_headers = h3_end_headers,
    .stop_sending = h3_stop_sending,
    .end_stream = h3_end_stream,
    .reset_stream = h3_reset_stream,
    .shutdown = h3_shutdown,
};

void qsl_conn_debug_log(void *ud, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[slot %u] ", ((struct qsl_conn *)ud)->slot);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}
