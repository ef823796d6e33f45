/* test_classify.c: the datagram classifier (include/quicsteer/classify.h),
 * once through a scripted binding (the decoder's answer and the clock are
 * the test's), so that every rule and reason is pinned down on its own, and
 * once through the user-space binding (lib/classify.c: a real keyring), the
 * one the workers run.  tests/test_steer.c's differential case checks that
 * the kernel's binding agrees with the user-space one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quicsteer/classify.h"

/* the scripted binding */
struct script {
  int rv;       /* what the decoder answers */
  uint32_t rk;
  uint32_t now; /* handshake tick */
  int decodes, clock_reads;
  uint8_t cr;   /* the configuration it was asked to decode with */
};

static int script_decode(struct script *s, const struct qs_cls *c, uint32_t *rk) {
  s->decodes++;
  s->cr = c->cr;
  *rk = s->rk;
  return s->rv;
}

static uint32_t script_now(struct script *s) {
  s->clock_reads++;
  return s->now;
}

#define QS_CLS_CTX struct script
#define QS_CLS_DECODE(x, c, rk) script_decode((x), (c), (rk))
#define QS_CLS_NOW(x) script_now(x)
#include "quicsteer/classify.h"

#include "quicsteer/lb.h"
#include "quicsteer/steer.h"

/* configurations 0 (17-octet CIDs) and 2 (12-octet), as a keyring would */
static const uint8_t lens[8] = {17, 0, 12, 0, 0, 0, 0, 0};
#define SHORT_LEN 17

static uint8_t run(struct qs_cls *c, struct script *s, const uint8_t *pkt, size_t len) {
  uint64_t pfx[QS_CLS_WORDS];
  uint32_t n = len < QS_CLS_COPY ? (uint32_t)len : QS_CLS_COPY;
  memset(pfx, 0xee, sizeof pfx); /* the kernel's prefix is not zeroed either */
  memcpy((uint8_t *)pfx + QS_CLS_SHIFT, pkt, n);
  return qs_classify(c, s, pfx, n, (uint32_t)len, lens, SHORT_LEN);
}

static size_t long_pkt(uint8_t *pkt, uint8_t first, uint32_t version, const uint8_t *dcid,
                       size_t dcidlen, size_t total) {
  size_t off = 0;
  memset(pkt, 0, total);
  pkt[off++] = first;
  pkt[off++] = (uint8_t)(version >> 24);
  pkt[off++] = (uint8_t)(version >> 16);
  pkt[off++] = (uint8_t)(version >> 8);
  pkt[off++] = (uint8_t)version;
  pkt[off++] = (uint8_t)dcidlen;
  memcpy(pkt + off, dcid, dcidlen);
  off += dcidlen;
  pkt[off++] = 4; /* SCID */
  return total > off + 4 ? total : off + 4;
}

static size_t short_pkt(uint8_t *pkt, const uint8_t *dcid, size_t dcidlen, size_t total) {
  memset(pkt, 0x5a, total);
  pkt[0] = 0x40;
  memcpy(pkt + 1, dcid, dcidlen);
  return total;
}

#define EXPECT(c, verdict_, reason_)                                                               \
  do {                                                                                             \
    assert_string_equal(qs_verdict_name((c).verdict), qs_verdict_name(verdict_));                  \
    assert_string_equal(qs_ctr_name((c).reason), qs_ctr_name(reason_));                            \
  } while (0)

static void test_drops(void **state) {
  struct script s = {0};
  struct qs_cls c;
  uint8_t pkt[1300], cid[30];
  (void)state;
  memset(cid, 0x11, sizeof cid);

  run(&c, &s, pkt, 0);
  EXPECT(c, QS_VERDICT_DROP, QS_CTR_DROP_EMPTY);
  short_pkt(pkt, cid, 17, 20);
  run(&c, &s, pkt, 20);
  EXPECT(c, QS_VERDICT_DROP, QS_CTR_DROP_SHORT);
  run(&c, &s, pkt, 21);
  assert_int_not_equal(c.verdict, QS_VERDICT_DROP);
  s.decodes = 0;
  /* cut inside the version, inside the DCID, inside the SCID */
  long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, 8, 1200);
  run(&c, &s, pkt, 4);
  EXPECT(c, QS_VERDICT_DROP, QS_CTR_DROP_TRUNCATED);
  run(&c, &s, pkt, 10);
  EXPECT(c, QS_VERDICT_DROP, QS_CTR_DROP_TRUNCATED);
  run(&c, &s, pkt, 16);
  EXPECT(c, QS_VERDICT_DROP, QS_CTR_DROP_TRUNCATED);
  /* a CID over 20 octets: invalid in v1, v2 and ngtcp2's provisional v2 */
  long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, 21, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_DROP, QS_CTR_DROP_CIDLEN);
  long_pkt(pkt, 0xd0, QS_VERSION_V2, cid, 25, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_DROP, QS_CTR_DROP_CIDLEN);
  long_pkt(pkt, 0xd0, QS_VERSION_V2_DRAFT, cid, 25, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_DROP, QS_CTR_DROP_CIDLEN);
  assert_int_equal(s.decodes, 0);
}

static void test_versions(void **state) {
  struct script s = {0};
  struct qs_cls c;
  uint8_t pkt[1300], cid[30];
  (void)state;
  memset(cid, 0x22, sizeof cid);

  /* an unknown version: any worker answers; legal with a 25-octet DCID */
  long_pkt(pkt, 0xc0, 0x1a2a3a4au, cid, 8, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_VNEG, QS_CTR_FB_VERSION);
  assert_int_equal(c.nokey, 0);
  assert_int_equal(c.key.k.len, 8);
  long_pkt(pkt, 0xc0, 0x1a2a3a4au, cid, 25, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_VNEG, QS_CTR_FB_VERSION);
  assert_int_equal(c.nokey, 1);
  /* version negotiation is for clients */
  long_pkt(pkt, 0x80, QS_VERSION_NEG, cid, 8, 100);
  run(&c, &s, pkt, 100);
  EXPECT(c, QS_VERDICT_STRAY, QS_CTR_FB_VERSION);
  assert_int_equal(c.type, QS_PKT_VERSION_NEG);
  /* ngtcp2 0.12's provisional v2: a new connection, typed as v2 (0xd0:
   * Initial), not an unknown version */
  long_pkt(pkt, 0xd0, QS_VERSION_V2_DRAFT, cid, 8, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_HASH);
  assert_int_equal(c.type, QS_PKT_INITIAL);
  assert_int_equal(c.version, QS_VERSION_V2_DRAFT);
  cid[0] = 0x10; /* cr 0, whose CIDs are 17 octets */
  long_pkt(pkt, 0xf0, QS_VERSION_V2_DRAFT, cid, 8, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_STRAY, QS_CTR_FB_CIDLEN);
  assert_int_equal(c.type, QS_PKT_HANDSHAKE);
  assert_int_equal(s.decodes, 0);
}

static void test_no_decode(void **state) {
  struct script s = {0};
  struct qs_cls c;
  uint8_t pkt[1300], cid[20];
  (void)state;

  /* empty DCID */
  long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, 0, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_HASH);
  long_pkt(pkt, 0xe0, QS_VERSION_V1, cid, 0, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_STRAY, QS_CTR_FB_CIDLEN);
  /* config-rotation bits 0b111 */
  memset(cid, 0xe5, sizeof cid);
  short_pkt(pkt, cid, 17, 64);
  run(&c, &s, pkt, 64);
  EXPECT(c, QS_VERDICT_RESET, QS_CTR_FB_UNROUTABLE);
  long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, 17, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_HASH);
  /* no configuration 1: a short header's key takes the minting length */
  cid[0] = 0x20;
  short_pkt(pkt, cid, 20, 64);
  run(&c, &s, pkt, 64);
  EXPECT(c, QS_VERDICT_RESET, QS_CTR_FB_NO_CONFIG);
  assert_int_equal(c.key.k.len, SHORT_LEN);
  assert_memory_equal(c.key.k.cid, cid, SHORT_LEN);
  assert_int_equal(c.key.w[2] & ~0xffffffffULL, (uint64_t)SHORT_LEN << 32); /* zero padding */
  /* a Handshake DCID of the wrong length for its configuration */
  cid[0] = 0x00;
  long_pkt(pkt, 0xe0, QS_VERSION_V1, cid, 12, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_STRAY, QS_CTR_FB_CIDLEN);
  assert_int_equal(c.cr, 0);
  assert_int_equal(s.decodes, 0);
}

/* The kernel reads a short header's DCID length per configuration; user
 * space used to assume one length.  Both now take lens[cr]. */
static void test_short_length_per_config(void **state) {
  struct script s = {0, 0x00030005u, 0, 0, 0, 0};
  struct qs_cls c;
  uint8_t pkt[100], cid[20];
  (void)state;
  memset(cid, 0x33, sizeof cid);
  cid[0] = 0x40 | 0x0b; /* cr 2: 12 octets */
  short_pkt(pkt, cid, 12, 64);
  run(&c, &s, pkt, 64);
  EXPECT(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
  assert_int_equal(s.cr, 2);
  assert_int_equal(c.key.k.len, 12);
  assert_memory_equal(c.key.k.cid, cid, 12);
  assert_int_equal(c.key.w[1] >> 32, 0); /* octets 12.. are masked off */
  cid[0] = 0x00 | 0x10; /* cr 0: 17 octets */
  short_pkt(pkt, cid, 17, 64);
  run(&c, &s, pkt, 64);
  assert_int_equal(s.cr, 0);
  assert_int_equal(c.key.k.len, 17);
  assert_int_equal(c.rk, 0x00030005u);
  assert_int_equal(s.clock_reads, 0); /* a short header never needs the time */
}

static void test_decode_results(void **state) {
  struct script s = {0};
  struct qs_cls c;
  uint8_t pkt[1300], cid[20];
  (void)state;
  memset(cid, 0x44, sizeof cid);
  cid[0] = 0x10;
  short_pkt(pkt, cid, 17, 64);
  s.rv = QS_ERR_FOREIGN;
  run(&c, &s, pkt, 64);
  EXPECT(c, QS_VERDICT_RESET, QS_CTR_FB_FOREIGN_HOST);
  s.rv = QS_ERR_CIDLEN; /* e.g. a self-encoded length that disagrees */
  run(&c, &s, pkt, 64);
  EXPECT(c, QS_VERDICT_RESET, QS_CTR_FB_CIDLEN);
  s.rv = QS_ERR_NOCONF; /* the configuration went away under us */
  run(&c, &s, pkt, 64);
  EXPECT(c, QS_VERDICT_RESET, QS_CTR_FB_NO_CONFIG);
  long_pkt(pkt, 0xe0, QS_VERSION_V1, cid, 17, 1200);
  s.rv = QS_ERR_FOREIGN;
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_STRAY, QS_CTR_FB_FOREIGN_HOST);
  long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, 17, 1200);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_HASH);
  assert_int_equal(s.clock_reads, 0);
}

/* Issue 9: an Initial (or 0-RTT) follows its DCID only when that is a fresh
 * handshake CID; any other quicsteer CID in an Initial is hashed. */
static void test_handshake_cids(void **state) {
  struct script s = {0};
  struct qs_cls c;
  uint8_t pkt[1300], cid[20];
  const uint32_t rk = qs_rk_make(3, 5);
  (void)state;
  memset(cid, 0x55, sizeof cid);
  cid[0] = 0x10;

  long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, 17, 1200);
  s.rk = rk; /* not a handshake CID */
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_REUSED);
  s.now = 100;
  s.rk = qs_rk_handshake(rk, 100);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
  assert_int_equal(c.rk, rk); /* mark and mint time stripped: the registered key */
  assert_int_equal(qs_rk_worker(s.rk), 5);
  s.rk = qs_rk_handshake(rk, 100 - QS_HS_FRESH_TICKS);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
  s.rk = qs_rk_handshake(rk, 100 - QS_HS_FRESH_TICKS - 1);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_REUSED);
  /* minted "later" than now (a clock step, or a forged time): not fresh */
  s.rk = qs_rk_handshake(rk, 101);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_REUSED);
  /* the 8-bit mint time wraps */
  s.now = 0x301;
  s.rk = qs_rk_handshake(rk, 0x2fe);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
  s.rk = qs_rk_handshake(rk, 0x2f0);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_REUSED);
  /* 0-RTT follows the same rule */
  long_pkt(pkt, 0xd0, QS_VERSION_V1, cid, 17, 1200);
  s.rk = rk;
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_REUSED);
  s.rk = qs_rk_handshake(rk, 0x301);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
  /* v2 Initial (0xd0) likewise */
  long_pkt(pkt, 0xd0, QS_VERSION_V2, cid, 17, 1200);
  s.rk = rk;
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_REUSED);
  /* Handshake and 1-RTT packets route by any CID of ours, stale or not */
  s.clock_reads = 0;
  long_pkt(pkt, 0xe0, QS_VERSION_V1, cid, 17, 1200);
  s.rk = qs_rk_handshake(rk, 0);
  run(&c, &s, pkt, 1200);
  EXPECT(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
  assert_int_equal(c.rk, rk);
  short_pkt(pkt, cid, 17, 64);
  s.rk = rk;
  run(&c, &s, pkt, 64);
  EXPECT(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
  assert_int_equal(s.clock_reads, 0);
}

static void test_unowned(void **state) {
  struct script s = {0};
  struct qs_cls c;
  uint8_t pkt[1300], cid[20];
  (void)state;
  memset(cid, 0x66, sizeof cid);
  cid[0] = 0x10;
  s.rk = qs_rk_make(1, 1);
  short_pkt(pkt, cid, 17, 64);
  run(&c, &s, pkt, 64);
  qs_classify_unowned(&c, QS_CTR_FB_UNKNOWN_WORKER);
  EXPECT(c, QS_VERDICT_RESET, QS_CTR_FB_UNKNOWN_WORKER);
  long_pkt(pkt, 0xe0, QS_VERSION_V1, cid, 17, 1200);
  run(&c, &s, pkt, 1200);
  qs_classify_unowned(&c, QS_CTR_FB_SOCKET_GONE);
  EXPECT(c, QS_VERDICT_STRAY, QS_CTR_FB_SOCKET_GONE);
  s.rk = qs_rk_handshake(s.rk, 0);
  long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, 17, 1200);
  run(&c, &s, pkt, 1200);
  assert_int_equal(c.verdict, QS_VERDICT_ROUTE);
  qs_classify_unowned(&c, QS_CTR_FB_UNKNOWN_WORKER);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_HASH); /* a dead generation's handshake */
  run(&c, &s, pkt, 1200);
  qs_classify_unowned(&c, QS_CTR_FB_SOCKET_GONE);
  EXPECT(c, QS_VERDICT_NEW, QS_CTR_FB_SOCKET_GONE); /* worth seeing, even in an Initial */
}

/* ---- the user-space binding, with a real keyring ---- */

static const uint8_t host_id[2] = {0x00, 0x01};
static const uint8_t key0[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                 0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};
static const uint8_t key2[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void test_keyring_binding(void **state) {
  struct qs_keyring kr;
  struct qs_cls c;
  uint8_t pkt[1300], cid[QS_MAX_CIDLEN];
  uint32_t rk = qs_rk_make(4, 9);
  int n;
  (void)state;
  memset(&kr, 0, sizeof kr);
  assert_int_equal(qs_cidconf_init(&kr.conf[0], 0, 17, host_id, 2, key0, 0), 0);
  assert_int_equal(qs_cidconf_init(&kr.conf[2], 2, 12, host_id, 2, key2, 0), 0);
  kr.valid[0] = kr.valid[2] = 1;
  kr.mint_cr = 2;

  for (int cr = 0; cr <= 2; cr += 2) {
    n = qs_cidconf_mint(&kr.conf[cr], rk, cid);
    short_pkt(pkt, cid, (size_t)n, 64);
    assert_int_equal(qs_classify_keyring(&c, &kr, pkt, 64), QS_VERDICT_ROUTE);
    assert_int_equal(c.rk, rk);
    assert_int_equal(c.key.k.len, (uint32_t)n);
    /* the same CID in an Initial: hashed, unless a fresh handshake CID */
    long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, (size_t)n, 1200);
    qs_classify_keyring(&c, &kr, pkt, 1200);
    EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_REUSED);
    n = qs_cidconf_mint(&kr.conf[cr], qs_rk_handshake(rk, qs_hs_tick()), cid);
    long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, (size_t)n, 1200);
    qs_classify_keyring(&c, &kr, pkt, 1200);
    EXPECT(c, QS_VERDICT_ROUTE, QS_CTR_CID_ROUTED);
    assert_int_equal(c.rk, rk);
    n = qs_cidconf_mint(&kr.conf[cr], qs_rk_handshake(rk, qs_hs_tick() - 100), cid);
    long_pkt(pkt, 0xc0, QS_VERSION_V1, cid, (size_t)n, 1200);
    qs_classify_keyring(&c, &kr, pkt, 1200);
    EXPECT(c, QS_VERDICT_NEW, QS_CTR_INITIAL_REUSED);
  }
  /* a short header of unknown bits takes the minting configuration's length */
  memset(cid, 0x77, sizeof cid);
  cid[0] = 0x20 | 0x11;
  short_pkt(pkt, cid, 20, 64);
  assert_int_equal(qs_classify_keyring(&c, &kr, pkt, 64), QS_VERDICT_RESET);
  assert_int_equal(c.key.k.len, 12);
  /* another host's CID under our bits */
  {
    struct qs_cidconf other;
    static const uint8_t other_host[2] = {0x00, 0x02};
    assert_int_equal(qs_cidconf_init(&other, 0, 17, other_host, 2, key0, 0), 0);
    n = qs_cidconf_mint(&other, rk, cid);
    short_pkt(pkt, cid, (size_t)n, 64);
    qs_classify_keyring(&c, &kr, pkt, 64);
    EXPECT(c, QS_VERDICT_RESET, QS_CTR_FB_FOREIGN_HOST);
    qs_cidconf_free(&other);
  }
  qs_cidconf_free(&kr.conf[0]);
  qs_cidconf_free(&kr.conf[2]);
}

/* The mint tick runs on CLOCK_MONOTONIC_COARSE in ~4.3 s steps. */
static void test_tick(void **state) {
  (void)state;
  assert_int_equal(qs_hs_tick_of(0), 0);
  assert_int_equal(qs_hs_tick_of((1ULL << QS_HS_TICK_SHIFT) - 1), 0);
  assert_int_equal(qs_hs_tick_of(1ULL << QS_HS_TICK_SHIFT), 1);
  assert_true(qs_hs_tick() - qs_hs_tick_of(0) < 0x7fffffffu);
  assert_false(qs_rk_hs_fresh(qs_rk_make(1, 1), 0));
  assert_true(qs_rk_hs_fresh(qs_rk_handshake(qs_rk_make(1, 1), 7), 7));
  assert_int_equal(qs_rk_owner(qs_rk_handshake(qs_rk_make(0xfffe, 127), 0xff)),
                   qs_rk_make(0xfffe, 127));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_drops),
      cmocka_unit_test(test_versions),
      cmocka_unit_test(test_no_decode),
      cmocka_unit_test(test_short_length_per_config),
      cmocka_unit_test(test_decode_results),
      cmocka_unit_test(test_handshake_cids),
      cmocka_unit_test(test_unowned),
      cmocka_unit_test(test_keyring_binding),
      cmocka_unit_test(test_tick),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
