/* stats.c: histograms, merging and the final reports of quicsteer-load. */
#include "stats.h"

#include <inttypes.h>
#include <string.h>

const char *const qsl_err_names[QSL_ERR__MAX] = {
    [QSL_ERR_CONNECT] = "connect",
    [QSL_ERR_HANDSHAKE_TIMEOUT] = "handshake_timeout",
    [QSL_ERR_HANDSHAKE_FAILED] = "handshake_failed",
    [QSL_ERR_IDLE_TIMEOUT] = "idle_timeout",
    [QSL_ERR_CONN_CLOSED] = "conn_closed",
    [QSL_ERR_PROTOCOL] = "protocol",
    [QSL_ERR_AFTER_REBIND] = "after_rebind",
    [QSL_ERR_AFTER_MIGRATION] = "after_migration",
    [QSL_ERR_STREAM_RESET] = "stream_reset",
    [QSL_ERR_HTTP_STATUS] = "http_status",
    [QSL_ERR_BODY_LENGTH] = "body_length",
    [QSL_ERR_REQ_TIMEOUT] = "request_timeout",
    [QSL_ERR_ABORTED] = "aborted",
};

void qsl_hist_init(struct qsl_hist *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

unsigned qsl_hist_index(uint64_t v) {
  if (v < 2 * QSL_HIST_SUB) {
    return (unsigned)v;
  }
  if (v >> QSL_HIST_MAXBIT) {
    v = (1ull << QSL_HIST_MAXBIT) - 1;
  }
  unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
  unsigned shift = msb - 6;                          /* v >> shift in [64, 128) */
  return (shift + 1) * QSL_HIST_SUB + (unsigned)((v >> shift) - QSL_HIST_SUB);
}

uint64_t qsl_hist_upper(unsigned idx) {
  if (idx < 2 * QSL_HIST_SUB) {
    return idx;
  }
  unsigned shift = idx / QSL_HIST_SUB - 1;
  uint64_t m = idx % QSL_HIST_SUB + QSL_HIST_SUB;
  return ((m + 1) << shift) - 1;
}

void qsl_hist_add(struct qsl_hist *h, uint64_t v) {
  h->count++;
  h->sum += v;
  if (v < h->min) {
    h->min = v;
  }
  if (v > h->max) {
    h->max = v;
  }
  h->b[qsl_hist_index(v)]++;
}

void qsl_hist_merge(struct qsl_hist *dst, const struct qsl_hist *src) {
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->min < dst->min) {
    dst->min = src->min;
  }
  if (src->max > dst->max) {
    dst->max = src->max;
  }
  for (unsigned i = 0; i < QSL_HIST_BUCKETS; i++) {
    dst->b[i] += src->b[i];
  }
}

uint64_t qsl_hist_quantile(const struct qsl_hist *h, double q) {
  if (h->count == 0) {
    return 0;
  }
  /* nearest rank: the smallest value with at least q*count values <= it */
  uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
  if (rank < 1) {
    rank = 1;
  }
  if (rank > h->count) {
    rank = h->count;
  }
  uint64_t seen = 0;
  for (unsigned i = 0; i < QSL_HIST_BUCKETS; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      uint64_t up = qsl_hist_upper(i);
      if (up > h->max) {
        up = h->max;
      }
      if (up < h->min) {
        up = h->min;
      }
      return up;
    }
  }
  return h->max;
}

void qsl_stats_init(struct qsl_stats *s) {
  memset(s, 0, sizeof(*s));
  qsl_hist_init(&s->latency);
  qsl_hist_init(&s->handshake);
}

static void switch_merge(struct qsl_switch_stats *d, const struct qsl_switch_stats *s) {
  d->attempted += s->attempted;
  d->validated += s->validated;
  d->completed += s->completed;
  d->failed += s->failed;
  d->unavailable += s->unavailable;
}

void qsl_stats_merge(struct qsl_stats *d, const struct qsl_stats *s) {
  d->conns_started += s->conns_started;
  d->handshakes += s->handshakes;
  d->conns_failed += s->conns_failed;
  d->conns_held += s->conns_held;
  d->retry_rx += s->retry_rx;
  d->new_token_rx += s->new_token_rx;
  d->token_sent += s->token_sent;
  d->resumed += s->resumed;
  d->req_sent += s->req_sent;
  d->req_ok += s->req_ok;
  d->req_failed += s->req_failed;
  d->req_not_sent += s->req_not_sent;
  d->body_bytes += s->body_bytes;
  for (int i = 0; i < QSL_ERR__MAX; i++) {
    d->err[i] += s->err[i];
  }
  for (size_t i = 0; i < sizeof(d->status) / sizeof(d->status[0]); i++) {
    d->status[i] += s->status[i];
  }
  d->status_other += s->status_other;
  switch_merge(&d->rebind, &s->rebind);
  switch_merge(&d->migrate, &s->migrate);
  d->dgrams_sent += s->dgrams_sent;
  d->bytes_sent += s->bytes_sent;
  d->send_calls += s->send_calls;
  d->gso_sends += s->gso_sends;
  d->send_drops += s->send_drops;
  d->dgrams_recv += s->dgrams_recv;
  d->bytes_recv += s->bytes_recv;
  d->recv_calls += s->recv_calls;
  qsl_hist_merge(&d->latency, &s->latency);
  qsl_hist_merge(&d->handshake, &s->handshake);
}

static uint64_t err_total(const struct qsl_stats *s) {
  uint64_t n = 0;
  for (int i = 0; i < QSL_ERR__MAX; i++) {
    n += s->err[i];
  }
  return n;
}

int qsl_stats_failed(const struct qsl_stats *s) {
  return err_total(s) || s->req_failed || s->req_not_sent || s->req_ok == 0 ||
         s->rebind.failed || s->rebind.unavailable || s->migrate.failed ||
         s->migrate.unavailable;
}

static double per_s(uint64_t n, uint64_t ns) {
  return ns ? (double)n * 1e9 / (double)ns : 0.0;
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void text_hist(FILE *fp, const char *label, const struct qsl_hist *h) {
  if (!h->count) {
    fprintf(fp, "%-12s-\n", label);
    return;
  }
  fprintf(fp, "%-12smin %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f ms\n", label,
          ms(h->min), ms(qsl_hist_quantile(h, 0.50)), ms(qsl_hist_quantile(h, 0.90)),
          ms(qsl_hist_quantile(h, 0.99)), ms(h->max), ms(h->sum / h->count));
}

static void text_switch(FILE *fp, const char *label, const struct qsl_switch_stats *w,
                        int migrate) {
  fprintf(fp, "%-12s%" PRIu64 " attempted", label, w->attempted);
  if (migrate) {
    fprintf(fp, ", %" PRIu64 " validated", w->validated);
  }
  fprintf(fp, ", %" PRIu64 " completed, %" PRIu64 " failed, %" PRIu64 " unavailable\n",
          w->completed, w->failed, w->unavailable);
}

void qsl_report_text(FILE *fp, const struct qsl_stats *s, const struct qsl_opts *o,
                     uint64_t elapsed_ns) {
  fprintf(fp, "quicsteer-load %s: %u connection%s, ", o->urls[0].authority, o->connections,
          o->connections == 1 ? "" : "s");
  if (o->duration_ns) {
    fprintf(fp, "%.1f s", (double)o->duration_ns / 1e9);
  } else {
    fprintf(fp, "%" PRIu64 " request%s each", o->requests, o->requests == 1 ? "" : "s");
  }
  fprintf(fp, ", %u stream%s, %u thread%s%s%s%s\n", o->streams, o->streams == 1 ? "" : "s",
          o->threads, o->threads == 1 ? "" : "s", o->new_conn ? ", new connection per request" : "",
          o->rebind ? ", rebind" : "", o->migrate ? ", migrate" : "");
  fprintf(fp, "finished in %.3f s\n", (double)elapsed_ns / 1e9);
  fprintf(fp,
          "%-12s%" PRIu64 " started, %" PRIu64 " handshakes, %" PRIu64
          " failed, %.1f handshakes/s",
          "connections", s->conns_started, s->handshakes, s->conns_failed,
          per_s(s->handshakes, elapsed_ns));
  if (o->hold_ns) {
    fprintf(fp, ", %" PRIu64 " held idle %.1f s", s->conns_held, (double)o->hold_ns / 1e9);
  }
  if (o->resume) {
    fprintf(fp, ", %" PRIu64 " resumed", s->resumed);
  }
  fputc('\n', fp);
  fprintf(fp,
          "%-12s%" PRIu64 " sent, %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64
          " not sent, %.1f/s\n",
          "requests", s->req_sent, s->req_ok, s->req_failed, s->req_not_sent,
          per_s(s->req_ok, elapsed_ns));
  fprintf(fp, "%-12s%.3f MB/s (%" PRIu64 " body octets)\n", "goodput",
          per_s(s->body_bytes, elapsed_ns) / 1e6, s->body_bytes);
  text_hist(fp, "latency", &s->latency);
  text_hist(fp, "handshake", &s->handshake);
  fprintf(fp, "%-12s", "status");
  int any = 0;
  for (int i = 0; i <= QSL_STATUS_MAX - QSL_STATUS_MIN; i++) {
    if (s->status[i]) {
      fprintf(fp, "%s%d: %" PRIu64, any ? ", " : "", i + QSL_STATUS_MIN, s->status[i]);
      any = 1;
    }
  }
  if (s->status_other) {
    fprintf(fp, "%sother: %" PRIu64, any ? ", " : "", s->status_other);
    any = 1;
  }
  fprintf(fp, "%s\n", any ? "" : "-");
  fprintf(fp, "%-12s", "errors");
  any = 0;
  for (int i = 0; i < QSL_ERR__MAX; i++) {
    if (s->err[i]) {
      fprintf(fp, "%s%s %" PRIu64, any ? ", " : "", qsl_err_names[i], s->err[i]);
      any = 1;
    }
  }
  fprintf(fp, "%s\n", any ? "" : "none");
  if (o->rebind) {
    text_switch(fp, "rebind", &s->rebind, 0);
  }
  if (o->migrate) {
    text_switch(fp, "migrate", &s->migrate, 1);
  }
  fprintf(fp,
          "%-12ssent %" PRIu64 " datagrams (%" PRIu64 " octets) in %" PRIu64
          " sendmmsg calls, %" PRIu64 " GSO, %" PRIu64 " dropped; received %" PRIu64
          " (%" PRIu64 " octets) in %" PRIu64 " recvmmsg calls\n",
          "udp", s->dgrams_sent, s->bytes_sent, s->send_calls, s->gso_sends, s->send_drops,
          s->dgrams_recv, s->bytes_recv, s->recv_calls);
}

static void json_str(FILE *fp, const char *v) {
  fputc('"', fp);
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    if (*p == '"' || *p == '\\') {
      fprintf(fp, "\\%c", *p);
    } else if (*p < 0x20) {
      fprintf(fp, "\\u%04x", *p);
    } else {
      fputc(*p, fp);
    }
  }
  fputc('"', fp);
}

static void json_hist(FILE *fp, const char *key, const struct qsl_hist *h) {
  /* microseconds: precise enough, and readable */
  fprintf(fp,
          "\"%s\":{\"count\":%" PRIu64 ",\"min\":%.1f,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
          "\"p99\":%.1f,\"max\":%.1f}",
          key, h->count, h->count ? (double)h->min / 1e3 : 0.0,
          h->count ? (double)(h->sum / h->count) / 1e3 : 0.0,
          (double)qsl_hist_quantile(h, 0.50) / 1e3, (double)qsl_hist_quantile(h, 0.90) / 1e3,
          (double)qsl_hist_quantile(h, 0.99) / 1e3, (double)h->max / 1e3);
}

/* json_hist_buckets writes the non-empty buckets as [upper edge in us,
 * count] pairs, in order: enough to draw the distribution (CDF) */
static void json_hist_buckets(FILE *fp, const char *key, const struct qsl_hist *h) {
  fprintf(fp, "\"%s\":[", key);
  int any = 0;
  for (unsigned i = 0; i < QSL_HIST_BUCKETS; i++) {
    if (h->b[i]) {
      fprintf(fp, "%s[%.3f,%" PRIu64 "]", any ? "," : "", (double)qsl_hist_upper(i) / 1e3,
              h->b[i]);
      any = 1;
    }
  }
  fputc(']', fp);
}

static void json_switch(FILE *fp, const char *key, const struct qsl_switch_stats *w) {
  fprintf(fp,
          "\"%s\":{\"attempted\":%" PRIu64 ",\"validated\":%" PRIu64 ",\"completed\":%" PRIu64
          ",\"failed\":%" PRIu64 ",\"unavailable\":%" PRIu64 "}",
          key, w->attempted, w->validated, w->completed, w->failed, w->unavailable);
}

void qsl_report_json(FILE *fp, const struct qsl_stats *s, const struct qsl_opts *o,
                     uint64_t elapsed_ns) {
  fputs("{\"config\":{\"urls\":[", fp);
  for (size_t i = 0; i < o->nurls; i++) {
    if (i) {
      fputc(',', fp);
    }
    json_str(fp, o->urls[i].text);
  }
  fprintf(fp,
          "],\"connections\":%u,\"requests\":%" PRIu64 ",\"duration_s\":%.3f,\"streams\":%u,"
          "\"threads\":%u,\"new_conn\":%s,\"rebind\":%s,\"migrate\":%s,\"rate\":%.3f,"
          "\"initial_rtt_ms\":%.3f,\"timeout_s\":%.3f,\"hold_s\":%.3f},",
          o->connections, o->duration_ns ? (uint64_t)0 : o->requests,
          (double)o->duration_ns / 1e9, o->streams, o->threads, o->new_conn ? "true" : "false",
          o->rebind ? "true" : "false", o->migrate ? "true" : "false", o->rate,
          (double)o->initial_rtt_ns / 1e6, (double)o->timeout_ns / 1e9,
          (double)o->hold_ns / 1e9);
  fprintf(fp, "\"elapsed_s\":%.6f,\"ok\":%s,", (double)elapsed_ns / 1e9,
          qsl_stats_failed(s) ? "false" : "true");
  fprintf(fp,
          "\"connections\":{\"started\":%" PRIu64 ",\"handshakes\":%" PRIu64
          ",\"failed\":%" PRIu64 "},",
          s->conns_started, s->handshakes, s->conns_failed);
  fprintf(fp, "\"tls\":{\"resumed\":%" PRIu64 "},", s->resumed);
  fprintf(fp,
          "\"address\":{\"retry\":%" PRIu64 ",\"new_token\":%" PRIu64 ",\"token_sent\":%" PRIu64
          "},",
          s->retry_rx, s->new_token_rx, s->token_sent);
  fprintf(fp,
          "\"requests\":{\"sent\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
          ",\"not_sent\":%" PRIu64 "},",
          s->req_sent, s->req_ok, s->req_failed, s->req_not_sent);
  fprintf(fp,
          "\"handshakes_per_s\":%.3f,\"requests_per_s\":%.3f,\"body_bytes\":%" PRIu64
          ",\"goodput_bytes_per_s\":%.3f,",
          per_s(s->handshakes, elapsed_ns), per_s(s->req_ok, elapsed_ns), s->body_bytes,
          per_s(s->body_bytes, elapsed_ns));
  json_hist(fp, "latency_us", &s->latency);
  fputc(',', fp);
  if (o->latency_hist) {
    json_hist_buckets(fp, "latency_hist_us", &s->latency);
    fputc(',', fp);
  }
  fprintf(fp, "\"held_connections\":%" PRIu64 ",", s->conns_held);
  json_hist(fp, "handshake_us", &s->handshake);
  fputs(",\"status\":{", fp);
  int any = 0;
  for (int i = 0; i <= QSL_STATUS_MAX - QSL_STATUS_MIN; i++) {
    if (s->status[i]) {
      fprintf(fp, "%s\"%d\":%" PRIu64, any ? "," : "", i + QSL_STATUS_MIN, s->status[i]);
      any = 1;
    }
  }
  if (s->status_other) {
    fprintf(fp, "%s\"other\":%" PRIu64, any ? "," : "", s->status_other);
  }
  fputs("},\"errors\":{", fp);
  for (int i = 0; i < QSL_ERR__MAX; i++) {
    fprintf(fp, "%s\"%s\":%" PRIu64, i ? "," : "", qsl_err_names[i], s->err[i]);
  }
  fputs("},", fp);
  json_switch(fp, "rebind", &s->rebind);
  fputc(',', fp);
  json_switch(fp, "migrate", &s->migrate);
  fprintf(fp,
          ",\"udp\":{\"datagrams_sent\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
          ",\"send_calls\":%" PRIu64 ",\"gso_sends\":%" PRIu64 ",\"send_drops\":%" PRIu64
          ",\"datagrams_received\":%" PRIu64 ",\"bytes_received\":%" PRIu64
          ",\"recv_calls\":%" PRIu64 "}}\n",
          s->dgrams_sent, s->bytes_sent, s->send_calls, s->gso_sends, s->send_drops,
          s->dgrams_recv, s->bytes_recv, s->recv_calls);
}
