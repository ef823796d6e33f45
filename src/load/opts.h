/* opts.h: quicsteer-load's command line, parsed into one read-only struct
 * that every worker thread shares.
 */
#ifndef QSL_OPTS_H
#define QSL_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <nghttp3/nghttp3.h>

#define QSL_MAX_URLS 64
#define QSL_MAX_CONNECTIONS 100000
#define QSL_MAX_STREAMS 1000
#define QSL_MAX_THREADS 256
#define QSL_NV_COUNT 5 /* :method :scheme :authority :path user-agent */
#define QSL_MAX_HEADERS 16 /* --header fields added to every request */

/* One request target.  All URLs of a run share one origin (host, port), so
 * any connection can carry any of them. */
struct qsl_url {
  char *text;      /* as given */
  char *host;      /* without brackets */
  char *authority; /* host[:port] as sent in :authority */
  char *path;      /* path and query, never empty */
  uint16_t port;
  uint64_t bytes_n; /* N of a /bytes/N path, or UINT64_MAX */
  nghttp3_nv nv[QSL_NV_COUNT + QSL_MAX_HEADERS];
  size_t nnv; /* QSL_NV_COUNT + the --header fields */
};

struct qsl_opts {
  struct qsl_url urls[QSL_MAX_URLS];
  size_t nurls;
  uint32_t connections; /* concurrent connection slots */
  uint64_t requests;    /* per slot, unless duration_ns */
  uint64_t duration_ns; /* 0: request-count mode */
  uint32_t streams;     /* concurrent requests per connection */
  int new_conn;         /* one connection per request */
  int rebind;           /* NAT rebinding: new local port, same DCID */
  int migrate;          /* active migration: validated path, new DCID */
  double rate;          /* new requests per second over all threads; 0: none */
  uint32_t threads;
  uint64_t initial_rtt_ns;
  uint64_t timeout_ns; /* handshake, idle and per-request limit */
  uint64_t hold_ns;    /* --hold: keep a slot's last connection open idle this long */
  int token;           /* --token: present the last NEW_TOKEN token in new Initials */
  char hname[QSL_MAX_HEADERS][64]; /* --header: lower-cased names */
  const char *hvalue[QSL_MAX_HEADERS]; /* their values (in argv) */
  size_t nheaders;
  int resume;          /* --resume: resume the thread's first TLS session ticket */
  int json;
  int latency_hist; /* --latency-hist: the histogram in the JSON report */
  const char *dump_path; /* --dump: responses written to this file */
  FILE *dump;            /* opened by main before the workers start */
  int verify_bytes;
  int verify_cert; /* --verify or --cacert */
  const char *cacert;
  int progress; /* live line on stderr: -1 auto (TTY), 0 off, 1 on */
  /* resolved once, shared by every connection */
  struct sockaddr_storage remote;
  socklen_t remotelen;
  int sni; /* send the host as SNI (not for IP literals) */
};

enum qsl_opts_result {
  QSL_OPTS_RUN = 0,
  QSL_OPTS_HELP = 1,
  QSL_OPTS_VERSION = 2,
  QSL_OPTS_USAGE = -1, /* |err| holds one line */
};

/* qsl_opts_parse fills |o| from argv (getopt_long; it resets optind).  URLs
 * are parsed but not resolved.  Returns an enum qsl_opts_result; on
 * QSL_OPTS_USAGE |err| (|errlen| octets) says what is wrong. */
int qsl_opts_parse(struct qsl_opts *o, int argc, char **argv, char *err, size_t errlen);

/* qsl_opts_resolve resolves the origin host once into o->remote.  Returns 0
 * or -1 with |err| filled. */
int qsl_opts_resolve(struct qsl_opts *o, char *err, size_t errlen);

/* qsl_opts_free releases what qsl_opts_parse allocated. */
void qsl_opts_free(struct qsl_opts *o);

/* qsl_url_parse parses an https URL into |u| (strings are heap copies).
 * Returns 0 or -1 with |err| filled. */
int qsl_url_parse(struct qsl_url *u, const char *text, char *err, size_t errlen);

void qsl_url_free(struct qsl_url *u);

/* qsl_opts_usage writes the --help text to |fp|. */
void qsl_opts_usage(FILE *fp);

#endif
