/* filecache.h: a worker's cache of static files and their precompressed
 * siblings.
 *
 * Opening, checking and reading a file for every response (openat2, fstat,
 * pread, close) costs more than the rest of a small request together, so
 * each worker keeps, keyed by the request path, what resolving it gave:
 * the name under the root, the content type, which precompressed siblings
 * (x.br, x.gz: encoding.h) exist, and for a file of at most
 * QS_FILECACHE_FILE octets its bytes.  An entry is checked against the
 * file system (the same resolution rules: RESOLVE_BENEATH, regular files
 * only) at most once per QS_FILECACHE_TTL, its siblings with it: a changed
 * file is served at most that long after it changed, and a request costs
 * no stat() while its entry is fresh.  Larger files stream from a
 * descriptor opened per request by the remembered name.
 *
 * A sibling older than its file (mtime) is stale and ignored: the file
 * changed after it was compressed.  A sibling's bytes are cached, like a
 * file's, in an entry of its own (the same path, another encoding), read
 * when first asked for.
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

struct qs_wstats;

#define QS_FILECACHE_SLOTS 512                 /* direct-mapped by path hash */
#define QS_FILECACHE_FILE (256 * 1024)         /* larger files are not cached */
#define QS_FILECACHE_BYTES (32u * 1024 * 1024) /* per worker */
#define QS_FILECACHE_TTL (1000000000ULL)       /* ns between checks of an entry */

struct qs_fcentry {
  unsigned refs; /* the table's own reference + one per stream sending it */
  uint16_t pathlen;
  uint8_t enc;   /* the representation held: QS_ENC_IDENTITY or a sibling's */
  uint8_t sibs;  /* identity entries: QS_ENC_BIT of each fresh sibling */
  uint8_t stale; /* identity entries: QS_ENC_BIT of each sibling ignored as older */
  char path[QS_PATH_MAX];
  uint64_t hash; /* of the path: the slots of its representations */
  char *rel;     /* identity entries: the name under the root */
  const char *ctype;
  uint8_t *data; /* NULL: too large to keep, streamed */
  size_t len;
  dev_t dev;
  ino_t ino;
  int64_t mtime_ns;
  uint64_t checked; /* qs_now() of the last check */
};

struct qs_filecache {
  struct qs_fcentry *slot[QS_FILECACHE_SLOTS];
  size_t bytes;
  uint64_t k0, k1;  /* hash key */
  int no_siblings;  /* 1: precompressed siblings are not looked for */
  struct qs_wstats *st; /* http_sibling_stale; NULL: not counted */
};

/* a representation to send: bytes in e->data (e a reference for the
 * caller), or an open descriptor; its own validators */
struct qs_fcrep {
  struct qs_fcentry *e;
  int fd;
  uint64_t size;
  uint64_t ino;
  int64_t mtime_ns;
};

void qs_filecache_init(struct qs_filecache *fc);
void qs_filecache_free(struct qs_filecache *fc);

/* qs_filecache_get resolves request path |path| (|len| octets) under
 * |root| at time |now|.  Returns the HTTP status; with 200 *e is the
 * file's entry (ctype, sibs), a reference for the caller. */
int qs_filecache_get(struct qs_filecache *fc, const struct qs_docroot *root, const char *path,
                     size_t len, uint64_t now, struct qs_fcentry **e);

/* qs_filecache_open gives representation |enc| of the file of entry |id|
 * (from qs_filecache_get; a sibling only if id->sibs has it): its cached
 * copy or an open descriptor, in *rep.  Returns 200 or the status of a
 * file that went away since its check (404, 403). */
int qs_filecache_open(struct qs_filecache *fc, const struct qs_docroot *root,
                      struct qs_fcentry *id, int enc, uint64_t now, struct qs_fcrep *rep);

/* qs_filecache_release drops a reference taken by qs_filecache_get or
 * qs_filecache_open (NULL: nothing). */
void qs_filecache_release(struct qs_fcentry *e);

#endif
