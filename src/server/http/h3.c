/* h3.c: see h3.h. */
#include "h3.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "req.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

/* one request stream: the HTTP/3 side of a struct qs_req */
struct qs_stream {
  int64_t id;
  struct qs_conn *c;
  struct qs_req *r;
  struct qs_stream *prev, *next;
  struct qs_stream *next_resume, *next_failed;
  uint8_t resume_queued, failed_queued;
};

#define QS_H3_MAX_NV 128 /* response fields on the stack; more take the heap */

static void queue_resume(struct qs_conn *c, struct qs_stream *s) {
  if (s->resume_queued)
    return;
  s->resume_queued = 1;
  s->next_resume = c->resume;
  c->resume = s;
}

static void queue_failed(struct qs_conn *c, struct qs_stream *s) {
  if (s->failed_queued)
    return;
  s->failed_queued = 1;
  s->next_failed = c->failed;
  c->failed = s;
}

/* ---- the front's side of the request model (req.h) ---- */

static nghttp3_ssize h3_read_data(nghttp3_conn *h3, int64_t sid, nghttp3_vec *vec, size_t veccnt,
                                  uint32_t *pflags, void *cud, void *sud) {
  struct qs_conn *c = cud;
  struct qs_stream *s = sud;
  struct qs_vec v[16];
  int eof = 0, n;
  (void)h3;
  (void)sid;
  if (veccnt > 16)
    veccnt = 16;
  n = qs_req_pull(s->r, v, veccnt, &eof);
  if (n < 0) {
    queue_failed(c, s);
    return NGHTTP3_ERR_WOULDBLOCK;
  }
  for (int i = 0; i < n; i++) {
    vec[i].base = (uint8_t *)v[i].base;
    vec[i].len = v[i].len;
  }
  if (eof)
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
  else if (n == 0)
    return NGHTTP3_ERR_WOULDBLOCK;
  return n;
}

static const nghttp3_data_reader reader = {.read_data = h3_read_data};

static int front_respond(struct qs_req *r) {
  struct qs_stream *s = r->front_data;
  struct qs_conn *c = s->c;
  nghttp3_nv stack[QS_H3_MAX_NV], *nva = stack;
  char status[24];
  size_t n = 0;
  int rv;

  /* an upstream may send many fields (bounded by QS_RESP_FIELDS_MAX):
   * none is dropped */
  if (r->resp.n + 1 > QS_H3_MAX_NV) {
    nva = malloc((r->resp.n + 1) * sizeof *nva);
    if (!nva) {
      queue_failed(c, s);
      qs_worker_mark_dirty(c->w, c);
      return NGHTTP3_ERR_NOMEM;
    }
  }
  nva[n++] = (nghttp3_nv){(uint8_t *)":status", (uint8_t *)status, 7,
                          qs_fmt_dec(status, (uint64_t)r->status), NGHTTP3_NV_FLAG_NONE};
  for (size_t i = 0; i < r->resp.n; i++)
    nva[n++] = (nghttp3_nv){(uint8_t *)qs_field_name(&r->resp, i),
                            (uint8_t *)qs_field_value(&r->resp, i), r->resp.f[i].namelen,
                            r->resp.f[i].valuelen, NGHTTP3_NV_FLAG_NONE};
  rv = nghttp3_conn_submit_response(c->h3, s->id, nva, n, r->has_body ? &reader : NULL);
  if (nva != stack)
    free(nva); /* nghttp3 copied the fields */
  if (rv != 0) {
    QS_DEBUG(c->w->index, "stream %lld: cannot submit response: %s", (long long)s->id,
             nghttp3_strerror(rv));
    queue_failed(c, s);
  }
  QS_DEBUG(c->w->index, "stream %lld: %s %s -> %d", (long long)s->id, qs_req_method(r),
           qs_req_path(r), r->status);
  qs_worker_mark_dirty(c->w, c);
  return rv;
}

static int front_interim(struct qs_req *r, int code) {
  struct qs_stream *s = r->front_data;
  char status[24];
  nghttp3_nv nv;
  nv = (nghttp3_nv){(uint8_t *)":status", (uint8_t *)status, 7,
                    qs_fmt_dec(status, (uint64_t)code), NGHTTP3_NV_FLAG_NONE};
  qs_worker_mark_dirty(s->c->w, s->c);
  return nghttp3_conn_submit_info(s->c->h3, s->id, &nv, 1);
}

static void front_resume(struct qs_req *r) {
  struct qs_stream *s = r->front_data;
  /* nghttp3 is resumed outside its own callbacks (qs_h3_pending) */
  queue_resume(s->c, s);
  qs_worker_mark_dirty(s->c->w, s->c);
}

static void consume(struct qs_conn *c, int64_t sid, size_t n) {
  ngtcp2_conn_extend_max_stream_offset(c->q, sid, n);
  ngtcp2_conn_extend_max_offset(c->q, n);
}

static void front_consume(struct qs_req *r, size_t n) {
  struct qs_stream *s = r->front_data;
  consume(s->c, s->id, n);
  qs_worker_mark_dirty(s->c->w, s->c);
}

static void front_reset(struct qs_req *r) {
  struct qs_stream *s = r->front_data;
  queue_failed(s->c, s);
  qs_worker_mark_dirty(s->c->w, s->c);
}

static const struct qs_front_ops front_ops = {
    .respond = front_respond,
    .interim = front_interim,
    .resume = front_resume,
    .consume = front_consume,
    .reset = front_reset,
};

/* ---- streams ---- */

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
  if (c->q)
    ngtcp2_conn_set_stream_user_data(c->q, s->id, NULL);
  qs_req_close(s->r);
  qs_mpool_release(&c->w->mem, s);
}

/* ---- nghttp3 callbacks ---- */

static int h3_acked_stream_data(nghttp3_conn *h3, int64_t sid, uint64_t datalen, void *cud,
                                void *sud) {
  struct qs_stream *s = sud;
  (void)h3;
  (void)sid;
  (void)cud;
  if (s)
    qs_req_acked(s->r, datalen);
  return 0;
}

static int h3_stream_close(nghttp3_conn *h3, int64_t sid, uint64_t code, void *cud, void *sud) {
  struct qs_conn *c = cud;
  struct qs_stream *s = sud;
  (void)h3;
  (void)sid;
  if (s) {
    if (code != NGHTTP3_H3_NO_ERROR)
      qs_req_abort(s->r);
    stream_free(c, s);
  }
  return 0;
}

static int h3_recv_data(nghttp3_conn *h3, int64_t sid, const uint8_t *data, size_t datalen,
                        void *cud, void *sud) {
  struct qs_stream *s = sud;
  (void)h3;
  if (!s) {
    consume(cud, sid, datalen);
    return 0;
  }
  /* credit comes back when the handler has processed the octets */
  qs_req_body(s->r, data, datalen);
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
  const ngtcp2_path *path;
  if (sud)
    return 0; /* trailers: ignored */
  s = qs_mpool_calloc(&c->w->mem, 1, sizeof *s);
  if (!s)
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  path = ngtcp2_conn_get_path(c->q);
  s->id = sid;
  s->c = c;
  s->r = qs_req_new(&c->w->http, &front_ops, s, (const struct sockaddr *)path->remote.addr,
                    (socklen_t)path->remote.addrlen, "HTTP/3");
  if (!s->r || nghttp3_conn_set_stream_user_data(h3, sid, s) != 0) {
    if (s->r)
      qs_req_close(s->r);
    qs_mpool_release(&c->w->mem, s);
    return NGHTTP3_ERR_CALLBACK_FAILURE;
  }
  ngtcp2_conn_set_stream_user_data(c->q, sid, s);
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
  (void)token;
  (void)flags;
  (void)cud;
  if (!s || s->r->headers_done)
    return 0; /* trailers */
  n = nghttp3_rcbuf_get_buf(name);
  v = nghttp3_rcbuf_get_buf(value);
  qs_req_field(s->r, (const char *)n.base, n.len, (const char *)v.base, v.len);
  return 0;
}

static int h3_end_headers(nghttp3_conn *h3, int64_t sid, int fin, void *cud, void *sud) {
  struct qs_stream *s = sud;
  (void)h3;
  (void)sid;
  (void)cud;
  if (!s || s->r->headers_done)
    return 0;
  /* complete before the handshake: it may be a replayed 0-RTT request */
  s->r->early_data = !s->c->handshake_done;
  qs_req_headers_done(s->r, fin);
  return 0;
}

static int h3_end_stream(nghttp3_conn *h3, int64_t sid, void *cud, void *sud) {
  struct qs_stream *s = sud;
  (void)h3;
  (void)sid;
  (void)cud;
  if (s && !s->r->body_fin)
    qs_req_end(s->r);
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
      .end_headers = h3_end_headers,
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
  /* SETTINGS_MAX_FIELD_SECTION_SIZE: what qs_req_field enforces */
  settings.max_field_section_size = c->w->http.conf->max_fields;
  if (nghttp3_conn_server_new(&c->h3, &cbs, &settings, &c->w->mem.h, c) != 0) {
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
  c->resume = NULL;
  c->failed = NULL;
  while (c->streams) {
    struct qs_stream *s = c->streams;
    s->resume_queued = s->failed_queued = 0;
    qs_req_abort(s->r); /* the connection went away with the request */
    stream_free(c, s);
  }
}

void qs_h3_handshake_completed(struct qs_conn *c) {
  for (struct qs_stream *s = c->streams; s; s = s->next)
    qs_req_release(s->r);
}

int qs_h3_pending(struct qs_conn *c) {
  int any = 0;
  while (c->resume) {
    struct qs_stream *s = c->resume;
    c->resume = s->next_resume;
    s->resume_queued = 0;
    nghttp3_conn_resume_stream(c->h3, s->id);
  }
  while (c->failed) {
    struct qs_stream *s = c->failed;
    c->failed = s->next_failed;
    s->failed_queued = 0;
    any = 1;
    QS_DEBUG(c->w->index, "stream %lld: %s cut off; resetting the stream", (long long)s->id,
             qs_req_path(s->r) ? qs_req_path(s->r) : "-");
    s->r->was_reset = 1;
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

/* stream_abandon: the client reset its request (RESET_STREAM) or stopped
 * reading the response (STOP_SENDING): the request is aborted either way */
static int stream_abandon(struct qs_conn *c, struct qs_stream *s, int64_t sid) {
  if (s)
    qs_req_abort(s->r);
  if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, sid) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

int qs_h3_stream_reset(ngtcp2_conn *q, int64_t sid, uint64_t final_size, uint64_t app_error_code,
                       void *user_data, void *stream_user_data) {
  (void)q;
  (void)final_size;
  (void)app_error_code;
  return stream_abandon(user_data, stream_user_data, sid);
}

int qs_h3_stream_stop_sending(ngtcp2_conn *q, int64_t sid, uint64_t app_error_code,
                              void *user_data, void *stream_user_data) {
  (void)q;
  (void)app_error_code;
  return stream_abandon(user_data, stream_user_data, sid);
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
