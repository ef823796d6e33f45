/* test_load_stats.c: quicsteer-load's histograms, merging, verdict and
 * JSON report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static void test_hist_index(void **state) {
  /* exact below 128, then continuous and monotonic, each value inside its
   * bucket, relative bucket width under 1/64 */
  unsigned prev = 0;
  for (uint64_t v = 0; v < 1u << 20; v++) {
    unsigned i = qsl_hist_index(v);
    if (v < 128) {
      assert_int_equal(i, (unsigned)v);
    }
    assert_true(i == prev || i == prev + 1);
    assert_true(v <= qsl_hist_upper(i));
    assert_true(i == 0 || v > qsl_hist_upper(i - 1));
    prev = i;
  }
  for (unsigned i = 128; i < QSL_HIST_BUCKETS; i++) {
    uint64_t lo = qsl_hist_upper(i - 1) + 1, hi = qsl_hist_upper(i);
    assert_true((double)(hi - lo + 1) / (double)lo <= 1.0 / 64 + 1e-12);
  }
  assert_int_equal(qsl_hist_index(UINT64_MAX), QSL_HIST_BUCKETS - 1);
  assert_int_equal(qsl_hist_index((1ull << QSL_HIST_MAXBIT) - 1), QSL_HIST_BUCKETS - 1);
}

static void test_hist_quantiles(void **state) {
  struct qsl_hist *h = malloc(sizeof(*h));
  assert_non_null(h);
  qsl_hist_init(h);
  assert_true(qsl_hist_quantile(h, 0.5) == 0);
  for (uint64_t v = 1; v <= 1000; v++) {
    qsl_hist_add(h, v * 1000); /* 1 us .. 1 ms */
  }
  assert_true(h->count == 1000 && h->min == 1000 && h->max == 1000000);
  uint64_t p50 = qsl_hist_quantile(h, 0.50), p99 = qsl_hist_quantile(h, 0.99);
  assert_true(p50 >= 500000 && p50 <= 500000 * 1.02);
  assert_true(p99 >= 990000 && p99 <= 1000000);
  assert_true(qsl_hist_quantile(h, 1.0) == 1000000);
  assert_true(qsl_hist_quantile(h, 0.0001) >= 1000 && qsl_hist_quantile(h, 0.0001) <= 1016);

  struct qsl_hist *g = malloc(sizeof(*g));
  assert_non_null(g);
  qsl_hist_init(g);
  qsl_hist_add(g, 5);
  qsl_hist_add(g, 2000000);
  qsl_hist_merge(h, g);
  assert_true(h->count == 1002 && h->min == 5 && h->max == 2000000);
  assert_true(qsl_hist_quantile(h, 1.0) == 2000000);
  free(h);
  free(g);
}

static void test_verdict(void **state) {
  struct qsl_stats *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
  assert_non_null(a);
  assert_non_null(b);
  qsl_stats_init(a);
  assert_true(qsl_stats_failed(a)); /* nothing succeeded */
  a->req_ok = a->req_sent = 10;
  assert_false(qsl_stats_failed(a));
  qsl_stats_init(b);
  b->err[QSL_ERR_HANDSHAKE_TIMEOUT] = 1;
  b->rebind.completed = 2;
  qsl_stats_merge(a, b);
  assert_true(qsl_stats_failed(a));
  assert_true(a->rebind.completed == 2 && a->req_ok == 10);
  qsl_stats_init(b);
  b->req_ok = 1;
  b->migrate.unavailable = 1;
  assert_true(qsl_stats_failed(b));
  b->migrate.unavailable = 0;
  b->req_not_sent = 1;
  assert_true(qsl_stats_failed(b));
  free(a);
  free(b);
}

static void test_json(void **state) {
  static struct qsl_opts o;
  char err[128];
  char *argv[] = {"quicsteer-load", "-c", "3", "https://h:1/\"q\"", NULL};
  assert_int_equal(qsl_opts_parse(&o, 4, argv, err, sizeof(err)), QSL_OPTS_RUN);
  struct qsl_stats *s = malloc(sizeof(*s));
  assert_non_null(s);
  qsl_stats_init(s);
  s->req_sent = s->req_ok = 7;
  s->status[200 - QSL_STATUS_MIN] = 6;
  s->status[404 - QSL_STATUS_MIN] = 1;
  s->err[QSL_ERR_AFTER_MIGRATION] = 2;
  qsl_hist_add(&s->latency, 1500);
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&buf, &len);
  assert_non_null(fp);
  qsl_report_json(fp, s, &o, 2000000000ull);
  fclose(fp);
  assert_non_null(strstr(buf, "\"urls\":[\"https://h:1/\\\"q\\\"\"]"));
  assert_non_null(strstr(buf, "\"requests\":{\"sent\":7,\"ok\":7,\"failed\":0,\"not_sent\":0}"));
  assert_non_null(strstr(buf, "\"requests_per_s\":3.500"));
  assert_non_null(strstr(buf, "\"status\":{\"200\":6,\"404\":1}"));
  assert_non_null(strstr(buf, "\"after_migration\":2"));
  assert_non_null(strstr(buf, "\"ok\":false"));
  assert_non_null(strstr(buf, "\"latency_us\":{\"count\":1,\"min\":1.5,"));
  assert_true(len > 0 && buf[len - 1] == '\n' && strchr(buf, '\n') == buf + len - 1);
  free(buf);
  free(s);
  qsl_opts_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hist_index),
      cmocka_unit_test(test_hist_quantiles),
      cmocka_unit_test(test_verdict),
      cmocka_unit_test(test_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
