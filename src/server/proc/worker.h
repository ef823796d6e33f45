/* worker.h: one worker thread: its own libev loop, its own UDP socket per
 * listen group (all workers' sockets for one address form one SO_REUSEPORT
 * group), its forwarding socket and its connection table.  Nothing on the
 * per-datagram path is shared with another worker.
 */
#ifndef QS_SERVER_WORKER_H
#define QS_SERVER_WORKER_H

#include <pthread.h>
#include <stdint.h>

#include <ev.h>
#include <ngtcp2/ngtcp2.h>

#include "accesslog.h"
#include "admit.h"
#include "cidtab.h"
#include "fwd.h"
#include "mpool.h"
#include "req.h"
#include "tcp.h"
#include "replay.h"
#include "quicsteer/steer_abi.h"
#include "quicsteer/wstats.h"
#include "udp.h"

struct qs_server;
struct qs_conn;

struct qs_sock {
  int fd;
  int group;
  union qs_sa bound;
  int wildcard; /* bound to the any address: replies name their source */
  ev_io rio;
  ev_io wio; /* armed while connections wait for room in the send buffer */
  struct qs_worker *w;
  struct qs_conn *blocked; /* connections waiting for room */
};

/* an accepted relay connection from another worker */
struct qs_fwd_peer {
  ev_io io;
  struct qs_worker *w;
  struct qs_fwd_peer *prev, *next;
};

/* a relay connection to a worker of another generation */
struct qs_fwd_out {
  uint16_t generation, worker;
  int fd;             /* -1: not connected */
  uint64_t retry_at;  /* after a failed connect: do not retry before */
};

#define QS_FWD_OTHER 16 /* cached connections to other generations' workers */

#define QS_CACHE_LINE 64

/* Workers sit side by side in one array: aligned to a cache line, the
 * hot writes at the end of one (dirty, dead, rate windows) never share a
 * line with the next one's fields read on every datagram (srv, loop). */
struct qs_worker {
  _Alignas(QS_CACHE_LINE) struct qs_server *srv;
  uint16_t index;
  uint32_t rk; /* routing key minted into this worker's CIDs */
  pthread_t thread;
  int started;
  struct ev_loop *loop;

  struct qs_sock socks[QS_MAX_GROUPS];
  size_t nsocks;
  int fwd_fd; /* listening relay socket */
  ev_io fwd_io;
  struct qs_fwd_name fwd_name;
  struct qs_fwd_peer *peers;                 /* relay connections to us */
  int *fwd_same;                             /* to worker i of our generation, or -1 */
  struct qs_fwd_out fwd_other[QS_FWD_OTHER]; /* to other generations */

  int stopfd; /* eventfd: the main thread asks for a graceful stop */
  ev_io stop_io;
  ev_timer goaway_timer;
  ev_timer deadline_timer;
  ev_async finish; /* every worker has drained: leave the loop */
  int stopping;
  int drained; /* stopping, and no connection left */

  /* key retirement (keys.h): the main thread asks for GOAWAY/close of the
   * connections still on a rotated-out key; and the quiescent-state count
   * telling it when no keyring pointer of ours can be old: odd while the
   * loop runs callbacks, even while it sleeps */
  ev_async kick;
  ev_prepare qs_prep;
  ev_check qs_check;
  uint32_t quiescent;

  struct qs_cidtab tab;
  struct qs_http_worker http; /* the HTTP layer: file cache, upstream pools */
  struct qs_tcp_worker tcp;   /* the TCP front (tcp.h) */
  int tcp_fds[QS_MAX_GROUPS]; /* its listening sockets until qs_worker_init */
  size_t ntcp;
  struct qs_mpool mem; /* ngtcp2's and nghttp3's allocator for this worker's connections */
  struct qs_accesslog_w alog; /* alog.on: --access-log */
  struct qs_replay replay; /* 0-RTT ClientHellos seen (unused with --no-early-data) */
  struct qs_wstats *st;
  struct qs_rxbatch rx;
  uint8_t *txbuf; /* QS_TX_BUF octets: one GSO batch */
  int gso_ok;

  struct qs_conn *conns; /* live connections */
  size_t nconns;
  struct qs_conn *dirty; /* to write after the current batch */
  struct qs_conn *dead;  /* to free at the end of the current event */

  /* rate limits over QS_RATE_WINDOW */
  uint64_t reset_window_start;
  unsigned resets_in_window;
  struct qs_admit_state admit; /* admit.h: half-open gauge, new-connection rate */
};

#define QS_RATE_WINDOW (100 * NGTCP2_MILLISECONDS)
#define QS_RESETS_PER_WINDOW 100 /* stateless resets: 1000/s per worker */

/* qs_worker_init prepares worker |index| (sockets already opened by the
 * caller are in w->socks, the forwarding socket in w->fwd_fd).  Returns 0
 * or -1. */
int qs_worker_init(struct qs_worker *w, struct qs_server *srv, uint16_t index);

/* qs_worker_start runs the worker's loop in a new thread. */
int qs_worker_start(struct qs_worker *w);

/* qs_worker_stop asks the worker (from another thread) to stop gracefully. */
void qs_worker_stop(struct qs_worker *w);

void qs_worker_join(struct qs_worker *w);

/* qs_worker_kick makes worker |w| act on srv->keys' retirement masks (any
 * thread). */
void qs_worker_kick(struct qs_worker *w);
void qs_worker_free(struct qs_worker *w);

/* qs_worker_on_datagram decides what to do with one datagram: process it
 * for a connection of this worker, relay it to its owner, start a new
 * connection, or answer it statelessly.  |forwarded| marks a datagram
 * another worker relayed here (never relayed again). */
void qs_worker_on_datagram(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *data,
                           size_t len, int forwarded);

/* qs_worker_send_raw sends one datagram outside any connection (stateless
 * answers) from the socket of d->group.  Returns 0 or -errno. */
int qs_worker_send_raw(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *buf,
                       size_t len);

/* qs_worker_flush writes every connection marked dirty. */
void qs_worker_flush(struct qs_worker *w);

/* qs_worker_mark_dirty queues |c| for qs_conn_write after the batch. */
void qs_worker_mark_dirty(struct qs_worker *w, struct qs_conn *c);

/* qs_worker_block queues |c| until the socket of its group has room. */
void qs_worker_block(struct qs_worker *w, struct qs_conn *c);

/* qs_worker_mint writes a fresh CID for this worker into |cid|. */
int qs_worker_mint(struct qs_worker *w, ngtcp2_cid *cid);

/* qs_worker_mint_handshake writes a fresh handshake CID (marked, with its
 * mint time: lb_types.h) for the SCID of a Retry or of the server's first
 * Initial, the DCIDs a client's later Initials carry: only such a CID, while
 * fresh, steers an Initial to this worker. */
int qs_worker_mint_handshake(struct qs_worker *w, ngtcp2_cid *cid);

/* qs_worker_rand fills |buf| from GnuTLS's CSPRNG (GNUTLS_RND_NONCE, a
 * per-thread generator seeded from the kernel): every random bit a peer
 * sees (ngtcp2's rand callback, stateless reset padding and length, the
 * Version Negotiation first octet) must not let it predict the next. */
void qs_worker_rand(struct qs_worker *w, uint8_t *buf, size_t len);

/* qs_worker_reap frees connections that died during the current event and
 * ends the loop when a stopping worker has none left. */
void qs_worker_reap(struct qs_worker *w);

#endif
