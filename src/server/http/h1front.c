/* h1front.c: the HTTP/1.1 front over TLS (tcp.h): http_parser turns the
 * client's octets into qs_req_* calls, one request at a time (a pipelined
 * next request waits, parsed no further, until the current response is
 * complete); responses are framed by their content-length, else chunked.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "stats.h"
#include "tcp.h"

#define QS_H1_BODY_HELD (256 * 1024) /* request body not yet consumed: stop parsing */
#define QS_H1_IN_MAX (64 * 1024)     /* unparsed input kept: stop reading */

struct h1c {
  struct qs_tcp_conn *c;
  http_parser p;
  struct qs_req *r;
  struct qs_buf in;      /* received, not yet parsed */
  struct qs_buf name, value, url;
  uint8_t in_value;      /* the last header callback was a value */
  uint8_t msg_done;      /* the request message is complete */
  uint8_t resp_done;     /* the response is written out */
  uint8_t chunked;       /* the response is chunked */
  uint8_t keep_alive, failed, closing_after;
  size_t held;           /* request body octets the handler has not consumed */
};

/* fields that belong to this connection, never to the request or response
 * (Host becomes the :authority) */
static int hop_by_hop(const char *n, size_t len) {
  return qs_h1_hop_by_hop(n, len, NULL, 0) || (len == 4 && strncasecmp(n, "host", 4) == 0);
}

static int too_big(struct h1c *h, size_t more) {
  size_t max = h->c->t->conf->max_fields;
  return h->name.len + h->value.len + h->url.len + more > max;
}

static void mark_too_big(struct h1c *h) {
  if (h->r && !h->r->bad) {
    h->r->bad = 431;
    QS_STAT_ADD(h->c->t->st, http_header_too_large, 1);
  }
}

/* one complete header field: to the request (names lower-cased; Host is
 * the authority; hop-by-hop fields stay here) */
static void emit_field(struct h1c *h) {
  char *n = (char *)h->name.p;
  size_t nl = h->name.len;
  if (!nl || !h->r)
    goto out;
  for (size_t i = 0; i < nl; i++)
    if (n[i] >= 'A' && n[i] <= 'Z')
      n[i] = (char)(n[i] + 32);
  if (nl == 4 && memcmp(n, "host", 4) == 0 && h->r->authority < 0)
    qs_req_field(h->r, ":authority", 10, (const char *)h->value.p, h->value.len);
  else if (!hop_by_hop(n, nl))
    qs_req_field(h->r, n, nl, h->value.len ? (const char *)h->value.p : "", h->value.len);
out:
  h->name.len = h->value.len = 0;
  h->name.off = h->value.off = 0;
  h->in_value = 0;
}

/* ---- the front's side of the request model (req.h) ---- */

static int front_respond(struct qs_req *r) {
  struct h1c *h = r->front_data;
  struct qs_tcp_conn *c = h->c;
  const char *reason = http_status_str((enum http_status)r->status);
  int close = !h->keep_alive || c->draining;
  qs_tcp_add_alt_svc(c, &r->resp);
  h->chunked = r->has_body && !qs_fields_get(&r->resp, "content-length", NULL);
  if (qs_buf_addf(&c->out, "HTTP/1.1 %d %s\r\n", r->status,
                  strcmp(reason, "<unknown>") ? reason : "") != 0)
    goto fail;
  for (size_t i = 0; i < r->resp.n; i++) {
    const char *n = qs_field_name(&r->resp, i);
    if (hop_by_hop(n, r->resp.f[i].namelen))
      continue;
    if (qs_buf_add(&c->out, n, r->resp.f[i].namelen) != 0 || qs_buf_add(&c->out, ": ", 2) != 0 ||
        qs_buf_add(&c->out, qs_field_value(&r->resp, i), r->resp.f[i].valuelen) != 0 ||
        qs_buf_add(&c->out, "\r\n", 2) != 0)
      goto fail;
  }
  if ((h->chunked && qs_buf_add(&c->out, "transfer-encoding: chunked\r\n", 28) != 0) ||
      (close && qs_buf_add(&c->out, "connection: close\r\n", 19) != 0) ||
      qs_buf_add(&c->out, "\r\n", 2) != 0)
    goto fail;
  if (close)
    h->keep_alive = 0;
  if (!r->has_body)
    h->resp_done = 1;
  qs_tcp_mark(c);
  return 0;
fail:
  h->failed = 1;
  qs_tcp_mark(c);
  return -1;
}

static int front_interim(struct qs_req *r, int status) {
  struct h1c *h = r->front_data;
  qs_tcp_mark(h->c);
  return qs_buf_addf(&h->c->out, "HTTP/1.1 %d %s\r\n\r\n", status,
                     http_status_str((enum http_status)status));
}

static void front_resume(struct qs_req *r) {
  struct h1c *h = r->front_data;
  qs_tcp_mark(h->c);
}

static void front_consume(struct qs_req *r, size_t n) {
  struct h1c *h = r->front_data;
  h->held = n < h->held ? h->held - n : 0;
  qs_tcp_mark(h->c);
}

static void front_reset(struct qs_req *r) {
  struct h1c *h = r->front_data;
  /* HTTP/1.1 has no stream to reset: the connection goes */
  h->failed = 1;
  qs_tcp_mark(h->c);
}

static const struct qs_front_ops front_ops = {
    .respond = front_respond,
    .interim = front_interim,
    .resume = front_resume,
    .consume = front_consume,
    .reset = front_reset,
};

/* ---- http_parser callbacks ---- */

static int on_message_begin(http_parser *p) {
  struct h1c *h = p->data;
  struct qs_tcp_conn *c = h->c;
  h->r = qs_req_new(c->t->hw, &front_ops, h, (const struct sockaddr *)&c->peer, c->peerlen,
                    "HTTP/1.1");
  if (!h->r)
    return -1;
  h->msg_done = h->resp_done = h->chunked = 0;
  h->url.len = h->url.off = 0;
  h->name.len = h->value.len = 0;
  h->in_value = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct h1c *h = p->data;
  if (too_big(h, len)) {
    mark_too_big(h);
    return 0;
  }
  return qs_buf_add(&h->url, at, len) != 0 ? -1 : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct h1c *h = p->data;
  if (h->in_value)
    emit_field(h);
  if (too_big(h, len)) {
    mark_too_big(h);
    return 0;
  }
  return qs_buf_add(&h->name, at, len) != 0 ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct h1c *h = p->data;
  h->in_value = 1;
  if (too_big(h, len)) {
    mark_too_big(h);
    return 0;
  }
  return qs_buf_add(&h->value, at, len) != 0 ? -1 : 0;
}

static int on_headers_complete(http_parser *p) {
  struct h1c *h = p->data;
  struct qs_req *r = h->r;
  const char *m = http_method_str((enum http_method)p->method);
  int fin;
  if (h->in_value || h->name.len)
    emit_field(h);
  qs_req_field(r, ":method", 7, m, strlen(m));
  qs_req_field(r, ":scheme", 7, "https", 5);
  if (h->url.len)
    qs_req_field(r, ":path", 5, (const char *)h->url.p, h->url.len);
  h->keep_alive = (uint8_t)http_should_keep_alive(p);
  fin = !(p->flags & F_CHUNKED) && (p->content_length == 0 || p->content_length == ULLONG_MAX);
  qs_req_headers_done(r, fin);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct h1c *h = p->data;
  h->held += len;
  qs_req_body(h->r, (const uint8_t *)at, len);
  if (h->held > QS_H1_BODY_HELD)
    http_parser_pause(p, 1);
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct h1c *h = p->data;
  h->msg_done = 1;
  if (!h->r->body_fin)
    qs_req_end(h->r);
  /* the next pipelined request waits for this response */
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- the connection ---- */

/* parse what waits while nothing holds it back; -1: close the connection */
static int parse_some(struct h1c *h);

static int parse(struct h1c *h) {
  int rv = parse_some(h);
  /* bounded input: the socket is read again once the parser took it */
  qs_tcp_pause_rx(h->c, qs_buf_pending(&h->in) >= QS_H1_IN_MAX);
  return rv;
}

static int parse_some(struct h1c *h) {
  while (qs_buf_pending(&h->in) && !h->failed && !h->msg_done && h->held <= QS_H1_BODY_HELD &&
         !h->closing_after) {
    size_t len = qs_buf_pending(&h->in), n;
    enum http_errno e;
    http_parser_pause(&h->p, 0);
    n = http_parser_execute(&h->p, &settings, (const char *)h->in.p + h->in.off, len);
    qs_buf_drop(&h->in, n);
    e = HTTP_PARSER_ERRNO(&h->p);
    if (e == HPE_PAUSED)
      continue;
    if (e != HPE_OK) {
      /* malformed: a 400 if nothing was answered yet, then close */
      h->closing_after = 1;
      h->keep_alive = 0;
      if (h->r && !h->r->headers_done) {
        if (!h->r->bad)
          h->r->bad = 400;
        qs_req_headers_done(h->r, 1);
        h->msg_done = 1;
      } else {
        return -1; /* inside a body: nothing can be answered */
      }
      break;
    }
  }
  return 0;
}

static int h1_start(struct qs_tcp_conn *c) {
  struct h1c *h = calloc(1, sizeof *h);
  if (!h)
    return -1;
  h->c = c;
  http_parser_init(&h->p, HTTP_REQUEST);
  h->p.data = h;
  c->pdata = h;
  return 0;
}

static int h1_recv(struct qs_tcp_conn *c, const uint8_t *data, size_t len) {
  struct h1c *h = c->pdata;
  if (h->closing_after)
    return 0; /* after a malformed request: ignored until the close */
  if (qs_buf_add(&h->in, data, len) != 0)
    return -1;
  if (parse(h) != 0)
    return -1;
  qs_tcp_mark(c);
  return 0;
}

static int h1_send(struct qs_tcp_conn *c) {
  struct h1c *h = c->pdata;
  struct qs_req *r = h->r;
  if (h->failed)
    return -1;
  if (r && !h->msg_done && h->held <= QS_H1_BODY_HELD && parse(h) != 0)
    return -1; /* the handler consumed body octets: read on */
  while (r && r->responded && !h->resp_done && qs_buf_pending(&c->out) < QS_TCP_OUT_HIGH) {
    struct qs_vec v[8];
    uint64_t total = 0;
    int eof = 0, n = qs_req_pull(r, v, 8, &eof);
    if (n < 0)
      return -1; /* the body cannot be produced: the client sees a cut */
    for (int i = 0; i < n; i++)
      total += v[i].len;
    if (total && h->chunked && qs_buf_addf(&c->out, "%llx\r\n", (unsigned long long)total) != 0)
      return -1;
    for (int i = 0; i < n; i++)
      if (qs_buf_add(&c->out, v[i].base, v[i].len) != 0)
        return -1;
    if (total && h->chunked && qs_buf_add(&c->out, "\r\n", 2) != 0)
      return -1;
    if (total)
      qs_req_acked(r, total); /* copied: the handler may reuse the space */
    if (eof) {
      if (h->chunked && qs_buf_add(&c->out, "0\r\n\r\n", 5) != 0)
        return -1;
      h->resp_done = 1;
    } else if (n == 0) {
      break; /* qs_req_resume follows */
    }
  }
  if (r && h->resp_done && h->msg_done) {
    h->r = NULL;
    qs_req_close(r);
    if (!h->keep_alive || h->closing_after) {
      c->want_close = 1;
      return 0;
    }
    h->msg_done = 0;
    if (parse(h) != 0)
      return -1;
    if (h->r && h->r->responded)
      return h1_send(c); /* the next request was answered at once */
  }
  if (h->failed)
    return -1;
  return 0;
}

static int h1_idle(struct qs_tcp_conn *c) {
  struct h1c *h = c->pdata;
  return !h->r && !qs_buf_pending(&h->in);
}

static void h1_drain(struct qs_tcp_conn *c) {
  struct h1c *h = c->pdata;
  /* the response in flight says connection: close if not yet sent */
  if (!h->r)
    c->want_close = 1;
}

static void h1_free(struct qs_tcp_conn *c) {
  struct h1c *h = c->pdata;
  if (!h)
    return;
  if (h->r) {
    if (!h->resp_done || !h->msg_done)
      qs_req_abort(h->r);
    qs_req_close(h->r);
  }
  qs_buf_free(&h->in);
  qs_buf_free(&h->name);
  qs_buf_free(&h->value);
  qs_buf_free(&h->url);
  free(h);
  c->pdata = NULL;
}

const struct qs_tcp_proto qs_h1front_proto = {
    .name = "http/1.1",
    .start = h1_start,
    .recv = h1_recv,
    .send = h1_send,
    .idle = h1_idle,
    .drain = h1_drain,
    .free = h1_free,
};
