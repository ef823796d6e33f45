/* test_server_encoding.c: Accept-Encoding negotiation for precompressed
 * siblings (src/server/http/encoding.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "encoding.h"

#define BR QS_ENC_BR
#define GZ QS_ENC_GZIP
#define BOTH (QS_ENC_BIT(BR) | QS_ENC_BIT(GZ))

/* the ranking of |v| as a string of 'b' and 'g' */
static const char *rank(const char *v) {
  static char out[QS_ENC_N];
  uint8_t r[QS_ENC_N - 1];
  size_t n = qs_enc_rank(v, strlen(v), r);
  assert_true(n <= QS_ENC_N - 1);
  for (size_t i = 0; i < n; i++)
    out[i] = r[i] == BR ? 'b' : 'g';
  out[n] = '\0';
  return out;
}

static void test_rank(void **state) {
  (void)state;
  assert_string_equal(rank(""), "");
  assert_string_equal(rank("gzip"), "g");
  assert_string_equal(rank("br"), "b");
  /* equal weights: br first, whatever the order sent */
  assert_string_equal(rank("gzip, deflate, br"), "bg");
  assert_string_equal(rank("gzip, deflate, br, zstd"), "bg");
  /* case-insensitive tokens, OWS, empty elements, x-gzip */
  assert_string_equal(rank("  GZip ,, BR "), "bg");
  assert_string_equal(rank("x-gzip"), "g");
  /* q-values order them; q=0 refuses */
  assert_string_equal(rank("br;q=0.5, gzip;q=0.8"), "gb");
  assert_string_equal(rank("br;q=0.5, gzip"), "gb");
  assert_string_equal(rank("br ; q=0.999 , gzip;q=1.000"), "gb");
  assert_string_equal(rank("br;Q=1, gzip;q=1"), "bg");
  assert_string_equal(rank("br;q=0, gzip"), "g");
  assert_string_equal(rank("br;q=0.000, gzip;q=0."), "");
  assert_string_equal(rank("gzip;level=9;q=0.3, br;q=0.2"), "gb");
  /* a q that is not a qvalue refuses the coding */
  assert_string_equal(rank("br;q=2, gzip;q=0.5"), "g");
  assert_string_equal(rank("br;q=1.5, gzip;q=abc"), "");
  assert_string_equal(rank("br;q=0.1234, gzip;q=-1"), "");
  assert_string_equal(rank("br;q, gzip;q="), "");
  /* "*" stands for what is not named */
  assert_string_equal(rank("*"), "bg");
  assert_string_equal(rank("gzip;q=0, *"), "b");
  assert_string_equal(rank("*;q=0.5, gzip"), "gb");
  assert_string_equal(rank("*;q=0"), "");
  assert_string_equal(rank("identity, *;q=0"), "");
  /* the first mention of a coding counts */
  assert_string_equal(rank("br;q=0, br"), "");
  /* an explicit identity weight above a coding's: the plain file wins */
  assert_string_equal(rank("gzip;q=0.5, identity"), "");
  assert_string_equal(rank("br;q=0.5, gzip, identity;q=0.8"), "g");
  assert_string_equal(rank("br, identity;q=0"), "b");
  /* unknown codings and garbage are ignored */
  assert_string_equal(rank("compress, deflate, zstd"), "");
  assert_string_equal(rank(";;;,,,=;q=1"), "");
  assert_string_equal(rank("brotli, gz, gzipx"), "");
}

/* the choice over |n| field lines */
static int choose(unsigned sibs, size_t n, ...) {
  struct qs_enc_accept a;
  va_list ap;
  qs_enc_accept_init(&a);
  va_start(ap, n);
  for (size_t i = 0; i < n; i++) {
    const char *v = va_arg(ap, const char *);
    qs_enc_accept_add(&a, v, strlen(v));
  }
  va_end(ap);
  return qs_enc_choose(&a, sibs);
}

static void test_choose(void **state) {
  (void)state;
  /* no field: the file itself */
  assert_int_equal(choose(BOTH, 0), QS_ENC_IDENTITY);
  assert_int_equal(choose(0, 1, "gzip, br"), QS_ENC_IDENTITY);
  assert_int_equal(choose(BOTH, 1, "gzip, br"), BR);
  assert_int_equal(choose(QS_ENC_BIT(GZ), 1, "gzip, br"), GZ);
  assert_int_equal(choose(QS_ENC_BIT(GZ), 1, "br"), QS_ENC_IDENTITY);
  /* the best coding present, not the best asked for */
  assert_int_equal(choose(QS_ENC_BIT(BR), 1, "gzip;q=1, br;q=0.1"), BR);
  assert_int_equal(choose(BOTH, 1, "gzip;q=1, br;q=0.1"), GZ);
  assert_int_equal(choose(BOTH, 1, "gzip;q=0"), QS_ENC_IDENTITY);
  /* several field lines are one list */
  assert_int_equal(choose(BOTH, 2, "gzip", "br"), BR);
  assert_int_equal(choose(BOTH, 2, "gzip;q=0.5", "br;q=0.2"), GZ);
  assert_int_equal(choose(BOTH, 2, "br;q=0", "gzip;q=0"), QS_ENC_IDENTITY);
  assert_int_equal(choose(BOTH, 3, "", "deflate", "gzip"), GZ);
  assert_string_equal(qs_enc_name(BR), "br");
  assert_string_equal(qs_enc_name(GZ), "gzip");
  assert_string_equal(qs_enc_name(QS_ENC_IDENTITY), "");
  assert_string_equal(qs_enc_suffix(BR), ".br");
  assert_string_equal(qs_enc_suffix(GZ), ".gz");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rank),
      cmocka_unit_test(test_choose),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
