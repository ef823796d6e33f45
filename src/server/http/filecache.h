/* filecache.h: a worker's cache of small static files.
 *
 * Opening, checking and reading a file for every response (openat2, fstat,
 * pread, close) costs more than the rest of a small request together, so
 * each worker keeps the files of at most QS_FILECACHE_FILE octets in memory,
 * keyed by the request path, and checks them against the file system (the
 * same resolution rules: RESOLVE_BENEATH) at most once per
 * QS_FILECACHE_TTL: a changed file is served at most that long after it
 * changed.  Larger files stream from their descriptor as before.
 *
 * One cache per worker: no lock.  An entry carries a reference count,
 * because a response body must stay valid until the peer acknowledged it;
 * an entry replaced meanwhile is freed by its last stream.
 */
#ifndef QS_SERVER_FILECACHE_H
#define QS_SERVER_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http.h"

#define QS_FILECACHE_SLOTS 512                 /* direct-mapped by path hash */
#define QS_FILECACHE_FILE (256 * 1024)         /* larger files are not cached */
#define QS_FILECACHE_BYTES (32u * 1024 * 1024) /* per worker */
#define QS_FILECACHE_TTL (1000000000ULL)       /* ns between checks of an entry */

struct qs_fcentry {
  unsigned refs; /* the table's own reference + one per stream sending it */
  uint16_t pathlen;
  char path[QS_PATH_MAX];
  const char *ctype;
  uint8_t *data;
  size_t len;
  dev_t dev;
  ino_t ino;
  int64_t mtime_ns;
  uint64_t checked; /* qs_now() of the last check */
};

struct qs_filecache {
  struct qs_fcentry *slot[QS_FILECACHE_SLOTS];
  size_t bytes;
  uint64_t k0, k1; /* hash key */
};

void qs_filecache_init(struct qs_filecache *fc);
void qs_filecache_free(struct qs_filecache *fc);

/* qs_filecache_get resolves request path |path| (|len| octets) under
 * |root| at time |now|.  Returns the HTTP status; with 200 either *e is a
 * cached entry with a reference for the caller (release it with
 * qs_filecache_release), or *e is NULL and *fd, *size, *ctype describe an
 * open file too large to cache. */
int qs_filecache_get(struct qs_filecache *fc, const struct qs_docroot *root, const char *path,
                     size_t len, uint64_t now, struct qs_fcentry **e, int *fd, uint64_t *size,
                     const char **ctype);

/* qs_filecache_release drops a reference taken by qs_filecache_get. */
void qs_filecache_release(struct qs_fcentry *e);

#endif
