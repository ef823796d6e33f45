/* req.h: the HTTP layer: one request/response exchange, whatever carries it.
 *
 * A front (h3.c today; an HTTP/2 or HTTP/1.1 TCP front later) turns its
 * wire into calls of qs_req_*: header fields in, the end of the header
 * section, request body pushed as it arrives, the client's reset.  It
 * implements struct qs_front_ops so that a handler can answer: submit the
 * response header section, an interim 1xx, resume a response body that
 * had no data, give request-body credit back, reset.  Response bodies are
 * pulled (qs_req_pull) by the front when it has room on the wire, and the
 * front says when it is done with pulled octets (qs_req_acked: QUIC acks
 * them; a TCP front once they are copied into its frames), so a handler
 * may keep them in a bounded ring and reuse the space.
 *
 * Handlers (static.c: files and /bytes/N; proxy.c: HTTP/1.1 upstreams;
 * the built-in status pages below) implement struct qs_handler_ops and
 * never see the protocol: the request carries method, path, authority,
 * scheme and the regular fields, already validated by the front's
 * protocol library.
 *
 * Lifetime: qs_req_new by the front when a request begins; the handler is
 * chosen at qs_req_headers_done; qs_req_close by the front when its stream
 * is gone (complete or reset) emits the "done" event (struct qs_req_done,
 * for the access log) and frees the handler's state and the request.
 */
#ifndef QS_SERVER_REQ_H
#define QS_SERVER_REQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "filecache.h"
#include "mpool.h"

struct qs_wstats;
struct qs_proxy_table;
struct qs_proxy_worker;
struct qs_req;
struct qs_buf;

#define QS_FIELDS_MAX_DEFAULT 16384 /* request header section, octets (RFC 9114 s4.2.2) */
#define QS_RESP_FIELDS_MAX 65536    /* a response header section from an upstream */

/* qs_fmt_dec writes |v| in decimal and a NUL into |out| (at least 21
 * octets) and returns the number of digits: status codes and
 * content-length on every response, without snprintf's cost. */
size_t qs_fmt_dec(char *out, uint64_t v);

/* ---- header fields: names and values in one bounded arena ---- */

struct qs_field {
  uint32_t name, namelen, value, valuelen; /* offsets into the arena */
};

struct qs_fields {
  struct qs_mpool *mem; /* where buf and f live (mpool.h; NULL: libc) */
  char *buf;
  size_t len, cap, max; /* max: bound on name + value octets (32 more per field, as HPACK/QPACK count) */
  struct qs_field *f;
  size_t n, capf;
};

void qs_fields_init(struct qs_fields *fs, size_t max);
void qs_fields_free(struct qs_fields *fs);
void qs_fields_clear(struct qs_fields *fs);

/* qs_fields_add appends one field (the name lower-cased if |lower|).
 * Returns 0, -E2BIG over the bound, or -ENOMEM. */
int qs_fields_add(struct qs_fields *fs, const char *name, size_t namelen, const char *value,
                  size_t valuelen, int lower);

/* qs_fields_get finds the first field named |name| (ASCII case-insensitive)
 * and returns its value (not NUL-terminated; *len set) or NULL. */
const char *qs_fields_get(const struct qs_fields *fs, const char *name, size_t *len);

static inline const char *qs_field_name(const struct qs_fields *fs, size_t i) {
  return fs->buf + fs->f[i].name;
}
static inline const char *qs_field_value(const struct qs_fields *fs, size_t i) {
  return fs->buf + fs->f[i].value;
}

/* ---- what a worker's HTTP layer shares between its requests ---- */

struct qs_http_conf {
  const struct qs_docroot *root;
  const struct qs_proxy_table *proxy; /* NULL or no routes: everything is static */
  size_t max_fields;                  /* request header section bound */
  double header_timeout;              /* seconds to complete it (0: none) */
  double send_timeout;                /* seconds a response body may stall (0: none) */
  int serve_dotfiles;
  int bytes_endpoint;
  const char *cache_control; /* on static files' responses (200, 206, 304); NULL: none */
  int no_precompressed;      /* 1: no .br/.gz siblings (filecache.h) */
};

/* a list of requests the worker's periodic timer watches */
struct qs_req_link {
  struct qs_req *prev, *next;
  uint8_t on;
};
struct qs_req_list {
  struct qs_req *head, *tail;
};

/* the per-request "done" event: one per request, when its stream is gone */
struct qs_req_done {
  const char *proto;                /* "HTTP/3" */
  const struct sockaddr *client;    /* NULL if unknown */
  const char *method, *path;        /* NUL-terminated; "-" if absent */
  int status;                       /* 0: no response was sent */
  int reset;                        /* 1: the response was cut off (stream reset) */
  uint64_t body_bytes;              /* response body octets handed to the front */
  uint64_t duration_ns;             /* from the first header field to the stream's end */
  const char *upstream;             /* "127.0.0.1:8080" when proxied, else NULL */
  unsigned worker;
  const char *referer, *user_agent; /* request fields, not NUL-terminated; NULL: absent */
  size_t refererlen, user_agentlen;
};

typedef void (*qs_req_done_cb)(void *arg, const struct qs_req_done *ev);

struct qs_http_worker {
  struct ev_loop *loop;
  unsigned index;
  const struct qs_http_conf *conf;
  struct qs_filecache files;
  struct qs_wstats *st;
  struct qs_mpool *mem; /* the worker's allocator for per-request objects (NULL: libc) */
  struct qs_proxy_worker *proxy; /* upstream pools and health, proxy.c */
  /* after an event of the layer's own (upstream I/O, timers): write what
   * the fronts now have to send (the worker sets qs_worker_reap) */
  void (*flush)(void *arg);
  void *flush_arg;
  /* the access log's hook (NULL: none) */
  qs_req_done_cb on_done;
  void *done_arg;
  /* watched by one periodic timer (no timer per request): requests whose
   * header section is incomplete (oldest first), and requests sending a
   * response body (checked for a stall) */
  struct qs_req_list hdr_wait, sending;
  ev_timer watch_timer;
};

/* qs_http_worker_init prepares |hw|.  Returns 0 or -ENOMEM. */
int qs_http_worker_init(struct qs_http_worker *hw, struct ev_loop *loop, unsigned index,
                        const struct qs_http_conf *conf, struct qs_wstats *st);
void qs_http_worker_free(struct qs_http_worker *hw);

/* qs_http_flush runs hw->flush (handlers call it at the end of their own
 * event callbacks). */
void qs_http_flush(struct qs_http_worker *hw);

/* ---- the two sides of a request ---- */

struct qs_vec {
  const uint8_t *base;
  size_t len;
};

/* what a front does for the layer; each returns 0 or a negative code */
struct qs_front_ops {
  /* submit r->status and r->resp; a body follows (pulled) if r->has_body */
  int (*respond)(struct qs_req *r);
  /* an interim response (100 Continue) */
  int (*interim)(struct qs_req *r, int status);
  /* the body, which had no data at the last pull, has some (or its end) */
  void (*resume)(struct qs_req *r);
  /* |n| request body octets were processed: the client may send more */
  void (*consume)(struct qs_req *r, size_t n);
  /* abort: reset the stream in both directions; qs_req_close follows */
  void (*reset)(struct qs_req *r);
};

/* a handler's side; every member may be NULL but pull (when a body is sent) */
struct qs_handler_ops {
  const char *name;
  /* request body octets (copy what is kept; call qs_req_consume later) */
  void (*on_body)(struct qs_req *r, const uint8_t *data, size_t len);
  /* the request body is complete */
  void (*on_end)(struct qs_req *r);
  /* the next response body octets: fills up to |nv| vectors, returns their
   * count; 0 with *eof clear means "none yet" (qs_req_resume follows);
   * -1: the body cannot be produced (the stream is reset) */
  int (*pull)(struct qs_req *r, struct qs_vec *v, size_t nv, int *eof);
  /* the front is done with the first |n| not yet released pulled octets */
  void (*acked)(struct qs_req *r, uint64_t n);
  /* the client went away (reset its stream or the connection) */
  void (*abort)(struct qs_req *r);
  /* release the handler's state */
  void (*free)(struct qs_req *r);
};

enum { QS_REQ_GET = 1, QS_REQ_HEAD, QS_REQ_POST, QS_REQ_PUT, QS_REQ_OTHER };

struct qs_req {
  struct qs_http_worker *hw;
  struct qs_req_link hdr_link; /* in hw->hdr_wait while the header section is incomplete */
  struct qs_req_link snd_link; /* in hw->sending while the response body is produced */
  uint64_t progress_ns;        /* the body's last pull or release */
  const struct qs_front_ops *front;
  void *front_data;
  const struct qs_handler_ops *h;
  void *hdata;

  /* request: pseudo-fields as NUL-terminated strings in |fields| */
  struct qs_fields fields; /* regular fields, then the pseudo ones */
  int32_t method, path, authority, scheme; /* offsets into fields.buf, -1: absent */
  uint8_t mkind;          /* QS_REQ_* */
  uint16_t bad;           /* a status the request earned before routing (400, 431) */
  uint8_t early_data;     /* complete before the handshake: may be a 0-RTT replay (front) */
  uint8_t held, held_fin, held_end; /* early, unsafe: waits for qs_req_release */
  struct qs_buf *held_body; /* request body received while held (flow control bounds it) */
  uint8_t headers_done;
  uint8_t body_fin;       /* the request body is complete */
  int64_t content_length; /* -1: the client sent none */
  uint64_t body_rx;
  struct sockaddr_storage client;
  socklen_t clientlen;
  const char *proto;
  uint64_t start_ns;

  /* response */
  int status;
  struct qs_fields resp;
  uint8_t responded, has_body, was_reset, closed;
  uint64_t body_tx;
  char upstream[64]; /* set by the proxy, for the done event */
};

/* ---- the front's calls ---- */

/* qs_req_new starts a request arriving from |client|.  Returns NULL on
 * ENOMEM. */
struct qs_req *qs_req_new(struct qs_http_worker *hw, const struct qs_front_ops *front,
                          void *front_data, const struct sockaddr *client, socklen_t clientlen,
                          const char *proto);

/* qs_req_field records one field of the request header section
 * (pseudo-fields by their names, ":method" etc.).  A section larger than
 * conf->max_fields marks the request 431. */
void qs_req_field(struct qs_req *r, const char *name, size_t namelen, const char *value,
                  size_t valuelen);

/* qs_req_headers_done routes the request to its handler (|fin|: there is
 * no body) and starts it. */
void qs_req_headers_done(struct qs_req *r, int fin);

/* qs_req_release: the front's handshake completed.  A request it marked
 * early_data whose method is not safe (anything but GET and HEAD) was
 * held at qs_req_headers_done, its body kept without returning credit: it
 * is routed now, as a request that is no longer early, and gets its body.
 * A replayed 0-RTT request never gets here (docs/tls.md). */
void qs_req_release(struct qs_req *r);

/* qs_req_body passes request body octets to the handler. */
void qs_req_body(struct qs_req *r, const uint8_t *data, size_t len);

/* qs_req_end marks the request body complete. */
void qs_req_end(struct qs_req *r);

/* qs_req_pull, qs_req_acked: see struct qs_handler_ops. */
int qs_req_pull(struct qs_req *r, struct qs_vec *v, size_t nv, int *eof);
void qs_req_acked(struct qs_req *r, uint64_t n);

/* qs_req_abort: the client reset the stream (the request stays until
 * qs_req_close). */
void qs_req_abort(struct qs_req *r);

/* qs_req_close: the front's stream is gone.  Emits the done event and
 * frees |r|. */
void qs_req_close(struct qs_req *r);

/* ---- the handler's calls ---- */

/* qs_req_respond sends status |status| and the fields the handler put in
 * r->resp (plus server), with a body if |has_body|.  Returns 0 or the
 * front's negative code. */
int qs_req_respond(struct qs_req *r, int status, int has_body);

/* qs_req_error answers with the built-in status page of |status| (a short
 * text body), replacing the handler.  Returns as qs_req_respond. */
int qs_req_error(struct qs_req *r, int status);

void qs_req_resume(struct qs_req *r);
void qs_req_consume(struct qs_req *r, size_t n);
int qs_req_interim(struct qs_req *r, int status);

/* qs_req_reset cuts the response off (the client sees a stream error). */
void qs_req_reset(struct qs_req *r);

/* accessors: NUL-terminated pseudo-fields, or NULL */
const char *qs_req_method(const struct qs_req *r);
const char *qs_req_path(const struct qs_req *r);
const char *qs_req_authority(const struct qs_req *r);

/* qs_req_set_handler switches |r| to handler |h| with state |data|. */
void qs_req_set_handler(struct qs_req *r, const struct qs_handler_ops *h, void *data);

/* ---- a bounded ring of response body octets (file and proxy bodies) ----
 * [acked, pulled) is with the front, [pulled, filled) waits for a pull. */
struct qs_ring {
  uint8_t *buf;
  size_t cap;
  uint64_t filled, pulled, acked;
};

int qs_ring_init(struct qs_ring *rg, size_t cap);
void qs_ring_free(struct qs_ring *rg);
/* qs_ring_room is the free octets; qs_ring_space gives the contiguous free
 * region (*len octets at the returned address) */
size_t qs_ring_room(const struct qs_ring *rg);
uint8_t *qs_ring_space(struct qs_ring *rg, size_t *len);
/* qs_ring_put copies |len| octets in (at most qs_ring_room); returns the count */
size_t qs_ring_put(struct qs_ring *rg, const uint8_t *data, size_t len);
/* qs_ring_pull fills up to |nv| vectors with what waits; returns their count */
int qs_ring_pull(struct qs_ring *rg, struct qs_vec *v, size_t nv);

#endif
