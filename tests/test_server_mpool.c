/* test_server_mpool.c: the worker's allocator for ngtcp2 and nghttp3
 * (src/server/proc/mpool.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mpool.h"

static void test_reuse_by_class(void **state) {
  struct qs_mpool p;
  void *a, *b, *c;
  (void)state;
  qs_mpool_init(&p, 1 << 20);
  a = qs_mpool_alloc(&p, 100);
  assert_non_null(a);
  assert_int_equal((uintptr_t)a % QS_MPOOL_ALIGN, 0);
  memset(a, 0x5a, 100);
  qs_mpool_release(&p, a);
  assert_int_equal(p.cached, 112);
  /* the same 16-octet class comes back from the list */
  b = qs_mpool_alloc(&p, 97);
  assert_ptr_equal(b, a);
  assert_int_equal(p.cached, 0);
  assert_int_equal(p.hits, 1);
  /* another class does not */
  c = qs_mpool_alloc(&p, 120);
  assert_ptr_not_equal(c, a);
  qs_mpool_release(&p, b);
  qs_mpool_release(&p, c);
  qs_mpool_release(&p, NULL);
  qs_mpool_free(&p);
  assert_int_equal(p.cached, 0);
}

static void test_budget_and_large(void **state) {
  struct qs_mpool p;
  void *v[8], *big;
  (void)state;
  qs_mpool_init(&p, 3 * 64);
  for (int i = 0; i < 8; i++)
    assert_non_null(v[i] = qs_mpool_alloc(&p, 64));
  for (int i = 0; i < 8; i++)
    qs_mpool_release(&p, v[i]);
  /* only what the budget allows stays cached; the rest went to libc */
  assert_int_equal(p.cached, 3 * 64);
  big = qs_mpool_alloc(&p, QS_MPOOL_MAX + 1);
  assert_non_null(big);
  memset(big, 1, QS_MPOOL_MAX + 1);
  qs_mpool_release(&p, big);
  assert_int_equal(p.cached, 3 * 64); /* large blocks are never cached */
  qs_mpool_free(&p);

  /* budget 0: a pass-through */
  qs_mpool_init(&p, 0);
  v[0] = qs_mpool_alloc(&p, 10);
  qs_mpool_release(&p, v[0]);
  assert_int_equal(p.cached, 0);
  qs_mpool_free(&p);
}

static void test_calloc_realloc(void **state) {
  struct qs_mpool p;
  uint8_t *a, *b;
  (void)state;
  qs_mpool_init(&p, 1 << 20);
  a = qs_mpool_alloc(&p, 48);
  memset(a, 0xff, 48);
  qs_mpool_release(&p, a);
  /* a reused block is zeroed by calloc */
  b = qs_mpool_calloc(&p, 3, 16);
  assert_ptr_equal(b, a);
  for (int i = 0; i < 48; i++)
    assert_int_equal(b[i], 0);
  assert_null(qs_mpool_calloc(&p, SIZE_MAX / 2, 4)); /* overflow */
  /* growing within the class keeps the block; beyond it copies */
  memcpy(b, "quicsteer", 9);
  assert_ptr_equal(qs_mpool_realloc(&p, b, 40), b);
  a = qs_mpool_realloc(&p, b, 1000);
  assert_non_null(a);
  assert_memory_equal(a, "quicsteer", 9);
  /* into and out of the large range */
  b = qs_mpool_realloc(&p, a, 100000);
  assert_non_null(b);
  assert_memory_equal(b, "quicsteer", 9);
  b[99999] = 7;
  a = qs_mpool_realloc(&p, b, 20);
  assert_non_null(a);
  assert_memory_equal(a, "quicsteer", 9);
  assert_null(qs_mpool_realloc(&p, a, 0)); /* frees */
  a = qs_mpool_realloc(&p, NULL, 5);
  assert_non_null(a);
  qs_mpool_release(&p, a);
  qs_mpool_free(&p);
}

static void test_library_vtables(void **state) {
  struct qs_mpool p;
  void *a;
  (void)state;
  qs_mpool_init(&p, 1 << 20);
  a = p.q.malloc(24, p.q.user_data);
  p.h.free(a, p.h.user_data); /* both vtables share the pool */
  assert_ptr_equal(p.h.calloc(1, 24, p.h.user_data), a);
  a = p.q.realloc(a, 3000, p.q.user_data);
  assert_non_null(a);
  p.q.free(a, p.q.user_data);
  qs_mpool_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reuse_by_class),
      cmocka_unit_test(test_budget_and_large),
      cmocka_unit_test(test_calloc_realloc),
      cmocka_unit_test(test_library_vtables),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
