/* test_lb.c: QUIC-LB connection IDs (lib/lb.c over lb_core.h): the draft's
 * test vectors, its four-pass example step by step, a round-trip property
 * over every configuration shape, quicsteer's layout, and malformed input. */
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

#include "quicsteer/lb.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/util.h"

/* ---- helpers ---- */

/* Deterministic generator for the property tests (splitmix64), so that a
 * failure can be replayed; the seed is printed. */
static uint64_t rng_state;

static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n) { return (uint32_t)(rng_next() % n); }

static void rng_fill(uint8_t *p, size_t n) {
  while (n--)
    *p++ = (uint8_t)rng_next();
}

static size_t unhex(uint8_t *out, size_t cap, const char *hex) {
  int n = qs_hex_decode(out, cap, hex);
  assert_true(n > 0);
  return (size_t)n;
}

/* dup returns an exact-size heap copy of |n| octets, so that ASan catches
 * any read past the input. */
static uint8_t *dup(const uint8_t *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  assert_non_null(q);
  if (n)
    memcpy(q, p, n);
  return q;
}

/* decode_exact runs qs_lb_decode on an exact-size heap copy. */
static int decode_exact(const struct qs_lb *lb, const uint8_t *cid, size_t len, uint8_t *sid,
                        uint8_t *nonce) {
  uint8_t *c = dup(cid, len);
  int rv = qs_lb_decode(lb, c, len, sid, nonce);
  free(c);
  return rv;
}

static int route_exact(const struct qs_cidconf *cc, const uint8_t *cid, size_t len, uint32_t *rk) {
  uint8_t *c = dup(cid, len);
  int rv = qs_cidconf_route(cc, c, len, rk);
  free(c);
  return rv;
}

static void init_lb(struct qs_lb *lb, uint8_t cr, size_t sid_len, size_t nonce_len,
                    int encode_len, const uint8_t *key) {
  struct qs_lb_params p = {0};
  p.cr = cr;
  p.sid_len = (uint8_t)sid_len;
  p.nonce_len = (uint8_t)nonce_len;
  p.encode_len = (uint8_t)encode_len;
  assert_int_equal(qs_lb_init(lb, &p, key), 0);
}

/* ---- the draft's vectors (tests/lb_vectors.h) ---- */

static void check_vector(const struct lb_vector *v) {
  struct qs_lb lb;
  uint8_t cid[QS_MAX_CIDLEN], sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY];
  int n;

  init_lb(&lb, v->cr, v->sid_len, v->nonce_len, 1, v->keyed ? v->key : NULL);
  assert_int_equal(lb.p.alg, qs_lb_alg_for(v->keyed, (uint32_t)(v->sid_len + v->nonce_len)));
  n = qs_lb_encode(&lb, v->sid, v->nonce, cid, sizeof(cid));
  assert_int_equal(n, (int)v->cid_len);
  assert_memory_equal(cid, v->cid, v->cid_len);
  memset(sid, 0, sizeof(sid));
  memset(nonce, 0, sizeof(nonce));
  assert_int_equal(decode_exact(&lb, v->cid, v->cid_len, sid, nonce), 0);
  assert_memory_equal(sid, v->sid, v->sid_len);
  assert_memory_equal(nonce, v->nonce, v->nonce_len);
  /* The load balancer's view: server ID only (three passes when it fits). */
  memset(sid, 0, sizeof(sid));
  assert_int_equal(decode_exact(&lb, v->cid, v->cid_len, sid, NULL), 0);
  assert_memory_equal(sid, v->sid, v->sid_len);
  qs_lb_free(&lb);
}

static void test_vectors_file(void **state) {
  struct lb_vector v[32];
  size_t n = load_vectors(v, 32), i, keyed = 0;

  (void)state;
  assert_true(n >= 5);
  for (i = 0; i < n; i++) {
    check_vector(&v[i]);
    keyed += (size_t)v[i].keyed;
  }
  assert_true(keyed >= 4); /* single-pass and both four-pass cases */
}

/* The draft's "Encryption Example": odd length, the middle octet split. */
static void test_draft_example(void **state) {
  struct lb_vector v;

  (void)state;
  memset(&v, 0, sizeof(v));
  v.keyed = 1;
  unhex(v.key, 16, "fdf726a9893ec05c0632d3956680baf0");
  v.sid_len = unhex(v.sid, sizeof(v.sid), "31441a");
  v.nonce_len = unhex(v.nonce, sizeof(v.nonce), "9c69c275");
  v.cid_len = unhex(v.cid, sizeof(v.cid), "0767947d29be054a");
  check_vector(&v);
}

/* Each Feistel pass of the example: the AES output truncated to half_len
 * for the draft's expand() inputs, which checks expand()'s layout. */
static void test_draft_example_passes(void **state) {
  static const struct {
    const char *in, *out;
    uint8_t pass;
  } steps[] = {
      {"31441a90", "a255dd8c", 1},
      {"0e3c1ff9", "e5e452cb", 2},
      {"d4a04850", "b7821ab3", 3},
      {"09be054a", "b334357c", 4},
  };
  uint8_t key[16], in[QS_LB_HALF_BUF], dst[QS_LB_HALF_BUF], want[QS_LB_HALF_BUF];
  struct qs_lb lb;
  size_t i;

  (void)state;
  unhex(key, 16, "fdf726a9893ec05c0632d3956680baf0");
  init_lb(&lb, 0, 3, 4, 1, key);
  for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    memset(dst, 0, sizeof(dst));
    unhex(in, sizeof(in), steps[i].in);
    unhex(want, sizeof(want), steps[i].out);
    qs_lb_feistel_pass(&lb.cipher, dst, in, 4, 7, steps[i].pass);
    assert_memory_equal(dst, want, 4);
  }
  qs_lb_free(&lb);
}

/* ---- round-trip property ---- */

struct rt_stats {
  unsigned long n, single, fourpass, plain;
};

static void roundtrip_one(uint8_t cr, uint32_t sid_len, uint32_t nonce_len, int keyed,
                          int encode_len, struct rt_stats *st) {
  uint8_t key[16], sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY];
  uint8_t got_sid[QS_LB_MAX_SID], got_nonce[QS_LB_MAX_BODY], cid[QS_MAX_CIDLEN];
  uint8_t body[QS_LB_BUF] = {0}, plain[QS_LB_BUF] = {0};
  uint32_t plen = sid_len + nonce_len, need = plen / 2;
  struct qs_lb lb;
  int n;

  rng_fill(key, sizeof(key));
  rng_fill(sid, sid_len);
  rng_fill(nonce, nonce_len);
  init_lb(&lb, cr, sid_len, nonce_len, encode_len, keyed ? key : NULL);
  n = qs_lb_encode(&lb, sid, nonce, cid, sizeof(cid));
  assert_int_equal(n, (int)(1 + plen));
  assert_int_equal(cid[0] >> 5, cr);
  if (encode_len)
    assert_int_equal(cid[0] & 0x1f, plen);
  memcpy(plain, sid, sid_len);
  memcpy(plain + sid_len, nonce, nonce_len);
  if (!keyed)
    assert_memory_equal(cid + 1, plain, plen);

  assert_int_equal(decode_exact(&lb, cid, (size_t)n, got_sid, got_nonce), 0);
  assert_memory_equal(got_sid, sid, sid_len);
  assert_memory_equal(got_nonce, nonce, nonce_len);
  memset(got_sid, 0, sizeof(got_sid));
  assert_int_equal(decode_exact(&lb, cid, (size_t)n, got_sid, NULL), 0);
  assert_memory_equal(got_sid, sid, sid_len);

  /* The three-pass shortcut: asking for at most half the body (rounded
   * down) must still give those leading octets right. */
  memcpy(body, cid + 1, plen);
  qs_lb_decrypt_body(&lb.cipher, lb.p.alg, body, plen, need);
  assert_memory_equal(body, plain, need);

  st->n++;
  if (lb.p.alg == QS_LB_AES_SINGLE)
    st->single++;
  else if (lb.p.alg == QS_LB_AES_FOURPASS)
    st->fourpass++;
  else
    st->plain++;
  qs_lb_free(&lb);
}

static void test_roundtrip_property(void **state) {
  struct rt_stats st = {0};
  uint32_t body, sid_len, rep;
  int keyed, encode_len;
  uint8_t cr;

  (void)state;
  rng_state = 0x5eed0001;
  /* 120 (body, server ID) shapes x 2 keyed x 7 cr x 2 encode_len = 3360
   * configurations, each 30 times with fresh keys, IDs and nonces. */
  for (rep = 0; rep < 30; rep++)
    for (body = QS_LB_MIN_BODY; body <= QS_LB_MAX_BODY; body++)
      for (sid_len = 1; sid_len <= QS_LB_MAX_SID && sid_len + QS_LB_MIN_NONCE <= body; sid_len++)
        for (keyed = 0; keyed <= 1; keyed++)
          for (cr = 0; cr < QS_LB_MAX_CONFIGS; cr++)
            for (encode_len = 0; encode_len <= 1; encode_len++)
              roundtrip_one(cr, sid_len, body - sid_len, keyed, encode_len, &st);
  print_message("round trips: %lu (plaintext %lu, single-pass %lu, four-pass %lu)\n", st.n,
                st.plain, st.single, st.fourpass);
  assert_true(st.n >= 100000);
  assert_true(st.single > 0 && st.fourpass > 0 && st.plain > 0);
}

/* A NULL nonce comes from the CSPRNG, and so do the first octet's low bits
 * without length encoding: neither may repeat across many CIDs. */
static void test_random_nonce(void **state) {
  uint8_t key[16] = {1}, sid[3] = {0xaa, 0xbb, 0xcc}, got[3];
  uint8_t cids[64][QS_MAX_CIDLEN];
  unsigned low_bits = 0;
  struct qs_lb lb;
  int i, j, n;

  (void)state;
  init_lb(&lb, 2, 3, 12, 0, key);
  for (i = 0; i < 64; i++) {
    n = qs_lb_encode(&lb, sid, NULL, cids[i], QS_MAX_CIDLEN);
    assert_int_equal(n, 16);
    assert_int_equal(cids[i][0] >> 5, 2);
    low_bits |= 1u << (cids[i][0] & 0x1f);
    assert_int_equal(decode_exact(&lb, cids[i], 16, got, NULL), 0);
    assert_memory_equal(got, sid, 3);
    for (j = 0; j < i; j++)
      assert_memory_not_equal(cids[i] + 1, cids[j] + 1, 15);
  }
  /* 64 draws of 5 bits all alike: probability 2^-315. */
  assert_true((low_bits & (low_bits - 1)) != 0);
  qs_lb_free(&lb);
}

/* ---- quicsteer's layout ---- */

static void test_layout_mint_route(void **state) {
  struct qs_cidconf *cc = malloc(sizeof(*cc)), *other = malloc(sizeof(*other));
  struct qs_lb fleet;
  uint8_t key[16], host[QS_HOST_ID_MAX], host2[QS_HOST_ID_MAX], cid[QS_MAX_CIDLEN];
  uint8_t sid[QS_LB_MAX_SID];
  uint32_t hl, cid_len, rk, got, it, minted = 0;
  int keyed, encode_len, n;
  uint8_t cr;

  (void)state;
  assert_non_null(cc);
  assert_non_null(other);
  rng_state = 0x5eed0002;
  for (it = 0; it < 20; it++)
    for (hl = 1; hl <= QS_HOST_ID_MAX; hl++)
      for (cid_len = 1 + hl + QS_RK_LEN + QS_CID_MIN_RANDOM; cid_len <= QS_MAX_CIDLEN; cid_len++)
        for (keyed = 0; keyed <= 1; keyed++) {
          cr = (uint8_t)rng_below(QS_LB_MAX_CONFIGS);
          encode_len = (int)rng_below(2);
          rng_fill(key, sizeof(key));
          rng_fill(host, hl);
          memcpy(host2, host, hl);
          host2[rng_below(hl)] ^= (uint8_t)(1 + rng_below(255));
          assert_int_equal(qs_cidconf_init(cc, cr, cid_len, host, hl, keyed ? key : NULL,
                                           encode_len),
                           0);
          assert_int_equal(qs_cidconf_init(other, cr, cid_len, host2, hl, keyed ? key : NULL,
                                           encode_len),
                           0);
          assert_int_equal(qs_cidconf_cid_len(cc), cid_len);
          assert_int_equal(cc->rc.p.sid_len, hl + QS_RK_LEN);
          rk = (uint32_t)rng_next();
          n = qs_cidconf_mint(cc, rk, cid);
          assert_int_equal(n, (int)cid_len);
          got = ~rk;
          assert_int_equal(route_exact(cc, cid, cid_len, &got), 0);
          assert_int_equal(got, rk);
          /* The host's own view: server ID = host ID || be32(rk). */
          assert_int_equal(decode_exact(&cc->lb, cid, cid_len, sid, NULL), 0);
          assert_memory_equal(sid, host, hl);
          assert_int_equal(((uint32_t)sid[hl] << 24) | ((uint32_t)sid[hl + 1] << 16) |
                               ((uint32_t)sid[hl + 2] << 8) | sid[hl + 3],
                           rk);
          /* A fleet load balancer that knows only the host ID length sees
           * the host ID, the routing key being part of its nonce. */
          init_lb(&fleet, cr, hl, cid_len - 1 - hl, encode_len, keyed ? key : NULL);
          memset(sid, 0, sizeof(sid));
          assert_int_equal(decode_exact(&fleet, cid, cid_len, sid, NULL), 0);
          assert_memory_equal(sid, host, hl);
          qs_lb_free(&fleet);
          /* Another host under the same key does not claim it. */
          assert_int_equal(route_exact(other, cid, cid_len, &got), QS_ERR_FOREIGN);
          qs_cidconf_free(cc);
          qs_cidconf_free(other);
          minted++;
        }
  print_message("layout mint/route: %u\n", minted);
  free(cc);
  free(other);
}

/* ---- server ID in the clear (QUIC-LB plaintext + enciphered routing key) ---- */

/* Hand-checked examples: cr 2, length self-encoded, routing key generation
 * 3 / worker 9 (00030009), nonce a0 a1 ...  The plaintext rows read off by
 * hand (first octet 0b010 || CID length - 1, then server ID, routing key,
 * nonce); the keyed rows, under the draft's test key, from an independent
 * implementation of the draft's ciphers (tools/lb_clear_vectors.py, AES from
 * python3-cryptography, itself checked against the draft's example). */
static const struct {
  int keyed;
  const char *sid;
  uint32_t cid_len;
  const char *nonce, *cid;
} clear_vectors[] = {
    {0, "2a", 18, "a0a1a2a3a4a5a6a7a8a9aaab", "512a00030009a0a1a2a3a4a5a6a7a8a9aaab"},
    {0, "0001", 19, "a0a1a2a3a4a5a6a7a8a9aaab", "52000100030009a0a1a2a3a4a5a6a7a8a9aaab"},
    {0, "c0ffee", 20, "a0a1a2a3a4a5a6a7a8a9aaab", "53c0ffee00030009a0a1a2a3a4a5a6a7a8a9aaab"},
    {0, "0a000002", 20, "a0a1a2a3a4a5a6a7a8a9aa", "530a00000200030009a0a1a2a3a4a5a6a7a8a9aa"},
    {0, "00112233445566ff", 20, "a0a1a2a3a4a5a6", "5300112233445566ff00030009a0a1a2a3a4a5a6"},
    {0, "00112233445566ff", 19, "a0a1a2a3a4a5", "5200112233445566ff00030009a0a1a2a3a4a5"},
    {1, "2a", 18, "a0a1a2a3a4a5a6a7a8a9aaab", "512a0be9a0b987771f712c4efea75b1a8b29"},
    {1, "0001", 19, "a0a1a2a3a4a5a6a7a8a9aaab", "5200010be9a0b987771f712c4efea75b1a8b29"},
    {1, "c0ffee", 20, "a0a1a2a3a4a5a6a7a8a9aaab", "53c0ffee0be9a0b987771f712c4efea75b1a8b29"},
    {1, "0a000002", 20, "a0a1a2a3a4a5a6a7a8a9aa", "530a000002e0822fee1f3eb19d31592d9d5f1ea3"},
    {1, "00112233445566ff", 20, "a0a1a2a3a4a5a6", "5300112233445566ff331b0adfc014645cdfa2ee"},
    {1, "00112233445566ff", 19, "a0a1a2a3a4a5", "5200112233445566ff6310f198a4afa4440d9d"},
};

static const uint8_t draft_key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                      0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};

static void test_clear_vectors(void **state) {
  struct qs_cidconf cc, other;
  uint8_t sid[QS_HOST_ID_MAX], nonce[QS_LB_MAX_BODY], want[QS_MAX_CIDLEN], cid[QS_MAX_CIDLEN];
  uint8_t got_sid[QS_HOST_ID_MAX], got_nonce[QS_LB_MAX_BODY];
  size_t i, sl, nl, cl, got_nl;
  uint32_t rk;
  struct qs_lb plain;

  (void)state;
  for (i = 0; i < sizeof(clear_vectors) / sizeof(clear_vectors[0]); i++) {
    sl = unhex(sid, sizeof(sid), clear_vectors[i].sid);
    nl = unhex(nonce, sizeof(nonce), clear_vectors[i].nonce);
    cl = unhex(want, sizeof(want), clear_vectors[i].cid);
    assert_int_equal(cl, clear_vectors[i].cid_len);
    assert_int_equal(qs_cidconf_init_mode(&cc, 2, (uint32_t)cl, sid, sl, QS_SID_CLEAR,
                                          clear_vectors[i].keyed ? draft_key : NULL, 1),
                     0);
    assert_int_equal(qs_cidconf_encode(&cc, 0x00030009, nonce, cid), (int)cl);
    assert_memory_equal(cid, want, cl);
    rk = 0;
    assert_int_equal(route_exact(&cc, want, cl, &rk), 0);
    assert_int_equal(rk, 0x00030009);
    got_nl = 0;
    assert_int_equal(qs_cidconf_decode(&cc, want, cl, got_sid, &rk, got_nonce, &got_nl), 0);
    assert_memory_equal(got_sid, sid, sl);
    assert_int_equal(rk, 0x00030009);
    assert_int_equal(got_nl, nl);
    assert_memory_equal(got_nonce, nonce, nl);
    /* A plaintext QUIC-LB balancer (AWS NLB, nftables) reads the server ID
     * as a plain configuration of that server ID length. */
    init_lb(&plain, 2, sl, cl - 1 - sl, 1, NULL);
    assert_int_equal(decode_exact(&plain, want, cl, got_sid, NULL), 0);
    assert_memory_equal(got_sid, sid, sl);
    qs_lb_free(&plain);
    /* Another host's server ID is foreign whatever follows it. */
    sid[sl - 1] ^= 0x80;
    assert_int_equal(qs_cidconf_init_mode(&other, 2, (uint32_t)cl, sid, sl, QS_SID_CLEAR,
                                          clear_vectors[i].keyed ? draft_key : NULL, 1),
                     0);
    assert_int_equal(route_exact(&other, want, cl, &rk), QS_ERR_FOREIGN);
    qs_cidconf_free(&other);
    qs_cidconf_free(&cc);
  }
}

/* Round trips over every server ID and CID length, both modes; a clear CID
 * exposes the server ID and nothing else: with a key, two CIDs of the same
 * worker share no octet position after the server ID more than chance. */
static void test_clear_mint_route(void **state) {
  struct qs_cidconf cc;
  uint8_t key[16], sid[QS_HOST_ID_MAX], a[QS_MAX_CIDLEN], b[QS_MAX_CIDLEN];
  uint32_t sl, cl, rk, got;
  int keyed, n, mode, same = 0, compared = 0;
  size_t i;

  (void)state;
  rng_state = 0x5eed0003;
  for (mode = QS_SID_ENCRYPTED; mode <= QS_SID_CLEAR; mode++)
    for (sl = 1; sl <= QS_HOST_ID_MAX; sl++)
      for (cl = qs_cid_len_min(sl); cl <= QS_MAX_CIDLEN; cl++)
        for (keyed = 0; keyed <= 1; keyed++) {
          rng_fill(key, sizeof(key));
          rng_fill(sid, sl);
          assert_int_equal(qs_cidconf_init_mode(&cc, (uint8_t)rng_below(7), cl, sid, sl, mode,
                                                keyed ? key : NULL, (int)rng_below(2)),
                           0);
          assert_int_equal(qs_route_conf_alg(&cc.rc), cc.lb.p.alg);
          rk = (uint32_t)rng_next();
          n = qs_cidconf_mint(&cc, rk, a);
          assert_int_equal(n, (int)cl);
          assert_int_equal(qs_cidconf_mint(&cc, rk, b), (int)cl);
          if (mode == QS_SID_CLEAR) {
            assert_memory_equal(a + 1, sid, sl);
            assert_int_equal(cc.rc.p.alg, QS_LB_PLAINTEXT);
            assert_int_equal(cc.rc.p.sid_len, sl);
            if (keyed) {
              for (i = 1 + sl; i < cl; i++, compared++)
                same += a[i] == b[i];
            }
          }
          got = ~rk;
          assert_int_equal(route_exact(&cc, a, cl, &got), 0);
          assert_int_equal(got, rk);
          assert_int_equal(route_exact(&cc, b, cl, &got), 0);
          assert_int_equal(got, rk);
          qs_cidconf_free(&cc);
        }
  /* expected compared/256; far fewer than a quarter even for small counts */
  print_message("clear: %d of %d octets after the server ID alike\n", same, compared);
  assert_true(same * 16 < compared);
}

static void test_clear_limits(void **state) {
  struct qs_cidconf cc;
  uint8_t sid[QS_LB_MAX_SID] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

  (void)state;
  /* 1 + 8 + 4 + 4 = 17: the shortest for an NLB's 8-octet server ID */
  assert_int_equal(qs_cid_len_min(8), 17);
  assert_int_equal(qs_cidconf_init_mode(&cc, 0, 16, sid, 8, QS_SID_CLEAR, draft_key, 0),
                   QS_ERR_CIDLEN);
  assert_int_equal(qs_cidconf_init_mode(&cc, 0, 17, sid, 8, QS_SID_CLEAR, draft_key, 0), 0);
  assert_int_equal(cc.rc.inner_alg, QS_LB_AES_FOURPASS);
  qs_cidconf_free(&cc);
  assert_int_equal(qs_cidconf_init_mode(&cc, 0, 20, sid, 12, QS_SID_CLEAR, draft_key, 0),
                   QS_ERR_CIDLEN);
  assert_int_equal(qs_cidconf_init_mode(&cc, 0, 20, sid, 11, QS_SID_CLEAR, draft_key, 0), 0);
  qs_cidconf_free(&cc);
  assert_int_equal(qs_cidconf_init_mode(&cc, 0, 20, sid, 2, 2, draft_key, 0), QS_ERR_INVAL);
  assert_int_equal(qs_cidconf_init_mode(&cc, 7, 20, sid, 2, QS_SID_CLEAR, draft_key, 0),
                   QS_ERR_UNROUTABLE);
  /* defaults: one AES block after the server ID when it fits, else 20 */
  assert_int_equal(qs_cid_len_default(QS_SID_CLEAR, 1), 18);
  assert_int_equal(qs_cid_len_default(QS_SID_CLEAR, 3), 20);
  assert_int_equal(qs_cid_len_default(QS_SID_CLEAR, 8), 20);
  assert_int_equal(qs_cid_len_default(QS_SID_CLEAR, 11), 20);
  assert_int_equal(qs_cid_len_default(QS_SID_CLEAR, 12), 0);
  assert_int_equal(qs_cid_len_default(QS_SID_ENCRYPTED, 2), 17);
  assert_int_equal(qs_cid_len_default(QS_SID_ENCRYPTED, 8), 17);
  assert_int_equal(qs_cid_len_default(QS_SID_ENCRYPTED, 11), 20);
  assert_int_equal(qs_cid_len_default(QS_SID_ENCRYPTED, 12), 0);
  assert_int_equal(qs_cid_len_default(QS_SID_ENCRYPTED, 0), 0);
}

static void test_keyring(void **state) {
  struct qs_keyring *kr = calloc(1, sizeof(*kr));
  uint8_t key[16] = {9}, host[2] = {0, 1}, cid[QS_MAX_CIDLEN], bad[QS_MAX_CIDLEN];
  uint32_t rk;
  int n;

  (void)state;
  assert_non_null(kr);
  assert_int_equal(qs_cidconf_init(&kr->conf[1], 1, 17, host, 2, key, 1), 0);
  kr->valid[1] = 1;
  assert_int_equal(qs_cidconf_init(&kr->conf[4], 4, 12, host, 2, NULL, 0), 0);
  kr->valid[4] = 1;
  kr->mint_cr = 4;

  n = qs_cidconf_mint(&kr->conf[1], qs_rk_make(7, 3), cid);
  assert_int_equal(n, 17);
  assert_int_equal(qs_keyring_route(kr, cid, 17, &rk), 0);
  assert_int_equal(rk, qs_rk_make(7, 3));
  assert_int_equal(qs_rk_generation(rk), 7);
  assert_int_equal(qs_rk_worker(rk), 3);
  n = qs_cidconf_mint(&kr->conf[4], qs_rk_make(65535, 65535), cid);
  assert_int_equal(n, 12);
  assert_int_equal(qs_keyring_route(kr, cid, 12, &rk), 0);
  assert_int_equal(rk, 0xffffffffu);

  memcpy(bad, cid, 12);
  bad[0] = (uint8_t)((2 << 5) | (bad[0] & 0x1f)); /* slot 2: never configured */
  assert_int_equal(qs_keyring_route(kr, bad, 12, &rk), QS_ERR_NOCONF);
  bad[0] |= 0xe0;
  assert_int_equal(qs_keyring_route(kr, bad, 12, &rk), QS_ERR_UNROUTABLE);
  assert_int_equal(qs_keyring_route(kr, bad, 0, &rk), QS_ERR_EMPTY);
  assert_int_equal(qs_keyring_route(kr, cid, 11, &rk), QS_ERR_CIDLEN);
  /* encrypted minting: nothing is certainly foreign */
  assert_int_equal(qs_keyring_foreign(kr, bad, 12), 0);
  qs_cidconf_free(&kr->conf[1]);
  qs_cidconf_free(&kr->conf[4]);

  /* clear minting (server ID 0a0b0c): a CID with another server ID is
   * foreign under any codepoint, one with ours under none */
  memset(kr, 0, sizeof(*kr));
  {
    static const uint8_t sid[3] = {0x0a, 0x0b, 0x0c};
    assert_int_equal(qs_cidconf_init_mode(&kr->conf[3], 3, 20, sid, 3, QS_SID_CLEAR, key, 0), 0);
    kr->valid[3] = 1;
    kr->mint_cr = 3;
    assert_int_equal(qs_cidconf_mint(&kr->conf[3], qs_rk_make(1, 1), cid), 20);
    assert_int_equal(qs_keyring_foreign(kr, cid, 20), 0);
    memcpy(bad, cid, 20);
    bad[0] = (uint8_t)(bad[0] & 0x1f); /* codepoint 0: not held */
    assert_int_equal(qs_keyring_route(kr, bad, 20, &rk), QS_ERR_NOCONF);
    assert_int_equal(qs_keyring_foreign(kr, bad, 20), 0);
    bad[3] ^= 0x01;
    assert_int_equal(qs_keyring_foreign(kr, bad, 20), 1);
    assert_int_equal(qs_keyring_foreign(kr, bad, 3), 0); /* too short to tell */
    cid[2] ^= 0x40;
    assert_int_equal(qs_keyring_route(kr, cid, 20, &rk), QS_ERR_FOREIGN);
    assert_int_equal(qs_keyring_foreign(kr, cid, 20), 1);
    qs_cidconf_free(&kr->conf[3]);
  }
  free(kr);
}

/* ---- malformed input and bad configurations ---- */

static void test_init_errors(void **state) {
  struct qs_lb_params p = {0};
  struct qs_lb lb;
  uint8_t key[16] = {0};

  (void)state;
  p.sid_len = 3;
  p.nonce_len = 4;
  p.cr = 7;
  assert_int_equal(qs_lb_init(&lb, &p, key), QS_ERR_UNROUTABLE);
  p.cr = 8;
  assert_int_equal(qs_lb_init(&lb, &p, key), QS_ERR_INVAL);
  p.cr = 6;
  assert_int_equal(qs_lb_init(&lb, &p, key), 0);
  p.sid_len = 0;
  assert_int_equal(qs_lb_init(&lb, &p, NULL), QS_ERR_CIDLEN);
  p.sid_len = 16;
  assert_int_equal(qs_lb_init(&lb, &p, NULL), QS_ERR_CIDLEN);
  p.sid_len = 3;
  p.nonce_len = 3;
  assert_int_equal(qs_lb_init(&lb, &p, NULL), QS_ERR_CIDLEN);
  p.sid_len = 15;
  p.nonce_len = 5; /* body 20: a 21-octet CID */
  assert_int_equal(qs_lb_init(&lb, &p, key), QS_ERR_CIDLEN);
  p.nonce_len = 4;
  p.alg = QS_LB_PLAINTEXT; /* ignored: derived from the key */
  assert_int_equal(qs_lb_init(&lb, &p, key), 0);
  assert_int_equal(lb.p.alg, QS_LB_AES_FOURPASS);
  assert_int_equal(lb.keyed, 1);
  qs_lb_free(&lb);
  /* _free wipes the key and its schedule. */
  {
    static const uint8_t zero[sizeof(struct qs_lb)];
    assert_memory_equal(&lb, zero, sizeof(lb));
  }
}

static void test_encode_errors(void **state) {
  struct qs_lb lb;
  uint8_t sid[4] = {1, 2, 3, 4}, nonce[8] = {0}, cid[QS_MAX_CIDLEN];

  (void)state;
  init_lb(&lb, 0, 4, 8, 1, NULL);
  assert_int_equal(qs_lb_encode(&lb, sid, nonce, cid, 12), QS_ERR_INVAL);
  assert_int_equal(qs_lb_encode(&lb, sid, nonce, cid, 13), 13);
  qs_lb_free(&lb);
}

static void test_decode_malformed(void **state) {
  uint8_t key[16] = {0x42}, sid[QS_LB_MAX_SID] = {5, 6, 7}, nonce[QS_LB_MAX_BODY] = {0};
  uint8_t cid[QS_MAX_CIDLEN + 8], big[64] = {0};
  struct qs_lb lb, lbn;
  size_t len;
  int keyed;

  (void)state;
  for (keyed = 0; keyed <= 1; keyed++) {
    init_lb(&lb, 3, 3, 5, 1, keyed ? key : NULL);
    init_lb(&lbn, 3, 3, 5, 0, keyed ? key : NULL);
    assert_int_equal(qs_lb_encode(&lb, sid, nonce, cid, sizeof(cid)), 9);
    /* Every shorter prefix and a longer buffer: wrong length. */
    assert_int_equal(decode_exact(&lb, cid, 0, sid, nonce), QS_ERR_EMPTY);
    for (len = 1; len < 9; len++)
      assert_int_equal(decode_exact(&lb, cid, len, sid, nonce), QS_ERR_CIDLEN);
    cid[9] = 0;
    assert_int_equal(decode_exact(&lb, cid, 10, sid, nonce), QS_ERR_CIDLEN);
    /* 21 octets and more: not a QUIC v1 CID whatever it says. */
    memcpy(big, cid, 9);
    for (len = QS_MAX_CIDLEN + 1; len < sizeof(big); len++)
      assert_int_equal(decode_exact(&lb, big, len, sid, nonce), QS_ERR_CIDLEN);
    /* A length octet that lies, and one that would be right for a
     * configuration without self-encoding. */
    cid[0] = (uint8_t)((3 << 5) | 12);
    assert_int_equal(decode_exact(&lb, cid, 9, sid, nonce), QS_ERR_CIDLEN);
    assert_int_equal(decode_exact(&lbn, cid, 9, sid, nonce), 0);
    cid[0] = (uint8_t)((3 << 5) | 31);
    assert_int_equal(decode_exact(&lb, cid, 9, sid, nonce), QS_ERR_CIDLEN);
    /* Another configuration's rotation bits, and the unroutable ones. */
    cid[0] = (uint8_t)((2 << 5) | 8);
    assert_int_equal(decode_exact(&lb, cid, 9, sid, nonce), QS_ERR_NOCONF);
    cid[0] = (uint8_t)((7 << 5) | 8);
    assert_int_equal(decode_exact(&lb, cid, 9, sid, nonce), QS_ERR_UNROUTABLE);
    cid[0] = (uint8_t)((3 << 5) | 8);
    assert_int_equal(decode_exact(&lb, cid, 9, NULL, NULL), 0);
    qs_lb_free(&lb);
    qs_lb_free(&lbn);
  }
}

static void test_cidconf_errors(void **state) {
  struct qs_cidconf cc;
  uint8_t host[QS_HOST_ID_MAX + 1] = {1}, cid[QS_MAX_CIDLEN] = {0};
  uint32_t rk;

  (void)state;
  assert_int_equal(qs_cidconf_init(&cc, 7, 17, host, 2, NULL, 1), QS_ERR_UNROUTABLE);
  assert_int_equal(qs_cidconf_init(&cc, 9, 17, host, 2, NULL, 1), QS_ERR_INVAL);
  assert_int_equal(qs_cidconf_init(&cc, 0, 17, NULL, 2, NULL, 1), QS_ERR_INVAL);
  assert_int_equal(qs_cidconf_init(&cc, 0, 17, host, 0, NULL, 1), QS_ERR_CIDLEN);
  assert_int_equal(qs_cidconf_init(&cc, 0, 20, host, QS_HOST_ID_MAX + 1, NULL, 1),
                   QS_ERR_CIDLEN);
  assert_int_equal(qs_cidconf_init(&cc, 0, 21, host, 2, NULL, 1), QS_ERR_CIDLEN);
  /* 1 + 2 + 4 + 3: one random octet short. */
  assert_int_equal(qs_cidconf_init(&cc, 0, 10, host, 2, NULL, 1), QS_ERR_CIDLEN);
  assert_int_equal(qs_cidconf_init(&cc, 0, 11, host, 2, NULL, 1), 0);
  qs_cidconf_free(&cc);
  assert_int_equal(qs_cidconf_init(&cc, 0, 20, host, QS_HOST_ID_MAX, NULL, 1), 0);
  assert_int_equal(qs_cidconf_cid_len(&cc), 20);
  cid[0] = 19;
  assert_int_equal(route_exact(&cc, cid, 0, &rk), QS_ERR_EMPTY);
  assert_int_equal(route_exact(&cc, cid, 19, &rk), QS_ERR_CIDLEN);
  cid[0] = 0xe0 | 19;
  assert_int_equal(route_exact(&cc, cid, 20, &rk), QS_ERR_UNROUTABLE);
  cid[0] = 0x20 | 19;
  assert_int_equal(route_exact(&cc, cid, 20, &rk), QS_ERR_NOCONF);
  cid[0] = 18;
  assert_int_equal(route_exact(&cc, cid, 20, &rk), QS_ERR_CIDLEN);
  cid[0] = 19;
  memcpy(cid + 1, host, QS_HOST_ID_MAX);
  assert_int_equal(route_exact(&cc, cid, 20, &rk), 0);
  assert_int_equal(rk, 0);
  cid[1] ^= 1;
  assert_int_equal(route_exact(&cc, cid, 20, &rk), QS_ERR_FOREIGN);
  qs_cidconf_free(&cc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors_file),
      cmocka_unit_test(test_draft_example),
      cmocka_unit_test(test_draft_example_passes),
      cmocka_unit_test(test_roundtrip_property),
      cmocka_unit_test(test_random_nonce),
      cmocka_unit_test(test_layout_mint_route),
      cmocka_unit_test(test_clear_vectors),
      cmocka_unit_test(test_clear_mint_route),
      cmocka_unit_test(test_clear_limits),
      cmocka_unit_test(test_keyring),
      cmocka_unit_test(test_init_errors),
      cmocka_unit_test(test_encode_errors),
      cmocka_unit_test(test_decode_malformed),
      cmocka_unit_test(test_cidconf_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
