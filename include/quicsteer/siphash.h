/* siphash.h: SipHash-2-4 over short messages, for spreading new connections.
 *
 * The BPF program hashes a client-chosen DCID with this to pick the worker
 * for a new connection; user space uses the same function to predict that
 * choice (tests) and to agree with the kernel.  A keyed PRF rather than a
 * plain hash, so that a client cannot choose DCIDs that all land on one
 * worker.  Messages are at most QS_SIPHASH_MAXLEN octets (a CID is at most
 * 20), which keeps the loop bounded for the verifier.
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

QS_INLINE void qs_sip_compress(uint64_t v[4], uint64_t m) {
  v[3] ^= m;
  qs_sipround(v);
  qs_sipround(v);
  v[0] ^= m;
}

/* qs_siphash24 returns SipHash-2-4 of the |len| octets at |m| under the
 * 128-bit key (k0, k1) (the reference's little-endian key octets 0-7 and
 * 8-15).  Octets past QS_SIPHASH_MAXLEN are ignored; callers never pass more. */
QS_INLINE uint64_t qs_siphash24(uint64_t k0, uint64_t k1, const uint8_t *m, uint32_t len) {
  uint64_t v[4];
  uint64_t w = 0;
  uint32_t j;

  v[0] = k0 ^ 0x736f6d6570736575ULL;
  v[1] = k1 ^ 0x646f72616e646f6dULL;
  v[2] = k0 ^ 0x6c7967656e657261ULL;
  v[3] = k1 ^ 0x7465646279746573ULL;
  if (len > QS_SIPHASH_MAXLEN)
    len = QS_SIPHASH_MAXLEN;
  for (j = 0; j < QS_SIPHASH_MAXLEN; j++) {
    if (j >= len)
      break;
    w |= (uint64_t)m[j] << (8 * (j & 7));
    if ((j & 7) == 7) {
      qs_sip_compress(v, w);
      w = 0;
    }
  }
  qs_sip_compress(v, w | ((uint64_t)(len & 0xff) << 56));
  v[2] ^= 0xff;
  qs_sipround(v);
  qs_sipround(v);
  qs_sipround(v);
  qs_sipround(v);
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* qs_hash_pick maps a 64-bit hash onto [0, n) without a division (the high
 * half of a 32x32 multiply), as the kernel and user space must agree. */
QS_INLINE uint32_t qs_hash_pick(uint64_t h, uint32_t n) {
  return (uint32_t)(((h >> 32) * (uint64_t)n) >> 32);
}

#endif
