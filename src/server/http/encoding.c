/* encoding.c: see encoding.h. */
#include "encoding.h"


const char *qs_enc_name(int enc) {
  return enc == QS_ENC_BR ? "br" : enc == QS_ENC_GZIP ? "gzip" : "";
}

const char *qs_enc_suffix(int enc) {
  return enc == QS_ENC_BR ? ".br" : enc == QS_ENC_GZIP ? ".gz" : "";
}

static int ows(char c) { return c == ' ' || c == '\t'; }

/* token |t| (|n| octets) is |want| (lower case, |wl| octets), ASCII
 * case-insensitively */
static int token_is(const char *t, size_t n, const char *want, size_t wl) {
  if (n != wl)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = t[i] >= 'A' && t[i] <= 'Z' ? (char)(t[i] + 32) : t[i];
    if (c != want[i])
      return 0;
  }
  return 1;
}

/* a qvalue (RFC 9110 s12.4.2) in thousandths, or -1 */
static int qvalue(const char *p, size_t n) {
  int q, scale = 100;
  if (n == 0 || (p[0] != '0' && p[0] != '1'))
    return -1;
  q = (p[0] - '0') * 1000;
  if (n == 1)
    return q;
  if (p[1] != '.' || n > 5)
    return -1;
  for (size_t i = 2; i < n; i++, scale /= 10) {
    if (p[i] < '0' || p[i] > '9')
      return -1;
    q += (p[i] - '0') * scale;
  }
  return q > 1000 ? -1 : q;
}

/* the weight of one element's parameters [p, end): its q, 1000 without */
static int element_q(const char *p, const char *end) {
  int q = 1000;
  while (p < end) {
    const char *name, *val;
    while (p < end && (ows(*p) || *p == ';'))
      p++;
    name = p;
    while (p < end && *p != '=' && *p != ';' && !ows(*p))
      p++;
    if (p - name == 1 && (*name == 'q' || *name == 'Q')) {
      while (p < end && ows(*p))
        p++;
      if (p >= end || *p != '=')
        return -1;
      p++;
      while (p < end && ows(*p))
        p++;
      val = p;
      while (p < end && *p != ';' && !ows(*p))
        p++;
      q = qvalue(val, (size_t)(p - val));
    } else {
      while (p < end && *p != ';') /* another parameter: skipped */
        p++;
    }
  }
  return q;
}

void qs_enc_accept_init(struct qs_enc_accept *a) {
  for (int i = 0; i <= QS_ENC_N; i++)
    a->q[i] = -1;
}

void qs_enc_accept_add(struct qs_enc_accept *a, const char *v, size_t len) {
  const char *p = v, *end = v + len;
  int16_t *q = a->q;

  while (p < end) {
    const char *tok, *el_end;
    size_t tl;
    int which, w;
    while (p < end && (ows(*p) || *p == ','))
      p++;
    tok = p;
    while (p < end && *p != ',' && *p != ';' && !ows(*p))
      p++;
    tl = (size_t)(p - tok);
    el_end = p;
    while (el_end < end && *el_end != ',')
      el_end++;
    if (tl == 0) {
      p = el_end;
      continue;
    }
    if (token_is(tok, tl, "br", 2))
      which = QS_ENC_BR;
    else if (token_is(tok, tl, "gzip", 4) || token_is(tok, tl, "x-gzip", 6))
      which = QS_ENC_GZIP;
    else if (token_is(tok, tl, "identity", 8))
      which = QS_ENC_IDENTITY;
    else if (tl == 1 && tok[0] == '*')
      which = QS_ENC_N;
    else
      which = -1;
    w = element_q(p, el_end);
    if (which >= 0 && q[which] < 0)
      q[which] = (int16_t)(w < 0 ? 0 : w); /* the first mention counts; a bad q refuses */
    p = el_end;
  }
}

size_t qs_enc_accept_rank(const struct qs_enc_accept *a, uint8_t *out) {
  const int16_t *q = a->q;
  int best[QS_ENC_N];
  size_t n = 0;
  for (int e = QS_ENC_BR; e < QS_ENC_N; e++) {
    int w = q[e] >= 0 ? q[e] : q[QS_ENC_N] >= 0 ? q[QS_ENC_N] : 0;
    if (w <= 0 || w < q[QS_ENC_IDENTITY])
      continue;
    /* insert by weight; an equal one keeps the earlier coding (br) first */
    size_t i = n;
    while (i > 0 && best[i - 1] < w) {
      best[i] = best[i - 1];
      out[i] = out[i - 1];
      i--;
    }
    best[i] = w;
    out[i] = (uint8_t)e;
    n++;
  }
  return n;
}

size_t qs_enc_rank(const char *v, size_t len, uint8_t *out) {
  struct qs_enc_accept a;
  qs_enc_accept_init(&a);
  qs_enc_accept_add(&a, v, len);
  return qs_enc_accept_rank(&a, out);
}

int qs_enc_choose(const struct qs_enc_accept *a, unsigned sibs) {
  uint8_t rank[QS_ENC_N - 1];
  size_t n;
  if (!sibs)
    return QS_ENC_IDENTITY;
  n = qs_enc_accept_rank(a, rank);
  for (size_t i = 0; i < n; i++)
    if (sibs & QS_ENC_BIT(rank[i]))
      return rank[i];
  return QS_ENC_IDENTITY;
}
