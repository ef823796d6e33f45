/* aes128.h: AES-128 for the BPF steering program, where no crypto library
 * can be called.  User space uses nettle; this header also builds as plain C
 * so that tests can check it against nettle and so that user space can
 * compute the round keys it stores in the BPF map (struct qs_aes128_rk).
 *
 * Table-driven ("T-table") rounds: each round is 16 word lookups and XORs,
 * which JIT-compiled BPF runs much faster than byte-wise xtime arithmetic.
 * Decryption uses the equivalent inverse cipher, so its rounds have the same
 * shape as encryption's; that needs InvMixColumns applied to the middle round
 * keys, done once here by qs_aes128_expand rather than per datagram.  Cost
 * in the kernel: ~70 ns per block JIT-compiled (BENCHMARKS.md, "AES-128
 * inside BPF", which also lists the slower alternatives tried).
 *
 * BPF constraints honoured: no loops in the per-block code (rounds are
 * unrolled), every table index is masked to 0..255 so the verifier can bound
 * each .rodata load, and |in| / |out| are accessed octet by octet because
 * they are stack buffers of unknown alignment.
 *
 * Round keys are big-endian column words: ek[4 r + c] is column c of round
 * key r; dk[4 r + c] the same for decryption round r (dk round 0 = ek round
 * 10, dk round 10 = ek round 0).
 */
#ifndef QUICSTEER_AES128_H
#define QUICSTEER_AES128_H

#include "quicsteer/types.h"
#include "quicsteer/steer_abi.h"
#include "aes128_tables.h"

/* Octet n (0 = most significant) of a column word, as a table index. */
#define QS_AES_B0(w) (((w) >> 24) & 0xff)
#define QS_AES_B1(w) (((w) >> 16) & 0xff)
#define QS_AES_B2(w) (((w) >> 8) & 0xff)
#define QS_AES_B3(w) ((w) & 0xff)

QS_INLINE uint32_t qs_aes_load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

QS_INLINE void qs_aes_store_be32(uint8_t *p, uint32_t w) {
  p[0] = (uint8_t)(w >> 24);
  p[1] = (uint8_t)(w >> 16);
  p[2] = (uint8_t)(w >> 8);
  p[3] = (uint8_t)w;
}

/* InvMixColumns of one column.  Td_n[S(x)] is the InvMixColumns coefficient
 * column for row n times x, so the decryption tables serve here too. */
QS_INLINE uint32_t qs_aes_inv_mix(uint32_t w) {
  return qs_aes_td0[qs_aes_sbox[QS_AES_B0(w)]] ^ qs_aes_td1[qs_aes_sbox[QS_AES_B1(w)]] ^
         qs_aes_td2[qs_aes_sbox[QS_AES_B2(w)]] ^ qs_aes_td3[qs_aes_sbox[QS_AES_B3(w)]];
}

/* qs_aes128_expand fills |rk| with the encryption and decryption round keys
 * of the 16-octet |key|.  Not for the per-datagram path: user space calls it
 * when it installs a configuration. */
QS_INLINE void qs_aes128_expand(struct qs_aes128_rk *rk, const uint8_t key[16]) {
  uint32_t w, rcon = 1;
  uint32_t i, c;

  for (i = 0; i < 4; i++)
    rk->ek[i] = qs_aes_load_be32(key + 4 * i);
  for (i = 4; i < 44; i++) {
    w = rk->ek[i - 1];
    if ((i & 3) == 0) {
      /* RotWord then SubWord, then the round constant in row 0. */
      w = ((uint32_t)qs_aes_sbox[QS_AES_B1(w)] << 24) | ((uint32_t)qs_aes_sbox[QS_AES_B2(w)] << 16) |
          ((uint32_t)qs_aes_sbox[QS_AES_B3(w)] << 8) | qs_aes_sbox[QS_AES_B0(w)];
      w ^= rcon << 24;
      rcon = (rcon << 1) ^ ((rcon >> 7) * 0x11b); /* xtime */
    }
    rk->ek[i] = rk->ek[i - 4] ^ w;
  }
  /* Equivalent inverse cipher: round keys in reverse order, the inner ones
   * passed through InvMixColumns. */
  for (i = 0; i <= 10; i++) {
    for (c = 0; c < 4; c++) {
      w = rk->ek[4 * (10 - i) + c];
      rk->dk[4 * i + c] = (i == 0 || i == 10) ? w : qs_aes_inv_mix(w);
    }
  }
}

/* The state words hold 32-bit values but are declared 64-bit: built with
 * alu32 (clang -mcpu=v3) clang then picks cheaper index arithmetic, ~60
 * fewer instructions per block (1470 -> 1407 BPF instructions in
 * bench/bpf_aes_probe.bpf.c's one-block program, ~8% faster); without alu32
 * the code is the same either way.
 * Measurements: BENCHMARKS.md, "AES-128 inside BPF". */

/* One middle round: SubBytes + ShiftRows + MixColumns through Te0..Te3, then
 * AddRoundKey.  Column c of the result takes row n from column c + n. */
#define QS_AES_EROUND(d, s, k)                                                                       \
  do {                                                                                               \
    d##0 = qs_aes_te0[QS_AES_B0(s##0)] ^ qs_aes_te1[QS_AES_B1(s##1)] ^ qs_aes_te2[QS_AES_B2(s##2)] ^ \
           qs_aes_te3[QS_AES_B3(s##3)] ^ (k)[0];                                                     \
    d##1 = qs_aes_te0[QS_AES_B0(s##1)] ^ qs_aes_te1[QS_AES_B1(s##2)] ^ qs_aes_te2[QS_AES_B2(s##3)] ^ \
           qs_aes_te3[QS_AES_B3(s##0)] ^ (k)[1];                                                     \
    d##2 = qs_aes_te0[QS_AES_B0(s##2)] ^ qs_aes_te1[QS_AES_B1(s##3)] ^ qs_aes_te2[QS_AES_B2(s##0)] ^ \
           qs_aes_te3[QS_AES_B3(s##1)] ^ (k)[2];                                                     \
    d##3 = qs_aes_te0[QS_AES_B0(s##3)] ^ qs_aes_te1[QS_AES_B1(s##0)] ^ qs_aes_te2[QS_AES_B2(s##1)] ^ \
           qs_aes_te3[QS_AES_B3(s##2)] ^ (k)[3];                                                     \
  } while (0)

/* The inverse round: InvShiftRows takes row n of column c from column c - n. */
#define QS_AES_DROUND(d, s, k)                                                                       \
  do {                                                                                               \
    d##0 = qs_aes_td0[QS_AES_B0(s##0)] ^ qs_aes_td1[QS_AES_B1(s##3)] ^ qs_aes_td2[QS_AES_B2(s##2)] ^ \
           qs_aes_td3[QS_AES_B3(s##1)] ^ (k)[0];                                                     \
    d##1 = qs_aes_td0[QS_AES_B0(s##1)] ^ qs_aes_td1[QS_AES_B1(s##0)] ^ qs_aes_td2[QS_AES_B2(s##3)] ^ \
           qs_aes_td3[QS_AES_B3(s##2)] ^ (k)[1];                                                     \
    d##2 = qs_aes_td0[QS_AES_B0(s##2)] ^ qs_aes_td1[QS_AES_B1(s##1)] ^ qs_aes_td2[QS_AES_B2(s##0)] ^ \
           qs_aes_td3[QS_AES_B3(s##3)] ^ (k)[2];                                                     \
    d##3 = qs_aes_td0[QS_AES_B0(s##3)] ^ qs_aes_td1[QS_AES_B1(s##2)] ^ qs_aes_td2[QS_AES_B2(s##1)] ^ \
           qs_aes_td3[QS_AES_B3(s##0)] ^ (k)[3];                                                     \
  } while (0)

/* The last round has no (Inv)MixColumns: plain S-box octets, shifted into
 * place, written out octet-wise with the last round key. */
#define QS_AES_LAST(out, box, a, b, c, d, kw)                                                        \
  qs_aes_store_be32(out, (((uint32_t)box[QS_AES_B0(a)] << 24) | ((uint32_t)box[QS_AES_B1(b)] << 16) | \
                          ((uint32_t)box[QS_AES_B2(c)] << 8) | (uint32_t)box[QS_AES_B3(d)]) ^ (kw))

/* qs_aes128_encrypt encrypts the block |in| into |out| (may alias). */
QS_INLINE void qs_aes128_encrypt(const struct qs_aes128_rk *rk, uint8_t out[16],
                                 const uint8_t in[16]) {
  const uint32_t *k = rk->ek;
  uint64_t s0, s1, s2, s3, t0, t1, t2, t3; /* 64-bit: see the note before QS_AES_EROUND */

  s0 = qs_aes_load_be32(in) ^ k[0];
  s1 = qs_aes_load_be32(in + 4) ^ k[1];
  s2 = qs_aes_load_be32(in + 8) ^ k[2];
  s3 = qs_aes_load_be32(in + 12) ^ k[3];
  QS_AES_EROUND(t, s, k + 4);
  QS_AES_EROUND(s, t, k + 8);
  QS_AES_EROUND(t, s, k + 12);
  QS_AES_EROUND(s, t, k + 16);
  QS_AES_EROUND(t, s, k + 20);
  QS_AES_EROUND(s, t, k + 24);
  QS_AES_EROUND(t, s, k + 28);
  QS_AES_EROUND(s, t, k + 32);
  QS_AES_EROUND(t, s, k + 36);
  QS_AES_LAST(out, qs_aes_sbox, t0, t1, t2, t3, k[40]);
  QS_AES_LAST(out + 4, qs_aes_sbox, t1, t2, t3, t0, k[41]);
  QS_AES_LAST(out + 8, qs_aes_sbox, t2, t3, t0, t1, k[42]);
  QS_AES_LAST(out + 12, qs_aes_sbox, t3, t0, t1, t2, k[43]);
}

/* qs_aes128_decrypt decrypts the block |in| into |out| (may alias). */
QS_INLINE void qs_aes128_decrypt(const struct qs_aes128_rk *rk, uint8_t out[16],
                                 const uint8_t in[16]) {
  const uint32_t *k = rk->dk;
  uint64_t s0, s1, s2, s3, t0, t1, t2, t3; /* 64-bit: see the note before QS_AES_EROUND */

  s0 = qs_aes_load_be32(in) ^ k[0];
  s1 = qs_aes_load_be32(in + 4) ^ k[1];
  s2 = qs_aes_load_be32(in + 8) ^ k[2];
  s3 = qs_aes_load_be32(in + 12) ^ k[3];
  QS_AES_DROUND(t, s, k + 4);
  QS_AES_DROUND(s, t, k + 8);
  QS_AES_DROUND(t, s, k + 12);
  QS_AES_DROUND(s, t, k + 16);
  QS_AES_DROUND(t, s, k + 20);
  QS_AES_DROUND(s, t, k + 24);
  QS_AES_DROUND(t, s, k + 28);
  QS_AES_DROUND(s, t, k + 32);
  QS_AES_DROUND(t, s, k + 36);
  QS_AES_LAST(out, qs_aes_inv_sbox, t0, t3, t2, t1, k[40]);
  QS_AES_LAST(out + 4, qs_aes_inv_sbox, t1, t0, t3, t2, k[41]);
  QS_AES_LAST(out + 8, qs_aes_inv_sbox, t2, t1, t0, t3, k[42]);
  QS_AES_LAST(out + 12, qs_aes_inv_sbox, t3, t2, t1, t0, k[43]);
}

#endif
