/* conn.h: one QUIC connection (ngtcp2 + GnuTLS) owned by one worker.
 *
 * Lifetime: qs_conn_accept creates it from a client Initial; it is OPEN
 * until an error, an idle timeout or a shutdown, then CLOSING (we sent
 * CONNECTION_CLOSE and repeat it to late packets) or DRAINING (the peer
 * closed), each for three PTOs, then DEAD: unlinked from every table and
 * freed by the worker at the end of the current event (qs_worker_reap), so
 * that no callback ever sees freed memory.
 */
#ifndef QS_SERVER_CONN_H
#define QS_SERVER_CONN_H

#include <stdio.h>

#include <ev.h>
#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "udp.h"

struct qs_worker;
struct qs_stream;

enum qs_conn_state {
  QS_CONN_OPEN = 0,
  QS_CONN_CLOSING,
  QS_CONN_DRAINING,
  QS_CONN_DEAD,
};

struct qs_conn {
  struct qs_worker *w;
  ngtcp2_conn *q;
  gnutls_session_t tls;
  ngtcp2_crypto_conn_ref ref;
  nghttp3_conn *h3;
  int state;
  int group; /* listen group: the socket replies leave from */
  ev_timer timer;

  /* connection IDs that map to this connection in the worker's table */
  ngtcp2_cid initial_dcid; /* the client's DCID in its first Initial */
  ngtcp2_cid *cids;
  size_t ncids, capcids;

  ngtcp2_connection_close_error ccerr;
  int ccerr_set;

  /* CLOSING: the CONNECTION_CLOSE datagram, repeated to late packets */
  uint8_t *closebuf;
  size_t closelen;
  unsigned close_rx, close_next;

  /* datagrams ngtcp2 produced that the socket refused (EAGAIN) */
  uint8_t *pend;
  size_t pendlen, pendgso;
  union qs_sa pend_local, pend_remote;
  socklen_t pend_remotelen;
  uint8_t pend_ecn;
  int blocked;
  struct qs_conn *next_blocked;

  struct qs_conn *prev, *next; /* worker's list of live connections */
  struct qs_conn *next_dirty;  /* worker's list of connections to write */
  int dirty;
  struct qs_conn *next_dead;

  /* HTTP/3 requests */
  struct qs_stream *streams;
  size_t nreq;
  struct qs_stream *resume;  /* streams whose data was acked while blocked */
  struct qs_stream *failed;  /* streams whose file could not be read */
  int goaway;                /* 1: shutdown notice sent, 2: final GOAWAY sent */
  int handshake_done;
  int early_offered; /* the ClientHello announced 0-RTT */

  FILE *qlog;
};

/* qs_conn_admit decides what becomes of a client Initial |data| (|hd| its
 * decoded header, from ngtcp2_accept) for an unknown DCID, received as |d|:
 * it checks the token (Retry or NEW_TOKEN), asks the admission policy
 * (admit.h) and answers with a stateless Retry or refusal, or accepts the
 * connection with qs_conn_accept.  Everything it does is counted. */
void qs_conn_admit(struct qs_worker *w, const struct qs_dgram *d, const ngtcp2_pkt_hd *hd,
                   const uint8_t *data, size_t len);

/* qs_conn_accept creates a connection for the client Initial |data| (|hd|
 * its decoded header) received as |d|.  |odcid| is the original DCID a
 * valid Retry token vouched for, or NULL; |validated| is nonzero when a
 * token (Retry or NEW_TOKEN) proved the client address.  The datagram is
 * processed.  Returns 0 or -1 (the datagram is dropped). */
int qs_conn_accept(struct qs_worker *w, const struct qs_dgram *d, const ngtcp2_pkt_hd *hd,
                   const ngtcp2_cid *odcid, int validated, const uint8_t *data, size_t len);

/* qs_conn_recv processes one datagram for |c| and marks it for writing. */
void qs_conn_recv(struct qs_conn *c, const struct qs_dgram *d, const uint8_t *data, size_t len);

/* qs_conn_write sends what ngtcp2 and nghttp3 have, paced, and re-arms the
 * connection's timer. */
void qs_conn_write(struct qs_conn *c);

/* qs_conn_resume_tx retries datagrams the socket refused.  Returns 0 when
 * nothing is pending any more, -1 if the socket is still full. */
int qs_conn_resume_tx(struct qs_conn *c);

/* qs_conn_shutdown starts a graceful stop: |final| 0 sends the HTTP/3
 * shutdown notice (GOAWAY), 1 the final GOAWAY; a connection without
 * requests in flight is then closed. */
void qs_conn_shutdown(struct qs_conn *c, int final);

/* qs_conn_close sends CONNECTION_CLOSE (H3_NO_ERROR, or NO_ERROR before
 * HTTP/3 started) and frees the connection. */
void qs_conn_close_now(struct qs_conn *c);

/* qs_conn_kill frees the connection at once, silently. */
void qs_conn_kill(struct qs_conn *c);

/* qs_conn_free releases a DEAD connection's memory (qs_worker_reap). */
void qs_conn_free(struct qs_conn *c);

/* qs_conn_add_cid / qs_conn_remove_cid keep the worker's table and the
 * connection's own list in step.  Return 0 or -1. */
int qs_conn_add_cid(struct qs_conn *c, const ngtcp2_cid *cid);
void qs_conn_remove_cid(struct qs_conn *c, const ngtcp2_cid *cid);

/* qs_conn_early_context writes the transport parameters a client keeps
 * for 0-RTT, as the session ticket key's context (tickets.h): a process
 * with other limits cannot resume the tickets of this one. */
#define QS_EARLY_CTX_LEN 64
struct qs_server;
void qs_conn_early_context(const struct qs_server *srv, uint8_t out[QS_EARLY_CTX_LEN]);

/* ---- between conn.c and conn_tx.c ---- */

/* qs_conn_send sends |len| octets (segments of |gso|) on |path| from the
 * socket of c's group.  Returns 0, or -1 when the socket is full: the rest
 * waits in c->pend and the connection is blocked. */
int qs_conn_send(struct qs_conn *c, const ngtcp2_path *path, uint8_t ecn, const uint8_t *buf,
                 size_t len, size_t gso);

/* qs_conn_close_err closes |c| for ngtcp2 error |liberr| (0: c->ccerr is
 * set) with CONNECTION_CLOSE and enters the closing period. */
void qs_conn_close_err(struct qs_conn *c, int liberr);

/* qs_conn_arm_timer sets c's timer to ngtcp2's next expiry. */
void qs_conn_arm_timer(struct qs_conn *c);

/* qs_conn_set_app_error records an HTTP/3 connection error for the
 * CONNECTION_CLOSE that follows a failed callback. */
void qs_conn_set_app_error(struct qs_conn *c, int h3_liberr);

#endif
