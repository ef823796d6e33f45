/* config.c: command-line parsing (getopt_long) and address helpers. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

#include "log.h"
#include "quicsteer/util.h"

#ifndef QS_DEFAULT_ROOT
#define QS_DEFAULT_ROOT "www"
#endif

static const char usage_text[] =
    "Usage: quicsteer-server [OPTION]... --cert FILE --key FILE\n"
    "HTTP/3 server whose workers own their QUIC connections, with datagrams\n"
    "steered to the owner in the kernel (BPF) or forwarded in user space.\n"
    "\n"
    "  -l, --listen ADDR:PORT   listen address, repeatable (up to 4); IPv6 as\n"
    "                           [ADDR]:PORT; port 0 picks a free port.\n"
    "                           Default: [::]:4433 (IPv6 only) and 0.0.0.0:4433\n"
    "  -w, --workers N          worker threads (default: one per online CPU)\n"
    "  -c, --cert FILE          certificate chain, PEM\n"
    "  -k, --key FILE           private key of the certificate, PEM\n"
    "  -r, --root DIR           document root (default: the bundled demo site)\n"
    "  -n, --name NAME          instance name, [A-Za-z0-9_.-]{1,64} (default: default)\n"
    "      --no-bpf             do not steer in the kernel; forward in user space\n"
    "      --initial-rtt MS     initial RTT estimate in milliseconds (default: 100)\n"
    "      --retry MODE         never | always | auto (default: never)\n"
    "      --retry-auto-rate N  with --retry auto: new connections per second and\n"
    "                           worker above which Retry is sent (default: 1000)\n"
    "      --qlog-dir DIR       write one qlog file per connection into DIR\n"
    "      --host-id HEX        host ID carried in connection IDs, 1-11 octets\n"
    "                           (default: 0001)\n"
    "      --secret-file FILE   static secret (>= 16 octets, raw or hex) for reset\n"
    "                           tokens, Retry tokens and CID keys (default: random)\n"
    "      --log-level LEVEL    error | warn | info | debug (default: info)\n"
    "      --metrics ADDR:PORT  serve Prometheus text on this TCP address\n"
    "      --takeover           join a running instance NAME as its successor\n"
    "      --drain-timeout S    seconds to finish requests on SIGTERM (default: 5)\n"
    "      --idle-timeout S     close connections idle for S seconds (default: 30)\n"
    "      --detach             return once the server serves (for systemd reload)\n"
    "      --no-forward         do not relay datagrams of other workers' connections\n"
    "                           (benchmarks: behave like plain SO_REUSEPORT)\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the version and exit\n";

enum {
  OPT_NO_BPF = 256,
  OPT_INITIAL_RTT,
  OPT_RETRY,
  OPT_RETRY_AUTO_RATE,
  OPT_QLOG_DIR,
  OPT_HOST_ID,
  OPT_SECRET_FILE,
  OPT_LOG_LEVEL,
  OPT_METRICS,
  OPT_TAKEOVER,
  OPT_DRAIN_TIMEOUT,
  OPT_NO_FORWARD,
  OPT_DETACH,
  OPT_IDLE_TIMEOUT,
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"workers", required_argument, NULL, 'w'},
    {"cert", required_argument, NULL, 'c'},
    {"key", required_argument, NULL, 'k'},
    {"root", required_argument, NULL, 'r'},
    {"name", required_argument, NULL, 'n'},
    {"no-bpf", no_argument, NULL, OPT_NO_BPF},
    {"initial-rtt", required_argument, NULL, OPT_INITIAL_RTT},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"retry-auto-rate", required_argument, NULL, OPT_RETRY_AUTO_RATE},
    {"qlog-dir", required_argument, NULL, OPT_QLOG_DIR},
    {"host-id", required_argument, NULL, OPT_HOST_ID},
    {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"takeover", no_argument, NULL, OPT_TAKEOVER},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"no-forward", no_argument, NULL, OPT_NO_FORWARD},
    {"detach", no_argument, NULL, OPT_DETACH},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("quicsteer-server: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (see --help)\n", stderr);
  return QS_CONFIG_USAGE;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
  char *end;
  unsigned long v;
  if (*s == '\0' || *s == '-' || *s == '+')
    return -1;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > QS_NAME_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-'))
      return 0;
  }
  return 1;
}

int qs_addr_parse(struct qs_listen *out, const char *text) {
  char host[64];
  const char *colon, *port;
  unsigned long p;
  size_t hl;

  memset(out, 0, sizeof *out);
  if (strlen(text) >= sizeof out->text)
    return -1;
  snprintf(out->text, sizeof out->text, "%s", text);
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':')
      return -1;
    hl = (size_t)(close - text - 1);
    if (hl >= sizeof host)
      return -1;
    memcpy(host, text + 1, hl);
    host[hl] = '\0';
    port = close + 2;
  } else {
    colon = strrchr(text, ':');
    if (!colon)
      return -1;
    hl = (size_t)(colon - text);
    if (hl >= sizeof host)
      return -1;
    memcpy(host, text, hl);
    host[hl] = '\0';
    port = colon + 1;
  }
  if (parse_uint(port, 0, 65535, &p) != 0)
    return -1;
  if (text[0] == '[') {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)p);
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
      return -1;
    out->addrlen = sizeof *sin6;
  } else {
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)p);
    if (strcmp(host, "*") == 0 || host[0] == '\0')
      sin->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
      return -1;
    out->addrlen = sizeof *sin;
  }
  return 0;
}

const char *qs_addr_format(char *buf, size_t len, const struct sockaddr *sa) {
  char host[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
  } else if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
  } else {
    snprintf(buf, len, "(family %d)", sa->sa_family);
  }
  return buf;
}

static void print_version(void) {
  const ngtcp2_info *ng = ngtcp2_version(0);
  const nghttp3_info *h3 = nghttp3_version(0);
  printf("quicsteer-server %s (ngtcp2 %s, nghttp3 %s, GnuTLS %s)\n", QS_VERSION_STRING,
         ng ? ng->version_str : "?", h3 ? h3->version_str : "?", gnutls_check_version(NULL));
}

static void set_defaults(struct qs_config *cfg) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  memset(cfg, 0, sizeof *cfg);
  if (ncpu < 1)
    ncpu = 1;
  if (ncpu > QS_MAX_WORKERS)
    ncpu = QS_MAX_WORKERS;
  cfg->workers = (unsigned)ncpu;
  cfg->root = QS_DEFAULT_ROOT;
  cfg->name = "default";
  cfg->initial_rtt_ms = QS_DEFAULT_INITIAL_RTT_MS;
  cfg->retry = QS_RETRY_NEVER;
  cfg->retry_auto_rate = QS_DEFAULT_RETRY_AUTO_RATE;
  cfg->host_id[0] = 0x00;
  cfg->host_id[1] = 0x01;
  cfg->host_id_len = 2;
  cfg->log_level = QS_LOG_INFO;
  cfg->drain_timeout = QS_DEFAULT_DRAIN_TIMEOUT_S;
  cfg->idle_timeout_s = QS_DEFAULT_IDLE_TIMEOUT_S;
}

static void default_listen(struct qs_config *cfg) {
  char text[32];
  snprintf(text, sizeof text, "[::]:%d", QS_DEFAULT_PORT);
  qs_addr_parse(&cfg->listen[0], text);
  snprintf(text, sizeof text, "0.0.0.0:%d", QS_DEFAULT_PORT);
  qs_addr_parse(&cfg->listen[1], text);
  cfg->nlisten = 2;
}

int qs_config_parse(struct qs_config *cfg, int argc, char **argv) {
  unsigned long v;
  int c, n;
  char *end;

  set_defaults(cfg);
  opterr = 0; /* our own messages, prefixed "quicsteer-server: " */
  optind = 1;
  while ((c = getopt_long(argc, argv, ":l:w:c:k:r:n:hV", long_options, NULL)) != -1) {
    switch (c) {
    case 'l':
      if (cfg->nlisten == QS_MAX_GROUPS)
        return usage_error("at most %d --listen addresses", QS_MAX_GROUPS);
      if (qs_addr_parse(&cfg->listen[cfg->nlisten], optarg) != 0)
        return usage_error("bad --listen address '%s' (want ADDR:PORT or [ADDR]:PORT)", optarg);
      cfg->nlisten++;
      break;
    case 'w':
      if (parse_uint(optarg, 1, QS_MAX_WORKERS, &v) != 0)
        return usage_error("bad --workers '%s' (want 1..%d)", optarg, QS_MAX_WORKERS);
      cfg->workers = (unsigned)v;
      break;
    case 'c':
      cfg->cert = optarg;
      break;
    case 'k':
      cfg->key = optarg;
      break;
    case 'r':
      cfg->root = optarg;
      break;
    case 'n':
      if (!valid_name(optarg))
        return usage_error("bad --name '%s' (want [A-Za-z0-9_.-]{1,64})", optarg);
      cfg->name = optarg;
      break;
    case OPT_NO_BPF:
      cfg->no_bpf = 1;
      break;
    case OPT_NO_FORWARD:
      cfg->no_forward = 1;
      break;
    case OPT_IDLE_TIMEOUT:
      if (parse_uint(optarg, 1, 86400, &v) != 0)
        return usage_error("bad --idle-timeout '%s' (want 1..86400 seconds)", optarg);
      cfg->idle_timeout_s = (unsigned)v;
      break;
    case OPT_DETACH:
      cfg->detach = 1;
      break;
    case OPT_INITIAL_RTT:
      if (parse_uint(optarg, 1, 10000, &v) != 0)
        return usage_error("bad --initial-rtt '%s' (want 1..10000 milliseconds)", optarg);
      cfg->initial_rtt_ms = (unsigned)v;
      break;
    case OPT_RETRY:
      if (strcmp(optarg, "never") == 0)
        cfg->retry = QS_RETRY_NEVER;
      else if (strcmp(optarg, "always") == 0)
        cfg->retry = QS_RETRY_ALWAYS;
      else if (strcmp(optarg, "auto") == 0)
        cfg->retry = QS_RETRY_AUTO;
      else
        return usage_error("bad --retry '%s' (want never, always or auto)", optarg);
      break;
    case OPT_RETRY_AUTO_RATE:
      if (parse_uint(optarg, 1, 100000000, &v) != 0)
        return usage_error("bad --retry-auto-rate '%s'", optarg);
      cfg->retry_auto_rate = (unsigned)v;
      break;
    case OPT_QLOG_DIR:
      cfg->qlog_dir = optarg;
      break;
    case OPT_HOST_ID:
      n = qs_hex_decode(cfg->host_id, sizeof cfg->host_id, optarg);
      if (n < 1)
        return usage_error("bad --host-id '%s' (want 1..%d octets of hex)", optarg,
                           QS_HOST_ID_MAX);
      cfg->host_id_len = (size_t)n;
      break;
    case OPT_SECRET_FILE:
      cfg->secret_file = optarg;
      break;
    case OPT_LOG_LEVEL:
      n = qs_log_parse_level(optarg);
      if (n < 0)
        return usage_error("bad --log-level '%s' (want error, warn, info or debug)", optarg);
      cfg->log_level = n;
      break;
    case OPT_METRICS:
      if (qs_addr_parse(&cfg->metrics, optarg) != 0)
        return usage_error("bad --metrics address '%s' (want ADDR:PORT)", optarg);
      cfg->have_metrics = 1;
      break;
    case OPT_TAKEOVER:
      cfg->takeover = 1;
      break;
    case OPT_DRAIN_TIMEOUT:
      cfg->drain_timeout = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(cfg->drain_timeout >= 0) ||
          cfg->drain_timeout > 3600)
        return usage_error("bad --drain-timeout '%s' (want 0..3600 seconds)", optarg);
      break;
    case 'h':
      fputs(usage_text, stdout);
      return QS_CONFIG_EXIT;
    case 'V':
      print_version();
      return QS_CONFIG_EXIT;
    case ':':
      return usage_error("option '%s' needs a value", argv[optind - 1]);
    default:
      return usage_error("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return usage_error("unexpected argument '%s'", argv[optind]);
  if (!cfg->cert)
    return usage_error("--cert FILE is required");
  if (!cfg->key)
    return usage_error("--key FILE is required");
  if (cfg->nlisten == 0)
    default_listen(cfg);
  return QS_CONFIG_OK;
}
