/* lb_types.h: QUIC-LB configuration types and limits, without any cipher.
 *
 * Split from lb_core.h so that the BPF map layouts (steer_abi.h) can embed
 * a configuration without binding a block cipher.  quicsteer's own layout
 * (docs/cid-layout.md) is here too because the kernel needs it: the server
 * ID a configuration carries is the host ID followed by a 4-octet routing
 * key (generation, worker).
 */
#ifndef QUICSTEER_LB_TYPES_H
#define QUICSTEER_LB_TYPES_H

#include "quicsteer/types.h"
#include "quicsteer/errors.h"

#define QS_LB_CR_UNROUTABLE 7 /* config-rotation codepoint reserved by the draft */
#define QS_LB_MAX_CONFIGS 7   /* codepoints 0..6 */
#define QS_LB_MAX_SID 15
#define QS_LB_MIN_NONCE 4
#define QS_LB_MIN_BODY 5
#define QS_LB_MAX_BODY 19
#define QS_LB_BUF 32 /* power of two >= QS_LB_MAX_BODY */
#define QS_LB_HALF_MAX 10
#define QS_LB_HALF_BUF 16 /* power of two >= QS_LB_HALF_MAX */

enum qs_lb_alg {
  QS_LB_PLAINTEXT = 0,
  QS_LB_AES_SINGLE = 1,   /* server ID + nonce == 16 octets: one AES block */
  QS_LB_AES_FOURPASS = 2, /* any other length: four-round Feistel over AES */
};

/* One QUIC-LB configuration as a server (or load balancer) holds it. */
struct qs_lb_params {
  uint8_t cr;         /* config-rotation bits, 0..6 */
  uint8_t alg;        /* enum qs_lb_alg; must agree with the lengths */
  uint8_t sid_len;    /* 1..15 */
  uint8_t nonce_len;  /* >= 4, and sid_len + nonce_len <= 19 */
  uint8_t encode_len; /* 1: the first octet's low 5 bits carry the CID length - 1 */
  uint8_t pad[3];
};

/* qs_lb_alg_for returns the algorithm the draft prescribes for a body of
 * |body_len| octets, with or without a key. */
QS_INLINE uint8_t qs_lb_alg_for(int keyed, uint32_t body_len) {
  if (!keyed)
    return QS_LB_PLAINTEXT;
  return body_len == 16 ? QS_LB_AES_SINGLE : QS_LB_AES_FOURPASS;
}

/* qs_lb_params_check returns 0 if |p| is a configuration the draft allows,
 * QS_ERR_UNROUTABLE for cr 7, QS_ERR_CIDLEN for bad lengths, QS_ERR_INVAL
 * for an algorithm that does not fit the lengths. */
QS_INLINE int qs_lb_params_check(const struct qs_lb_params *p) {
  uint32_t body = (uint32_t)p->sid_len + p->nonce_len;
  if (p->cr == QS_LB_CR_UNROUTABLE)
    return QS_ERR_UNROUTABLE;
  if (p->cr > QS_LB_CR_UNROUTABLE)
    return QS_ERR_INVAL;
  if (p->sid_len < 1 || p->sid_len > QS_LB_MAX_SID || p->nonce_len < QS_LB_MIN_NONCE ||
      body > QS_LB_MAX_BODY)
    return QS_ERR_CIDLEN;
  if (p->alg > QS_LB_AES_FOURPASS || (p->alg != QS_LB_PLAINTEXT && p->alg != qs_lb_alg_for(1, body)))
    return QS_ERR_INVAL;
  return 0;
}

QS_INLINE uint32_t qs_lb_cid_len(const struct qs_lb_params *p) {
  return 1u + p->sid_len + p->nonce_len;
}

/* qs_lb_first_octet builds a CID's first octet: the config-rotation bits,
 * then either the self-encoded length or five of the caller's random bits. */
QS_INLINE uint8_t qs_lb_first_octet(const struct qs_lb_params *p, uint8_t rnd) {
  uint8_t low = p->encode_len ? (uint8_t)(p->sid_len + p->nonce_len) : rnd;
  return (uint8_t)((p->cr << 5) | (low & 0x1f));
}

QS_INLINE uint8_t qs_lb_cr_of(uint8_t first_octet) { return first_octet >> 5; }

/* ---- quicsteer's layout on top of QUIC-LB (docs/cid-layout.md) ---- */

#define QS_RK_LEN 4                                /* routing key: generation, worker */
#define QS_HOST_ID_MAX (QS_LB_MAX_SID - QS_RK_LEN) /* 11 */

/* The worker half of a routing key holds the worker (7 bits: at most 128
 * per generation) and, in a handshake CID (the SCID of a Retry or of the
 * server's first Initial: the DCIDs a client's later Initials carry), a mark
 * and the coarse time it was minted, so that an Initial is aimed at a worker
 * only with a fresh handshake CID (docs/cid-layout.md, docs/steering.md). */
#define QS_RK_WORKER_MASK 0x007fu
#define QS_RK_HS 0x8000u         /* handshake CID */
#define QS_RK_TICK_SHIFT 7       /* 8 bits of mint time above the worker */
#define QS_RK_TICK_MASK 0xffu
#define QS_HS_TICK_SHIFT 32      /* one tick: 2^32 ns (~4.3 s) of CLOCK_MONOTONIC_COARSE */
#define QS_HS_FRESH_TICKS 4      /* fresh while at most 4 ticks old: 17.2 to 21.5 s */

QS_INLINE uint32_t qs_rk_make(uint16_t generation, uint16_t worker) {
  return ((uint32_t)generation << 16) | worker;
}
QS_INLINE uint16_t qs_rk_generation(uint32_t rk) { return (uint16_t)(rk >> 16); }
QS_INLINE uint16_t qs_rk_worker(uint32_t rk) { return (uint16_t)(rk & QS_RK_WORKER_MASK); }
/* the registered key of the worker owning |rk|: without mark and mint time */
QS_INLINE uint32_t qs_rk_owner(uint32_t rk) { return rk & (0xffff0000u | QS_RK_WORKER_MASK); }
/* the routing key of a handshake CID of |rk|'s owner minted at tick |tick| */
QS_INLINE uint32_t qs_rk_handshake(uint32_t rk, uint32_t tick) {
  return qs_rk_owner(rk) | QS_RK_HS | ((tick & QS_RK_TICK_MASK) << QS_RK_TICK_SHIFT);
}
/* 1 if |rk| is a handshake CID's, at most QS_HS_FRESH_TICKS old at |tick|
 * (8-bit serial arithmetic: the mint time repeats every 256 ticks, ~18 min) */
QS_INLINE int qs_rk_hs_fresh(uint32_t rk, uint32_t tick) {
  uint32_t age = (tick - (rk >> QS_RK_TICK_SHIFT)) & QS_RK_TICK_MASK;
  return (rk & QS_RK_HS) != 0 && age <= QS_HS_FRESH_TICKS;
}

/* Where a CID carries the host's server ID (docs/cid-layout.md, fleet.md). */
enum qs_sid_mode {
  /* QUIC-LB encrypted: the whole body (server ID || routing key || nonce)
   * under the configuration's key; a balancer holding the key decrypts it */
  QS_SID_ENCRYPTED = 0,
  /* QUIC-LB plaintext server ID in octets 1..L, then routing key || nonce
   * under the host's key (a QUIC-LB body of its own, whose server ID is the
   * routing key), so that a balancer needs no key and observers still learn
   * nothing beyond the host */
  QS_SID_CLEAR = 1,
};

/* What a host needs to route its own CIDs under one configuration. */
struct qs_route_conf {
  /* the configuration as a fleet balancer sees it: encrypted mode,
   * p.sid_len == host_id_len + QS_RK_LEN (the host's view); clear mode,
   * p.sid_len == host_id_len with p.alg plaintext, nonce_len the rest */
  struct qs_lb_params p;
  uint8_t host_id_len; /* 1..11: the server ID */
  uint8_t host_id[QS_HOST_ID_MAX];
  uint8_t mode;      /* enum qs_sid_mode */
  uint8_t inner_alg; /* clear mode: enum qs_lb_alg of what follows the server ID */
  uint8_t pad[2];
};

/* qs_route_conf_alg: the cipher a host's key drives under |rc|. */
QS_INLINE uint8_t qs_route_conf_alg(const struct qs_route_conf *rc) {
  return rc->mode == QS_SID_CLEAR ? rc->inner_alg : rc->p.alg;
}

#endif
