/* server.h: what all workers of one quicsteer-server process share.
 *
 * Everything here is set up by the main thread before the workers start
 * and only read afterwards (the stats records are each written by their own
 * worker), so the per-packet path takes no lock.
 */
#ifndef QS_SERVER_SERVER_H
#define QS_SERVER_SERVER_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <ngtcp2/ngtcp2.h>

#include "accesslog.h"
#include "admit.h"
#include "config.h"
#include "http.h"
#include "proxy.h"
#include "req.h"
#include "quicsteer/lb.h"
#include "quicsteer/reset.h"
#include "quicsteer/steer.h"
#include "stats.h"
#include "tcp.h"
#include "tickets.h"
#include "tls.h"
#include "keys.h"
#include "token.h"
#include "udp.h"

struct qs_worker;

struct qs_server {
  const struct qs_config *cfg;
  struct qs_tls tls;
  struct qs_secret secret;
  int shared_secret; /* from --secret-file: other generations derive the same keys */
  struct qs_token_key token_key;
  struct qs_tickets tickets; /* tickets.h: shared by every worker and generation */
  struct qs_keys keys; /* keys.h: workers read qs_keys_current(&srv->keys) */
  uint32_t cidlen;
  uint16_t generation;
  struct qs_docroot root;
  struct qs_proxy_table *proxy; /* NULL: no --proxy */
  struct qs_http_conf http_conf;
  struct qs_tcp_conf tcp_conf; /* the TCP front (tcp.h) */
  struct qs_accesslog alog; /* fd -1: none */
  struct qs_steer *steer; /* NULL: steering in user space */
  struct qs_stats stats;
  struct qs_worker *workers;
  unsigned nworkers;
  size_t ngroups;
  union qs_sa group_addr[QS_MAX_GROUPS]; /* bound addresses, port resolved */
  ngtcp2_duration initial_rtt;
  ngtcp2_duration handshake_timeout;
  struct qs_admit_limits admit; /* admit.h, from the options */

  /* graceful stop: workers still holding connections; the last one to
   * reach zero ends every worker's loop (an idle worker keeps refusing new
   * connections until then, since its socket still receives datagrams) */
  unsigned draining;
  /* set before the workers are told to stop, when a successor generation
   * took over: a new client reaching a stopping worker is relayed there.
   * A newer successor replaces it (takeovers in a row while we drain). */
  uint16_t successor;          /* generation, 0 = none (atomic) */
  uint32_t successor_gw;       /* atomic: generation << 16 | its workers, read as one */
  uint64_t successor_hash[2];  /* SipHash key spreading them (any fixed key) */

  /* worker start-up handshake */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  unsigned nready;
  int start_failed;
};

/* qs_now returns CLOCK_MONOTONIC in nanoseconds (ngtcp2's clock). */
uint64_t qs_now(void);

#endif
