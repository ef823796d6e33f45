/* test_util.c: hex coding, the CSPRNG wrapper and qs_strerror (lib/hex.c,
 * lib/random.c, lib/errors.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quicsteer/errors.h"
#include "quicsteer/util.h"

static void test_hex_decode(void **state) {
  uint8_t out[8];

  (void)state;
  memset(out, 0x55, sizeof(out));
  assert_int_equal(qs_hex_decode(out, sizeof(out), "00ff7Fa0"), 4);
  assert_int_equal(out[0], 0x00);
  assert_int_equal(out[1], 0xff);
  assert_int_equal(out[2], 0x7f);
  assert_int_equal(out[3], 0xa0);
  assert_int_equal(out[4], 0x55); /* nothing past the decoded octets */
  assert_int_equal(qs_hex_decode(out, sizeof(out), "0123456789abcdef"), 8);
  assert_int_equal(qs_hex_decode(out, sizeof(out), "ABCDEF"), 3);
  assert_int_equal(out[0], 0xab);
  /* Malformed: empty, odd, separators, non-hex, prefixes. */
  assert_int_equal(qs_hex_decode(out, sizeof(out), ""), QS_ERR_HEX);
  assert_int_equal(qs_hex_decode(out, sizeof(out), "abc"), QS_ERR_HEX);
  assert_int_equal(qs_hex_decode(out, sizeof(out), "ab cd"), QS_ERR_HEX);
  assert_int_equal(qs_hex_decode(out, sizeof(out), "ab:cd"), QS_ERR_HEX);
  assert_int_equal(qs_hex_decode(out, sizeof(out), "0x12"), QS_ERR_HEX);
  assert_int_equal(qs_hex_decode(out, sizeof(out), "gg"), QS_ERR_HEX);
  assert_int_equal(qs_hex_decode(out, sizeof(out), "1\xff"), QS_ERR_HEX);
  /* Too long for the buffer, and that does not write. */
  memset(out, 0x55, sizeof(out));
  assert_int_equal(qs_hex_decode(out, 2, "aabbcc"), QS_ERR_INVAL);
  assert_int_equal(out[0], 0x55);
  /* Malformed wins over too long: the operator hears the real problem. */
  assert_int_equal(qs_hex_decode(out, 1, "aabbc"), QS_ERR_HEX);
}

static void test_hex_encode(void **state) {
  static const uint8_t in[] = {0x00, 0x01, 0xab, 0xff, 0x7e};
  char out[2 * sizeof(in) + 1];
  uint8_t back[sizeof(in)];

  (void)state;
  memset(out, 'x', sizeof(out));
  assert_ptr_equal(qs_hex_encode(out, in, sizeof(in)), out);
  assert_string_equal(out, "0001abff7e");
  assert_int_equal(qs_hex_decode(back, sizeof(back), out), (int)sizeof(in));
  assert_memory_equal(back, in, sizeof(in));
  assert_string_equal(qs_hex_encode(out, in, 0), "");
}

static void test_random(void **state) {
  uint8_t a[64], b[64], big[100000];
  size_t i, zeros = 0;

  (void)state;
  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  assert_int_equal(qs_random(a, sizeof(a)), 0);
  assert_int_equal(qs_random(b, sizeof(b)), 0);
  assert_memory_not_equal(a, b, sizeof(a));
  assert_int_equal(qs_random(a, 0), 0);
  /* Every octet of a large request is filled (expected 390 zeros). */
  memset(big, 0, sizeof(big));
  assert_int_equal(qs_random(big, sizeof(big)), 0);
  for (i = 0; i < sizeof(big); i++)
    zeros += big[i] == 0;
  assert_true(zeros < 1000);
}

static void test_strerror(void **state) {
  int e, f;

  (void)state;
  assert_string_equal(qs_strerror(QS_OK), "success");
  /* Every code has its own sentence; unknown codes get a generic one. */
  for (e = QS_ERR_NOTFOUND; e <= QS_ERR_INVAL; e++) {
    assert_non_null(qs_strerror(e));
    assert_string_not_equal(qs_strerror(e), qs_strerror(-1000));
    for (f = QS_ERR_NOTFOUND; f < e; f++)
      assert_string_not_equal(qs_strerror(e), qs_strerror(f));
  }
  assert_string_equal(qs_strerror(-1000), qs_strerror(42));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hex_decode),
      cmocka_unit_test(test_hex_encode),
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_strerror),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
