/* replay.c: see replay.h. */
#include "replay.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/sha2.h>

#include "quicsteer/errors.h"

int qs_replay_add(struct qs_replay *r, const uint8_t *id, size_t idlen, uint64_t now,
                  uint64_t expiry) {
  uint8_t d[SHA256_DIGEST_SIZE];
  struct sha256_ctx h;
  struct qs_replay_slot *free_slot = NULL;
  uint64_t fp[2];

  /* a digest, not the identity itself: fixed size, and the slot index is
   * not the client's to choose */
  sha256_init(&h);
  sha256_update(&h, idlen, id);
  sha256_digest(&h, sizeof d, d);
  memcpy(fp, d, sizeof fp);
  for (size_t i = 0; i < QS_REPLAY_PROBE; i++) {
    struct qs_replay_slot *sl = &r->slots[(fp[0] + i) & r->mask];
    if (sl->expiry <= now) {
      if (!free_slot)
        free_slot = sl;
      continue;
    }
    if (sl->fp[0] == fp[0] && sl->fp[1] == fp[1])
      return QS_ERR_BUSY;
  }
  if (!free_slot) {
    r->full++;
    return QS_ERR_NOMEM;
  }
  memcpy(free_slot->fp, fp, sizeof fp);
  free_slot->expiry = expiry > now ? expiry : now + 1;
  return 0;
}

static int db_add(void *ptr, time_t expiry, const gnutls_datum_t *key, const gnutls_datum_t *data) {
  time_t now = time(NULL);
  (void)data;
  switch (qs_replay_add(ptr, key->data, key->size, (uint64_t)now, (uint64_t)expiry)) {
  case 0:
    return 0;
  case QS_ERR_BUSY:
    return GNUTLS_E_DB_ENTRY_EXISTS;
  default:
    return GNUTLS_E_DB_ERROR;
  }
}

int qs_replay_init(struct qs_replay *r, size_t nslots, unsigned window_s) {
  memset(r, 0, sizeof *r);
  if (nslots < QS_REPLAY_PROBE || (nslots & (nslots - 1)) != 0)
    return -1;
  r->slots = calloc(nslots, sizeof *r->slots);
  if (!r->slots)
    return -1;
  r->mask = nslots - 1;
  if (gnutls_anti_replay_init(&r->ar) != 0) {
    free(r->slots);
    r->slots = NULL;
    return -1;
  }
  gnutls_anti_replay_set_window(r->ar, window_s * 1000u);
  gnutls_anti_replay_set_add_function(r->ar, db_add);
  gnutls_anti_replay_set_ptr(r->ar, r);
  return 0;
}

void qs_replay_enable(struct qs_replay *r, gnutls_session_t s) {
  gnutls_anti_replay_enable(s, r->ar);
  /* RFC 9001 s4.6.1: a QUIC server offers 0-RTT with exactly this value */
  gnutls_record_set_max_early_data_size(s, 0xffffffffu);
}

void qs_replay_free(struct qs_replay *r) {
  if (r->ar)
    gnutls_anti_replay_deinit(r->ar);
  free(r->slots);
  memset(r, 0, sizeof *r);
}
