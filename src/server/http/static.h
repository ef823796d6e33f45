/* static.h: the handler serving the document root and /bytes/N.
 *
 * GET and HEAD only (405 otherwise).  Small files come from the worker's
 * cache (filecache.h) and are sent from the cached copy; larger ones
 * stream from their descriptor through a per-request ring of at most
 * QS_RING_MAX octets, read on demand when the front pulls and reused once
 * the front released (QUIC: the peer acknowledged) them, so a 1 GB file
 * costs the memory of a 512 KiB one.  /bytes/N (generated octets, for
 * benchmarks) comes from a static pattern.
 */
#ifndef QS_SERVER_STATIC_H
#define QS_SERVER_STATIC_H

#include "req.h"

/* qs_static_start answers |r| from the document root. */
void qs_static_start(struct qs_req *r);

#endif
