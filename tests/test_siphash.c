/* test_siphash.c: siphash.h against SipHash reference values, computed
 * here by a separate implementation written from the algorithm's
 * description (word-at-a-time with named state variables, any c and d),
 * anchored by three published SipHash-2-4 outputs: qs_siphash24, the
 * generic qs_siphash_cd (the 1-3 variant too), the fixed-size
 * qs_siphash13_w3 of the per-datagram path; and qs_hash_pick's range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quicsteer/siphash.h"

/* ---- an independent SipHash-2-4 ---- */

static uint64_t rotl64(uint64_t x, unsigned b) { return (x << b) | (x >> (64 - b)); }

static uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

struct sip {
  uint64_t a, b, c, d; /* v0..v3 */
};

static void round_(struct sip *s) {
  s->a += s->b;
  s->c += s->d;
  s->b = rotl64(s->b, 13) ^ s->a;
  s->d = rotl64(s->d, 16) ^ s->c;
  s->a = rotl64(s->a, 32);
  s->c += s->b;
  s->a += s->d;
  s->b = rotl64(s->b, 17) ^ s->c;
  s->d = rotl64(s->d, 21) ^ s->a;
  s->c = rotl64(s->c, 32);
}

static uint64_t ref_siphash(int c, int d, const uint8_t key[16], const uint8_t *m, size_t len) {
  uint64_t k0 = load_le64(key), k1 = load_le64(key + 8), last;
  struct sip s = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                  k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
  uint8_t tail[8] = {0};
  size_t off;
  int r;

  for (off = 0; off + 8 <= len; off += 8) {
    uint64_t w = load_le64(m + off);
    s.d ^= w;
    for (r = 0; r < c; r++)
      round_(&s);
    s.a ^= w;
  }
  memcpy(tail, m + off, len - off);
  tail[7] = (uint8_t)len;
  last = load_le64(tail);
  s.d ^= last;
  for (r = 0; r < c; r++)
    round_(&s);
  s.a ^= last;
  s.c ^= 0xff;
  for (r = 0; r < d; r++)
    round_(&s);
  return s.a ^ s.b ^ s.c ^ s.d;
}

static uint64_t ref_siphash24(const uint8_t key[16], const uint8_t *m, size_t len) {
  return ref_siphash(2, 4, key, m, len);
}

/* ---- tests ---- */

static uint8_t key[16], msg[64];

static int setup(void **state) {
  int i;
  (void)state;
  for (i = 0; i < 16; i++)
    key[i] = (uint8_t)i;
  for (i = 0; i < 64; i++)
    msg[i] = (uint8_t)i;
  return 0;
}

static uint64_t ours(size_t len) {
  return qs_siphash24(load_le64(key), load_le64(key + 8), msg, (uint32_t)len);
}

/* Published outputs for key 00..0f and message 00..len-1: the reference
 * implementation's first two vectors, and the SipHash paper's example. */
static void test_anchors(void **state) {
  (void)state;
  assert_true(ref_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
  assert_true(ours(0) == 0x726fdb47dd0e0e31ULL);
  assert_true(ref_siphash24(key, msg, 1) == 0x74f839c593dc67fdULL);
  assert_true(ours(1) == 0x74f839c593dc67fdULL);
  assert_true(ref_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
  assert_true(ours(15) == 0xa129ca6149be45e5ULL);
}

static void test_reference_vectors(void **state) {
  size_t len;

  (void)state;
  for (len = 0; len < QS_SIPHASH_MAXLEN; len++) {
    uint64_t want = ref_siphash24(key, msg, len), got = ours(len);
    if (want != got)
      fail_msg("length %zu: got %016llx, want %016llx", len, (unsigned long long)got,
               (unsigned long long)want);
  }
  /* And the longest message callers may pass. */
  assert_true(ours(QS_SIPHASH_MAXLEN) == ref_siphash24(key, msg, QS_SIPHASH_MAXLEN));
}

/* Other keys and contents: a 20-octet CID under changing keys. */
static void test_other_keys(void **state) {
  uint8_t k[16], m[20];
  uint64_t x = 0x0123456789abcdefULL;
  int i, j;

  (void)state;
  for (i = 0; i < 1000; i++) {
    for (j = 0; j < 16; j++)
      k[j] = (uint8_t)((x = x * 6364136223846793005ULL + 1442695040888963407ULL) >> 56);
    for (j = 0; j < 20; j++)
      m[j] = (uint8_t)((x = x * 6364136223846793005ULL + 1442695040888963407ULL) >> 56);
    assert_true(qs_siphash24(load_le64(k), load_le64(k + 8), m, (uint32_t)(i % 21)) ==
                ref_siphash24(k, m, (size_t)(i % 21)));
  }
}

/* SipHash-1-3: the generic form at every length, and the three-word form
 * the kernel uses per datagram over a 24-octet message. */
static void test_siphash13(void **state) {
  uint8_t k[16], m[24];
  uint64_t x = 0xfeedfacecafebeefULL;
  size_t len;
  int i, j;

  (void)state;
  for (len = 0; len <= QS_SIPHASH_MAXLEN; len++)
    assert_true(qs_siphash_cd(1, 3, load_le64(key), load_le64(key + 8), msg, (uint32_t)len) ==
                ref_siphash(1, 3, key, msg, len));
  assert_true(ref_siphash(1, 3, key, msg, 8) != ref_siphash24(key, msg, 8));
  for (i = 0; i < 1000; i++) {
    for (j = 0; j < 16; j++)
      k[j] = (uint8_t)((x = x * 6364136223846793005ULL + 1442695040888963407ULL) >> 56);
    for (j = 0; j < 24; j++)
      m[j] = (uint8_t)((x = x * 6364136223846793005ULL + 1442695040888963407ULL) >> 56);
    assert_true(qs_siphash13_w3(load_le64(k), load_le64(k + 8), load_le64(m), load_le64(m + 8),
                                load_le64(m + 16)) == ref_siphash(1, 3, k, m, 24));
  }
}

/* Documented: octets past QS_SIPHASH_MAXLEN are ignored. */
static void test_overlong_clamped(void **state) {
  (void)state;
  assert_true(ours(QS_SIPHASH_MAXLEN + 9) == ours(QS_SIPHASH_MAXLEN));
}

static void test_hash_pick(void **state) {
  uint32_t n, counts[7] = {0};
  uint64_t h;
  int i;

  (void)state;
  for (n = 1; n < 300; n++) {
    assert_int_equal(qs_hash_pick(0, n), 0);
    assert_int_equal(qs_hash_pick(UINT64_MAX, n), n - 1);
    assert_true(qs_hash_pick(0x8000000000000000ULL, n) == n / 2);
  }
  /* Spread: 70000 SipHash outputs over 7 buckets, each within 5%. */
  for (i = 0; i < 70000; i++) {
    uint8_t m[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), 0};
    h = qs_siphash24(1, 2, m, 4);
    counts[qs_hash_pick(h, 7)]++;
  }
  for (i = 0; i < 7; i++)
    assert_true(counts[i] > 9500 && counts[i] < 10500);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_anchors),          cmocka_unit_test(test_reference_vectors),
      cmocka_unit_test(test_other_keys),       cmocka_unit_test(test_siphash13),
      cmocka_unit_test(test_overlong_clamped),
      cmocka_unit_test(test_hash_pick),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
