/* h3.c: see h3.h. */
#include "h3.h"

#include <stdlib.h>

#include "conn.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

static nghttp3_ssize h3_read_data(nghttp3_conn *h3, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                                  uint32_t *pflags, void *cud, void *sud) {
  struct qs_conn *c = cud;
  struct qs_stream *s = sud;
  nghttp3_ssize n;
  (void)h3;
  (void)sid;
  n = qs_http_read_data(s, vec, veccnt, pflags);
  if (s->failed && !s->failed_queued) {
    s->failed_queued = 1;
    s->next_failed = c->failed;
    c->failed = s;
  }
  return n;
}

static const nghttp3_data_reader reader = {.read_data = h3_read_data};

static void unlink_from(struct qs_stream **head, struct qs_stream *s, int failed_list) {
  for (struct qs_stream **p = head; *p; p = failed_list ? &(*p)->next_failed : &(*p)->next_resume) {
    if (*p == s) {
      *p = failed_list ? s->next_failed : s->next_resume;
      return;
    }
  }
}

static void stream_free(struct qs_conn *c, struct qs_stream *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    c->streams = s->next;
  if (s->next)
    s->next->prev = s->prev;
  if (s->resume_queued)
    unlink_from(&c->resume, s, 0);
  if (s->failed_queued)
    unlink_from(&c->failed, s, 1);
  c->nreq--;
  QS_STAT_SUB(c->w->st, streams_open, 1);
  qs_stream_del(s);
}

static void consume(struct qs_conn *c, int64_t sid, size_t n) {
  ngtcp2_conn_extend_max_stream_offset(c->q, sid, n);
  ngtcp2_conn_extend_max_offset(c->q, n);
}

/* ---- nghttp3 callbacks ---- */

static int h3_acked_stream_data(nghttp3_conn *h3, int64_t sid, uint64_t datalen, void *cud,
                                void *sud) {
  struct qs_conn *c = cud;
  struct qs_stream *s = sud;
  (void)h3;
  (void)sid;
  /* resumed by our ngtcp2 callback once nghttp3 has returned */
  if (s && qs_http_acked(s, datalen) && !s->resume_queued) {
    s->resume_queued = 1;
    s->next_resume = c->resume;
    c->resume = s;
  }
  return 0;
}

static int h3_stream_close(nghttp3_conn *h3, int64_t sid, uint64_t code, void *cud, void *sud) {
  struct qs_conn *c = cud;
  (void)h3;
  (void)sid;
  (void)code;
  if (sud)
    stream_free(c, sud);
  return 0;
}

static int h3_recv_data(nghttp3_conn *h3, int64_t sid, const uint8_t *data, size_t datalen,
                        void *cud, void *sud) {
  (void)h3;
  (void)data;
  (void)sud;
  /* request bodies are not used: give the credit straight back */
  consume(cud, sid, datalen);
  return 0;
}

static int h3_deferred_consume(nghttp3_conn *h3, int64_t sid, size_t consumed, void *cud,
                               void *sud) {
  (void)h3;
  (void)sud;
  consume(cud, sid, consumed);
  return 0;
}

static int h3_begin_headers(nghttp3_conn *h3, int64_t sid, void *cud, void *sud) {
  struct qs_conn *c = cud;
  struct qs_stream *s;
  if (sud)
    return 0; /* trailers or a second header block: keep the stream */
  s = qs_stream_new(sid, c);
  if (!s)
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  if (nghttp3_conn_set_stream_user_data(h3, sid, s) != 0) {
    qs_stream_del(s);
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  }
  s->next = c->streams;
  if (c->streams)
    c->streams->prev = s;
  c->streams = s;
  c->nreq++;
  QS_STAT_ADD(c->w->st, streams_open, 1);
  return 0;
}

static int h3_recv_header(nghttp3_conn *h3, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *cud, void *sud) {
  struct qs_stream *s = sud;
  nghttp3_vec n, v;
  (void)h3;
  (void)sid;
  (void)flags;
  (void)cud;
  if (!s || s->responded)
    return 0;
  n = nghttp3_rcbuf_get_buf(name);
  v = nghttp3_rcbuf_get_buf(value);
  qs_http_on_header(s, token, n.base, n.len, v.base, v.len);
  return 0;
}

static int h3_end_stream(nghttp3_conn *h3, int64_t sid, void *cud, void *sud) {
  struct qs_conn *c = cud;
  struct qs_stream *s = sud;
  int rv;
  (void)sid;
  if (!s || s->responded)
    return 0;
  rv = qs_http_respond(s, h3, &c->w->srv->root, &c->w->files, qs_now(), &reader);
  if (rv != 0) {
    QS_DEBUG(c->w->index, "stream %lld: cannot submit response: %s", (long long)s->id,
             nghttp3_strerror(rv));
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  }
  QS_STAT_ADD(c->w->st, requests, 1);
  QS_DEBUG(c->w->index, "stream %lld: %s %s -> %d", (long long)s->id,
           s->method == QS_METHOD_GET ? "GET" : s->method == QS_METHOD_HEAD ? "HEAD" : "other",
           s->path, s->status);
  return 0;
}

static int h3_stop_sending(nghttp3_conn *h3, int64_t sid, uint64_t code, void *cud, void *sud) {
  struct qs_conn *c = cud;
  (void)h3;
  (void)sud;
  return ngtcp2_conn_shutdown_stream_read(c->q, sid, code) == 0 ? 0
                                                                 : NGHTTP3_ERR_CALLBACK_FAILURE;
}

static int h3_reset_stream(nghttp3_conn *h3, int64_t sid, uint64_t code, void *cud, void *sud) {
  struct qs_conn *c = cud;
  (void)h3;
  (void)sud;
  return ngtcp2_conn_shutdown_stream_write(c->q, sid, code) == 0 ? 0
                                                                  : NGHTTP3_ERR_CALLBACK_FAILURE;
}

int qs_h3_setup(struct qs_conn *c) {
  nghttp3_callbacks cbs = {
      .acked_stream_data = h3_acked_stream_data,
      .stream_close = h3_stream_close,
      .recv_data = h3_recv_data,
      .deferred_consume = h3_deferred_consume,
      .begin_headers = h3_begin_headers,
      .recv_header = h3_recv_header,
      .end_stream = h3_end_stream,
      .stop_sending = h3_stop_sending,
      .reset_stream = h3_reset_stream,
  };
  nghttp3_settings settings;
  const ngtcp2_transport_params *params;
  int64_t ctrl, qenc, qdec;

  if (c->h3)
    return 0;
  nghttp3_settings_default(&settings);
  settings.qpack_max_dtable_capacity = 4096;
  settings.qpack_blocked_streams = 100;
  if (nghttp3_conn_server_new(&c->h3, &cbs, &settings, NULL, c) != 0) {
    c->h3 = NULL;
    return -1;
  }
  params = ngtcp2_conn_get_local_transport_params(c->q);
  nghttp3_conn_set_max_client_streams_bidi(c->h3, params->initial_max_streams_bidi);
  if (ngtcp2_conn_open_uni_stream(c->q, &ctrl, NULL) != 0 ||
      nghttp3_conn_bind_control_stream(c->h3, ctrl) != 0 ||
      ngtcp2_conn_open_uni_stream(c->q, &qenc, NULL) != 0 ||
      ngtcp2_conn_open_uni_stream(c->q, &qdec, NULL) != 0 ||
      nghttp3_conn_bind_qpack_streams(c->h3, qenc, qdec) != 0) {
    QS_DEBUG(c->w->index, "cannot open the HTTP/3 control streams");
    return -1;
  }
  return 0;
}

void qs_h3_free(struct qs_conn *c) {
  if (c->h3) {
    nghttp3_conn_del(c->h3);
    c->h3 = NULL;
  }
  while (c->streams)
    stream_free(c, c->streams);
  c->resume = NULL;
  c->failed = NULL;
}

int qs_h3_reset_failed(struct qs_conn *c) {
  int any = 0;
  while (c->failed) {
    struct qs_stream *s = c->failed;
    c->failed = s->next_failed;
    s->failed_queued = 0;
    any = 1;
    QS_WARN(c->w->index, "stream %lld: reading %s failed; resetting the stream",
            (long long)s->id, s->path);
    nghttp3_conn_shutdown_stream_write(c->h3, s->id);
    ngtcp2_conn_shutdown_stream(c->q, s->id, NGHTTP3_H3_INTERNAL_ERROR);
  }
  return any;
}

/* ---- ngtcp2 stream callbacks ---- */

int qs_h3_recv_stream_data(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t offset,
                           const uint8_t *data, size_t datalen, void *user_data,
                           void *stream_user_data) {
  struct qs_conn *c = user_data;
  nghttp3_ssize n;
  (void)offset;
  (void)stream_user_data;
  if (!c->h3 && qs_h3_setup(c) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  n = nghttp3_conn_read_stream(c->h3, sid, data, datalen, flags & NGTCP2_STREAM_DATA_FLAG_FIN);
  if (n < 0) {
    QS_DEBUG(c->w->index, "HTTP/3 error on stream %lld: %s", (long long)sid,
             nghttp3_strerror((int)n));
    qs_conn_set_app_error(c, (int)n);
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  ngtcp2_conn_extend_max_stream_offset(q, sid, (uint64_t)n);
  ngtcp2_conn_extend_max_offset(q, (uint64_t)n);
  return 0;
}

int qs_h3_acked_stream_data_offset(ngtcp2_conn *q, int64_t sid, uint64_t offset,
                                   uint64_t datalen, void *user_data, void *stream_user_data) {
  struct qs_conn *c = user_data;
  int rv;
  (void)q;
  (void)offset;
  (void)stream_user_data;
  if (!c->h3)
    return 0;
  rv = nghttp3_conn_add_ack_offset(c->h3, sid, datalen);
  if (rv != 0) {
    qs_conn_set_app_error(c, rv);
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  while (c->resume) {
    struct qs_stream *s = c->resume;
    c->resume = s->next_resume;
    s->resume_queued = 0;
    nghttp3_conn_resume_stream(c->h3, s->id);
  }
  return 0;
}

int qs_h3_stream_close(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t app_error_code,
                       void *user_data, void *stream_user_data) {
  struct qs_conn *c = user_data;
  int rv;
  (void)stream_user_data;
  if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
    app_error_code = NGHTTP3_H3_NO_ERROR;
  if (c->h3) {
    rv = nghttp3_conn_close_stream(c->h3, sid, app_error_code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
      qs_conn_set_app_error(c, rv);
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  }
  /* a request finished: let the client open another */
  if (ngtcp2_is_bidi_stream(sid) && !ngtcp2_conn_is_local_stream(q, sid))
    ngtcp2_conn_extend_max_streams_bidi(q, 1);
  return 0;
}

int qs_h3_stream_reset(ngtcp2_conn *q, int64_t sid, uint64_t final_size, uint64_t app_error_code,
                       void *user_data, void *stream_user_data) {
  struct qs_conn *c = user_data;
  (void)q;
  (void)final_size;
  (void)app_error_code;
  (void)stream_user_data;
  if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, sid) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

int qs_h3_stream_stop_sending(ngtcp2_conn *q, int64_t sid, uint64_t app_error_code,
                              void *user_data, void *stream_user_data) {
  struct qs_conn *c = user_data;
  (void)q;
  (void)app_error_code;
  (void)stream_user_data;
  if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, sid) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

int qs_h3_extend_max_remote_streams_bidi(ngtcp2_conn *q, uint64_t max_streams, void *user_data) {
  struct qs_conn *c = user_data;
  (void)q;
  if (c->h3)
    nghttp3_conn_set_max_client_streams_bidi(c->h3, max_streams);
  return 0;
}

int qs_h3_extend_max_stream_data(ngtcp2_conn *q, int64_t sid, uint64_t max_data, void *user_data,
                                 void *stream_user_data) {
  struct qs_conn *c = user_data;
  (void)q;
  (void)max_data;
  (void)stream_user_data;
  if (c->h3 && nghttp3_conn_unblock_stream(c->h3, sid) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}
