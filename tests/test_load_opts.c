/* test_load_opts.c: quicsteer-load's command line and URL parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "opts.h"

static struct qsl_opts o;
static char err[256];

#define PARSE(...)                                                                           \
  ({                                                                                         \
    char *argv_[] = {"quicsteer-load", __VA_ARGS__, NULL};                                   \
    qsl_opts_parse(&o, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, err, sizeof(err)); \
  })

static void test_url_forms(void **state) {
  struct qsl_url u;
  assert_int_equal(qsl_url_parse(&u, "https://127.0.0.1:4433/a/b?x=1#frag", err, sizeof(err)), 0);
  assert_string_equal(u.host, "127.0.0.1");
  assert_string_equal(u.authority, "127.0.0.1:4433");
  assert_string_equal(u.path, "/a/b?x=1");
  assert_int_equal(u.port, 4433);
  assert_true(u.bytes_n == UINT64_MAX);
  assert_memory_equal(u.nv[3].value, "/a/b?x=1", u.nv[3].valuelen);
  qsl_url_free(&u);

  assert_int_equal(qsl_url_parse(&u, "HTTPS://[::1]:8443", err, sizeof(err)), 0);
  assert_string_equal(u.host, "::1");
  assert_string_equal(u.authority, "[::1]:8443");
  assert_string_equal(u.path, "/");
  qsl_url_free(&u);

  assert_int_equal(qsl_url_parse(&u, "https://example.org?q", err, sizeof(err)), 0);
  assert_int_equal(u.port, 443);
  assert_string_equal(u.path, "/?q");
  qsl_url_free(&u);

  assert_int_equal(qsl_url_parse(&u, "https://h/bytes/12345", err, sizeof(err)), 0);
  assert_true(u.bytes_n == 12345);
  qsl_url_free(&u);
  assert_int_equal(qsl_url_parse(&u, "https://h/bytes/7?seed=1", err, sizeof(err)), 0);
  assert_true(u.bytes_n == 7);
  qsl_url_free(&u);
  assert_int_equal(qsl_url_parse(&u, "https://h/bytes/7x", err, sizeof(err)), 0);
  assert_true(u.bytes_n == UINT64_MAX);
  qsl_url_free(&u);
}

static void test_url_errors(void **state) {
  static const char *bad[] = {"http://h/",   "https://",        "https:///x",     "https://u@h/",
                              "https://[::1", "https://[]:1/",   "https://[::1]x/", "https://h:/",
                              "https://h:0/", "https://h:65536", "https://h:12a/",  "ftp://h"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct qsl_url u;
    err[0] = 0;
    assert_int_equal(qsl_url_parse(&u, bad[i], err, sizeof(err)), -1);
    assert_true(err[0] != 0);
  }
}

static void test_defaults(void **state) {
  assert_int_equal(PARSE("https://127.0.0.1:4433/"), QSL_OPTS_RUN);
  assert_int_equal(o.connections, 1);
  assert_true(o.requests == 1 && o.duration_ns == 0);
  assert_int_equal(o.streams, 1);
  assert_int_equal(o.threads, 1);
  assert_true(o.initial_rtt_ns == 333000000ull);
  assert_true(o.timeout_ns == 10000000000ull);
  assert_false(o.verify_cert);
  assert_int_equal(o.progress, -1);
  assert_int_equal(o.nurls, 1);
  qsl_opts_free(&o);
}

static void test_all_options(void **state) {
  assert_int_equal(PARSE("-c", "8", "--duration=2.5", "-m", "4", "--new-conn", "--migrate",
                         "--rate", "1500.5", "--threads=2", "--initial-rtt", "10", "--json",
                         "--timeout", "0.5", "--verify-bytes", "--no-progress",
                         "https://h:1/a", "https://H:1/b"),
                   QSL_OPTS_RUN);
  assert_int_equal(o.connections, 8);
  assert_true(o.duration_ns == 2500000000ull);
  assert_int_equal(o.streams, 4);
  assert_true(o.new_conn && o.migrate && !o.rebind && o.json && o.verify_bytes);
  assert_true(o.rate == 1500.5);
  assert_int_equal(o.threads, 2);
  assert_true(o.initial_rtt_ns == 10000000ull);
  assert_true(o.timeout_ns == 500000000ull);
  assert_int_equal(o.progress, 0);
  assert_int_equal(o.nurls, 2);
  qsl_opts_free(&o);

  /* more threads than connections: clamp */
  assert_int_equal(PARSE("-c", "2", "-t", "8", "https://h/"), QSL_OPTS_RUN);
  assert_int_equal(o.threads, 2);
  qsl_opts_free(&o);

  assert_int_equal(PARSE("--cacert", "/x.pem", "https://h/"), QSL_OPTS_RUN);
  assert_true(o.verify_cert);
  assert_string_equal(o.cacert, "/x.pem");
  qsl_opts_free(&o);
}

static void test_usage_errors(void **state) {
  assert_int_equal(PARSE("--help"), QSL_OPTS_HELP);
  assert_int_equal(PARSE("-V"), QSL_OPTS_VERSION);
  assert_int_equal(PARSE("-c", "0", "https://h/"), QSL_OPTS_USAGE);
  assert_non_null(strstr(err, "--connections"));
  assert_int_equal(PARSE("-n", "1", "-D", "1", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("--rebind", "--migrate", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("--insecure", "--verify", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("--rate", "0", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("--rate", "nan", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("--initial-rtt", "x", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("-m", "1001", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("-t", "257", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("-n", "-1", "https://h/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("--requests"), QSL_OPTS_USAGE);
  assert_non_null(strstr(err, "--requests"));
  assert_int_equal(PARSE("-x", "https://h/"), QSL_OPTS_USAGE);
  assert_non_null(strstr(err, "-x"));
  assert_int_equal(PARSE("--nope", "https://h/"), QSL_OPTS_USAGE);
  assert_non_null(strstr(err, "--nope"));
  assert_int_equal(PARSE("-c", "2"), QSL_OPTS_USAGE);
  assert_non_null(strstr(err, "no URL"));
  assert_int_equal(PARSE("https://a/", "https://b/"), QSL_OPTS_USAGE);
  assert_non_null(strstr(err, "origin"));
  assert_int_equal(PARSE("https://a:1/", "https://a:2/"), QSL_OPTS_USAGE);
}

/* --header: names lower-cased, values trimmed on the left, appended to
 * every URL's field list after the five fixed ones */
static void test_headers(void **state) {
  assert_int_equal(PARSE("-H", "If-None-Match: \"abc\"", "--header=x-a:1",
                         "https://h:1/", "https://h:1/b"), QSL_OPTS_RUN);
  assert_int_equal(o.nheaders, 2);
  for (size_t i = 0; i < o.nurls; i++) {
    const struct qsl_url *u = &o.urls[i];
    assert_int_equal(u->nnv, QSL_NV_COUNT + 2);
    assert_int_equal(u->nv[5].namelen, 13);
    assert_memory_equal(u->nv[5].name, "if-none-match", 13);
    assert_int_equal(u->nv[5].valuelen, 5);
    assert_memory_equal(u->nv[5].value, "\"abc\"", 5);
    assert_memory_equal(u->nv[6].name, "x-a", 3);
    assert_memory_equal(u->nv[6].value, "1", 1);
  }
  qsl_opts_free(&o);
  assert_int_equal(PARSE("https://h:1/"), QSL_OPTS_RUN);
  assert_int_equal(o.urls[0].nnv, QSL_NV_COUNT);
  assert_null(o.dump_path);
  qsl_opts_free(&o);
  /* --dump: the path kept; main opens it */
  assert_int_equal(PARSE("--dump", "/tmp/r.txt", "https://h:1/"), QSL_OPTS_RUN);
  assert_string_equal(o.dump_path, "/tmp/r.txt");
  assert_null(o.dump);
  qsl_opts_free(&o);
  assert_int_equal(PARSE("https://h:1/", "--dump"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("-H", "novalue", "https://h:1/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("-H", ": v", "https://h:1/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("-H", ":path: /x", "https://h:1/"), QSL_OPTS_USAGE);
  assert_int_equal(PARSE("-H", "bad name: v", "https://h:1/"), QSL_OPTS_USAGE);
  char *many[2 + 2 * (QSL_MAX_HEADERS + 1)];
  int n = 0;
  many[n++] = "quicsteer-load";
  for (int i = 0; i <= QSL_MAX_HEADERS; i++) {
    many[n++] = "-H";
    many[n++] = "x: y";
  }
  many[n++] = "https://h:1/";
  assert_int_equal(qsl_opts_parse(&o, n, many, err, sizeof(err)), QSL_OPTS_USAGE);
}

static void test_resolve(void **state) {
  assert_int_equal(PARSE("https://127.0.0.1:4433/"), QSL_OPTS_RUN);
  assert_int_equal(qsl_opts_resolve(&o, err, sizeof(err)), 0);
  assert_int_equal(o.remote.ss_family, AF_INET);
  assert_false(o.sni);
  qsl_opts_free(&o);
  assert_int_equal(PARSE("https://[::1]:4433/"), QSL_OPTS_RUN);
  assert_int_equal(qsl_opts_resolve(&o, err, sizeof(err)), 0);
  assert_int_equal(o.remote.ss_family, AF_INET6);
  qsl_opts_free(&o);
  assert_int_equal(PARSE("https://localhost:4433/"), QSL_OPTS_RUN);
  assert_int_equal(qsl_opts_resolve(&o, err, sizeof(err)), 0);
  assert_true(o.sni);
  qsl_opts_free(&o);
  assert_int_equal(PARSE("https://no-such-host.invalid/"), QSL_OPTS_RUN);
  assert_int_equal(qsl_opts_resolve(&o, err, sizeof(err)), -1);
  qsl_opts_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_forms),   cmocka_unit_test(test_url_errors),
      cmocka_unit_test(test_defaults),    cmocka_unit_test(test_all_options),
      cmocka_unit_test(test_usage_errors), cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_headers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
