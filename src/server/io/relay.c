/* relay.c: a worker's relay connections (fwd.h): to the owners it sends
 * datagrams to, made on first use and kept, and from the workers that send
 * to it, accepted on its listening socket. */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fwd.h"
#include "log.h"
#include "server.h"
#include "stats.h"
#include "trust.h"
#include "worker.h"

#define QS_READ_ROUNDS 4

#define QS_FWD_RETRY (1 * NGTCP2_SECONDS)

/* Is -errno |e| from connect or send "the owner is not there" (as opposed
 * to "it is there but cannot take this datagram now")? */
static int owner_gone(int e) {
  return e == -ECONNREFUSED || e == -ENOENT || e == -EPERM || e == -EPIPE || e == -ECONNRESET ||
         e == -ENOTCONN;
}

/* the relay connection to (gen, worker), connecting it if need be; NULL if
 * it cannot be had now, with *err the -errno (-ECONNREFUSED also while a
 * recent failure to reach that owner is remembered) */
static int *relay_fd(struct qs_worker *w, uint16_t gen, uint16_t worker, int *err) {
  const struct qs_server *srv = w->srv;
  struct qs_fwd_out *o = NULL, *victim = &w->fwd_other[0];
  struct qs_fwd_name other;
  const struct qs_fwd_name *to;
  uint64_t now;
  int *slot, fd;

  if (gen == srv->generation) {
    slot = &w->fwd_same[worker];
    if (*slot >= 0)
      return slot;
    to = &srv->workers[worker].fwd_name;
  } else {
    for (int i = 0; i < QS_FWD_OTHER; i++) {
      struct qs_fwd_out *e = &w->fwd_other[i];
      if (e->generation == gen && e->worker == worker && (e->fd >= 0 || e->retry_at)) {
        o = e;
        break;
      }
      if (e->fd < 0 && !e->retry_at)
        victim = e;
    }
    if (o && o->fd >= 0)
      return &o->fd;
    now = qs_now();
    if (o && now < o->retry_at) {
      *err = -ECONNREFUSED; /* gone a moment ago: do not try on every datagram */
      return NULL;
    }
    if (!o) {
      o = victim;
      if (o->fd >= 0)
        close(o->fd);
      o->generation = gen;
      o->worker = worker;
      o->fd = -1;
      o->retry_at = 0;
    }
    slot = &o->fd;
    qs_fwd_name_make(&other, srv->cfg->name, gen, worker);
    to = &other;
  }
  fd = qs_fwd_connect(to);
  if (fd < 0) {
    QS_DEBUG(w->index, "cannot reach generation %u worker %u: %s", gen, worker, strerror(-fd));
    if (fd == -EPERM)
      QS_WARN(w->index, "generation %u worker %u: its relay name belongs to another user", gen,
              worker);
    /* only a missing owner is remembered; a full accept queue is not */
    if (gen != srv->generation && owner_gone(fd))
      o->retry_at = qs_now() + QS_FWD_RETRY;
    *err = fd;
    return NULL;
  }
  if (gen != srv->generation)
    o->retry_at = 0;
  *slot = fd;
  return slot;
}

int qs_relay(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *data, size_t len,
             uint16_t gen, uint16_t worker) {
  for (int attempt = 0; attempt < 2; attempt++) {
    int err = 0, *fd = relay_fd(w, gen, worker, &err), rv;
    if (fd) {
      rv = qs_fwd_send(*fd, d, data, len);
      if (rv == 0) {
        QS_STAT_ADD(w->st, fwd_out, 1);
        return 0;
      }
      err = rv;
      if (owner_gone(rv)) {
        /* the owner went away (restarted?): reconnect once */
        close(*fd);
        *fd = -1;
        continue;
      }
    }
    if (owner_gone(err))
      break;
    /* the owner is there but behind (EAGAIN/ENOBUFS: its queue or accept
     * backlog is full) or we are short of something: drop this datagram,
     * as a full UDP socket would; QUIC retransmits.  Never a reset. */
    QS_STAT_ADD(w->st, fwd_busy, 1);
    return 0;
  }
  QS_STAT_ADD(w->st, fwd_fail, 1);
  return -1;
}

/* the socket of the same address family and port, for a relayed datagram */
static int local_group(const struct qs_worker *w, const struct qs_dgram *d) {
  if (d->group >= 0 && (size_t)d->group < w->nsocks &&
      w->socks[d->group].bound.sa.sa_family == d->local.sa.sa_family)
    return d->group;
  for (size_t g = 0; g < w->nsocks; g++) {
    const union qs_sa *b = &w->socks[g].bound;
    if (b->sa.sa_family != d->local.sa.sa_family)
      continue;
    if (b->sa.sa_family == AF_INET ? b->in.sin_port == d->local.in.sin_port
                                   : b->in6.sin6_port == d->local.in6.sin6_port)
      return (int)g;
  }
  return -1;
}

static void peer_free(struct qs_worker *w, struct qs_fwd_peer *p) {
  ev_io_stop(w->loop, &p->io);
  close(p->io.fd);
  if (p->prev)
    p->prev->next = p->next;
  else
    w->peers = p->next;
  if (p->next)
    p->next->prev = p->prev;
  free(p);
}

static void peer_read_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct qs_fwd_peer *p = (struct qs_fwd_peer *)io;
  struct qs_worker *w = p->w;
  (void)loop;
  (void)revents;
  for (int round = 0; round < QS_READ_ROUNDS; round++) {
    int n = qs_udp_recv(io->fd, &w->rx, QS_RX_SLOT, 0);
    if (n < 0 || (n > 0 && w->rx.msgs[0].msg_len == 0)) {
      peer_free(w, p); /* the sender closed (or broke) the connection */
      break;
    }
    if (n == 0)
      break;
    for (int i = 0; i < n; i++) {
      struct qs_dgram d;
      const uint8_t *data;
      size_t dlen;
      if (w->rx.msgs[i].msg_len == 0)
        break;
      if ((w->rx.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ||
          qs_fwd_decode(w->rx.bufs + (size_t)i * QS_RX_SLOT, w->rx.msgs[i].msg_len, &d, &data,
                        &dlen) != 0) {
        QS_STAT_ADD(w->st, drop_bad, 1);
        continue;
      }
      d.group = local_group(w, &d);
      if (d.group < 0) {
        QS_STAT_ADD(w->st, fwd_fail, 1);
        continue;
      }
      QS_STAT_ADD(w->st, fwd_in, 1);
      qs_worker_on_datagram(w, &d, data, dlen, 1);
    }
    qs_worker_flush(w);
    if (n < QS_RX_BATCH)
      break;
  }
  qs_worker_reap(w);
}

static void fwd_accept_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct qs_worker *w = io->data;
  (void)revents;
  for (;;) {
    struct qs_fwd_peer *p;
    int fd = qs_fwd_accept(w->fwd_fd);
    if (fd == -EAGAIN)
      break;
    if (fd < 0) {
      if (fd != -ECONNABORTED)
        QS_WARN(w->index, "relay accept: %s", strerror(-fd));
      if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM)
        break;
      continue;
    }
    if (!qs_trust_peer(w->srv, fd, w->index, "relay")) {
      close(fd);
      continue;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
      close(fd);
      break;
    }
    p->w = w;
    ev_io_init(&p->io, peer_read_cb, fd, EV_READ);
    ev_io_start(loop, &p->io);
    p->next = w->peers;
    if (w->peers)
      w->peers->prev = p;
    w->peers = p;
  }
}

int qs_relay_init(struct qs_worker *w) {
  w->fwd_same = malloc(w->srv->nworkers * sizeof *w->fwd_same);
  if (!w->fwd_same)
    return -1;
  for (unsigned i = 0; i < w->srv->nworkers; i++)
    w->fwd_same[i] = -1;
  for (int i = 0; i < QS_FWD_OTHER; i++)
    w->fwd_other[i].fd = -1;
  ev_io_init(&w->fwd_io, fwd_accept_cb, w->fwd_fd, EV_READ);
  w->fwd_io.data = w;
  ev_io_start(w->loop, &w->fwd_io);
  return 0;
}

void qs_relay_free(struct qs_worker *w) {
  while (w->peers)
    peer_free(w, w->peers);
  if (w->fwd_same) {
    for (unsigned i = 0; i < w->srv->nworkers; i++)
      if (w->fwd_same[i] >= 0)
        close(w->fwd_same[i]);
    free(w->fwd_same);
    w->fwd_same = NULL;
  }
  for (int i = 0; i < QS_FWD_OTHER; i++)
    if (w->fwd_other[i].fd >= 0)
      close(w->fwd_other[i].fd);
  if (w->fwd_fd >= 0)
    close(w->fwd_fd);
  w->fwd_fd = -1;
}
