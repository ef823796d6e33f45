/* opts.c: command line and URL parsing for quicsteer-load. */
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#define QSL_USER_AGENT "quicsteer-load/" QS_VERSION_STRING

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

void qsl_opts_usage(FILE *fp) {
  fputs(
      "Usage: quicsteer-load URL... [OPTIONS]\n"
      "HTTP/3 load and connection-migration client (QUIC v1, ngtcp2 + nghttp3).\n"
      "\n"
      "URL is https://HOST[:PORT]/PATH; HOST may be an IPv4 address, [IPv6] or a\n"
      "name (resolved once).  Several URLs (same origin) are requested round robin.\n"
      "\n"
      "Load shape:\n"
      "  -c, --connections=C   concurrent connections (default 1)\n"
      "  -n, --requests=R      requests per connection slot (default 1)\n"
      "  -D, --duration=S      run for S seconds instead of a request count\n"
      "  -m, --streams=K       concurrent requests per connection (default 1)\n"
      "      --new-conn        a new connection for every request (handshakes/s;\n"
      "                        --streams does not apply)\n"
      "      --rate=N          at most N new requests per second overall\n"
      "  -t, --threads=T       split connections over T event-loop threads (default 1)\n"
      "Path changes (once per connection, after its first response or 100 ms;\n"
      "before the only request when a connection carries one):\n"
      "      --rebind          NAT rebinding: send from a new local port, same DCID\n"
      "      --migrate         active migration: validate a new path, new DCID\n"
      "Transport:\n"
      "      --initial-rtt=MS  initial RTT estimate in ms (default 333, as ngtcp2)\n"
      "      --timeout=S       handshake, idle and per-request limit (default 10)\n"
      "      --hold=S          --requests mode: when a slot has sent all its requests,\n"
      "                        keep its connection open idle for S more seconds\n"
      "                        (PING keep-alives hold off the idle timeout)\n"
      "  -H, --header='N: V'   add the field N: V to every request (repeatable, up\n"
      "                        to 16; the name is sent lower-cased)\n"
      "      --dump=FILE       write every response to FILE: its header fields as\n"
      "                        'name: value' lines, an empty line, its body (for\n"
      "                        -n 1 -c 1: concurrent responses interleave)\n"
      "      --token           keep the last address-validation token a server sent\n"
      "                        (NEW_TOKEN) and present it in every later connection\n"
      "                        of the thread, as a returning client does\n"
      "TLS: the server certificate is NOT verified by default (this is a load\n"
      "tool for development servers); ALPN h3 is always required.\n"
      "      --resume          store the first TLS session ticket a server sends and\n"
      "                        resume it in every later connection of the thread\n"
      "      --insecure        do not verify the certificate (the default)\n"
      "      --verify          verify against the system trust store\n"
      "      --cacert=FILE     verify against the CA certificates in FILE\n"
      "Output:\n"
      "      --json            one JSON object on stdout (docs/load.md)\n"
      "      --latency-hist    add the latency histogram to the JSON object\n"
      "      --verify-bytes    check that /bytes/N bodies are exactly N octets\n"
      "      --progress        live progress line on stderr even when not a TTY\n"
      "      --no-progress     no live progress line\n"
      "  -h, --help            this text\n"
      "  -V, --version         print the version\n"
      "\n"
      "Exit status: 0 if every request succeeded, 1 if any failed, 2 on usage errors.\n",
      fp);
}

/* parse_u64 accepts decimal digits only, within [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!isdigit((unsigned char)*s)) {
    return -1;
  }
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < min || v > max) {
    return -1;
  }
  *out = v;
  return 0;
}

/* parse_pos_double accepts a finite number > 0 and <= max. */
static int parse_pos_double(const char *s, double max, double *out) {
  if (!*s || isspace((unsigned char)*s)) {
    return -1;
  }
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v <= 0 || v > max) {
    return -1;
  }
  *out = v;
  return 0;
}

static void url_set_nv(nghttp3_nv *nv, const char *name, const char *value) {
  nv->name = (uint8_t *)name;
  nv->namelen = strlen(name);
  nv->value = (uint8_t *)value;
  nv->valuelen = strlen(value);
  /* the strings outlive every connection, so nghttp3 may keep pointers */
  nv->flags = NGHTTP3_NV_FLAG_NO_COPY_NAME | NGHTTP3_NV_FLAG_NO_COPY_VALUE;
}

/* url_bytes_n recognises /bytes/N (optionally followed by a query). */
static uint64_t url_bytes_n(const char *path) {
  static const char prefix[] = "/bytes/";
  if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) {
    return UINT64_MAX;
  }
  const char *p = path + sizeof(prefix) - 1;
  size_t n = strspn(p, "0123456789");
  if (n == 0 || n > 15 || (p[n] && p[n] != '?')) {
    return UINT64_MAX;
  }
  return strtoull(p, NULL, 10);
}

int qsl_url_parse(struct qsl_url *u, const char *text, char *err, size_t errlen) {
  static const char scheme[] = "https://";
  memset(u, 0, sizeof(*u));
  if (strncasecmp(text, scheme, sizeof(scheme) - 1) != 0) {
    return fail(err, errlen, "%s: only https:// URLs are supported", text);
  }
  const char *a = text + sizeof(scheme) - 1;
  size_t alen = strcspn(a, "/?#");
  const char *rest = a + alen;
  if (alen == 0) {
    return fail(err, errlen, "%s: missing host", text);
  }
  if (memchr(a, '@', alen)) {
    return fail(err, errlen, "%s: user info is not supported", text);
  }
  const char *host = a, *port = NULL;
  size_t hostlen;
  if (*a == '[') {
    const char *close = memchr(a, ']', alen);
    if (!close || close == a + 1) {
      return fail(err, errlen, "%s: bad [IPv6] host", text);
    }
    host = a + 1;
    hostlen = (size_t)(close - host);
    if (close + 1 < a + alen) {
      if (close[1] != ':') {
        return fail(err, errlen, "%s: junk after [IPv6] host", text);
      }
      port = close + 2;
    }
  } else {
    const char *colon = memchr(a, ':', alen);
    hostlen = colon ? (size_t)(colon - a) : alen;
    if (colon) {
      port = colon + 1;
    }
    if (hostlen == 0) {
      return fail(err, errlen, "%s: missing host", text);
    }
  }
  uint64_t portnum = 443;
  if (port) {
    char buf[8];
    size_t plen = (size_t)(a + alen - port);
    if (plen == 0 || plen >= sizeof(buf)) {
      return fail(err, errlen, "%s: bad port", text);
    }
    memcpy(buf, port, plen);
    buf[plen] = 0;
    if (parse_u64(buf, 1, 65535, &portnum) != 0) {
      return fail(err, errlen, "%s: bad port", text);
    }
  }
  size_t pathlen = strcspn(rest, "#");
  u->text = strdup(text);
  u->host = strndup(host, hostlen);
  u->authority = strndup(a, alen);
  if (pathlen == 0 || *rest != '/') {
    /* "https://h" and "https://h?q" both mean the root */
    u->path = malloc(pathlen + 2);
    if (u->path) {
      u->path[0] = '/';
      memcpy(u->path + 1, rest, pathlen);
      u->path[pathlen + 1] = 0;
    }
  } else {
    u->path = strndup(rest, pathlen);
  }
  if (!u->text || !u->host || !u->authority || !u->path) {
    qsl_url_free(u);
    return fail(err, errlen, "out of memory");
  }
  u->port = (uint16_t)portnum;
  u->bytes_n = url_bytes_n(u->path);
  url_set_nv(&u->nv[0], ":method", "GET");
  url_set_nv(&u->nv[1], ":scheme", "https");
  url_set_nv(&u->nv[2], ":authority", u->authority);
  url_set_nv(&u->nv[3], ":path", u->path);
  url_set_nv(&u->nv[4], "user-agent", QSL_USER_AGENT);
  u->nnv = QSL_NV_COUNT;
  return 0;
}

/* parse_header takes "Name: value" into o->hname/hvalue: the name
 * lower-cased (HTTP/3 field names are), surrounding blanks off the value. */
static int parse_header(struct qsl_opts *o, const char *arg, char *err, size_t errlen) {
  const char *colon = strchr(arg, ':');
  size_t n;
  if (o->nheaders == QSL_MAX_HEADERS)
    return fail(err, errlen, "--header: at most %d", QSL_MAX_HEADERS);
  if (colon == NULL || colon == arg || arg[0] == ':')
    return fail(err, errlen, "--header: expected 'Name: value', got '%s'", arg);
  n = (size_t)(colon - arg);
  if (n >= sizeof(o->hname[0]))
    return fail(err, errlen, "--header: field name longer than %zu octets in '%s'",
                sizeof(o->hname[0]) - 1, arg);
  char *name = o->hname[o->nheaders];
  for (size_t i = 0; i < n; i++) {
    if (arg[i] <= ' ' || arg[i] >= 127)
      return fail(err, errlen, "--header: bad field name in '%s'", arg);
    name[i] = (char)tolower((unsigned char)arg[i]);
  }
  name[n] = '\0';
  const char *v = colon + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  o->hvalue[o->nheaders++] = v;
  return 0;
}

void qsl_url_free(struct qsl_url *u) {
  free(u->text);
  free(u->host);
  free(u->authority);
  free(u->path);
  memset(u, 0, sizeof(*u));
}

void qsl_opts_free(struct qsl_opts *o) {
  for (size_t i = 0; i < o->nurls; i++) {
    qsl_url_free(&o->urls[i]);
  }
  o->nurls = 0;
}

enum {
  OPT_NEW_CONN = 256,
  OPT_REBIND,
  OPT_MIGRATE,
  OPT_RATE,
  OPT_INITIAL_RTT,
  OPT_JSON,
  OPT_TIMEOUT,
  OPT_INSECURE,
  OPT_VERIFY,
  OPT_CACERT,
  OPT_VERIFY_BYTES,
  OPT_PROGRESS,
  OPT_NO_PROGRESS,
  OPT_HOLD,
  OPT_TOKEN,
  OPT_HEADER,
  OPT_RESUME,
  OPT_LATENCY_HIST,
  OPT_DUMP,
};

static const struct option long_opts[] = {
    {"connections", required_argument, NULL, 'c'},
    {"requests", required_argument, NULL, 'n'},
    {"duration", required_argument, NULL, 'D'},
    {"streams", required_argument, NULL, 'm'},
    {"threads", required_argument, NULL, 't'},
    {"new-conn", no_argument, NULL, OPT_NEW_CONN},
    {"rebind", no_argument, NULL, OPT_REBIND},
    {"migrate", no_argument, NULL, OPT_MIGRATE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"initial-rtt", required_argument, NULL, OPT_INITIAL_RTT},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"verify-bytes", no_argument, NULL, OPT_VERIFY_BYTES},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"token", no_argument, NULL, OPT_TOKEN},
    {"header", required_argument, NULL, 'H'},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"latency-hist", no_argument, NULL, OPT_LATENCY_HIST},
    {"dump", required_argument, NULL, OPT_DUMP},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int qsl_opts_parse(struct qsl_opts *o, int argc, char **argv, char *err, size_t errlen) {
  memset(o, 0, sizeof(*o));
  o->connections = 1;
  o->requests = 1;
  o->streams = 1;
  o->threads = 1;
  o->initial_rtt_ns = 333ull * 1000000;
  o->timeout_ns = 10ull * 1000000000;
  o->progress = -1;
  int have_requests = 0, insecure = 0;
  uint64_t v;
  double d;

  optind = 0; /* full reinitialisation: tests parse several argv */
  opterr = 0; /* we print our own single line */
  for (;;) {
    int ch = getopt_long(argc, argv, ":c:n:D:m:t:H:hV", long_opts, NULL);
    if (ch == -1) {
      break;
    }
    switch (ch) {
    case 'c':
      if (parse_u64(optarg, 1, QSL_MAX_CONNECTIONS, &v) != 0) {
        return fail(err, errlen, "--connections: expected 1..%d, got '%s'", QSL_MAX_CONNECTIONS,
                    optarg);
      }
      o->connections = (uint32_t)v;
      break;
    case 'n':
      if (parse_u64(optarg, 1, UINT32_MAX, &v) != 0) {
        return fail(err, errlen, "--requests: expected a positive integer, got '%s'", optarg);
      }
      o->requests = v;
      have_requests = 1;
      break;
    case 'D':
      if (parse_pos_double(optarg, 86400 * 365, &d) != 0) {
        return fail(err, errlen, "--duration: expected seconds > 0, got '%s'", optarg);
      }
      o->duration_ns = (uint64_t)(d * 1e9);
      if (o->duration_ns == 0) {
        o->duration_ns = 1;
      }
      break;
    case 'm':
      if (parse_u64(optarg, 1, QSL_MAX_STREAMS, &v) != 0) {
        return fail(err, errlen, "--streams: expected 1..%d, got '%s'", QSL_MAX_STREAMS, optarg);
      }
      o->streams = (uint32_t)v;
      break;
    case 't':
      if (parse_u64(optarg, 1, QSL_MAX_THREADS, &v) != 0) {
        return fail(err, errlen, "--threads: expected 1..%d, got '%s'", QSL_MAX_THREADS, optarg);
      }
      o->threads = (uint32_t)v;
      break;
    case OPT_NEW_CONN:
      o->new_conn = 1;
      break;
    case OPT_TOKEN:
      o->token = 1;
      break;
    case 'H':
      if (parse_header(o, optarg, err, errlen) != 0) {
        return QSL_OPTS_USAGE;
      }
      break;
    case OPT_RESUME:
      o->resume = 1;
      break;
    case OPT_REBIND:
      o->rebind = 1;
      break;
    case OPT_MIGRATE:
      o->migrate = 1;
      break;
    case OPT_RATE:
      if (parse_pos_double(optarg, 1e9, &o->rate) != 0) {
        return fail(err, errlen, "--rate: expected requests per second > 0, got '%s'", optarg);
      }
      break;
    case OPT_INITIAL_RTT:
      if (parse_pos_double(optarg, 3600e3, &d) != 0) {
        return fail(err, errlen, "--initial-rtt: expected milliseconds > 0, got '%s'", optarg);
      }
      o->initial_rtt_ns = (uint64_t)(d * 1e6);
      if (o->initial_rtt_ns == 0) {
        o->initial_rtt_ns = 1;
      }
      break;
    case OPT_JSON:
      o->json = 1;
      break;
    case OPT_HOLD:
      if (parse_pos_double(optarg, 86400, &d) != 0) {
        return fail(err, errlen, "--hold: expected seconds > 0, got '%s'", optarg);
      }
      o->hold_ns = (uint64_t)(d * 1e9);
      if (o->hold_ns == 0) {
        o->hold_ns = 1;
      }
      break;
    case OPT_LATENCY_HIST:
      o->latency_hist = 1;
      break;
    case OPT_DUMP:
      o->dump_path = optarg;
      break;
    case OPT_TIMEOUT:
      if (parse_pos_double(optarg, 86400, &d) != 0) {
        return fail(err, errlen, "--timeout: expected seconds > 0, got '%s'", optarg);
      }
      o->timeout_ns = (uint64_t)(d * 1e9);
      if (o->timeout_ns < 1000000) {
        o->timeout_ns = 1000000; /* ngtcp2 timers are not finer than that */
      }
      break;
    case OPT_INSECURE:
      insecure = 1;
      break;
    case OPT_VERIFY:
      o->verify_cert = 1;
      break;
    case OPT_CACERT:
      o->cacert = optarg;
      o->verify_cert = 1;
      break;
    case OPT_VERIFY_BYTES:
      o->verify_bytes = 1;
      break;
    case OPT_PROGRESS:
      o->progress = 1;
      break;
    case OPT_NO_PROGRESS:
      o->progress = 0;
      break;
    case 'h':
      return QSL_OPTS_HELP;
    case 'V':
      return QSL_OPTS_VERSION;
    case ':':
      /* argv[optind - 1] is the option as spelled, short or long */
      return fail(err, errlen, "option %s needs a value", argv[optind - 1]);
    case '?':
    default:
      if (optopt > 0 && optopt < 128) {
        return fail(err, errlen, "unknown option -%c", optopt);
      }
      return fail(err, errlen, "unknown option %s", argv[optind - 1]);
    }
  }

  if (have_requests && o->duration_ns) {
    return fail(err, errlen, "--requests and --duration are exclusive");
  }
  if (o->hold_ns && o->duration_ns) {
    return fail(err, errlen, "--hold needs --requests mode, not --duration");
  }
  if (o->rebind && o->migrate) {
    return fail(err, errlen, "--rebind and --migrate are exclusive");
  }
  if (insecure && o->verify_cert) {
    return fail(err, errlen, "--insecure contradicts --verify/--cacert");
  }
  if (optind >= argc) {
    return fail(err, errlen, "no URL given");
  }
  if (argc - optind > QSL_MAX_URLS) {
    return fail(err, errlen, "at most %d URLs", QSL_MAX_URLS);
  }
  for (int i = optind; i < argc; i++) {
    if (qsl_url_parse(&o->urls[o->nurls], argv[i], err, errlen) != 0) {
      qsl_opts_free(o);
      return QSL_OPTS_USAGE;
    }
    o->nurls++;
    struct qsl_url *nu = &o->urls[o->nurls - 1];
    for (size_t h = 0; h < o->nheaders; h++) {
      url_set_nv(&nu->nv[nu->nnv++], o->hname[h], o->hvalue[h]);
    }
    const struct qsl_url *first = &o->urls[0], *u = nu;
    if (u->port != first->port || strcasecmp(u->host, first->host) != 0) {
      snprintf(err, errlen, "%s: all URLs must share one origin (%s)", u->text,
               first->authority);
      qsl_opts_free(o);
      return QSL_OPTS_USAGE;
    }
  }
  if (o->threads > o->connections) {
    o->threads = o->connections; /* a thread without connections has no work */
  }
  return QSL_OPTS_RUN;
}

int qsl_opts_resolve(struct qsl_opts *o, char *err, size_t errlen) {
  const struct qsl_url *u = &o->urls[0];
  struct in6_addr a6;
  struct in_addr a4;
  o->sni = !(inet_pton(AF_INET, u->host, &a4) == 1 || inet_pton(AF_INET6, u->host, &a6) == 1);

  char port[8];
  snprintf(port, sizeof(port), "%u", u->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_DGRAM,
                           .ai_flags = AI_NUMERICSERV | (o->sni ? 0 : AI_NUMERICHOST)};
  struct addrinfo *res = NULL;
  int rv = getaddrinfo(u->host, port, &hints, &res);
  if (rv != 0) {
    return fail(err, errlen, "%s: cannot resolve: %s", u->host, gai_strerror(rv));
  }
  if (!res || res->ai_addrlen > sizeof(o->remote)) {
    freeaddrinfo(res);
    return fail(err, errlen, "%s: no usable address", u->host);
  }
  memcpy(&o->remote, res->ai_addr, res->ai_addrlen);
  o->remotelen = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}
