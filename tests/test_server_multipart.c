/* test_server_multipart.c: multipart/byteranges bodies
 * (src/server/http/multipart.c): refusals, the segments and their length,
 * production in bounded steps, random boundaries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "multipart.h"

static void test_refused(void **state) {
  struct qs_parts p;
  struct qs_byterange one[1] = {{0, 1}}, overlap[2] = {{0, 4}, {4, 9}},
                      many[QS_PARTS_MAX + 1];
  (void)state;
  assert_int_equal(qs_parts_init(&p, one, 1, 10, "text/plain"), -EINVAL);
  assert_int_equal(qs_parts_init(&p, overlap, 2, 10, "text/plain"), -EINVAL);
  for (size_t i = 0; i < QS_PARTS_MAX + 1; i++)
    many[i] = (struct qs_byterange){i, i};
  assert_int_equal(qs_parts_init(&p, many, QS_PARTS_MAX + 1, 100, "text/plain"), -EINVAL);
  assert_int_equal(qs_parts_init(&p, many, QS_PARTS_MAX, 100, "text/plain"), 0);
  assert_int_equal(p.nseg, 2 * QS_PARTS_MAX + 1);
  qs_parts_free(&p);
}

static void test_body(void **state) {
  struct qs_parts p, q;
  struct qs_byterange rg[2] = {{5, 9}, {0, 1}};
  const char *data = "0123456789", *t;
  char body[512], want[512], bnd[17];
  size_t got = 0, n, wl;
  uint64_t off;
  (void)state;
  assert_int_equal(qs_parts_init(&p, rg, 2, 10, "text/x"), 0);
  assert_int_equal(strncmp(p.ctype, "multipart/byteranges; boundary=", 31), 0);
  memcpy(bnd, p.ctype + 31, 17);
  assert_int_equal(strlen(bnd), 16);
  /* at most 7 octets a step: segments split, offsets follow */
  while ((n = qs_parts_next(&p, 7, &t, &off)) > 0) {
    assert_true(n <= 7 && got + n < sizeof body);
    memcpy(body + got, t ? t : data + off, n);
    got += n;
  }
  wl = (size_t)snprintf(want, sizeof want,
                        "--%s\r\nContent-Type: text/x\r\nContent-Range: bytes 5-9/10\r\n\r\n56789"
                        "\r\n--%s\r\nContent-Type: text/x\r\nContent-Range: bytes 0-1/10\r\n\r\n01"
                        "\r\n--%s--\r\n", bnd, bnd, bnd);
  assert_int_equal(got, wl);
  assert_int_equal(p.total, wl);
  assert_memory_equal(body, want, wl);
  assert_int_equal(qs_parts_next(&p, 7, &t, &off), 0);
  /* another body, another boundary */
  assert_int_equal(qs_parts_init(&q, rg, 2, 10, "text/x"), 0);
  assert_string_not_equal(p.ctype, q.ctype);
  qs_parts_free(&p);
  qs_parts_free(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_body),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
