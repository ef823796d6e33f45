/* heap.c: the worker's timer heap. */
#include "heap.h"

#include <stdlib.h>

int qsl_heap_init(struct qsl_heap *h, size_t cap) {
  h->t = calloc(cap ? cap : 1, sizeof(*h->t));
  h->n = 0;
  h->cap = cap;
  return h->t ? 0 : -1;
}

void qsl_heap_free(struct qsl_heap *h) {
  free(h->t);
  h->t = NULL;
  h->n = h->cap = 0;
}

static void place(struct qsl_heap *h, size_t i, struct qsl_timer *t) {
  h->t[i] = t;
  t->idx = i;
}

static void sift_up(struct qsl_heap *h, size_t i) {
  struct qsl_timer *t = h->t[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (h->t[p]->at <= t->at) {
      break;
    }
    place(h, i, h->t[p]);
    i = p;
  }
  place(h, i, t);
}

static void sift_down(struct qsl_heap *h, size_t i) {
  struct qsl_timer *t = h->t[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n) {
      break;
    }
    if (c + 1 < h->n && h->t[c + 1]->at < h->t[c]->at) {
      c++;
    }
    if (t->at <= h->t[c]->at) {
      break;
    }
    place(h, i, h->t[c]);
    i = c;
  }
  place(h, i, t);
}

static void heap_remove(struct qsl_heap *h, struct qsl_timer *t) {
  size_t i = t->idx;
  struct qsl_timer *last = h->t[--h->n];
  t->idx = QSL_TIMER_IDLE;
  if (last == t) {
    return;
  }
  place(h, i, last);
  sift_up(h, i);
  sift_down(h, last->idx);
}

void qsl_heap_set(struct qsl_heap *h, struct qsl_timer *t, uint64_t at) {
  if (at == UINT64_MAX) {
    if (t->idx != QSL_TIMER_IDLE) {
      heap_remove(h, t);
    }
    t->at = UINT64_MAX;
    return;
  }
  if (t->idx == QSL_TIMER_IDLE) {
    if (h->n == h->cap) {
      return; /* cannot happen: one timer per connection slot */
    }
    t->at = at;
    place(h, h->n++, t);
    sift_up(h, t->idx);
    return;
  }
  uint64_t old = t->at;
  t->at = at;
  if (at < old) {
    sift_up(h, t->idx);
  } else if (at > old) {
    sift_down(h, t->idx);
  }
}
