/* worker.h: one event-loop thread of quicsteer-load.  It owns a share of
 * the connection slots (slot i runs on thread i % T), an epoll set, a timer
 * heap, the batch I/O buffers, a rate limiter and its own statistics.
 */
#ifndef QSL_WORKER_H
#define QSL_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "conn.h"
#include "heap.h"
#include "opts.h"
#include "stats.h"
#include "tls.h"
#include "udp.h"

/* what the threads count together: --hold announces on stderr when every
 * slot holds an idle connection or has ended, so a script knows when to
 * measure the server */
struct qsl_shared {
  _Atomic uint32_t settled; /* slots holding, or ended without holding */
  _Atomic uint32_t held;    /* of which holding */
};

struct qsl_worker {
  uint32_t id;
  struct qsl_shared *shared; /* set by main before the threads start */
  const struct qsl_opts *o;
  const struct qsl_tls *tls;
  gnutls_priority_t prio; /* per thread: sessions reference it */
  int ep;                 /* epoll */
  int stopfd;             /* eventfd the main thread writes to stop us */
  pthread_t thread;

  struct qsl_conn *conns;
  uint32_t nconns;
  uint32_t nlive; /* slots not yet done */

  struct qsl_heap heap;
  struct qsl_tx tx;
  struct qsl_rx rx;
  uint64_t prng[2]; /* for ngtcp2's non-cryptographic randomness */
  uint8_t token[256]; /* --token: the last NEW_TOKEN token received */
  size_t tokenlen;
  gnutls_datum_t session; /* --resume: the first session ticket received (GnuTLS data) */
  uint64_t url_next;

  /* run queue: connections to kick before sleeping again */
  struct qsl_conn *runq_head, *runq_tail;

  /* rate limit: a token every rate_ns, a FIFO of slots waiting for one */
  uint64_t rate_ns;
  uint64_t rate_next;
  uint64_t rate_burst_ns;
  struct qsl_conn **waitq;
  uint32_t waitq_head, waitq_len;

  uint64_t t_begin;
  uint64_t deadline;      /* --duration: stop issuing requests */
  uint64_t hard_deadline; /* stop everything */
  int stopping;           /* no new requests or connections */

  struct qsl_stats st;
  struct qsl_live live;
  uint64_t t_end;
  int debug; /* QSL_DEBUG set: ngtcp2 logs to stderr */
};

/* monotonic clock in ns, the time base of ngtcp2 and of every statistic */
uint64_t qsl_now(void);

/* qsl_worker_init prepares worker |id| (of o->threads) with its slots:
 * slot i belongs to worker i % o->threads.  Returns 0 or -1. */
int qsl_worker_init(struct qsl_worker *w, uint32_t id, const struct qsl_opts *o,
                    const struct qsl_tls *tls);
void qsl_worker_free(struct qsl_worker *w);

/* qsl_worker_run is the thread body (arg: the worker, whose t_begin the
 * caller set to the common start time). */
void *qsl_worker_run(void *arg);

/* qsl_worker_stop asks the worker (from another thread) to stop now. */
void qsl_worker_stop(struct qsl_worker *w);

/* used by conn.c */
void qsl_worker_runq_push(struct qsl_worker *w, struct qsl_conn *c);
void qsl_worker_waitq_push(struct qsl_worker *w, struct qsl_conn *c);
int qsl_worker_take_token(struct qsl_worker *w, uint64_t now);
int qsl_worker_watch(struct qsl_worker *w, struct qsl_sock *s);
void qsl_worker_slot_done(struct qsl_worker *w);
/* qsl_worker_slot_settled: a slot started its --hold (|held|) or ended
 * without one */
void qsl_worker_slot_settled(struct qsl_worker *w, int held);

#endif
