/* test_server_filecache.c: the worker's small-file cache (src/server/http/filecache.c): entries,
 * revalidation, large files, precompressed siblings. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "encoding.h"
#include "filecache.h"
#include "http.h"
#include "quicsteer/wstats.h"

#define S (1000000000ULL)

static char dir[] = "/tmp/qs-fc-XXXXXX";
static struct qs_docroot root;
static struct qs_wstats wst;

static void write_file(const char *name, const char *body, size_t len) {
  char p[256];
  FILE *f;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  f = fopen(p, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(body, 1, len, f), len);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  assert_non_null(mkdtemp(dir));
  write_file("a.txt", "first", 5);
  assert_int_equal(qs_docroot_open(&root, dir), 0);
  return 0;
}

static int teardown(void **state) {
  char cmd[300];
  (void)state;
  qs_docroot_close(&root);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static struct qs_fcentry *get(struct qs_filecache *fc, const char *path, uint64_t now,
                              int want) {
  struct qs_fcentry *e;
  int st = qs_filecache_get(fc, &root, path, strlen(path), now, &e);
  assert_int_equal(st, want);
  if (want != 200)
    assert_null(e);
  return e;
}

static void set_mtime(const char *name, time_t sec) {
  char p[256];
  struct timespec ts[2] = {{.tv_sec = sec}, {.tv_sec = sec}};
  snprintf(p, sizeof p, "%s/%s", dir, name);
  assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void test_hit_and_revalidate(void **state) {
  struct qs_filecache fc;
  struct qs_fcentry *e1, *e2, *e3;
  struct qs_fcrep rep;
  (void)state;
  qs_filecache_init(&fc);
  e1 = get(&fc, "/a.txt", 10 * S, 200);
  assert_non_null(e1);
  assert_int_equal(e1->len, 5);
  assert_memory_equal(e1->data, "first", 5);
  assert_string_equal(e1->ctype, "text/plain; charset=utf-8");
  assert_int_equal(e1->sibs, 0);
  assert_int_equal(qs_filecache_open(&fc, &root, e1, QS_ENC_IDENTITY, 10 * S, &rep), 200);
  assert_ptr_equal(rep.e, e1);
  assert_int_equal(rep.fd, -1);
  assert_int_equal(rep.size, 5);
  qs_filecache_release(rep.e);
  /* within the TTL: the same entry, without looking at the file */
  e2 = get(&fc, "/a.txt", 10 * S + S / 2, 200);
  assert_ptr_equal(e1, e2);
  /* the file changes (size and mtime); after the TTL the new content is served,
   * while the streams holding the old entry keep a valid copy */
  write_file("a.txt", "second!", 7);
  e3 = get(&fc, "/a.txt", 12 * S, 200);
  assert_non_null(e3);
  assert_ptr_not_equal(e3, e1);
  assert_int_equal(e3->len, 7);
  assert_memory_equal(e3->data, "second!", 7);
  assert_memory_equal(e1->data, "first", 5); /* still readable (ASan checks) */
  qs_filecache_release(e1);
  qs_filecache_release(e2);
  qs_filecache_release(e3);
  qs_filecache_free(&fc);
}

static void test_not_cached(void **state) {
  struct qs_filecache fc;
  struct qs_fcentry *e;
  struct qs_fcrep rep;
  char *big = malloc(QS_FILECACHE_FILE + 1);
  (void)state;
  assert_non_null(big);
  memset(big, 'x', QS_FILECACHE_FILE + 1);
  write_file("big.bin", big, QS_FILECACHE_FILE + 1);
  free(big);
  qs_filecache_init(&fc);
  /* too large: an entry without the bytes, a descriptor per open */
  e = get(&fc, "/big.bin", S, 200);
  assert_null(e->data);
  assert_int_equal(e->len, QS_FILECACHE_FILE + 1);
  assert_int_equal(qs_filecache_open(&fc, &root, e, QS_ENC_IDENTITY, S, &rep), 200);
  assert_null(rep.e);
  assert_true(rep.fd >= 0);
  assert_int_equal(rep.size, QS_FILECACHE_FILE + 1);
  close(rep.fd);
  /* removed within the TTL: the open says so */
  qs_filecache_release(e);
  {
    char p[256];
    snprintf(p, sizeof p, "%s/big.bin", dir);
    unlink(p);
  }
  e = get(&fc, "/big.bin", S + 1, 200);
  assert_int_equal(qs_filecache_open(&fc, &root, e, QS_ENC_IDENTITY, S + 1, &rep), 404);
  qs_filecache_release(e);
  /* errors pass through and are not cached */
  assert_null(get(&fc, "/missing", S, 404));
  assert_null(get(&fc, "/../etc/passwd", S, 400));
  qs_filecache_free(&fc);
}

/* precompressed siblings: found at the check, stale ones ignored, their
 * bytes cached in entries of their own; a FIFO or directory named like a
 * sibling is none */
static void test_siblings(void **state) {
  struct qs_filecache fc;
  struct qs_fcentry *e, *e2;
  struct qs_fcrep rep, rep2;
  char p[256];
  (void)state;
  write_file("s.js", "plain plain plain", 17);
  write_file("s.js.br", "BR", 2);
  write_file("s.js.gz", "GZIP", 4);
  set_mtime("s.js", 1000);
  set_mtime("s.js.br", 1000); /* the same time: fresh (gzip -k keeps it) */
  set_mtime("s.js.gz", 999);  /* older: stale */
  write_file("t.txt", "t", 1);
  snprintf(p, sizeof p, "%s/t.txt.br", dir);
  assert_int_equal(mkfifo(p, 0644), 0);
  snprintf(p, sizeof p, "%s/t.txt.gz", dir);
  assert_int_equal(mkdir(p, 0755), 0);
  qs_filecache_init(&fc);
  fc.st = &wst;
  e = get(&fc, "/s.js", 10 * S, 200);
  assert_int_equal(wst.http_sibling_stale, 1);
  assert_int_equal(e->sibs, QS_ENC_BIT(QS_ENC_BR));
  assert_int_equal(e->stale, QS_ENC_BIT(QS_ENC_GZIP));
  assert_string_equal(e->ctype, "text/javascript; charset=utf-8");
  assert_int_equal(qs_filecache_open(&fc, &root, e, QS_ENC_BR, 10 * S, &rep), 200);
  assert_non_null(rep.e);
  assert_int_equal(rep.size, 2);
  assert_memory_equal(rep.e->data, "BR", 2);
  assert_int_not_equal(rep.ino, (uint64_t)e->ino);
  /* the second open within the TTL: the same copy */
  assert_int_equal(qs_filecache_open(&fc, &root, e, QS_ENC_BR, 10 * S + 1, &rep2), 200);
  assert_ptr_equal(rep.e, rep2.e);
  qs_filecache_release(rep.e);
  qs_filecache_release(rep2.e);
  qs_filecache_release(e);
  /* rechecked, still stale: not counted again */
  e = get(&fc, "/s.js", 11 * S + 1, 200);
  assert_int_equal(e->stale, QS_ENC_BIT(QS_ENC_GZIP));
  assert_int_equal(wst.http_sibling_stale, 1);
  qs_filecache_release(e);
  /* the gzip sibling is made fresh: seen at the next check, not before */
  set_mtime("s.js.gz", 1001);
  e = get(&fc, "/s.js", 11 * S + 2, 200);
  assert_int_equal(e->sibs, QS_ENC_BIT(QS_ENC_BR));
  qs_filecache_release(e);
  e = get(&fc, "/s.js", 13 * S, 200);
  assert_int_equal(e->sibs, QS_ENC_BIT(QS_ENC_BR) | QS_ENC_BIT(QS_ENC_GZIP));
  assert_int_equal(e->stale, 0);
  /* a sibling removed since the check: the open says so */
  snprintf(p, sizeof p, "%s/s.js.gz", dir);
  unlink(p);
  assert_int_equal(qs_filecache_open(&fc, &root, e, QS_ENC_GZIP, 13 * S, &rep), 404);
  qs_filecache_release(e);
  e = get(&fc, "/t.txt", 13 * S, 200);
  assert_int_equal(e->sibs, 0);
  assert_int_equal(e->stale, 0);
  qs_filecache_release(e);
  /* turned off: nothing looked for */
  fc.no_siblings = 1;
  e2 = get(&fc, "/s.js", 20 * S, 200);
  assert_int_equal(e2->sibs, 0);
  qs_filecache_release(e2);
  qs_filecache_free(&fc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hit_and_revalidate),
      cmocka_unit_test(test_not_cached),
      cmocka_unit_test(test_siblings),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
