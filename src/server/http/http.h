/* http.h: the document root and the pure helpers of static-file serving:
 * request path resolution under the root ("/" and directories serve
 * index.html), content types, and /bytes/N (N generated octets, for
 * benchmarks).  The handler using them is static.c; the request model
 * they serve through is req.h.
 */
#ifndef QS_SERVER_HTTP_H
#define QS_SERVER_HTTP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>


#define QS_PATH_MAX 1024
#define QS_BYTES_MAX (10ULL << 30) /* /bytes/N cap: 10 GiB */
#define QS_RING_MAX (512 * 1024)
#define QS_READ_CHUNK (64 * 1024)

struct qs_docroot {
  int fd; /* O_PATH directory */
  int serve_dotfiles; /* 0: a path segment starting with '.' is refused */
  char path[PATH_MAX];
};

struct qs_filecache;
struct stat;

/* qs_docroot_open opens |dir| as the document root.  Returns 0 or -errno. */
int qs_docroot_open(struct qs_docroot *r, const char *dir);
void qs_docroot_close(struct qs_docroot *r);

/* ---- pure helpers (tests/test_server_http.c) ---- */

/* why a 403 was given: the status returned is 403 + 1000 * reason */
enum { QS_REFUSED_ESCAPE = 0, QS_REFUSED_DOTFILE = 1, QS_REFUSED_SPECIAL = 2 };
#define QS_HTTP_STATUS(v) ((v) % 1000)
#define QS_HTTP_REFUSAL(v) ((v) / 1000)

/* qs_http_decode_path decodes the path part (up to '?' or '#') of the
 * request path |path| (|len| octets) into |out| (|cap| octets) as a path
 * relative to the root: percent-decoded, "." and empty segments dropped.
 * Pure (fuzz/fuzz_http_path.c).  Returns 0, 400 (not absolute, bad or NUL
 * escape, a ".." segment), 403 + 1000 * QS_REFUSED_DOTFILE (a segment
 * starting with '.', unless |dotfiles|) or 414 (does not fit). */
int qs_http_decode_path(const char *path, size_t len, char *out, size_t cap, int dotfiles);

/* qs_http_path_part is the length of the path part of request path |path|
 * (up to '?' or '#'). */
size_t qs_http_path_part(const char *path, size_t len);

/* qs_http_resolve maps the request path |path| (|len| octets, as sent) to
 * an open regular file under |root|.  Returns the HTTP status
 * (QS_HTTP_STATUS of the value): 200 with *fd, *size and *ctype set, 400
 * (not absolute, bad percent-encoding, a ".." segment, NUL), 403 (leaves
 * the root through a symbolic link; with QS_REFUSED_DOTFILE a segment
 * starting with '.' while root->serve_dotfiles is off; with
 * QS_REFUSED_SPECIAL not a regular file or directory: a FIFO, device or
 * socket, opened O_NONBLOCK so that nothing blocks), 301 (a directory
 * named without its trailing slash: the caller redirects to the slash
 * form), 404 (no such file),
 * 414 (too long). */
int qs_http_resolve(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                    uint64_t *size, const char **ctype);

/* qs_http_resolve_stat is qs_http_resolve giving the file's whole stat. */
int qs_http_resolve_stat(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                         struct stat *st, const char **ctype);

/* a name relative to the root, as resolved: the decoded path and, for a
 * directory, its index.html */
#define QS_REL_MAX (QS_PATH_MAX + 24) /* + "index.html" + "/index.html" */

/* qs_http_resolve_rel is qs_http_resolve_stat also giving the name it
 * opened in |rel| (QS_REL_MAX octets, NUL-terminated). */
int qs_http_resolve_rel(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                        struct stat *st, const char **ctype, char *rel);

/* qs_http_open_rel opens |rel| (a name qs_http_resolve_rel gave) with
 * |suffix| appended ("" or a sibling's ".br") under the root, by the same
 * rules: inside the root, a regular file.  Returns 200 with *fd and *st,
 * or the status as qs_http_resolve (404, also for a directory of that
 * name: no index is looked for; 403 with its reason; 414). */
int qs_http_open_rel(const struct qs_docroot *root, const char *rel, const char *suffix, int *fd,
                     struct stat *st);


/* qs_http_bytes_route returns 0 if |path| is not /bytes/..., else the
 * status: 200 with *n set, or 400 (not a number, or above QS_BYTES_MAX). */
int qs_http_bytes_route(const char *path, size_t len, uint64_t *n);

/* qs_http_bytes_at returns octet |off| of every /bytes/N body. */
uint8_t qs_http_bytes_at(uint64_t off);

/* qs_http_bytes_pattern returns a run of the /bytes/N body from offset 0
 * (*len octets, a multiple of its period): a body is this run repeated. */
const uint8_t *qs_http_bytes_pattern(size_t *len);

/* ---- conditional requests (RFC 9110 s8.8, s13) ---- */

#define QS_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* qs_http_date_fmt writes |t| as an IMF-fixdate and a NUL into |out| (at
 * least QS_HTTP_DATE_LEN + 1 octets); returns QS_HTTP_DATE_LEN. */
size_t qs_http_date_fmt(char *out, time_t t);

/* qs_http_date_parse reads an IMF-fixdate (|len| octets) into *t.  The
 * obsolete forms are not accepted: a caller ignores a field it cannot
 * parse, as RFC 9110 s13.1.3 allows.  Returns 0 or -EINVAL. */
int qs_http_date_parse(const char *s, size_t len, time_t *t);

/* qs_http_etag_match: does the If-None-Match list |list| (|len| octets)
 * match entity tag |etag| (quoted, strong) by weak comparison, or is it
 * "*"?  Returns 1 or 0. */
int qs_http_etag_match(const char *list, size_t len, const char *etag);

/* qs_http_range_parse reads a Range field value (|len| octets) against a
 * representation of |size| octets (RFC 9110 s14.1.2).  Returns
 * QS_RANGE_ONE with [*first, *last] (inclusive, within the size),
 * QS_RANGE_MANY (several ranges, at least one satisfiable, the first in
 * [*first, *last]: multipart.h, or the whole with 200), QS_RANGE_NONE
 * (nothing satisfiable: 416) or QS_RANGE_IGNORE (not a bytes range set,
 * bad syntax, first > last, a number over 2^64: the field is ignored). */
enum { QS_RANGE_IGNORE = 0, QS_RANGE_ONE, QS_RANGE_MANY, QS_RANGE_NONE };
int qs_http_range_parse(const char *v, size_t len, uint64_t size, uint64_t *first,
                        uint64_t *last);

/* one satisfiable range, inclusive, within the representation */
struct qs_byterange {
  uint64_t first, last;
};

/* qs_http_ranges_parse is qs_http_range_parse giving every satisfiable
 * range in the order sent: the first |max| in |out|, their total count
 * (which may exceed |max|) in *nsat. */
int qs_http_ranges_parse(const char *v, size_t len, uint64_t size, struct qs_byterange *out,
                         size_t max, size_t *nsat);

#endif
