/* test_server_cidtab.c: the worker's connection table (src/server/cidtab.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cidtab.h"

static void cid_of(uint8_t *cid, uint32_t i, size_t len) {
  memset(cid, 0xab, len);
  memcpy(cid, &i, sizeof i < len ? sizeof i : len);
}

static void test_insert_find_remove(void **state) {
  struct qs_cidtab t;
  uint8_t a[17], b[17];
  int va, vb;
  (void)state;
  assert_int_equal(qs_cidtab_init(&t), 0);
  cid_of(a, 1, sizeof a);
  cid_of(b, 2, sizeof b);
  assert_null(qs_cidtab_find(&t, a, sizeof a));
  assert_int_equal(qs_cidtab_insert(&t, a, sizeof a, &va), 0);
  assert_int_equal(qs_cidtab_insert(&t, b, sizeof b, &vb), 0);
  assert_ptr_equal(qs_cidtab_find(&t, a, sizeof a), &va);
  assert_ptr_equal(qs_cidtab_find(&t, b, sizeof b), &vb);
  /* the same octets at another length are another CID */
  assert_null(qs_cidtab_find(&t, a, 16));
  /* removal checks the owner */
  assert_int_equal(qs_cidtab_remove(&t, a, sizeof a, &vb), QS_ERR_NOTFOUND);
  assert_int_equal(qs_cidtab_remove(&t, a, sizeof a, &va), 0);
  assert_null(qs_cidtab_find(&t, a, sizeof a));
  assert_ptr_equal(qs_cidtab_find(&t, b, sizeof b), &vb);
  assert_int_equal(qs_cidtab_remove(&t, a, sizeof a, NULL), QS_ERR_NOTFOUND);
  /* re-inserting replaces */
  assert_int_equal(qs_cidtab_insert(&t, b, sizeof b, &va), 0);
  assert_ptr_equal(qs_cidtab_find(&t, b, sizeof b), &va);
  assert_int_equal(t.live, 1);
  qs_cidtab_free(&t);
}

static void test_bad_lengths(void **state) {
  struct qs_cidtab t;
  uint8_t c[21] = {0};
  int v;
  (void)state;
  assert_int_equal(qs_cidtab_init(&t), 0);
  assert_int_equal(qs_cidtab_insert(&t, c, 0, &v), QS_ERR_INVAL);
  assert_int_equal(qs_cidtab_insert(&t, c, 21, &v), QS_ERR_INVAL);
  assert_null(qs_cidtab_find(&t, c, 0));
  assert_null(qs_cidtab_find(&t, c, 21));
  assert_int_equal(qs_cidtab_insert(&t, c, 20, &v), 0);
  assert_ptr_equal(qs_cidtab_find(&t, c, 20), &v);
  qs_cidtab_free(&t);
}

/* many inserts and removals: growth, tombstone sweeps, nothing lost */
static void test_churn(void **state) {
  enum { N = 20000 };
  struct qs_cidtab t;
  uint8_t c[17];
  static int vals[N];
  (void)state;
  assert_int_equal(qs_cidtab_init(&t), 0);
  for (uint32_t i = 0; i < N; i++) {
    cid_of(c, i, sizeof c);
    assert_int_equal(qs_cidtab_insert(&t, c, sizeof c, &vals[i]), 0);
  }
  assert_int_equal(t.live, N);
  assert_true(t.used * 2 <= t.cap);
  for (uint32_t i = 0; i < N; i += 2) {
    cid_of(c, i, sizeof c);
    assert_int_equal(qs_cidtab_remove(&t, c, sizeof c, &vals[i]), 0);
  }
  for (uint32_t round = 0; round < 5; round++)
    for (uint32_t i = 0; i < N; i += 2) {
      cid_of(c, i + N * (round + 1), sizeof c);
      assert_int_equal(qs_cidtab_insert(&t, c, sizeof c, &vals[i]), 0);
      assert_int_equal(qs_cidtab_remove(&t, c, sizeof c, NULL), 0);
    }
  for (uint32_t i = 0; i < N; i++) {
    cid_of(c, i, sizeof c);
    if (i % 2)
      assert_ptr_equal(qs_cidtab_find(&t, c, sizeof c), &vals[i]);
    else
      assert_null(qs_cidtab_find(&t, c, sizeof c));
  }
  assert_int_equal(t.live, N / 2);
  assert_true(t.used * 2 <= t.cap);
  qs_cidtab_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_insert_find_remove),
      cmocka_unit_test(test_bad_lengths),
      cmocka_unit_test(test_churn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
