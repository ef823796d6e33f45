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
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "mime.h"
#include "quicsteer/wstats.h"
#include "req.h"

static char base[256];
static struct qs_docroot root;
static struct qs_wstats wst;
static struct qs_http_conf hconf;
static struct qs_http_worker hw;

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
  qs_http_worker_free(&hw);
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

/* dotfiles and non-regular files: refused with 403 and their reason */
static void test_fmt_dec(void **state) {
  char b[24];
  (void)state;
  assert_int_equal(qs_fmt_dec(b, 0), 1);
  assert_string_equal(b, "0");
  assert_int_equal(qs_fmt_dec(b, 200), 3);
  assert_string_equal(b, "200");
  assert_int_equal(qs_fmt_dec(b, 1024), 4);
  assert_string_equal(b, "1024");
  assert_int_equal(qs_fmt_dec(b, UINT64_MAX), 20);
  assert_string_equal(b, "18446744073709551615");
}

static void test_special(void **state) {
  char p[512];
  (void)state;
  snprintf(p, sizeof p, "%s/root/.git", base);
  mkdir(p, 0755);
  put("root/.git/config", "[core]\n");
  put("root/.env", "SECRET=1\n");
  snprintf(p, sizeof p, "%s/root/fifo", base);
  assert_int_equal(mkfifo(p, 0644), 0);
  assert_int_equal(resolve("/.env", NULL, NULL), 403 + 1000 * QS_REFUSED_DOTFILE);
  assert_int_equal(resolve("/.git/config", NULL, NULL), 403 + 1000 * QS_REFUSED_DOTFILE);
  assert_int_equal(resolve("/%2egit/config", NULL, NULL), 403 + 1000 * QS_REFUSED_DOTFILE);
  /* a FIFO without a writer: answered at once, not blocked on */
  assert_int_equal(resolve("/fifo", NULL, NULL), 403 + 1000 * QS_REFUSED_SPECIAL);
  assert_int_equal(resolve("/./index.html", NULL, NULL), 200);
  root.serve_dotfiles = 1;
  assert_int_equal(resolve("/.env", NULL, NULL), 200);
  root.serve_dotfiles = 0;
  unlink(p);
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
  assert_int_equal(resolve("/dir", &size, NULL), 301);
  assert_int_equal(resolve("/dir?x=/", &size, NULL), 301);
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
  /* the built-in list: no file loaded */
  assert_string_equal(qs_mime_type("a.png"), "image/png");
  assert_string_equal(qs_mime_type("a/b.SVG"), "image/svg+xml; charset=utf-8");
  assert_string_equal(qs_mime_type("app.js"), "text/javascript; charset=utf-8");
  assert_string_equal(qs_mime_type("noext"), "application/octet-stream");
  assert_string_equal(qs_mime_type("dir.d/noext"), "application/octet-stream");
  assert_string_equal(qs_mime_type("x.unknown"), "application/octet-stream");
  assert_string_equal(qs_mime_type("x.md"), "application/octet-stream");
  assert_int_equal(qs_mime_load("/nonexistent/mime.types"), -ENOENT);
  assert_string_equal(qs_mime_type("a.png"), "image/png");

  /* a mime.types file: its types, charset for text ones, built-ins after */
  assert_int_equal(qs_mime_load(QS_TEST_DATA "/mime.types"), 8);
  assert_string_equal(qs_mime_type("notes.MD"), "text/markdown; charset=utf-8");
  assert_string_equal(qs_mime_type("a.markdown"), "text/markdown; charset=utf-8");
  assert_string_equal(qs_mime_type("p.avif"), "image/avif");
  assert_string_equal(qs_mime_type("d.json"), "application/json; charset=utf-8");
  assert_string_equal(qs_mime_type("a.svgz"), "image/svg+xml; charset=utf-8");
  assert_string_equal(qs_mime_type("x.thing"), "application/x-thing");
  assert_string_equal(qs_mime_type("x.a"), "application/octet-stream"); /* not "comment" */
  assert_string_equal(qs_mime_type("a.png"), "image/png");              /* built-in */
  assert_string_equal(qs_mime_type("x.unknown"), "application/octet-stream");
  qs_mime_unload();
  assert_string_equal(qs_mime_type("notes.md"), "application/octet-stream");
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

/* ---- the request model (req.h) with a front of our own ---- */

struct fake_front {
  int responded, resumed, resets, consumed;
};
static struct fake_front ff;

static int ff_respond(struct qs_req *r) {
  (void)r;
  ff.responded++;
  return 0;
}
static int ff_interim(struct qs_req *r, int status) {
  (void)r;
  (void)status;
  return 0;
}
static void ff_resume(struct qs_req *r) {
  (void)r;
  ff.resumed++;
}
static void ff_consume(struct qs_req *r, size_t n) {
  (void)r;
  ff.consumed += (int)n;
}
static void ff_reset(struct qs_req *r) {
  (void)r;
  ff.resets++;
}
static const struct qs_front_ops ff_ops = {ff_respond, ff_interim, ff_resume, ff_consume,
                                           ff_reset};

static struct qs_req *request(const char *method, const char *path) {
  struct qs_req *r;
  memset(&ff, 0, sizeof ff);
  hconf.root = &root;
  hconf.max_fields = 4096;
  if (!hw.conf)
    assert_int_equal(qs_http_worker_init(&hw, NULL, 0, &hconf, &wst), 0);
  r = qs_req_new(&hw, &ff_ops, NULL, NULL, 0, "test");
  assert_non_null(r);
  qs_req_field(r, ":method", 7, method, strlen(method));
  qs_req_field(r, ":scheme", 7, "https", 5);
  qs_req_field(r, ":path", 5, path, strlen(path));
  return r;
}

/* a file body through a ring smaller than the file: only released space
 * is reused, the octets come out in order, and a full ring resumes the
 * front once released */
static void test_file_ring(void **state) {
  struct qs_req *r;
  char p[512];
  FILE *f;
  size_t total = QS_RING_MAX * 2 + 12345, got = 0, held = 0;
  uint8_t *expect = malloc(total);
  int blocked = 0, eof = 0;
  (void)state;
  for (size_t i = 0; i < total; i++)
    expect[i] = (uint8_t)(i * 7 + (i >> 9));
  snprintf(p, sizeof p, "%s/root/big.bin", base);
  f = fopen(p, "w");
  fwrite(expect, 1, total, f);
  fclose(f);
  r = request("GET", "/big.bin");
  qs_req_headers_done(r, 1);
  assert_int_equal(ff.responded, 1);
  assert_int_equal(r->status, 200);
  assert_true(r->has_body);
  while (!eof) {
    struct qs_vec v[4];
    int n = qs_req_pull(r, v, 4, &eof);
    assert_true(n >= 0);
    if (n == 0 && !eof) {
      /* everything handed out is unreleased: release all of it */
      assert_int_equal(held, QS_RING_MAX);
      blocked++;
      ff.resumed = 0;
      qs_req_acked(r, held);
      held = 0;
      assert_int_equal(ff.resumed, 1);
      continue;
    }
    for (int i = 0; i < n; i++) {
      assert_memory_equal(v[i].base, expect + got, v[i].len);
      got += v[i].len;
      held += v[i].len;
    }
    assert_true(held <= QS_RING_MAX);
  }
  assert_int_equal(got, total);
  assert_true(blocked >= 2);
  assert_int_equal(r->body_tx, total);
  qs_req_close(r);
  free(expect);
  unlink(p);
}

/* refusals answered by the built-in status pages */
static void test_req_errors(void **state) {
  struct qs_req *r;
  char big[1024];
  (void)state;
  r = request("POST", "/index.html");
  qs_req_headers_done(r, 0);
  assert_int_equal(r->status, 405);
  assert_non_null(qs_fields_get(&r->resp, "allow", NULL));
  /* a request body nobody wants: its credit comes straight back */
  qs_req_body(r, (const uint8_t *)"abc", 3);
  assert_int_equal(ff.consumed, 3);
  qs_req_close(r);

  r = request("GET", "/missing");
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 404);
  qs_req_close(r);

  /* a header section over the bound: 431, counted */
  r = request("GET", "/");
  memset(big, 'x', sizeof big);
  for (int i = 0; i < 5; i++)
    qs_req_field(r, "x-big", 5, big, sizeof big);
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 431);
  assert_true(wst.http_header_too_large >= 1);
  qs_req_close(r);

  /* no :scheme: 400 */
  memset(&ff, 0, sizeof ff);
  r = qs_req_new(&hw, &ff_ops, NULL, NULL, 0, "test");
  qs_req_field(r, ":method", 7, "GET", 3);
  qs_req_field(r, ":path", 5, "/", 1);
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 400);
  qs_req_close(r);

  /* HEAD: the headers of GET, no body */
  r = request("HEAD", "/index.html");
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 200);
  assert_false(r->has_body);
  qs_req_close(r);
}

/* a header section that does not complete in time: the stream is reset
 * and counted, by the worker's one periodic timer */
static void stop_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  (void)t;
  (void)revents;
  ev_break(loop, EVBREAK_ALL);
}

static void test_header_timeout(void **state) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  struct qs_http_conf c = {.root = &root, .max_fields = 4096, .header_timeout = 0.2};
  struct qs_http_worker w;
  struct qs_wstats ws;
  struct qs_req *slow, *done;
  ev_timer stop;
  (void)state;
  memset(&ws, 0, sizeof ws);
  memset(&ff, 0, sizeof ff);
  assert_int_equal(qs_http_worker_init(&w, loop, 0, &c, &ws), 0);
  slow = qs_req_new(&w, &ff_ops, NULL, NULL, 0, "test");
  qs_req_field(slow, ":method", 7, "GET", 3);
  done = qs_req_new(&w, &ff_ops, NULL, NULL, 0, "test");
  qs_req_field(done, ":method", 7, "GET", 3);
  qs_req_field(done, ":scheme", 7, "https", 5);
  qs_req_field(done, ":path", 5, "/", 1);
  qs_req_headers_done(done, 1);
  ev_timer_init(&stop, stop_cb, 0.5, 0.);
  ev_timer_start(loop, &stop);
  ev_run(loop, 0);
  assert_int_equal(ff.resets, 1);
  assert_int_equal(ws.http_header_timeout, 1);
  assert_true(slow->was_reset);
  assert_false(done->was_reset);
  qs_req_close(slow);
  qs_req_close(done);
  qs_http_worker_free(&w);
  ev_loop_destroy(loop);
}

/* a response body that makes no progress (the client does not read) is
 * reset after the send timeout; one that is pulled and released is not */
static void test_send_timeout(void **state) {
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  struct qs_http_conf c = {.root = &root, .max_fields = 4096, .send_timeout = 0.2};
  struct qs_http_worker w;
  struct qs_wstats ws;
  struct qs_req *stuck, *small;
  struct qs_vec v[4];
  int eof = 0;
  ev_timer stop;
  (void)state;
  memset(&ws, 0, sizeof ws);
  memset(&ff, 0, sizeof ff);
  assert_int_equal(qs_http_worker_init(&w, loop, 0, &c, &ws), 0);
  put("root/slow.bin", "0123456789");
  stuck = qs_req_new(&w, &ff_ops, NULL, NULL, 0, "test");
  qs_req_field(stuck, ":method", 7, "GET", 3);
  qs_req_field(stuck, ":scheme", 7, "https", 5);
  qs_req_field(stuck, ":path", 5, "/slow.bin", 9);
  qs_req_headers_done(stuck, 1);
  assert_true(stuck->has_body);
  small = qs_req_new(&w, &ff_ops, NULL, NULL, 0, "test");
  qs_req_field(small, ":method", 7, "GET", 3);
  qs_req_field(small, ":scheme", 7, "https", 5);
  qs_req_field(small, ":path", 5, "/index.html", 11);
  qs_req_headers_done(small, 1);
  /* this one is sent completely: no longer watched */
  while (!eof)
    qs_req_pull(small, v, 4, &eof);
  ev_timer_init(&stop, stop_cb, 0.6, 0.);
  ev_timer_start(loop, &stop);
  ev_run(loop, 0);
  assert_int_equal(ws.http_send_timeout, 1);
  assert_true(stuck->was_reset);
  assert_false(small->was_reset);
  qs_req_close(stuck);
  qs_req_close(small);
  qs_http_worker_free(&w);
  ev_loop_destroy(loop);
}

/* HTTP-dates, entity-tag lists, and the validators of a static response:
 * Date on every response, ETag + If-None-Match and Last-Modified +
 * If-Modified-Since -> 304 (If-None-Match first), HEAD with GET's fields */
static struct qs_req *cond(const char *method, const char *path, const char *name,
                           const char *value) {
  struct qs_req *r = request(method, path);
  if (name)
    qs_req_field(r, name, strlen(name), value, strlen(value));
  qs_req_headers_done(r, 1);
  return r;
}

static void field_copy(const struct qs_req *r, const char *name, char *out, size_t cap) {
  size_t len;
  const char *v = qs_fields_get(&r->resp, name, &len);
  assert_non_null(v);
  assert_true(len < cap);
  memcpy(out, v, len);
  out[len] = 0;
}

static void test_conditional(void **state) {
  char b[QS_HTTP_DATE_LEN + 1], etag[64], lm[64], other[80], p[512];
  time_t t;
  struct timespec ts[2] = {{.tv_sec = 784111777, .tv_nsec = 5}, {.tv_sec = 784111777, .tv_nsec = 5}};
  struct qs_req *r;
  size_t len;
  (void)state;
  assert_int_equal(qs_http_date_fmt(b, 784111777), QS_HTTP_DATE_LEN);
  assert_string_equal(b, "Sun, 06 Nov 1994 08:49:37 GMT");
  assert_int_equal(qs_http_date_parse(b, strlen(b), &t), 0);
  assert_int_equal(t, 784111777);
  assert_int_equal(qs_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), -EINVAL);
  assert_int_equal(qs_http_date_parse("Sun, 06 Xyz 1994 08:49:37 GMT", 29, &t), -EINVAL);
  assert_int_equal(qs_http_date_parse("Sun, 06 Nov 1994 28:49:37 GMT", 29, &t), -EINVAL);
  assert_int_equal(qs_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMX", 29, &t), -EINVAL);
  assert_int_equal(qs_http_etag_match("\"a\"", 3, "\"a\""), 1);
  assert_int_equal(qs_http_etag_match("\"b\", W/\"a\"", 10, "\"a\""), 1);
  assert_int_equal(qs_http_etag_match("*", 1, "\"a\""), 1);
  assert_int_equal(qs_http_etag_match("\"ab\"", 4, "\"a\""), 0);
  assert_int_equal(qs_http_etag_match("\"b\", \"c", 7, "\"a\""), 0);
  assert_int_equal(qs_http_etag_match("a", 1, "\"a\""), 0);
  assert_int_equal(qs_http_etag_match("", 0, "\"a\""), 0);

  put("root/cond.txt", "conditional\n");
  snprintf(p, sizeof p, "%s/root/cond.txt", base);
  assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
  r = cond("GET", "/cond.txt", NULL, NULL);
  assert_int_equal(r->status, 200);
  field_copy(r, "etag", etag, sizeof etag);
  field_copy(r, "last-modified", lm, sizeof lm);
  assert_string_equal(lm, "Sun, 06 Nov 1994 08:49:37 GMT");
  assert_true(etag[0] == '"' && etag[strlen(etag) - 1] == '"');
  assert_non_null(qs_fields_get(&r->resp, "date", &len));
  assert_int_equal(len, QS_HTTP_DATE_LEN);
  qs_req_close(r);
  /* HEAD: the same validators and length */
  r = cond("HEAD", "/cond.txt", NULL, NULL);
  assert_int_equal(r->status, 200);
  field_copy(r, "etag", other, sizeof other);
  assert_string_equal(other, etag);
  field_copy(r, "content-length", other, sizeof other);
  assert_string_equal(other, "12");
  qs_req_close(r);
  r = cond("GET", "/cond.txt", "if-none-match", etag);
  assert_int_equal(r->status, 304);
  assert_false(r->has_body);
  field_copy(r, "etag", other, sizeof other);
  assert_string_equal(other, etag);
  qs_req_close(r);
  snprintf(other, sizeof other, "\"x\", W/%s", etag);
  r = cond("HEAD", "/cond.txt", "if-none-match", other);
  assert_int_equal(r->status, 304);
  qs_req_close(r);
  r = cond("GET", "/cond.txt", "if-none-match", "\"nope\"");
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  r = cond("GET", "/cond.txt", "if-modified-since", lm);
  assert_int_equal(r->status, 304);
  qs_req_close(r);
  r = cond("GET", "/cond.txt", "if-modified-since", "Sun, 06 Nov 1994 08:49:36 GMT");
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  r = cond("GET", "/cond.txt", "if-modified-since", "garbage");
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  /* If-None-Match decides alone when present (RFC 9110 s13.2.2) */
  r = request("GET", "/cond.txt");
  qs_req_field(r, "if-none-match", 13, "\"nope\"", 6);
  qs_req_field(r, "if-modified-since", 17, lm, strlen(lm));
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  /* the file changes: a new ETag, the old one no longer matches */
  put("root/cond.txt", "conditional!\n");
  r = cond("GET", "/cond.txt", "if-none-match", etag);
  /* the filecache may serve the old copy for up to QS_FILECACHE_TTL; its
   * validators are then the old copy's, consistently */
  if (r->status == 200) {
    field_copy(r, "etag", other, sizeof other);
    assert_string_not_equal(other, etag);
  }
  qs_req_close(r);
  /* the errors carry Date too */
  r = cond("GET", "/missing", NULL, NULL);
  assert_int_equal(r->status, 404);
  assert_non_null(qs_fields_get(&r->resp, "date", NULL));
  assert_null(qs_fields_get(&r->resp, "etag", NULL));
  qs_req_close(r);
}

/* Range: the pure parser, then 206 / 416 / 200 through the layer, If-Range */
static void test_range(void **state) {
  uint64_t a = 7, b = 7;
  struct qs_req *r;
  struct qs_vec v[4];
  int eof = 0, n;
  char cr[64];
  (void)state;
#define RP(str, size) qs_http_range_parse(str, strlen(str), size, &a, &b)
  assert_int_equal(RP("bytes=0-4", 10), QS_RANGE_ONE);
  assert_true(a == 0 && b == 4);
  assert_int_equal(RP("bytes=5-", 10), QS_RANGE_ONE);
  assert_true(a == 5 && b == 9);
  assert_int_equal(RP("bytes=-3", 10), QS_RANGE_ONE);
  assert_true(a == 7 && b == 9);
  assert_int_equal(RP("bytes=-30", 10), QS_RANGE_ONE);
  assert_true(a == 0 && b == 9);
  assert_int_equal(RP("bytes=2-100", 10), QS_RANGE_ONE);
  assert_true(a == 2 && b == 9);
  assert_int_equal(RP("BYTES= 1-1 ", 10), QS_RANGE_ONE);
  assert_true(a == 1 && b == 1);
  assert_int_equal(RP("bytes=0-1, 4-5", 10), QS_RANGE_MANY);
  assert_int_equal(RP("bytes=20-30, 4-5", 10), QS_RANGE_MANY);
  assert_int_equal(RP("bytes=10-", 10), QS_RANGE_NONE);
  assert_int_equal(RP("bytes=-0", 10), QS_RANGE_NONE);
  assert_int_equal(RP("bytes=-5", 0), QS_RANGE_NONE);
  assert_int_equal(RP("bytes=20-30,40-", 10), QS_RANGE_NONE);
  assert_int_equal(RP("bytes=5-4", 10), QS_RANGE_IGNORE);
  assert_int_equal(RP("bytes=99999999999999999999-", 10), QS_RANGE_IGNORE);
  assert_int_equal(RP("bytes=0-99999999999999999999", 10), QS_RANGE_IGNORE);
  assert_int_equal(RP("bytes=18446744073709551615-", 10), QS_RANGE_NONE);
  assert_int_equal(RP("bytes=", 10), QS_RANGE_IGNORE);
  assert_int_equal(RP("bytes=-", 10), QS_RANGE_IGNORE);
  assert_int_equal(RP("bytes=a-b", 10), QS_RANGE_IGNORE);
  assert_int_equal(RP("bytes=1-2;", 10), QS_RANGE_IGNORE);
  assert_int_equal(RP("items=0-1", 10), QS_RANGE_IGNORE);
  assert_int_equal(RP("", 10), QS_RANGE_IGNORE);
#undef RP

  put("root/range.txt", "0123456789");
  r = cond("GET", "/range.txt", "range", "bytes=2-4");
  assert_int_equal(r->status, 206);
  field_copy(r, "content-range", cr, sizeof cr);
  assert_string_equal(cr, "bytes 2-4/10");
  field_copy(r, "content-length", cr, sizeof cr);
  assert_string_equal(cr, "3");
  field_copy(r, "accept-ranges", cr, sizeof cr);
  assert_string_equal(cr, "bytes");
  n = qs_req_pull(r, v, 4, &eof);
  assert_int_equal(n, 1);
  assert_true(eof);
  assert_int_equal(v[0].len, 3);
  assert_memory_equal(v[0].base, "234", 3);
  qs_req_close(r);
  r = cond("GET", "/range.txt", "range", "bytes=10-");
  assert_int_equal(r->status, 416);
  assert_false(r->has_body);
  field_copy(r, "content-range", cr, sizeof cr);
  assert_string_equal(cr, "bytes */10");
  qs_req_close(r);
  /* several ranges: multipart/byteranges (multipart.h), the parts in the
   * order asked; overlapping ones or too many: the whole */
  {
    char body[1024], bnd[40], want[1024];
    size_t got = 0, blen;
    const char *ct;
    r = cond("GET", "/range.txt", "range", "bytes=6-7,0-1,-1");
    assert_int_equal(r->status, 206);
    assert_null(qs_fields_get(&r->resp, "content-range", NULL));
    field_copy(r, "content-type", cr, sizeof cr);
    ct = "multipart/byteranges; boundary=";
    assert_memory_equal(cr, ct, strlen(ct));
    snprintf(bnd, sizeof bnd, "%s", cr + strlen(ct));
    assert_int_equal(strlen(bnd), 16);
    for (;;) {
      n = qs_req_pull(r, v, 4, &eof);
      for (int i = 0; i < n; i++) {
        assert_true(got + v[i].len < sizeof body);
        memcpy(body + got, v[i].base, v[i].len);
        got += v[i].len;
      }
      if (eof || n == 0)
        break;
    }
    assert_true(eof);
    blen = (size_t)snprintf(want, sizeof want,
                            "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                            "Content-Range: bytes 6-7/10\r\n\r\n67"
                            "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                            "Content-Range: bytes 0-1/10\r\n\r\n01"
                            "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                            "Content-Range: bytes 9-9/10\r\n\r\n9"
                            "\r\n--%s--\r\n", bnd, bnd, bnd, bnd);
    assert_int_equal(got, blen);
    assert_memory_equal(body, want, blen);
    field_copy(r, "content-length", cr, sizeof cr);
    assert_int_equal(strtoull(cr, NULL, 10), blen);
    qs_req_close(r);
  }
  r = cond("GET", "/range.txt", "range", "bytes=0-3,2-5");
  assert_int_equal(r->status, 200);
  assert_null(qs_fields_get(&r->resp, "content-range", NULL));
  qs_req_close(r);
  r = cond("GET", "/range.txt", "range",
           "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,"
           "15-15,16-16,17-17");
  assert_int_equal(r->status, 206); /* 10 satisfiable: within QS_PARTS_MAX */
  qs_req_close(r);
  put("root/range20.txt", "0123456789abcdefghij");
  r = cond("GET", "/range20.txt", "range",
           "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,"
           "15-15,16-16");
  assert_int_equal(r->status, 200); /* 17 */
  qs_req_close(r);
  r = cond("GET", "/range.txt", "range", "bytes=0-1,20-30");
  assert_int_equal(r->status, 200); /* one satisfiable of several: the whole */
  qs_req_close(r);
  r = cond("GET", "/range.txt", "range", "bytes=junk");
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  /* If-Range: a stale ETag or date -> the whole body */
  r = request("GET", "/range.txt");
  qs_req_field(r, "range", 5, "bytes=0-0", 9);
  qs_req_field(r, "if-range", 8, "\"stale\"", 7);
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 200);
  field_copy(r, "etag", cr, sizeof cr);
  qs_req_close(r);
  r = request("GET", "/range.txt");
  qs_req_field(r, "range", 5, "bytes=0-0", 9);
  qs_req_field(r, "if-range", 8, cr, strlen(cr));
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 206);
  field_copy(r, "last-modified", cr, sizeof cr);
  qs_req_close(r);
  r = request("GET", "/range.txt");
  qs_req_field(r, "range", 5, "bytes=0-0", 9);
  qs_req_field(r, "if-range", 8, cr, strlen(cr));
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 206);
  qs_req_close(r);
  r = request("GET", "/range.txt");
  qs_req_field(r, "range", 5, "bytes=0-0", 9);
  qs_req_field(r, "if-range", 8, "Sun, 06 Nov 1994 08:49:37 GMT", 29);
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  /* a directory without its slash: 301 to the slash form, query kept */
  r = cond("GET", "/dir?a=1#f", NULL, NULL);
  assert_int_equal(r->status, 301);
  field_copy(r, "location", cr, sizeof cr);
  assert_string_equal(cr, "/dir/?a=1");
  qs_req_close(r);
  r = cond("HEAD", "/dir", NULL, NULL);
  assert_int_equal(r->status, 301);
  field_copy(r, "location", cr, sizeof cr);
  assert_string_equal(cr, "/dir/");
  qs_req_close(r);
  r = cond("GET", "/dir/", NULL, NULL);
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  /* HEAD ignores Range */
  r = cond("HEAD", "/range.txt", "range", "bytes=2-4");
  assert_int_equal(r->status, 200);
  qs_req_close(r);
}

/* a GET or HEAD of |path| with Accept-Encoding |ae| (NULL: none) and one
 * more field |name| (NULL: none) */
static struct qs_req *enc_req(const char *method, const char *path, const char *ae,
                              const char *name, const char *value) {
  struct qs_req *r = request(method, path);
  if (ae)
    qs_req_field(r, "accept-encoding", 15, ae, strlen(ae));
  if (name)
    qs_req_field(r, name, strlen(name), value, strlen(value));
  qs_req_headers_done(r, 1);
  return r;
}

/* the whole body of a response from a cached copy */
static void body_is(struct qs_req *r, const char *want) {
  struct qs_vec v[4];
  int eof = 0, n = qs_req_pull(r, v, 4, &eof);
  assert_int_equal(n, 1);
  assert_true(eof);
  assert_int_equal(v[0].len, strlen(want));
  assert_memory_equal(v[0].base, want, v[0].len);
}

/* precompressed siblings chosen by Accept-Encoding (encoding.h): the
 * sibling's bytes, length, validators and Content-Encoding, the file's
 * type, Vary on every response of a file with a sibling (304, 206, HEAD,
 * identity too) and on none without; a stale sibling is ignored; /x.gz
 * itself is a plain file */
static void test_precompressed(void **state) {
  char etag_id[64], etag_br[80], etag_gz[80], v[80], p[512];
  struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
  struct qs_req *r;
  (void)state;
  put("root/app.js", "console.log('hello, world');\n");
  put("root/app.js.br", "BROTLI-BYTES");
  put("root/app.js.gz", "GZIP-BYTES!");
  put("root/dir/page.css", "p{}\n");
  put("root/dir/page.css.gz", "GZ-CSS");
  put("root/stale.txt", "new text\n");
  put("root/stale.txt.gz", "OLD-GZ");
  snprintf(p, sizeof p, "%s/root/stale.txt.gz", base);
  assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);

  r = enc_req("GET", "/app.js", "gzip, deflate, br", NULL, NULL);
  assert_int_equal(r->status, 200);
  field_copy(r, "content-encoding", v, sizeof v);
  assert_string_equal(v, "br");
  field_copy(r, "vary", v, sizeof v);
  assert_string_equal(v, "accept-encoding");
  field_copy(r, "content-type", v, sizeof v);
  assert_string_equal(v, "text/javascript; charset=utf-8");
  field_copy(r, "content-length", v, sizeof v);
  assert_string_equal(v, "12");
  field_copy(r, "etag", etag_br, sizeof etag_br);
  assert_true(strlen(etag_br) > 5 && strcmp(etag_br + strlen(etag_br) - 4, "-br\"") == 0);
  body_is(r, "BROTLI-BYTES");
  qs_req_close(r);
  r = enc_req("GET", "/app.js", "gzip", NULL, NULL);
  field_copy(r, "content-encoding", v, sizeof v);
  assert_string_equal(v, "gzip");
  field_copy(r, "etag", etag_gz, sizeof etag_gz);
  body_is(r, "GZIP-BYTES!");
  qs_req_close(r);
  /* no Accept-Encoding, or one refusing both: identity, still Vary */
  r = enc_req("GET", "/app.js", NULL, NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_null(qs_fields_get(&r->resp, "content-encoding", NULL));
  field_copy(r, "vary", v, sizeof v);
  assert_string_equal(v, "accept-encoding");
  field_copy(r, "etag", etag_id, sizeof etag_id);
  body_is(r, "console.log('hello, world');\n");
  qs_req_close(r);
  r = enc_req("GET", "/app.js", "br;q=0, gzip;q=0", NULL, NULL);
  assert_null(qs_fields_get(&r->resp, "content-encoding", NULL));
  qs_req_close(r);
  assert_string_not_equal(etag_id, etag_br);
  assert_string_not_equal(etag_id, etag_gz);
  assert_string_not_equal(etag_br, etag_gz);
  /* HEAD: GET's fields */
  r = enc_req("HEAD", "/app.js", "br", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_false(r->has_body);
  field_copy(r, "content-encoding", v, sizeof v);
  assert_string_equal(v, "br");
  field_copy(r, "content-length", v, sizeof v);
  assert_string_equal(v, "12");
  field_copy(r, "etag", v, sizeof v);
  assert_string_equal(v, etag_br);
  qs_req_close(r);
  /* If-None-Match per representation */
  r = enc_req("GET", "/app.js", "br", "if-none-match", etag_br);
  assert_int_equal(r->status, 304);
  field_copy(r, "vary", v, sizeof v);
  assert_string_equal(v, "accept-encoding");
  field_copy(r, "etag", v, sizeof v);
  assert_string_equal(v, etag_br);
  qs_req_close(r);
  r = enc_req("GET", "/app.js", "gzip", "if-none-match", etag_br);
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  r = enc_req("GET", "/app.js", NULL, "if-none-match", etag_br);
  assert_int_equal(r->status, 200);
  qs_req_close(r);
  r = enc_req("GET", "/app.js", "gzip", "if-none-match", etag_gz);
  assert_int_equal(r->status, 304);
  qs_req_close(r);
  /* Range on the sibling's bytes; If-Range with its ETag */
  r = enc_req("GET", "/app.js", "br", "range", "bytes=2-5");
  assert_int_equal(r->status, 206);
  field_copy(r, "content-range", v, sizeof v);
  assert_string_equal(v, "bytes 2-5/12");
  field_copy(r, "vary", v, sizeof v);
  assert_string_equal(v, "accept-encoding");
  field_copy(r, "content-encoding", v, sizeof v);
  assert_string_equal(v, "br");
  body_is(r, "OTLI");
  qs_req_close(r);
  /* several ranges of a coded sibling: the whole sibling, no multipart */
  r = enc_req("GET", "/app.js", "br", "range", "bytes=0-1,4-5");
  assert_int_equal(r->status, 200);
  field_copy(r, "content-encoding", v, sizeof v);
  assert_string_equal(v, "br");
  body_is(r, "BROTLI-BYTES");
  qs_req_close(r);
  r = request("GET", "/app.js");
  qs_req_field(r, "accept-encoding", 15, "gzip", 4);
  qs_req_field(r, "range", 5, "bytes=0-1", 9);
  qs_req_field(r, "if-range", 8, etag_br, strlen(etag_br));
  qs_req_headers_done(r, 1);
  assert_int_equal(r->status, 200); /* the br tag is not the gzip one */
  qs_req_close(r);
  /* a directory's index.html and a sibling in a subdirectory */
  put("root/dir/index.html.gz", "GZ-INDEX");
  r = enc_req("GET", "/dir/", "gzip", NULL, NULL);
  assert_int_equal(r->status, 200);
  field_copy(r, "content-type", v, sizeof v);
  assert_string_equal(v, "text/html; charset=utf-8");
  qs_req_close(r); /* the cached entry may predate the sibling (TTL) */
  r = enc_req("GET", "/dir/page.css", "br, gzip", NULL, NULL);
  field_copy(r, "content-encoding", v, sizeof v);
  assert_string_equal(v, "gzip");
  body_is(r, "GZ-CSS");
  qs_req_close(r);
  /* a stale sibling is ignored: no Content-Encoding, no Vary */
  r = enc_req("GET", "/stale.txt", "gzip", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_null(qs_fields_get(&r->resp, "content-encoding", NULL));
  assert_null(qs_fields_get(&r->resp, "vary", NULL));
  body_is(r, "new text\n");
  qs_req_close(r);
  /* the sibling itself: a plain file of its own type */
  r = enc_req("GET", "/app.js.gz", "gzip", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_null(qs_fields_get(&r->resp, "content-encoding", NULL));
  assert_null(qs_fields_get(&r->resp, "vary", NULL));
  field_copy(r, "content-type", v, sizeof v);
  assert_string_equal(v, qs_mime_type("app.js.gz")); /* by its own name */
  assert_string_not_equal(v, "text/javascript; charset=utf-8");
  body_is(r, "GZIP-BYTES!");
  qs_req_close(r);
  /* a file without siblings: no Vary */
  r = enc_req("GET", "/range.txt", "gzip, br", NULL, NULL);
  assert_int_equal(r->status, 200);
  assert_null(qs_fields_get(&r->resp, "vary", NULL));
  qs_req_close(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_files),      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_mime),       cmocka_unit_test(test_bytes_route),
      cmocka_unit_test(test_file_ring),  cmocka_unit_test(test_req_errors),
      cmocka_unit_test(test_special),    cmocka_unit_test(test_header_timeout),
      cmocka_unit_test(test_send_timeout),    cmocka_unit_test(test_fmt_dec),
      cmocka_unit_test(test_conditional), cmocka_unit_test(test_range),
      cmocka_unit_test(test_precompressed),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
