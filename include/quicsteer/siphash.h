/* siphash.h: SipHash, for spreading new connections over workers.
 *
 * The BPF program hashes a client-chosen DCID to pick the worker for a new
 * connection; user space uses the same code to predict that choice (tests)
 * and to agree with the kernel.  A keyed PRF rather than a plain hash, so
 * that a client cannot choose DCIDs that all land on one worker.
 *
 * qs_siphash_cd is the generic SipHash-c-d over messages of at most
 * QS_SIPHASH_MAXLEN octets (bounded loop for the verifier); tests check it
 * against the reference vectors.  The per-datagram path uses
 * qs_siphash13_w3, the same rounds over a fixed 24-octet message given as
 * three words, without any per-octet work: SipHash-1-3, as used for hash
 * tables facing untrusted keys.
 */
#ifndef QUICSTEER_SIPHASH_H
#define QUICSTEER_SIPHASH_H

#include "quicsteer/types.h"

#define QS_SIPHASH_MAXLEN 32

#define QS_SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

QS_INLINE void qs_sipround(uint64_t v[4]) {
  v[0] += v[1];
  v[1] = QS_SIP_ROTL(v[1], 13);
  v[1] ^= v[0];
  v[0] = QS_SIP_ROTL(v[0], 32);
  v[2] += v[3];
  v[3] = QS_SIP_ROTL(v[3], 16);
  v[3] ^= v[2];
  v[0] += v[3];
  v[3] = QS_SIP_ROTL(v[3], 21);
  v[3] ^= v[0];
  v[2] += v[1];
  v[1] = QS_SIP_ROTL(v[1], 17);
  v[1] ^= v[2];
  v[2] = QS_SIP_ROTL(v[2], 32);
}

QS_INLINE void qs_sip_init(uint64_t v[4], uint64_t k0, uint64_t k1) {
  v[0] = k0 ^ 0x736f6d6570736575ULL;
  v[1] = k1 ^ 0x646f72616e646f6dULL;
  v[2] = k0 ^ 0x6c7967656e657261ULL;
  v[3] = k1 ^ 0x7465646279746573ULL;
}

/* One message word through |c| compression rounds (c is a constant at
 * every call site, so the loop unrolls). */
QS_INLINE void qs_sip_word(uint64_t v[4], uint64_t m, int c) {
  int i;
  v[3] ^= m;
  for (i = 0; i < c; i++)
    qs_sipround(v);
  v[0] ^= m;
}

QS_INLINE uint64_t qs_sip_final(uint64_t v[4], int d) {
  int i;
  v[2] ^= 0xff;
  for (i = 0; i < d; i++)
    qs_sipround(v);
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* qs_siphash_cd returns SipHash-c-d of the |len| octets at |m| under the
 * 128-bit key (k0, k1) (the reference's little-endian key octets 0-7 and
 * 8-15).  Octets past QS_SIPHASH_MAXLEN are ignored; callers never pass more. */
QS_INLINE uint64_t qs_siphash_cd(int c, int d, uint64_t k0, uint64_t k1, const uint8_t *m,
                                 uint32_t len) {
  uint64_t v[4];
  uint64_t w = 0;
  uint32_t j;

  qs_sip_init(v, k0, k1);
  if (len > QS_SIPHASH_MAXLEN)
    len = QS_SIPHASH_MAXLEN;
  for (j = 0; j < QS_SIPHASH_MAXLEN; j++) {
    if (j >= len)
      break;
    w |= (uint64_t)m[j] << (8 * (j & 7));
    if ((j & 7) == 7) {
      qs_sip_word(v, w, c);
      w = 0;
    }
  }
  qs_sip_word(v, w | ((uint64_t)(len & 0xff) << 56), c);
  return qs_sip_final(v, d);
}

QS_INLINE uint64_t qs_siphash24(uint64_t k0, uint64_t k1, const uint8_t *m, uint32_t len) {
  return qs_siphash_cd(2, 4, k0, k1, m, len);
}

/* qs_siphash13_w3 is SipHash-1-3 of the 24-octet message whose
 * little-endian words are w0, w1, w2: qs_siphash_cd(1, 3, ..., 24). */
QS_INLINE uint64_t qs_siphash13_w3(uint64_t k0, uint64_t k1, uint64_t w0, uint64_t w1,
                                   uint64_t w2) {
  uint64_t v[4];
  qs_sip_init(v, k0, k1);
  qs_sip_word(v, w0, 1);
  qs_sip_word(v, w1, 1);
  qs_sip_word(v, w2, 1);
  qs_sip_word(v, (uint64_t)24 << 56, 1);
  return qs_sip_final(v, 3);
}

/* qs_hash_pick maps a 64-bit hash onto [0, n) without a division (the high
 * half of a 32x32 multiply), as the kernel and user space must agree. */
QS_INLINE uint32_t qs_hash_pick(uint64_t h, uint32_t n) {
  return (uint32_t)(((h >> 32) * (uint64_t)n) >> 32);
}

#endif
