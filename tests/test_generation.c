/* test_generation.c: generation numbers (include/quicsteer/generation.h,
 * lib/generation.c): the ring 1..QS_GEN_MAX, serial-number order across the
 * wrap, and the record that makes a number never come back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "quicsteer/errors.h"
#include "quicsteer/generation.h"
#include "quicsteer/wstats.h"

static void test_ring(void **state) {
  (void)state;
  assert_int_equal(qs_gen_next(0), 1);
  assert_int_equal(qs_gen_next(1), 2);
  assert_int_equal(qs_gen_next(QS_GEN_MAX), 1);
  assert_int_equal(qs_gen_prev(1), QS_GEN_MAX);
  assert_int_equal(qs_gen_prev(2), 1);
  assert_int_equal(QS_GEN_MAX % 7, 0); /* user-space codepoints stay a cycle */
  /* neighbours across the wrap get different codepoints (g - 1) mod 7 */
  assert_int_not_equal((QS_GEN_MAX - 1u) % 7, (qs_gen_next(QS_GEN_MAX) - 1u) % 7);
}

static void test_order(void **state) {
  (void)state;
  assert_true(qs_gen_newer(2, 1));
  assert_false(qs_gen_newer(1, 2));
  assert_false(qs_gen_newer(5, 5));
  /* across the wrap: 1 follows QS_GEN_MAX */
  assert_true(qs_gen_newer(1, QS_GEN_MAX));
  assert_true(qs_gen_newer(3, QS_GEN_MAX - 2));
  assert_false(qs_gen_newer(QS_GEN_MAX, 1));
  /* half the ring away is too far to be "newer" either way round */
  assert_false(qs_gen_newer((uint16_t)(1 + QS_GEN_MAX / 2), 1));
  for (uint32_t g = 1; g <= QS_GEN_MAX; g += 997) {
    uint16_t n = qs_gen_next((uint16_t)g);
    assert_true(qs_gen_newer(n, (uint16_t)g));
    assert_false(qs_gen_newer((uint16_t)g, n));
  }
}

static void test_claim(void **state) {
  char name[64], path[256];
  uint16_t live[3] = {0, 0, 0}, g, h;
  (void)state;
  snprintf(name, sizeof name, "tgen-%d", (int)getpid());
  snprintf(path, sizeof path, "%s/%s.generation", QS_WSTATS_DIR, name);
  unlink(path);
  assert_int_equal(qs_gen_last(name), 0);
  assert_int_equal(qs_gen_claim(name, live, 0, &g), 0);
  assert_int_equal(g, 1);
  assert_int_equal(qs_gen_last(name), 1);
  /* nothing live any more: still never 1 again */
  assert_int_equal(qs_gen_claim(name, live, 0, &h), 0);
  assert_int_equal(h, 2);
  /* a live generation newer than the record wins */
  live[0] = 40;
  live[1] = 7;
  assert_int_equal(qs_gen_claim(name, live, 3, &g), 0);
  assert_int_equal(g, 41);
  /* the record (41) is newer than 65534 (41 steps past the wrap): it wins */
  live[0] = QS_GEN_MAX;
  live[1] = 3;
  assert_int_equal(qs_gen_claim(name, live, 2, &g), 0);
  assert_int_equal(g, 42);
  /* across the wrap, with no record */
  unlink(path);
  live[0] = QS_GEN_MAX;
  live[1] = QS_GEN_MAX - 1;
  assert_int_equal(qs_gen_claim(name, live, 2, &g), 0);
  assert_int_equal(g, 1);
  assert_int_equal(qs_gen_claim(name, live, 0, &g), 0);
  assert_int_equal(g, 2);
  assert_int_equal(qs_gen_claim("bad/name", live, 0, &g), QS_ERR_INVAL);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ring),
      cmocka_unit_test(test_order),
      cmocka_unit_test(test_claim),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
