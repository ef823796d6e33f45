/* multipart.h: the body of a 206 answering several ranges (RFC 9110
 * s14.3, s14.6): multipart/byteranges, one part per range, each with its
 * Content-Type and Content-Range, between random boundaries.
 *
 * Pure: the part headers are built here into one buffer, the body is a
 * list of segments (header text, or octets [off, off + len) of the
 * representation) that static.c sends from its cached copy or its file.
 * At most QS_PARTS_MAX ranges, none overlapping another: anything else is
 * answered with the whole representation (s14.2 allows ignoring a range
 * set; it keeps a request from costing many small reads or copies of the
 * same octets).
 */
#ifndef QS_SERVER_MULTIPART_H
#define QS_SERVER_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define QS_PARTS_MAX 16
#define QS_PARTS_CTYPE 64 /* "multipart/byteranges; boundary=" + 16 hex + NUL */

struct qs_partseg {
  const char *text; /* these len octets, or NULL: the representation's [off, off + len) */
  uint64_t off, len;
};

struct qs_parts {
  char ctype[QS_PARTS_CTYPE]; /* the response's content-type */
  char *text;                 /* the part headers and the close delimiter */
  struct qs_partseg seg[2 * QS_PARTS_MAX + 1];
  size_t nseg;
  uint64_t total; /* the body's length */
  size_t cur;     /* the segment being produced, */
  uint64_t done;  /* and how much of it is */
};

/* qs_parts_init prepares the body of the |n| ranges |rg| (in the order
 * sent) of a representation of |size| octets and content type |ctype|.
 * Returns 0, -EINVAL (fewer than two, more than QS_PARTS_MAX or
 * overlapping ranges: send the whole) or -ENOMEM. */
int qs_parts_init(struct qs_parts *p, const struct qs_byterange *rg, size_t n, uint64_t size,
                  const char *ctype);
void qs_parts_free(struct qs_parts *p);

/* qs_parts_next gives the next at most |max| octets of the body as a
 * segment (*text: header octets, or NULL: the representation from *off)
 * and advances; returns their count, 0 at the end. */
size_t qs_parts_next(struct qs_parts *p, size_t max, const char **text, uint64_t *off);

#endif
