/* test_server_replay.c: the per-worker 0-RTT replay record
 * (src/server/quic/replay.c): a ClientHello identity is accepted once
 * within its window, again after it expired, and a full table refuses
 * (0-RTT declined) instead of growing or forgetting a live entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"
#include "quicsteer/errors.h"

static void make_id(uint8_t id[44], unsigned n) {
  memset(id, 0xa5, 44);
  memcpy(id + 12, &n, sizeof n); /* GnuTLS: 12 octets of window start, then the binder */
}

static void test_once_per_window(void **state) {
  struct qs_replay r;
  uint8_t a[44], b[44];

  (void)state;
  assert_int_equal(qs_replay_init(&r, 1024, 10), 0);
  make_id(a, 1);
  make_id(b, 2);
  assert_int_equal(qs_replay_add(&r, a, sizeof a, 1000, 1010), 0);
  assert_int_equal(qs_replay_add(&r, a, sizeof a, 1001, 1011), QS_ERR_BUSY);
  assert_int_equal(qs_replay_add(&r, b, sizeof b, 1001, 1011), 0);
  /* a differs from b in one octet of 44; and an identity of another length */
  assert_int_equal(qs_replay_add(&r, a, 43, 1001, 1011), 0);
  assert_int_equal(qs_replay_add(&r, a, sizeof a, 1009, 1019), QS_ERR_BUSY);
  /* once its window is over the record is gone (GnuTLS has refused the
   * ticket age by then anyway) */
  assert_int_equal(qs_replay_add(&r, a, sizeof a, 1010, 1020), 0);
  assert_int_equal(qs_replay_add(&r, a, sizeof a, 1011, 1021), QS_ERR_BUSY);
  assert_int_equal(r.full, 0);
  qs_replay_free(&r);
}

static void test_full_refuses(void **state) {
  struct qs_replay r;
  uint8_t id[44];
  unsigned n, added = 0, refused = 0;

  (void)state;
  assert_int_equal(qs_replay_init(&r, 64, 10), 0);
  for (n = 0; n < 1000; n++) {
    make_id(id, n);
    int rv = qs_replay_add(&r, id, sizeof id, 5000, 5010);
    if (rv == 0)
      added++;
    else if (rv == QS_ERR_NOMEM)
      refused++;
    else
      fail_msg("identity %u: unexpected %d", n, rv);
  }
  assert_true(added <= 64);
  assert_true(added >= 32); /* probing finds most of the free slots */
  assert_int_equal(added + refused, 1000);
  assert_int_equal(r.full, refused);
  /* nothing live was overwritten: every accepted identity is still known */
  for (n = 0, added = 0; n < 1000; n++) {
    make_id(id, n);
    if (qs_replay_add(&r, id, sizeof id, 5001, 5011) == QS_ERR_BUSY)
      added++;
  }
  assert_int_equal(added, 1000 - refused);
  /* after the window there is room again */
  make_id(id, 5);
  assert_int_equal(qs_replay_add(&r, id, sizeof id, 5010, 5020), 0);
  qs_replay_free(&r);
}

static void test_init_checks(void **state) {
  struct qs_replay r;
  (void)state;
  assert_int_equal(qs_replay_init(&r, 100, 10), -1); /* not a power of two */
  assert_int_equal(qs_replay_init(&r, 8, 10), -1);   /* below one probe run */
  qs_replay_free(&r);                                /* harmless after a failed init */
  assert_int_equal(qs_replay_init(&r, QS_REPLAY_SLOTS, QS_REPLAY_WINDOW_S), 0);
  assert_non_null(r.ar);
  qs_replay_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_once_per_window),
      cmocka_unit_test(test_full_refuses),
      cmocka_unit_test(test_init_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
