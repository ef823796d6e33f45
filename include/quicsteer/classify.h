/* classify.h: the one decision every received datagram gets, written once
 * for the kernel (bpf/steer.bpf.c) and the workers (src/server/proc/worker.c
 * through lib/classify.c).
 *
 * A datagram is, and the reason (enum qs_ctr, one counter each) says why:
 *   QS_VERDICT_DROP   not QUIC at all (empty, truncated, oversized CID, runt);
 *   QS_VERDICT_ROUTE  a quicsteer CID: it belongs to the worker of routing key
 *                     rk (this generation's or another's);
 *   QS_VERDICT_NEW    an Initial or 0-RTT whose DCID aims at no worker (the
 *                     client's own, or a reused CID of ours that is not a
 *                     fresh handshake CID): a new connection, spread by the
 *                     keyed hash of the DCID;
 *   QS_VERDICT_RESET  a short header nobody can place: spread by hash; a
 *                     stateless-reset candidate for the worker;
 *   QS_VERDICT_STRAY  another long header nobody can place (Handshake, Retry,
 *                     version negotiation): spread by hash, then ignored;
 *   QS_VERDICT_VNEG   an unknown version: any worker answers with version
 *                     negotiation.
 * The kernel delivers ROUTE to the owner's socket and hashes everything not
 * dropped; a worker relays ROUTE to its owner and acts on the rest.  What the
 * two bindings supply is only I/O: how a CID is decoded (kernel: per-CPU
 * cache, config map, table AES; user space: the keyring, nettle) and the
 * clock, through the hooks
 *
 *   QS_CLS_CTX                  the binding's context type
 *   QS_CLS_DECODE(x, c, rk)     decode c->key under configuration c->cr into
 *                               *rk (lb_core.h's qs_lb_route): 0 or QS_ERR_*
 *   QS_CLS_NOW(x)               the current handshake tick (qs_hs_tick)
 *
 * defined before including this file a second time (the first include gives
 * the types the decoder needs); without them only the steps are available
 * (qs_classify_header, qs_classify_decoded, qs_classify_unowned).
 * Pure: no I/O, static inline, fixed-width types (the BPF program compiles
 * it).  docs/steering.md describes each rule.
 */
#ifndef QUICSTEER_CLASSIFY_H
#define QUICSTEER_CLASSIFY_H

#include "quicsteer/types.h"
#include "quicsteer/errors.h"
#include "quicsteer/lb_types.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/steer_abi.h"

/* The header prefix the classifier reads: up to QS_CLS_COPY octets of the
 * datagram, stored QS_CLS_SHIFT octets into an 8-aligned buffer of
 * QS_CLS_WORDS words, so that a short header's DCID (offset 1) starts
 * 8-aligned and its key is three word loads and a length mask. */
#define QS_CLS_COPY 48 /* >= 47: a v1/v2 long header's CIDs */
#define QS_CLS_SHIFT 7
#define QS_CLS_WORDS ((QS_CLS_SHIFT + QS_HDR_SPAN + 7) / 8)

#if QS_RK_WORKER_MASK + 1 != QS_MAX_WORKERS
#error "the worker bits of a routing key must hold QS_MAX_WORKERS workers"
#endif

enum qs_verdict {
  QS_VERDICT_DROP = 0,
  QS_VERDICT_ROUTE,
  QS_VERDICT_NEW,
  QS_VERDICT_RESET,
  QS_VERDICT_STRAY,
  QS_VERDICT_VNEG,
  QS_VERDICT_DECODE, /* between the steps: a CID of a known configuration */
};

struct qs_cls {
  union qs_cidkey key; /* the DCID (zero-padded, with its length); unset for a drop */
  uint32_t rk;         /* ROUTE: the owner's registered routing key */
  uint32_t version;    /* long header: its version */
  uint8_t verdict;     /* enum qs_verdict */
  uint8_t reason;      /* enum qs_ctr */
  uint8_t type;        /* enum qs_pkt_type */
  uint8_t cr;          /* the DCID's config-rotation bits */
  uint8_t nokey;       /* VNEG for a DCID over 20 octets: nothing to hash on */
};

/* the low |n| octets (0..8) of a little-endian word */
QS_INLINE uint64_t qs_cls_low_octets(uint32_t n) {
  return n >= 8 ? ~0ULL : (1ULL << (8 * n)) - 1;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the key masks assume little-endian words"
#endif

/* a short header's DCID key: the DCID starts at word 1 of the prefix */
QS_INLINE void qs_cls_short_key(union qs_cidkey *key, const uint64_t *pfx, uint32_t len) {
  key->w[0] = pfx[1] & qs_cls_low_octets(len);
  key->w[1] = pfx[2] & qs_cls_low_octets(len > 8 ? len - 8 : 0);
  key->w[2] = (pfx[3] & 0xffffffffULL & qs_cls_low_octets(len > 16 ? len - 16 : 0)) |
              ((uint64_t)len << 32);
}

QS_INLINE int qs_cls_is_new_type(uint8_t type) {
  return type == QS_PKT_INITIAL || type == QS_PKT_0RTT;
}

QS_INLINE uint8_t qs_cls_set(struct qs_cls *c, uint8_t verdict, uint8_t reason) {
  c->verdict = verdict;
  c->reason = reason;
  return verdict;
}

/* qs_classify_unowned: |c| cannot be placed by its DCID, for |reason| (a
 * fallback counter).  An Initial or 0-RTT is then simply a new connection
 * (counted initial_hash, unless the reason is one worth seeing: a reused CID
 * or a registered worker whose socket is gone); a short header a reset
 * candidate; any other long header a stray.  Also for the callers, when the
 * owner of a ROUTE turns out not to exist. */
QS_INLINE uint8_t qs_classify_unowned(struct qs_cls *c, uint8_t reason) {
  if (qs_cls_is_new_type(c->type))
    return qs_cls_set(c, QS_VERDICT_NEW,
                      reason == QS_CTR_FB_SOCKET_GONE || reason == QS_CTR_INITIAL_REUSED
                          ? reason
                          : QS_CTR_INITIAL_HASH);
  return qs_cls_set(c, c->type == QS_PKT_SHORT ? QS_VERDICT_RESET : QS_VERDICT_STRAY, reason);
}

/* qs_classify_header: step 1, everything the header alone tells.  |pfx|
 * holds the first |n| octets (1..QS_CLS_COPY) of a datagram of |len| octets
 * (the UDP payload) at octet QS_CLS_SHIFT; |cid_len[cr]| is the CID length of
 * configuration cr (0: none), |short_cid_len| the DCID length assumed for a
 * short header whose bits name no configuration.  Returns c->verdict:
 * QS_VERDICT_DECODE when the DCID is a candidate quicsteer CID. */
QS_INLINE uint8_t qs_classify_header(struct qs_cls *c, const uint64_t *pfx, uint32_t n,
                                     uint32_t len, const uint8_t *cid_len,
                                     uint32_t short_cid_len) {
  const uint8_t *buf = (const uint8_t *)pfx + QS_CLS_SHIFT;
  struct qs_hdr h;
  uint32_t cidlen, conf_len;
  int rv;

  c->rk = 0;
  c->version = 0;
  c->cr = 0;
  c->nokey = 0;
  c->type = QS_PKT_LONG_OTHER;
  if (len == 0 || n == 0)
    return qs_cls_set(c, QS_VERDICT_DROP, QS_CTR_DROP_EMPTY);
  if (n > QS_CLS_COPY)
    n = QS_CLS_COPY;
  rv = qs_hdr_parse(&h, buf, n);
  c->type = h.type;
  if (h.type == QS_PKT_SHORT) {
    if (len < QS_SHORT_MIN_LEN)
      return qs_cls_set(c, QS_VERDICT_DROP, QS_CTR_DROP_SHORT);
    /* the DCID length comes from the configuration its first octet names */
    c->cr = qs_lb_cr_of(buf[1]);
    conf_len = cid_len[c->cr & 7];
    cidlen = conf_len ? conf_len : short_cid_len;
    if (cidlen > QS_MAX_CIDLEN)
      cidlen = QS_MAX_CIDLEN;
    qs_cls_short_key(&c->key, pfx, cidlen);
  } else {
    if (rv == QS_ERR_TRUNCATED)
      return qs_cls_set(c, QS_VERDICT_DROP, QS_CTR_DROP_TRUNCATED);
    c->version = h.version;
    if (rv == QS_ERR_CIDLEN) {
      if (qs_hdr_version_known(h.version))
        return qs_cls_set(c, QS_VERDICT_DROP, QS_CTR_DROP_CIDLEN);
      /* a future version may use long CIDs (RFC 8999): anyone answers it */
      c->nokey = 1;
      return qs_cls_set(c, QS_VERDICT_VNEG, QS_CTR_FB_VERSION);
    }
    c->key.w[0] = c->key.w[1] = c->key.w[2] = 0; /* a short header's key is all written */
    qs_hdr_copy_cid(c->key.k.cid, buf, h.dcid_off, h.dcid_len);
    c->key.k.len = h.dcid_len;
    if (h.type == QS_PKT_VERSION_NEG)
      return qs_cls_set(c, QS_VERDICT_STRAY, QS_CTR_FB_VERSION);
    if (h.type == QS_PKT_LONG_OTHER)
      return qs_cls_set(c, QS_VERDICT_VNEG, QS_CTR_FB_VERSION);
    if (h.dcid_len == 0)
      return qs_classify_unowned(c, QS_CTR_FB_CIDLEN);
    c->cr = qs_lb_cr_of(qs_hdr_at(buf, h.dcid_off));
    conf_len = cid_len[c->cr & 7];
  }
  if (c->cr == QS_LB_CR_UNROUTABLE)
    return qs_classify_unowned(c, QS_CTR_FB_UNROUTABLE);
  if (!conf_len)
    return qs_classify_unowned(c, QS_CTR_FB_NO_CONFIG);
  /* most client-chosen DCIDs are not our length: no decode for them */
  if (c->key.k.len != conf_len)
    return qs_classify_unowned(c, QS_CTR_FB_CIDLEN);
  return qs_cls_set(c, QS_VERDICT_DECODE, QS_CTR_CID_ROUTED);
}

/* qs_classify_decoded: step 2, after the DCID was decoded (lb_core.h's
 * qs_lb_route result |rv|, routing key |rk|) at handshake tick |now|.  An
 * Initial or 0-RTT follows its DCID only if that is a fresh handshake CID
 * (issue 9: no aiming at one worker with a CID once obtained); everything
 * else that decodes is routed.  Returns c->verdict. */
QS_INLINE uint8_t qs_classify_decoded(struct qs_cls *c, int rv, uint32_t rk, uint32_t now) {
  if (rv != 0)
    return qs_classify_unowned(c, rv == QS_ERR_FOREIGN  ? QS_CTR_FB_FOREIGN_HOST
                                  : rv == QS_ERR_NOCONF ? QS_CTR_FB_NO_CONFIG
                                                        : QS_CTR_FB_CIDLEN);
  if (qs_cls_is_new_type(c->type) && !qs_rk_hs_fresh(rk, now))
    return qs_classify_unowned(c, QS_CTR_INITIAL_REUSED);
  c->rk = qs_rk_owner(rk);
  return qs_cls_set(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
}

/* qs_hs_tick_of: the handshake tick of a CLOCK_MONOTONIC(_COARSE) time in
 * nanoseconds (what bpf_ktime_get_coarse_ns returns). */
QS_INLINE uint32_t qs_hs_tick_of(uint64_t ns) { return (uint32_t)(ns >> QS_HS_TICK_SHIFT); }


#ifndef __bpf__
#include <stddef.h>

struct qs_keyring;

#ifdef __cplusplus
extern "C" {
#endif

/* qs_hs_tick returns the current handshake tick (CLOCK_MONOTONIC_COARSE,
 * the clock the kernel's bpf_ktime_get_coarse_ns reads). */
uint32_t qs_hs_tick(void);

/* qs_classify_keyring classifies the |len|-octet datagram |data| as the
 * kernel does, decoding with keyring |kr| (its configurations' lengths, its
 * minting configuration's length for short headers of unknown bits).
 * Returns c->verdict. */
uint8_t qs_classify_keyring(struct qs_cls *c, const struct qs_keyring *kr, const uint8_t *data,
                            size_t len);

/* qs_verdict_name: "drop", "route", "new", "reset", "stray", "vneg". */
const char *qs_verdict_name(int v);

#ifdef __cplusplus
}
#endif
#endif

#endif

/* The binding: included a second time after the hooks are defined (the
 * binding's decoder needs struct qs_cls, so it comes between the two). */
#if defined(QS_CLS_DECODE) && !defined(QUICSTEER_CLASSIFY_BOUND)
#define QUICSTEER_CLASSIFY_BOUND
/* qs_classify: both steps with the includer's decoder and clock (the clock
 * is read only for an Initial or 0-RTT that decodes).  Returns c->verdict,
 * never QS_VERDICT_DECODE. */
QS_INLINE uint8_t qs_classify(struct qs_cls *c, QS_CLS_CTX *x, const uint64_t *pfx, uint32_t n,
                              uint32_t len, const uint8_t *cid_len, uint32_t short_cid_len) {
  uint32_t rk = 0, now = 0;
  int rv;

  if (qs_classify_header(c, pfx, n, len, cid_len, short_cid_len) != QS_VERDICT_DECODE)
    return c->verdict;
  rv = QS_CLS_DECODE(x, c, &rk);
  if (rv == 0 && qs_cls_is_new_type(c->type))
    now = QS_CLS_NOW(x);
  return qs_classify_decoded(c, rv, rk, now);
}
#endif
