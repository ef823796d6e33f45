/* filecache.c: see filecache.h. */
#include "filecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quicsteer/siphash.h"
#include "quicsteer/util.h"

void qs_filecache_init(struct qs_filecache *fc) {
  memset(fc, 0, sizeof *fc);
  qs_random(&fc->k0, sizeof fc->k0);
  qs_random(&fc->k1, sizeof fc->k1);
}

void qs_filecache_release(struct qs_fcentry *e) {
  if (e && --e->refs == 0) {
    free(e->data);
    free(e);
  }
}

static void drop(struct qs_filecache *fc, unsigned i) {
  struct qs_fcentry *e = fc->slot[i];
  if (!e)
    return;
  fc->bytes -= e->len;
  fc->slot[i] = NULL;
  qs_filecache_release(e);
}

void qs_filecache_free(struct qs_filecache *fc) {
  for (unsigned i = 0; i < QS_FILECACHE_SLOTS; i++)
    drop(fc, i);
}

static unsigned slot_of(const struct qs_filecache *fc, const char *path, size_t len) {
  uint64_t h = qs_siphash24(fc->k0, fc->k1, (const uint8_t *)path,
                            (uint32_t)(len < QS_SIPHASH_MAXLEN ? len : QS_SIPHASH_MAXLEN));
  /* the first octets alone would make /a/long/prefix/x and .../y collide */
  if (len > QS_SIPHASH_MAXLEN)
    h ^= qs_siphash24(fc->k1, fc->k0, (const uint8_t *)path + len - QS_SIPHASH_MAXLEN,
                      QS_SIPHASH_MAXLEN);
  return (unsigned)(h % QS_FILECACHE_SLOTS);
}

static int64_t mtime_ns(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static uint8_t *read_all(int fd, size_t len) {
  uint8_t *buf = malloc(len ? len : 1);
  size_t got = 0;
  while (buf && got < len) {
    ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      free(buf);
      return NULL;
    }
    got += (size_t)r;
  }
  return buf;
}

int qs_filecache_get(struct qs_filecache *fc, const struct qs_docroot *root, const char *path,
                     size_t len, uint64_t now, struct qs_fcentry **e, int *fd, uint64_t *size,
                     const char **ctype) {
  unsigned i = slot_of(fc, path, len);
  struct qs_fcentry *c = fc->slot[i], *n;
  struct stat st;
  int status;

  *e = NULL;
  *fd = -1;
  if (c && c->pathlen == len && memcmp(c->path, path, len) == 0 &&
      now - c->checked < QS_FILECACHE_TTL) {
    c->refs++;
    *e = c;
    return 200;
  }
  status = qs_http_resolve_stat(root, path, len, fd, &st, ctype);
  if (status != 200)
    return status;
  *size = (uint64_t)st.st_size;
  if (*size > QS_FILECACHE_FILE || len > QS_PATH_MAX)
    return 200; /* streamed from *fd */
  if (c && c->pathlen == len && memcmp(c->path, path, len) == 0 && c->dev == st.st_dev &&
      c->ino == st.st_ino && c->mtime_ns == mtime_ns(&st) && c->len == *size) {
    /* unchanged: keep serving the copy */
    close(*fd);
    *fd = -1;
    c->checked = now;
    c->refs++;
    *e = c;
    return 200;
  }
  n = calloc(1, sizeof *n);
  if (!n)
    return 200; /* serve from the file */
  n->data = read_all(*fd, (size_t)*size);
  if (!n->data) {
    free(n);
    return 200;
  }
  n->refs = 1; /* the table's */
  n->pathlen = (uint16_t)len;
  memcpy(n->path, path, len);
  n->ctype = *ctype;
  n->len = (size_t)*size;
  n->dev = st.st_dev;
  n->ino = st.st_ino;
  n->mtime_ns = mtime_ns(&st);
  n->checked = now;
  close(*fd);
  *fd = -1;
  drop(fc, i);
  /* over budget: forget other entries (their streams keep their copies) */
  for (unsigned j = (i + 1) % QS_FILECACHE_SLOTS;
       fc->bytes + n->len > QS_FILECACHE_BYTES && j != i; j = (j + 1) % QS_FILECACHE_SLOTS)
    drop(fc, j);
  fc->slot[i] = n;
  fc->bytes += n->len;
  n->refs++;
  *e = n;
  return 200;
}
