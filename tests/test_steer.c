/* test_steer.c: the steering program in the real kernel, with real sockets,
 * inside a throwaway network namespace.
 *
 * Each case builds a reuseport group of N sockets on loopback, loads the
 * program through the library's loader, registers the sockets as workers of
 * one generation and sends datagrams at the group from many source ports.
 * Every datagram carries the worker it is meant for in its payload, so the
 * receiving socket can tell whether the kernel steered it right.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns.h"
#include "quicsteer/classify.h"
#include "quicsteer/lb.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/siphash.h"
#include "quicsteer/steer.h"
#include "quicsteer/util.h"

#include "steer_fix.h"

struct tag_check {
  size_t cidlen;
  int wrong;
};

static void check_tag(int sock, const uint8_t *pkt, size_t len, void *arg) {
  struct tag_check *tc = arg;
  uint32_t tag;
  assert_true(len >= 1 + tc->cidlen + sizeof tag);
  memcpy(&tag, pkt + 1 + tc->cidlen, sizeof tag);
  if (tag != (uint32_t)sock)
    tc->wrong++;
}

/* CIDs minted for worker k reach socket k from 1000 source ports. */
static void cid_routing(int n, int family, enum alg alg) {
  struct fix f;
  struct tag_check tc = {0, 0};
  uint64_t ctr[QS_CTR_MAX], before;
  uint8_t cid[QS_MAX_CIDLEN], pkt[PKT_LEN];
  int p, k, cfd, total = 0, got = 0, len;

  fix_open(&f, n, family, alg);
  tc.cidlen = qs_cidconf_cid_len(&f.cc);
  assert_int_equal(qs_steer_read_counters(f.s, ctr), 0);
  before = ctr[QS_CTR_CID_ROUTED];
  for (p = 0; p < 1000; p++) {
    cfd = client_socket(family, (uint16_t)(CLIENT_PORT_BASE + p));
    for (k = 0; k < n; k++) {
      len = qs_cidconf_mint(&f.cc, qs_rk_make(qs_steer_generation(f.s), (uint16_t)k), cid);
      assert_int_equal(len, (int)tc.cidlen);
      send_to(&f, cfd, pkt, short_pkt(pkt, cid, (size_t)len, (uint32_t)k));
      total++;
    }
    close(cfd);
    if (p % 100 == 99)
      got += drain(&f, total - got, NULL, check_tag, &tc);
  }
  got += drain(&f, total - got, NULL, check_tag, &tc);
  assert_int_equal(got, total);
  assert_int_equal(tc.wrong, 0);
  assert_int_equal(qs_steer_read_counters(f.s, ctr), 0);
  assert_int_equal(ctr[QS_CTR_CID_ROUTED] - before, (uint64_t)total);
  fix_close(&f);
}

static void test_cid_routing_v4(void **state) {
  int ns[] = {1, 2, 4, 16};
  size_t i;
  for (i = 0; i < 4; i++) {
    cid_routing(ns[i], AF_INET, ALG_PLAIN);
    cid_routing(ns[i], AF_INET, ALG_AES1);
    cid_routing(ns[i], AF_INET, ALG_AES4);
  }
}

static void test_cid_routing_v6(void **state) {
  int ns[] = {1, 2, 4, 16};
  size_t i;
  for (i = 0; i < 4; i++) {
    cid_routing(ns[i], AF_INET6, ALG_PLAIN);
    cid_routing(ns[i], AF_INET6, ALG_AES1);
    cid_routing(ns[i], AF_INET6, ALG_AES4);
  }
}

struct predict {
  struct qs_global g;
  int n;
  int mismatch;
  size_t dcidlen;
};

static void check_predicted(int sock, const uint8_t *pkt, size_t len, void *arg) {
  struct predict *pr = arg;
  union qs_cidkey key;
  uint64_t h;
  assert_true(len > 6 + pr->dcidlen);
  qs_cidkey_set(&key, pkt + 6, (uint32_t)pr->dcidlen);
  h = qs_cidkey_hash(pr->g.hash_k0, pr->g.hash_k1, &key);
  if ((int)qs_hash_pick(h, (uint32_t)pr->n) != sock)
    pr->mismatch++;
}

/* Initials with random DCIDs spread evenly, exactly where the shared hash
 * says, and every Initial of one DCID reaches one socket. */
static void initial_spread(int n, int family, size_t dcidlen) {
  struct fix f;
  struct predict pr;
  uint32_t counts[MAX_N] = {0}, same[MAX_N] = {0};
  uint8_t dcid[QS_MAX_CIDLEN], pkt[1300];
  const int per = 2000, total = per * n;
  double chi2 = 0, crit;
  int i, cfd, got, nonzero = 0;

  fix_open(&f, n, family, ALG_AES1);
  memset(&pr, 0, sizeof pr);
  assert_int_equal(qs_steer_global(f.s, &pr.g), 0);
  pr.n = n;
  pr.dcidlen = dcidlen;
  cfd = client_socket(family, 0);
  for (i = 0; i < total; i++) {
    assert_int_equal(qs_random(dcid, dcidlen), 0);
    send_to(&f, cfd, pkt, initial_pkt(pkt, dcid, dcidlen, (uint32_t)i));
    if (i % 500 == 499)
      drain(&f, 500, counts, check_predicted, &pr);
  }
  close(cfd);
  got = 0;
  for (i = 0; i < n; i++)
    got += (int)counts[i];
  got += drain(&f, total - got, counts, check_predicted, &pr);
  assert_int_equal(pr.mismatch, 0);
  for (i = 0, got = 0; i < n; i++) {
    double d = (double)counts[i] - per;
    chi2 += d * d / per;
    got += (int)counts[i];
  }
  assert_int_equal(got, total);
  /* chi-square critical values at p = 0.001 for n-1 degrees of freedom */
  crit = n == 1 ? 0 : n == 2 ? 10.83 : n == 4 ? 16.27 : 37.70;
  if (chi2 > crit)
    fail_msg("N=%d chi2=%.2f > %.2f", n, chi2, crit);

  /* one DCID from 50 source ports: one socket */
  assert_int_equal(qs_random(dcid, dcidlen), 0);
  for (i = 0; i < 50; i++) {
    cfd = client_socket(family, (uint16_t)(CLIENT_PORT_BASE + 2000 + i));
    send_to(&f, cfd, pkt, initial_pkt(pkt, dcid, dcidlen, (uint32_t)i));
    close(cfd);
  }
  assert_int_equal(drain(&f, 50, same, NULL, NULL), 50);
  for (i = 0; i < n; i++)
    nonzero += same[i] != 0;
  assert_int_equal(nonzero, 1);
  fix_close(&f);
}

static void test_initial_spread(void **state) {
  int ns[] = {1, 2, 4, 16};
  size_t i;
  for (i = 0; i < 4; i++) {
    initial_spread(ns[i], AF_INET, 8);
    initial_spread(ns[i], AF_INET6, 8);
    initial_spread(ns[i], AF_INET, 17); /* our CID length, but not ours */
  }
}

/* Garbage never breaks the program: each kind is counted under its reason,
 * what cannot be QUIC is dropped, what may be QUIC is delivered. */
static void test_garbage(void **state) {
  struct fix f;
  struct qs_cidconf other;
  uint64_t c0[QS_CTR_MAX], c1[QS_CTR_MAX];
  uint8_t pkt[1500], cid[QS_MAX_CIDLEN];
  static const uint8_t other_key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  int cfd, i, got, delivered = 0, len;
  uint64_t sent_random = 0, dropped;

  fix_open(&f, 4, AF_INET, ALG_AES1);
  cfd = client_socket(AF_INET, 0);

#define EXPECT(reason, deliver, ...)                                                               \
  do {                                                                                             \
    assert_int_equal(qs_steer_read_counters(f.s, c0), 0);                                          \
    __VA_ARGS__;                                                                                   \
    got = drain(&f, (deliver), NULL, NULL, NULL);                                                  \
    assert_int_equal(got, (deliver));                                                              \
    assert_int_equal(qs_steer_read_counters(f.s, c1), 0);                                          \
    if (c1[reason] - c0[reason] != 1)                                                              \
      fail_msg("line %d: %s moved by %llu", __LINE__, qs_ctr_name(reason),                         \
               (unsigned long long)(c1[reason] - c0[reason]));                                     \
    assert_int_equal(c1[QS_CTR_RX] - c0[QS_CTR_RX], 1);                                            \
  } while (0)

  EXPECT(QS_CTR_DROP_EMPTY, 0, send_to(&f, cfd, pkt, 0));
  memset(pkt, 0x41, sizeof pkt);
  EXPECT(QS_CTR_DROP_SHORT, 0, send_to(&f, cfd, pkt, 10));
  /* long header cut inside its version */
  pkt[0] = 0xc0;
  EXPECT(QS_CTR_DROP_TRUNCATED, 0, send_to(&f, cfd, pkt, 4));
  /* v1 header whose DCID claims 30 octets, datagram long enough */
  memcpy(pkt, "\xc0\x00\x00\x00\x01\x1e", 6);
  EXPECT(QS_CTR_DROP_CIDLEN, 0, send_to(&f, cfd, pkt, 100));
  /* v1 header cut inside its DCID */
  memcpy(pkt, "\xc0\x00\x00\x00\x01\x14", 6);
  EXPECT(QS_CTR_DROP_TRUNCATED, 0, send_to(&f, cfd, pkt, 12));
  /* an unknown version may carry a 25-octet CID: delivered */
  memcpy(pkt, "\xc0\x1a\x2a\x3a\x4a\x19", 6);
  EXPECT(QS_CTR_FB_VERSION, 1, send_to(&f, cfd, pkt, 100));
  memcpy(pkt, "\xc0\x1a\x2a\x3a\x4a\x08", 6);
  pkt[14] = 0;
  EXPECT(QS_CTR_FB_VERSION, 1, send_to(&f, cfd, pkt, 100));
  /* version negotiation */
  memcpy(pkt, "\x80\x00\x00\x00\x00\x08", 6);
  EXPECT(QS_CTR_FB_VERSION, 1, send_to(&f, cfd, pkt, 100));
  /* 1-RTT, DCID with config-rotation bits 0b111 */
  memset(pkt, 0, 64);
  pkt[0] = 0x40;
  pkt[1] = 0xe0 | 16;
  EXPECT(QS_CTR_FB_UNROUTABLE, 1, send_to(&f, cfd, pkt, 64));
  /* 1-RTT, config 3 not installed */
  pkt[1] = 0x60 | 16;
  EXPECT(QS_CTR_FB_NO_CONFIG, 1, send_to(&f, cfd, pkt, 64));
  /* 1-RTT, CID of another host key under our cr bits */
  assert_int_equal(qs_cidconf_init(&other, 0, 17, host_id, 2, other_key, 1), 0);
  do {
    uint32_t rk;
    len = qs_cidconf_mint(&other, 5, cid);
    if (qs_cidconf_route(&f.cc, cid, (size_t)len, &rk) == QS_ERR_FOREIGN)
      break;
  } while (1);
  EXPECT(QS_CTR_FB_FOREIGN_HOST, 1, send_to(&f, cfd, pkt, short_pkt(pkt, cid, (size_t)len, 0)));
  qs_cidconf_free(&other);
  /* our CID, but for a worker nobody registered */
  len = qs_cidconf_mint(&f.cc, qs_rk_make(qs_steer_generation(f.s), 77), cid);
  EXPECT(QS_CTR_FB_UNKNOWN_WORKER, 1, send_to(&f, cfd, pkt, short_pkt(pkt, cid, (size_t)len, 0)));
  /* our CID under another generation */
  len = qs_cidconf_mint(&f.cc, qs_rk_make((uint16_t)(qs_steer_generation(f.s) + 3), 0), cid);
  EXPECT(QS_CTR_FB_UNKNOWN_WORKER, 1, send_to(&f, cfd, pkt, short_pkt(pkt, cid, (size_t)len, 0)));
  /* a Handshake packet whose DCID is not our length */
  memcpy(pkt, "\xe0\x00\x00\x00\x01\x08", 6);
  pkt[6] = 0x00; /* cr 0 */
  pkt[14] = 0;
  EXPECT(QS_CTR_FB_CIDLEN, 1, send_to(&f, cfd, pkt, 100));
  /* a Handshake packet carrying our CID is routed */
  len = qs_cidconf_mint(&f.cc, qs_rk_make(qs_steer_generation(f.s), 2), cid);
  pkt[5] = (uint8_t)len;
  memcpy(pkt + 6, cid, (size_t)len);
  pkt[6 + len] = 0;
  EXPECT(QS_CTR_CID_ROUTED, 1, send_to(&f, cfd, pkt, 100));
  /* an Initial carrying that (non-handshake) CID is not aimed: hashed */
  pkt[0] = 0xc0;
  EXPECT(QS_CTR_INITIAL_REUSED, 1, send_to(&f, cfd, pkt, 1200));
  /* an Initial carrying a fresh handshake CID (a Retry's SCID) is routed */
  len = qs_cidconf_mint(&f.cc, qs_rk_handshake(qs_rk_make(qs_steer_generation(f.s), 2), qs_hs_tick()),
                        cid);
  memcpy(pkt + 6, cid, (size_t)len);
  EXPECT(QS_CTR_CID_ROUTED, 1, send_to(&f, cfd, pkt, 1200));
#undef EXPECT

  /* random datagrams: every one is counted once, as delivered or dropped */
  assert_int_equal(qs_steer_read_counters(f.s, c0), 0);
  for (i = 0; i < 3000; i++) {
    uint16_t r;
    assert_int_equal(qs_random(&r, sizeof r), 0);
    len = r % 200;
    assert_int_equal(qs_random(pkt, (size_t)len), 0);
    send_to(&f, cfd, pkt, (size_t)len);
    sent_random++;
    if (i % 500 == 499)
      delivered += drain(&f, 1 << 30, NULL, NULL, NULL);
  }
  delivered += drain(&f, 1 << 30, NULL, NULL, NULL);
  assert_int_equal(qs_steer_read_counters(f.s, c1), 0);
  assert_int_equal(c1[QS_CTR_RX] - c0[QS_CTR_RX], sent_random);
  dropped = (c1[QS_CTR_DROP_EMPTY] - c0[QS_CTR_DROP_EMPTY]) +
            (c1[QS_CTR_DROP_TRUNCATED] - c0[QS_CTR_DROP_TRUNCATED]) +
            (c1[QS_CTR_DROP_CIDLEN] - c0[QS_CTR_DROP_CIDLEN]) +
            (c1[QS_CTR_DROP_SHORT] - c0[QS_CTR_DROP_SHORT]);
  assert_int_equal((uint64_t)delivered + dropped, sent_random);
  assert_true(delivered > 0);
  close(cfd);
  fix_close(&f);
}

/* Closing a worker's socket makes its CIDs fall back (delivered elsewhere)
 * instead of vanishing; registering a new socket restores the route. */
static void test_socket_gone(void **state) {
  struct fix f;
  struct tag_check tc = {0, 0};
  uint32_t counts[MAX_N] = {0};
  uint64_t c0[QS_CTR_MAX], c1[QS_CTR_MAX];
  uint8_t pkt[PKT_LEN], cid[QS_MAX_CIDLEN];
  int cfd, i, len;
  uint16_t port;

  fix_open(&f, 4, AF_INET, ALG_AES1);
  tc.cidlen = qs_cidconf_cid_len(&f.cc);
  cfd = client_socket(AF_INET, 0);
  close(f.fd[2]);
  f.fd[2] = -1;
  assert_int_equal(qs_steer_read_counters(f.s, c0), 0);
  for (i = 0; i < 100; i++) {
    len = qs_cidconf_mint(&f.cc, qs_rk_make(qs_steer_generation(f.s), 2), cid);
    send_to(&f, cfd, pkt, short_pkt(pkt, cid, (size_t)len, 2));
  }
  assert_int_equal(drain(&f, 100, counts, NULL, NULL), 100);
  assert_int_equal(qs_steer_read_counters(f.s, c1), 0);
  assert_int_equal(c1[QS_CTR_FB_SOCKET_GONE] - c0[QS_CTR_FB_SOCKET_GONE], 100);

  port = f.port;
  f.fd[2] = server_socket(AF_INET, &port);
  assert_int_equal(qs_steer_register(f.s, 2, (uint32_t)f.group, f.fd[2]), 0);
  assert_int_equal(qs_steer_read_counters(f.s, c0), 0);
  for (i = 0; i < 100; i++) {
    len = qs_cidconf_mint(&f.cc, qs_rk_make(qs_steer_generation(f.s), 2), cid);
    send_to(&f, cfd, pkt, short_pkt(pkt, cid, (size_t)len, 2));
  }
  assert_int_equal(drain(&f, 100, NULL, check_tag, &tc), 100);
  assert_int_equal(tc.wrong, 0);
  assert_int_equal(qs_steer_read_counters(f.s, c1), 0);
  assert_int_equal(c1[QS_CTR_CID_ROUTED] - c0[QS_CTR_CID_ROUTED], 100);
  close(cfd);
  fix_close(&f);
}

/* A second open of a live instance is refused; the pins of a dead one are
 * replaced, not trusted. */
static void test_instances(void **state) {
  struct qs_steer *a, *b;
  char why[256], name[64];
  pid_t pid;
  int st;
  uint16_t last;

  snprintf(name, sizeof name, "test-inst-%d", (int)getpid());
  assert_int_equal(qs_steer_open(&a, name, 0, why, sizeof why), 0);
  assert_int_equal(qs_steer_serve(a, 1, 0), 0);
  assert_int_equal(qs_steer_open(&b, name, 0, why, sizeof why), QS_ERR_BUSY);
  assert_non_null(strstr(why, "already running"));
  /* takeover joins as the next generation */
  assert_int_equal(qs_steer_open(&b, name, QS_STEER_TAKEOVER, why, sizeof why), 0);
  assert_int_equal(qs_steer_generation(b), qs_steer_generation(a) + 1);
  assert_int_equal(qs_steer_serve(b, 1, 0), 0);
  assert_int_equal(qs_steer_state(a), QS_GEN_DRAINING);
  assert_int_equal(qs_steer_state(b), QS_GEN_SERVING);
  last = qs_steer_generation(b);
  qs_steer_close(a);
  qs_steer_close(b);
  {
    char pin[128];
    snprintf(pin, sizeof pin, "/sys/fs/bpf/quicsteer/%s", name);
    assert_int_equal(access(pin, F_OK), -1); /* the last one out removes the pins */
  }

  /* a child opens and dies without closing: its pins are stale */
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct qs_steer *c;
    _exit(qs_steer_open(&c, name, 0, why, sizeof why) == 0 ? 0 : 1);
  }
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(qs_steer_open(&a, name, 0, why, sizeof why), 0);
  /* a fresh start: a number never handed out (the dead child had last + 1) */
  assert_int_equal(qs_steer_generation(a), last + 2);
  qs_steer_close(a);
  assert_int_not_equal(qs_steer_open(&a, "bad/name", 0, why, sizeof why), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_instances),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_socket_gone),
      cmocka_unit_test(test_initial_spread),
      cmocka_unit_test(test_cid_routing_v4),
      cmocka_unit_test(test_cid_routing_v6),
  };
  if (qs_test_netns_enter() != 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
