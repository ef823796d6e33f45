/* test_server_admit.c: the admission policy (src/server/quic/admit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "admit.h"
#include "config.h"

#define MS 1000000ull

static const struct qs_admit_limits lim = {
    .retry_mode = QS_RETRY_AUTO,
    .max_conns = 10,
    .max_handshakes = 6,
    .retry_handshakes = 3,
    .retry_per_window = 5,
    .window = 100 * MS,
};

static void test_auto_by_handshakes(void **state) {
  struct qs_admit_state s = {0};
  (void)state;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(qs_admit_decide(&lim, &s, s.handshakes, 0, 1), QS_ADMIT_ACCEPT);
    qs_admit_opened(&s);
  }
  /* three half-open: tokenless Initials get Retry, validated ones enter */
  assert_int_equal(qs_admit_decide(&lim, &s, 3, 0, 2), QS_ADMIT_RETRY);
  assert_int_equal(qs_admit_decide(&lim, &s, 3, 1, 2), QS_ADMIT_ACCEPT);
  /* one completes: below the threshold again */
  qs_admit_established(&s);
  assert_int_equal(s.handshakes, 2);
  assert_int_equal(qs_admit_decide(&lim, &s, 3, 0, 3), QS_ADMIT_ACCEPT);
  /* an established connection closing leaves the half-open gauge alone */
  qs_admit_closed(&s, 0);
  assert_int_equal(s.handshakes, 2);
  qs_admit_closed(&s, 1);
  assert_int_equal(s.handshakes, 1);
}

static void test_hard_caps(void **state) {
  struct qs_admit_state s = {0};
  (void)state;
  for (int i = 0; i < 6; i++)
    qs_admit_opened(&s);
  /* at --max-handshakes even a validated client is refused */
  assert_int_equal(qs_admit_decide(&lim, &s, 6, 1, 1), QS_ADMIT_REFUSE_HANDSHAKES);
  assert_int_equal(qs_admit_decide(&lim, &s, 6, 0, 1), QS_ADMIT_REFUSE_HANDSHAKES);
  /* at --max-conns, whatever the handshakes */
  s.handshakes = 0;
  assert_int_equal(qs_admit_decide(&lim, &s, 10, 1, 1), QS_ADMIT_REFUSE_CONNS);
  assert_int_equal(qs_admit_decide(&lim, &s, 9, 1, 1), QS_ADMIT_ACCEPT);
}

static void test_auto_by_rate(void **state) {
  struct qs_admit_state s = {0};
  uint64_t t = 1000 * MS;
  (void)state;
  for (int i = 0; i < 5; i++) {
    assert_int_equal(qs_admit_decide(&lim, &s, 0, 0, t), QS_ADMIT_ACCEPT);
    qs_admit_opened(&s);
    qs_admit_established(&s);
  }
  assert_int_equal(qs_admit_decide(&lim, &s, 0, 0, t + 50 * MS), QS_ADMIT_RETRY);
  /* a new window */
  assert_int_equal(qs_admit_decide(&lim, &s, 0, 0, t + 101 * MS), QS_ADMIT_ACCEPT);
}

static void test_modes(void **state) {
  struct qs_admit_limits l = lim;
  struct qs_admit_state s = {0};
  (void)state;
  l.retry_mode = QS_RETRY_ALWAYS;
  assert_int_equal(qs_admit_decide(&l, &s, 0, 0, 1), QS_ADMIT_RETRY);
  assert_int_equal(qs_admit_decide(&l, &s, 0, 1, 1), QS_ADMIT_ACCEPT);
  l.retry_mode = QS_RETRY_NEVER;
  s.handshakes = 5;
  assert_int_equal(qs_admit_decide(&l, &s, 5, 0, 1), QS_ADMIT_ACCEPT);
  s.handshakes = 6;
  assert_int_equal(qs_admit_decide(&l, &s, 6, 0, 1), QS_ADMIT_REFUSE_HANDSHAKES);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_auto_by_handshakes),
      cmocka_unit_test(test_hard_caps),
      cmocka_unit_test(test_auto_by_rate),
      cmocka_unit_test(test_modes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
