/* test_server_pkey.c: QUIC packet protection keys (src/server/quic/pkey.c)
 * against RFC 9001 Appendix A, and against libngtcp2_crypto_gnutls's own
 * HKDF-Expand-Label for every version, hash and length the server uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "pkey.h"

static size_t unhex(const char *h, uint8_t *out) {
  size_t n = 0;
  unsigned v;
  for (; h[0] && h[1]; h += 2) {
    assert_int_equal(sscanf(h, "%2x", &v), 1);
    out[n++] = (uint8_t)v;
  }
  return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want) {
  uint8_t w[64];
  assert_int_equal(unhex(want, w), len);
  assert_memory_equal(got, w, len);
}

/* RFC 9001 A.1: the Initial keys of DCID 0x8394c8f03e515708 */
static void test_rfc9001_initial(void **state) {
  uint8_t dcid[8], c[32], s[32], key[16], iv[12], hp[16];
  (void)state;
  unhex("8394c8f03e515708", dcid);
  qs_pkey_initial_secrets(NGTCP2_PROTO_VER_V1, dcid, sizeof dcid, c, s);
  assert_hex(c, 32, "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea");
  assert_hex(s, 32, "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b");
  assert_int_equal(qs_pkey_derive(NGTCP2_PROTO_VER_V1, c, 32, 16, 12, key, iv, hp), 0);
  assert_hex(key, 16, "1f369613dd76d5467730efcbe3b1a22d");
  assert_hex(iv, 12, "fa044b2f42a3fd3b46fb255c");
  assert_hex(hp, 16, "9f50449e04a0e810283a1e9933adedd2");
  assert_int_equal(qs_pkey_derive(NGTCP2_PROTO_VER_V1, s, 32, 16, 12, key, iv, hp), 0);
  assert_hex(key, 16, "cf3a5331653c364c88f0f379b6067e37");
  assert_hex(iv, 12, "0ac1493ca1905853b0bba03e");
  assert_hex(hp, 16, "c206b8d9b9f0f37644430b490eeaa314");
}

/* RFC 9001 A.5: ChaCha20-Poly1305 1-RTT keys and the key update */
static void test_rfc9001_chacha_ku(void **state) {
  uint8_t secret[32], key[32], iv[12], hp[32], ku[32];
  (void)state;
  unhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b", secret);
  assert_int_equal(qs_pkey_derive(NGTCP2_PROTO_VER_V1, secret, 32, 32, 12, key, iv, hp), 0);
  assert_hex(key, 32, "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8");
  assert_hex(iv, 12, "e0459b3474bdd0e44a41c144");
  assert_hex(hp, 32, "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4");
  assert_int_equal(qs_pkey_next_secret(secret, 32, ku), 0);
  assert_hex(ku, 32, "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9");
}

static void lib_label(uint8_t *out, size_t outlen, gnutls_digest_algorithm_t dig,
                      const uint8_t *secret, size_t secretlen, const char *label) {
  ngtcp2_crypto_md md = {.native_handle = (void *)(intptr_t)dig};
  assert_int_equal(ngtcp2_crypto_hkdf_expand_label(out, outlen, &md, secret, secretlen,
                                                   (const uint8_t *)label, strlen(label)),
                   0);
}

/* every version's labels, SHA-256 and SHA-384 secrets, every key length
 * of the TLS 1.3 suites the server offers, as libngtcp2_crypto derives them */
static void test_same_as_ngtcp2_crypto(void **state) {
  static const struct {
    uint32_t v;
    const char *key, *iv, *hp;
  } vers[] = {
      {NGTCP2_PROTO_VER_V1, "quic key", "quic iv", "quic hp"},
      {NGTCP2_PROTO_VER_V2_DRAFT, "quicv2 key", "quicv2 iv", "quicv2 hp"},
      {0xff00001du, "quic key", "quic iv", "quic hp"}, /* draft-29 */
  };
  static const size_t keylens[] = {16, 32};
  uint8_t secret[48], key[32], iv[12], hp[32], want[48], ku[48];
  (void)state;
  for (size_t i = 0; i < sizeof secret; i++)
    secret[i] = (uint8_t)(i * 7 + 3);
  for (size_t v = 0; v < sizeof vers / sizeof vers[0]; v++)
    for (size_t h = 0; h < 2; h++) {
      size_t slen = h ? 48 : 32;
      gnutls_digest_algorithm_t dig = h ? GNUTLS_DIG_SHA384 : GNUTLS_DIG_SHA256;
      for (size_t k = 0; k < 2; k++) {
        size_t klen = keylens[k];
        assert_int_equal(qs_pkey_derive(vers[v].v, secret, slen, klen, 12, key, iv, hp), 0);
        lib_label(want, klen, dig, secret, slen, vers[v].key);
        assert_memory_equal(key, want, klen);
        lib_label(want, 12, dig, secret, slen, vers[v].iv);
        assert_memory_equal(iv, want, 12);
        lib_label(want, klen, dig, secret, slen, vers[v].hp);
        assert_memory_equal(hp, want, klen);
      }
      assert_int_equal(qs_pkey_next_secret(secret, slen, ku), 0);
      lib_label(want, slen, dig, secret, slen, "quic ku");
      assert_memory_equal(ku, want, slen);
    }
}

/* the versions' Initial secrets differ (a salt per version), and depend on
 * every octet of the DCID */
static void test_initial_versions(void **state) {
  uint8_t dcid[20], c1[32], s1[32], c2[32], s2[32];
  (void)state;
  memset(dcid, 0x42, sizeof dcid);
  qs_pkey_initial_secrets(NGTCP2_PROTO_VER_V1, dcid, sizeof dcid, c1, s1);
  qs_pkey_initial_secrets(NGTCP2_PROTO_VER_V2_DRAFT, dcid, sizeof dcid, c2, s2);
  assert_memory_not_equal(c1, c2, 32);
  assert_memory_not_equal(s1, s2, 32);
  assert_memory_not_equal(c1, s1, 32);
  dcid[19] ^= 1;
  qs_pkey_initial_secrets(NGTCP2_PROTO_VER_V1, dcid, sizeof dcid, c2, s2);
  assert_memory_not_equal(c1, c2, 32);
  /* an empty DCID is a valid input */
  qs_pkey_initial_secrets(NGTCP2_PROTO_VER_V1, dcid, 0, c2, s2);
}

static void test_bad_lengths(void **state) {
  uint8_t secret[64] = {0}, key[64], iv[64], hp[64];
  (void)state;
  assert_int_equal(qs_pkey_derive(NGTCP2_PROTO_VER_V1, secret, 64, 16, 12, key, iv, hp), -1);
  assert_int_equal(qs_pkey_derive(NGTCP2_PROTO_VER_V1, secret, 31, 16, 12, key, iv, hp), -1);
  assert_int_equal(qs_pkey_derive(NGTCP2_PROTO_VER_V1, secret, 32, 33, 12, key, iv, hp), -1);
  assert_int_equal(qs_pkey_derive(NGTCP2_PROTO_VER_V1, secret, 32, 16, 33, key, iv, hp), -1);
  assert_int_equal(qs_pkey_next_secret(secret, 20, key), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc9001_initial),       cmocka_unit_test(test_rfc9001_chacha_ku),
      cmocka_unit_test(test_same_as_ngtcp2_crypto), cmocka_unit_test(test_initial_versions),
      cmocka_unit_test(test_bad_lengths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
