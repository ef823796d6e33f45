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
 * The cipher-free types and limits are in lb_types.h.
 */
#ifndef QUICSTEER_LB_CORE_H
#define QUICSTEER_LB_CORE_H

#include "quicsteer/lb_types.h"

#if !defined(QS_LB_CIPHER) || !defined(QS_LB_AES_ENCRYPT) || !defined(QS_LB_AES_DECRYPT)
#error "define QS_LB_CIPHER, QS_LB_AES_ENCRYPT and QS_LB_AES_DECRYPT before including lb_core.h"
#endif

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

/* qs_lb_route decodes the |cidlen|-octet CID at |cid| (QS_MAX_CIDLEN octets
 * readable) minted under |rc| and returns its routing key in |*rk|.  The
 * caller has matched the CID's config-rotation bits to |rc|.  Both server-ID
 * modes: encrypted, the whole body is deciphered and starts with the host
 * ID; clear, octets 1..L must be the host ID (checked before any AES, so a
 * foreign CID costs none) and the rest is deciphered on its own.  Returns 0,
 * or:
 *   QS_ERR_CIDLEN   the length is not the configuration's, or the CID
 *                   self-encodes another one;
 *   QS_ERR_FOREIGN  its server ID is another host's: not minted here.
 */
QS_INLINE int qs_lb_route(const QS_LB_CIPHER *c, const struct qs_route_conf *rc,
                          const uint8_t *cid, uint32_t cidlen, uint32_t *rk) {
  uint32_t plen = (uint32_t)rc->p.sid_len + rc->p.nonce_len;
  uint32_t hl = rc->host_id_len, i;
  uint32_t clear = rc->mode == QS_SID_CLEAR;
  uint32_t off = clear ? hl : 0;   /* where the enciphered part starts */
  uint32_t rkpos = clear ? 0 : hl; /* where the routing key is in it */
  uint8_t raw[QS_LB_BUF], body[QS_LB_BUF];

  if (cidlen != plen + 1 || plen > QS_LB_MAX_BODY || hl > QS_HOST_ID_MAX)
    return QS_ERR_CIDLEN;
  if (clear && hl + QS_RK_LEN + QS_LB_MIN_NONCE > plen)
    return QS_ERR_CIDLEN;
  if (rc->p.encode_len && (cid[0] & 0x1f) != plen)
    return QS_ERR_CIDLEN;
  for (i = 0; i < QS_LB_BUF; i++)
    raw[i] = 0;
  for (i = 0; i < QS_LB_MAX_BODY; i++)
    if (i < plen)
      raw[i] = cid[1 + i];
  if (clear) {
    for (i = 0; i < QS_HOST_ID_MAX; i++) {
      if (i >= hl)
        break;
      if (raw[i] != rc->host_id[i])
        return QS_ERR_FOREIGN;
    }
  }
  for (i = 0; i < QS_LB_BUF; i++)
    body[i] = i + off < QS_LB_MAX_BODY ? raw[(i + off) & (QS_LB_BUF - 1)] : 0;
  qs_lb_decrypt_body(c, qs_route_conf_alg(rc), body, plen - off, rkpos + QS_RK_LEN);
  if (!clear) {
    for (i = 0; i < QS_HOST_ID_MAX; i++) {
      if (i >= hl)
        break;
      if (body[i] != rc->host_id[i])
        return QS_ERR_FOREIGN;
    }
  }
  *rk = ((uint32_t)body[rkpos & 15] << 24) | ((uint32_t)body[(rkpos + 1) & 15] << 16) |
        ((uint32_t)body[(rkpos + 2) & 15] << 8) | body[(rkpos + 3) & 15];
  return 0;
}

#endif
