/* http.h: request routing and response bodies of the HTTP/3 server.
 *
 * Routes: GET and HEAD of static files under the document root ("/" and
 * directories serve index.html), and /bytes/N, N generated octets for
 * benchmarks.  A file body streams through a per-stream ring of at most
 * QS_RING_MAX octets: chunks are read on demand in nghttp3's read_data
 * callback and the ring space is reused once the peer acknowledged it, so
 * a 1 GB file costs the same memory as a 1 MB one.
 */
#ifndef QS_SERVER_HTTP_H
#define QS_SERVER_HTTP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp3/nghttp3.h>

#define QS_PATH_MAX 1024
#define QS_BYTES_MAX (10ULL << 30) /* /bytes/N cap: 10 GiB */
#define QS_RING_MAX (512 * 1024)
#define QS_READ_CHUNK (64 * 1024)

enum { QS_METHOD_NONE = 0, QS_METHOD_GET, QS_METHOD_HEAD, QS_METHOD_OTHER };
enum { QS_BODY_NONE = 0, QS_BODY_MEM, QS_BODY_FILE, QS_BODY_BYTES };

/* pseudo-headers seen */
#define QS_HAVE_METHOD 0x1
#define QS_HAVE_PATH 0x2
#define QS_HAVE_SCHEME 0x4
#define QS_HAVE_AUTHORITY 0x8

struct qs_docroot {
  int fd; /* O_PATH directory */
  char path[PATH_MAX];
};

struct qs_stream {
  int64_t id;
  void *conn;
  struct qs_stream *prev, *next;
  struct qs_stream *next_resume, *next_failed;
  uint8_t resume_queued, failed_queued;

  /* request */
  uint8_t method;
  uint8_t have;
  uint16_t bad;      /* status for a header we cannot accept (414: path too long) */
  uint8_t responded;
  uint16_t pathlen;
  char path[QS_PATH_MAX + 1];

  /* response */
  int status;
  uint8_t body;
  uint8_t blocked; /* read_data said WOULDBLOCK: ring full */
  uint8_t failed;  /* the file could not be read */
  int fd;
  uint64_t total, produced, acked;
  uint8_t *ring;
  size_t ringcap;
  const uint8_t *mem;
  struct qs_fcentry *cached; /* the filecache entry s->mem points into, if any */
};

struct qs_filecache;
struct stat;

/* qs_docroot_open opens |dir| as the document root.  Returns 0 or -errno. */
int qs_docroot_open(struct qs_docroot *r, const char *dir);
void qs_docroot_close(struct qs_docroot *r);

struct qs_stream *qs_stream_new(int64_t id, void *conn);
void qs_stream_del(struct qs_stream *s);

/* qs_http_on_header records one request header field. */
void qs_http_on_header(struct qs_stream *s, int32_t token, const uint8_t *name, size_t namelen,
                       const uint8_t *value, size_t valuelen);

/* qs_http_respond chooses and submits the response for the complete
 * request on |s|; a body is produced through |dr|.  Small files come from
 * the worker's cache |fc| (filecache.h), checked at time |now|.  Returns 0
 * or an nghttp3 error code. */
int qs_http_respond(struct qs_stream *s, nghttp3_conn *h3, const struct qs_docroot *root,
                    struct qs_filecache *fc, uint64_t now, const nghttp3_data_reader *dr);

/* qs_http_read_data produces the next part of |s|'s body (an nghttp3
 * read_data callback body).  On a read error it sets s->failed and
 * returns NGHTTP3_ERR_WOULDBLOCK. */
nghttp3_ssize qs_http_read_data(struct qs_stream *s, nghttp3_vec *vec, size_t veccnt,
                                uint32_t *pflags);

/* qs_http_acked releases |n| acknowledged body octets.  Returns 1 if the
 * stream was blocked on a full ring and can be resumed. */
int qs_http_acked(struct qs_stream *s, uint64_t n);

/* ---- pure helpers (tests/test_server_http.c) ---- */

/* qs_http_resolve maps the request path |path| (|len| octets, as sent) to
 * an open regular file under |root|.  Returns the HTTP status: 200 with
 * *fd, *size and *ctype set, 400 (not absolute, bad percent-encoding, a
 * ".." segment, NUL), 403 (leaves the root through a symbolic link, or not
 * a regular file), 404 (no such file), 414 (too long). */
int qs_http_resolve(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                    uint64_t *size, const char **ctype);

/* qs_http_resolve_stat is qs_http_resolve giving the file's whole stat. */
int qs_http_resolve_stat(const struct qs_docroot *root, const char *path, size_t len, int *fd,
                         struct stat *st, const char **ctype);

/* qs_http_mime returns the content type for file name |name|. */
const char *qs_http_mime(const char *name);

/* qs_http_bytes_route returns 0 if |path| is not /bytes/..., else the
 * status: 200 with *n set, or 400 (not a number, or above QS_BYTES_MAX). */
int qs_http_bytes_route(const char *path, size_t len, uint64_t *n);

/* qs_http_bytes_at returns octet |off| of every /bytes/N body. */
uint8_t qs_http_bytes_at(uint64_t off);

#endif
