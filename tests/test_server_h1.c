/* test_server_h1.c: the HTTP/1.1 request head of a proxied request
 * (src/server/http/h1.c): method, path and query unchanged, Host from
 * :authority, hop-by-hop fields removed (also those named in
 * Connection), cookies joined, X-Forwarded-For and Forwarded extended,
 * X-Forwarded-Proto replaced, Early-Data for 0-RTT, the framing; and the
 * bounded fields arena of the request model. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h1.h"
#include "quicsteer/wstats.h"
#include "req.h"

static struct qs_http_conf conf = {.max_fields = 8192};
static struct qs_http_worker hw = {.conf = &conf};
static struct qs_wstats wst;

static struct qs_req *req(const char *method, const char *path, const char *v6) {
  struct sockaddr_storage ss;
  socklen_t len;
  struct qs_req *r;
  memset(&ss, 0, sizeof ss);
  hw.st = &wst;
  if (v6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, v6, &s6->sin6_addr);
    len = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", &s4->sin_addr);
    len = sizeof *s4;
  }
  r = qs_req_new(&hw, NULL, NULL, (struct sockaddr *)&ss, len, "test");
  assert_non_null(r);
  qs_req_field(r, ":method", 7, method, strlen(method));
  qs_req_field(r, ":scheme", 7, "https", 5);
  qs_req_field(r, ":authority", 10, "example.org", 11);
  qs_req_field(r, ":path", 5, path, strlen(path));
  return r;
}

static void add(struct qs_req *r, const char *n, const char *v) {
  qs_req_field(r, n, strlen(n), v, strlen(v));
}

static char *head(struct qs_req *r, enum qs_h1_framing fr, int *rv) {
  static char out[8192];
  struct qs_buf b = {0};
  *rv = qs_h1_request_head(&b, r, fr);
  memcpy(out, b.p ? (char *)b.p : "", b.len);
  out[b.len] = '\0';
  qs_buf_free(&b);
  return out;
}

static void test_mapping(void **state) {
  struct qs_req *r = req("GET", "/a/b?x=1&y=%20", NULL);
  int rv;
  char *h;
  (void)state;
  add(r, "user-agent", "t/1");
  add(r, "connection", "close, x-private");
  add(r, "x-private", "secret");
  add(r, "keep-alive", "timeout=5");
  add(r, "te", "trailers");
  add(r, "host", "evil.example");
  add(r, "x-forwarded-for", "198.51.100.1");
  add(r, "x-forwarded-proto", "http");
  add(r, "forwarded", "for=198.51.100.1");
  add(r, "cookie", "a=1");
  add(r, "cookie", "b=2");
  r->early_data = 1;
  h = head(r, QS_H1_NOBODY, &rv);
  assert_int_equal(rv, 0);
  assert_true(strncmp(h, "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.org\r\n", 48) == 0);
  assert_non_null(strstr(h, "\r\nuser-agent: t/1\r\n"));
  assert_null(strstr(h, "x-private"));
  assert_null(strstr(h, "keep-alive"));
  assert_null(strstr(h, "onnection"));
  assert_null(strstr(h, "te: "));
  assert_null(strstr(h, "evil"));
  assert_non_null(strstr(h, "\r\nCookie: a=1; b=2\r\n"));
  assert_non_null(strstr(h, "\r\nX-Forwarded-For: 198.51.100.1, 192.0.2.7\r\n"));
  assert_non_null(strstr(h, "\r\nX-Forwarded-Proto: https\r\n"));
  assert_null(strstr(h, "proto: http\r"));
  assert_non_null(
      strstr(h, "\r\nForwarded: for=198.51.100.1, for=192.0.2.7;proto=https;host=\"example.org\"\r\n"));
  assert_non_null(strstr(h, "\r\nEarly-Data: 1\r\n"));
  assert_null(strstr(h, "Content-Length"));
  assert_null(strstr(h, "Transfer-Encoding"));
  assert_true(strlen(h) > 4 && strcmp(h + strlen(h) - 4, "\r\n\r\n") == 0);
  r->front = NULL;
  qs_req_close(r);
}

static void test_framing(void **state) {
  struct qs_req *r = req("POST", "/up", "2001:db8::5");
  int rv;
  char *h;
  (void)state;
  h = head(r, QS_H1_CHUNKED, &rv);
  assert_int_equal(rv, 0);
  assert_non_null(strstr(h, "\r\nTransfer-Encoding: chunked\r\n"));
  assert_non_null(strstr(h, "\r\nX-Forwarded-For: 2001:db8::5\r\n"));
  assert_non_null(strstr(h, "Forwarded: for=\"[2001:db8::5]\";proto=https"));
  assert_null(strstr(h, "Early-Data"));
  h = head(r, QS_H1_NOBODY, &rv);
  assert_non_null(strstr(h, "\r\nContent-Length: 0\r\n"));
  add(r, "content-length", "12345");
  assert_int_equal(r->content_length, 12345);
  h = head(r, QS_H1_LENGTH, &rv);
  assert_non_null(strstr(h, "\r\nContent-Length: 12345\r\n"));
  assert_null(strstr(h, "content-length"));
  qs_req_close(r);

  /* a value that would split the message: refused */
  r = req("GET", "/", NULL);
  add(r, "x-evil", "a\r\nInjected: 1");
  head(r, QS_H1_NOBODY, &rv);
  assert_int_equal(rv, -EINVAL);
  qs_req_close(r);
}

static void test_hop_by_hop(void **state) {
  (void)state;
  assert_true(qs_h1_hop_by_hop("Transfer-Encoding", 17, NULL, 0));
  assert_true(qs_h1_hop_by_hop("UPGRADE", 7, NULL, 0));
  assert_false(qs_h1_hop_by_hop("content-type", 12, NULL, 0));
  assert_true(qs_h1_hop_by_hop("x-a", 3, " keep-alive ,X-A", 16));
  assert_false(qs_h1_hop_by_hop("x-ab", 4, "x-a, x-b", 8));
}

static void test_fields_bound(void **state) {
  struct qs_fields fs;
  char v[100];
  int n = 0;
  (void)state;
  memset(v, 'v', sizeof v);
  qs_fields_init(&fs, 1000);
  while (qs_fields_add(&fs, "Name", 4, v, sizeof v, 1) == 0)
    n++;
  /* (4 + 100 + 32) octets a field under 1000 */
  assert_int_equal(n, 7);
  assert_string_equal(qs_field_name(&fs, 0), "name");
  assert_non_null(qs_fields_get(&fs, "NAME", NULL));
  /* empty names and values, also as NULL (an empty buffer never allocated) */
  qs_fields_clear(&fs);
  assert_int_equal(qs_fields_add(&fs, "x-empty", 7, NULL, 0, 0), 0);
  assert_int_equal(qs_fields_add(&fs, "", 0, "", 0, 1), 0);
  assert_string_equal(qs_field_value(&fs, 0), "");
  {
    struct qs_buf b = {0};
    assert_int_equal(qs_buf_add(&b, NULL, 0), 0);
    assert_null(b.p);
  }
  qs_fields_free(&fs);
}

/* a buffer written while it drains (a long response through c->out)
 * stays bounded and keeps its octets in order, whether the writer tops it
 * up after every drop or only once less than a record is left */
static void test_buf_bounded(void **state) {
  uint8_t frame[16393];
  (void)state;
  for (int low = 0; low < 2; low++) {
    struct qs_buf b = {0};
    size_t in = 0, out = 0, maxcap = 0;
    while (out < 20u * 1024 * 1024) {
      if (!low || qs_buf_pending(&b) < 16384)
        while (qs_buf_pending(&b) < 65536) {
          for (size_t i = 0; i < sizeof frame; i++)
            frame[i] = (uint8_t)((in + i) * 7 / 3);
          assert_int_equal(qs_buf_add(&b, frame, sizeof frame), 0);
          in += sizeof frame;
        }
      size_t n = qs_buf_pending(&b) < 16384 ? qs_buf_pending(&b) : 16384;
      for (size_t i = 0; i < n; i += 1021)
        assert_int_equal(b.p[b.off + i], (uint8_t)((out + i) * 7 / 3));
      qs_buf_drop(&b, n);
      out += n;
      if (b.cap > maxcap)
        maxcap = b.cap;
    }
    /* at most 65536 + 16393 pending: a few times that, not the 20 MiB */
    assert_true(maxcap <= 4 * (65536 + 16393));
    qs_buf_free(&b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_bounded),
      cmocka_unit_test(test_mapping),
      cmocka_unit_test(test_framing),
      cmocka_unit_test(test_hop_by_hop),
      cmocka_unit_test(test_fields_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
