/* static.c: see static.h. */
#include "static.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "encoding.h"
#include "http.h"
#include "multipart.h"
#include "stats.h"

enum { BODY_MEM = 1, BODY_FILE, BODY_BYTES };

struct qs_static {
  int kind;
  int fd;
  uint64_t total, off; /* off: octets produced */
  uint64_t start;       /* the file offset of the body's first octet (a range) */
  const uint8_t *mem;
  struct qs_fcentry *cached; /* the filecache entry mem points into, if any */
  uint64_t ino;              /* the representation's validators (filecache.h) */
  int64_t mtime_ns;
  int enc;                   /* QS_ENC_IDENTITY or the sibling sent */
  struct qs_parts *parts;    /* several ranges: the multipart body (NULL: none) */
  struct qs_ring ring;
  int blocked; /* the ring was full at the last pull */
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int pull_file(struct qs_req *r, struct qs_static *s, struct qs_vec *v, size_t nv,
                     int *eof) {
  size_t n;
  uint8_t *p;
  ssize_t got;

  if (!s->ring.buf &&
      qs_ring_init(&s->ring, s->total < QS_RING_MAX ? (size_t)s->total : QS_RING_MAX) != 0)
    return -1;
  p = qs_ring_space(&s->ring, &n);
  if (n == 0) {
    /* every octet of the ring waits for the front */
    s->blocked = 1;
    return 0;
  }
  if (n > s->total - s->off)
    n = (size_t)(s->total - s->off);
  if (n > QS_READ_CHUNK)
    n = QS_READ_CHUNK;
  do
    got = pread(s->fd, p, n, (off_t)(s->start + s->off));
  while (got < 0 && errno == EINTR);
  if (got <= 0)
    return -1; /* the file shrank or cannot be read: the stream is reset */
  s->ring.filled += (uint64_t)got;
  s->off += (uint64_t)got;
  if (s->off == s->total) {
    *eof = 1;
    close(s->fd);
    s->fd = -1;
  }
  (void)r;
  return qs_ring_pull(&s->ring, v, nv);
}

/* a multipart body from the cached copy: vectors into the part headers
 * and the copy, nothing copied */
static int pull_parts_mem(struct qs_static *s, struct qs_vec *v, size_t nv, int *eof) {
  int k = 0;
  while ((size_t)k < nv) {
    const char *t;
    uint64_t off;
    size_t n = qs_parts_next(s->parts, SIZE_MAX, &t, &off);
    if (n == 0)
      break;
    v[k].base = t ? (const uint8_t *)t : s->mem + off;
    v[k].len = n;
    s->off += n;
    k++;
  }
  if (s->off == s->total)
    *eof = 1;
  return k;
}

/* a multipart body from the file: part headers and ranges through the
 * ring, as pull_file does for one range (at most QS_READ_CHUNK a pull) */
static int pull_parts_file(struct qs_static *s, struct qs_vec *v, size_t nv, int *eof) {
  size_t produced = 0;
  if (!s->ring.buf &&
      qs_ring_init(&s->ring, s->total < QS_RING_MAX ? (size_t)s->total : QS_RING_MAX) != 0)
    return -1;
  while (s->off < s->total && produced < QS_READ_CHUNK) {
    size_t room, n;
    const char *t;
    uint64_t off;
    uint8_t *p = qs_ring_space(&s->ring, &room);
    if (room == 0)
      break;
    if (room > QS_READ_CHUNK - produced)
      room = QS_READ_CHUNK - produced;
    n = qs_parts_next(s->parts, room, &t, &off);
    if (t) {
      memcpy(p, t, n);
    } else {
      ssize_t got;
      do
        got = pread(s->fd, p, n, (off_t)off);
      while (got < 0 && errno == EINTR);
      if (got < 0 || (size_t)got != n)
        return -1; /* the file shrank or cannot be read: the stream is reset */
    }
    s->ring.filled += n;
    s->off += n;
    produced += n;
  }
  if (produced == 0 && s->off < s->total) {
    s->blocked = 1; /* every octet of the ring waits for the front */
    return 0;
  }
  if (s->off == s->total) {
    *eof = 1;
    close(s->fd);
    s->fd = -1;
  }
  return qs_ring_pull(&s->ring, v, nv);
}

static int static_pull(struct qs_req *r, struct qs_vec *v, size_t nv, int *eof) {
  struct qs_static *s = r->hdata;
  size_t n;
  if (nv == 0)
    return 0;
  if (s->off >= s->total) {
    *eof = 1;
    return 0;
  }
  if (s->parts)
    return s->kind == BODY_MEM ? pull_parts_mem(s, v, nv, eof) : pull_parts_file(s, v, nv, eof);
  switch (s->kind) {
  case BODY_FILE:
    return pull_file(r, s, v, nv, eof);
  case BODY_BYTES: {
    /* static data: nothing to keep until released */
    size_t plen, pos;
    const uint8_t *pat = qs_http_bytes_pattern(&plen);
    pos = (size_t)(s->off % plen);
    n = plen - pos;
    if (n > s->total - s->off)
      n = (size_t)(s->total - s->off);
    v[0].base = pat + pos;
    v[0].len = n;
    break;
  }
  default:
    n = (size_t)(s->total - s->off);
    v[0].base = s->mem + s->off;
    v[0].len = n;
    break;
  }
  s->off += n;
  if (s->off == s->total)
    *eof = 1;
  return 1;
}

static void static_acked(struct qs_req *r, uint64_t n) {
  struct qs_static *s = r->hdata;
  if (s->kind != BODY_FILE || !s->ring.buf)
    return;
  s->ring.acked += n;
  if (s->blocked && qs_ring_room(&s->ring)) {
    s->blocked = 0;
    qs_req_resume(r);
  }
}

static void static_free(struct qs_req *r) {
  struct qs_static *s = r->hdata;
  if (!s)
    return;
  if (s->fd >= 0)
    close(s->fd);
  qs_filecache_release(s->cached);
  if (s->parts) {
    qs_parts_free(s->parts);
    free(s->parts);
  }
  qs_ring_free(&s->ring);
  qs_mpool_release(r->hw->mem, s);
}

static const struct qs_handler_ops static_ops = {
    .name = "static", .pull = static_pull, .acked = static_acked, .free = static_free};

#define QS_ETAG_MAX 64

/* validators: a strong ETag from the file's identity, size and
 * modification time (ns), a sibling's with its coding appended ("-br"),
 * so that each representation has its own, and Last-Modified; returns 304 when the
 * request's conditions say the client's copy is current (RFC 9110
 * s13.2.2: If-None-Match first, If-Modified-Since only without it), else
 * 200.  Both fields are put in r->resp and in
 * |etag| (QS_ETAG_MAX octets) and |lm| (QS_HTTP_DATE_LEN + 1). */
static int validators(struct qs_req *r, struct qs_static *s, char *etag, char *lm) {
  /* the last representation this thread answered for and its two
   * strings: a run of requests for one file formats them once (snprintf
   * and the date cost ~2.3k instructions a response, BENCHMARKS.md) */
  static _Thread_local struct {
    uint64_t ino, size;
    int64_t mns;
    int enc, valid;
    size_t elen;
    char etag[QS_ETAG_MAX], lm[QS_HTTP_DATE_LEN + 1];
  } memo;
  int64_t mns = s->mtime_ns;
  const char *v;
  size_t vlen, elen;
  time_t ims, mtime;

  mtime = (time_t)(mns >= 0 ? mns / 1000000000LL : -((-mns + 999999999LL) / 1000000000LL));
  if (!memo.valid || memo.ino != s->ino || memo.size != s->total || memo.mns != mns ||
      memo.enc != s->enc) {
    if (s->enc)
      elen = (size_t)snprintf(memo.etag, QS_ETAG_MAX, "\"%llx-%llx-%llx-%s\"",
                              (unsigned long long)s->ino, (unsigned long long)s->total,
                              (unsigned long long)mns, qs_enc_name(s->enc));
    else
      elen = (size_t)snprintf(memo.etag, QS_ETAG_MAX, "\"%llx-%llx-%llx\"",
                              (unsigned long long)s->ino, (unsigned long long)s->total,
                              (unsigned long long)mns);
    qs_http_date_fmt(memo.lm, mtime);
    memo.ino = s->ino;
    memo.size = s->total;
    memo.mns = mns;
    memo.enc = s->enc;
    memo.elen = elen;
    memo.valid = 1;
  }
  elen = memo.elen;
  memcpy(etag, memo.etag, elen + 1);
  memcpy(lm, memo.lm, QS_HTTP_DATE_LEN + 1);
  qs_fields_add(&r->resp, "etag", 4, etag, elen, 0);
  qs_fields_add(&r->resp, "last-modified", 13, lm, QS_HTTP_DATE_LEN, 0);
  if ((v = qs_fields_get(&r->fields, "if-none-match", &vlen)) != NULL)
    return qs_http_etag_match(v, vlen, etag) ? 304 : 200;
  if ((v = qs_fields_get(&r->fields, "if-modified-since", &vlen)) != NULL &&
      qs_http_date_parse(v, vlen, &ims) == 0 && mtime <= ims)
    return 304;
  return 200;
}

/* If-Range (RFC 9110 s13.1.5): the range applies only if the client's
 * validator is the current one (an ETag compared strongly, or the exact
 * Last-Modified date) */
static int if_range_holds(const struct qs_req *r, const char *etag, const char *lm) {
  size_t len;
  const char *v = qs_fields_get(&r->fields, "if-range", &len);
  if (!v)
    return 1;
  if (len > 0 && v[0] == '"')
    return len == strlen(etag) && memcmp(v, etag, len) == 0;
  return len == QS_HTTP_DATE_LEN && memcmp(v, lm, len) == 0;
}

/* several satisfiable ranges of the identity representation: a
 * multipart/byteranges body (206, *ctype its type), or 200 with the whole
 * (a coded sibling, more than QS_PARTS_MAX ranges, overlapping ones) */
static int ranges(struct qs_static *s, const char *v, size_t len, const char **ctype) {
  struct qs_byterange rg[QS_PARTS_MAX];
  struct qs_parts *p;
  size_t n;
  if (s->enc != QS_ENC_IDENTITY)
    return 200; /* Content-Encoding would claim the multipart body coded */
  (void)qs_http_ranges_parse(v, len, s->total, rg, QS_PARTS_MAX, &n);
  if (n < 2 || n > QS_PARTS_MAX || !(p = malloc(sizeof *p)))
    return 200;
  if (qs_parts_init(p, rg, n, s->total, *ctype) != 0) {
    free(p);
    return 200;
  }
  s->parts = p;
  s->total = p->total;
  *ctype = p->ctype;
  return 206;
}

/* Range on a file's GET: narrows s to one range (206 with content-range),
 * makes it a multipart body of several, answers 416 with "bytes *\/SIZE",
 * or leaves the whole body (200).  Returns the status. */
static int range(struct qs_req *r, struct qs_static *s, const char *etag, const char *lm,
                 const char **ctype) {
  size_t len;
  const char *v = qs_fields_get(&r->fields, "range", &len);
  uint64_t first = 0, last = 0;
  char cr[80];
  size_t crlen;
  if (!v || !if_range_holds(r, etag, lm))
    return 200;
  switch (qs_http_range_parse(v, len, s->total, &first, &last)) {
  case QS_RANGE_ONE:
    crlen = (size_t)snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first,
                             (unsigned long long)last, (unsigned long long)s->total);
    qs_fields_add(&r->resp, "content-range", 13, cr, crlen, 0);
    if (s->kind == BODY_MEM)
      s->mem += first;
    else
      s->start = first;
    s->total = last - first + 1;
    return 206;
  case QS_RANGE_NONE:
    crlen = (size_t)snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)s->total);
    qs_fields_add(&r->resp, "content-range", 13, cr, crlen, 0);
    return 416;
  case QS_RANGE_MANY:
    return ranges(s, v, len, ctype);
  default:
    return 200;
  }
}

/* a directory requested without its slash: 301 to the slash form, the
 * query kept (RFC 9110 s15.4.2) */
static void redirect_slash(struct qs_req *r, const char *path, size_t len) {
  size_t n = qs_http_path_part(path, len), qlen;
  char loc[QS_PATH_MAX + 2]; /* a longer path got 414 */
  qlen = n < len && path[n] == '?' ? len - n : 0;
  if (qlen && memchr(path + n, '#', qlen))
    qlen = (size_t)((const char *)memchr(path + n, '#', qlen) - (path + n));
  if (n + 1 + qlen > sizeof loc) {
    qs_req_error(r, 414);
    return;
  }
  memcpy(loc, path, n);
  loc[n] = '/';
  memcpy(loc + n + 1, path + n, qlen);
  qs_fields_add(&r->resp, "location", 8, loc, n + 1 + qlen, 0);
  qs_fields_add(&r->resp, "content-length", 14, "0", 1, 0);
  qs_req_respond(r, 301, 0);
}

/* the file of request path |path| in the representation Accept-Encoding
 * asks for (identity if its sibling went away since its check), into |s|;
 * its content type (the file's, whatever the coding) and siblings.
 * Returns the status. */
static int open_file(struct qs_req *r, struct qs_static *s, const char *path, size_t len,
                     const char **ctype, unsigned *sibs) {
  struct qs_http_worker *hw = r->hw;
  struct qs_fcentry *id;
  struct qs_fcrep rep;
  uint64_t now = mono_ns();
  int status = qs_filecache_get(&hw->files, hw->conf->root, path, len, now, &id);
  if (status != 200)
    return status;
  *ctype = id->ctype;
  *sibs = id->sibs;
  if (id->sibs) {
    /* only a file with siblings pays for reading Accept-Encoding (all its
     * field lines: one list) */
    struct qs_enc_accept a;
    qs_enc_accept_init(&a);
    for (size_t i = 0; i < r->fields.n; i++)
      if (r->fields.f[i].namelen == 15 &&
          strncasecmp(qs_field_name(&r->fields, i), "accept-encoding", 15) == 0)
        qs_enc_accept_add(&a, qs_field_value(&r->fields, i), r->fields.f[i].valuelen);
    s->enc = qs_enc_choose(&a, id->sibs);
  }
  status = qs_filecache_open(&hw->files, hw->conf->root, id, s->enc, now, &rep);
  if (status != 200 && s->enc != QS_ENC_IDENTITY) {
    s->enc = QS_ENC_IDENTITY;
    status = qs_filecache_open(&hw->files, hw->conf->root, id, s->enc, now, &rep);
  }
  qs_filecache_release(id);
  if (status != 200)
    return status;
  s->cached = rep.e; /* a cached copy, kept alive by the request's reference */
  s->fd = rep.fd;
  s->total = rep.size;
  s->ino = rep.ino;
  s->mtime_ns = rep.mtime_ns;
  s->kind = rep.e ? BODY_MEM : BODY_FILE;
  if (rep.e)
    s->mem = rep.e->data;
  return 200;
}

void qs_static_start(struct qs_req *r) {
  struct qs_http_worker *hw = r->hw;
  const char *path = qs_req_path(r);
  size_t pathlen = strlen(path);
  const char *ctype = "application/octet-stream";
  char clen[24];
  uint64_t bytes;
  struct qs_static *s;
  unsigned sibs = 0;
  int status;

  if (r->mkind != QS_REQ_GET && r->mkind != QS_REQ_HEAD) {
    qs_req_error(r, 405);
    return;
  }
  s = qs_mpool_calloc(hw->mem, 1, sizeof *s);
  if (!s) {
    qs_req_error(r, 500);
    return;
  }
  s->fd = -1;
  qs_req_set_handler(r, &static_ops, s);
  if (hw->conf->bytes_endpoint && (status = qs_http_bytes_route(path, pathlen, &bytes)) != 0) {
    if (status == 200) {
      s->kind = BODY_BYTES;
      s->total = bytes;
    }
  } else {
    status = open_file(r, s, path, pathlen, &ctype, &sibs);
  }
  if (status == 301) {
    redirect_slash(r, path, pathlen);
    return;
  }
  if (status != 200) {
    if (QS_HTTP_REFUSAL(status) == QS_REFUSED_DOTFILE)
      QS_STAT_ADD(hw->st, http_refused_dotfile, 1);
    else if (QS_HTTP_REFUSAL(status) == QS_REFUSED_SPECIAL)
      QS_STAT_ADD(hw->st, http_refused_special, 1);
    qs_req_error(r, QS_HTTP_STATUS(status));
    return;
  }
  if (s->kind != BODY_BYTES) {
    char etag[QS_ETAG_MAX], lm[QS_HTTP_DATE_LEN + 1];
    int v;
    /* every response for a file with a sibling varies (RFC 9110 s12.5.5),
     * whichever representation it carries; files without one do not */
    if (sibs)
      qs_fields_add(&r->resp, "vary", 4, "accept-encoding", 15, 0);
    if (hw->conf->cache_control)
      qs_fields_add(&r->resp, "cache-control", 13, hw->conf->cache_control,
                    strlen(hw->conf->cache_control), 0);
    v = validators(r, s, etag, lm);
    if (v == 304) {
      qs_req_respond(r, 304, 0);
      return;
    }
    qs_fields_add(&r->resp, "accept-ranges", 13, "bytes", 5, 0);
    if (v == 200 && r->mkind == QS_REQ_GET) {
      status = range(r, s, etag, lm, &ctype);
      if (status == 416) {
        qs_fields_add(&r->resp, "content-length", 14, "0", 1, 0); /* frames it over HTTP/1.1 */
        qs_req_respond(r, 416, 0);
        return;
      }
    }
  }
  if (r->mkind == QS_REQ_HEAD && s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  if (s->enc)
    qs_fields_add(&r->resp, "content-encoding", 16, qs_enc_name(s->enc),
                  strlen(qs_enc_name(s->enc)), 0);
  qs_fields_add(&r->resp, "content-type", 12, ctype, strlen(ctype), 0);
  qs_fields_add(&r->resp, "content-length", 14, clen, qs_fmt_dec(clen, s->total), 0);
  qs_req_respond(r, status, s->total > 0);
}
