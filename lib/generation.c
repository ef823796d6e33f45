/* generation.c: the record of the last generation handed out
 * (include/quicsteer/generation.h). */
#include "quicsteer/generation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quicsteer/errors.h"
#include "steer_internal.h"

/* /run/quicsteer/NAME.generation: beside the instance directory, which
 * goes when the instance stops; the record must not */
static void record_path(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s.generation", QS_WSTATS_DIR, name);
}

static uint16_t read_record(int fd) {
  char buf[16];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  unsigned long v;
  char *end;
  if (n <= 0)
    return 0;
  buf[n] = 0;
  v = strtoul(buf, &end, 10);
  return end != buf && v >= 1 && v <= QS_GEN_MAX ? (uint16_t)v : 0;
}

uint16_t qs_gen_last(const char *name) {
  char path[PATH_MAX];
  uint16_t g;
  int fd;
  record_path(path, sizeof path, name);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  g = read_record(fd);
  close(fd);
  return g;
}

int qs_gen_claim(const char *name, const uint16_t *live, size_t nlive, uint16_t *gen) {
  char path[PATH_MAX], buf[16];
  uint16_t newest = 0, last;
  int fd, n, rv = 0;

  if (!qs_steer_name_ok(name))
    return QS_ERR_INVAL;
  for (size_t i = 0; i < nlive; i++)
    if (live[i] && (!newest || qs_gen_newer(live[i], newest)))
      newest = live[i];
  record_path(path, sizeof path, name);
  if (mkdir(QS_WSTATS_DIR, 0755) != 0 && errno != EEXIST)
    fd = -1;
  else
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  /* the record is its own lock: two starters never get the same number */
  if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
    close(fd);
    fd = -1;
  }
  last = fd >= 0 ? read_record(fd) : 0;
  if (last && (!newest || qs_gen_newer(last, newest)))
    newest = last;
  *gen = qs_gen_next(newest);
  n = snprintf(buf, sizeof buf, "%u\n", *gen);
  if (fd < 0 || pwrite(fd, buf, (size_t)n, 0) != n || ftruncate(fd, n) != 0)
    rv = QS_ERR_SYS;
  if (fd >= 0)
    close(fd);
  return rv;
}
