/* worker.c: see worker.h. */
#include "worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "conn.h"
#include "relay.h"
#include "log.h"
#include "quicsteer/classify.h"
#include "quicsteer/util.h"
#include "server.h"
#include "stateless.h"
#include "stats.h"
#include "token.h"

uint64_t qs_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

/* ---- small services for connections ---- */

void qs_worker_rand(struct qs_worker *w, uint8_t *buf, size_t len) {
  (void)w;
  /* fails only if the library could not seed itself: then no output is
   * better than a guessable one */
  if (gnutls_rnd(GNUTLS_RND_NONCE, buf, len) != 0)
    abort();
}

static int mint(struct qs_worker *w, ngtcp2_cid *cid, uint32_t rk) {
  const struct qs_keyring *kr = qs_keys_current(&w->srv->keys);
  int n = qs_cidconf_mint(&kr->conf[kr->mint_cr], rk, cid->data);
  if (n < 0)
    return -1;
  cid->datalen = (size_t)n;
  return 0;
}

int qs_worker_mint(struct qs_worker *w, ngtcp2_cid *cid) { return mint(w, cid, w->rk); }

int qs_worker_mint_handshake(struct qs_worker *w, ngtcp2_cid *cid) {
  return mint(w, cid, qs_rk_handshake(w->rk, qs_hs_tick()));
}

void qs_worker_mark_dirty(struct qs_worker *w, struct qs_conn *c) {
  if (c->dirty)
    return;
  c->dirty = 1;
  c->next_dirty = w->dirty;
  w->dirty = c;
}

void qs_worker_flush(struct qs_worker *w) {
  while (w->dirty) {
    struct qs_conn *c = w->dirty;
    w->dirty = c->next_dirty;
    c->next_dirty = NULL;
    c->dirty = 0;
    if (c->state == QS_CONN_OPEN)
      qs_conn_write(c);
  }
}

void qs_worker_reap(struct qs_worker *w) {
  qs_worker_flush(w);
  qs_tcp_flush(&w->tcp);
  while (w->dead) {
    struct qs_conn *c = w->dead;
    w->dead = c->next_dead;
    qs_conn_free(c);
  }
  if (w->stopping && w->nconns == 0 && w->tcp.nconns == 0 && !w->drained) {
    w->drained = 1;
    if (__atomic_sub_fetch(&w->srv->draining, 1, __ATOMIC_ACQ_REL) == 0)
      for (unsigned i = 0; i < w->srv->nworkers; i++)
        if (w->srv->workers[i].started)
          ev_async_send(w->srv->workers[i].loop, &w->srv->workers[i].finish);
  }
}

static void finish_cb(struct ev_loop *loop, ev_async *a, int revents) {
  (void)a;
  (void)revents;
  ev_break(loop, EVBREAK_ALL);
}

void qs_worker_block(struct qs_worker *w, struct qs_conn *c) {
  struct qs_sock *sk = &w->socks[c->group];
  if (c->blocked)
    return;
  c->blocked = 1;
  c->next_blocked = sk->blocked;
  sk->blocked = c;
  if (!ev_is_active(&sk->wio))
    ev_io_start(w->loop, &sk->wio);
}

int qs_worker_send_raw(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *buf,
                       size_t len) {
  struct qs_sock *sk = &w->socks[d->group];
  size_t sent;
  int rv = qs_udp_send(sk->fd, sk->wildcard, &d->local, &d->remote, d->remotelen, 0, buf, len, 0,
                       &w->gso_ok, &sent);
  if (rv == 0) {
    QS_STAT_ADD(w->st, dgrams_tx, 1);
    QS_STAT_ADD(w->st, bytes_tx, len);
  }
  return rv;
}

/* ---- the per-datagram decision ---- */

static void new_connection(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *data,
                           size_t len) {
  ngtcp2_pkt_hd hd;
  int rv = ngtcp2_accept(&hd, data, len);

  if (rv == NGTCP2_ERR_RETRY)
    return; /* 0-RTT ahead of its Initial: we keep no 0-RTT state */
  if (rv != 0) {
    QS_STAT_ADD(w->st, drop_bad, 1);
    return;
  }
  if (w->stopping) {
    /* a successor took over: the kernel sends new clients there, but one
     * that reaches us anyway (no BPF, a fallback) is relayed, not refused */
    uint32_t gw = __atomic_load_n(&w->srv->successor_gw, __ATOMIC_ACQUIRE);
    uint16_t succ = (uint16_t)(gw >> 16), nsucc = (uint16_t)gw;
    if (succ && nsucc) {
      union qs_cidkey key;
      qs_cidkey_set(&key, hd.dcid.data, (uint32_t)hd.dcid.datalen);
      uint64_t h = qs_cidkey_hash(w->srv->successor_hash[0], w->srv->successor_hash[1], &key);
      if (qs_relay(w, d, data, len, succ, (uint16_t)qs_hash_pick(h, nsucc)) == 0)
        return;
    }
    qs_stateless_close(w, d, &hd, NGTCP2_CONNECTION_REFUSED);
    QS_STAT_ADD(w->st, refused_stopping, 1);
    return;
  }
  qs_conn_admit(w, d, &hd, data, len);
}

_Static_assert(QS_VERSION_V2_DRAFT == NGTCP2_PROTO_VER_V2_DRAFT,
               "quic_header.h must know the v2 number ngtcp2 speaks");

/* The decision is classify.h's, the kernel's own (lib/classify.c binds it to
 * the keyring); a worker acts on it:
 *   its own connection's datagram (any verdict but drop/vneg) -> that connection;
 *   ROUTE to another worker -> relayed there (unless it was relayed to us);
 *   then by packet type: Initial -> new connection, short header ->
 *   stateless reset, anything else is ignored. */
void qs_worker_on_datagram(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *data,
                           size_t len, int forwarded) {
  const struct qs_server *srv = w->srv;
  struct qs_cls cls;
  struct qs_conn *c;
  const struct qs_keyring *kr = qs_keys_current(&srv->keys);

  switch (qs_classify_keyring(&cls, kr, data, len)) {
  case QS_VERDICT_DROP:
    QS_STAT_ADD(w->st, drop_bad, 1);
    return;
  case QS_VERDICT_VNEG:
    qs_stateless_vneg(w, d, data, len);
    return;
  default:
    break;
  }
  if (cls.type == QS_PKT_VERSION_NEG)
    return; /* version negotiation is for clients */

  c = qs_cidtab_find(&w->tab, cls.key.k.cid, cls.key.k.len);
  if (c) {
    qs_conn_recv(c, d, data, len);
    return;
  }
  /* not ours: maybe another worker's (a migrated client the kernel hashed
   * elsewhere, a predecessor generation's connection, a handshake whose
   * Initials reached us without BPF) */
  if (cls.verdict == QS_VERDICT_RESET && qs_keyring_foreign(kr, cls.key.k.cid, cls.key.k.len)) {
    /* another host's server ID, read in the clear (a fleet balancer sent
     * it here, or lost its mapping), whatever codepoint it names: no
     * worker here owns it, and a stateless reset would end a connection
     * that host may still serve.  (Encrypted mode cannot tell another
     * host's CID from one of ours under a lost key, and resets; an
     * Initial's random DCID may look foreign and still starts one.) */
    QS_STAT_ADD(w->st, drop_foreign, 1);
    return;
  }
  if (cls.verdict == QS_VERDICT_ROUTE && !forwarded && !srv->cfg->no_forward) {
    uint16_t gen = qs_rk_generation(cls.rk), wk = qs_rk_worker(cls.rk);
    if (gen == srv->generation && wk != w->index && wk < srv->nworkers) {
      /* a sibling's: relayed, or dropped and counted; never ours to answer */
      (void)qs_relay(w, d, data, len, gen, wk);
      return;
    }
    if (gen != srv->generation && qs_relay(w, d, data, len, gen, wk) == 0)
      return;
  }
  switch (cls.type) {
  case QS_PKT_INITIAL:
    new_connection(w, d, data, len);
    break;
  case QS_PKT_SHORT:
    qs_stateless_reset(w, d, cls.key.k.cid, cls.key.k.len, len);
    break;
  default:
    /* 0-RTT, Handshake or Retry for a connection we do not have */
    break;
  }
}

/* ---- event callbacks ---- */

#define QS_READ_ROUNDS 4 /* batches per wake-up before timers get a turn */

static void sock_read_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct qs_sock *sk = io->data;
  struct qs_worker *w = sk->w;
  (void)loop;
  (void)revents;
  for (int round = 0; round < QS_READ_ROUNDS; round++) {
    int n = qs_udp_recv(sk->fd, &w->rx, QS_RX_MAX_UDP, 1);
    if (n <= 0) {
      if (n < 0)
        QS_DEBUG(w->index, "recvmmsg: %s", strerror(-n));
      break;
    }
    for (int i = 0; i < n; i++) {
      struct qs_dgram d;
      int len;
      d.group = sk->group;
      len = qs_udp_meta(&w->rx, i, &sk->bound, &d);
      if (len < 0) {
        QS_STAT_ADD(w->st, drop_bad, 1);
        continue;
      }
      QS_STAT_ADD(w->st, dgrams_rx, 1);
      QS_STAT_ADD(w->st, bytes_rx, (unsigned)len);
      qs_worker_on_datagram(w, &d, w->rx.bufs + (size_t)i * QS_RX_SLOT, (size_t)len, 0);
    }
    qs_worker_flush(w);
    if (n < QS_RX_BATCH)
      break;
  }
  qs_worker_reap(w);
}

static void sock_write_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct qs_sock *sk = io->data;
  struct qs_worker *w = sk->w;
  struct qs_conn *list = sk->blocked;
  (void)revents;
  sk->blocked = NULL;
  while (list) {
    struct qs_conn *c = list;
    list = c->next_blocked;
    c->next_blocked = NULL;
    if (qs_conn_resume_tx(c) != 0) {
      /* still full: put this one and the rest back */
      c->next_blocked = list;
      list = c;
      while (list) {
        struct qs_conn *n = list->next_blocked;
        list->next_blocked = sk->blocked;
        sk->blocked = list;
        list = n;
      }
      break;
    }
    qs_conn_write(c);
  }
  if (!sk->blocked)
    ev_io_stop(loop, &sk->wio);
  qs_worker_reap(w);
}

static void goaway_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  struct qs_worker *w = t->data;
  (void)loop;
  (void)revents;
  for (struct qs_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    qs_conn_shutdown(c, 1);
  }
  qs_worker_reap(w);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  struct qs_worker *w = t->data;
  (void)loop;
  (void)revents;
  if (w->nconns)
    QS_INFO(w->index, "drain timeout: closing %zu connection(s)", w->nconns);
  for (struct qs_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    qs_conn_close_now(c);
  }
  qs_tcp_close_all(&w->tcp);
  qs_worker_reap(w);
}

static void stop_cb(struct ev_loop *loop, ev_io *io, int revents) {
  struct qs_worker *w = io->data;
  double drain = w->srv->cfg->drain_timeout;
  uint64_t v;
  (void)revents;
  if (read(w->stopfd, &v, sizeof v) < 0 || w->stopping)
    return;
  w->stopping = 1;
  ev_io_stop(loop, io);
  QS_DEBUG(w->index, "stopping: %zu connection(s)", w->nconns);
  /* GOAWAY now; the final GOAWAY a little later, for requests in flight;
   * CONNECTION_CLOSE for everything at the deadline */
  for (struct qs_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    qs_conn_shutdown(c, 0);
  }
  qs_tcp_drain(&w->tcp); /* a successor's sockets take new TCP connections */
  ev_timer_set(&w->goaway_timer, drain / 2 < 0.1 ? drain / 2 : 0.1, 0.);
  ev_timer_start(loop, &w->goaway_timer);
  ev_timer_set(&w->deadline_timer, drain, 0.);
  ev_timer_start(loop, &w->deadline_timer);
  qs_worker_reap(w);
}

/* Connections on a key being retired (keys.h): GOAWAY, then the final
 * GOAWAY on the next kick (conn_tx closes them once their requests are
 * done), or close now once the retirement can wait no longer. */
static void kick_cb(struct ev_loop *loop, ev_async *a, int revents) {
  struct qs_worker *w = a->data;
  unsigned goaway = __atomic_load_n(&w->srv->keys.goaway_mask, __ATOMIC_ACQUIRE);
  unsigned kill = __atomic_load_n(&w->srv->keys.kill_mask, __ATOMIC_ACQUIRE);
  (void)loop;
  (void)revents;
  if (!(goaway | kill))
    return;
  for (struct qs_conn *c = w->conns, *next; c; c = next) {
    unsigned crs = 0;
    next = c->next;
    for (size_t i = 0; i < c->ncids; i++)
      crs |= 1u << (c->cids[i].data[0] >> 5);
    if (crs & kill)
      qs_conn_close_now(c);
    else if (crs & goaway)
      qs_conn_shutdown(c, c->goaway >= 1);
  }
  qs_worker_reap(w);
}

void qs_worker_kick(struct qs_worker *w) {
  if (w->started)
    ev_async_send(w->loop, &w->kick);
}

/* the quiescent-state count: a full fence after going busy, so that a
 * keyring read later in this round is at least as new as what the main
 * thread published before it saw the count change */
static void busy_cb(struct ev_loop *loop, ev_check *c, int revents) {
  struct qs_worker *w = c->data;
  uint32_t q = __atomic_load_n(&w->quiescent, __ATOMIC_RELAXED);
  (void)loop;
  (void)revents;
  if (!(q & 1))
    __atomic_store_n(&w->quiescent, q + 1, __ATOMIC_SEQ_CST);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void idle_cb(struct ev_loop *loop, ev_prepare *p, int revents) {
  struct qs_worker *w = p->data;
  uint32_t q = __atomic_load_n(&w->quiescent, __ATOMIC_RELAXED);
  (void)loop;
  (void)revents;
  if (q & 1)
    __atomic_store_n(&w->quiescent, q + 1, __ATOMIC_RELEASE);
}

/* ---- life cycle ---- */

static void http_flush(void *arg) { qs_worker_reap(arg); }

int qs_worker_init(struct qs_worker *w, struct qs_server *srv, uint16_t index) {
  qs_mpool_init(&w->mem, QS_MPOOL_BUDGET);
  w->srv = srv;
  w->index = index;
  w->rk = qs_rk_make(srv->generation, index);
  w->st = &srv->stats.w[index];
  w->gso_ok = w->nsocks ? qs_udp_gso_supported(w->socks[0].fd) : 0;
  w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->stopfd < 0)
    return -1;
  if (qs_cidtab_init(&w->tab) != 0 ||
      qs_rxbatch_init(&w->rx) != 0)
    return -1;
  if (!srv->cfg->no_early_data && qs_replay_init(&w->replay, QS_REPLAY_SLOTS, QS_REPLAY_WINDOW_S) != 0)
    return -1;
  w->txbuf = malloc(QS_TX_BUF);
  w->loop = ev_loop_new(EVFLAG_AUTO);
  if (!w->txbuf || !w->loop)
    return -1;
  if (qs_http_worker_init(&w->http, w->loop, index, &srv->http_conf, w->st) != 0)
    return -1;
  w->http.mem = &w->mem;
  w->http.flush = http_flush;
  w->http.flush_arg = w;
  qs_tcp_worker_init(&w->tcp, w->loop, &w->http, &srv->tcp_conf, index, w->tcp_fds, w->ntcp);
  w->ntcp = 0; /* the TCP front owns them now */
  for (size_t g = 0; g < w->nsocks; g++) {
    struct qs_sock *sk = &w->socks[g];
    sk->w = w;
    sk->group = (int)g;
    sk->wildcard = qs_sa_is_any(&sk->bound);
    ev_io_init(&sk->rio, sock_read_cb, sk->fd, EV_READ);
    sk->rio.data = sk;
    ev_io_start(w->loop, &sk->rio);
    ev_io_init(&sk->wio, sock_write_cb, sk->fd, EV_WRITE);
    sk->wio.data = sk;
  }
  if (qs_relay_init(w) != 0)
    return -1;
  ev_io_init(&w->stop_io, stop_cb, w->stopfd, EV_READ);
  w->stop_io.data = w;
  ev_io_start(w->loop, &w->stop_io);
  ev_timer_init(&w->goaway_timer, goaway_cb, 0., 0.);
  w->goaway_timer.data = w;
  ev_timer_init(&w->deadline_timer, deadline_cb, 0., 0.);
  w->deadline_timer.data = w;
  ev_async_init(&w->finish, finish_cb);
  ev_async_start(w->loop, &w->finish);
  ev_async_init(&w->kick, kick_cb);
  w->kick.data = w;
  ev_async_start(w->loop, &w->kick);
  ev_check_init(&w->qs_check, busy_cb);
  w->qs_check.data = w;
  ev_check_start(w->loop, &w->qs_check);
  ev_prepare_init(&w->qs_prep, idle_cb);
  w->qs_prep.data = w;
  ev_prepare_start(w->loop, &w->qs_prep);
  if (qs_accesslog_worker_init(&w->alog, &srv->alog, w->loop, index, &w->st->log_dropped) != 0)
    return -1;
  if (w->alog.on) {
    w->http.on_done = qs_accesslog_done;
    w->http.done_arg = &w->alog;
  }
  return 0;
}

_Static_assert(_Alignof(struct qs_worker) == QS_CACHE_LINE &&
                   sizeof(struct qs_worker) % QS_CACHE_LINE == 0,
               "one worker per set of cache lines");

static void *worker_main(void *arg) {
  struct qs_worker *w = arg;
  ev_run(w->loop, 0);
  for (struct qs_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    qs_conn_kill(c);
  }
  qs_tcp_close_all(&w->tcp);
  qs_worker_reap(w);
  return NULL;
}

int qs_worker_start(struct qs_worker *w) {
  if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
    return -1;
  w->started = 1;
  return 0;
}

void qs_worker_stop(struct qs_worker *w) {
  uint64_t one = 1;
  if (w->stopfd >= 0 && write(w->stopfd, &one, sizeof one) != sizeof one)
    QS_WARN(QS_LOG_MAIN, "cannot signal worker %u", w->index);
}

void qs_worker_join(struct qs_worker *w) {
  if (w->started)
    pthread_join(w->thread, NULL);
  w->started = 0;
}

void qs_worker_free(struct qs_worker *w) {
  for (size_t g = 0; g < w->nsocks; g++)
    if (w->socks[g].fd >= 0)
      close(w->socks[g].fd);
  qs_relay_free(w);
  for (size_t i = 0; i < w->ntcp; i++) /* never handed to the TCP front */
    close(w->tcp_fds[i]);
  w->ntcp = 0;
  if (w->loop)
    qs_tcp_worker_free(&w->tcp); /* before the HTTP layer its requests use */
  if (w->stopfd >= 0)
    close(w->stopfd);
  qs_http_worker_free(&w->http); /* its upstream watchers are on the loop */
  qs_accesslog_worker_free(&w->alog); /* the worker has ended: its last lines */
  if (w->loop)
    ev_loop_destroy(w->loop);
  qs_cidtab_free(&w->tab);
  qs_mpool_free(&w->mem);
  qs_rxbatch_free(&w->rx);
  qs_replay_free(&w->replay);
  free(w->txbuf);
  w->loop = NULL;
}
