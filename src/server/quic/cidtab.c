/* cidtab.c: see cidtab.h. */
#include "cidtab.h"

#include <stdlib.h>
#include <string.h>

#include "quicsteer/siphash.h"
#include "quicsteer/util.h"

#define QS_CIDTAB_MIN 64

static size_t slot_of(const struct qs_cidtab *t, const uint8_t *cid, size_t len) {
  return (size_t)qs_siphash24(t->k0, t->k1, cid, (uint32_t)len) & (t->cap - 1);
}

static int alloc_slots(struct qs_cidtab *t, size_t cap) {
  t->slots = calloc(cap, sizeof *t->slots);
  if (!t->slots)
    return QS_ERR_NOMEM;
  t->cap = cap;
  t->live = 0;
  t->used = 0;
  return 0;
}

int qs_cidtab_init(struct qs_cidtab *t) {
  uint64_t k[2];
  memset(t, 0, sizeof *t);
  if (qs_random(k, sizeof k) != 0)
    return QS_ERR_CRYPTO;
  t->k0 = k[0];
  t->k1 = k[1];
  return alloc_slots(t, QS_CIDTAB_MIN);
}

void qs_cidtab_free(struct qs_cidtab *t) {
  free(t->slots);
  t->slots = NULL;
  t->cap = 0;
}

static struct qs_cidtab_ent *lookup(const struct qs_cidtab *t, const uint8_t *cid, size_t len) {
  size_t i = slot_of(t, cid, len);
  for (size_t n = 0; n < t->cap; n++, i = (i + 1) & (t->cap - 1)) {
    struct qs_cidtab_ent *e = &t->slots[i];
    if (e->state == 0)
      return NULL;
    if (e->state == 1 && e->len == len && memcmp(e->cid, cid, len) == 0)
      return e;
  }
  return NULL;
}

void *qs_cidtab_find(const struct qs_cidtab *t, const uint8_t *cid, size_t len) {
  struct qs_cidtab_ent *e;
  if (len == 0 || len > QS_MAX_CIDLEN)
    return NULL;
  e = lookup(t, cid, len);
  return e ? e->val : NULL;
}

/* the per-codepoint count another thread reads (qs_cidtab_cr_count) */
static void cr_count(struct qs_cidtab *t, uint8_t first, int d) {
  uint32_t *n = &t->by_cr[first >> 5];
  __atomic_store_n(n, __atomic_load_n(n, __ATOMIC_RELAXED) + (uint32_t)d, __ATOMIC_RELAXED);
}

static void place(struct qs_cidtab *t, const uint8_t *cid, size_t len, void *val) {
  size_t i = slot_of(t, cid, len);
  while (t->slots[i].state == 1)
    i = (i + 1) & (t->cap - 1);
  if (t->slots[i].state == 0)
    t->used++;
  t->slots[i].state = 1;
  t->slots[i].len = (uint8_t)len;
  memcpy(t->slots[i].cid, cid, len);
  t->slots[i].val = val;
  t->live++;
}

static int rehash(struct qs_cidtab *t, size_t cap) {
  struct qs_cidtab_ent *old = t->slots;
  size_t oldcap = t->cap;
  if (alloc_slots(t, cap) != 0) {
    t->slots = old;
    t->cap = oldcap;
    return QS_ERR_NOMEM;
  }
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].state == 1)
      place(t, old[i].cid, old[i].len, old[i].val);
  free(old);
  return 0;
}

int qs_cidtab_insert(struct qs_cidtab *t, const uint8_t *cid, size_t len, void *val) {
  struct qs_cidtab_ent *e;
  if (len == 0 || len > QS_MAX_CIDLEN)
    return QS_ERR_INVAL;
  e = lookup(t, cid, len);
  if (e) {
    e->val = val;
    return 0;
  }
  if ((t->used + 1) * 2 > t->cap) {
    /* grow if mostly live, else just sweep the tombstones */
    size_t cap = (t->live + 1) * 4 > t->cap ? t->cap * 2 : t->cap;
    if (rehash(t, cap) != 0)
      return QS_ERR_NOMEM;
  }
  place(t, cid, len, val);
  cr_count(t, cid[0], 1);
  return 0;
}

int qs_cidtab_remove(struct qs_cidtab *t, const uint8_t *cid, size_t len, const void *val) {
  struct qs_cidtab_ent *e;
  if (len == 0 || len > QS_MAX_CIDLEN)
    return QS_ERR_NOTFOUND;
  e = lookup(t, cid, len);
  if (!e || (val && e->val != val))
    return QS_ERR_NOTFOUND;
  e->state = 2;
  e->val = NULL;
  t->live--;
  cr_count(t, e->cid[0], -1);
  return 0;
}
