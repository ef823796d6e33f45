/* test_reset.c: the static-secret key schedule (lib/reset.c): HKDF-SHA256
 * as RFC 5869 defines it (checked with nettle's HMAC, step by step),
 * separation by label and context, stateless reset tokens, secret files
 * (given, and the instance file made on first use). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>

#include "quicsteer/reset.h"
#include "quicsteer/util.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex) {
  int n = qs_hex_decode(out, cap, hex);
  assert_true(n > 0);
  return (size_t)n;
}

/* hmac: HMAC-SHA256(key, a || b || c). */
static void hmac(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen, const uint8_t *b,
                 size_t blen, uint8_t c, uint8_t out[32]) {
  struct hmac_sha256_ctx ctx;
  hmac_sha256_set_key(&ctx, klen, key);
  hmac_sha256_update(&ctx, alen, a);
  hmac_sha256_update(&ctx, blen, b);
  hmac_sha256_update(&ctx, 1, &c);
  hmac_sha256_digest(&ctx, 32, out);
}

/* RFC 5869 test case 1 through nettle, called the way lib/reset.c calls
 * it: proves the HKDF binding before we rely on it. */
static void test_rfc5869_case1(void **state) {
  uint8_t ikm[22], salt[13], info[10], prk[32], okm[42], want_prk[32], want_okm[42];
  struct hmac_sha256_ctx mac;

  (void)state;
  memset(ikm, 0x0b, sizeof(ikm));
  unhex(salt, sizeof(salt), "000102030405060708090a0b0c");
  unhex(info, sizeof(info), "f0f1f2f3f4f5f6f7f8f9");
  unhex(want_prk, sizeof(want_prk),
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  unhex(want_okm, sizeof(want_okm),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        "34007208d5b887185865");
  hmac_sha256_set_key(&mac, sizeof(salt), salt);
  hkdf_extract(&mac, (nettle_hash_update_func *)hmac_sha256_update,
               (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE, sizeof(ikm),
               ikm, prk);
  assert_memory_equal(prk, want_prk, 32);
  hmac_sha256_set_key(&mac, sizeof(prk), prk);
  hkdf_expand(&mac, (nettle_hash_update_func *)hmac_sha256_update,
              (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE, sizeof(info),
              info, sizeof(okm), okm);
  assert_memory_equal(okm, want_okm, 42);
}

/* qs_secret_* is RFC 5869 with salt "quicsteer v1" and info label || 0 ||
 * ctx: recompute both steps with bare HMAC. */
static void test_secret_is_hkdf(void **state) {
  static const uint8_t secret[20] = "0123456789abcdefghij";
  static const uint8_t cid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  static const char label[] = "stateless reset";
  uint8_t prk[32], t1[32], t2[32], out[64], info[sizeof(label) + sizeof(cid)];
  struct qs_secret s;

  (void)state;
  assert_int_equal(qs_secret_init(&s, secret, sizeof(secret)), 0);
  { /* Extract: PRK = HMAC(salt, IKM). */
    struct hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, 12, (const uint8_t *)"quicsteer v1");
    hmac_sha256_update(&ctx, sizeof(secret), secret);
    hmac_sha256_digest(&ctx, 32, prk);
  }
  assert_memory_equal(s.prk, prk, 32);
  memcpy(info, label, sizeof(label)); /* with its NUL */
  memcpy(info + sizeof(label), cid, sizeof(cid));
  /* Expand: T(1) = HMAC(PRK, info || 1), T(2) = HMAC(PRK, T(1) || info || 2). */
  hmac(prk, 32, NULL, 0, info, sizeof(info), 1, t1);
  hmac(prk, 32, t1, 32, info, sizeof(info), 2, t2);
  assert_int_equal(qs_secret_derive(&s, label, cid, sizeof(cid), out, 64), 0);
  assert_memory_equal(out, t1, 32);
  assert_memory_equal(out + 32, t2, 32);
  /* The reset token is the first 16 octets of that. */
  qs_reset_token(&s, cid, sizeof(cid), out);
  assert_memory_equal(out, t1, QS_RESET_TOKEN_LEN);
  qs_secret_wipe(&s);
}

static void test_derive_separation(void **state) {
  static const uint8_t secret[32] = {7};
  struct qs_secret s, s2;
  uint8_t a[32], b[32];

  (void)state;
  assert_int_equal(qs_secret_init(&s, secret, sizeof(secret)), 0);
  assert_int_equal(qs_secret_init(&s2, secret, sizeof(secret)), 0);
  assert_int_equal(qs_secret_derive(&s, "retry token", NULL, 0, a, 32), 0);
  assert_int_equal(qs_secret_derive(&s2, "retry token", NULL, 0, b, 32), 0);
  assert_memory_equal(a, b, 32); /* deterministic */
  assert_int_equal(qs_secret_derive(&s, "cid key", NULL, 0, b, 32), 0);
  assert_memory_not_equal(a, b, 32); /* label-separated */
  assert_int_equal(qs_secret_derive(&s, "retry token", (const uint8_t *)"x", 1, b, 32), 0);
  assert_memory_not_equal(a, b, 32); /* context-separated */
  /* No label + context run-together collides with another split. */
  assert_int_equal(qs_secret_derive(&s, "ab", (const uint8_t *)"c", 1, a, 32), 0);
  assert_int_equal(qs_secret_derive(&s, "a", (const uint8_t *)"bc", 2, b, 32), 0);
  assert_memory_not_equal(a, b, 32);
  /* A shorter output is a prefix of a longer one (HKDF-Expand). */
  assert_int_equal(qs_secret_derive(&s, "cid key", NULL, 0, a, 32), 0);
  assert_int_equal(qs_secret_derive(&s, "cid key", NULL, 0, b, 16), 0);
  assert_memory_equal(a, b, 16);
  qs_secret_wipe(&s);
  qs_secret_wipe(&s2);
}

static void test_derive_errors(void **state) {
  static const uint8_t secret[16] = {1};
  char label[80];
  uint8_t out[32], ctx[300] = {0};
  struct qs_secret s;

  (void)state;
  assert_int_equal(qs_secret_init(&s, secret, 15), QS_ERR_INVAL);
  assert_int_equal(qs_secret_init(&s, secret, 16), 0);
  assert_int_equal(qs_secret_derive(&s, "x", NULL, 0, out, 0), QS_ERR_INVAL);
  assert_int_equal(qs_secret_derive(&s, "x", NULL, 0, out, 255 * 32 + 1), QS_ERR_INVAL);
  assert_int_equal(qs_secret_derive(&s, "x", ctx, 256, out, 32), QS_ERR_INVAL);
  assert_int_equal(qs_secret_derive(&s, "x", ctx, 255, out, 32), 0);
  memset(label, 'l', sizeof(label));
  label[65] = '\0';
  assert_int_equal(qs_secret_derive(&s, label, NULL, 0, out, 32), QS_ERR_INVAL);
  label[64] = '\0';
  assert_int_equal(qs_secret_derive(&s, label, NULL, 0, out, 32), 0);
  qs_secret_wipe(&s);
}

static void test_reset_tokens(void **state) {
  static const uint8_t secret[32] = {1, 2, 3}, secret2[32] = {1, 2, 4};
  uint8_t cid[20] = {0}, t[QS_RESET_TOKEN_LEN], u[QS_RESET_TOKEN_LEN];
  uint8_t seen[256][QS_RESET_TOKEN_LEN];
  struct qs_secret s, s2;
  int i, j;

  (void)state;
  assert_int_equal(qs_secret_init(&s, secret, sizeof(secret)), 0);
  assert_int_equal(qs_secret_init(&s2, secret2, sizeof(secret2)), 0);
  for (i = 0; i < 256; i++) {
    cid[5] = (uint8_t)i;
    qs_reset_token(&s, cid, 17, seen[i]);
    qs_reset_token(&s, cid, 17, t);
    assert_memory_equal(t, seen[i], QS_RESET_TOKEN_LEN); /* stable */
    qs_reset_token(&s2, cid, 17, u);
    assert_memory_not_equal(t, u, QS_RESET_TOKEN_LEN); /* per secret */
    for (j = 0; j < i; j++)
      assert_memory_not_equal(seen[i], seen[j], QS_RESET_TOKEN_LEN); /* per CID */
  }
  /* Same octets, different length: a different CID. */
  qs_reset_token(&s, cid, 16, t);
  qs_reset_token(&s, cid, 17, u);
  assert_memory_not_equal(t, u, QS_RESET_TOKEN_LEN);
  qs_reset_token(&s, cid, 0, t);
  qs_secret_wipe(&s);
  qs_secret_wipe(&s2);
}

static void test_secret_random(void **state) {
  static const uint8_t zero[sizeof(struct qs_secret)];
  struct qs_secret a, b;

  (void)state;
  assert_int_equal(qs_secret_random(&a), 0);
  assert_int_equal(qs_secret_random(&b), 0);
  assert_memory_not_equal(a.prk, b.prk, 32);
  qs_secret_wipe(&a);
  assert_memory_equal(&a, zero, sizeof(a));
  qs_secret_wipe(&b);
}

/* ---- secret files ---- */

static char dir[] = "/tmp/qs_test_reset_XXXXXX";

static int make_dir(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
  char cmd[128];
  (void)state;
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const void *data, size_t len) {
  static char path[256];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return path;
}

static void test_secret_load(void **state) {
  static const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  uint8_t raw[32], big[5000];
  struct qs_secret want, got;
  char text[128];

  (void)state;
  unhex(raw, sizeof(raw), hex);
  assert_int_equal(qs_secret_init(&want, raw, sizeof(raw)), 0);

  assert_int_equal(qs_secret_load(&got, write_file("raw", raw, sizeof(raw))), 0);
  assert_memory_equal(got.prk, want.prk, 32);
  assert_int_equal(qs_secret_load(&got, write_file("hex", hex, strlen(hex))), 0);
  assert_memory_equal(got.prk, want.prk, 32);
  snprintf(text, sizeof(text), "%s\n", hex);
  assert_int_equal(qs_secret_load(&got, write_file("hexnl", text, strlen(text))), 0);
  assert_memory_equal(got.prk, want.prk, 32);
  snprintf(text, sizeof(text), "%s", hex);
  text[21] = 'A'; /* upper case is hex too: 0a -> 0A */
  assert_int_equal(qs_secret_load(&got, write_file("hexuc", text, strlen(text))), 0);
  assert_memory_equal(got.prk, want.prk, 32);

  /* Text that is not hex is raw octets: still a secret of its length. */
  assert_int_equal(qs_secret_load(&got, write_file("pass", "correct horse battery", 21)), 0);
  assert_int_equal(qs_secret_init(&want, (const uint8_t *)"correct horse battery", 21), 0);
  assert_memory_equal(got.prk, want.prk, 32);

  /* Too short, as raw (15 octets) and as hex (15 octets in 30 digits). */
  assert_int_equal(qs_secret_load(&got, write_file("short", raw, 15)), QS_ERR_INVAL);
  assert_int_equal(qs_secret_load(&got, write_file("shorthex", hex, 30)), QS_ERR_INVAL);
  assert_int_equal(qs_secret_load(&got, write_file("empty", "", 0)), QS_ERR_INVAL);
  memset(big, 'x', sizeof(big));
  assert_int_equal(qs_secret_load(&got, write_file("big", big, sizeof(big))), QS_ERR_INVAL);
  errno = 0;
  assert_int_equal(qs_secret_load(&got, "/nonexistent/quicsteer/secret"), QS_ERR_SYS);
  assert_int_equal(errno, ENOENT);
  errno = 0;
  assert_int_equal(qs_secret_load(&got, dir), QS_ERR_SYS);
  assert_int_equal(errno, EISDIR);
  qs_secret_wipe(&got);
  qs_secret_wipe(&want);
}

/* The instance secret file: made once, mode 0600, then only read; a file
 * others may read, or a symbolic link, is refused. */
static void test_secret_load_or_create(void **state) {
  struct qs_secret a, b, c;
  struct stat st;
  char path[256], link_path[256];

  (void)state;
  snprintf(path, sizeof(path), "%s/instance.key", dir);
  unlink(path);
  assert_int_equal(qs_secret_load_or_create(&a, path), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal((size_t)st.st_size, QS_SECRET_CREATE_LEN);
  /* the second process reads what the first wrote */
  assert_int_equal(qs_secret_load_or_create(&b, path), 0);
  assert_memory_equal(a.prk, b.prk, sizeof(a.prk));
  assert_int_equal(qs_secret_load(&c, path), 0);
  assert_memory_equal(a.prk, c.prk, sizeof(a.prk));
  /* a fresh file is a fresh secret */
  unlink(path);
  assert_int_equal(qs_secret_load_or_create(&c, path), 0);
  assert_memory_not_equal(a.prk, c.prk, sizeof(a.prk));

  assert_int_equal(chmod(path, 0640), 0);
  errno = 0;
  assert_int_equal(qs_secret_load_or_create(&b, path), QS_ERR_SYS);
  assert_int_equal(errno, EPERM);
  assert_int_equal(chmod(path, 0600), 0);
  snprintf(link_path, sizeof(link_path), "%s/link.key", dir);
  assert_int_equal(symlink(path, link_path), 0);
  assert_int_equal(qs_secret_load_or_create(&b, link_path), QS_ERR_SYS);
  errno = 0;
  assert_int_equal(qs_secret_load_or_create(&b, "/nonexistent/quicsteer/instance.key"),
                   QS_ERR_SYS);
  assert_int_equal(errno, ENOENT);
  qs_secret_wipe(&a);
  qs_secret_wipe(&b);
  qs_secret_wipe(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc5869_case1),
      cmocka_unit_test(test_secret_is_hkdf),
      cmocka_unit_test(test_derive_separation),
      cmocka_unit_test(test_derive_errors),
      cmocka_unit_test(test_reset_tokens),
      cmocka_unit_test(test_secret_random),
      cmocka_unit_test(test_secret_load),
      cmocka_unit_test(test_secret_load_or_create),
  };
  return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
