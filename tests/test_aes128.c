/* test_aes128.c: the hand-written AES-128 of the BPF program (bpf/aes128.h),
 * built as plain C: FIPS-197 vectors, agreement with nettle on random keys
 * and blocks, and the QUIC-LB vectors decoded through lb_core.h bound to it,
 * as the kernel runs them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lb_vectors.h"
#include <nettle/aes.h>

#include "aes128.h"
#include "quicsteer/util.h"

#define QS_LB_CIPHER struct qs_aes128_rk
#define QS_LB_AES_ENCRYPT(c, o, i) qs_aes128_encrypt(c, o, i)
#define QS_LB_AES_DECRYPT(c, o, i) qs_aes128_decrypt(c, o, i)
#include "quicsteer/lb_core.h"

/* Random key/block pairs checked against nettle in each direction. */
#define RANDOM_PAIRS 131072

static void unhex(uint8_t *out, size_t want, const char *hex) {
  assert_int_equal(qs_hex_decode(out, want, hex), (int)want);
}

/* ---- FIPS-197 ---- */

static void check_fips(const char *key_hex, const char *pt_hex, const char *ct_hex) {
  struct qs_aes128_rk rk;
  uint8_t key[16], pt[16], ct[16], buf[16];

  unhex(key, 16, key_hex);
  unhex(pt, 16, pt_hex);
  unhex(ct, 16, ct_hex);
  qs_aes128_expand(&rk, key);
  qs_aes128_encrypt(&rk, buf, pt);
  assert_memory_equal(buf, ct, 16);
  qs_aes128_decrypt(&rk, buf, ct);
  assert_memory_equal(buf, pt, 16);
  /* In place, as lb_core.h and the BPF program call it. */
  memcpy(buf, pt, 16);
  qs_aes128_encrypt(&rk, buf, buf);
  assert_memory_equal(buf, ct, 16);
  qs_aes128_decrypt(&rk, buf, buf);
  assert_memory_equal(buf, pt, 16);
}

static void test_fips197_c1(void **state) {
  (void)state;
  check_fips("000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
             "69c4e0d86a7b0430d8cdb78070b4c55a");
}

static void test_fips197_appendix_b(void **state) {
  (void)state;
  check_fips("2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734",
             "3925841d02dc09fbdc118597196a0b32");
}

/* Key expansion (FIPS-197 A.1): first and last round keys of the
 * encryption schedule, and their place in the decryption schedule, which
 * the equivalent inverse cipher leaves without InvMixColumns. */
static void test_key_schedule(void **state) {
  static const uint32_t first[4] = {0x2b7e1516u, 0x28aed2a6u, 0xabf71588u, 0x09cf4f3cu};
  static const uint32_t last[4] = {0xd014f9a8u, 0xc9ee2589u, 0xe13f0cc8u, 0xb6630ca6u};
  struct qs_aes128_rk rk;
  uint8_t key[16];
  int c;

  (void)state;
  unhex(key, 16, "2b7e151628aed2a6abf7158809cf4f3c");
  qs_aes128_expand(&rk, key);
  for (c = 0; c < 4; c++) {
    assert_int_equal(rk.ek[c], first[c]);
    assert_int_equal(rk.ek[40 + c], last[c]);
    assert_int_equal(rk.dk[c], last[c]);
    assert_int_equal(rk.dk[40 + c], first[c]);
  }
}

/* ---- against nettle ---- */

/* splitmix64, seeded so that a failure can be replayed (QS_TEST_SEED). */
static uint64_t rng_state;

static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void rng_fill(uint8_t *p, size_t n) {
  while (n--)
    *p++ = (uint8_t)rng_next();
}

static void test_random_vs_nettle(void **state) {
  const char *seed_env = getenv("QS_TEST_SEED");
  uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 0x5eed0ae5u;
  uint8_t key[16], blk[16], ours[16], theirs[16];
  struct aes128_ctx enc, dec;
  struct qs_aes128_rk rk;
  int i;

  (void)state;
  rng_state = seed;
  for (i = 0; i < RANDOM_PAIRS; i++) {
    rng_fill(key, sizeof(key));
    rng_fill(blk, sizeof(blk));
    qs_aes128_expand(&rk, key);
    aes128_set_encrypt_key(&enc, key);
    aes128_set_decrypt_key(&dec, key);

    qs_aes128_encrypt(&rk, ours, blk);
    aes128_encrypt(&enc, 16, theirs, blk);
    if (memcmp(ours, theirs, 16) != 0)
      fail_msg("encrypt differs from nettle: pair %d, QS_TEST_SEED=%#llx", i,
               (unsigned long long)seed);

    qs_aes128_decrypt(&rk, ours, blk);
    aes128_decrypt(&dec, 16, theirs, blk);
    if (memcmp(ours, theirs, 16) != 0)
      fail_msg("decrypt differs from nettle: pair %d, QS_TEST_SEED=%#llx", i,
               (unsigned long long)seed);
  }
}

/* ---- QUIC-LB through lb_core.h, the kernel's binding ---- */

/* the encrypted rows only: plaintext ones do not involve the cipher */
static size_t load_encrypted(struct lb_vector *v, size_t cap) {
  size_t n = load_vectors(v, cap), k = 0, i;
  for (i = 0; i < n; i++)
    if (v[i].keyed)
      v[k++] = v[i];
  if (k == 0)
    fail_msg("the vectors file has no encrypted rows");
  return k;
}

static void test_lb_vectors(void **state) {
  struct lb_vector v[32];
  size_t n, i;
  int singles = 0, fourpass = 0;

  (void)state;
  n = load_encrypted(v, 32);
  for (i = 0; i < n; i++) {
    uint32_t plen = (uint32_t)v[i].sid_len + v[i].nonce_len;
    uint8_t alg = qs_lb_alg_for(1, plen);
    uint8_t buf[QS_LB_BUF];
    struct qs_aes128_rk rk;

    qs_aes128_expand(&rk, v[i].key);
    if (alg == QS_LB_AES_SINGLE)
      singles++;
    else
      fourpass++;

    memset(buf, 0, sizeof(buf));
    memcpy(buf, v[i].body, plen);
    qs_lb_encrypt_body(&rk, alg, buf, plen);
    assert_memory_equal(buf, v[i].cid + 1, plen);

    memset(buf, 0, sizeof(buf));
    memcpy(buf, v[i].cid + 1, plen);
    qs_lb_decrypt_body(&rk, alg, buf, plen, plen);
    assert_memory_equal(buf, v[i].body, plen);

    /* What a load balancer needs: just the server ID (the draft lets it
     * skip the last pass when the ID lies in the left half). */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, v[i].cid + 1, plen);
    qs_lb_decrypt_body(&rk, alg, buf, plen, v[i].sid_len);
    assert_memory_equal(buf, v[i].body, v[i].sid_len);
  }
  /* Both algorithms must have been exercised for this to mean anything. */
  assert_true(singles > 0);
  assert_true(fourpass > 0);
}

/* qs_lb_route as the kernel calls it, reading each vector's server ID as
 * host ID || routing key (quicsteer's layout) wherever it is long enough. */
static void test_lb_route(void **state) {
  struct lb_vector v[32];
  size_t n, i;
  int routed = 0;

  (void)state;
  n = load_encrypted(v, 32);
  for (i = 0; i < n; i++) {
    struct qs_route_conf rc;
    struct qs_aes128_rk rk;
    uint8_t cid[1 + QS_LB_MAX_BODY + 1];
    uint32_t plen = (uint32_t)v[i].sid_len + v[i].nonce_len, key, want;
    uint8_t hl;

    if (v[i].sid_len <= QS_RK_LEN)
      continue;
    hl = (uint8_t)(v[i].sid_len - QS_RK_LEN);
    memset(&rc, 0, sizeof(rc));
    rc.p.cr = v[i].cr;
    rc.p.sid_len = v[i].sid_len;
    rc.p.nonce_len = v[i].nonce_len;
    rc.p.encode_len = 1;
    rc.p.alg = qs_lb_alg_for(1, plen);
    assert_int_equal(qs_lb_params_check(&rc.p), 0);
    rc.host_id_len = hl;
    memcpy(rc.host_id, v[i].body, hl);
    qs_aes128_expand(&rk, v[i].key);

    memset(cid, 0, sizeof(cid));
    memcpy(cid, v[i].cid, 1 + plen);
    assert_int_equal(cid[0], qs_lb_first_octet(&rc.p, 0));
    want = ((uint32_t)v[i].body[hl] << 24) | ((uint32_t)v[i].body[hl + 1] << 16) |
           ((uint32_t)v[i].body[hl + 2] << 8) | v[i].body[hl + 3];
    key = 0;
    assert_int_equal(qs_lb_route(&rk, &rc, cid, 1 + plen, &key), 0);
    assert_int_equal(key, want);

    /* Another host's CID, and a CID of the wrong length, are refused. */
    rc.host_id[0] ^= 0x01;
    assert_int_equal(qs_lb_route(&rk, &rc, cid, 1 + plen, &key), QS_ERR_FOREIGN);
    rc.host_id[0] ^= 0x01;
    assert_int_equal(qs_lb_route(&rk, &rc, cid, plen, &key), QS_ERR_CIDLEN);
    routed++;
  }
  assert_true(routed > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fips197_c1),       cmocka_unit_test(test_fips197_appendix_b),
    cmocka_unit_test(test_key_schedule),     cmocka_unit_test(test_random_vs_nettle),
    cmocka_unit_test(test_lb_vectors),       cmocka_unit_test(test_lb_route),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
