/* fuzz_accept_encoding.c: libFuzzer target for the Accept-Encoding reader
 * (src/server/http/encoding.c), which sees every request for a file with
 * precompressed siblings.
 *
 * Beyond "no crash, no overread": the ranking names each of our codings at
 * most once; a value split at a comma into two field lines ranks the
 * same as the whole (several lines are one list); upper-casing the value
 * changes nothing (tokens and "q" are case-insensitive); a trailing ", "
 * changes nothing; the choice is always a ranked coding present in the
 * sibling mask, or identity. */
#include <stdlib.h>
#include <string.h>

#include "encoding.h"

static void check(int cond) {
  if (!cond)
    abort();
}

static size_t rank2(const char *a, size_t alen, const char *b, size_t blen, uint8_t *out) {
  struct qs_enc_accept acc;
  qs_enc_accept_init(&acc);
  qs_enc_accept_add(&acc, a, alen);
  qs_enc_accept_add(&acc, b, blen);
  return qs_enc_accept_rank(&acc, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *v = (const char *)data;
  uint8_t r[QS_ENC_N - 1], r2[QS_ENC_N - 1];
  size_t n, n2;
  static char up[256];
  struct qs_enc_accept acc;

  if (size > sizeof up) /* a longer list exercises nothing new, only costs time */
    return 0;
  n = qs_enc_rank(v, size, r);
  check(n <= QS_ENC_N - 1);
  for (size_t i = 0; i < n; i++) {
    check(r[i] == QS_ENC_BR || r[i] == QS_ENC_GZIP);
    for (size_t j = 0; j < i; j++)
      check(r[i] != r[j]);
  }
  /* the choice among present siblings */
  qs_enc_accept_init(&acc);
  qs_enc_accept_add(&acc, v, size);
  for (unsigned sibs = 0; sibs < 8; sibs += 2) {
    int c = qs_enc_choose(&acc, sibs), ok = c == QS_ENC_IDENTITY;
    for (size_t i = 0; i < n; i++) {
      if (sibs & QS_ENC_BIT(r[i])) {
        check(c == r[i]); /* the first present one */
        ok = 1;
        break;
      }
    }
    check(ok);
  }
  /* split at a comma (the first two): the same ranking */
  for (size_t i = 0, splits = 0; i < size && splits < 2; i++) {
    if (v[i] != ',')
      continue;
    splits++;
    n2 = rank2(v, i, v + i + 1, size - i - 1, r2);
    check(n2 == n && memcmp(r, r2, n) == 0);
  }
  n2 = rank2(v, size, ", ", 2, r2);
  check(n2 == n && memcmp(r, r2, n) == 0);
  for (size_t i = 0; i < size; i++)
    up[i] = (char)(v[i] >= 'a' && v[i] <= 'z' ? v[i] - 32 : v[i]);
  n2 = qs_enc_rank(up, size, r2);
  check(n2 == n && memcmp(r, r2, n) == 0);
  return 0;
}
