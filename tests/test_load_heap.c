/* test_load_heap.c: quicsteer-load's timer heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heap.h"

#define N 500

static void test_order_and_rearm(void **state) {
  struct qsl_heap h;
  static struct qsl_timer t[N];
  assert_int_equal(qsl_heap_init(&h, N), 0);
  assert_null(qsl_heap_top(&h));
  srand(7);
  for (int i = 0; i < N; i++) {
    qsl_timer_init(&t[i]);
    qsl_heap_set(&h, &t[i], (uint64_t)(rand() % 100000));
  }
  /* re-arm half of them earlier or later, disarm a tenth */
  for (int i = 0; i < N; i += 2) {
    qsl_heap_set(&h, &t[i], (uint64_t)(rand() % 100000));
  }
  for (int i = 0; i < N; i += 10) {
    qsl_heap_set(&h, &t[i], UINT64_MAX);
    assert_true(t[i].idx == QSL_TIMER_IDLE);
  }
  assert_int_equal(h.n, N - N / 10);
  uint64_t last = 0;
  size_t popped = 0;
  struct qsl_timer *top;
  while ((top = qsl_heap_top(&h))) {
    assert_true(top->at >= last);
    last = top->at;
    qsl_heap_set(&h, top, UINT64_MAX);
    popped++;
  }
  assert_int_equal(popped, N - N / 10);
  /* disarming an idle timer is harmless */
  qsl_heap_set(&h, &t[0], UINT64_MAX);
  assert_int_equal(h.n, 0);
  qsl_heap_free(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_order_and_rearm)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
