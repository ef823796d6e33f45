/* tcp.c: see tcp.h. */
#include "tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

#define QS_TCP_BACKLOG 1024
#define QS_TCP_ACCEPTS 32     /* per wake-up */
#define QS_TCP_RECORD 16384   /* one TLS record */

int qs_tcp_listen(const struct sockaddr *addr, socklen_t len) {
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1, err;
  if (fd < 0)
    return -errno;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      (addr->sa_family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
      bind(fd, addr, len) != 0 || listen(fd, QS_TCP_BACKLOG) != 0) {
    err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

/* ---- connections ---- */

void qs_tcp_mark(struct qs_tcp_conn *c) {
  if (c->dirty)
    return;
  c->dirty = 1;
  c->next_dirty = c->t->dirty;
  c->t->dirty = c;
}

void qs_tcp_pause_rx(struct qs_tcp_conn *c, int on) {
  if (!!on == c->rx_paused)
    return;
  c->rx_paused = (uint8_t)!!on;
  if (on) {
    ev_io_stop(c->t->loop, &c->rio);
  } else {
    ev_io_start(c->t->loop, &c->rio);
    c->rx_resume = 1; /* GnuTLS may hold a decrypted record already */
    qs_tcp_mark(c);
  }
}

void qs_tcp_add_alt_svc(struct qs_tcp_conn *c, struct qs_fields *resp) {
  const struct qs_tcp_conf *cf = c->t->conf;
  if (cf->alt_svc_len && !qs_fields_get(resp, "alt-svc", NULL))
    qs_fields_add(resp, "alt-svc", 7, cf->alt_svc, cf->alt_svc_len, 0);
}

static void conn_free(struct qs_tcp_conn *c) {
  struct qs_tcp_worker *t = c->t;
  if (c->proto && c->proto->free)
    c->proto->free(c);
  if (c->dirty) {
    for (struct qs_tcp_conn **p = &t->dirty; *p; p = &(*p)->next_dirty)
      if (*p == c) {
        *p = c->next_dirty;
        break;
      }
  }
  ev_io_stop(t->loop, &c->rio);
  ev_io_stop(t->loop, &c->wio);
  ev_timer_stop(t->loop, &c->timer);
  if (c->tls)
    gnutls_deinit(c->tls);
  close(c->fd);
  qs_buf_free(&c->out);
  if (c->prev)
    c->prev->next = c->next;
  else
    t->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  t->nconns--;
  QS_STAT_SUB(t->st, tcp_conns_open, 1);
  free(c);
}

/* write c->out; 0: all written or waiting for room; -1: the connection failed */
static int conn_write(struct qs_tcp_conn *c) {
  for (;;) {
    ssize_t n;
    /* the front adds more (up to QS_TCP_OUT_HIGH) once less than a record
     * is left: what it gave goes out in full records, and the short tail
     * left is cheap to move to the buffer's front (qs_buf_drop) */
    if (c->proto && !c->closing && qs_buf_pending(&c->out) < QS_TCP_RECORD &&
        c->proto->send(c) != 0)
      return -1;
    if (!qs_buf_pending(&c->out))
      break;
    if (c->sending) {
      n = gnutls_record_send(c->tls, NULL, 0);
    } else {
      size_t len = qs_buf_pending(&c->out);
      c->sending = len < QS_TCP_RECORD ? len : QS_TCP_RECORD;
      n = gnutls_record_send(c->tls, c->out.p + c->out.off, c->sending);
    }
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      ev_io_start(c->t->loop, &c->wio);
      return 0;
    }
    if (n < 0)
      return -1;
    qs_buf_drop(&c->out, (size_t)n);
    c->sending = 0;
  }
  ev_io_stop(c->t->loop, &c->wio);
  return 0;
}

static void conn_handshake(struct qs_tcp_conn *c) {
  struct qs_tcp_worker *t = c->t;
  int rv = gnutls_handshake(c->tls);
  if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
    if (gnutls_record_get_direction(c->tls))
      ev_io_start(t->loop, &c->wio);
    return;
  }
  if (rv < 0) {
    QS_DEBUG(t->index, "TCP TLS handshake failed: %s", gnutls_strerror(rv));
    QS_STAT_ADD(t->st, tcp_handshake_fail, 1);
    c->closing = 1;
    return;
  }
  c->hs_done = 1;
  if (gnutls_session_is_resumed(c->tls))
    QS_STAT_ADD(t->st, tls_resumed, 1); /* a ticket of any worker or generation (tickets.h) */
  else
    QS_STAT_ADD(t->st, tls_full, 1);
  ev_io_stop(t->loop, &c->wio);
  c->proto = qs_tls_alpn_is_h2(c->tls) ? &qs_h2_proto : &qs_h1front_proto;
  if (c->proto->start(c) != 0) {
    c->closing = 1;
    return;
  }
  if (c->draining && c->proto->drain)
    c->proto->drain(c);
  c->timer.repeat = t->conf->idle_timeout > 0 ? t->conf->idle_timeout : 0.;
  ev_timer_again(t->loop, &c->timer);
}

static void conn_read(struct qs_tcp_conn *c) {
  uint8_t buf[QS_TCP_RECORD];
  while (!c->closing && !c->want_close && !c->rx_paused &&
         qs_buf_pending(&c->out) < 4 * QS_TCP_OUT_HIGH) {
    ssize_t n = gnutls_record_recv(c->tls, buf, sizeof buf);
    if (n == GNUTLS_E_AGAIN)
      return;
    if (n == GNUTLS_E_INTERRUPTED)
      continue;
    if (n <= 0) {
      /* the client closed, or broke the record layer */
      c->closing = 1;
      return;
    }
    if (c->proto->recv(c, buf, (size_t)n) != 0)
      c->closing = 1;
  }
}

static int t_idle_on(const struct qs_tcp_conn *c) { return c->t->conf->idle_timeout > 0; }

/* do what the connection can: handshake, read, write; then close it if it
 * is done */
static void conn_run(struct qs_tcp_conn *c, int readable) {
  if (!c->closing && !c->hs_done)
    conn_handshake(c);
  if (!c->closing && c->hs_done) {
    if (readable || c->rx_resume) {
      c->rx_resume = 0;
      conn_read(c);
    }
    if (!c->closing && conn_write(c) != 0)
      c->closing = 1;
    if (c->want_close && !qs_buf_pending(&c->out))
      c->closing = 1;
    if (!c->closing && c->draining && c->proto->idle(c) && !qs_buf_pending(&c->out))
      c->closing = 1;
    /* idle time counts from the last moment a request was in flight: octets
     * without a request (HTTP/2 PINGs, say) do not keep a connection */
    if (!c->closing && t_idle_on(c) && !c->proto->idle(c))
      ev_timer_again(c->t->loop, &c->timer);
  }
  if (c->closing)
    conn_free(c);
}

static void run_dirty(struct qs_tcp_worker *t) {
  while (t->dirty) {
    struct qs_tcp_conn *c = t->dirty;
    t->dirty = c->next_dirty;
    c->dirty = 0;
    c->next_dirty = NULL;
    conn_run(c, 0);
  }
}

/* after an event of ours: run what it made dirty, and let the worker see
 * (qs_worker_reap through the HTTP layer's flush) a drain completing */
static void after_event(struct qs_tcp_worker *t) {
  t->running = 0;
  run_dirty(t);
  qs_http_flush(t->hw);
}

void qs_tcp_flush(struct qs_tcp_worker *t) {
  if (t->running)
    return; /* the running event runs them at its end */
  t->running = 1;
  run_dirty(t);
  t->running = 0;
}

static void conn_io_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct qs_tcp_conn *c = io->data;
  struct qs_tcp_worker *t = c->t;
  (void)loop;
  t->running = 1;
  conn_run(c, (revents & EV_READ) || io == &c->wio);
  after_event(t);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *tm, int revents) {
  struct qs_tcp_conn *c = tm->data;
  struct qs_tcp_worker *t = c->t;
  (void)loop;
  (void)revents;
  t->running = 1;
  if (!c->hs_done) {
    QS_STAT_ADD(t->st, tcp_handshake_timeout, 1);
    c->closing = 1;
  } else if (c->proto->idle(c)) {
    QS_STAT_ADD(t->st, tcp_idle_closed, 1);
    c->closing = 1;
  } else {
    ev_timer_again(t->loop, &c->timer); /* busy: not idle */
  }
  conn_run(c, 0);
  after_event(t);
}

static void conn_new(struct qs_tcp_worker *t, int fd, const struct sockaddr_storage *peer,
                     socklen_t peerlen) {
  struct qs_tcp_conn *c;
  int on = 1;
  if (t->nconns >= t->conf->max_conns) {
    QS_STAT_ADD(t->st, tcp_refused, 1);
    close(fd);
    return;
  }
  c = calloc(1, sizeof *c);
  if (!c || qs_tls_tcp_session_new(t->conf->tls, t->conf->tickets, &c->tls) != 0) {
    free(c);
    close(fd);
    QS_STAT_ADD(t->st, tcp_refused, 1);
    return;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  gnutls_transport_set_int(c->tls, fd);
  c->t = t;
  c->fd = fd;
  memcpy(&c->peer, peer, peerlen);
  c->peerlen = peerlen;
  ev_io_init(&c->rio, conn_io_cb, fd, EV_READ);
  c->rio.data = c;
  ev_io_init(&c->wio, conn_io_cb, fd, EV_WRITE);
  c->wio.data = c;
  ev_init(&c->timer, conn_timer_cb);
  c->timer.data = c;
  c->timer.repeat = t->conf->handshake_timeout > 0 ? t->conf->handshake_timeout : 10.;
  ev_timer_again(t->loop, &c->timer);
  ev_io_start(t->loop, &c->rio);
  c->next = t->conns;
  if (t->conns)
    t->conns->prev = c;
  t->conns = c;
  t->nconns++;
  QS_STAT_ADD(t->st, tcp_accepted, 1);
  QS_STAT_ADD(t->st, tcp_conns_open, 1);
  conn_run(c, 1);
}

static void accept_some(struct qs_tcp_listener *l) {
  for (int i = 0; i < QS_TCP_ACCEPTS; i++) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        QS_DEBUG(l->t->index, "accept: %s", strerror(errno));
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      return;
    }
    conn_new(l->t, fd, &peer, len);
  }
}

static void accept_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct qs_tcp_listener *l = io->data;
  (void)loop;
  (void)revents;
  l->t->running = 1;
  accept_some(l);
  after_event(l->t);
}

void qs_tcp_worker_init(struct qs_tcp_worker *t, struct ev_loop *loop, struct qs_http_worker *hw,
                        const struct qs_tcp_conf *conf, unsigned index, const int *fds,
                        size_t nfds) {
  memset(t, 0, sizeof *t);
  t->loop = loop;
  t->hw = hw;
  t->st = hw->st;
  t->conf = conf;
  t->index = index;
  for (size_t i = 0; i < nfds && i < QS_MAX_GROUPS; i++) {
    struct qs_tcp_listener *l = &t->ls[t->nls++];
    l->fd = fds[i];
    l->t = t;
    ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
    l->io.data = l;
    ev_io_start(loop, &l->io);
  }
}

static void close_listeners(struct qs_tcp_worker *t) {
  for (size_t i = 0; i < t->nls; i++) {
    if (t->ls[i].fd < 0)
      continue;
    if (t->loop)
      ev_io_stop(t->loop, &t->ls[i].io);
    close(t->ls[i].fd);
    t->ls[i].fd = -1;
  }
}

void qs_tcp_drain(struct qs_tcp_worker *t) {
  if (t->stopping)
    return;
  t->stopping = 1;
  t->running = 1;
  /* what the kernel already queued for us is served, not reset */
  for (size_t i = 0; i < t->nls; i++)
    if (t->ls[i].fd >= 0)
      accept_some(&t->ls[i]);
  close_listeners(t);
  for (struct qs_tcp_conn *c = t->conns; c; c = c->next) {
    c->draining = 1;
    if (c->hs_done && c->proto->drain)
      c->proto->drain(c);
    qs_tcp_mark(c);
  }
  t->running = 0;
  run_dirty(t);
}

void qs_tcp_close_all(struct qs_tcp_worker *t) {
  if (t->nconns)
    QS_INFO(t->index, "closing %zu TCP connection(s)", t->nconns);
  while (t->conns)
    conn_free(t->conns);
}

void qs_tcp_worker_free(struct qs_tcp_worker *t) {
  qs_tcp_close_all(t);
  close_listeners(t);
}
