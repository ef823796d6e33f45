/* http.c: see http.h. */
#include "http.h"

#include "filecache.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "quicsteer/util.h"

#define QS_SERVER_HEADER "quicsteer/" QS_VERSION_STRING

/* ---- document root ---- */

int qs_docroot_open(struct qs_docroot *r, const char *dir) {
  struct stat st;
  if (!realpath(dir, r->path))
    return -errno;
  r->fd = open(r->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (r->fd < 0)
    return -errno;
  if (fstat(r->fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
    close(r->fd);
    r->fd = -1;
    return -ENOTDIR;
  }
  return 0;
}

void qs_docroot_close(struct qs_docroot *r) {
  if (r->fd >= 0)
    close(r->fd);
  r->fd = -1;
}

/* ---- content types ---- */

static const struct {
  const char *ext;
  const char *type;
} mime_table[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"wasm", "application/wasm"},
    {"xml", "application/xml"},
    {"pdf", "application/pdf"},
    {"woff2", "font/woff2"},
};

const char *qs_http_mime(const char *name) {
  const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
  if (dot && (!slash || dot > slash)) {
    for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
      if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
        return mime_table[i].type;
  }
  return "application/octet-stream";
}

/* ---- path resolution ---- */

/* decode the path part (up to '?' or '#') into |out| as a path relative to
 * the root; returns 0 or an HTTP status */
static int decode_path(const char *path, size_t len, char *out, size_t cap) {
  size_t o = 0, seg = 0;
  if (len == 0 || path[0] != '/')
    return 400;
  for (size_t i = 1; i <= len; i++) {
    char c;
    if (i == len || path[i] == '?' || path[i] == '#') {
      c = '\0';
    } else if (path[i] == '%') {
      int hi, lo;
      if (i + 2 >= len)
        return 400;
      hi = qs_hex_nibble(path[i + 1]);
      lo = qs_hex_nibble(path[i + 2]);
      if (hi < 0 || lo < 0)
        return 400;
      c = (char)(hi << 4 | lo);
      if (c == '\0')
        return 400;
      i += 2;
    } else {
      c = path[i];
    }
    if (c == '/' || c == '\0') {
      /* a segment ended at out[seg..o) */
      size_t sl = o - seg;
      if (sl == 2 && out[seg] == '.' && out[seg + 1] == '.')
        return 400;
      if (sl == 1 && out[seg] == '.') {
        o = seg; /* drop "." */
      } else if (sl == 0 && c == '/') {
        /* collapse "//" */
      } else if (c == '/') {
        if (o + 1 >= cap)
          return 414;
        out[o++] = '/';
      }
      seg = o;
      if (c == '\0')
        break;
      continue;
    }
    if (o + 1 >= cap)
      return 414;
    out[o++] = c;
  }
  out[o] = '\0';
  return 0;
}

static int open_beneath(const struct qs_docroot *root, const char *rel) {
  struct open_how how;
  long fd;
  memset(&how, 0, sizeof how);
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
  /* the kernel refuses any resolution that leaves the root, including
   * through symbolic links ("..", absolute or relative targets) */
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  fd = syscall(SYS_openat2, root->fd, rel, &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS)
    return (int)fd;
  {
    /* kernels before 5.6: resolve in user space and check the prefix */
    char full[PATH_MAX * 2], real[PATH_MAX];
    size_t rl = strlen(root->path);
    snprintf(full, sizeof full, "%s/%s", root->path, rel);
    if (!realpath(full, real))
      return -1;
    if (strncmp(real, root->path, rl) != 0 || (real[rl] != '/' && real[rl] != '\0')) {
      errno = EXDEV;
      return -1;
    }
    return open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  }
}

static int errno_status(int err) {
  switch (err) {
  case ENOENT:
  case ENOTDIR:
    return 404;
  case ENAMETOOLONG:
    return 414;
  default: /* EXDEV (escape), ELOOP, EACCES, EPERM */
    return 403;
  }
}

int qs_http_resolve_stat(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                         struct stat *st, const char **ctype) {
  char rel[QS_PATH_MAX + 16];
  size_t rl;
  int status, f;

  *fd = -1;
  if (len > QS_PATH_MAX)
    return 414;
  status = decode_path(path, len, rel, QS_PATH_MAX + 1);
  if (status)
    return status;
  rl = strlen(rel);
  if (rl == 0 || rel[rl - 1] == '/') {
    memcpy(rel + rl, "index.html", 11);
    rl += 10;
  }
  for (int pass = 0; pass < 2; pass++) {
    f = open_beneath(root, rel);
    if (f < 0)
      return errno_status(errno);
    if (fstat(f, st) != 0) {
      close(f);
      return 403;
    }
    if (S_ISREG(st->st_mode)) {
      *fd = f;
      *ctype = qs_http_mime(rel);
      return 200;
    }
    close(f);
    if (!S_ISDIR(st->st_mode) || pass == 1)
      return 403;
    /* a directory: its index.html */
    memcpy(rel + rl, "/index.html", 12);
    rl += 11;
  }
  return 404;
}

int qs_http_resolve(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                    uint64_t *size, const char **ctype) {
  struct stat st;
  int status = qs_http_resolve_stat(root, path, len, fd, &st, ctype);
  if (status == 200)
    *size = (uint64_t)st.st_size;
  return status;
}

/* ---- /bytes/N ---- */

static const char bytes_line[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n";
#define QS_PATTERN_LEN 16384 /* a multiple of the 64-octet line */
static uint8_t pattern[QS_PATTERN_LEN];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void pattern_init(void) {
  for (size_t i = 0; i < QS_PATTERN_LEN; i++)
    pattern[i] = (uint8_t)bytes_line[i % 64];
}

uint8_t qs_http_bytes_at(uint64_t off) { return (uint8_t)bytes_line[off % 64]; }

int qs_http_bytes_route(const char *path, size_t len, uint64_t *n) {
  static const char prefix[] = "/bytes/";
  const size_t pl = sizeof prefix - 1;
  uint64_t v = 0;
  size_t i;
  if (len < pl || memcmp(path, prefix, pl) != 0)
    return 0;
  for (i = pl; i < len && path[i] != '?'; i++) {
    if (path[i] < '0' || path[i] > '9')
      return 400;
    if (v > QS_BYTES_MAX / 10)
      return 400;
    v = v * 10 + (uint64_t)(path[i] - '0');
  }
  if (i == pl || v > QS_BYTES_MAX)
    return 400;
  *n = v;
  return 200;
}

/* ---- streams ---- */

struct qs_stream *qs_stream_new(int64_t id, void *conn) {
  struct qs_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->id = id;
  s->conn = conn;
  s->fd = -1;
  return s;
}

void qs_stream_del(struct qs_stream *s) {
  if (!s)
    return;
  if (s->fd >= 0)
    close(s->fd);
  qs_filecache_release(s->cached);
  free(s->ring);
  free(s);
}

void qs_http_on_header(struct qs_stream *s, int32_t token, const uint8_t *name, size_t namelen,
                       const uint8_t *value, size_t valuelen) {
  (void)name;
  (void)namelen;
  switch (token) {
  case NGHTTP3_QPACK_TOKEN__METHOD:
    s->have |= QS_HAVE_METHOD;
    if (valuelen == 3 && memcmp(value, "GET", 3) == 0)
      s->method = QS_METHOD_GET;
    else if (valuelen == 4 && memcmp(value, "HEAD", 4) == 0)
      s->method = QS_METHOD_HEAD;
    else
      s->method = QS_METHOD_OTHER;
    break;
  case NGHTTP3_QPACK_TOKEN__PATH:
    s->have |= QS_HAVE_PATH;
    if (valuelen > QS_PATH_MAX) {
      s->bad = 414;
      break;
    }
    memcpy(s->path, value, valuelen);
    s->path[valuelen] = '\0';
    s->pathlen = (uint16_t)valuelen;
    break;
  case NGHTTP3_QPACK_TOKEN__SCHEME:
    s->have |= QS_HAVE_SCHEME;
    break;
  case NGHTTP3_QPACK_TOKEN__AUTHORITY:
    s->have |= QS_HAVE_AUTHORITY;
    break;
  default:
    break;
  }
}

static nghttp3_nv nv(const char *name, const char *value) {
  nghttp3_nv h = {.name = (uint8_t *)name,
                  .value = (uint8_t *)value,
                  .namelen = strlen(name),
                  .valuelen = strlen(value),
                  .flags = NGHTTP3_NV_FLAG_NONE};
  return h;
}

static const char *reason_body(int status) {
  switch (status) {
  case 400:
    return "400 Bad Request\n";
  case 403:
    return "403 Forbidden\n";
  case 404:
    return "404 Not Found\n";
  case 405:
    return "405 Method Not Allowed\n";
  case 414:
    return "414 URI Too Long\n";
  default:
    return "500 Internal Server Error\n";
  }
}

int qs_http_respond(struct qs_stream *s, nghttp3_conn *h3, const struct qs_docroot *root,
                    struct qs_filecache *fc, uint64_t now, const nghttp3_data_reader *dr) {
  nghttp3_nv hdrs[6];
  char status[8], clen[24];
  const char *ctype = "text/plain; charset=utf-8";
  size_t n = 0;
  uint64_t bytes;

  s->responded = 1;
  if (s->bad)
    s->status = s->bad;
  else if ((s->have & (QS_HAVE_METHOD | QS_HAVE_PATH | QS_HAVE_SCHEME)) !=
           (QS_HAVE_METHOD | QS_HAVE_PATH | QS_HAVE_SCHEME))
    s->status = 400;
  else if (s->method == QS_METHOD_OTHER)
    s->status = 405;
  else if ((s->status = qs_http_bytes_route(s->path, s->pathlen, &bytes)) == 200) {
    s->body = QS_BODY_BYTES;
    s->total = bytes;
    ctype = "application/octet-stream";
  } else if (s->status == 0) {
    s->status = qs_filecache_get(fc, root, s->path, s->pathlen, now, &s->cached, &s->fd,
                                 &s->total, &ctype);
    if (s->status == 200 && s->cached) {
      /* a cached copy, kept alive by the stream's reference */
      s->body = QS_BODY_MEM;
      s->mem = s->cached->data;
      s->total = s->cached->len;
      ctype = s->cached->ctype;
    } else if (s->status == 200) {
      s->body = QS_BODY_FILE;
    }
  }
  if (s->status != 200) {
    s->mem = (const uint8_t *)reason_body(s->status);
    s->total = strlen((const char *)s->mem);
    s->body = QS_BODY_MEM;
    ctype = "text/plain; charset=utf-8";
  }
  snprintf(status, sizeof status, "%d", s->status);
  snprintf(clen, sizeof clen, "%llu", (unsigned long long)s->total);
  hdrs[n++] = nv(":status", status);
  hdrs[n++] = nv("server", QS_SERVER_HEADER);
  hdrs[n++] = nv("content-type", ctype);
  hdrs[n++] = nv("content-length", clen);
  if (s->status == 405)
    hdrs[n++] = nv("allow", "GET, HEAD");
  if (s->method == QS_METHOD_HEAD || s->total == 0) {
    /* headers only: HEAD, or an empty body */
    s->body = QS_BODY_NONE;
    if (s->fd >= 0) {
      close(s->fd);
      s->fd = -1;
    }
    return nghttp3_conn_submit_response(h3, s->id, hdrs, n, NULL);
  }
  return nghttp3_conn_submit_response(h3, s->id, hdrs, n, dr);
}

static nghttp3_ssize read_file(struct qs_stream *s, nghttp3_vec *vec, uint32_t *pflags) {
  uint64_t inflight = s->produced - s->acked;
  size_t pos, n;
  ssize_t r;

  if (!s->ring) {
    /* sized by the file: small files cost what they weigh */
    s->ringcap = s->total < QS_RING_MAX ? (size_t)s->total : QS_RING_MAX;
    s->ring = malloc(s->ringcap);
    if (!s->ring) {
      s->failed = 1;
      return NGHTTP3_ERR_WOULDBLOCK;
    }
  }
  if (inflight >= s->ringcap) {
    /* every octet of the ring waits for an acknowledgement */
    s->blocked = 1;
    return NGHTTP3_ERR_WOULDBLOCK;
  }
  pos = (size_t)(s->produced % s->ringcap);
  n = s->ringcap - (size_t)inflight;
  if (n > s->ringcap - pos)
    n = s->ringcap - pos;
  if (n > s->total - s->produced)
    n = (size_t)(s->total - s->produced);
  if (n > QS_READ_CHUNK)
    n = QS_READ_CHUNK;
  do
    r = pread(s->fd, s->ring + pos, n, (off_t)s->produced);
  while (r < 0 && errno == EINTR);
  if (r <= 0) {
    /* the file shrank or cannot be read: the stream is reset */
    s->failed = 1;
    return NGHTTP3_ERR_WOULDBLOCK;
  }
  vec[0].base = s->ring + pos;
  vec[0].len = (size_t)r;
  s->produced += (uint64_t)r;
  if (s->produced == s->total) {
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
    close(s->fd);
    s->fd = -1;
  }
  return 1;
}

nghttp3_ssize qs_http_read_data(struct qs_stream *s, nghttp3_vec *vec, size_t veccnt,
                                uint32_t *pflags) {
  size_t n;
  if (veccnt == 0)
    return 0;
  if (s->produced >= s->total) {
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
    return 0;
  }
  switch (s->body) {
  case QS_BODY_FILE:
    return read_file(s, vec, pflags);
  case QS_BODY_BYTES: {
    size_t pos;
    pthread_once(&pattern_once, pattern_init);
    /* static data: nothing to keep until acknowledged */
    pos = (size_t)(s->produced % QS_PATTERN_LEN);
    n = QS_PATTERN_LEN - pos;
    if (n > s->total - s->produced)
      n = (size_t)(s->total - s->produced);
    vec[0].base = pattern + pos;
    vec[0].len = n;
    break;
  }
  case QS_BODY_MEM:
    n = (size_t)(s->total - s->produced);
    vec[0].base = (uint8_t *)s->mem + s->produced;
    vec[0].len = n;
    break;
  default:
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
    return 0;
  }
  s->produced += n;
  if (s->produced == s->total)
    *pflags |= NGHTTP3_DATA_FLAG_EOF;
  return 1;
}

int qs_http_acked(struct qs_stream *s, uint64_t n) {
  s->acked += n;
  if (s->blocked && s->produced - s->acked < s->ringcap) {
    s->blocked = 0;
    return 1;
  }
  return 0;
}
