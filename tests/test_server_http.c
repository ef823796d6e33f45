/* test_server_http.c: request path resolution, content types and the
 * /bytes/N route of the server (src/server/http.c), on a document root
 * made in a temporary directory, with symbolic links that stay inside and
 * that leave it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"

static char base[256];
static struct qs_docroot root;

static void put(const char *rel, const char *content) {
  char p[512];
  FILE *f;
  snprintf(p, sizeof p, "%s/%s", base, rel);
  f = fopen(p, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static int setup(void **state) {
  char p[512], q[512];
  (void)state;
  snprintf(base, sizeof base, "/tmp/qs-http-XXXXXX");
  if (!mkdtemp(base))
    return -1;
  snprintf(p, sizeof p, "%s/root", base);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/root/dir", base);
  mkdir(p, 0755);
  put("root/index.html", "<p>index</p>\n");
  put("root/a b.txt", "space\n");
  put("root/dir/index.html", "dir\n");
  put("root/style.CSS", "x{}\n");
  put("outside.txt", "secret\n");
  snprintf(p, sizeof p, "%s/outside.txt", base);
  snprintf(q, sizeof q, "%s/root/escape.txt", base);
  symlink(p, q);
  snprintf(q, sizeof q, "%s/root/rel-escape.txt", base);
  symlink("../outside.txt", q);
  snprintf(q, sizeof q, "%s/root/updir", base);
  symlink("..", q);
  snprintf(q, sizeof q, "%s/root/inside.html", base);
  symlink("dir/index.html", q);
  snprintf(p, sizeof p, "%s/root", base);
  return qs_docroot_open(&root, p);
}

static int teardown(void **state) {
  char cmd[600];
  (void)state;
  qs_docroot_close(&root);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  return system(cmd) == 0 ? 0 : -1;
}

static int resolve(const char *path, uint64_t *size, const char **ctype) {
  int fd = -1, st;
  uint64_t sz = 0;
  const char *ct = NULL;
  st = qs_http_resolve(&root, path, strlen(path), &fd, &sz, &ct);
  if (st == 200) {
    assert_true(fd >= 0);
    close(fd);
  } else {
    assert_int_equal(fd, -1);
  }
  if (size)
    *size = sz;
  if (ctype)
    *ctype = ct;
  return st;
}

static void test_files(void **state) {
  uint64_t size;
  const char *ct;
  (void)state;
  assert_int_equal(resolve("/", &size, &ct), 200);
  assert_int_equal(size, 13);
  assert_string_equal(ct, "text/html; charset=utf-8");
  assert_int_equal(resolve("/index.html?x=1#frag", &size, NULL), 200);
  assert_int_equal(resolve("/dir/", &size, NULL), 200);
  assert_int_equal(size, 4);
  assert_int_equal(resolve("/dir", &size, NULL), 200);
  assert_int_equal(resolve("//dir//./index.html", &size, NULL), 200);
  assert_int_equal(resolve("/a%20b.txt", &size, &ct), 200);
  assert_int_equal(size, 6);
  assert_string_equal(ct, "text/plain; charset=utf-8");
  assert_int_equal(resolve("/style.CSS", NULL, &ct), 200);
  assert_string_equal(ct, "text/css; charset=utf-8");
  assert_int_equal(resolve("/inside.html", &size, NULL), 200);
  assert_int_equal(size, 4);
  assert_int_equal(resolve("/nope.html", NULL, NULL), 404);
  assert_int_equal(resolve("/dir/nope/", NULL, NULL), 404);
  assert_int_equal(resolve("/index.html/x", NULL, NULL), 404);
}

static void test_refusals(void **state) {
  char longp[QS_PATH_MAX + 8];
  (void)state;
  assert_int_equal(resolve("", NULL, NULL), 400);
  assert_int_equal(resolve("index.html", NULL, NULL), 400);
  assert_int_equal(resolve("*", NULL, NULL), 400);
  assert_int_equal(resolve("/..", NULL, NULL), 400);
  assert_int_equal(resolve("/../outside.txt", NULL, NULL), 400);
  assert_int_equal(resolve("/dir/../../outside.txt", NULL, NULL), 400);
  assert_int_equal(resolve("/%2e%2e/outside.txt", NULL, NULL), 400);
  assert_int_equal(resolve("/dir/%2E%2e", NULL, NULL), 400);
  assert_int_equal(resolve("/a%zz", NULL, NULL), 400);
  assert_int_equal(resolve("/a%2", NULL, NULL), 400);
  assert_int_equal(resolve("/a%00b", NULL, NULL), 400);
  /* symbolic links that leave the root */
  assert_int_equal(resolve("/escape.txt", NULL, NULL), 403);
  assert_int_equal(resolve("/rel-escape.txt", NULL, NULL), 403);
  assert_int_equal(resolve("/updir/outside.txt", NULL, NULL), 403);
  assert_int_equal(resolve("/updir/root/index.html", NULL, NULL), 403);
  memset(longp, 'a', sizeof longp);
  longp[0] = '/';
  longp[sizeof longp - 1] = '\0';
  assert_int_equal(resolve(longp, NULL, NULL), 414);
}

static void test_mime(void **state) {
  (void)state;
  assert_string_equal(qs_http_mime("a.png"), "image/png");
  assert_string_equal(qs_http_mime("a/b.SVG"), "image/svg+xml");
  assert_string_equal(qs_http_mime("app.js"), "text/javascript; charset=utf-8");
  assert_string_equal(qs_http_mime("noext"), "application/octet-stream");
  assert_string_equal(qs_http_mime("dir.d/noext"), "application/octet-stream");
  assert_string_equal(qs_http_mime("x.unknown"), "application/octet-stream");
}

static void test_bytes_route(void **state) {
  uint64_t n = 0;
  (void)state;
  assert_int_equal(qs_http_bytes_route("/index.html", 11, &n), 0);
  assert_int_equal(qs_http_bytes_route("/bytes", 6, &n), 0);
  assert_int_equal(qs_http_bytes_route("/bytes/0", 8, &n), 200);
  assert_int_equal(n, 0);
  assert_int_equal(qs_http_bytes_route("/bytes/1048576", 14, &n), 200);
  assert_int_equal(n, 1048576);
  assert_int_equal(qs_http_bytes_route("/bytes/10737418240", 18, &n), 200);
  assert_int_equal(n, QS_BYTES_MAX);
  assert_int_equal(qs_http_bytes_route("/bytes/10737418241", 18, &n), 400);
  assert_int_equal(qs_http_bytes_route("/bytes/99999999999999999999999", 30, &n), 400);
  assert_int_equal(qs_http_bytes_route("/bytes/", 7, &n), 400);
  assert_int_equal(qs_http_bytes_route("/bytes/12a", 10, &n), 400);
  assert_int_equal(qs_http_bytes_route("/bytes/-1", 9, &n), 400);
  assert_int_equal(qs_http_bytes_route("/bytes/7?x", 10, &n), 200);
  assert_int_equal(n, 7);
  assert_int_equal(qs_http_bytes_at(0), '0');
  assert_int_equal(qs_http_bytes_at(63), '\n');
  assert_int_equal(qs_http_bytes_at(64 * 1000 + 10), 'a');
}

/* a file body through a ring smaller than the file: only acknowledged
 * space is reused, and the octets come out in order */
static void test_file_ring(void **state) {
  struct qs_stream *s = qs_stream_new(0, NULL);
  char p[512];
  FILE *f;
  size_t total = QS_RING_MAX * 2 + 12345, got = 0;
  uint8_t *expect = malloc(total);
  int blocked = 0;
  (void)state;
  for (size_t i = 0; i < total; i++)
    expect[i] = (uint8_t)(i * 7 + (i >> 9));
  snprintf(p, sizeof p, "%s/root/big.bin", base);
  f = fopen(p, "w");
  fwrite(expect, 1, total, f);
  fclose(f);
  assert_int_equal(qs_http_resolve(&root, "/big.bin", 8, &s->fd, &s->total, &(const char *){0}),
                   200);
  s->body = QS_BODY_FILE;
  while (got < total) {
    nghttp3_vec v[4];
    uint32_t flags = 0;
    nghttp3_ssize n = qs_http_read_data(s, v, 4, &flags);
    if (n == NGHTTP3_ERR_WOULDBLOCK) {
      assert_false(s->failed);
      /* everything handed out is unacknowledged: ack all of it */
      assert_int_equal(s->produced - s->acked, s->ringcap);
      blocked++;
      assert_int_equal(qs_http_acked(s, s->produced - s->acked), 1);
      continue;
    }
    assert_int_equal(n, 1);
    assert_memory_equal(v[0].base, expect + got, v[0].len);
    got += v[0].len;
    assert_true(s->produced - s->acked <= QS_RING_MAX);
    if (got == total)
      assert_true(flags & NGHTTP3_DATA_FLAG_EOF);
  }
  assert_true(blocked >= 2);
  assert_int_equal(s->ringcap, QS_RING_MAX);
  qs_stream_del(s);
  free(expect);
  unlink(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_files),      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_mime),       cmocka_unit_test(test_bytes_route),
      cmocka_unit_test(test_file_ring),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
