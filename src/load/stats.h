/* stats.h: what quicsteer-load measures.  Each worker thread owns one
 * struct qsl_stats (single writer, no locking); the main thread merges them
 * after joining.  The few numbers the live progress line shows are mirrored
 * in struct qsl_live with relaxed atomics.
 */
#ifndef QSL_STATS_H
#define QSL_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "opts.h"

/* Log-linear histogram of nanosecond values: exact below 128, then 64
 * buckets per power of two (relative error < 1.6%) up to 2^41 ns (~36 min).
 * Fixed size, so memory does not grow with the run. */
#define QSL_HIST_SUB 64
#define QSL_HIST_MAXBIT 41
#define QSL_HIST_BUCKETS ((QSL_HIST_MAXBIT - 5) * QSL_HIST_SUB)

struct qsl_hist {
  uint64_t count;
  uint64_t sum;
  uint64_t min;
  uint64_t max;
  uint64_t b[QSL_HIST_BUCKETS];
};

void qsl_hist_init(struct qsl_hist *h);
void qsl_hist_add(struct qsl_hist *h, uint64_t v);
void qsl_hist_merge(struct qsl_hist *dst, const struct qsl_hist *src);
/* qsl_hist_quantile returns the value at quantile |q| (0..1]: the upper
 * edge of the bucket holding that rank, capped at the exact maximum; 0 when
 * empty. */
uint64_t qsl_hist_quantile(const struct qsl_hist *h, double q);
/* bucket mapping, exposed for the unit test */
unsigned qsl_hist_index(uint64_t v);
uint64_t qsl_hist_upper(unsigned idx);

/* Error kinds.  Connection-level kinds count connections (each failed
 * connection is charged exactly one kind); request-level kinds count
 * requests.  docs/load.md lists them. */
enum qsl_err {
  /* connection level */
  QSL_ERR_CONNECT,           /* no socket / connect() failed */
  QSL_ERR_HANDSHAKE_TIMEOUT, /* no completed handshake within --timeout */
  QSL_ERR_HANDSHAKE_FAILED,  /* TLS alert, close during handshake, no h3 ALPN */
  QSL_ERR_IDLE_TIMEOUT,      /* idle timeout after the handshake */
  QSL_ERR_CONN_CLOSED,       /* peer CONNECTION_CLOSE / stateless reset with work left */
  QSL_ERR_PROTOCOL,          /* local ngtcp2/nghttp3 error */
  QSL_ERR_AFTER_REBIND,      /* any of the above after a --rebind */
  QSL_ERR_AFTER_MIGRATION,   /* any of the above after a --migrate */
  /* request level */
  QSL_ERR_STREAM_RESET,  /* stream closed before the response ended */
  QSL_ERR_HTTP_STATUS,   /* complete response, status not 2xx */
  QSL_ERR_BODY_LENGTH,   /* --verify-bytes mismatch */
  QSL_ERR_REQ_TIMEOUT,   /* no complete response within --timeout */
  QSL_ERR_ABORTED,       /* in flight when its connection failed */
  QSL_ERR__MAX,
};

extern const char *const qsl_err_names[QSL_ERR__MAX];

/* a path change (--rebind or --migrate) and its outcome */
struct qsl_switch_stats {
  uint64_t attempted;   /* path change done (rebind) or validation started */
  uint64_t validated;   /* --migrate: path validation succeeded */
  uint64_t completed;   /* switched and then finished all its work cleanly */
  uint64_t failed;      /* switched but did not complete */
  uint64_t unavailable; /* handshake done but the change could not be made */
};

#define QSL_STATUS_MIN 100
#define QSL_STATUS_MAX 599

struct qsl_stats {
  uint64_t conns_started;
  uint64_t handshakes; /* completed */
  uint64_t conns_failed;
  uint64_t conns_held; /* --hold: connections that went idle for the hold */
  uint64_t retry_rx;     /* Retry packets followed */
  uint64_t new_token_rx; /* NEW_TOKEN frames received */
  uint64_t token_sent;   /* --token: connections that presented one */
  uint64_t resumed;      /* handshakes that resumed a session ticket */
  uint64_t req_sent;
  uint64_t req_ok;
  uint64_t req_failed;
  uint64_t req_not_sent; /* planned in --requests mode, never sent */
  uint64_t body_bytes;
  uint64_t err[QSL_ERR__MAX];
  uint64_t status[QSL_STATUS_MAX - QSL_STATUS_MIN + 1];
  uint64_t status_other;
  struct qsl_switch_stats rebind;
  struct qsl_switch_stats migrate;
  /* UDP I/O */
  uint64_t dgrams_sent, bytes_sent, send_calls, gso_sends, send_drops;
  uint64_t dgrams_recv, bytes_recv, recv_calls;
  struct qsl_hist latency;   /* request sent .. response end */
  struct qsl_hist handshake; /* first packet .. handshake completed */
};

void qsl_stats_init(struct qsl_stats *s);
void qsl_stats_merge(struct qsl_stats *dst, const struct qsl_stats *src);
/* qsl_stats_failed says whether the run failed (exit status 1): any error,
 * an unsent planned request, a path change that did not complete, or no
 * successful request at all. */
int qsl_stats_failed(const struct qsl_stats *s);

struct qsl_live {
  _Atomic uint64_t req_ok;
  _Atomic uint64_t req_failed;
  _Atomic uint64_t body_bytes;
  _Atomic uint64_t handshakes;
  _Atomic uint64_t conns_failed;
};

/* single writer: a relaxed load+store is enough and avoids a locked add */
static inline void qsl_live_add(_Atomic uint64_t *a, uint64_t n) {
  atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
                        memory_order_relaxed);
}

static inline uint64_t qsl_live_get(_Atomic uint64_t *a) {
  return atomic_load_explicit(a, memory_order_relaxed);
}

/* reports; |elapsed_ns| is the wall time of the run */
void qsl_report_text(FILE *fp, const struct qsl_stats *s, const struct qsl_opts *o,
                     uint64_t elapsed_ns);
void qsl_report_json(FILE *fp, const struct qsl_stats *s, const struct qsl_opts *o,
                     uint64_t elapsed_ns);

#endif
