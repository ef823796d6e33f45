/* h1.h: HTTP/1.1 messages to and from upstreams (I/O-free): the request
 * head of a proxied request, and which fields are hop-by-hop.  Responses
 * are parsed with http-parser (proxy.c).
 */
#ifndef QS_SERVER_H1_H
#define QS_SERVER_H1_H

#include <stddef.h>
#include <stdint.h>

#include "req.h"

/* a growable octet buffer with a read offset */
struct qs_buf {
  uint8_t *p;
  size_t off, len, cap; /* [off, len) is pending */
};

/* qs_buf_add appends |n| octets.  Returns 0 or -ENOMEM. */
int qs_buf_add(struct qs_buf *b, const void *data, size_t n);
int qs_buf_addf(struct qs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qs_buf_free(struct qs_buf *b);
static inline size_t qs_buf_pending(const struct qs_buf *b) { return b->len - b->off; }
/* qs_buf_drop forgets |n| pending octets.  The pending octets move to the
 * front when few are left (at most an eighth of those dropped before
 * them), or when an add would otherwise grow the buffer and they are no
 * more than those dropped: a buffer written while it drains stays within
 * a few times its largest pending size. */
void qs_buf_drop(struct qs_buf *b, size_t n);

enum qs_h1_framing {
  QS_H1_NOBODY = 0, /* the request has no body */
  QS_H1_LENGTH,     /* Content-Length: r->content_length */
  QS_H1_CHUNKED,    /* Transfer-Encoding: chunked */
};

/* qs_h1_request_head appends the HTTP/1.1 request head of |r| to |b|:
 * method, path and query unchanged, Host from :authority, the client's
 * fields without hop-by-hop ones (and without Host, Content-Length,
 * X-Forwarded-Proto, which it writes itself), cookies joined, then
 * X-Forwarded-For and Forwarded extended with the client's address,
 * X-Forwarded-Proto: https, Early-Data: 1 for a 0-RTT request, and the
 * framing.  Returns 0, -EINVAL (a field value with CR, LF or NUL), or
 * -ENOMEM. */
int qs_h1_request_head(struct qs_buf *b, const struct qs_req *r, enum qs_h1_framing framing);

/* qs_h1_hop_by_hop returns 1 if field |name| (|len| octets, any case) is
 * a hop-by-hop field (RFC 9110 s7.6.1), or is listed in the message's
 * Connection value |conn| (|connlen| octets; NULL: none). */
int qs_h1_hop_by_hop(const char *name, size_t len, const char *conn, size_t connlen);

/* qs_h1_client_ip writes the client's address of |r| without port
 * ("192.0.2.1", "2001:db8::1") into |buf|; "unknown" if none. */
const char *qs_h1_client_ip(const struct qs_req *r, char *buf, size_t len);

#endif
