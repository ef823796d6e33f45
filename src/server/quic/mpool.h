/* mpool.h: a worker's own allocator for ngtcp2, nghttp3 and the HTTP
 * layer's per-request objects.
 *
 * Every request makes the libraries allocate and free a dozen small
 * objects (streams, frame chains, buffers, header references).  glibc's
 * per-thread cache keeps 7 chunks per size and calloc bypasses it, so when
 * one loop iteration opens and closes many streams most of these go to
 * the arena (bench/instr.py: 4.8 of 10 allocations per keep-alive request
 * did).  A pool is owned by one worker thread and never locked: freed
 * blocks of up to QS_MPOOL_MAX octets wait on a free list per 16-octet
 * size class for the next allocation of that class, up to |budget|
 * octets in all; beyond that, and above QS_MPOOL_MAX, blocks go back to
 * libc.  Each block carries a 16-octet header with its class, so free
 * needs no size.  Under AddressSanitizer cached blocks are poisoned.
 *
 * Only the thread owning the pool may use it; a block must be freed
 * into the pool it came from.  A NULL pool is plain libc (no header), for
 * objects made outside a worker (unit tests).
 */
#ifndef QS_SERVER_MPOOL_H
#define QS_SERVER_MPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

#define QS_MPOOL_ALIGN 16
#define QS_MPOOL_MAX 2048 /* largest pooled request */
#define QS_MPOOL_CLASSES (QS_MPOOL_MAX / QS_MPOOL_ALIGN)
#define QS_MPOOL_BUDGET (4u << 20) /* default: cached octets per worker */

struct qs_mpool_blk;

struct qs_mpool {
  struct qs_mpool_blk *free[QS_MPOOL_CLASSES];
  size_t cached, budget; /* octets on the free lists, and their cap */
  uint64_t hits, misses; /* allocations served from a list, and not */
  ngtcp2_mem q;          /* handed to ngtcp2_conn_server_new */
  nghttp3_mem h;         /* handed to nghttp3_conn_server_new */
};

/* qs_mpool_init prepares |p| to cache at most |budget| octets (0: a plain
 * pass-through to libc). */
void qs_mpool_init(struct qs_mpool *p, size_t budget);
/* qs_mpool_free returns every cached block to libc; blocks still in use
 * stay valid and must be freed with qs_mpool_release afterwards. */
void qs_mpool_free(struct qs_mpool *p);

void *qs_mpool_alloc(struct qs_mpool *p, size_t size);
void *qs_mpool_calloc(struct qs_mpool *p, size_t nmemb, size_t size);
void *qs_mpool_realloc(struct qs_mpool *p, void *ptr, size_t size);
void qs_mpool_release(struct qs_mpool *p, void *ptr);

#endif
