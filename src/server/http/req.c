/* req.c: see req.h. */
#include "req.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "h1.h"
#include "proxy.h"
#include "static.h"
#include "stats.h"
#include "quicsteer/util.h"

#define QS_SERVER_HEADER "quicsteer/" QS_VERSION_STRING
#define QS_FIELD_OVERHEAD 32 /* per field, as RFC 9114 s4.2.2 counts */

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

size_t qs_fmt_dec(char *out, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

/* ---- fields ---- */

void qs_fields_init(struct qs_fields *fs, size_t max) {
  memset(fs, 0, sizeof *fs);
  fs->max = max;
}

void qs_fields_free(struct qs_fields *fs) {
  struct qs_mpool *mem = fs->mem;
  qs_mpool_release(mem, fs->buf);
  qs_mpool_release(mem, fs->f);
  memset(fs, 0, sizeof *fs);
  fs->mem = mem;
}

void qs_fields_clear(struct qs_fields *fs) {
  fs->len = 0;
  fs->n = 0;
}

static size_t fields_size(const struct qs_fields *fs) { return fs->len + fs->n * QS_FIELD_OVERHEAD; }

int qs_fields_add(struct qs_fields *fs, const char *name, size_t namelen, const char *value,
                  size_t valuelen, int lower) {
  size_t need = namelen + valuelen + 2;
  if (fields_size(fs) + namelen + valuelen + QS_FIELD_OVERHEAD > fs->max)
    return -E2BIG;
  if (fs->len + need > fs->cap) {
    size_t cap = fs->cap ? fs->cap : 512;
    char *b;
    while (cap < fs->len + need)
      cap *= 2;
    b = qs_mpool_realloc(fs->mem, fs->buf, cap);
    if (!b)
      return -ENOMEM;
    fs->buf = b;
    fs->cap = cap;
  }
  if (fs->n == fs->capf) {
    size_t cap = fs->capf ? fs->capf * 2 : 16;
    struct qs_field *f = qs_mpool_realloc(fs->mem, fs->f, cap * sizeof *f);
    if (!f)
      return -ENOMEM;
    fs->f = f;
    fs->capf = cap;
  }
  fs->f[fs->n].name = (uint32_t)fs->len;
  fs->f[fs->n].namelen = (uint32_t)namelen;
  if (lower) {
    for (size_t i = 0; i < namelen; i++) {
      char c = name[i];
      fs->buf[fs->len + i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
  } else if (namelen) {
    memcpy(fs->buf + fs->len, name, namelen); /* HTTP/3 names arrive lower-case */
  }
  fs->len += namelen;
  fs->buf[fs->len++] = '\0';
  fs->f[fs->n].value = (uint32_t)fs->len;
  fs->f[fs->n].valuelen = (uint32_t)valuelen;
  if (valuelen) /* an empty value may come as NULL */
    memcpy(fs->buf + fs->len, value, valuelen);
  fs->len += valuelen;
  fs->buf[fs->len++] = '\0';
  fs->n++;
  return 0;
}

const char *qs_fields_get(const struct qs_fields *fs, const char *name, size_t *len) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < fs->n; i++) {
    if (fs->f[i].namelen == nl && strncasecmp(fs->buf + fs->f[i].name, name, nl) == 0) {
      if (len)
        *len = fs->f[i].valuelen;
      return fs->buf + fs->f[i].value;
    }
  }
  return NULL;
}

/* ---- the ring ---- */

int qs_ring_init(struct qs_ring *rg, size_t cap) {
  memset(rg, 0, sizeof *rg);
  rg->buf = malloc(cap ? cap : 1);
  if (!rg->buf)
    return -ENOMEM;
  rg->cap = cap;
  return 0;
}

void qs_ring_free(struct qs_ring *rg) {
  free(rg->buf);
  rg->buf = NULL;
}

size_t qs_ring_room(const struct qs_ring *rg) { return rg->cap - (size_t)(rg->filled - rg->acked); }

uint8_t *qs_ring_space(struct qs_ring *rg, size_t *len) {
  size_t pos = (size_t)(rg->filled % rg->cap), room = qs_ring_room(rg);
  *len = rg->cap - pos < room ? rg->cap - pos : room;
  return rg->buf + pos;
}

size_t qs_ring_put(struct qs_ring *rg, const uint8_t *data, size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t n;
    uint8_t *p = qs_ring_space(rg, &n);
    if (n == 0)
      break;
    if (n > len - done)
      n = len - done;
    memcpy(p, data + done, n);
    rg->filled += n;
    done += n;
  }
  return done;
}

int qs_ring_pull(struct qs_ring *rg, struct qs_vec *v, size_t nv) {
  int k = 0;
  while ((size_t)k < nv && rg->pulled < rg->filled) {
    size_t pos = (size_t)(rg->pulled % rg->cap), n = (size_t)(rg->filled - rg->pulled);
    if (n > rg->cap - pos)
      n = rg->cap - pos;
    v[k].base = rg->buf + pos;
    v[k].len = n;
    rg->pulled += n;
    k++;
  }
  return k;
}

/* ---- worker context ---- */

#define HDR_LINK offsetof(struct qs_req, hdr_link)
#define SND_LINK offsetof(struct qs_req, snd_link)
#define LINK(r, off) ((struct qs_req_link *)((char *)(r) + (off)))

static void watch_add(struct qs_req_list *l, struct qs_req *r, size_t off) {
  struct qs_req_link *k = LINK(r, off);
  if (k->on)
    return;
  k->on = 1;
  k->next = NULL;
  k->prev = l->tail;
  if (l->tail)
    LINK(l->tail, off)->next = r;
  else
    l->head = r;
  l->tail = r;
}

static void watch_del(struct qs_req_list *l, struct qs_req *r, size_t off) {
  struct qs_req_link *k = LINK(r, off);
  if (!k->on)
    return;
  if (k->prev)
    LINK(k->prev, off)->next = k->next;
  else
    l->head = k->next;
  if (k->next)
    LINK(k->next, off)->prev = k->prev;
  else
    l->tail = k->prev;
  k->prev = k->next = NULL;
  k->on = 0;
}

/* Requests still without a complete header section after the header
 * timeout are reset: a client sending one octet a second costs a bounded
 * time.  Responses whose body has neither been pulled nor released for
 * the send timeout are reset: a client that never reads cannot pin a file,
 * a ring or an upstream connection for longer. */
static void watch_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  struct qs_http_worker *hw = t->data;
  const struct qs_http_conf *c = hw->conf;
  uint64_t now = mono_ns();
  (void)loop;
  (void)revents;
  while (c->header_timeout > 0 && hw->hdr_wait.head &&
         now - hw->hdr_wait.head->start_ns >= (uint64_t)(c->header_timeout * 1e9)) {
    struct qs_req *r = hw->hdr_wait.head;
    watch_del(&hw->hdr_wait, r, HDR_LINK);
    QS_STAT_ADD(hw->st, http_header_timeout, 1);
    qs_req_reset(r);
  }
  for (struct qs_req *r = hw->sending.head, *next; c->send_timeout > 0 && r; r = next) {
    next = r->snd_link.next;
    if (now - r->progress_ns >= (uint64_t)(c->send_timeout * 1e9)) {
      watch_del(&hw->sending, r, SND_LINK);
      QS_STAT_ADD(hw->st, http_send_timeout, 1);
      qs_req_reset(r);
    }
  }
  qs_http_flush(hw);
}

int qs_http_worker_init(struct qs_http_worker *hw, struct ev_loop *loop, unsigned index,
                        const struct qs_http_conf *conf, struct qs_wstats *st) {
  memset(hw, 0, sizeof *hw);
  hw->loop = loop;
  hw->index = index;
  hw->conf = conf;
  hw->st = st;
  qs_filecache_init(&hw->files);
  hw->files.no_siblings = conf->no_precompressed;
  hw->files.st = st;
  if (conf->proxy && qs_proxy_worker_new(hw, conf->proxy, &hw->proxy) != 0)
    return -ENOMEM;
  if (loop && (conf->header_timeout > 0 || conf->send_timeout > 0)) {
    double tick = 1.;
    if (conf->header_timeout > 0 && conf->header_timeout / 4 < tick)
      tick = conf->header_timeout / 4;
    if (conf->send_timeout > 0 && conf->send_timeout / 4 < tick)
      tick = conf->send_timeout / 4;
    ev_timer_init(&hw->watch_timer, watch_cb, tick, tick);
    hw->watch_timer.data = hw;
    ev_timer_start(loop, &hw->watch_timer);
  }
  return 0;
}

void qs_http_worker_free(struct qs_http_worker *hw) {
  if (hw->loop)
    ev_timer_stop(hw->loop, &hw->watch_timer);
  qs_proxy_worker_del(hw->proxy);
  hw->proxy = NULL;
  qs_filecache_free(&hw->files);
}

void qs_http_flush(struct qs_http_worker *hw) {
  if (hw->flush)
    hw->flush(hw->flush_arg);
}

/* ---- built-in status pages ---- */

static const char *status_text(int status) {
  switch (status) {
  case 400: return "400 Bad Request\n";
  case 403: return "403 Forbidden\n";
  case 404: return "404 Not Found\n";
  case 405: return "405 Method Not Allowed\n";
  case 413: return "413 Content Too Large\n";
  case 414: return "414 URI Too Long\n";
  case 425: return "425 Too Early\n";
  case 431: return "431 Request Header Fields Too Large\n";
  case 502: return "502 Bad Gateway\n";
  case 503: return "503 Service Unavailable\n";
  case 504: return "504 Gateway Timeout\n";
  default: return "500 Internal Server Error\n";
  }
}

static int status_pull(struct qs_req *r, struct qs_vec *v, size_t nv, int *eof) {
  const char *text = r->hdata;
  size_t len = strlen(text);
  (void)nv;
  *eof = 1;
  if (r->body_tx >= len)
    return 0;
  v[0].base = (const uint8_t *)text + r->body_tx;
  v[0].len = len - (size_t)r->body_tx;
  return 1;
}

static const struct qs_handler_ops status_ops = {.name = "status", .pull = status_pull};

int qs_req_error(struct qs_req *r, int status) {
  const char *text = status_text(status);
  char clen[24];
  size_t clenlen;
  qs_req_set_handler(r, &status_ops, (void *)text);
  if (r->responded) {
    /* too late for a status page: cut the response off */
    qs_req_reset(r);
    return 0;
  }
  qs_fields_clear(&r->resp);
  clenlen = qs_fmt_dec(clen, strlen(text));
  qs_fields_add(&r->resp, "content-type", 12, "text/plain; charset=utf-8", 25, 0);
  qs_fields_add(&r->resp, "content-length", 14, clen, clenlen, 0);
  if (status == 405)
    qs_fields_add(&r->resp, "allow", 5, "GET, HEAD", 9, 0);
  return qs_req_respond(r, status, r->mkind != QS_REQ_HEAD);
}

/* ---- the front's calls ---- */

struct qs_req *qs_req_new(struct qs_http_worker *hw, const struct qs_front_ops *front,
                          void *front_data, const struct sockaddr *client, socklen_t clientlen,
                          const char *proto) {
  struct qs_req *r = qs_mpool_calloc(hw->mem, 1, sizeof *r);
  if (!r)
    return NULL;
  r->hw = hw;
  r->front = front;
  r->front_data = front_data;
  r->method = r->path = r->authority = r->scheme = -1;
  r->content_length = -1;
  r->proto = proto;
  r->start_ns = mono_ns();
  qs_fields_init(&r->fields, hw->conf->max_fields ? hw->conf->max_fields : QS_FIELDS_MAX_DEFAULT);
  qs_fields_init(&r->resp, QS_RESP_FIELDS_MAX);
  r->fields.mem = r->resp.mem = hw->mem;
  if (client && clientlen <= sizeof r->client) {
    memcpy(&r->client, client, clientlen);
    r->clientlen = clientlen;
  }
  if (hw->loop && hw->conf->header_timeout > 0)
    watch_add(&hw->hdr_wait, r, HDR_LINK);
  return r;
}

static int parse_clen(const char *v, size_t len, int64_t *out) {
  uint64_t x = 0;
  if (len == 0 || len > 18)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  *out = (int64_t)x;
  return 0;
}

void qs_req_field(struct qs_req *r, const char *name, size_t namelen, const char *value,
                  size_t valuelen) {
  int32_t *slot = NULL;
  int rv;
  if (r->bad)
    return;
  if (namelen && name[0] == ':') {
    if (namelen == 7 && memcmp(name, ":method", 7) == 0)
      slot = &r->method;
    else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
      slot = &r->path;
    else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
      slot = &r->authority;
    else if (namelen == 7 && memcmp(name, ":scheme", 7) == 0)
      slot = &r->scheme;
  }
  rv = qs_fields_add(&r->fields, name, namelen, value, valuelen, 0);
  if (rv == -E2BIG) {
    r->bad = 431;
    QS_STAT_ADD(r->hw->st, http_header_too_large, 1);
    return;
  }
  if (rv != 0) {
    r->bad = 500;
    return;
  }
  if (slot) {
    *slot = (int32_t)r->fields.f[r->fields.n - 1].value;
    if (slot == &r->method) {
      if (valuelen == 3 && memcmp(value, "GET", 3) == 0)
        r->mkind = QS_REQ_GET;
      else if (valuelen == 4 && memcmp(value, "HEAD", 4) == 0)
        r->mkind = QS_REQ_HEAD;
      else if (valuelen == 4 && memcmp(value, "POST", 4) == 0)
        r->mkind = QS_REQ_POST;
      else if (valuelen == 3 && memcmp(value, "PUT", 3) == 0)
        r->mkind = QS_REQ_PUT;
      else
        r->mkind = QS_REQ_OTHER;
    }
  } else if (namelen == 14 && strncasecmp(name, "content-length", 14) == 0) {
    if (parse_clen(value, valuelen, &r->content_length) != 0)
      r->bad = 400;
  }
}

static void route(struct qs_req *r);

void qs_req_headers_done(struct qs_req *r, int fin) {
  r->headers_done = 1;
  r->body_fin = (uint8_t)fin;
  watch_del(&r->hw->hdr_wait, r, HDR_LINK);
  /* RFC 8470: only what is safe to repeat runs before the handshake */
  if (r->early_data && !r->bad && r->mkind != QS_REQ_GET && r->mkind != QS_REQ_HEAD) {
    r->held = 1;
    r->held_fin = (uint8_t)fin;
    r->body_fin = 0;
    QS_STAT_ADD(r->hw->st, early_deferred, 1);
    return;
  }
  route(r);
}

void qs_req_release(struct qs_req *r) {
  struct qs_buf *b = r->held_body;
  if (!r->held)
    return;
  r->held = 0;
  r->early_data = 0; /* answered after the handshake: not a replay */
  r->held_body = NULL;
  r->body_fin = r->held_fin;
  route(r);
  if (b) {
    qs_req_body(r, b->p + b->off, qs_buf_pending(b));
    qs_buf_free(b);
    free(b);
  }
  if (r->held_end && !r->held_fin)
    qs_req_end(r);
}

static void route(struct qs_req *r) {
  const struct qs_proxy_route *route;
  const char *path;
  if (r->bad) {
    qs_req_error(r, r->bad);
    return;
  }
  if (r->method < 0 || r->path < 0 || r->scheme < 0) {
    qs_req_error(r, 400);
    return;
  }
  path = qs_req_path(r);
  if (path[0] != '/') {
    qs_req_error(r, 400);
    return;
  }
  route = r->hw->proxy ? qs_proxy_match(r->hw->conf->proxy, path) : NULL;
  if (route)
    qs_proxy_start(r, route);
  else
    qs_static_start(r);
}

void qs_req_body(struct qs_req *r, const uint8_t *data, size_t len) {
  if (r->held) {
    /* kept, credit withheld, until qs_req_release */
    if (!r->held_body)
      r->held_body = calloc(1, sizeof *r->held_body);
    if (!r->held_body || qs_buf_add(r->held_body, data, len) != 0) {
      r->held = 0;
      qs_req_error(r, 500);
    }
    return;
  }
  r->body_rx += len;
  if (r->h && r->h->on_body && !r->was_reset)
    r->h->on_body(r, data, len);
  else
    qs_req_consume(r, len); /* not wanted: give the credit back */
}

void qs_req_end(struct qs_req *r) {
  if (r->held) {
    r->held_end = 1;
    return;
  }
  r->body_fin = 1;
  if (r->h && r->h->on_end && !r->was_reset)
    r->h->on_end(r);
}

int qs_req_pull(struct qs_req *r, struct qs_vec *v, size_t nv, int *eof) {
  int n;
  *eof = 0;
  if (!r->h || !r->h->pull) {
    *eof = 1;
    return 0;
  }
  n = r->h->pull(r, v, nv, eof);
  for (int i = 0; i < n; i++)
    r->body_tx += v[i].len;
  if (r->snd_link.on) {
    if (*eof)
      watch_del(&r->hw->sending, r, SND_LINK); /* the rest is the transport's */
    else if (n > 0)
      r->progress_ns = mono_ns();
  }
  return n;
}

void qs_req_acked(struct qs_req *r, uint64_t n) {
  if (r->snd_link.on && n)
    r->progress_ns = mono_ns();
  if (r->h && r->h->acked)
    r->h->acked(r, n);
}

void qs_req_abort(struct qs_req *r) {
  if (r->was_reset)
    return;
  r->was_reset = 1;
  if (r->h && r->h->abort)
    r->h->abort(r);
}

void qs_req_close(struct qs_req *r) {
  struct qs_http_worker *hw = r->hw;
  watch_del(&hw->hdr_wait, r, HDR_LINK);
  watch_del(&hw->sending, r, SND_LINK);
  if (hw->on_done) {
    size_t rl = 0, ul = 0;
    const char *ref = qs_fields_get(&r->fields, "referer", &rl);
    const char *ua = qs_fields_get(&r->fields, "user-agent", &ul);
    struct qs_req_done ev = {
        .proto = r->proto,
        .client = r->clientlen ? (const struct sockaddr *)&r->client : NULL,
        .method = r->method >= 0 ? qs_req_method(r) : "-",
        .path = r->path >= 0 ? qs_req_path(r) : "-",
        .status = r->responded ? r->status : 0,
        .reset = r->was_reset,
        .body_bytes = r->body_tx,
        .duration_ns = mono_ns() - r->start_ns,
        .upstream = r->upstream[0] ? r->upstream : NULL,
        .worker = hw->index,
        .referer = ref,
        .user_agent = ua,
        .refererlen = ref ? rl : 0,
        .user_agentlen = ua ? ul : 0,
    };
    hw->on_done(hw->done_arg, &ev);
  }
  qs_req_set_handler(r, NULL, NULL);
  if (r->held_body) {
    qs_buf_free(r->held_body);
    free(r->held_body);
  }
  qs_fields_free(&r->fields);
  qs_fields_free(&r->resp);
  qs_mpool_release(r->hw->mem, r);
}

/* ---- the handler's calls ---- */

/* the Date field of every response (RFC 9110 s6.6.1): formatted once a
 * second per thread, not per response */
static void add_date(struct qs_fields *resp) {
  static _Thread_local time_t last = -1;
  static _Thread_local char buf[QS_HTTP_DATE_LEN + 1];
  time_t now = time(NULL);
  if (qs_fields_get(resp, "date", NULL))
    return; /* an upstream's own */
  if (now != last) {
    qs_http_date_fmt(buf, now);
    last = now;
  }
  qs_fields_add(resp, "date", 4, buf, QS_HTTP_DATE_LEN, 0);
}

int qs_req_respond(struct qs_req *r, int status, int has_body) {
  if (r->responded || r->was_reset)
    return 0;
  add_date(&r->resp);
  r->status = status;
  r->has_body = (uint8_t)(has_body && r->mkind != QS_REQ_HEAD);
  r->responded = 1;
  if (!qs_fields_get(&r->resp, "server", NULL))
    qs_fields_add(&r->resp, "server", 6, QS_SERVER_HEADER, sizeof QS_SERVER_HEADER - 1, 0);
  QS_STAT_ADD(r->hw->st, requests, 1);
  if (r->has_body && r->hw->loop && r->hw->conf->send_timeout > 0) {
    r->progress_ns = mono_ns();
    watch_add(&r->hw->sending, r, SND_LINK);
  }
  return r->front->respond(r);
}

void qs_req_resume(struct qs_req *r) {
  if (!r->was_reset)
    r->front->resume(r);
}

void qs_req_consume(struct qs_req *r, size_t n) {
  if (n)
    r->front->consume(r, n);
}

int qs_req_interim(struct qs_req *r, int status) {
  if (r->responded || r->was_reset)
    return 0;
  return r->front->interim(r, status);
}

void qs_req_reset(struct qs_req *r) {
  if (r->was_reset)
    return;
  r->was_reset = 1;
  r->front->reset(r);
}

const char *qs_req_method(const struct qs_req *r) {
  return r->method >= 0 ? r->fields.buf + r->method : NULL;
}
const char *qs_req_path(const struct qs_req *r) {
  return r->path >= 0 ? r->fields.buf + r->path : NULL;
}
const char *qs_req_authority(const struct qs_req *r) {
  return r->authority >= 0 ? r->fields.buf + r->authority : NULL;
}

void qs_req_set_handler(struct qs_req *r, const struct qs_handler_ops *h, void *data) {
  if (r->h && r->h->free)
    r->h->free(r);
  r->h = h;
  r->hdata = data;
}
