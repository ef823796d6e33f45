/* mpool.c: a worker's own allocator for ngtcp2, nghttp3 and its requests (mpool.h). */
#include "mpool.h"

#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(QS_ASAN)
#define QS_ASAN 1
#endif
#ifdef QS_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define LARGE UINT32_MAX /* from libc, not pooled */

/* the header before every block; |next| is used only while it is cached */
struct qs_mpool_blk {
  struct qs_mpool_blk *next;
  uint32_t cls;
  uint32_t unused;
};
_Static_assert(sizeof(struct qs_mpool_blk) == QS_MPOOL_ALIGN, "header keeps 16-octet alignment");

static size_t class_size(uint32_t cls) { return ((size_t)cls + 1) * QS_MPOOL_ALIGN; }

static struct qs_mpool_blk *blk_of(void *ptr) { return (struct qs_mpool_blk *)ptr - 1; }

static void *q_malloc(size_t size, void *ud) { return qs_mpool_alloc(ud, size); }
static void q_free(void *ptr, void *ud) { qs_mpool_release(ud, ptr); }
static void *q_calloc(size_t nmemb, size_t size, void *ud) {
  return qs_mpool_calloc(ud, nmemb, size);
}
static void *q_realloc(void *ptr, size_t size, void *ud) {
  return qs_mpool_realloc(ud, ptr, size);
}

void qs_mpool_init(struct qs_mpool *p, size_t budget) {
  memset(p, 0, sizeof *p);
  p->budget = budget;
  p->q = (ngtcp2_mem){.user_data = p, .malloc = q_malloc, .free = q_free, .calloc = q_calloc,
                      .realloc = q_realloc};
  p->h = (nghttp3_mem){.user_data = p, .malloc = q_malloc, .free = q_free, .calloc = q_calloc,
                       .realloc = q_realloc};
}

void qs_mpool_free(struct qs_mpool *p) {
  for (size_t k = 0; k < QS_MPOOL_CLASSES; k++) {
    while (p->free[k]) {
      struct qs_mpool_blk *b = p->free[k];
      p->free[k] = b->next;
      UNPOISON(b + 1, class_size((uint32_t)k));
      free(b);
    }
  }
  p->cached = 0;
}

void *qs_mpool_alloc(struct qs_mpool *p, size_t size) {
  struct qs_mpool_blk *b;
  uint32_t cls;
  if (!p)
    return malloc(size);
  if (size > QS_MPOOL_MAX) {
    if (size > SIZE_MAX - sizeof *b)
      return NULL;
    b = malloc(sizeof *b + size);
    if (!b)
      return NULL;
    b->cls = LARGE;
    return b + 1;
  }
  cls = size ? (uint32_t)((size - 1) / QS_MPOOL_ALIGN) : 0;
  b = p->free[cls];
  if (b) {
    p->free[cls] = b->next;
    p->cached -= class_size(cls);
    p->hits++;
    UNPOISON(b + 1, class_size(cls));
    return b + 1;
  }
  p->misses++;
  b = malloc(sizeof *b + class_size(cls));
  if (!b)
    return NULL;
  b->cls = cls;
  return b + 1;
}

void *qs_mpool_calloc(struct qs_mpool *p, size_t nmemb, size_t size) {
  void *ptr;
  if (!p)
    return calloc(nmemb, size);
  if (size && nmemb > SIZE_MAX / size)
    return NULL;
  ptr = qs_mpool_alloc(p, nmemb * size);
  if (ptr)
    memset(ptr, 0, nmemb * size);
  return ptr;
}

void qs_mpool_release(struct qs_mpool *p, void *ptr) {
  struct qs_mpool_blk *b;
  size_t n;
  if (!p) {
    free(ptr);
    return;
  }
  if (!ptr)
    return;
  b = blk_of(ptr);
  if (b->cls == LARGE) {
    free(b);
    return;
  }
  n = class_size(b->cls);
  if (p->cached + n > p->budget) {
    free(b);
    return;
  }
  b->next = p->free[b->cls];
  p->free[b->cls] = b;
  p->cached += n;
  POISON(ptr, n);
}

void *qs_mpool_realloc(struct qs_mpool *p, void *ptr, size_t size) {
  struct qs_mpool_blk *b;
  void *np;
  size_t have;
  if (!p)
    return realloc(ptr, size);
  if (!ptr)
    return qs_mpool_alloc(p, size);
  if (size == 0) {
    qs_mpool_release(p, ptr);
    return NULL;
  }
  b = blk_of(ptr);
  if (b->cls == LARGE) {
    if (size > QS_MPOOL_MAX) {
      struct qs_mpool_blk *nb;
      if (size > SIZE_MAX - sizeof *b)
        return NULL;
      nb = realloc(b, sizeof *b + size);
      return nb ? nb + 1 : NULL;
    }
    have = size; /* shrinking into a class: the new size is what is kept */
  } else {
    have = class_size(b->cls);
    if (size <= have)
      return ptr; /* fits its class */
  }
  np = qs_mpool_alloc(p, size);
  if (!np)
    return NULL;
  memcpy(np, ptr, have < size ? have : size);
  qs_mpool_release(p, ptr);
  return np;
}
