/* classify.c: classify.h's decision bound to a keyring (user space): the
 * same steps the kernel runs, with nettle's AES in place of the table AES
 * and the keyring in place of the config map. */
#include <string.h>
#include <time.h>

#include "quicsteer/lb.h"

#include "quicsteer/classify.h"

static int keyring_decode(const struct qs_keyring *kr, const struct qs_cls *c, uint32_t *rk) {
  if (c->cr >= QS_LB_MAX_CONFIGS || !kr->valid[c->cr])
    return QS_ERR_NOCONF;
  /* qs_cidconf_route ends in lb_core.h's qs_lb_route, as the kernel's does */
  return qs_cidconf_route(&kr->conf[c->cr], c->key.k.cid, c->key.k.len, rk);
}

#define QS_CLS_CTX const struct qs_keyring
#define QS_CLS_DECODE(x, c, rk) keyring_decode((x), (c), (rk))
#define QS_CLS_NOW(x) qs_hs_tick()
#include "quicsteer/classify.h"

uint32_t qs_hs_tick(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return qs_hs_tick_of((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

uint8_t qs_classify_keyring(struct qs_cls *c, const struct qs_keyring *kr, const uint8_t *data,
                            size_t len) {
  uint64_t pfx[QS_CLS_WORDS];
  uint8_t cid_len[8] = {0};
  uint32_t n = len < QS_CLS_COPY ? (uint32_t)len : QS_CLS_COPY;

  memset(pfx, 0, sizeof pfx);
  memcpy((uint8_t *)pfx + QS_CLS_SHIFT, data, n);
  for (int cr = 0; cr < QS_LB_MAX_CONFIGS; cr++)
    if (kr->valid[cr])
      cid_len[cr] = (uint8_t)qs_cidconf_cid_len(&kr->conf[cr]);
  return qs_classify(c, kr, pfx, n, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len, cid_len,
                     kr->valid[kr->mint_cr] ? qs_cidconf_cid_len(&kr->conf[kr->mint_cr])
                                            : QS_CID_LEN_DEFAULT);
}

const char *qs_verdict_name(int v) {
  static const char *const names[] = {"drop", "route", "new", "reset", "stray", "vneg", "decode"};
  return v >= 0 && v <= QS_VERDICT_DECODE ? names[v] : "unknown";
}
