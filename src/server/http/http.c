/* http.c: see http.h. */
#include "http.h"

#include "filecache.h"
#include "mime.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "quicsteer/util.h"

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

/* ---- path resolution ---- */

int qs_http_decode_path(const char *path, size_t len, char *out, size_t cap, int dotfiles) {
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
      } else if (sl > 1 && out[seg] == '.' && !dotfiles) {
        return 403 + 1000 * QS_REFUSED_DOTFILE; /* .git, .env, .htpasswd */
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
  /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a peer;
   * fstat decides before anything is read */
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
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
    return open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
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

size_t qs_http_path_part(const char *path, size_t len) {
  size_t n = 0;
  while (n < len && path[n] != '?' && path[n] != '#')
    n++;
  return n;
}

/* does the path part of request path |path| end with '/'? */
static int dir_slash(const char *path, size_t len) {
  size_t n = qs_http_path_part(path, len);
  return n > 0 && path[n - 1] == '/';
}

/* |name| opened under the root and its stat (whatever its type): the
 * descriptor, or -1 with *status */
static int open_stat(const struct qs_docroot *root, const char *name, struct stat *st,
                     int *status) {
  int f = open_beneath(root, name);
  if (f < 0) {
    *status = errno_status(errno);
    return -1;
  }
  if (fstat(f, st) != 0) {
    close(f);
    *status = 403;
    return -1;
  }
  return f;
}

int qs_http_open_rel(const struct qs_docroot *root, const char *rel, const char *suffix, int *fd,
                     struct stat *st) {
  char name[QS_REL_MAX + 8];
  size_t rl = strlen(rel), sl = strlen(suffix);
  int f, status;
  *fd = -1;
  if (rl + sl >= sizeof name)
    return 414;
  memcpy(name, rel, rl);
  memcpy(name + rl, suffix, sl + 1);
  if ((f = open_stat(root, name, st, &status)) < 0)
    return status;
  if (!S_ISREG(st->st_mode)) {
    close(f);
    return S_ISDIR(st->st_mode) ? 404 : 403 + 1000 * QS_REFUSED_SPECIAL;
  }
  *fd = f;
  return 200;
}

int qs_http_resolve_stat(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                         struct stat *st, const char **ctype) {
  char rel[QS_REL_MAX];
  return qs_http_resolve_rel(root, path, len, fd, st, ctype, rel);
}

int qs_http_resolve_rel(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                        struct stat *st, const char **ctype, char *rel) {
  size_t rl;
  int status, f;

  *fd = -1;
  if (len > QS_PATH_MAX)
    return 414;
  status = qs_http_decode_path(path, len, rel, QS_PATH_MAX + 1, root->serve_dotfiles);
  if (status)
    return status;
  rl = strlen(rel);
  if (rl == 0 || rel[rl - 1] == '/') {
    memcpy(rel + rl, "index.html", 11);
    rl += 10;
  }
  for (int pass = 0; pass < 2; pass++) {
    if ((f = open_stat(root, rel, st, &status)) < 0)
      return status;
    if (S_ISREG(st->st_mode)) {
      *fd = f;
      *ctype = qs_mime_type(rel);
      return 200;
    }
    close(f);
    if (!S_ISDIR(st->st_mode))
      return 403 + 1000 * QS_REFUSED_SPECIAL;
    if (pass == 1)
      return 403;
    if (!dir_slash(path, len))
      return 301; /* to the slash form, so that relative links resolve inside it */
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

const uint8_t *qs_http_bytes_pattern(size_t *len) {
  pthread_once(&pattern_once, pattern_init);
  *len = QS_PATTERN_LEN;
  return pattern;
}

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

/* ---- conditional requests ---- */

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void put2(char *p, int v) {
  p[0] = (char)('0' + v / 10 % 10);
  p[1] = (char)('0' + v % 10);
}

size_t qs_http_date_fmt(char *out, time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  memcpy(out, wdays[tm.tm_wday], 3);
  memcpy(out + 3, ", ", 2);
  put2(out + 5, tm.tm_mday);
  out[7] = ' ';
  memcpy(out + 8, months[tm.tm_mon], 3);
  out[11] = ' ';
  put2(out + 12, (tm.tm_year + 1900) / 100);
  put2(out + 14, (tm.tm_year + 1900) % 100);
  out[16] = ' ';
  put2(out + 17, tm.tm_hour);
  out[19] = ':';
  put2(out + 20, tm.tm_min);
  out[22] = ':';
  put2(out + 23, tm.tm_sec);
  memcpy(out + 25, " GMT", 5); /* with the NUL */
  return QS_HTTP_DATE_LEN;
}

static int num2(const char *p, int *v) {
  if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
    return -1;
  *v = (p[0] - '0') * 10 + (p[1] - '0');
  return 0;
}

int qs_http_date_parse(const char *s, size_t len, time_t *t) {
  struct tm tm;
  int cy, yy, mon = -1;
  memset(&tm, 0, sizeof tm);
  if (len != QS_HTTP_DATE_LEN || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
      s[16] != ' ' || s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
    return -EINVAL;
  for (int i = 0; i < 12; i++)
    if (memcmp(s + 8, months[i], 3) == 0)
      mon = i;
  if (mon < 0 || num2(s + 5, &tm.tm_mday) || num2(s + 12, &cy) || num2(s + 14, &yy) ||
      num2(s + 17, &tm.tm_hour) || num2(s + 20, &tm.tm_min) || num2(s + 23, &tm.tm_sec) ||
      tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return -EINVAL;
  tm.tm_mon = mon;
  tm.tm_year = cy * 100 + yy - 1900;
  *t = timegm(&tm);
  return 0;
}

int qs_http_etag_match(const char *list, size_t len, const char *etag) {
  size_t elen = strlen(etag), i = 0;
  while (i < len) {
    size_t j;
    while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
      i++;
    if (i < len && list[i] == '*')
      return 1;
    if (i + 1 < len && list[i] == 'W' && list[i + 1] == '/')
      i += 2; /* weak comparison: the W/ does not matter */
    if (i >= len || list[i] != '"')
      return 0; /* not a list of entity tags: no match */
    for (j = i + 1; j < len && list[j] != '"'; j++)
      ;
    if (j >= len)
      return 0;
    if (j + 1 - i == elen && memcmp(list + i, etag, elen) == 0)
      return 1;
    i = j + 1;
  }
  return 0;
}

/* a run of digits at |*i| into *out: 0, or -1 for none or an overflow */
static int range_num(const char *v, size_t len, size_t *i, uint64_t *out) {
  uint64_t n = 0;
  size_t start = *i;
  while (*i < len && v[*i] >= '0' && v[*i] <= '9') {
    unsigned d = (unsigned)(v[*i] - '0');
    if (n > (UINT64_MAX - d) / 10)
      return -1;
    n = n * 10 + d;
    (*i)++;
  }
  *out = n;
  return *i > start ? 0 : -1;
}

int qs_http_range_parse(const char *v, size_t len, uint64_t size, uint64_t *first,
                        uint64_t *last) {
  struct qs_byterange one = {0, 0};
  size_t n;
  int rv = qs_http_ranges_parse(v, len, size, &one, 1, &n);
  if (rv == QS_RANGE_ONE || rv == QS_RANGE_MANY) {
    *first = one.first;
    *last = one.last;
  }
  return rv;
}

int qs_http_ranges_parse(const char *v, size_t len, uint64_t size, struct qs_byterange *out,
                         size_t max, size_t *nsat) {
  size_t i = 6, ok = 0;
  unsigned specs = 0;
  *nsat = 0;
  if (len < 6 || strncasecmp(v, "bytes=", 6) != 0)
    return QS_RANGE_IGNORE;
  for (;;) {
    uint64_t a, b;
    int suffix = 0, open = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
      i++;
    if (i < len && v[i] == '-') {
      i++;
      suffix = 1;
      if (range_num(v, len, &i, &b) != 0)
        return QS_RANGE_IGNORE;
    } else {
      if (range_num(v, len, &i, &a) != 0 || i >= len || v[i] != '-')
        return QS_RANGE_IGNORE;
      i++;
      if (i < len && v[i] >= '0' && v[i] <= '9') {
        if (range_num(v, len, &i, &b) != 0 || b < a)
          return QS_RANGE_IGNORE;
      } else {
        open = 1;
      }
    }
    specs++;
    if (suffix) {
      if (b > 0 && size > 0) {
        if (ok < max) {
          out[ok].first = b >= size ? 0 : size - b;
          out[ok].last = size - 1;
        }
        ok++;
      }
    } else if (a < size) {
      if (ok < max) {
        out[ok].first = a;
        out[ok].last = open || b >= size ? size - 1 : b;
      }
      ok++;
    }
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
      i++;
    if (i == len)
      break;
    if (v[i] != ',')
      return QS_RANGE_IGNORE;
    i++;
  }
  *nsat = ok;
  if (!ok)
    return QS_RANGE_NONE;
  return specs == 1 ? QS_RANGE_ONE : QS_RANGE_MANY;
}
