/* config.h: quicsteer-server's command line, parsed into one struct. */
#ifndef QS_SERVER_CONFIG_H
#define QS_SERVER_CONFIG_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "quicsteer/lb.h"
#include "quicsteer/steer_abi.h"

#define QS_DEFAULT_PORT 4433
#define QS_DEFAULT_INITIAL_RTT_MS 100
#define QS_DEFAULT_DRAIN_TIMEOUT_S 5.0
#define QS_DEFAULT_IDLE_TIMEOUT_S 30
#define QS_DEFAULT_KEY_RETIRE_S 600.0
#define QS_DEFAULT_RETRY_AUTO_RATE 1000 /* new connections per second per worker */
/* admission control, per worker (docs/server.md, "New connections") */
#define QS_DEFAULT_MAX_HANDSHAKES 512
#define QS_DEFAULT_RETRY_AUTO_HANDSHAKES 128
#define QS_DEFAULT_MAX_CONNS 4096
#define QS_DEFAULT_HANDSHAKE_TIMEOUT_S 5.0
#define QS_DEFAULT_TICKET_LIFETIME_S 21600
#define QS_MAX_TICKET_LIFETIME_S 604800 /* RFC 8446 s4.6.1 */
#define QS_NAME_MAX 64
#define QS_PROXY_ARGS 64             /* --proxy options */
#define QS_DEFAULT_MAX_HEADER 16384  /* request header section, octets */
#define QS_DEFAULT_HEADER_TIMEOUT_S 10.0
#define QS_DEFAULT_SEND_TIMEOUT_S 60.0
#define QS_DEFAULT_MAX_TCP_CONNS 1024
#define QS_ALT_SVC_LEN 256 /* --alt-svc value bound, octets */
#define QS_DEFAULT_PROXY_CONNECT_TIMEOUT_S 5.0
#define QS_DEFAULT_PROXY_FIRST_BYTE_TIMEOUT_S 60.0
#define QS_DEFAULT_PROXY_IDLE_TIMEOUT_S 60.0
#define QS_DEFAULT_PROXY_POOL_IDLE 32 /* per upstream and worker */
#define QS_DEFAULT_PROXY_POOL_MAX 128

enum qs_retry_mode {
  QS_RETRY_NEVER = 0,
  QS_RETRY_ALWAYS = 1,
  QS_RETRY_AUTO = 2,
};

struct qs_listen {
  struct sockaddr_storage addr;
  socklen_t addrlen;
  char text[64]; /* as given, for messages */
};

struct qs_config {
  struct qs_listen listen[QS_MAX_GROUPS];
  size_t nlisten;
  unsigned workers;
  const char *cert;
  const char *key;
  const char *root;
  const char *name;
  int no_bpf;
  int no_forward; /* benchmarks only: drop what plain SO_REUSEPORT misroutes */
  unsigned initial_rtt_ms;
  int retry;
  unsigned retry_auto_rate;
  unsigned retry_auto_handshakes;
  unsigned max_handshakes;
  unsigned max_conns;
  double handshake_timeout;
  const char *qlog_dir;
  uint8_t host_id[QS_LB_MAX_SID]; /* --server-id; at most QS_HOST_ID_MAX fit a CID */
  size_t host_id_len;
  int sid_mode; /* enum qs_sid_mode */
  uint8_t cr_allowed; /* --codepoints: bit cr set if this server may mint with cr (0x7f: all) */
  const char *secret_file;
  int log_level;
  int have_metrics;
  struct qs_listen metrics;
  int takeover;
  int detach; /* fork; the parent exits 0 once the child serves */
  double drain_timeout;
  unsigned idle_timeout_s;
  const char *conf; /* --conf FILE */
  int check_config;
  const char *access_log; /* NULL: none; "-": standard error */
  int access_log_format;  /* QS_ACCESS_LOG_* */
  struct qs_config_src *src; /* where each value came from (config.c) */
  /* HTTP layer and reverse proxy (docs/proxy.md) */
  const char *proxy[QS_PROXY_ARGS]; /* PREFIX=URL[,URL...] as given */
  size_t nproxy;
  double proxy_connect_timeout, proxy_first_byte_timeout, proxy_idle_timeout; /* seconds */
  unsigned proxy_pool_idle, proxy_pool_max;
  size_t max_header_size;
  double header_timeout; /* seconds */
  double send_timeout;   /* seconds */
  int serve_dotfiles;
  int no_precompressed; /* --no-precompressed: no .br/.gz siblings */
  int bytes_endpoint;
  const char *user;    /* --user: run as this user once set up (NULL: stay) */
  double key_retire_s; /* --key-retire: latest retirement of a rotated-out key */
  unsigned ticket_lifetime_s;
  int no_early_data;
  /* the TCP front (docs/server.md, "TCP") */
  int no_tcp;
  const char *alt_svc; /* NULL: h3=":PORT"; ma=86400; "": none */
  const char *cache_control; /* static files' cache-control field; NULL: none */
  unsigned max_tcp_conns;
};

enum { QS_ACCESS_LOG_COMBINED = 0, QS_ACCESS_LOG_JSON = 1 };

enum {
  QS_CONFIG_OK = 0,
  QS_CONFIG_EXIT = 1,  /* --help or --version printed: exit 0 */
  QS_CONFIG_USAGE = 2, /* bad command line: message printed, exit 2 */
};

/* qs_config_parse fills |cfg| from the command line and the --conf file
 * it names (conffile.h): the file's settings count as if given where
 * --conf stands, so later options override them and earlier ones are
 * overridden.  Returns QS_CONFIG_*; on QS_CONFIG_USAGE the errors were
 * printed (qs_config_report): every bad file line as "FILE:LINE: message",
 * then the first command-line error as "quicsteer-server: message".  Free
 * with qs_config_free, whatever it returned. */
int qs_config_parse(struct qs_config *cfg, int argc, char **argv);
void qs_config_free(struct qs_config *cfg);

/* qs_config_options returns the getopt_long table (NULL-terminated): every
 * long option, and so every key of the file. */
const struct option *qs_config_options(void);

/* qs_config_check (--check-config) tries what start-up will do with the
 * files named: certificate, key, document root, secret file readable,
 * qlog directory and access log writable.  Records each problem (see
 * qs_config_complain) and returns how many. */
size_t qs_config_check(struct qs_config *cfg);

/* qs_config_line returns the file line that set option |key| (long name),
 * or 0 if it was not set by the file. */
unsigned qs_config_line(const struct qs_config *cfg, const char *key);

/* qs_config_complain records a problem with the value of option |key|
 * (NULL: not about one option), reported at its file line. */
void qs_config_complain(struct qs_config *cfg, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* qs_config_complain_value is qs_config_complain for the occurrence of a
 * repeatable option whose value is |value| (a pointer cfg holds, such as
 * cfg->proxy[i]): reported at the line that gave it. */
void qs_config_complain_value(struct qs_config *cfg, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* qs_config_nerrors / qs_config_error: the problems recorded, error |i|
 * with its file line (0: not from the file); sorted once reported. */
size_t qs_config_nerrors(const struct qs_config *cfg);
const char *qs_config_error(const struct qs_config *cfg, size_t i, unsigned *line);

/* qs_config_report prints the recorded problems on stderr, in file line
 * order, and returns how many there are. */
size_t qs_config_report(struct qs_config *cfg);

/* qs_addr_parse parses "ADDR:PORT", "[V6ADDR]:PORT" or "*:PORT" into |out|.
 * Returns 0 or -1. */
int qs_addr_parse(struct qs_listen *out, const char *text);

/* qs_addr_format writes |sa| as "1.2.3.4:443" or "[::1]:443". */
const char *qs_addr_format(char *buf, size_t len, const struct sockaddr *sa);

#endif
