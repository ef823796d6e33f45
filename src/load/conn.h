/* conn.h: one client connection slot: a QUIC connection (ngtcp2 + GnuTLS)
 * carrying HTTP/3 requests (nghttp3), and what happens between connections
 * (--new-conn, reconnects in --duration mode).
 *
 * A slot is created once per configured connection and reused; everything
 * a live connection needs that is not the libraries' own state (streams,
 * sockets, timer) is embedded, so the request path allocates nothing of
 * ours.
 */
#ifndef QSL_CONN_H
#define QSL_CONN_H

#include <stdint.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "heap.h"

struct qsl_worker;
struct qsl_conn;

/* a local UDP endpoint of a connection; epoll events point here */
struct qsl_sock {
  int fd; /* -1 when closed */
  struct qsl_conn *c;
  struct sockaddr_storage local;
  socklen_t locallen;
};

struct qsl_stream {
  int64_t id; /* -1: free */
  uint64_t t_sent;
  uint64_t body;
  uint64_t expect; /* --verify-bytes length, UINT64_MAX: unchecked */
  int status;
};

enum qsl_slot_state {
  QSL_SLOT_WAIT, /* between connections: start one when allowed */
  QSL_SLOT_RUN,  /* a connection is live */
  QSL_SLOT_DONE, /* no more work */
};

/* the path change (--rebind/--migrate) of the current connection */
enum qsl_switch {
  QSL_SW_OFF,         /* not asked for */
  QSL_SW_WAIT,        /* asked for, not yet due */
  QSL_SW_PENDING,     /* migration: path validation under way */
  QSL_SW_DONE,        /* rebound, or migrated to a validated path */
  QSL_SW_FAILED,      /* migration: validation failed */
  QSL_SW_UNAVAILABLE, /* could not be started */
};

struct qsl_conn {
  struct qsl_worker *w;
  uint32_t slot;
  enum qsl_slot_state state;
  uint64_t left; /* requests this slot may still send (--requests mode) */

  /* live connection */
  ngtcp2_conn *qc;
  gnutls_session_t tls;
  nghttp3_conn *h3;
  ngtcp2_crypto_conn_ref ref;
  struct qsl_sock sock[2]; /* [1]: the migration target */
  struct qsl_timer timer;
  uint64_t t_start, t_confirmed;
  uint64_t scan_at;    /* next per-request timeout scan */
  uint64_t sw_retry;   /* migration waiting for a spare server CID until then */
  uint64_t hold_until; /* --hold: idle until then; 0: not holding */
  enum qsl_switch sw;
  uint8_t hs_done, confirmed, first_resp, goaway, want_submit;
  uint8_t prepaid;  /* a rate token already paid for the next request */
  uint8_t reset_rx; /* the peer sent a stateless reset: never a graceful end */
  int cb_err;          /* error kind a callback failed with, or -1 */
  uint64_t cb_app_err; /* HTTP/3 code for CONNECTION_CLOSE after cb_err */
  uint32_t nactive;
  uint64_t nsent; /* requests sent on this connection */

  /* streams: K fixed entries and a stack of the free ones */
  struct qsl_stream *streams;
  uint32_t *free_idx;
  uint32_t nfree;

  /* worker queues */
  struct qsl_conn *run_next;
  uint8_t queued;  /* in the worker's run queue */
  uint8_t waiting; /* in the worker's rate-limit queue */
};

/* qsl_conn_init prepares slot |slot| of worker |w| (allocates its stream
 * table).  Returns 0 or -1. */
int qsl_conn_init(struct qsl_conn *c, struct qsl_worker *w, uint32_t slot);
void qsl_conn_free(struct qsl_conn *c);

/* qsl_conn_kick does whatever is due: start a connection for a waiting
 * slot, send new requests, write pending packets, re-arm the timer, close
 * a connection that has no work left. */
void qsl_conn_kick(struct qsl_conn *c);

/* events from the worker's loop */
void qsl_conn_on_readable(struct qsl_sock *s);
void qsl_conn_on_timer(struct qsl_conn *c);

/* qsl_conn_stop ends the slot now (interrupt, end of the --duration grace
 * period): requests in flight count as aborted. */
void qsl_conn_stop(struct qsl_conn *c);

#endif
