/* tcp.h: the TCP front: TLS over TCP on every listen address, HTTP/2
 * (h2.c) or HTTP/1.1 (h1front.c) by ALPN, into the same HTTP layer
 * (req.h) as HTTP/3.
 *
 * Each worker owns one SO_REUSEPORT listening socket per address (the
 * kernel spreads connections over them; a TCP connection never moves), and
 * accepts, handshakes and serves on its own loop.  The protocol code is a
 * struct qs_tcp_proto: it gets the decrypted octets (recv), writes what it
 * has into c->out (send, called whenever the connection is run) and says
 * when it has nothing in flight (idle: the keep-alive timer runs, a drain
 * closes it).  Output is bounded: a front produces more only while
 * c->out holds less than QS_TCP_OUT_HIGH octets (and is asked to once
 * less than a TLS record's worth is left).
 *
 * Limits: the TLS handshake must complete within conf->handshake_timeout,
 * an idle connection is closed after conf->idle_timeout, a worker holds at
 * most conf->max_conns (more are accepted and closed at once, counted);
 * the header timeout is the HTTP layer's (a request reset there closes an
 * HTTP/1.1 connection).
 *
 * Drain (graceful stop, takeover): the listening sockets close (a
 * successor's take new connections), every connection's proto->drain runs
 * (HTTP/2 GOAWAY; HTTP/1.1 closes when idle), and the worker counts its
 * TCP connections among those it waits for.
 */
#ifndef QS_SERVER_TCP_H
#define QS_SERVER_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>
#include <gnutls/gnutls.h>

#include "config.h"
#include "h1.h"
#include "quicsteer/steer_abi.h"
#include "req.h"
#include "tickets.h"
#include "tls.h"
#include "udp.h"

#define QS_TCP_OUT_HIGH (64 * 1024) /* produce more only below this */
#define QS_TCP_DEFAULT_MAX_CONNS 1024
#define QS_TCP_DEFAULT_IDLE_S 60.
#define QS_TCP_H2_MAX_STREAMS 100
#define QS_ALT_SVC_MAX QS_ALT_SVC_LEN

struct qs_tcp_conn;

struct qs_tcp_proto {
  const char *name;
  /* after the handshake; returns 0 or -1 */
  int (*start)(struct qs_tcp_conn *c);
  /* decrypted octets; returns 0, or -1 to close the connection */
  int (*recv)(struct qs_tcp_conn *c, const uint8_t *data, size_t len);
  /* write what is ready into c->out; returns 0, or -1 to close now */
  int (*send)(struct qs_tcp_conn *c);
  /* 1: no request in flight */
  int (*idle)(struct qs_tcp_conn *c);
  /* the worker drains */
  void (*drain)(struct qs_tcp_conn *c);
  void (*free)(struct qs_tcp_conn *c);
};

extern const struct qs_tcp_proto qs_h2_proto, qs_h1front_proto;

struct qs_tcp_conf {
  const struct qs_tls *tls;
  const struct qs_tickets *tickets; /* NULL: no tickets */
  double handshake_timeout, idle_timeout; /* seconds */
  unsigned max_conns;                    /* per worker */
  char alt_svc[QS_ALT_SVC_MAX];          /* "" : none */
  size_t alt_svc_len;
  size_t max_fields; /* as the HTTP layer's */
};

struct qs_tcp_worker;

struct qs_tcp_conn {
  struct qs_tcp_worker *t;
  int fd;
  gnutls_session_t tls;
  uint8_t hs_done, closing, want_close, dirty, draining;
  uint8_t rx_paused, rx_resume; /* qs_tcp_pause_rx */
  ev_io rio, wio;
  ev_timer timer; /* handshake, then idle */
  struct qs_buf out;
  size_t sending; /* octets given to gnutls_record_send that said EAGAIN */
  const struct qs_tcp_proto *proto;
  void *pdata;
  struct qs_tcp_conn *prev, *next, *next_dirty;
  struct sockaddr_storage peer;
  socklen_t peerlen;
};

struct qs_tcp_listener {
  int fd;
  ev_io io;
  struct qs_tcp_worker *t;
};

struct qs_tcp_worker {
  struct ev_loop *loop;
  struct qs_http_worker *hw;
  struct qs_wstats *st;
  const struct qs_tcp_conf *conf;
  unsigned index;
  struct qs_tcp_listener ls[QS_MAX_GROUPS];
  size_t nls;
  struct qs_tcp_conn *conns, *dirty;
  size_t nconns;
  int running, stopping;
};

/* qs_tcp_listen returns a non-blocking TCP socket with SO_REUSEPORT bound
 * to |addr| and listening, or -errno. */
int qs_tcp_listen(const struct sockaddr *addr, socklen_t len);

/* qs_tcp_worker_init takes the listening sockets |fds| (owned from now
 * on) and starts accepting on |loop|.  Returns 0 or -1. */
void qs_tcp_worker_init(struct qs_tcp_worker *t, struct ev_loop *loop, struct qs_http_worker *hw,
                        const struct qs_tcp_conf *conf, unsigned index, const int *fds,
                        size_t nfds);

/* qs_tcp_flush runs every connection marked dirty (after the HTTP layer's
 * own events: handlers resumed, requests reset). */
void qs_tcp_flush(struct qs_tcp_worker *t);

/* qs_tcp_drain stops accepting and drains every connection. */
void qs_tcp_drain(struct qs_tcp_worker *t);

/* qs_tcp_close_all closes every connection now (the drain deadline). */
void qs_tcp_close_all(struct qs_tcp_worker *t);

void qs_tcp_worker_free(struct qs_tcp_worker *t);

/* ---- for the protocol code ---- */

/* qs_tcp_mark queues |c| to be run at the next qs_tcp_flush. */
void qs_tcp_mark(struct qs_tcp_conn *c);

/* qs_tcp_pause_rx stops (|on|) or resumes reading |c|: a front holding
 * as much unparsed input as it will keep. */
void qs_tcp_pause_rx(struct qs_tcp_conn *c, int on);

/* qs_tcp_add_alt_svc appends the alt-svc field (if any) to a response. */
void qs_tcp_add_alt_svc(struct qs_tcp_conn *c, struct qs_fields *resp);

#endif
