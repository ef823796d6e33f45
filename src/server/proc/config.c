/* config.c: command-line parsing (getopt_long; the numeric options and the
 * flags are options.c's tables) and address helpers. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

#include "conffile.h"
#include "log.h"
#include "options.h"
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
    "      --retry MODE         never | always | auto (default: auto)\n"
    "      --retry-auto-rate N  with --retry auto: new connections per second and\n"
    "                           worker above which Retry is sent (default: 1000)\n"
    "      --retry-auto-handshakes N  with --retry auto: half-open connections per\n"
    "                           worker from which Retry is sent (default: 128)\n"
    "      --max-handshakes N   half-open connections per worker; more are refused\n"
    "                           (default: 512)\n"
    "      --max-conns N        open connections per worker; more are refused\n"
    "                           (default: 4096)\n"
    "      --handshake-timeout S  give up handshakes not done in S seconds\n"
    "                           (default: 5)\n"
    "      --qlog-dir DIR       write one qlog file per connection into DIR\n"
    "      --server-id HEX      this host's server ID in connection IDs, 1-11\n"
    "                           octets, a leading 0x accepted (default: 0001);\n"
    "                           --host-id is the old name\n"
    "      --server-id-mode M   encrypted (default) | clear: whether a fleet\n"
    "                           balancer reads it with a key or in the clear\n"
    "                           (docs/fleet.md)\n"
    "      --codepoints LIST    config-rotation codepoints to mint with, e.g. 4,5\n"
    "                           for Katran (default: 0-6; needs kernel steering)\n"
    "      --secret-file FILE   static secret (>= 16 octets, raw or hex) for reset\n"
    "                           tokens, Retry tokens and CID keys (default: random)\n"
    "      --log-level LEVEL    error | warn | info | debug (default: info)\n"
    "      --metrics ADDR:PORT  serve Prometheus text on this TCP address\n"
    "      --takeover           join a running instance NAME as its successor\n"
    "      --drain-timeout S    seconds to finish requests on SIGTERM (default: 5)\n"
    "      --idle-timeout S     close connections idle for S seconds (QUIC, and TCP\n"
    "                           without a request in flight; default: 30)\n"
    "      --ticket-lifetime S  TLS session ticket lifetime in seconds; keys rotate\n"
    "                           every 3 lifetimes (default: 21600)\n"
    "      --no-early-data      do not accept 0-RTT (tickets still resume)\n"
    "      --detach             return once the server serves (for systemd reload)\n"
    "      --proxy PREFIX=URL   send requests whose path starts with PREFIX to URL\n"
    "                           (http://HOST:PORT or unix:/PATH; several URLs\n"
    "                           comma-separated or repeated: round-robin);\n"
    "                           repeatable, the longest prefix wins\n"
    "      --proxy-connect-timeout S     upstream connect timeout (default: 5)\n"
    "      --proxy-first-byte-timeout S  wait for the response (default: 60)\n"
    "      --proxy-idle-timeout S        silence while answering (default: 60)\n"
    "      --proxy-pool-idle N  idle upstream connections kept per upstream and\n"
    "                           worker (default: 32)\n"
    "      --proxy-pool-max N   upstream connections per upstream and worker\n"
    "                           (default: 128; more requests wait)\n"
    "      --max-header-size N  request header section bound, octets (default: 16384)\n"
    "      --header-timeout S   reset a request whose header section is not complete\n"
    "                           after S seconds (default: 10)\n"
    "      --send-timeout S     reset a response whose body makes no progress for S\n"
    "                           seconds (the client does not read; default: 60)\n"
    "      --no-tcp             do not also serve HTTP/2 and HTTP/1.1 over TLS on TCP\n"
    "                           (same addresses and port)\n"
    "      --alt-svc VALUE      the alt-svc field of TCP responses, or 'off'\n"
    "                           (default: h3=\":PORT\"; ma=86400)\n"
    "      --cache-control VALUE  the cache-control field of static files (default none)\n"
    "      --no-precompressed   do not serve a file's .br/.gz siblings by Accept-Encoding\n"
    "      --max-tcp-conns N    TCP connections per worker (default: 1024)\n"
    "      --serve-dotfiles     serve files and directories whose name starts with '.'\n"
    "      --bytes-endpoint     serve /bytes/N (N generated octets, for benchmarks)\n"
    "      --user NAME          after the set-up that needs root, run as NAME\n"
    "      --key-retire S       retire a rotated-out CID key once no connection\n"
    "                           uses it, at the latest S seconds after the\n"
    "                           rotation (its connections get GOAWAY; default: 600)\n"
    "      --no-forward         do not relay datagrams of other workers' connections\n"
    "                           (benchmarks: behave like plain SO_REUSEPORT)\n"
    "      --access-log PATH    one line per request into PATH ('-': standard error)\n"
    "      --access-log-format F  combined | json (default: combined)\n"
    "      --conf FILE          read options from FILE ('name = value' lines);\n"
    "                           options after --conf override it\n"
    "      --check-config       validate the options and files, then exit 0 or 2\n"
    "  Numbers: seconds may end in s or ms (500ms), milliseconds in ms or s,\n"
    "  octets in k or M (16k).\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the version and exit\n";

enum {
  OPT_RETRY = 256,
  OPT_QLOG_DIR,
  OPT_HOST_ID,
  OPT_SECRET_FILE,
  OPT_LOG_LEVEL,
  OPT_METRICS,
  OPT_CONF,
  OPT_ACCESS_LOG,
  OPT_ACCESS_LOG_FORMAT,
  OPT_PROXY,
  OPT_USER,
  OPT_SERVER_ID_MODE,
  OPT_SERVER_ID,
  OPT_CODEPOINTS,
  OPT_ALT_SVC,
  OPT_CACHE_CONTROL,
  OPT_NUM,                       /* + the row of qs_numopts (options.h) */
  OPT_FLAG = OPT_NUM + QS_NUMOPT_MAX, /* + the row of qs_flagopts */
};

/* the options that are neither numbers nor flags; options() adds those */
static const struct option fixed_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"cert", required_argument, NULL, 'c'},
    {"key", required_argument, NULL, 'k'},
    {"root", required_argument, NULL, 'r'},
    {"name", required_argument, NULL, 'n'},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"qlog-dir", required_argument, NULL, OPT_QLOG_DIR},
    {"host-id", required_argument, NULL, OPT_HOST_ID},
    {"server-id", required_argument, NULL, OPT_SERVER_ID},
    {"server-id-mode", required_argument, NULL, OPT_SERVER_ID_MODE},
    {"codepoints", required_argument, NULL, OPT_CODEPOINTS},
    {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"conf", required_argument, NULL, OPT_CONF},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"access-log-format", required_argument, NULL, OPT_ACCESS_LOG_FORMAT},
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"user", required_argument, NULL, OPT_USER},
    {"alt-svc", required_argument, NULL, OPT_ALT_SVC},
    {"cache-control", required_argument, NULL, OPT_CACHE_CONTROL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

#define NFIXED (sizeof fixed_options / sizeof *fixed_options - 1)

static struct option long_options[QS_NUMOPT_MAX + QS_FLAGOPT_MAX + NFIXED + 1];

/* what getopt_long returns for numeric option |o| */
static int numopt_val(const struct qs_numopt *o) {
  return o->short_name ? o->short_name : OPT_NUM + (int)(o - qs_numopts);
}

static const struct qs_numopt *numopt_of(int c) {
  for (const struct qs_numopt *o = qs_numopts; o->name; o++)
    if (numopt_val(o) == c)
      return o;
  return NULL;
}

/* the flag getopt_long returned as |c|, or NULL */
static const struct qs_flagopt *flagopt_of(int c) {
  for (const struct qs_flagopt *f = qs_flagopts; f->name; f++)
    if (OPT_FLAG + (int)(f - qs_flagopts) == c)
      return f;
  return NULL;
}

/* The getopt_long table: a row per numeric option and per flag, then the
 * others. */
static const struct option *options(void) {
  size_t n = 0;
  if (long_options[0].name)
    return long_options;
  for (const struct qs_numopt *o = qs_numopts; o->name; o++, n++)
    long_options[n] = (struct option){o->name, required_argument, NULL, numopt_val(o)};
  for (const struct qs_flagopt *f = qs_flagopts; f->name; f++, n++)
    long_options[n] = (struct option){f->name, no_argument, NULL,
                                      OPT_FLAG + (int)(f - qs_flagopts)};
  memcpy(&long_options[n], fixed_options, sizeof fixed_options);
  return long_options;
}

const struct option *qs_config_options(void) { return options(); }

/* Options the file may not set: they only make sense on a command line. */
static const char *const file_reject[] = {"conf", "check-config", "help", "version", NULL};

#define QS_OPT_SLOTS 512 /* getopt_long return values tracked in last[] */
_Static_assert(OPT_FLAG + QS_FLAGOPT_MAX <= QS_OPT_SLOTS, "raise QS_OPT_SLOTS");

/* Where the arguments being parsed came from (one --conf file at most). */
struct qs_config_src {
  struct qs_conffile file;
  char **argv;                  /* the command line with the file's arguments spliced in */
  unsigned *line;               /* per argv element: its line in the file, 0: command line */
  int argc;
  int cur;                      /* the element being parsed, -1: none */
  int failed;                   /* the file element that failed, or -1 */
  unsigned last[QS_OPT_SLOTS];  /* the line each option's current value came from */
  struct qs_conf_errors errs;
};

/* The parse in progress: usage_error attributes its message to the file
 * line of the argument being parsed (getopt_long is global state too). */
static struct qs_config_src *cur_src;

static void note_arg(int c) {
  struct qs_config_src *src = cur_src;
  src->cur = optind - 1;
  if (c >= 0 && c < QS_OPT_SLOTS)
    src->last[c] = src->line[src->cur];
}

/* '+': no permutation, so argv indices keep their file lines */
static const char short_options[] = "+:l:w:c:k:r:n:hV";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
  struct qs_config_src *src = cur_src;
  char msg[QS_CONF_MSG_MAX];
  unsigned line = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (src->cur >= 0 && src->cur < src->argc)
    line = src->line[src->cur];
  src->failed = line ? src->cur : -1;
  qs_conf_error_add(&src->errs, line, msg);
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

/* the index of |s| in the NULL-terminated |words|, or -1 */
static int keyword(const char *s, const char *const *words) {
  for (int i = 0; words[i]; i++)
    if (strcmp(s, words[i]) == 0)
      return i;
  return -1;
}

/* a value for a response field: not empty, one line, below QS_ALT_SVC_LEN */
static int field_value_ok(const char *s) {
  size_t n = strlen(s);
  return n > 0 && n < QS_ALT_SVC_LEN && !strpbrk(s, "\r\n");
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
  qs_numopt_defaults(qs_numopts, cfg);
  cfg->cr_allowed = 0x7f;
  if (ncpu < 1)
    ncpu = 1;
  if (ncpu > QS_MAX_WORKERS)
    ncpu = QS_MAX_WORKERS;
  cfg->workers = (unsigned)ncpu;
  cfg->root = QS_DEFAULT_ROOT;
  cfg->name = "default";
  cfg->retry = QS_RETRY_AUTO;
  cfg->host_id[0] = 0x00;
  cfg->host_id[1] = 0x01;
  cfg->host_id_len = 2;
  cfg->log_level = QS_LOG_INFO;
}

static void default_listen(struct qs_config *cfg) {
  char text[32];
  snprintf(text, sizeof text, "[::]:%d", QS_DEFAULT_PORT);
  qs_addr_parse(&cfg->listen[0], text);
  snprintf(text, sizeof text, "0.0.0.0:%d", QS_DEFAULT_PORT);
  qs_addr_parse(&cfg->listen[1], text);
  cfg->nlisten = 2;
}

/* One pass of getopt_long over |argv|; every message goes to cur_src. */
static int parse_args(struct qs_config *cfg, int argc, char **argv) {
  char msg[QS_CONF_MSG_MAX];
  int c, n;

  set_defaults(cfg);
  cfg->src = cur_src;
  opterr = 0; /* our own messages, prefixed "quicsteer-server: " */
  optind = 0; /* 0: glibc starts afresh, as each pass must */
  while ((c = getopt_long(argc, argv, short_options, options(), NULL)) != -1) {
    const struct qs_numopt *num = numopt_of(c);
    const struct qs_flagopt *flag = flagopt_of(c);
    note_arg(c);
    if (num) {
      if (qs_numopt_parse(num, optarg, cfg, msg, sizeof msg) != 0)
        return usage_error("%s", msg);
      continue;
    }
    if (flag) {
      *(int *)((char *)cfg + flag->off) = 1;
      continue;
    }
    switch (c) {
    case 'l':
      if (cfg->nlisten == QS_MAX_GROUPS)
        return usage_error("at most %d --listen addresses", QS_MAX_GROUPS);
      if (qs_addr_parse(&cfg->listen[cfg->nlisten], optarg) != 0)
        return usage_error("bad --listen address '%s' (want ADDR:PORT or [ADDR]:PORT)", optarg);
      cfg->nlisten++;
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
    case OPT_PROXY:
      if (cfg->nproxy == QS_PROXY_ARGS)
        return usage_error("at most %d --proxy options", QS_PROXY_ARGS);
      if (optarg[0] != '/' || !strchr(optarg, '='))
        return usage_error("bad --proxy '%s' (want /PREFIX=URL)", optarg);
      cfg->proxy[cfg->nproxy++] = optarg;
      break;
    case OPT_ALT_SVC:
      if (!field_value_ok(optarg))
        return usage_error("bad --alt-svc '%s' (want a field value below %d octets, or off)",
                           optarg, QS_ALT_SVC_LEN);
      cfg->alt_svc = strcmp(optarg, "off") == 0 ? "" : optarg;
      break;
    case OPT_CACHE_CONTROL:
      if (!field_value_ok(optarg))
        return usage_error("bad --cache-control '%s' (want a field value below %d octets)",
                           optarg, QS_ALT_SVC_LEN);
      cfg->cache_control = optarg;
      break;
    case OPT_RETRY:
      /* in the order of enum qs_retry_mode */
      cfg->retry = keyword(optarg, (const char *const[]){"never", "always", "auto", NULL});
      if (cfg->retry < 0)
        return usage_error("bad --retry '%s' (want never, always or auto)", optarg);
      break;
    case OPT_QLOG_DIR:
      cfg->qlog_dir = optarg;
      break;
    case OPT_HOST_ID: /* the old name of --server-id */
    case OPT_SERVER_ID:
      n = qs_server_id_parse(cfg->host_id, optarg);
      if (n < 1)
        return usage_error("bad --%s '%s' (want 1..%d octets of hex, 0x allowed)",
                           c == OPT_HOST_ID ? "host-id" : "server-id", optarg, QS_LB_MAX_SID);
      cfg->host_id_len = (size_t)n;
      break;
    case OPT_SERVER_ID_MODE:
      n = qs_sid_mode_parse(optarg);
      if (n < 0)
        return usage_error("bad --server-id-mode '%s' (want encrypted or clear)", optarg);
      cfg->sid_mode = n;
      break;
    case OPT_CODEPOINTS: {
      const char *p = optarg;
      cfg->cr_allowed = 0;
      for (;;) {
        if (*p < '0' || *p > '6' || (p[1] != ',' && p[1] != '\0'))
          return usage_error("bad --codepoints '%s' (want a comma-separated list of 0..6)",
                             optarg);
        cfg->cr_allowed |= (uint8_t)(1u << (*p - '0'));
        if (p[1] == '\0')
          break;
        p += 2;
      }
      break;
    }
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
    case OPT_CONF:
      cfg->conf = optarg; /* read by qs_config_parse before this pass */
      break;
    case OPT_ACCESS_LOG:
      cfg->access_log = optarg;
      break;
    case OPT_ACCESS_LOG_FORMAT:
      /* QS_ACCESS_LOG_COMBINED, QS_ACCESS_LOG_JSON */
      cfg->access_log_format = keyword(optarg, (const char *const[]){"combined", "json", NULL});
      if (cfg->access_log_format < 0)
        return usage_error("bad --access-log-format '%s' (want combined or json)", optarg);
      break;
    case OPT_USER:
      if (!*optarg)
        return usage_error("--user needs a user name");
      cfg->user = optarg;
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
  cur_src->cur = -1;
  if (optind < argc)
    return usage_error("unexpected argument '%s'", argv[optind]);
  if (!cfg->cert)
    return usage_error("--cert FILE is required");
  if (!cfg->key)
    return usage_error("--key FILE is required");
  /* every CID holds octet 0, the server ID, the routing key and 4 random
   * octets in at most 20: say so now rather than fail at the first mint */
  if (qs_cid_len_default(cfg->sid_mode, cfg->host_id_len) == 0)
    return usage_error("--server-id of %zu octets does not fit: a connection ID (at most %d "
                       "octets) holds 1 + server ID + 4 (routing key) + %d (random), so at "
                       "most %d",
                       cfg->host_id_len, QS_MAX_CIDLEN, QS_CID_MIN_RANDOM,
                       QS_MAX_CIDLEN - 1 - QS_RK_LEN - QS_CID_MIN_RANDOM);
  if (cfg->nlisten == 0)
    default_listen(cfg);
  return QS_CONFIG_OK;
}

/* The first --conf on the command line: its file and the argv index after
 * it, where the file's arguments go.  Returns 1, 0 (none), or -1 if given
 * twice. */
static int find_conf(int argc, char **argv, const char **path, int *at) {
  int c, found = 0;
  opterr = 0;
  optind = 0;
  while ((c = getopt_long(argc, argv, short_options, options(), NULL)) != -1) {
    if (c != OPT_CONF)
      continue;
    if (found)
      return -1;
    *path = optarg;
    *at = optind;
    found = 1;
  }
  return found;
}

static int splice_file(struct qs_config_src *src, int argc, char **argv, int at) {
  size_t n = (size_t)argc + src->file.nargs, k = 0;
  src->argv = calloc(n + 1, sizeof *src->argv);
  src->line = calloc(n + 1, sizeof *src->line);
  if (!src->argv || !src->line)
    return -1;
  for (int i = 0; i < at; i++, k++)
    src->argv[k] = argv[i];
  for (size_t i = 0; i < src->file.nargs; i++, k++) {
    src->argv[k] = src->file.args[i].arg;
    src->line[k] = src->file.args[i].line;
  }
  for (int i = at; i < argc; i++, k++)
    src->argv[k] = argv[i];
  src->argc = (int)n;
  return 0;
}

static void drop_arg(struct qs_config_src *src, int i) {
  size_t rest = (size_t)(src->argc - i); /* with the terminating NULL */
  memmove(&src->argv[i], &src->argv[i + 1], rest * sizeof *src->argv);
  memmove(&src->line[i], &src->line[i + 1], rest * sizeof *src->line);
  src->argc--;
}

int qs_config_parse(struct qs_config *cfg, int argc, char **argv) {
  struct qs_config_src *src = calloc(1, sizeof *src);
  const char *conf = NULL;
  int at = argc, rv;

  if (!src) {
    fputs("quicsteer-server: out of memory\n", stderr);
    return QS_CONFIG_USAGE;
  }
  cur_src = src;
  src->cur = src->failed = -1;
  rv = find_conf(argc, argv, &conf, &at);
  if (rv < 0) {
    usage_error("--conf given twice");
  } else if (rv == 1 && (rv = qs_conffile_read(&src->file, conf, options(), file_reject,
                                               &src->errs)) < 0) {
    usage_error("cannot read --conf %s: %s", conf,
                rv == -1 ? "out of memory" : rv == -EFBIG ? "larger than 1 MiB" : strerror(-rv));
  } else if (splice_file(src, argc, argv, at) != 0) {
    usage_error("out of memory");
  } else {
    /* every bad file line is reported: drop the one that failed, parse again */
    while ((rv = parse_args(cfg, src->argc, src->argv)) == QS_CONFIG_USAGE && src->failed >= 0) {
      drop_arg(src, src->failed);
      src->failed = -1;
    }
    if (rv == QS_CONFIG_EXIT) {
      cfg->src = src;
      return rv;
    }
  }
  cfg->src = src;
  cfg->conf = conf;
  if (src->errs.n || src->errs.more) {
    qs_config_report(cfg);
    return QS_CONFIG_USAGE;
  }
  return QS_CONFIG_OK;
}

static int opt_val(const char *key) {
  for (const struct option *o = options(); o->name; o++)
    if (strcmp(o->name, key) == 0)
      return o->val;
  return -1;
}

unsigned qs_config_line(const struct qs_config *cfg, const char *key) {
  int v = opt_val(key);
  if (!cfg->src || v < 0 || v >= QS_OPT_SLOTS)
    return 0;
  return cfg->src->last[v];
}

void qs_config_complain(struct qs_config *cfg, const char *key, const char *fmt, ...) {
  char msg[QS_CONF_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  qs_conf_error_add(&cfg->src->errs, key ? qs_config_line(cfg, key) : 0, msg);
}

void qs_config_complain_value(struct qs_config *cfg, const char *value, const char *fmt, ...) {
  const struct qs_config_src *src = cfg->src;
  char msg[QS_CONF_MSG_MAX];
  unsigned line = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* the argument holding |value|: "--key=value" from the file, or the
   * command line's own element */
  for (int k = 0; src && k < src->argc; k++) {
    const char *a = src->argv[k];
    if (value >= a && value <= a + strlen(a)) {
      line = src->line[k];
      break;
    }
  }
  qs_conf_error_add(&cfg->src->errs, line, msg);
}

size_t qs_config_nerrors(const struct qs_config *cfg) {
  return cfg->src ? cfg->src->errs.n : 0;
}

const char *qs_config_error(const struct qs_config *cfg, size_t i, unsigned *line) {
  if (!cfg->src || i >= cfg->src->errs.n)
    return NULL;
  *line = cfg->src->errs.e[i].line;
  return cfg->src->errs.e[i].msg;
}

/* file lines in order, then what is not from the file */
static int after(unsigned la, unsigned lb) {
  return la != lb && (la == 0 || (lb != 0 && la > lb));
}

size_t qs_config_report(struct qs_config *cfg) {
  struct qs_conf_errors *errs = &cfg->src->errs;
  size_t n = errs->n;
  /* insertion sort: stable, so equal lines keep the order found */
  for (size_t i = 1; i < errs->n; i++)
    for (size_t j = i; j > 0 && after(errs->e[j - 1].line, errs->e[j].line); j--) {
      __typeof__(errs->e[0]) t = errs->e[j];
      errs->e[j] = errs->e[j - 1];
      errs->e[j - 1] = t;
    }
  for (size_t i = 0; i < errs->n; i++) {
    if (errs->e[i].line)
      fprintf(stderr, "%s:%u: %s\n", cfg->conf, errs->e[i].line, errs->e[i].msg);
    else
      fprintf(stderr, "quicsteer-server: %s%s\n", errs->e[i].msg,
              cfg->check_config ? "" : " (see --help)");
  }
  if (errs->more)
    fprintf(stderr, "%s: %zu more error(s)\n", cfg->conf ? cfg->conf : "quicsteer-server",
            errs->more);
  return n + errs->more;
}

/* A file the server will read: open it now, as the server will. */
static void check_readable(struct qs_config *cfg, const char *key, const char *path, int dir) {
  struct stat st;
  int fd;
  if (!path)
    return;
  fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
  if (fd < 0) {
    qs_config_complain(cfg, key, "cannot read %s %s: %s", key, path, strerror(errno));
    return;
  }
  if (fstat(fd, &st) == 0 && !dir && !S_ISREG(st.st_mode))
    qs_config_complain(cfg, key, "%s %s is not a regular file", key, path);
  close(fd);
}

size_t qs_config_check(struct qs_config *cfg) {
  size_t before = cfg->src->errs.n + cfg->src->errs.more;
  check_readable(cfg, "cert", cfg->cert, 0);
  check_readable(cfg, "key", cfg->key, 0);
  check_readable(cfg, "root", cfg->root, 1);
  check_readable(cfg, "secret-file", cfg->secret_file, 0);
  if (cfg->qlog_dir && access(cfg->qlog_dir, W_OK) != 0)
    qs_config_complain(cfg, "qlog-dir", "cannot write into qlog-dir %s: %s", cfg->qlog_dir,
                       strerror(errno));
  if (cfg->access_log && strcmp(cfg->access_log, "-") != 0) {
    char dir[PATH_MAX];
    const char *slash = strrchr(cfg->access_log, '/');
    if (access(cfg->access_log, F_OK) == 0) {
      if (access(cfg->access_log, W_OK) != 0)
        qs_config_complain(cfg, "access-log", "cannot write access-log %s: %s",
                           cfg->access_log, strerror(errno));
    } else {
      snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - cfg->access_log) + 1 : 1,
               slash ? cfg->access_log : ".");
      if (access(dir, W_OK) != 0)
        qs_config_complain(cfg, "access-log", "cannot create access-log %s: %s",
                           cfg->access_log, strerror(errno));
    }
  }
  return cfg->src->errs.n + cfg->src->errs.more - before;
}

void qs_config_free(struct qs_config *cfg) {
  struct qs_config_src *src = cfg->src;
  if (!src)
    return;
  if (cur_src == src)
    cur_src = NULL;
  qs_conffile_free(&src->file);
  free(src->argv);
  free(src->line);
  free(src);
  cfg->src = NULL;
}
