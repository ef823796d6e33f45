/* options.c: see options.h. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define ROW(name, short_name, type, unit, open, field, lo, hi, def)                           \
  {name, short_name, type, unit, open, offsetof(struct qs_config, field),                     \
   sizeof(((struct qs_config *)0)->field), lo, hi, def}
#define COUNT(name, field, lo, hi, def)                                                        \
  ROW(name, 0, QS_NUM_UINT, QS_UNIT_NONE, 0, field, lo, hi, def)
#define WHOLE_SECS(name, field, lo, hi, def)                                                   \
  ROW(name, 0, QS_NUM_UINT, QS_UNIT_SECONDS, 0, field, lo, hi, def)
#define SECS(name, field, lo, hi, def)                                                         \
  ROW(name, 0, QS_NUM_DOUBLE, QS_UNIT_SECONDS, 0, field, lo, hi, def)
/* seconds that must be more than |lo| */
#define SECS_ABOVE(name, field, lo, hi, def)                                                   \
  ROW(name, 0, QS_NUM_DOUBLE, QS_UNIT_SECONDS, 1, field, lo, hi, def)

const struct qs_numopt qs_numopts[] = {
    /* the default is the number of CPUs: set_defaults (config.c) */
    ROW("workers", 'w', QS_NUM_UINT, QS_UNIT_NONE, 0, workers, 1, QS_MAX_WORKERS, 1),
    ROW("initial-rtt", 0, QS_NUM_UINT, QS_UNIT_MS, 0, initial_rtt_ms, 1, 10000,
        QS_DEFAULT_INITIAL_RTT_MS),
    COUNT("retry-auto-rate", retry_auto_rate, 1, 100000000, QS_DEFAULT_RETRY_AUTO_RATE),
    COUNT("retry-auto-handshakes", retry_auto_handshakes, 0, 10000000,
          QS_DEFAULT_RETRY_AUTO_HANDSHAKES),
    COUNT("max-handshakes", max_handshakes, 1, 10000000, QS_DEFAULT_MAX_HANDSHAKES),
    COUNT("max-conns", max_conns, 1, 10000000, QS_DEFAULT_MAX_CONNS),
    SECS("handshake-timeout", handshake_timeout, 0.1, 600, QS_DEFAULT_HANDSHAKE_TIMEOUT_S),
    SECS("drain-timeout", drain_timeout, 0, 3600, QS_DEFAULT_DRAIN_TIMEOUT_S),
    WHOLE_SECS("idle-timeout", idle_timeout_s, 1, 86400, QS_DEFAULT_IDLE_TIMEOUT_S),
    WHOLE_SECS("ticket-lifetime", ticket_lifetime_s, 1, QS_MAX_TICKET_LIFETIME_S,
               QS_DEFAULT_TICKET_LIFETIME_S),
    SECS("key-retire", key_retire_s, 0, 86400, QS_DEFAULT_KEY_RETIRE_S),
    SECS_ABOVE("proxy-connect-timeout", proxy_connect_timeout, 0, 3600,
               QS_DEFAULT_PROXY_CONNECT_TIMEOUT_S),
    SECS_ABOVE("proxy-first-byte-timeout", proxy_first_byte_timeout, 0, 86400,
               QS_DEFAULT_PROXY_FIRST_BYTE_TIMEOUT_S),
    SECS_ABOVE("proxy-idle-timeout", proxy_idle_timeout, 0, 86400,
               QS_DEFAULT_PROXY_IDLE_TIMEOUT_S),
    COUNT("proxy-pool-idle", proxy_pool_idle, 0, 100000, QS_DEFAULT_PROXY_POOL_IDLE),
    COUNT("proxy-pool-max", proxy_pool_max, 1, 100000, QS_DEFAULT_PROXY_POOL_MAX),
    ROW("max-header-size", 0, QS_NUM_SIZE, QS_UNIT_OCTETS, 0, max_header_size, 1024, 1 << 20,
        QS_DEFAULT_MAX_HEADER),
    SECS_ABOVE("header-timeout", header_timeout, 0, 3600, QS_DEFAULT_HEADER_TIMEOUT_S),
    SECS_ABOVE("send-timeout", send_timeout, 0, 86400, QS_DEFAULT_SEND_TIMEOUT_S),
    COUNT("max-tcp-conns", max_tcp_conns, 1, 10000000, QS_DEFAULT_MAX_TCP_CONNS),
    {NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

#define FLAG(name, field) {name, offsetof(struct qs_config, field)}

const struct qs_flagopt qs_flagopts[] = {
    FLAG("no-bpf", no_bpf),
    FLAG("no-forward", no_forward),
    FLAG("takeover", takeover),
    FLAG("detach", detach),
    FLAG("check-config", check_config),
    FLAG("serve-dotfiles", serve_dotfiles),
    FLAG("no-precompressed", no_precompressed),
    FLAG("bytes-endpoint", bytes_endpoint),
    FLAG("no-early-data", no_early_data),
    FLAG("no-tcp", no_tcp),
    {NULL, 0},
};

_Static_assert(sizeof qs_flagopts / sizeof *qs_flagopts <= QS_FLAGOPT_MAX + 1,
               "raise QS_FLAGOPT_MAX");

_Static_assert(sizeof qs_numopts / sizeof *qs_numopts <= QS_NUMOPT_MAX + 1,
               "raise QS_NUMOPT_MAX");

/* a unit's suffixes: the value is multiplied by mul, then divided by div */
static const struct suffix {
  uint8_t unit;
  char text[3];
  unsigned mul, div;
} suffixes[] = {
    {QS_UNIT_SECONDS, "s", 1, 1},     {QS_UNIT_SECONDS, "ms", 1, 1000},
    {QS_UNIT_MS, "ms", 1, 1},         {QS_UNIT_MS, "s", 1000, 1},
    {QS_UNIT_OCTETS, "k", 1024, 1},   {QS_UNIT_OCTETS, "K", 1024, 1},
    {QS_UNIT_OCTETS, "M", 1 << 20, 1},
};

static const struct suffix *find_suffix(unsigned unit, const char *s) {
  static const struct suffix none = {QS_UNIT_NONE, "", 1, 1};
  if (*s == '\0')
    return &none;
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
    if (suffixes[i].unit == unit && strcmp(suffixes[i].text, s) == 0)
      return &suffixes[i];
  return NULL;
}

static const char *const unit_words[] = {"", " seconds", " milliseconds", " octets"};

static size_t type_size(unsigned type) {
  switch (type) {
  case QS_NUM_INT:
    return sizeof(int);
  case QS_NUM_UINT:
    return sizeof(unsigned);
  case QS_NUM_SIZE:
    return sizeof(size_t);
  default:
    return sizeof(double);
  }
}

/* |x|, already in [min, max], into the field */
static void store(const struct qs_numopt *o, void *base, double x) {
  char *f = (char *)base + o->off;
  switch (o->type) {
  case QS_NUM_INT:
    *(int *)f = (int)x;
    break;
  case QS_NUM_UINT:
    *(unsigned *)f = (unsigned)x;
    break;
  case QS_NUM_SIZE:
    *(size_t *)f = (size_t)x;
    break;
  default:
    *(double *)f = x;
  }
}

/* The number at |s| with its suffix, as a double (exact for the integer
 * bounds of the table).  Returns 0 or -1. */
static int read_value(const struct qs_numopt *o, const char *s, double *out) {
  const struct suffix *sx;
  int neg = s[0] == '-';
  char *end;

  if (neg && (o->type == QS_NUM_UINT || o->type == QS_NUM_SIZE))
    return -1;
  if (!isdigit((unsigned char)s[neg]) && !(o->type == QS_NUM_DOUBLE && s[neg] == '.'))
    return -1;
  errno = 0;
  if (o->type == QS_NUM_DOUBLE) {
    double d = strtod(s, &end);
    /* strtod also takes hex, "inf" and "nan": only decimal digits here */
    if (errno || strspn(s, "0123456789.eE+-") < (size_t)(end - s))
      return -1;
    if (!(sx = find_suffix(o->unit, end)))
      return -1;
    *out = d * sx->mul / sx->div;
    return isfinite(*out) ? 0 : -1;
  }
  if (o->type == QS_NUM_INT) {
    long long v = strtoll(s, &end, 10);
    if (errno || !(sx = find_suffix(o->unit, end)) || v > LLONG_MAX / sx->mul ||
        v < LLONG_MIN / sx->mul || (v * sx->mul) % sx->div)
      return -1;
    *out = (double)(v * sx->mul / sx->div);
    return 0;
  }
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || !(sx = find_suffix(o->unit, end)) || v > ULLONG_MAX / sx->mul ||
      (v * sx->mul) % sx->div)
    return -1;
  *out = (double)(v * sx->mul / sx->div);
  return 0;
}

int qs_numopt_parse(const struct qs_numopt *o, const char *text, void *base, char *msg,
                    size_t msglen) {
  const char *unit = o->unit < sizeof unit_words / sizeof *unit_words ? unit_words[o->unit] : "";
  double x;
  if (o->size != type_size(o->type)) {
    snprintf(msg, msglen, "--%s: its table row does not match its field", o->name);
    return -1;
  }
  if (read_value(o, text, &x) == 0 && x >= o->min && x <= o->max &&
      !(o->min_open && x == o->min)) {
    store(o, base, x);
    return 0;
  }
  if (o->min_open)
    snprintf(msg, msglen, "bad --%s '%.100s' (want more than %.15g, at most %.15g%s)", o->name,
             text, o->min, o->max, unit);
  else
    snprintf(msg, msglen, "bad --%s '%.100s' (want %.15g..%.15g%s)", o->name, text, o->min,
             o->max, unit);
  return -1;
}

void qs_numopt_defaults(const struct qs_numopt *rows, void *base) {
  for (; rows->name; rows++)
    store(rows, base, rows->def);
}
