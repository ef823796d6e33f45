/* proxy.c: see proxy.h. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <http_parser.h>

#include "h1.h"
#include "stats.h"

#define QS_PROXY_READ 16384 /* upstream octets read at once */

/* ---- the route table ---- */

void qs_proxy_table_init(struct qs_proxy_table *t, double connect_timeout,
                         double first_byte_timeout, double idle_timeout, unsigned pool_idle,
                         unsigned pool_max) {
  memset(t, 0, sizeof *t);
  t->connect_timeout = connect_timeout;
  t->first_byte_timeout = first_byte_timeout;
  t->idle_timeout = idle_timeout;
  t->pool_idle = pool_idle;
  t->pool_max = pool_max;
}

static int parse_url(struct qs_upstream *u, const char *url, size_t len, char *err,
                     size_t errlen) {
  char host[256], port[8];
  const char *h, *e, *colon;
  struct addrinfo hints, *res = NULL;
  int rv;

  memset(u, 0, sizeof *u);
  if (len >= sizeof u->text) {
    snprintf(err, errlen, "URL too long");
    return -1;
  }
  if (len > 5 && memcmp(url, "unix:", 5) == 0) {
    struct sockaddr_un *sun = (struct sockaddr_un *)&u->addr;
    if (url[5] != '/' || len - 5 >= sizeof sun->sun_path) {
      snprintf(err, errlen, "want unix:/PATH (absolute, at most %zu octets)",
               sizeof sun->sun_path - 1);
      return -1;
    }
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, url + 5, len - 5);
    u->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len - 5 + 1);
    memcpy(u->text, url, len);
    return 0;
  }
  if (len < 8 || memcmp(url, "http://", 7) != 0) {
    snprintf(err, errlen, "want http://HOST:PORT or unix:/PATH");
    return -1;
  }
  h = url + 7;
  e = url + len;
  if (e > h && e[-1] == '/')
    e--; /* a trailing slash only: no path, the request's is used unchanged */
  if (memchr(h, '/', (size_t)(e - h))) {
    snprintf(err, errlen, "an upstream URL has no path (the request's path is passed on)");
    return -1;
  }
  if (*h == '[') {
    const char *close = memchr(h, ']', (size_t)(e - h));
    if (!close || close + 1 >= e || close[1] != ':') {
      snprintf(err, errlen, "want http://[IPV6]:PORT");
      return -1;
    }
    colon = close + 1;
    if ((size_t)(close - h - 1) >= sizeof host)
      return -1;
    memcpy(host, h + 1, (size_t)(close - h - 1));
    host[close - h - 1] = '\0';
  } else {
    colon = NULL;
    for (const char *p = h; p < e; p++)
      if (*p == ':')
        colon = p;
    if (!colon || colon == h || (size_t)(colon - h) >= sizeof host) {
      snprintf(err, errlen, "want http://HOST:PORT");
      return -1;
    }
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
  }
  if (e - colon - 1 < 1 || e - colon - 1 > 5) {
    snprintf(err, errlen, "bad port");
    return -1;
  }
  memcpy(port, colon + 1, (size_t)(e - colon - 1));
  port[e - colon - 1] = '\0';
  for (char *p = port; *p; p++)
    if (*p < '0' || *p > '9') {
      snprintf(err, errlen, "bad port '%s'", port);
      return -1;
    }
  if (atoi(port) < 1 || atoi(port) > 65535) {
    snprintf(err, errlen, "bad port '%s'", port);
    return -1;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  rv = getaddrinfo(host, port, &hints, &res);
  if (rv == EAI_NONAME || rv == EAI_FAMILY || rv == EAI_ADDRFAMILY) {
    /* loopback-only hosts have no "configured" address families */
    hints.ai_flags = AI_NUMERICSERV;
    rv = getaddrinfo(host, port, &hints, &res);
  }
  if (rv != 0 || !res) {
    snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rv));
    return -1;
  }
  memcpy(&u->addr, res->ai_addr, res->ai_addrlen);
  u->addrlen = res->ai_addrlen;
  freeaddrinfo(res);
  {
    char a[INET6_ADDRSTRLEN];
    const struct sockaddr *sa = (const struct sockaddr *)&u->addr;
    if (sa->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof a);
      snprintf(u->text, sizeof u->text, "[%s]:%s", a, port);
    } else {
      inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof a);
      snprintf(u->text, sizeof u->text, "%s:%s", a, port);
    }
  }
  return 0;
}

int qs_proxy_table_add(struct qs_proxy_table *t, const char *spec, char *err, size_t errlen) {
  const char *eq = strchr(spec, '='), *p;
  struct qs_proxy_route *route = NULL;
  size_t pl;

  if (!eq || spec[0] != '/') {
    snprintf(err, errlen, "want /PREFIX=URL[,URL...]");
    return -1;
  }
  pl = (size_t)(eq - spec);
  if (pl >= QS_PROXY_PREFIX_MAX) {
    snprintf(err, errlen, "prefix longer than %d octets", QS_PROXY_PREFIX_MAX - 1);
    return -1;
  }
  for (size_t i = 0; i < t->nroutes; i++)
    if (t->routes[i].prefixlen == pl && memcmp(t->routes[i].prefix, spec, pl) == 0)
      route = &t->routes[i];
  if (!route) {
    if (t->nroutes == QS_PROXY_MAX_ROUTES) {
      snprintf(err, errlen, "at most %d prefixes", QS_PROXY_MAX_ROUTES);
      return -1;
    }
    route = &t->routes[t->nroutes];
    memset(route, 0, sizeof *route);
    memcpy(route->prefix, spec, pl);
    route->prefixlen = pl;
  }
  for (p = eq + 1;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    struct qs_upstream u;
    size_t k;
    if (len == 0) {
      snprintf(err, errlen, "empty URL");
      return -1;
    }
    if (parse_url(&u, p, len, err, errlen) != 0)
      return -1;
    /* one pool per address, whichever routes share it */
    for (k = 0; k < t->nups; k++)
      if (t->ups[k].addrlen == u.addrlen && memcmp(&t->ups[k].addr, &u.addr, u.addrlen) == 0)
        break;
    if (k == t->nups) {
      if (t->nups == QS_PROXY_MAX_UPSTREAMS) {
        snprintf(err, errlen, "at most %d upstreams", QS_PROXY_MAX_UPSTREAMS);
        return -1;
      }
      t->ups[t->nups++] = u;
    }
    if (route->nup == QS_PROXY_PER_ROUTE) {
      snprintf(err, errlen, "at most %d URLs a prefix", QS_PROXY_PER_ROUTE);
      return -1;
    }
    route->up[route->nup++] = (unsigned)k;
    if (!comma)
      break;
    p = comma + 1;
  }
  if (route == &t->routes[t->nroutes])
    t->nroutes++;
  return 0;
}

const struct qs_proxy_route *qs_proxy_match(const struct qs_proxy_table *t, const char *path) {
  const struct qs_proxy_route *best = NULL;
  for (size_t i = 0; t && i < t->nroutes; i++) {
    const struct qs_proxy_route *rt = &t->routes[i];
    if (strncmp(path, rt->prefix, rt->prefixlen) == 0 && (!best || rt->prefixlen > best->prefixlen))
      best = rt;
  }
  return best;
}

/* ---- per-worker state ---- */

struct upw;
struct pxreq;

/* one connection to an upstream: idle in its pool, or serving one request */
struct upconn {
  struct upw *u;
  int fd;
  ev_io rio, wio;
  struct pxreq *px; /* NULL: idle */
  struct upconn *prev, *next; /* the pool's idle list */
  int in_idle;
  unsigned served;            /* requests completed on it */
};

/* one upstream as seen by one worker */
struct upw {
  const struct qs_upstream *cfg;
  struct qs_proxy_worker *pw;
  struct upconn *idle;
  unsigned nidle, ntotal;
  struct pxreq *wait_head, *wait_tail; /* requests waiting for a connection */
  ev_tstamp down_until;
};

struct qs_proxy_worker {
  struct qs_http_worker *hw;
  const struct qs_proxy_table *t;
  unsigned rr[QS_PROXY_MAX_ROUTES];
  struct upw ups[QS_PROXY_MAX_UPSTREAMS];
};

enum { T_NONE = 0, T_WAIT, T_CONNECT, T_FIRST_BYTE, T_IDLE };

struct pxreq {
  struct qs_req *r;
  struct qs_proxy_worker *pw;
  const struct qs_proxy_route *route;
  struct upw *u;
  struct upconn *uc;
  unsigned tries;
  int connecting, waiting;
  struct pxreq *next_wait;
  ev_timer timer;
  int tkind;

  /* toward the upstream */
  struct qs_buf out;
  size_t uncredited; /* client body octets in |out|, credit not given back yet */
  int chunked;
  int req_queued; /* the whole request is in |out| */
  int req_sent;   /* ... and written */

  /* from the upstream */
  http_parser parser;
  int got_byte, headers_done, complete, keepalive, extra;
  int is_head;
  struct qs_fields uh; /* response fields as received */
  struct qs_buf hname, hval;
  int hstate; /* 0: none, 1: in a name, 2: in a value */
  struct qs_ring ring;
  int rpaused;
};

static const struct qs_handler_ops proxy_ops;
static void conn_close(struct upconn *uc);
static void px_send(struct pxreq *px);
static void px_attach(struct pxreq *px, struct upconn *uc);
static void px_acquire(struct pxreq *px);

int qs_proxy_worker_new(struct qs_http_worker *hw, const struct qs_proxy_table *t,
                        struct qs_proxy_worker **out) {
  struct qs_proxy_worker *pw = calloc(1, sizeof *pw);
  if (!pw)
    return -ENOMEM;
  pw->hw = hw;
  pw->t = t;
  for (size_t i = 0; i < t->nups; i++) {
    pw->ups[i].cfg = &t->ups[i];
    pw->ups[i].pw = pw;
  }
  *out = pw;
  return 0;
}

void qs_proxy_worker_del(struct qs_proxy_worker *pw) {
  if (!pw)
    return;
  /* requests are gone by now (their connections with them): idle ones stay */
  for (size_t i = 0; i < pw->t->nups; i++)
    while (pw->ups[i].idle)
      conn_close(pw->ups[i].idle);
  free(pw);
}

static struct ev_loop *loop_of(const struct upw *u) { return u->pw->hw->loop; }

static void set_timer(struct pxreq *px, int kind, double s) {
  struct ev_loop *loop = px->pw->hw->loop;
  ev_timer_stop(loop, &px->timer);
  px->tkind = kind;
  if (kind == T_NONE)
    return;
  ev_timer_set(&px->timer, s, 0.);
  ev_timer_start(loop, &px->timer);
}

/* ---- connections ---- */

static void idle_unlink(struct upconn *uc) {
  struct upw *u = uc->u;
  if (!uc->in_idle)
    return;
  uc->in_idle = 0;
  if (uc->prev)
    uc->prev->next = uc->next;
  else if (u->idle == uc)
    u->idle = uc->next;
  if (uc->next)
    uc->next->prev = uc->prev;
  uc->prev = uc->next = NULL;
  u->nidle--;
}

/* The first request waiting for a connection of |u|, off the queue; NULL
 * if none waits. */
static struct pxreq *wait_pop(struct upw *u) {
  struct pxreq *px = u->wait_head;
  if (!px)
    return NULL;
  u->wait_head = px->next_wait;
  if (!u->wait_head)
    u->wait_tail = NULL;
  px->waiting = 0;
  return px;
}

static void conn_close(struct upconn *uc) {
  struct upw *u = uc->u;
  struct ev_loop *loop = loop_of(u);
  struct pxreq *px;
  ev_io_stop(loop, &uc->rio);
  ev_io_stop(loop, &uc->wio);
  idle_unlink(uc);
  close(uc->fd);
  u->ntotal--;
  free(uc);
  /* room for a request waiting for a connection */
  if ((px = wait_pop(u)) != NULL)
    px_acquire(px);
}

static void conn_release(struct upconn *uc) {
  struct upw *u = uc->u;
  struct pxreq *px;
  uc->px = NULL;
  uc->served++;
  ev_io_stop(loop_of(u), &uc->wio);
  if ((px = wait_pop(u)) != NULL) {
    QS_STAT_ADD(px->pw->hw->st, proxy_conns_reused, 1);
    px_attach(px, uc);
    return;
  }
  if (u->nidle >= u->pw->t->pool_idle) {
    conn_close(uc);
    return;
  }
  uc->in_idle = 1;
  uc->next = u->idle;
  uc->prev = NULL;
  if (u->idle)
    u->idle->prev = uc;
  u->idle = uc;
  u->nidle++;
  /* watched while idle: the upstream closing it is noticed */
  ev_io_start(loop_of(u), &uc->rio);
}

static void px_fail(struct pxreq *px, int status);
static void px_read(struct pxreq *px);

static void uc_read_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct upconn *uc = io->data;
  struct qs_http_worker *hw = uc->u->pw->hw;
  (void)loop;
  (void)revents;
  if (!uc->px) {
    /* idle: the upstream closed it (or sent what nobody asked for) */
    conn_close(uc);
    return;
  }
  px_read(uc->px);
  qs_http_flush(hw);
}

static void mark_down(struct pxreq *px) {
  struct upw *u = px->u;
  struct ev_loop *loop = loop_of(u);
  if (u->down_until < ev_now(loop))
    QS_STAT_ADD(px->pw->hw->st, proxy_marked_down, 1);
  u->down_until = ev_now(loop) + QS_PROXY_DOWN_S;
}

/* a connect failed: try another upstream of the route, or answer 502 */
static void px_connect_failed(struct pxreq *px, int timeout) {
  struct upconn *uc = px->uc;
  mark_down(px);
  QS_STAT_ADD(px->pw->hw->st, proxy_refused, timeout ? 0 : 1);
  QS_STAT_ADD(px->pw->hw->st, proxy_connect_timeout, timeout ? 1 : 0);
  px->uc = NULL;
  px->connecting = 0;
  set_timer(px, T_NONE, 0);
  conn_close(uc);
  if (px->tries < px->route->nup) {
    px->r->upstream[0] = '\0';
    px_acquire(px);
    return;
  }
  px_fail(px, timeout ? 504 : 502);
}

static void uc_write_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct upconn *uc = io->data;
  struct pxreq *px = uc->px;
  struct qs_http_worker *hw = uc->u->pw->hw;
  (void)revents;
  if (!px) {
    ev_io_stop(loop, io);
    return;
  }
  if (px->connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(uc->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err) {
      px_connect_failed(px, 0);
      qs_http_flush(hw);
      return;
    }
    px->connecting = 0;
    set_timer(px, T_IDLE, px->pw->t->idle_timeout);
    ev_io_start(loop, &uc->rio);
  }
  px_send(px);
  qs_http_flush(hw);
}

static struct upconn *conn_new(struct upw *u) {
  struct upconn *uc = calloc(1, sizeof *uc);
  int fam = ((const struct sockaddr *)&u->cfg->addr)->sa_family, one = 1;
  if (!uc)
    return NULL;
  uc->u = u;
  uc->fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (uc->fd < 0) {
    free(uc);
    return NULL;
  }
  if (fam != AF_UNIX)
    setsockopt(uc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ev_io_init(&uc->rio, uc_read_cb, uc->fd, EV_READ);
  uc->rio.data = uc;
  ev_io_init(&uc->wio, uc_write_cb, uc->fd, EV_WRITE);
  uc->wio.data = uc;
  u->ntotal++;
  return uc;
}

/* ---- choosing an upstream and a connection ---- */

static struct upw *pick(struct pxreq *px) {
  struct qs_proxy_worker *pw = px->pw;
  const struct qs_proxy_route *rt = px->route;
  size_t ri = (size_t)(rt - pw->t->routes);
  ev_tstamp now = ev_now(pw->hw->loop);
  unsigned start = pw->rr[ri];
  for (unsigned i = 0; i < rt->nup; i++) {
    unsigned k = (start + i) % (unsigned)rt->nup;
    if (pw->ups[rt->up[k]].down_until <= now) {
      pw->rr[ri] = k + 1;
      return &pw->ups[rt->up[k]];
    }
  }
  /* all down: try the next anyway, so that a recovered one is noticed */
  pw->rr[ri] = start + 1;
  return &pw->ups[rt->up[start % rt->nup]];
}

static void px_attach(struct pxreq *px, struct upconn *uc) {
  struct ev_loop *loop = px->pw->hw->loop;
  px->uc = uc;
  uc->px = px;
  ev_io_start(loop, &uc->rio);
  set_timer(px, T_IDLE, px->pw->t->idle_timeout);
  px_send(px);
}

static void px_acquire(struct pxreq *px) {
  const struct qs_proxy_table *t = px->pw->t;
  struct upw *u = pick(px);
  struct upconn *uc;
  struct qs_http_worker *hw = px->pw->hw;

  px->u = u;
  px->tries++;
  snprintf(px->r->upstream, sizeof px->r->upstream, "%s", u->cfg->text);
  if (u->idle) {
    uc = u->idle;
    idle_unlink(uc);
    ev_io_stop(hw->loop, &uc->rio);
    QS_STAT_ADD(hw->st, proxy_conns_reused, 1);
    px_attach(px, uc);
    return;
  }
  if (u->ntotal >= t->pool_max) {
    /* wait for a connection of the pool */
    px->waiting = 1;
    px->next_wait = NULL;
    if (u->wait_tail)
      u->wait_tail->next_wait = px;
    else
      u->wait_head = px;
    u->wait_tail = px;
    set_timer(px, T_WAIT, t->connect_timeout);
    return;
  }
  uc = conn_new(u);
  if (!uc) {
    px_fail(px, 502);
    return;
  }
  QS_STAT_ADD(hw->st, proxy_conns_new, 1);
  uc->px = px;
  px->uc = uc;
  if (connect(uc->fd, (const struct sockaddr *)&u->cfg->addr, u->cfg->addrlen) == 0) {
    ev_io_start(hw->loop, &uc->rio);
    set_timer(px, T_IDLE, t->idle_timeout);
    px_send(px);
    return;
  }
  if (errno != EINPROGRESS) {
    px_connect_failed(px, 0);
    return;
  }
  px->connecting = 1;
  ev_io_start(hw->loop, &uc->wio);
  set_timer(px, T_CONNECT, t->connect_timeout);
}

static void wait_unlink(struct pxreq *px) {
  struct upw *u = px->u;
  struct pxreq **p, *prev = NULL;
  for (p = &u->wait_head; *p; prev = *p, p = &(*p)->next_wait) {
    if (*p == px) {
      *p = px->next_wait;
      if (u->wait_tail == px)
        u->wait_tail = prev;
      break;
    }
  }
  px->waiting = 0;
}

/* ---- the request's end of things ---- */

/* px_detach lets go of the connection: back to the pool if the exchange
 * completed cleanly, else closed */
static void px_detach(struct pxreq *px, int reusable) {
  struct upconn *uc = px->uc;
  set_timer(px, T_NONE, 0);
  if (px->waiting)
    wait_unlink(px);
  if (!uc)
    return;
  px->uc = NULL;
  ev_io_stop(px->pw->hw->loop, &uc->rio);
  ev_io_stop(px->pw->hw->loop, &uc->wio);
  if (reusable)
    conn_release(uc);
  else
    conn_close(uc);
}

/* px_fail answers |status| before the response started, or resets the
 * stream after; |px| is gone afterwards */
static void px_fail(struct pxreq *px, int status) {
  struct qs_req *r = px->r;
  px_detach(px, 0);
  if (r->responded)
    qs_req_reset(r);
  else
    qs_req_error(r, status); /* frees px */
}

static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  struct pxreq *px = t->data;
  struct qs_http_worker *hw = px->pw->hw;
  (void)loop;
  (void)revents;
  switch (px->tkind) {
  case T_CONNECT:
    px_connect_failed(px, 1);
    break;
  case T_WAIT:
    QS_STAT_ADD(hw->st, proxy_connect_timeout, 1);
    px_fail(px, 504);
    break;
  case T_FIRST_BYTE:
    QS_STAT_ADD(hw->st, proxy_first_byte_timeout, 1);
    px_fail(px, 504);
    break;
  default:
    QS_STAT_ADD(hw->st, proxy_idle_timeout, 1);
    px_fail(px, 504);
    break;
  }
  qs_http_flush(hw);
}

/* ---- sending ---- */

static void px_send(struct pxreq *px) {
  struct upconn *uc = px->uc;
  struct ev_loop *loop = px->pw->hw->loop;
  if (!uc || px->connecting)
    return;
  while (qs_buf_pending(&px->out)) {
    ssize_t n = send(uc->fd, px->out.p + px->out.off, qs_buf_pending(&px->out), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ev_io_start(loop, &uc->wio);
      return;
    }
    if (n < 0) {
      /* the upstream went away; what it said before is read first */
      qs_buf_drop(&px->out, qs_buf_pending(&px->out));
      ev_io_stop(loop, &uc->wio);
      px_read(px);
      return;
    }
    qs_buf_drop(&px->out, (size_t)n);
    if (!px->got_byte && px->tkind == T_IDLE)
      set_timer(px, T_IDLE, px->pw->t->idle_timeout);
  }
  ev_io_stop(loop, &uc->wio);
  /* everything reached the socket: the client may send more */
  if (px->uncredited) {
    size_t n = px->uncredited;
    px->uncredited = 0;
    qs_req_consume(px->r, n);
  }
  if (px->req_queued && !px->req_sent) {
    px->req_sent = 1;
    if (!px->got_byte)
      set_timer(px, T_FIRST_BYTE, px->pw->t->first_byte_timeout);
  } else if (!px->req_sent && !px->got_byte) {
    /* waiting for the client's body, not for the upstream */
    set_timer(px, T_NONE, 0);
  }
}

static void px_on_body(struct qs_req *r, const uint8_t *data, size_t len) {
  struct pxreq *px = r->hdata;
  int rv = 0;
  if (px->complete || px->req_queued) {
    qs_req_consume(r, len); /* answered already: the rest is not wanted */
    return;
  }
  if (px->chunked) {
    rv |= qs_buf_addf(&px->out, "%zx\r\n", len);
    rv |= qs_buf_add(&px->out, data, len);
    rv |= qs_buf_add(&px->out, "\r\n", 2);
  } else {
    rv |= qs_buf_add(&px->out, data, len);
  }
  if (rv) {
    px_fail(px, 500);
    return;
  }
  px->uncredited += len;
  px_send(px);
}

static void px_on_end(struct qs_req *r) {
  struct pxreq *px = r->hdata;
  if (px->req_queued)
    return;
  if (px->chunked && qs_buf_add(&px->out, "0\r\n\r\n", 5) != 0) {
    px_fail(px, 500);
    return;
  }
  px->req_queued = 1;
  px_send(px);
}

/* ---- receiving: http-parser callbacks ---- */

static int push_field(struct pxreq *px) {
  int rv;
  if (px->hstate == 0)
    return 0;
  /* an empty name or value never allocated its buffer */
  rv = qs_fields_add(&px->uh, px->hname.p ? (const char *)px->hname.p : "", px->hname.len,
                     px->hval.p ? (const char *)px->hval.p : "", px->hval.len, 1);
  px->hname.len = px->hval.len = 0;
  px->hstate = 0;
  return rv;
}

static int on_field(http_parser *p, const char *at, size_t len) {
  struct pxreq *px = p->data;
  if (px->hstate == 2 && push_field(px) != 0)
    return -1;
  px->hstate = 1;
  if (px->hname.len + len > QS_RESP_FIELDS_MAX)
    return -1;
  return qs_buf_add(&px->hname, at, len) ? -1 : 0;
}

static int on_value(http_parser *p, const char *at, size_t len) {
  struct pxreq *px = p->data;
  px->hstate = 2;
  if (px->hval.len + len > QS_RESP_FIELDS_MAX)
    return -1;
  return qs_buf_add(&px->hval, at, len) ? -1 : 0;
}

static int on_headers_complete(http_parser *p) {
  struct pxreq *px = p->data;
  struct qs_req *r = px->r;
  const char *conn;
  size_t connlen = 0;
  int status = p->status_code;

  if (push_field(px) != 0)
    return -1;
  if (status >= 100 && status < 200) {
    if (status == 101)
      return -1; /* no protocol upgrades through the proxy */
    if (status == 100)
      qs_req_interim(r, 100);
    qs_fields_clear(&px->uh);
    return 0;
  }
  if (status < 200 || status > 999)
    return -1;
  px->headers_done = 1;
  conn = qs_fields_get(&px->uh, "connection", &connlen);
  qs_fields_clear(&r->resp);
  for (size_t i = 0; i < px->uh.n; i++) {
    const char *n = qs_field_name(&px->uh, i);
    size_t nl = px->uh.f[i].namelen;
    if (qs_h1_hop_by_hop(n, nl, conn, connlen))
      continue;
    if (qs_fields_add(&r->resp, n, nl, qs_field_value(&px->uh, i), px->uh.f[i].valuelen, 0) != 0)
      return -1;
  }
  /* the ring: the whole body if it is known to be small */
  {
    size_t cap = QS_PROXY_RING;
    if (px->is_head || status == 204 || status == 304)
      cap = 1;
    else if (!(p->flags & F_CHUNKED) && qs_fields_get(&px->uh, "content-length", NULL) &&
             p->content_length < QS_PROXY_RING)
      cap = p->content_length ? (size_t)p->content_length : 1;
    if (qs_ring_init(&px->ring, cap) != 0)
      return -1;
  }
  set_timer(px, T_IDLE, px->pw->t->idle_timeout);
  qs_req_respond(r, status, !(px->is_head || status == 204 || status == 304));
  return px->is_head ? 1 : 0; /* HEAD: no body follows, whatever the fields say */
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct pxreq *px = p->data;
  /* reads are sized by the ring's room: this fits */
  if (qs_ring_put(&px->ring, (const uint8_t *)at, len) != len)
    return -1;
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct pxreq *px = p->data;
  if (!px->headers_done)
    return 0; /* an interim response ended: the final one follows */
  px->complete = 1;
  px->keepalive = http_should_keep_alive(p);
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* the response is complete: let the client have the rest, and the
 * connection go back to the pool when the request is all sent */
static void px_complete(struct pxreq *px) {
  int reusable = px->keepalive && !px->extra && px->req_sent && px->r->body_fin;
  px_detach(px, reusable);
  qs_req_resume(px->r);
}

static void px_read(struct pxreq *px) {
  struct qs_http_worker *hw = px->pw->hw;
  struct upconn *uc = px->uc;
  uint8_t buf[QS_PROXY_READ];
  size_t want = sizeof buf, room;
  ssize_t n;
  size_t done;

  if (!uc || px->complete)
    return;
  room = qs_ring_room(&px->ring);
  if (px->headers_done && room < want)
    want = room;
  if (want == 0) {
    /* the client is slower: read again when it released ring space */
    px->rpaused = 1;
    ev_io_stop(hw->loop, &uc->rio);
    set_timer(px, T_NONE, 0);
    return;
  }
  do
    n = recv(uc->fd, buf, want, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) {
    /* end of the connection: complete for a close-delimited body */
    if (n == 0 && px->got_byte) {
      http_parser_execute(&px->parser, &parser_settings, NULL, 0);
      if (px->complete) {
        px->keepalive = 0;
        px_complete(px);
        return;
      }
    }
    if (!px->got_byte && uc->served > 0 && px->tries <= px->route->nup && px->r->body_rx == 0 &&
        !px->uncredited) {
      /* a kept-alive connection the upstream closed as we reused it:
       * nothing of the request is lost, send it again on a new one */
      px_detach(px, 0);
      qs_buf_drop(&px->out, qs_buf_pending(&px->out));
      px->req_sent = 0;
      px->req_queued = 0;
      if (qs_h1_request_head(&px->out, px->r,
                             px->chunked ? QS_H1_CHUNKED
                                         : px->r->content_length >= 0 ? QS_H1_LENGTH
                                                                      : QS_H1_NOBODY) != 0) {
        px_fail(px, 500);
        return;
      }
      if (px->r->body_fin)
        px_on_end(px->r);
      px->tries--; /* the same upstream again, not a failure of it */
      px_acquire(px);
      return;
    }
    if (px->headers_done) {
      QS_STAT_ADD(hw->st, proxy_upstream_died, 1);
    } else {
      QS_STAT_ADD(hw->st, proxy_bad_response, 1);
    }
    px_fail(px, 502);
    return;
  }
  px->got_byte = 1;
  done = http_parser_execute(&px->parser, &parser_settings, (const char *)buf, (size_t)n);
  if (HTTP_PARSER_ERRNO(&px->parser) == HPE_PAUSED) {
    if (done < (size_t)n)
      px->extra = 1; /* more than one response: the connection is not reused */
  } else if (HTTP_PARSER_ERRNO(&px->parser) != HPE_OK || done != (size_t)n) {
    QS_STAT_ADD(hw->st, proxy_bad_response, 1);
    px_fail(px, 502);
    return;
  }
  if (px->tkind == T_FIRST_BYTE || px->tkind == T_IDLE)
    set_timer(px, T_IDLE, px->pw->t->idle_timeout);
  if (px->complete) {
    px_complete(px);
    return;
  }
  if (px->headers_done)
    qs_req_resume(px->r);
}

/* ---- the handler ---- */

static int px_pull(struct qs_req *r, struct qs_vec *v, size_t nv, int *eof) {
  struct pxreq *px = r->hdata;
  int n = qs_ring_pull(&px->ring, v, nv);
  if (px->complete && px->ring.pulled == px->ring.filled)
    *eof = 1;
  return n;
}

static void px_acked(struct qs_req *r, uint64_t n) {
  struct pxreq *px = r->hdata;
  px->ring.acked += n;
  if (px->rpaused && px->uc && qs_ring_room(&px->ring) >= QS_PROXY_READ) {
    px->rpaused = 0;
    ev_io_start(px->pw->hw->loop, &px->uc->rio);
    set_timer(px, T_IDLE, px->pw->t->idle_timeout);
  }
}

static void px_abort(struct qs_req *r) {
  struct pxreq *px = r->hdata;
  if (px->complete && !px->uc)
    return;
  /* the client went away: that connection is in an unknown state */
  QS_STAT_ADD(px->pw->hw->st, proxy_client_abort, 1);
  px_detach(px, 0);
}

static void px_free(struct qs_req *r) {
  struct pxreq *px = r->hdata;
  if (!px)
    return;
  px_detach(px, 0);
  qs_buf_free(&px->out);
  qs_buf_free(&px->hname);
  qs_buf_free(&px->hval);
  qs_fields_free(&px->uh);
  qs_ring_free(&px->ring);
  free(px);
}

static const struct qs_handler_ops proxy_ops = {
    .name = "proxy",
    .on_body = px_on_body,
    .on_end = px_on_end,
    .pull = px_pull,
    .acked = px_acked,
    .abort = px_abort,
    .free = px_free,
};

void qs_proxy_start(struct qs_req *r, const struct qs_proxy_route *route) {
  struct qs_http_worker *hw = r->hw;
  struct pxreq *px = calloc(1, sizeof *px);
  enum qs_h1_framing framing;
  int rv;

  QS_STAT_ADD(hw->st, proxy_requests, 1);
  if (!px) {
    qs_req_error(r, 500);
    return;
  }
  px->r = r;
  px->pw = hw->proxy;
  px->route = route;
  px->is_head = r->mkind == QS_REQ_HEAD;
  qs_fields_init(&px->uh, QS_RESP_FIELDS_MAX);
  http_parser_init(&px->parser, HTTP_RESPONSE);
  px->parser.data = px;
  ev_timer_init(&px->timer, timer_cb, 0., 0.);
  px->timer.data = px;
  qs_req_set_handler(r, &proxy_ops, px);

  if (r->content_length >= 0)
    framing = QS_H1_LENGTH;
  else if (r->body_fin)
    framing = QS_H1_NOBODY;
  else
    framing = QS_H1_CHUNKED;
  px->chunked = framing == QS_H1_CHUNKED;
  rv = qs_h1_request_head(&px->out, r, framing);
  if (rv != 0) {
    qs_req_error(r, rv == -EINVAL ? 400 : 500);
    return;
  }
  if (r->body_fin) {
    px->req_queued = 1;
  }
  px_acquire(px);
}
