/* test_steer_diff.c: the kernel and the workers decide alike (issue 10.5).
 *
 * One corpus of datagrams (CIDs of every registered worker and of unknown
 * ones, under two configurations of different CID lengths; Initials with
 * client DCIDs, reused CIDs, fresh and stale handshake CIDs; every QUIC
 * version the parser knows and some it does not; version negotiation;
 * everything the drop rules name; random octets) goes through the real
 * program in the real kernel, over real sockets in a throwaway network
 * namespace, and through the user-space binding the workers call
 * (qs_classify_keyring, with a keyring holding the same configurations).
 * For each datagram the kernel's decision counter and receiving socket must
 * be what the user-space verdict implies: its reason, and its owner's socket
 * for a route or the hash's pick otherwise.  The corpus runs twice, so the
 * second pass meets the kernel's CID cache warm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "netns.h"
#include "quicsteer/classify.h"
#include "quicsteer/util.h"

#include "steer_fix.h"

#define NWORKERS 4

struct dg {
  uint16_t len;
  uint8_t b[1300];
};

struct corpus {
  struct dg *d;
  size_t n, cap;
};

static struct dg *add(struct corpus *c) {
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 256;
    c->d = realloc(c->d, c->cap * sizeof *c->d);
    assert_non_null(c->d);
  }
  memset(&c->d[c->n], 0, sizeof c->d[0]);
  return &c->d[c->n++];
}

/* a long header of |version|, type bits |first|, padded to |total| */
static void add_long(struct corpus *c, uint8_t first, uint32_t version, const uint8_t *dcid,
                     size_t dcidlen, size_t total) {
  struct dg *d = add(c);
  size_t off = 0;
  d->b[off++] = first;
  d->b[off++] = (uint8_t)(version >> 24);
  d->b[off++] = (uint8_t)(version >> 16);
  d->b[off++] = (uint8_t)(version >> 8);
  d->b[off++] = (uint8_t)version;
  d->b[off++] = (uint8_t)dcidlen;
  memcpy(d->b + off, dcid, dcidlen);
  off += dcidlen;
  d->b[off++] = 8;
  memset(d->b + off, 0xa7, 8);
  off += 8;
  d->len = (uint16_t)(total > off ? total : off);
}

static void add_short(struct corpus *c, const uint8_t *dcid, size_t dcidlen, size_t total) {
  struct dg *d = add(c);
  d->b[0] = 0x40;
  memcpy(d->b + 1, dcid, dcidlen);
  memset(d->b + 1 + dcidlen, 0x3c, total - 1 - dcidlen);
  d->len = (uint16_t)total;
}

/* every packet shape a CID can arrive in */
static void add_all_types(struct corpus *c, const uint8_t *cid, size_t len) {
  add_short(c, cid, len, 64);
  add_long(c, 0xe0, QS_VERSION_V1, cid, len, 200);          /* Handshake */
  add_long(c, 0xc0, QS_VERSION_V1, cid, len, 1200);         /* Initial */
  add_long(c, 0xd0, QS_VERSION_V1, cid, len, 1200);         /* 0-RTT */
  add_long(c, 0xd0, QS_VERSION_V2, cid, len, 1200);         /* v2 Initial */
  add_long(c, 0xd0, QS_VERSION_V2_DRAFT, cid, len, 1200);   /* ngtcp2's v2 Initial */
  add_long(c, 0xf0, QS_VERSION_V2_DRAFT, cid, len, 200);    /* ngtcp2's v2 Handshake */
}

static void build(struct corpus *c, const struct qs_cidconf *confs[2], uint16_t gen) {
  static const uint8_t other_key[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  static const uint8_t other_host[2] = {0x00, 0x02};
  uint8_t cid[QS_MAX_CIDLEN], rnd[1300];
  struct qs_cidconf foreign;
  const uint16_t workers[] = {0, 1, 2, 3, 77};
  const uint16_t gens[] = {gen, (uint16_t)(gen + 3)};
  int i, k, g, n;
  uint32_t tick = qs_hs_tick();

  for (i = 0; i < 2; i++)
    for (g = 0; g < 2; g++)
      for (k = 0; k < 5; k++) {
        uint32_t rk = qs_rk_make(gens[g], workers[k]);
        n = qs_cidconf_mint(confs[i], rk, cid);
        add_all_types(c, cid, (size_t)n);
        n = qs_cidconf_mint(confs[i], qs_rk_handshake(rk, tick), cid); /* fresh */
        add_all_types(c, cid, (size_t)n);
        n = qs_cidconf_mint(confs[i], qs_rk_handshake(rk, tick - 40), cid); /* stale */
        add_all_types(c, cid, (size_t)n);
      }
  /* another host's CID under our bits and length */
  assert_int_equal(qs_cidconf_init(&foreign, 0, 17, other_host, 2, other_key, 0), 0);
  n = qs_cidconf_mint(&foreign, qs_rk_make(gen, 1), cid);
  add_all_types(c, cid, (size_t)n);
  qs_cidconf_free(&foreign);
  /* client-chosen DCIDs, some of our lengths; unknown and unroutable bits */
  for (i = 0; i < 8; i++) {
    static const size_t lens[] = {8, 12, 17, 20, 1, 4, 16, 18};
    assert_int_equal(qs_random(cid, sizeof cid), 0);
    add_all_types(c, cid, lens[i]);
    cid[0] = (uint8_t)((i % 2 ? 0xe0 : 0x20) | (cid[0] & 0x1f)); /* cr 7, cr 1 */
    add_all_types(c, cid, lens[i]);
  }
  add_long(c, 0xc0, QS_VERSION_V1, cid, 0, 1200); /* empty DCID */
  add_long(c, 0xe0, QS_VERSION_V1, cid, 0, 200);
  /* versions: negotiation, unknown (also with a DCID over 20 octets) */
  memset(rnd, 0x5d, sizeof rnd);
  add_long(c, 0x80, QS_VERSION_NEG, cid, 8, 100);
  add_long(c, 0xc0, 0x1a2a3a4au, cid, 8, 1200);
  add_long(c, 0xc0, 0xff00001du, cid, 17, 1200);
  add_long(c, 0xc0, 0x1a2a3a4au, rnd, 25, 1200);
  /* drops: empty, runt short header, long headers cut short, CID over 20 */
  add(c)->len = 0;
  add_short(c, cid, 9, 20);
  add_long(c, 0xc0, QS_VERSION_V1, cid, 8, 1200);
  c->d[c->n - 1].len = 4;
  add_long(c, 0xc0, QS_VERSION_V1, cid, 17, 1200);
  c->d[c->n - 1].len = 12;
  add_long(c, 0xc0, QS_VERSION_V1, rnd, 30, 1200);
  add_long(c, 0xd0, QS_VERSION_V2_DRAFT, rnd, 21, 1200);
  /* random octets, and random short headers */
  for (i = 0; i < 300; i++) {
    struct dg *d = add(c);
    uint16_t r;
    assert_int_equal(qs_random(&r, sizeof r), 0);
    d->len = (uint16_t)(r % 200);
    assert_int_equal(qs_random(d->b, d->len), 0);
    if (i % 3 == 0 && d->len > 0)
      d->b[0] &= 0x7f;
  }
}

/* what the kernel must do with |d|, by the user-space verdict */
static void expect(struct fix *f, const struct qs_keyring *kr, const struct dg *d, int *reason,
                   int *sock, struct qs_cls *c) {
  qs_classify_keyring(c, kr, d->b, d->len);
  if (c->verdict == QS_VERDICT_ROUTE &&
      !(qs_rk_generation(c->rk) == qs_steer_generation(f->s) && qs_rk_worker(c->rk) < f->n))
    qs_classify_unowned(c, QS_CTR_FB_UNKNOWN_WORKER); /* the worker lookup of this fixture */
  *reason = c->reason;
  if (c->verdict == QS_VERDICT_DROP)
    *sock = -1;
  else if (c->nokey)
    *sock = -2; /* the kernel's own choice */
  else if (c->verdict == QS_VERDICT_ROUTE)
    *sock = qs_rk_worker(c->rk);
  else
    *sock = fix_hash_sock(f, &c->key);
}

static void test_differential(void **state) {
  static const uint8_t key2[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  struct fix f;
  struct qs_cidconf c2;
  struct qs_keyring kr;
  struct corpus corpus = {0};
  const struct qs_cidconf *confs[2];
  uint64_t ctr[QS_CTR_MAX];
  unsigned seen[QS_CTR_MAX] = {0}, verdicts[QS_VERDICT_DECODE + 1] = {0};
  int cfd, pass, reason, sock, want_reason, want_sock;
  size_t i;
  (void)state;

  fix_open(&f, NWORKERS, AF_INET, ALG_AES1); /* configuration 0: 17 octets */
  assert_int_equal(qs_cidconf_init(&c2, 2, 12, host_id, 2, key2, 0), 0); /* four-pass */
  assert_int_equal(qs_steer_set_config(f.s, &c2), 0);
  memset(&kr, 0, sizeof kr);
  kr.conf[0] = f.cc;
  kr.conf[2] = c2;
  kr.valid[0] = kr.valid[2] = 1;
  kr.mint_cr = 0; /* qs_steer_serve(.., 0): the kernel's short_cid_len is 17 too */
  confs[0] = &f.cc;
  confs[1] = &c2;
  build(&corpus, confs, qs_steer_generation(f.s));

  cfd = client_socket(AF_INET, 0);
  assert_int_equal(qs_steer_read_counters(f.s, ctr), 0);
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < corpus.n; i++) {
      struct qs_cls c;
      expect(&f, &kr, &corpus.d[i], &want_reason, &want_sock, &c);
      sock = fix_observe(&f, cfd, corpus.d[i].b, corpus.d[i].len, &reason, ctr);
      if (reason != want_reason || (want_sock != -2 && sock != want_sock))
        fail_msg("datagram %zu (pass %d, %u octets, first 0x%02x): kernel %s to socket %d, "
                 "user space %s %s to socket %d",
                 i, pass, corpus.d[i].len, corpus.d[i].len ? corpus.d[i].b[0] : 0,
                 qs_ctr_name(reason), sock, qs_verdict_name(c.verdict), qs_ctr_name(want_reason),
                 want_sock);
      seen[reason]++;
      verdicts[c.verdict]++;
    }
  }
  /* the corpus reached every verdict and every reason this fixture can
   * produce (not fallback_kernel / socket_gone: no socket is missing here) */
  for (i = 0; i <= QS_VERDICT_VNEG; i++)
    if (!verdicts[i])
      fail_msg("no datagram got verdict %s", qs_verdict_name((int)i));
  for (i = QS_CTR_RX + 1; i < QS_CTR_MAX; i++)
    if (!seen[i] && i != QS_CTR_FB_KERNEL && i != QS_CTR_FB_SOCKET_GONE)
      fail_msg("no datagram was counted %s", qs_ctr_name((int)i));
  printf("%zu datagrams twice: same decision in the kernel and in user space\n", corpus.n);
  close(cfd);
  free(corpus.d);
  qs_cidconf_free(&c2);
  fix_close(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_differential),
  };
  if (qs_test_netns_enter() != 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
