/* test_server_accesslog.c: the access log (src/server/proc/accesslog.c):
 * both line formats and their escaping, and a worker's buffer against
 * real targets (a FIFO that fills up or loses its reader, files renamed
 * and reopened). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "accesslog.h"

#define T0 (1796117587ULL * 1000000000ULL + 123456789ULL) /* 2026-12-01T09:33:07.123456789Z */

static char dir[] = "/tmp/qs-alog-XXXXXX";

static struct sockaddr_in v4(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(50123)};
  inet_pton(AF_INET, "192.0.2.7", &a.sin_addr);
  return a;
}

static struct qs_req_done entry(const struct sockaddr *sa, const char *path) {
  struct qs_req_done e = {
      .client = sa,
      .proto = "HTTP/3",
      .method = "GET",
      .path = path,
      .status = 200,
      .body_bytes = 512,
      .duration_ns = 1234567890, /* 1.234567 s */
      .worker = 3,
  };
  return e;
}

static char line[QS_ACCESS_LINE_MAX];

static const char *fmt(int format, const struct qs_req_done *e) {
  size_t n = qs_accesslog_format(line, sizeof line, format, T0, e);
  assert_true(n > 0 && n < sizeof line);
  assert_int_equal(line[n - 1], '\n');
  line[n] = '\0'; /* n < cap: the formatter leaves that octet free */
  return line;
}

static void test_combined(void **state) {
  struct sockaddr_in a = v4();
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
  struct qs_req_done e = entry((struct sockaddr *)&a, "/a?b=c");
  (void)state;
  assert_string_equal(fmt(QS_ACCESS_LOG_COMBINED, &e),
                      "192.0.2.7 - - [01/Dec/2026:09:33:07 +0000] \"GET /a?b=c HTTP/3\" 200 512 "
                      "\"-\" \"-\" client_port=50123 duration=1.234567 worker=3 upstream=- reset=0\n");
  inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
  e.client = (struct sockaddr *)&a6;
  e.upstream = "127.0.0.1:8080";
  e.referer = "https://example.com/";
  e.refererlen = strlen(e.referer);
  e.user_agent = "curl/7.88";
  e.user_agentlen = strlen(e.user_agent);
  e.status = 502;
  e.reset = 1;
  e.body_bytes = 0;
  e.duration_ns = 999;
  assert_string_equal(fmt(QS_ACCESS_LOG_COMBINED, &e),
                      "2001:db8::1 - - [01/Dec/2026:09:33:07 +0000] \"GET /a?b=c HTTP/3\" 502 0 "
                      "\"https://example.com/\" \"curl/7.88\" client_port=443 duration=0.000000 "
                      "worker=3 upstream=127.0.0.1:8080 reset=1\n");
  /* quotes, backslashes, controls and high octets cannot break the line */
  const char evil[] = "/x\"y\\z\n\x01\x7f\xff \"";
  e.path = evil;
  e.method = NULL;
  e.client = NULL;
  e.upstream = NULL;
  e.referer = e.user_agent = NULL;
  assert_string_equal(fmt(QS_ACCESS_LOG_COMBINED, &e),
                      "- - - [01/Dec/2026:09:33:07 +0000] \"- /x\\x22y\\x5cz\\x0a\\x01\\x7f\\xff "
                      "\\x22 HTTP/3\" 502 0 \"-\" \"-\" client_port=0 duration=0.000000 worker=3 "
                      "upstream=- reset=1\n");
}

static void test_json(void **state) {
  struct sockaddr_in a = v4();
  struct qs_req_done e = entry((struct sockaddr *)&a, "/a?b=c");
  (void)state;
  assert_string_equal(fmt(QS_ACCESS_LOG_JSON, &e),
                      "{\"time\":\"2026-12-01T09:33:07.123Z\",\"client\":\"192.0.2.7\","
                      "\"client_port\":50123,\"protocol\":\"HTTP/3\",\"method\":\"GET\","
                      "\"path\":\"/a?b=c\",\"status\":200,\"body_bytes\":512,\"duration\":1.234567,"
                      "\"worker\":3,\"upstream\":null,\"reset\":false,\"referer\":null,"
                      "\"user_agent\":null}\n");
  /* valid UTF-8 passes; invalid octets, controls, quotes are escaped */
  const char s[] = "/\xc3\xa9\"\\\x01\x7f\xff\xc3(\xed\xa0\x80\xf0\x9f\x98\x80";
  e.path = s;
  e.upstream = "[::1]:8080";
  e.user_agent = "a\tb";
  e.user_agentlen = 3;
  assert_non_null(strstr(fmt(QS_ACCESS_LOG_JSON, &e),
                         "\"path\":\"/\xc3\xa9\\\"\\\\\\u0001\\u007f\\u00ff\\u00c3(\\u00ed\\u00a0"
                         "\\u0080\xf0\x9f\x98\x80\""));
  assert_non_null(strstr(line, "\"upstream\":\"[::1]:8080\",\"reset\":false,\"referer\":null,"
                               "\"user_agent\":\"a\\u0009b\"}\n"));
}

/* The longest inputs are cut inside the budget, never inside an escape,
 * and the line stays whole. */
static void test_long_fields(void **state) {
  struct sockaddr_in a = v4();
  static char path[QS_ACCESS_LINE_MAX * 2], ua[QS_ACCESS_LINE_MAX];
  struct qs_req_done e;
  const char *p, *q;
  (void)state;
  memset(path, 1, sizeof path - 1);
  path[0] = '/';
  memset(ua, '"', sizeof ua);
  e = entry((struct sockaddr *)&a, "/");
  e.path = path;
  e.user_agent = e.referer = ua;
  e.user_agentlen = e.refererlen = sizeof ua;
  e.upstream = "127.0.0.1:1";
  fmt(QS_ACCESS_LOG_JSON, &e);
  p = strstr(line, "\"path\":\"/");
  q = strstr(line, "\",\"status\":200,");
  assert_non_null(p);
  assert_non_null(q);
  assert_int_equal((size_t)(q - (p + 9)) % 6, 0); /* whole \u0001 escapes */
  assert_non_null(strstr(line, "\"user_agent\":\"\\\"\\\""));
  assert_non_null(strstr(line, "\"}\n"));
  fmt(QS_ACCESS_LOG_COMBINED, &e);
  assert_non_null(strstr(line, "\" 200 512 \"\\x22"));
  assert_non_null(strstr(line, " worker=3 upstream=127.0.0.1:1 reset=0\n"));
}

/* ---- the buffer against real targets ---- */

static size_t count_lines(const char *p, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += p[i] == '\n';
  return k;
}

static size_t drain_fd(int fd) {
  static char buf[1 << 16];
  size_t lines = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    lines += count_lines(buf, (size_t)n);
  return lines;
}

static size_t file_lines(const char *path) {
  int fd = open(path, O_RDONLY);
  size_t n;
  if (fd < 0)
    return 0;
  n = drain_fd(fd);
  close(fd);
  return n;
}

/* A FIFO that nobody reads: the worker never blocks, lines that find the
 * buffer full are counted, and everything else arrives once it is read. */
static void test_full_target(void **state) {
  struct sockaddr_in a = v4();
  struct qs_req_done e = entry((struct sockaddr *)&a, "/fifo");
  struct qs_accesslog l;
  struct qs_accesslog_w w;
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  uint64_t dropped = 0;
  char fifo[300], err[256];
  size_t got;
  int rfd;
  (void)state;
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  rfd = open(fifo, O_RDONLY | O_NONBLOCK);
  assert_true(rfd >= 0);
  assert_int_equal(qs_accesslog_open(&l, fifo, QS_ACCESS_LOG_COMBINED, err, sizeof err), 0);
  assert_int_equal(qs_accesslog_worker_init(&w, &l, loop, 0, &dropped), 0);
  assert_int_equal(w.on, 1);
  for (int i = 0; i < 10000; i++) /* ~1.3 MB: far more than pipe and buffer hold */
    qs_accesslog_done(&w, &e);
  qs_accesslog_flush(&w);
  assert_true(dropped > 0);
  assert_true(ev_is_active(&w.retry_w)); /* retried every second */
  got = drain_fd(rfd);
  for (int i = 0; i < 10 && w.len; i++) { /* pipe-sized steps */
    qs_accesslog_flush(&w);
    got += drain_fd(rfd);
  }
  assert_int_equal(w.len, 0);
  assert_false(ev_is_active(&w.retry_w));
  assert_int_equal(got + dropped, 10000);
  /* the reader goes away: the write fails, the lines are counted */
  close(rfd);
  dropped = 0;
  qs_accesslog_done(&w, &e);
  qs_accesslog_done(&w, &e);
  qs_accesslog_flush(&w);
  assert_int_equal(dropped, 2);
  assert_int_equal(w.len, 0);
  qs_accesslog_worker_free(&w);
  qs_accesslog_close(&l);
  ev_loop_destroy(loop);
  unlink(fifo);
}

/* logrotate: rename, SIGUSR1 (qs_accesslog_reopen); what was buffered
 * before goes to the old file, what is logged after to the new one. */
static void test_reopen(void **state) {
  struct sockaddr_in a = v4();
  struct qs_req_done e = entry((struct sockaddr *)&a, "/r");
  struct qs_accesslog l;
  struct qs_accesslog_w w1, w2;
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  uint64_t dropped = 0;
  char path[300], old[310], err[256];
  (void)state;
  snprintf(path, sizeof path, "%s/access.log", dir);
  snprintf(old, sizeof old, "%s.1", path);
  assert_int_equal(qs_accesslog_open(&l, path, QS_ACCESS_LOG_JSON, err, sizeof err), 0);
  assert_int_equal(l.reg, 1);
  assert_int_equal(qs_accesslog_worker_init(&w1, &l, loop, 0, &dropped), 0);
  assert_int_equal(qs_accesslog_worker_init(&w2, &l, loop, 1, &dropped), 0);
  qs_accesslog_done(&w1, &e);
  qs_accesslog_flush(&w1);
  qs_accesslog_done(&w2, &e); /* still buffered at the reopen */
  assert_int_equal(file_lines(path), 1);
  assert_int_equal(rename(path, old), 0);
  assert_int_equal(qs_accesslog_reopen(&l), 0);
  qs_accesslog_done(&w1, &e);
  qs_accesslog_done(&w2, &e);
  qs_accesslog_done(&w2, &e);
  qs_accesslog_flush(&w1);
  qs_accesslog_flush(&w2);
  assert_int_equal(file_lines(old), 2);
  assert_int_equal(file_lines(path), 3);
  /* the worker's last lines are written when it is freed */
  qs_accesslog_done(&w1, &e);
  qs_accesslog_worker_free(&w1);
  qs_accesslog_worker_free(&w2);
  assert_int_equal(file_lines(old) + file_lines(path), 6);
  assert_int_equal(dropped, 0);
  qs_accesslog_close(&l);
  ev_loop_destroy(loop);
  unlink(path);
  unlink(old);
  /* no access log: nothing set up, nothing written */
  l.fd = -1;
  assert_int_equal(qs_accesslog_worker_init(&w1, &l, NULL, 0, &dropped), 0);
  assert_int_equal(w1.on, 0);
  qs_accesslog_done(&w1, &e);
  qs_accesslog_worker_free(&w1);
  assert_int_equal(qs_accesslog_reopen(&l), -EBADF);
  /* a target that cannot be opened */
  assert_true(qs_accesslog_open(&l, "/nonexistent/dir/a.log", 0, err, sizeof err) < 0);
  assert_non_null(strstr(err, "cannot open access log /nonexistent/dir/a.log"));
}

static int setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN); /* as the server does */
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rmdir(dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_combined),    cmocka_unit_test(test_json),
      cmocka_unit_test(test_long_fields), cmocka_unit_test(test_full_target),
      cmocka_unit_test(test_reopen),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
