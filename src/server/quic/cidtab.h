/* cidtab.h: a worker's connection table, connection ID -> connection.
 *
 * Open addressing with linear probing over a power-of-two array, keyed by
 * SipHash-2-4 under a per-table random key (a peer cannot choose CIDs that
 * collide).  Only its worker touches it: no locks.  It grows at 50% load
 * (tombstones included) and never allocates on lookup.
 */
#ifndef QS_SERVER_CIDTAB_H
#define QS_SERVER_CIDTAB_H

#include <stddef.h>
#include <stdint.h>

#include "quicsteer/errors.h"
#include "quicsteer/quic_header.h"

struct qs_cidtab_ent {
  uint8_t state; /* 0 empty, 1 live, 2 deleted */
  uint8_t len;
  uint8_t cid[QS_MAX_CIDLEN];
  void *val;
};

struct qs_cidtab {
  struct qs_cidtab_ent *slots;
  size_t cap; /* power of two */
  size_t live;
  size_t used; /* live + deleted */
  uint64_t k0, k1;
  /* live entries by config-rotation codepoint (first octet >> 5), so the
   * main thread can tell when a rotated-out key is no longer in use;
   * written by the worker only, read with qs_cidtab_cr_count */
  uint32_t by_cr[8];
};

/* qs_cidtab_cr_count returns how many CIDs of codepoint |cr| (0..7) are in
 * |t| (callable from any thread). */
static inline uint32_t qs_cidtab_cr_count(const struct qs_cidtab *t, unsigned cr) {
  return __atomic_load_n(&t->by_cr[cr & 7], __ATOMIC_RELAXED);
}

/* qs_cidtab_init prepares an empty table.  Returns 0, QS_ERR_NOMEM or
 * QS_ERR_CRYPTO (no randomness for the key). */
int qs_cidtab_init(struct qs_cidtab *t);
void qs_cidtab_free(struct qs_cidtab *t);

/* qs_cidtab_find returns the value stored for |cid| or NULL. */
void *qs_cidtab_find(const struct qs_cidtab *t, const uint8_t *cid, size_t len);

/* qs_cidtab_insert maps |cid| (1..20 octets) to |val|, replacing any
 * previous value.  Returns 0, QS_ERR_INVAL or QS_ERR_NOMEM. */
int qs_cidtab_insert(struct qs_cidtab *t, const uint8_t *cid, size_t len, void *val);

/* qs_cidtab_remove drops |cid| if it maps to |val| (NULL: whatever it maps
 * to).  Returns 0 or QS_ERR_NOTFOUND. */
int qs_cidtab_remove(struct qs_cidtab *t, const uint8_t *cid, size_t len, const void *val);

#endif
