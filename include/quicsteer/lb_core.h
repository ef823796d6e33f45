/* lb_core.h: the QUIC-LB connection-ID algorithms (draft-ietf-quic-load-
 * balancers-21, "Server ID Encoding in Connection IDs"), written once.
 *
 * The same inline code runs in user space (lib/lb.c, AES from nettle) and in
 * the kernel (bpf/steer.bpf.c, the hand-written table AES of bpf/aes128.h):
 * the includer supplies the block cipher by defining, before including this
 * file,
 *
 *   QS_LB_CIPHER                    the type holding an AES-128 key schedule
 *   QS_LB_AES_ENCRYPT(c, out, in)   encrypt one 16-octet block
 *   QS_LB_AES_DECRYPT(c, out, in)   decrypt one 16-octet block
 *
 * Bodies (server ID || nonce, 5..19 octets) live in QS_LB_BUF-octet buffers
 * and every variable index is masked into them, so the BPF verifier can prove
 * each access; in user space the masks never change an index.
 *
 * quicsteer's own layout (docs/cid-layout.md) is also here because the kernel
 * needs it: the server ID a QUIC-LB configuration carries is the host ID
 * followed by a 4-octet routing key (generation, worker).
 */
#ifndef QUICSTEER_LB_CORE_H
#define QUICSTEER_LB_CORE_H

#include "quicsteer/types.h"
#include "quicsteer/errors.h"

#if !defined(QS_LB_CIPHER) || !defined(QS_LB_AES_ENCRYPT) || !defined(QS_LB_AES_DECRYPT)
#error "define QS_LB_CIPHER, QS_LB_AES_ENCRYPT and QS_LB_AES_DECRYPT before including lb_core.h"
#endif

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

/* One Feistel pass: dst ^= truncate(AES(expand(plen, pass, src)), half).
 * The draft's expand(): the half in the leading octets, zeros, then the body
 * length and the pass number in the last two. */
QS_INLINE void qs_lb_feistel_pass(const QS_LB_CIPHER *c, uint8_t *dst, const uint8_t *src,
                                  uint32_t half, uint32_t plen, uint8_t pass) {
  uint8_t in[16], out[16];
  uint32_t i;
  for (i = 0; i < 16; i++)
    in[i] = 0;
  for (i = 0; i < QS_LB_HALF_MAX; i++) {
    if (i >= half)
      break;
    in[i] = src[i];
  }
  in[14] = (uint8_t)plen;
  in[15] = pass;
  QS_LB_AES_ENCRYPT(c, out, in);
  for (i = 0; i < QS_LB_HALF_MAX; i++) {
    if (i >= half)
      break;
    dst[i] ^= out[i];
  }
}

/* For odd lengths the middle octet is split: left keeps its high nibble,
 * right its low one; these keep the other nibble zero after every pass. */
QS_INLINE void qs_lb_trim_left(uint8_t left[QS_LB_HALF_BUF], uint32_t half, uint32_t odd) {
  if (odd)
    left[(half - 1) & (QS_LB_HALF_BUF - 1)] &= 0xf0;
}

QS_INLINE void qs_lb_trim_right(uint8_t *right, uint32_t odd) {
  if (odd)
    right[0] &= 0x0f;
}

QS_INLINE void qs_lb_split(const uint8_t *body, uint8_t *left, uint8_t *right, uint32_t plen,
                           uint32_t half) {
  uint32_t i;
  for (i = 0; i < QS_LB_HALF_MAX; i++) {
    if (i >= half)
      break;
    left[i] = body[i & (QS_LB_BUF - 1)];
    right[i] = body[(plen - half + i) & (QS_LB_BUF - 1)];
  }
  qs_lb_trim_left(left, half, plen & 1);
  qs_lb_trim_right(right, plen & 1);
}

/* Inverse of qs_lb_split: for odd lengths the shared middle octet is the OR
 * of left's high nibble and right's low nibble. */
QS_INLINE void qs_lb_join(uint8_t *body, const uint8_t *left, const uint8_t *right, uint32_t plen,
                          uint32_t half) {
  uint32_t i, j;
  for (i = 0; i < QS_LB_HALF_MAX; i++) {
    if (i >= half)
      break;
    body[i & (QS_LB_BUF - 1)] = left[i];
  }
  for (i = 0; i < QS_LB_HALF_MAX; i++) {
    if (i >= half)
      break;
    j = (plen - half + i) & (QS_LB_BUF - 1);
    if (i == 0 && (plen & 1))
      body[j] |= right[0];
    else
      body[j] = right[i];
  }
}

/* qs_lb_encrypt_body encrypts, in place, the |plen|-octet body (server ID ||
 * nonce) at the start of |body| with algorithm |alg|. */
QS_INLINE void qs_lb_encrypt_body(const QS_LB_CIPHER *c, uint8_t alg, uint8_t body[QS_LB_BUF],
                                  uint32_t plen) {
  uint8_t left[QS_LB_HALF_BUF], right[QS_LB_HALF_BUF], blk[16];
  uint32_t half = (plen + 1) / 2, odd = plen & 1, i;

  if (alg == QS_LB_AES_SINGLE) {
    QS_LB_AES_ENCRYPT(c, blk, body);
    for (i = 0; i < 16; i++)
      body[i] = blk[i];
    return;
  }
  if (alg != QS_LB_AES_FOURPASS)
    return;
  qs_lb_split(body, left, right, plen, half);
  qs_lb_feistel_pass(c, right, left, half, plen, 1);
  qs_lb_trim_right(right, odd);
  qs_lb_feistel_pass(c, left, right, half, plen, 2);
  qs_lb_trim_left(left, half, odd);
  qs_lb_feistel_pass(c, right, left, half, plen, 3);
  qs_lb_trim_right(right, odd);
  qs_lb_feistel_pass(c, left, right, half, plen, 4);
  qs_lb_trim_left(left, half, odd);
  qs_lb_join(body, left, right, plen, half);
}

/* qs_lb_decrypt_body decrypts, in place, the |plen|-octet body at the start
 * of |body|.  Only the first |need| octets are guaranteed: when they lie in
 * the left half the fourth Feistel pass is skipped, as the draft allows a
 * load balancer that needs just the server ID. */
QS_INLINE void qs_lb_decrypt_body(const QS_LB_CIPHER *c, uint8_t alg, uint8_t body[QS_LB_BUF],
                                  uint32_t plen, uint32_t need) {
  uint8_t left[QS_LB_HALF_BUF], right[QS_LB_HALF_BUF], blk[16];
  uint32_t half = (plen + 1) / 2, odd = plen & 1, i;

  if (alg == QS_LB_AES_SINGLE) {
    QS_LB_AES_DECRYPT(c, blk, body);
    for (i = 0; i < 16; i++)
      body[i] = blk[i];
    return;
  }
  if (alg != QS_LB_AES_FOURPASS)
    return;
  qs_lb_split(body, left, right, plen, half);
  qs_lb_feistel_pass(c, left, right, half, plen, 4);
  qs_lb_trim_left(left, half, odd);
  qs_lb_feistel_pass(c, right, left, half, plen, 3);
  qs_lb_trim_right(right, odd);
  qs_lb_feistel_pass(c, left, right, half, plen, 2);
  qs_lb_trim_left(left, half, odd);
  if (need > plen / 2) {
    qs_lb_feistel_pass(c, right, left, half, plen, 1);
    qs_lb_trim_right(right, odd);
  }
  qs_lb_join(body, left, right, plen, half);
}

/* ---- quicsteer's layout on top of QUIC-LB (docs/cid-layout.md) ---- */

#define QS_RK_LEN 4                                /* routing key: generation, worker */
#define QS_HOST_ID_MAX (QS_LB_MAX_SID - QS_RK_LEN) /* 11 */

QS_INLINE uint32_t qs_rk_make(uint16_t generation, uint16_t worker) {
  return ((uint32_t)generation << 16) | worker;
}
QS_INLINE uint16_t qs_rk_generation(uint32_t rk) { return (uint16_t)(rk >> 16); }
QS_INLINE uint16_t qs_rk_worker(uint32_t rk) { return (uint16_t)(rk & 0xffff); }

/* What a host needs to route its own CIDs under one configuration. */
struct qs_route_conf {
  struct qs_lb_params p; /* p.sid_len == host_id_len + QS_RK_LEN */
  uint8_t host_id_len;   /* 1..11 */
  uint8_t host_id[QS_HOST_ID_MAX];
  uint8_t pad[4];
};

/* qs_lb_route decodes the |cidlen|-octet CID at |cid| (QS_MAX_CIDLEN octets
 * readable) minted under |rc| and returns its routing key in |*rk|.  The
 * caller has matched the CID's config-rotation bits to |rc|.  Returns 0, or:
 *   QS_ERR_CIDLEN   the length is not the configuration's, or the CID
 *                   self-encodes another one;
 *   QS_ERR_FOREIGN  it decodes to another host's ID: not minted here.
 */
QS_INLINE int qs_lb_route(const QS_LB_CIPHER *c, const struct qs_route_conf *rc,
                          const uint8_t *cid, uint32_t cidlen, uint32_t *rk) {
  uint32_t plen = (uint32_t)rc->p.sid_len + rc->p.nonce_len;
  uint32_t hl = rc->host_id_len, i;
  uint8_t body[QS_LB_BUF];

  if (cidlen != plen + 1 || plen > QS_LB_MAX_BODY || hl > QS_HOST_ID_MAX)
    return QS_ERR_CIDLEN;
  if (rc->p.encode_len && (cid[0] & 0x1f) != plen)
    return QS_ERR_CIDLEN;
  for (i = 0; i < QS_LB_MAX_BODY; i++)
    body[i] = i < plen ? cid[1 + i] : 0;
  qs_lb_decrypt_body(c, rc->p.alg, body, plen, hl + QS_RK_LEN);
  for (i = 0; i < QS_HOST_ID_MAX; i++) {
    if (i >= hl)
      break;
    if (body[i] != rc->host_id[i])
      return QS_ERR_FOREIGN;
  }
  *rk = ((uint32_t)body[hl & 15] << 24) | ((uint32_t)body[(hl + 1) & 15] << 16) |
        ((uint32_t)body[(hl + 2) & 15] << 8) | body[(hl + 3) & 15];
  return 0;
}

#endif
