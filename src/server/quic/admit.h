/* admit.h: admission control for new QUIC connections, I/O-free.
 *
 * Every Initial that would create a connection asks qs_admit_decide first.
 * A worker keeps the gauge of its half-open handshakes and a rate window
 * of accepted connections here; its open connections (half-open included)
 * it counts anyway (qs_worker.nconns).  The decision, in this order:
 *
 *   1. open connections >= max_conns        -> QS_ADMIT_REFUSE_CONNS
 *   2. half-open handshakes >= max_handshakes -> QS_ADMIT_REFUSE_HANDSHAKES
 *   3. address not yet validated (no valid Retry or NEW_TOKEN token) and
 *      Retry wanted: mode always, or mode auto while the half-open gauge is
 *      at least retry_handshakes or this window already accepted
 *      retry_per_window connections                   -> QS_ADMIT_RETRY
 *   4. otherwise                                      -> QS_ADMIT_ACCEPT
 *
 * Refusals and Retry are stateless answers (io/stateless.c): a flood of
 * Initials that never completes costs one small packet each and nothing
 * held, and the refusals above the hard caps bound what a client that does
 * validate its address can make a worker hold.
 */
#ifndef QS_SERVER_ADMIT_H
#define QS_SERVER_ADMIT_H

#include <stddef.h>
#include <stdint.h>

enum qs_admit {
  QS_ADMIT_ACCEPT = 0,
  QS_ADMIT_RETRY = 1,
  QS_ADMIT_REFUSE_HANDSHAKES = 2,
  QS_ADMIT_REFUSE_CONNS = 3,
};

struct qs_admit_limits {
  int retry_mode;             /* enum qs_retry_mode (config.h) */
  size_t max_conns;           /* per worker, half-open included */
  size_t max_handshakes;      /* per worker */
  size_t retry_handshakes;    /* auto: Retry from this many half-open */
  uint64_t retry_per_window;  /* auto: Retry above this many accepts a window */
  uint64_t window;            /* the rate window, ns */
};

struct qs_admit_state {
  size_t handshakes; /* half-open: accepted, handshake not completed */
  uint64_t window_start;
  uint64_t in_window; /* connections accepted in the current window */
};

/* qs_admit_decide returns the enum qs_admit for a new Initial at |now|
 * (ns) while |conns| connections are open; |validated| is nonzero when it
 * carried a valid token.  It changes nothing but the rate window's
 * bookkeeping: the caller counts an accepted connection with
 * qs_admit_opened. */
int qs_admit_decide(const struct qs_admit_limits *l, struct qs_admit_state *s, size_t conns,
                    int validated, uint64_t now);

/* qs_admit_opened records an accepted connection (half-open from now). */
void qs_admit_opened(struct qs_admit_state *s);

/* qs_admit_established records that a half-open connection completed
 * its handshake. */
void qs_admit_established(struct qs_admit_state *s);

/* qs_admit_closed records that a connection went away; |half_open| says
 * whether it had not completed its handshake (else this is a no-op). */
void qs_admit_closed(struct qs_admit_state *s, int half_open);

#endif
