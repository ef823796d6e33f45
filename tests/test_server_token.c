/* test_server_token.c: Retry and NEW_TOKEN tokens (src/server/quic/token.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "token.h"

static struct sockaddr_in addr(const char *ip, uint16_t port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static void keys(struct qs_token_key *k, uint8_t fill) {
  struct qs_secret s;
  uint8_t raw[32];
  memset(raw, fill, sizeof raw);
  assert_int_equal(qs_secret_init(&s, raw, sizeof raw), 0);
  assert_int_equal(qs_token_key_init(k, &s), 0);
}

#define S NGTCP2_SECONDS

static void test_addr_token(void **state) {
  struct qs_token_key k, other;
  uint8_t tok[NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN];
  struct sockaddr_in a = addr("192.0.2.1", 1000), b = addr("192.0.2.1", 2000),
                     c = addr("192.0.2.2", 1000);
  ngtcp2_ssize n;
  (void)state;
  keys(&k, 1);
  keys(&other, 2);
  n = qs_token_addr_make(&k, tok, (struct sockaddr *)&a, sizeof a, 100 * S);
  assert_true(n > 0);
  assert_int_equal(tok[0], NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR);
  assert_int_equal(qs_token_addr_check(&k, tok, (size_t)n, (struct sockaddr *)&a, sizeof a,
                                       101 * S),
                   0);
  /* bound to the IP address, not the port: a returning client has a new one */
  assert_int_equal(qs_token_addr_check(&k, tok, (size_t)n, (struct sockaddr *)&b, sizeof b,
                                       101 * S),
                   0);
  assert_int_equal(qs_token_addr_check(&k, tok, (size_t)n, (struct sockaddr *)&c, sizeof c,
                                       101 * S),
                   -1);
  /* expired, another secret, altered, truncated */
  assert_int_equal(qs_token_addr_check(&k, tok, (size_t)n, (struct sockaddr *)&a, sizeof a,
                                       100 * S + QS_ADDR_TOKEN_TTL),
                   -1);
  assert_int_equal(qs_token_addr_check(&other, tok, (size_t)n, (struct sockaddr *)&a, sizeof a,
                                       101 * S),
                   -1);
  tok[n - 1] ^= 1;
  assert_int_equal(qs_token_addr_check(&k, tok, (size_t)n, (struct sockaddr *)&a, sizeof a,
                                       101 * S),
                   -1);
  tok[n - 1] ^= 1;
  assert_int_equal(qs_token_addr_check(&k, tok, (size_t)n - 1, (struct sockaddr *)&a, sizeof a,
                                       101 * S),
                   -1);
  assert_int_equal(qs_token_addr_check(&k, tok, 0, (struct sockaddr *)&a, sizeof a, 101 * S), -1);
}

static void test_retry_token(void **state) {
  struct qs_token_key k;
  uint8_t tok[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
  struct sockaddr_in a = addr("192.0.2.1", 1000), b = addr("192.0.2.1", 2000);
  ngtcp2_cid scid = {.datalen = 17}, odcid = {.datalen = 8}, got;
  ngtcp2_ssize n;
  (void)state;
  memset(scid.data, 0x11, scid.datalen);
  memset(odcid.data, 0x22, odcid.datalen);
  keys(&k, 1);
  n = qs_token_retry_make(&k, tok, NGTCP2_PROTO_VER_V1, (struct sockaddr *)&a, sizeof a, &scid,
                          &odcid, 100 * S);
  assert_true(n > 0);
  assert_int_equal(qs_token_retry_check(&k, &got, tok, (size_t)n, NGTCP2_PROTO_VER_V1,
                                        (struct sockaddr *)&a, sizeof a, &scid, 101 * S),
                   0);
  assert_true(ngtcp2_cid_eq(&got, &odcid));
  /* a Retry token binds the port too, and expires quickly */
  assert_int_equal(qs_token_retry_check(&k, &got, tok, (size_t)n, NGTCP2_PROTO_VER_V1,
                                        (struct sockaddr *)&b, sizeof b, &scid, 101 * S),
                   -1);
  assert_int_equal(qs_token_retry_check(&k, &got, tok, (size_t)n, NGTCP2_PROTO_VER_V1,
                                        (struct sockaddr *)&a, sizeof a, &scid,
                                        100 * S + QS_RETRY_TOKEN_TTL),
                   -1);
  /* neither kind passes for the other */
  assert_int_equal(qs_token_addr_check(&k, tok, (size_t)n, (struct sockaddr *)&a, sizeof a,
                                       101 * S),
                   -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr_token),
      cmocka_unit_test(test_retry_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
