/* filecache.c: see filecache.h. */
#include "filecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding.h"
#include "stats.h"
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
    free(e->rel);
    free(e);
  }
}

static size_t cost(const struct qs_fcentry *e) { return e->data ? e->len : 0; }

static void drop(struct qs_filecache *fc, unsigned i) {
  struct qs_fcentry *e = fc->slot[i];
  if (!e)
    return;
  fc->bytes -= cost(e);
  fc->slot[i] = NULL;
  qs_filecache_release(e);
}

void qs_filecache_free(struct qs_filecache *fc) {
  for (unsigned i = 0; i < QS_FILECACHE_SLOTS; i++)
    drop(fc, i);
}

static uint64_t path_hash(const struct qs_filecache *fc, const char *path, size_t len) {
  uint64_t h = qs_siphash24(fc->k0, fc->k1, (const uint8_t *)path,
                            (uint32_t)(len < QS_SIPHASH_MAXLEN ? len : QS_SIPHASH_MAXLEN));
  /* the first octets alone would make /a/long/prefix/x and .../y collide */
  if (len > QS_SIPHASH_MAXLEN)
    h ^= qs_siphash24(fc->k1, fc->k0, (const uint8_t *)path + len - QS_SIPHASH_MAXLEN,
                      QS_SIPHASH_MAXLEN);
  return h;
}

/* the slot of a path's representation |enc|: a file's siblings in other
 * slots than the file, found from its hash without hashing again */
static unsigned slot_at(uint64_t h, int enc) {
  return (unsigned)((h + (uint64_t)enc * 0x9e3779b97f4a7c15ULL) % QS_FILECACHE_SLOTS);
}

static int64_t mtime_ns(const struct stat *st) {
  return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* the entry in |c| is the one of |path| and |enc| */
static int same_key(const struct qs_fcentry *c, const char *path, size_t len, int enc) {
  return c && c->enc == enc && c->pathlen == len && memcmp(c->path, path, len) == 0;
}

/* the entry's copy is still that of the file |st| describes */
static int same_file(const struct qs_fcentry *c, const struct stat *st) {
  return c->dev == st->st_dev && c->ino == st->st_ino && c->mtime_ns == mtime_ns(st) &&
         c->len == (size_t)st->st_size;
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

/* a new entry for |path| and |enc| describing the open file |fd|, its
 * bytes read if small (else, or if that fails, streamed); NULL on ENOMEM */
static struct qs_fcentry *entry_new(const char *path, size_t len, uint64_t hash, int enc,
                                    int fd, const struct stat *st, uint64_t now) {
  struct qs_fcentry *n = calloc(1, sizeof *n);
  if (!n)
    return NULL;
  n->refs = 1; /* the table's */
  n->pathlen = (uint16_t)len;
  n->hash = hash;
  n->enc = (uint8_t)enc;
  memcpy(n->path, path, len);
  n->len = (size_t)st->st_size;
  n->dev = st->st_dev;
  n->ino = st->st_ino;
  n->mtime_ns = mtime_ns(st);
  n->checked = now;
  if (n->len <= QS_FILECACHE_FILE)
    n->data = read_all(fd, n->len);
  return n;
}

static void insert(struct qs_filecache *fc, unsigned i, struct qs_fcentry *n) {
  drop(fc, i);
  /* over budget: forget other entries (their streams keep their copies) */
  for (unsigned j = (i + 1) % QS_FILECACHE_SLOTS;
       fc->bytes + cost(n) > QS_FILECACHE_BYTES && j != i; j = (j + 1) % QS_FILECACHE_SLOTS)
    drop(fc, j);
  fc->slot[i] = n;
  fc->bytes += cost(n);
}

/* which siblings of identity entry |c| exist and are not older than it:
 * two opens per check of a file, none per request */
static void probe(const struct qs_filecache *fc, const struct qs_docroot *root,
                  struct qs_fcentry *c) {
  uint8_t known = c->stale; /* counted when first seen stale, not at every check */
  c->sibs = c->stale = 0;
  if (fc->no_siblings)
    return;
  for (int enc = QS_ENC_BR; enc < QS_ENC_N; enc++) {
    struct stat st;
    int fd;
    if (qs_http_open_rel(root, c->rel, qs_enc_suffix(enc), &fd, &st) != 200)
      continue;
    close(fd);
    if (mtime_ns(&st) < c->mtime_ns) {
      c->stale |= (uint8_t)QS_ENC_BIT(enc);
      if (fc->st && !(known & QS_ENC_BIT(enc)))
        QS_STAT_ADD(fc->st, http_sibling_stale, 1);
    } else
      c->sibs |= (uint8_t)QS_ENC_BIT(enc);
  }
}

int qs_filecache_get(struct qs_filecache *fc, const struct qs_docroot *root, const char *path,
                     size_t len, uint64_t now, struct qs_fcentry **e) {
  uint64_t h = path_hash(fc, path, len);
  unsigned i = slot_at(h, QS_ENC_IDENTITY);
  struct qs_fcentry *c = fc->slot[i], *n;
  char rel[QS_REL_MAX];
  const char *ctype;
  struct stat st;
  int status, fd;

  *e = NULL;
  if (!same_key(c, path, len, QS_ENC_IDENTITY))
    c = NULL;
  if (c && now - c->checked < QS_FILECACHE_TTL) {
    c->refs++;
    *e = c;
    return 200;
  }
  status = qs_http_resolve_rel(root, path, len, &fd, &st, &ctype, rel);
  if (status != 200)
    return status; /* len <= QS_PATH_MAX from here */
  if (c && same_file(c, &st) && strcmp(c->rel, rel) == 0) {
    /* unchanged: keep serving the copy */
    close(fd);
    c->checked = now;
    probe(fc, root, c);
    c->refs++;
    *e = c;
    return 200;
  }
  n = entry_new(path, len, h, QS_ENC_IDENTITY, fd, &st, now);
  close(fd);
  if (n && !(n->rel = strdup(rel))) {
    qs_filecache_release(n);
    n = NULL;
  }
  if (!n)
    return 500;
  n->ctype = ctype;
  probe(fc, root, n);
  insert(fc, i, n);
  n->refs++;
  *e = n;
  return 200;
}

static void rep_of_entry(struct qs_fcentry *c, struct qs_fcrep *rep) {
  c->refs++;
  rep->e = c;
  rep->size = c->len;
  rep->ino = (uint64_t)c->ino;
  rep->mtime_ns = c->mtime_ns;
}

static void rep_of_fd(int fd, const struct stat *st, struct qs_fcrep *rep) {
  rep->fd = fd;
  rep->size = (uint64_t)st->st_size;
  rep->ino = (uint64_t)st->st_ino;
  rep->mtime_ns = mtime_ns(st);
}

int qs_filecache_open(struct qs_filecache *fc, const struct qs_docroot *root,
                      struct qs_fcentry *id, int enc, uint64_t now, struct qs_fcrep *rep) {
  struct qs_fcentry *c, *n = NULL;
  struct stat st;
  unsigned i;
  int status, fd;

  memset(rep, 0, sizeof *rep);
  rep->fd = -1;
  if (enc == QS_ENC_IDENTITY && id->data) {
    rep_of_entry(id, rep);
    return 200;
  }
  if (enc == QS_ENC_IDENTITY) {
    /* too large to keep: opened again by its name, validators of now */
    status = qs_http_open_rel(root, id->rel, "", &fd, &st);
    if (status == 200)
      rep_of_fd(fd, &st, rep);
    return status;
  }
  i = slot_at(id->hash, enc);
  c = fc->slot[i];
  if (!same_key(c, id->path, id->pathlen, enc))
    c = NULL;
  if (c && now - c->checked < QS_FILECACHE_TTL) {
    rep_of_entry(c, rep);
    return 200;
  }
  status = qs_http_open_rel(root, id->rel, qs_enc_suffix(enc), &fd, &st);
  if (status != 200)
    return status;
  if (c && same_file(c, &st)) {
    close(fd);
    c->checked = now;
    rep_of_entry(c, rep);
    return 200;
  }
  if ((uint64_t)st.st_size > QS_FILECACHE_FILE ||
      !(n = entry_new(id->path, id->pathlen, id->hash, enc, fd, &st, now)) || !n->data) {
    if (n)
      qs_filecache_release(n);
    rep_of_fd(fd, &st, rep); /* streamed */
    return 200;
  }
  close(fd);
  n->ctype = id->ctype;
  insert(fc, i, n); /* may drop id from the table: the caller holds it */
  rep_of_entry(n, rep);
  return 200;
}
