/* wstats.h: per-worker user-space counters, published for `quicsteer stat`.
 *
 * Each server process (generation) maps a file
 *   /run/quicsteer/NAME/gen-GENERATION.stats
 * holding a struct qs_wstats_file followed by one struct qs_wstats per
 * worker.  Workers update their own record with relaxed atomic adds (no
 * lock, no syscall on the packet path); readers take relaxed loads, so a
 * snapshot is per-counter consistent, which is all a rate display needs.
 * The file exists with or without BPF, so the CLI works in both modes.
 */
#ifndef QUICSTEER_WSTATS_H
#define QUICSTEER_WSTATS_H

#include <stdint.h>

#define QS_WSTATS_DIR "/run/quicsteer"
#define QS_WSTATS_MAGIC 0x71737773u /* "qsws" */
#define QS_WSTATS_VERSION 2 /* 2: 64 counters a record */

struct qs_wstats_file {
  uint32_t magic;
  uint32_t version;
  uint32_t pid;
  uint32_t generation;
  uint32_t nworkers;
  uint32_t steering; /* 1: kernel (BPF), 0: user space only */
  uint64_t started_unix_ms;
};

struct qs_wstats {
  uint64_t conns_open;      /* gauge */
  uint64_t conns_accepted;  /* handshakes started */
  uint64_t conns_completed; /* handshakes confirmed */
  uint64_t conns_closed;
  uint64_t streams_open; /* gauge */
  uint64_t requests;
  uint64_t bytes_rx; /* UDP payload octets */
  uint64_t bytes_tx;
  uint64_t dgrams_rx;
  uint64_t dgrams_tx;
  uint64_t fwd_out;      /* misrouted datagrams this worker passed to their owner */
  uint64_t fwd_in;       /* datagrams another worker passed to this one */
  uint64_t fwd_fail;     /* owner unknown or unreachable */
  uint64_t resets_tx;    /* stateless resets sent */
  uint64_t retry_tx;     /* Retry packets sent */
  uint64_t vneg_tx;      /* version negotiation packets sent */
  uint64_t drop_bad;     /* datagrams dropped as malformed (counted, not silent) */
  uint64_t migrations;   /* connections whose path changed */
  /* HTTP layer (src/server/http) */
  uint64_t http_header_too_large; /* request header sections over the bound: 431 */
  uint64_t http_header_timeout;   /* requests whose header section did not complete in time */
  uint64_t http_refused_dotfile;  /* paths with a dot segment, refused: 403 */
  uint64_t http_refused_special;  /* not a regular file (FIFO, device, socket): 403 */
  /* reverse proxy (http/proxy.c) */
  uint64_t proxy_requests;        /* requests routed to an upstream */
  uint64_t proxy_conns_new;       /* upstream connections opened */
  uint64_t proxy_conns_reused;    /* requests sent on a kept-alive connection */
  uint64_t proxy_refused;         /* connect refused or unreachable: 502 */
  uint64_t proxy_connect_timeout; /* 504 */
  uint64_t proxy_first_byte_timeout; /* 504 */
  uint64_t proxy_idle_timeout;    /* 504, or a reset once the response started */
  uint64_t proxy_bad_response;    /* malformed upstream response: 502 or reset */
  uint64_t proxy_upstream_died;   /* upstream closed mid-body: stream reset */
  uint64_t proxy_client_abort;    /* client reset its stream: upstream connection closed */
  uint64_t proxy_marked_down;     /* an upstream was put out of rotation (passive health) */
  uint64_t log_dropped;  /* access log lines dropped: buffer full or target failed */
  /* admission control (docs/server.md, "New connections") */
  uint64_t handshakes_open;    /* gauge: half-open connections */
  uint64_t refused_handshakes; /* CONNECTION_REFUSED: --max-handshakes reached */
  uint64_t refused_conns;      /* CONNECTION_REFUSED: --max-conns reached */
  uint64_t refused_stopping;   /* CONNECTION_REFUSED: the worker is stopping */
  uint64_t handshake_timeout;  /* half-open connections dropped at --handshake-timeout */
  uint64_t token_invalid;      /* bad Retry tokens, answered with INVALID_TOKEN */
  uint64_t new_token_tx;       /* address-validation tokens issued (NEW_TOKEN) */
  uint64_t token_accepted;     /* Initials whose NEW_TOKEN token validated them */
  uint64_t fwd_busy;     /* relayed datagrams dropped: the live owner's queue was full */
  uint64_t peers_refused; /* control/relay connections from another user, refused */
  /* TLS (src/server/quic/tickets.c, docs/tls.md) */
  uint64_t tls_full;       /* handshakes completed without resumption */
  uint64_t tls_resumed;    /* handshakes completed resuming a session ticket */
  uint64_t early_accepted; /* 0-RTT offered and accepted */
  uint64_t early_rejected; /* 0-RTT offered and refused (client resends in 1-RTT) */
  uint64_t early_deferred; /* unsafe requests in 0-RTT held until the handshake completed */
  uint64_t drop_foreign; /* short headers for another host's clear server ID: dropped */
  uint64_t http_send_timeout; /* responses reset: their body stalled (client not reading) */
  /* the TCP front (src/server/tcp, docs/server.md) */
  uint64_t tcp_conns_open;        /* gauge: TCP connections */
  uint64_t tcp_accepted;          /* TCP connections accepted */
  uint64_t tcp_refused;           /* closed at once: --max-tcp-conns reached (or no memory) */
  uint64_t tcp_handshake_fail;    /* TLS handshakes over TCP that failed */
  uint64_t tcp_handshake_timeout; /* TLS handshakes over TCP not done in --handshake-timeout */
  uint64_t tcp_idle_closed;       /* TCP connections closed idle after --idle-timeout */
  uint64_t http_sibling_stale;    /* precompressed siblings older than their file: ignored */
  uint64_t path_failed;   /* path validations that failed: the connection fell back to its old path */
  uint64_t pad[5];        /* room to grow without changing the record size */
};

#endif
