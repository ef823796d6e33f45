/* h2.c: the HTTP/2 front over TLS (tcp.h): libnghttp2's server session
 * turns frames into qs_req_* calls, one struct qs_req per stream, and the
 * layer's responses into frames.  Request body credit goes back to the
 * client only as the handler consumes it (no automatic WINDOW_UPDATE).
 */
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "log.h"
#include "tcp.h"

#define QS_H2_MAX_NV 128 /* response fields on the stack; more take the heap */
#define QS_H2_VECS 8

struct h2c;

struct h2s {
  int32_t id;
  struct h2c *h;
  struct qs_req *r;
  struct h2s *prev, *next;
  /* pulled body octets not yet framed */
  struct qs_vec v[QS_H2_VECS];
  int nv, iv, eof;
};

struct h2c {
  struct qs_tcp_conn *c;
  nghttp2_session *s;
  struct h2s *streams;
  size_t nstreams;
};

static void stream_free(struct h2c *h, struct h2s *st) {
  if (st->prev)
    st->prev->next = st->next;
  else
    h->streams = st->next;
  if (st->next)
    st->next->prev = st->prev;
  h->nstreams--;
  qs_req_close(st->r);
  free(st);
}

/* ---- the front's side of the request model (req.h) ---- */

/* the body octets of the next DATA frame: counted here, copied once, by
 * send_data, from the handler's buffers into c->out (no frame buffer of
 * nghttp2's in between) */
static ssize_t read_data(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  struct h2s *st = src->ptr;
  size_t avail = 0;
  (void)s;
  (void)id;
  (void)buf;
  (void)ud;
  while (st->iv < st->nv && st->v[st->iv].len == 0)
    st->iv++;
  if (st->iv) { /* what send_data copied: free its slots */
    memmove(st->v, st->v + st->iv, (size_t)(st->nv - st->iv) * sizeof st->v[0]);
    st->nv -= st->iv;
    st->iv = 0;
  }
  for (int i = 0; i < st->nv; i++)
    avail += st->v[i].len;
  /* a full frame if the handler has it (pulled octets stay valid until
   * acked, so more may be pulled behind them) */
  while (avail < length && !st->eof && st->nv < QS_H2_VECS) {
    int n = qs_req_pull(st->r, st->v + st->nv, (size_t)(QS_H2_VECS - st->nv), &st->eof);
    if (n < 0)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    if (n == 0)
      break;
    for (int i = st->nv; i < st->nv + n; i++)
      avail += st->v[i].len;
    st->nv += n;
  }
  if (avail > length)
    avail = length;
  else if (st->eof)
    *flags |= NGHTTP2_DATA_FLAG_EOF; /* this frame takes all that is left */
  if (avail)
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  else if (!st->eof)
    return NGHTTP2_ERR_DEFERRED; /* qs_req_resume follows */
  return (ssize_t)avail;
}

static int send_data(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd,
                     size_t length, nghttp2_data_source *src, void *ud) {
  struct h2s *st = src->ptr;
  struct qs_tcp_conn *c = ((struct h2c *)ud)->c;
  size_t left = length;
  (void)s;
  (void)f; /* no padding: no select_padding callback */
  if (qs_buf_add(&c->out, framehd, 9) != 0)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  while (left) {
    struct qs_vec *v = &st->v[st->iv];
    size_t n = v->len < left ? v->len : left;
    if (qs_buf_add(&c->out, v->base, n) != 0)
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    v->base += n;
    v->len -= n;
    left -= n;
    if (v->len == 0)
      st->iv++;
  }
  qs_req_acked(st->r, length); /* copied into the frame */
  /* frames sent this way return nothing from mem_send: stop it at the
   * output bound (h2_send) */
  return qs_buf_pending(&c->out) >= QS_TCP_OUT_HIGH ? NGHTTP2_ERR_PAUSE : 0;
}

static int front_respond(struct qs_req *r) {
  struct h2s *st = r->front_data;
  struct qs_tcp_conn *c = st->h->c;
  nghttp2_nv stack[QS_H2_MAX_NV], *nva = stack;
  nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_data};
  char status[24];
  size_t n = 0;
  int rv;
  qs_tcp_add_alt_svc(c, &r->resp);
  /* an upstream may send many fields (bounded by QS_RESP_FIELDS_MAX): none
   * is dropped */
  if (r->resp.n + 1 > QS_H2_MAX_NV) {
    nva = malloc((r->resp.n + 1) * sizeof *nva);
    if (!nva) {
      nghttp2_submit_rst_stream(st->h->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
      qs_tcp_mark(c);
      return NGHTTP2_ERR_NOMEM;
    }
  }
  nva[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7,
                          qs_fmt_dec(status, (uint64_t)r->status), NGHTTP2_NV_FLAG_NONE};
  for (size_t i = 0; i < r->resp.n; i++) {
    char *name = r->resp.buf + r->resp.f[i].name;
    size_t nl = r->resp.f[i].namelen;
    if (qs_h1_hop_by_hop(name, nl, NULL, 0))
      continue; /* connection-specific: a protocol error in HTTP/2 */
    for (size_t k = 0; k < nl; k++) /* HTTP/2 field names are lower case */
      if (name[k] >= 'A' && name[k] <= 'Z')
        name[k] = (char)(name[k] + 32);
    nva[n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)qs_field_value(&r->resp, i), nl,
                            r->resp.f[i].valuelen, NGHTTP2_NV_FLAG_NONE};
  }
  rv = nghttp2_submit_response(st->h->s, st->id, nva, n, r->has_body ? &prd : NULL);
  if (nva != stack)
    free(nva); /* nghttp2 copied the fields */
  if (rv != 0)
    nghttp2_submit_rst_stream(st->h->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  qs_tcp_mark(c);
  return rv;
}

static int front_interim(struct qs_req *r, int code) {
  struct h2s *st = r->front_data;
  char status[24];
  nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)status, 7, qs_fmt_dec(status, (uint64_t)code),
                   NGHTTP2_NV_FLAG_NONE};
  qs_tcp_mark(st->h->c);
  return nghttp2_submit_headers(st->h->s, NGHTTP2_FLAG_NONE, st->id, NULL, &nv, 1, NULL);
}

static void front_resume(struct qs_req *r) {
  struct h2s *st = r->front_data;
  nghttp2_session_resume_data(st->h->s, st->id);
  qs_tcp_mark(st->h->c);
}

static void front_consume(struct qs_req *r, size_t n) {
  struct h2s *st = r->front_data;
  nghttp2_session_consume(st->h->s, st->id, n);
  qs_tcp_mark(st->h->c);
}

static void front_reset(struct qs_req *r) {
  struct h2s *st = r->front_data;
  nghttp2_submit_rst_stream(st->h->s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  qs_tcp_mark(st->h->c);
}

static const struct qs_front_ops front_ops = {
    .respond = front_respond,
    .interim = front_interim,
    .resume = front_resume,
    .consume = front_consume,
    .reset = front_reset,
};

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  struct h2c *h = ud;
  struct qs_tcp_conn *c = h->c;
  struct h2s *st;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  st = calloc(1, sizeof *st);
  if (!st)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  st->id = f->hd.stream_id;
  st->h = h;
  st->r = qs_req_new(c->t->hw, &front_ops, st, (const struct sockaddr *)&c->peer, c->peerlen,
                     "HTTP/2");
  if (!st->r) {
    free(st);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  nghttp2_session_set_stream_user_data(s, st->id, st);
  st->next = h->streams;
  if (h->streams)
    h->streams->prev = st;
  h->streams = st;
  h->nstreams++;
  return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  struct h2s *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  (void)flags;
  (void)ud;
  if (!st || st->r->headers_done)
    return 0; /* trailers: ignored */
  if (namelen == 4 && memcmp(name, "host", 4) == 0) {
    if (st->r->authority < 0) /* RFC 9113 s8.3.1: Host stands for :authority */
      qs_req_field(st->r, ":authority", 10, (const char *)value, valuelen);
    return 0;
  }
  qs_req_field(st->r, (const char *)name, namelen, (const char *)value, valuelen);
  return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  struct h2s *st;
  (void)ud;
  if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
    return 0;
  st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
  if (!st)
    return 0;
  if (f->hd.type == NGHTTP2_HEADERS && !st->r->headers_done) {
    qs_req_headers_done(st->r, !!(f->hd.flags & NGHTTP2_FLAG_END_STREAM));
    return 0;
  }
  if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && !st->r->body_fin)
    qs_req_end(st->r);
  return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud) {
  struct h2s *st = nghttp2_session_get_stream_user_data(s, id);
  (void)flags;
  (void)ud;
  if (!st) {
    nghttp2_session_consume(s, id, len);
    return 0;
  }
  qs_req_body(st->r, data, len); /* credit back at qs_req_consume */
  return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud) {
  struct h2c *h = ud;
  struct h2s *st = nghttp2_session_get_stream_user_data(s, id);
  if (!st)
    return 0;
  if (code != NGHTTP2_NO_ERROR || !st->r->responded)
    qs_req_abort(st->r);
  nghttp2_session_set_stream_user_data(s, id, NULL);
  stream_free(h, st);
  return 0;
}

/* ---- the connection ---- */

static int h2_start(struct qs_tcp_conn *c) {
  struct h2c *h = calloc(1, sizeof *h);
  nghttp2_session_callbacks *cbs;
  nghttp2_option *opt;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, QS_TCP_H2_MAX_STREAMS},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)c->t->conf->max_fields},
  };
  int rv;
  if (!h)
    return -1;
  h->c = c;
  c->pdata = h;
  if (nghttp2_session_callbacks_new(&cbs) != 0)
    return -1;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_send_data_callback(cbs, send_data);
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return -1;
  }
  nghttp2_option_set_no_auto_window_update(opt, 1);
  /* streams over the limit are refused by nghttp2 (RST_STREAM) */
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  rv = nghttp2_session_server_new2(&h->s, cbs, h, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    h->s = NULL;
    return -1;
  }
  if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0)
    return -1;
  return 0;
}

static int h2_recv(struct qs_tcp_conn *c, const uint8_t *data, size_t len) {
  struct h2c *h = c->pdata;
  ssize_t n = nghttp2_session_mem_recv(h->s, data, len);
  if (n < 0) {
    QS_DEBUG(c->t->index, "HTTP/2: %s", nghttp2_strerror((int)n));
    return -1;
  }
  qs_tcp_mark(c);
  return 0;
}

static int h2_send(struct qs_tcp_conn *c) {
  struct h2c *h = c->pdata;
  while (qs_buf_pending(&c->out) < QS_TCP_OUT_HIGH) {
    const uint8_t *d;
    ssize_t n = nghttp2_session_mem_send(h->s, &d);
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    if (qs_buf_add(&c->out, d, (size_t)n) != 0)
      return -1;
  }
  if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s))
    c->want_close = 1; /* GOAWAY both ways and nothing left */
  return 0;
}

static int h2_idle(struct qs_tcp_conn *c) {
  struct h2c *h = c->pdata;
  return h->nstreams == 0;
}

static void h2_drain(struct qs_tcp_conn *c) {
  struct h2c *h = c->pdata;
  /* requests already begun are finished; no new ones */
  nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->s),
                        NGHTTP2_NO_ERROR, NULL, 0);
  qs_tcp_mark(c);
}

static void h2_free(struct qs_tcp_conn *c) {
  struct h2c *h = c->pdata;
  if (!h)
    return;
  if (h->s)
    nghttp2_session_del(h->s); /* calls no stream-close callbacks */
  while (h->streams) {
    qs_req_abort(h->streams->r); /* the connection went away with the request */
    stream_free(h, h->streams);
  }
  free(h);
  c->pdata = NULL;
}

const struct qs_tcp_proto qs_h2_proto = {
    .name = "h2",
    .start = h2_start,
    .recv = h2_recv,
    .send = h2_send,
    .idle = h2_idle,
    .drain = h2_drain,
    .free = h2_free,
};
