/* heap.h: a binary min-heap of timers, one per worker thread.  Each
 * connection embeds one struct qsl_timer; re-arming is O(log n) and nothing
 * is allocated after qsl_heap_init.
 */
#ifndef QSL_HEAP_H
#define QSL_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define QSL_TIMER_IDLE SIZE_MAX

struct qsl_timer {
  uint64_t at;  /* monotonic ns */
  size_t idx;   /* position in the heap, QSL_TIMER_IDLE when not armed */
};

struct qsl_heap {
  struct qsl_timer **t;
  size_t n, cap;
};

/* qsl_heap_init makes room for |cap| timers.  Returns 0 or -1 (no memory). */
int qsl_heap_init(struct qsl_heap *h, size_t cap);
void qsl_heap_free(struct qsl_heap *h);

static inline void qsl_timer_init(struct qsl_timer *t) {
  t->at = UINT64_MAX;
  t->idx = QSL_TIMER_IDLE;
}

/* qsl_heap_set arms (or re-arms) |t| for |at|; UINT64_MAX disarms it.  The
 * heap never holds more timers than the |cap| it was made with. */
void qsl_heap_set(struct qsl_heap *h, struct qsl_timer *t, uint64_t at);

static inline struct qsl_timer *qsl_heap_top(const struct qsl_heap *h) {
  return h->n ? h->t[0] : NULL;
}

#endif
