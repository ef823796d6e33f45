/* worker.c: the event loop of one quicsteer-load thread. */
#include "worker.h"

#include <gnutls/crypto.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define QSL_EVENTS 128
#define QSL_RATE_BURST_NS (10ull * 1000000) /* tokens saved up at most */

uint64_t qsl_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int qsl_worker_init(struct qsl_worker *w, uint32_t id, const struct qsl_opts *o,
                    const struct qsl_tls *tls) {
  memset(w, 0, sizeof(*w));
  w->id = id;
  w->o = o;
  w->tls = tls;
  w->ep = -1;
  w->stopfd = -1;
  w->hard_deadline = UINT64_MAX;
  w->debug = getenv("QSL_DEBUG") != NULL;
  qsl_stats_init(&w->st);
  w->nconns = o->connections / o->threads + (id < o->connections % o->threads);
  w->url_next = id; /* threads start the URL rotation at different places */

  w->ep = epoll_create1(EPOLL_CLOEXEC);
  w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->ep < 0 || w->stopfd < 0) {
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->stopfd, &ev) != 0) {
    return -1;
  }
  w->conns = calloc(w->nconns, sizeof(*w->conns));
  w->waitq = calloc(w->nconns, sizeof(*w->waitq));
  if (!w->conns || !w->waitq || qsl_heap_init(&w->heap, w->nconns) != 0 ||
      qsl_tx_init(&w->tx) != 0 || qsl_rx_init(&w->rx) != 0 ||
      qsl_tls_priority_init(&w->prio) != 0 ||
      gnutls_rnd(GNUTLS_RND_NONCE, w->prng, sizeof(w->prng)) != 0) {
    return -1;
  }
  w->prng[0] |= 1; /* xorshift state must not be all zero */
  for (uint32_t i = 0; i < w->nconns; i++) {
    if (qsl_conn_init(&w->conns[i], w, id + i * o->threads) != 0) {
      return -1;
    }
  }
  if (o->rate > 0) {
    double per_thread = o->rate / o->threads;
    double ns = 1e9 / per_thread;
    w->rate_ns = ns < 1 ? 1 : (uint64_t)ns;
    w->rate_burst_ns = w->rate_ns > QSL_RATE_BURST_NS ? w->rate_ns : QSL_RATE_BURST_NS;
  }
  return 0;
}

void qsl_worker_free(struct qsl_worker *w) {
  if (w->conns) {
    for (uint32_t i = 0; i < w->nconns; i++) {
      qsl_conn_free(&w->conns[i]);
    }
  }
  free(w->conns);
  free(w->waitq);
  gnutls_free(w->session.data);
  w->session.data = NULL;
  qsl_heap_free(&w->heap);
  qsl_tx_free(&w->tx);
  qsl_rx_free(&w->rx);
  if (w->prio) {
    gnutls_priority_deinit(w->prio);
  }
  if (w->ep >= 0) {
    close(w->ep);
  }
  if (w->stopfd >= 0) {
    close(w->stopfd);
  }
  w->conns = NULL;
  w->waitq = NULL;
  w->prio = NULL;
  w->ep = w->stopfd = -1;
}

void qsl_worker_stop(struct qsl_worker *w) {
  uint64_t one = 1;
  ssize_t n = write(w->stopfd, &one, sizeof(one));
  (void)n; /* a full counter already says "stop" */
}

int qsl_worker_watch(struct qsl_worker *w, struct qsl_sock *s) {
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
  return epoll_ctl(w->ep, EPOLL_CTL_ADD, s->fd, &ev);
}

void qsl_worker_slot_done(struct qsl_worker *w) { w->nlive--; }

void qsl_worker_slot_settled(struct qsl_worker *w, int held) {
  if (!w->shared || !w->o->hold_ns) {
    return;
  }
  if (held) {
    atomic_fetch_add(&w->shared->held, 1);
  }
  /* the slot that settles last announces, exactly once */
  if (atomic_fetch_add(&w->shared->settled, 1) + 1 == w->o->connections) {
    uint32_t h = atomic_load(&w->shared->held);
    fprintf(stderr, "quicsteer-load: holding %u idle connection%s (%u slot%s ended without one)\n",
            h, h == 1 ? "" : "s", w->o->connections - h,
            w->o->connections - h == 1 ? "" : "s");
    fflush(stderr);
  }
}

void qsl_worker_runq_push(struct qsl_worker *w, struct qsl_conn *c) {
  if (c->queued) {
    return;
  }
  c->queued = 1;
  c->run_next = NULL;
  if (w->runq_tail) {
    w->runq_tail->run_next = c;
  } else {
    w->runq_head = c;
  }
  w->runq_tail = c;
}

static void runq_run(struct qsl_worker *w) {
  /* only what is queued now: a connection that queues itself again (its
   * write turn was used up) waits for the next round */
  struct qsl_conn *c = w->runq_head;
  w->runq_head = w->runq_tail = NULL;
  while (c) {
    struct qsl_conn *next = c->run_next;
    c->queued = 0;
    c->run_next = NULL;
    qsl_conn_kick(c);
    c = next;
  }
}

void qsl_worker_waitq_push(struct qsl_worker *w, struct qsl_conn *c) {
  if (c->waiting) {
    return;
  }
  c->waiting = 1;
  w->waitq[(w->waitq_head + w->waitq_len) % w->nconns] = c;
  w->waitq_len++;
}

int qsl_worker_take_token(struct qsl_worker *w, uint64_t now) {
  if (w->rate_next > now) {
    return 0;
  }
  /* open loop at a fixed rate; after a stall at most a short burst */
  uint64_t floor = now > w->rate_burst_ns ? now - w->rate_burst_ns : 0;
  if (w->rate_next < floor) {
    w->rate_next = floor;
  }
  w->rate_next += w->rate_ns;
  return 1;
}

static void waitq_run(struct qsl_worker *w, uint64_t now) {
  uint32_t n = w->waitq_len;
  while (n-- && w->waitq_len && w->rate_next <= now) {
    struct qsl_conn *c = w->waitq[w->waitq_head];
    w->waitq_head = (w->waitq_head + 1) % w->nconns;
    w->waitq_len--;
    c->waiting = 0;
    qsl_conn_kick(c);
  }
}

static void waitq_clear(struct qsl_worker *w) {
  while (w->waitq_len) {
    w->waitq[w->waitq_head]->waiting = 0;
    w->waitq_head = (w->waitq_head + 1) % w->nconns;
    w->waitq_len--;
  }
}

/* begin_stop: --duration is over: no new requests; what is in flight may
 * finish within --timeout. */
static void begin_stop(struct qsl_worker *w, uint64_t now) {
  w->stopping = 1;
  w->hard_deadline = now + w->o->timeout_ns;
  waitq_clear(w);
  for (uint32_t i = 0; i < w->nconns; i++) {
    qsl_worker_runq_push(w, &w->conns[i]);
  }
}

static void stop_all(struct qsl_worker *w) {
  w->stopping = 1;
  waitq_clear(w);
  for (uint32_t i = 0; i < w->nconns; i++) {
    qsl_conn_stop(&w->conns[i]);
  }
  w->runq_head = w->runq_tail = NULL;
  for (uint32_t i = 0; i < w->nconns; i++) {
    w->conns[i].queued = 0;
  }
}

static void run_timers(struct qsl_worker *w, uint64_t now) {
  /* bounded: a timer re-armed into the past runs in the next round, after
   * the sockets had their turn */
  size_t budget = w->heap.n;
  struct qsl_timer *t;
  while (budget-- && (t = qsl_heap_top(&w->heap)) && t->at <= now) {
    struct qsl_conn *c = (struct qsl_conn *)((char *)t - offsetof(struct qsl_conn, timer));
    qsl_heap_set(&w->heap, t, UINT64_MAX);
    qsl_conn_on_timer(c);
  }
}

void *qsl_worker_run(void *arg) {
  struct qsl_worker *w = arg;
  const struct qsl_opts *o = w->o;
  struct epoll_event ev[QSL_EVENTS];
  w->rate_next = w->t_begin;
  if (o->duration_ns) {
    w->deadline = w->t_begin + o->duration_ns;
  }
  w->nlive = w->nconns;
  for (uint32_t i = 0; i < w->nconns; i++) {
    qsl_worker_runq_push(w, &w->conns[i]);
  }
  while (w->nlive > 0) {
    uint64_t now = qsl_now();
    if (w->deadline && !w->stopping && now >= w->deadline) {
      begin_stop(w, now);
    }
    if (now >= w->hard_deadline) {
      stop_all(w);
      break;
    }
    run_timers(w, now);
    if (w->waitq_len && w->rate_next <= now) {
      waitq_run(w, now);
    }
    runq_run(w);
    if (w->nlive == 0) {
      break;
    }

    now = qsl_now();
    uint64_t wake = UINT64_MAX;
    struct qsl_timer *t = qsl_heap_top(&w->heap);
    if (t) {
      wake = t->at;
    }
    if (w->waitq_len && w->rate_next < wake) {
      wake = w->rate_next;
    }
    if (w->deadline && !w->stopping && w->deadline < wake) {
      wake = w->deadline;
    }
    if (w->hard_deadline < wake) {
      wake = w->hard_deadline;
    }
    struct timespec ts = {0, 0}, *tsp = NULL;
    if (w->runq_head) {
      tsp = &ts;
    } else if (wake != UINT64_MAX) {
      uint64_t d = wake > now ? wake - now : 0;
      ts.tv_sec = (time_t)(d / 1000000000ull);
      ts.tv_nsec = (long)(d % 1000000000ull);
      tsp = &ts;
    }
    int n = epoll_pwait2(w->ep, ev, QSL_EVENTS, tsp, NULL);
    if (n < 0 && errno != EINTR) {
      stop_all(w); /* cannot happen with a valid epoll fd */
      break;
    }
    for (int i = 0; i < n; i++) {
      if (!ev[i].data.ptr) {
        uint64_t v;
        ssize_t r = read(w->stopfd, &v, sizeof(v));
        (void)r;
        stop_all(w);
        break;
      }
      qsl_conn_on_readable(ev[i].data.ptr);
    }
  }
  w->t_end = qsl_now();
  return NULL;
}
