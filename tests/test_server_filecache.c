/* test_server_filecache.c: the worker's small-file cache (src/server/filecache.c). */
#include <fcntl.h>
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

#include "filecache.h"
#include "http.h"

#define S (1000000000ULL)

static char dir[] = "/tmp/qs-fc-XXXXXX";
static struct qs_docroot root;

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
  const char *ctype;
  uint64_t size;
  int fd, st = qs_filecache_get(fc, &root, path, strlen(path), now, &e, &fd, &size, &ctype);
  assert_int_equal(st, want);
  if (fd >= 0)
    close(fd);
  return e;
}

static void test_hit_and_revalidate(void **state) {
  struct qs_filecache fc;
  struct qs_fcentry *e1, *e2, *e3;
  (void)state;
  qs_filecache_init(&fc);
  e1 = get(&fc, "/a.txt", 10 * S, 200);
  assert_non_null(e1);
  assert_int_equal(e1->len, 5);
  assert_memory_equal(e1->data, "first", 5);
  assert_string_equal(e1->ctype, "text/plain; charset=utf-8");
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
  const char *ctype;
  uint64_t size;
  char *big = malloc(QS_FILECACHE_FILE + 1);
  int fd;
  (void)state;
  assert_non_null(big);
  memset(big, 'x', QS_FILECACHE_FILE + 1);
  write_file("big.bin", big, QS_FILECACHE_FILE + 1);
  free(big);
  qs_filecache_init(&fc);
  /* too large: an open descriptor to stream from */
  assert_int_equal(qs_filecache_get(&fc, &root, "/big.bin", 8, S, &e, &fd, &size, &ctype), 200);
  assert_null(e);
  assert_true(fd >= 0);
  assert_int_equal(size, QS_FILECACHE_FILE + 1);
  close(fd);
  /* errors pass through and are not cached */
  assert_null(get(&fc, "/missing", S, 404));
  assert_null(get(&fc, "/../etc/passwd", S, 400));
  qs_filecache_free(&fc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hit_and_revalidate),
      cmocka_unit_test(test_not_cached),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
