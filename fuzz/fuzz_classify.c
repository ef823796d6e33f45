/* fuzz_classify.c: libFuzzer target for the worker's datagram decision
 * (include/quicsteer/classify.h through lib/classify.c, the binding
 * qs_worker_on_datagram calls), with a keyring of three configurations
 * (single-pass AES, four-pass AES, plaintext; three CID lengths).
 *
 * The first input octet is a mode, the rest the datagram.  With mode bit 0
 * set the target first writes a CID it mints itself (nonce, routing key and
 * mint age from the input) over the datagram's DCID, so the decoding paths
 * (routed, reused, stale handshake CID) are reached, not only rejections.
 * Checks, beyond "no crash, no read past the datagram": a verdict is final
 * and agrees with the packet type; a drop has a drop reason and nothing else
 * does; the key is the datagram's DCID, zero-padded, at the length the
 * configuration gives; a route is exactly a DCID that decodes under its
 * configuration and, in an Initial or 0-RTT, is a fresh handshake CID. */
#include <stdlib.h>
#include <string.h>

#include "quicsteer/classify.h"
#include "quicsteer/lb.h"

static void check(int cond) {
  if (!cond)
    abort();
}

static struct qs_keyring kr;
static const uint8_t crs[3] = {0, 2, 5};

static void setup(void) {
  static const uint8_t host[2] = {0x00, 0x01}, host3[3] = {0x0a, 0x0b, 0x0c};
  static const uint8_t key0[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                   0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};
  static const uint8_t key2[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  if (qs_cidconf_init(&kr.conf[0], 0, 17, host, 2, key0, 0) != 0 ||
      qs_cidconf_init(&kr.conf[2], 2, 12, host, 2, key2, 0) != 0 ||
      qs_cidconf_init(&kr.conf[5], 5, 20, host3, 3, NULL, 0) != 0)
    abort();
  kr.valid[0] = kr.valid[2] = kr.valid[5] = 1;
  kr.mint_cr = 0;
}

/* overwrite the DCID of |pkt| with a CID minted under one of the keyring's
 * configurations, where its length fits */
static void plant(uint8_t mode, uint8_t *pkt, size_t len) {
  const struct qs_cidconf *cc = &kr.conf[crs[(mode >> 1) % 3]];
  uint32_t cidlen = qs_cidconf_cid_len(cc), off, rk;
  uint8_t sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY] = {0}, cid[QS_MAX_CIDLEN];
  uint32_t hl = cc->rc.host_id_len, i;

  if (len < 1)
    return;
  if (pkt[0] & 0x80) {
    if (len < 6)
      return;
    pkt[5] = (uint8_t)cidlen;
    off = 6;
  } else {
    off = 1;
  }
  if (off + cidlen > len)
    return;
  rk = qs_rk_make((uint16_t)(pkt[len - 1] | (pkt[len / 2] << 8)), (uint16_t)(pkt[len - 1] & 0x7f));
  if (mode & 0x08) /* a handshake CID, 0..7 ticks old */
    rk = qs_rk_handshake(rk, qs_hs_tick() - ((mode >> 4) & 7));
  memcpy(sid, cc->rc.host_id, hl);
  for (i = 0; i < 4; i++)
    sid[hl + i] = (uint8_t)(rk >> (24 - 8 * i));
  for (i = 0; i < cc->lb.p.nonce_len && off + cidlen + i < len; i++)
    nonce[i] = pkt[off + cidlen + i];
  if (qs_lb_encode(&cc->lb, sid, nonce, cid, sizeof cid) != (int)cidlen)
    abort();
  memcpy(pkt + off, cid, cidlen);
}

static int is_drop_reason(int r) {
  return r == QS_CTR_DROP_EMPTY || r == QS_CTR_DROP_TRUNCATED || r == QS_CTR_DROP_CIDLEN ||
         r == QS_CTR_DROP_SHORT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t pkt[4096];
  struct qs_cls c;
  uint8_t mode, v;
  size_t len, i, off;
  uint32_t rk, tick;
  int rv;

  if (!kr.valid[0])
    setup();
  if (size < 1 || size - 1 > sizeof pkt)
    return 0;
  mode = data[0];
  len = size - 1;
  memcpy(pkt, data + 1, len);
  if (mode & 1)
    plant(mode, pkt, len);
  /* the classifier gets an exact-size heap copy: ASan sees any overread */
  uint8_t *dg = malloc(len ? len : 1);
  if (!dg)
    abort();
  memcpy(dg, pkt, len);
  tick = qs_hs_tick();
  v = qs_classify_keyring(&c, &kr, dg, len);
  check(v == c.verdict && v <= QS_VERDICT_VNEG);
  check(c.reason > QS_CTR_RX && c.reason < QS_CTR_MAX);
  check((v == QS_VERDICT_DROP) == is_drop_reason(c.reason));
  if (len == 0)
    check(v == QS_VERDICT_DROP && c.reason == QS_CTR_DROP_EMPTY);
  if (v == QS_VERDICT_DROP || c.nokey) {
    free(dg);
    return 0;
  }
  check(c.key.k.len <= QS_MAX_CIDLEN);
  for (i = c.key.k.len; i < QS_MAX_CIDLEN; i++)
    check(c.key.k.cid[i] == 0);
  off = c.type == QS_PKT_SHORT ? 1 : 6;
  check(off + c.key.k.len <= len && memcmp(c.key.k.cid, dg + off, c.key.k.len) == 0);
  if (c.type == QS_PKT_SHORT) {
    uint8_t cr = dg[1] >> 5;
    check(len >= QS_SHORT_MIN_LEN);
    check(c.key.k.len == (cr < QS_LB_MAX_CONFIGS && kr.valid[cr]
                              ? qs_cidconf_cid_len(&kr.conf[cr])
                              : qs_cidconf_cid_len(&kr.conf[kr.mint_cr])));
  }
  switch (v) {
  case QS_VERDICT_NEW:
    check(c.type == QS_PKT_INITIAL || c.type == QS_PKT_0RTT);
    break;
  case QS_VERDICT_RESET:
    check(c.type == QS_PKT_SHORT);
    break;
  case QS_VERDICT_STRAY:
    check(c.type != QS_PKT_SHORT && c.type != QS_PKT_INITIAL && c.type != QS_PKT_0RTT &&
          c.type != QS_PKT_LONG_OTHER);
    break;
  case QS_VERDICT_VNEG:
    check(c.type == QS_PKT_LONG_OTHER && !qs_hdr_version_known(c.version));
    break;
  default:
    break;
  }
  rv = c.key.k.len ? qs_keyring_route(&kr, c.key.k.cid, c.key.k.len, &rk) : QS_ERR_EMPTY;
  if (v == QS_VERDICT_ROUTE) {
    check(rv == 0 && qs_rk_owner(rk) == c.rk && c.reason == QS_CTR_CID_ROUTED);
    if (c.type == QS_PKT_INITIAL || c.type == QS_PKT_0RTT) /* the tick may have moved on */
      check(qs_rk_hs_fresh(rk, tick) || qs_rk_hs_fresh(rk, qs_hs_tick()));
  } else if (rv == 0 && c.type != QS_PKT_LONG_OTHER && c.type != QS_PKT_VERSION_NEG) {
    /* it decodes, yet is not routed: only an Initial/0-RTT not aimed */
    check(v == QS_VERDICT_NEW && c.reason == QS_CTR_INITIAL_REUSED);
    check(!qs_rk_hs_fresh(rk, tick) || !qs_rk_hs_fresh(rk, qs_hs_tick()));
  }
  free(dg);
  return 0;
}
