/* test_steer_cache.c: the kernel's cache of decoded CIDs, shared by all
 * CPUs (qs_cidcache, docs/steering.md), on its hit path and on every change
 * that must void it: a configuration retired or replaced (key rotation), a
 * takeover whose predecessor leaves, a worker's socket replaced.  A stale
 * entry must never deliver a datagram to a socket the current state would
 * not choose.
 *
 * The program runs on the sending CPU (loopback), so the test pins itself to
 * one CPU; test_other_cpu then moves to another and checks that the entry
 * the first CPU made serves there too (the AES once per CID per host). */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netns.h"
#include "quicsteer/classify.h"

#include "steer_fix.h"

static int pin_fd(const struct fix *f, const char *map) {
  char path[256];
  int fd;
  snprintf(path, sizeof path, "%s/%s/%s", QS_PIN_ROOT, f->name, map);
  fd = bpf_obj_get(path);
  if (fd < 0)
    fail_msg("bpf_obj_get %s: %s", path, strerror(errno));
  return fd;
}

/* the cache entry for |cid|: 1 if it holds the CID under the current epoch
 * with a matching check word (and then its base and routing key), else 0 */
static int cached(const struct fix *f, const uint8_t *cid, size_t len, uint32_t *base,
                  uint32_t *rk) {
  int fd = pin_fd(f, "qs_cidcache");
  struct qs_cidcache_ent v;
  struct qs_global g;
  union qs_cidkey key;
  uint32_t slot;
  int hit;

  qs_cidkey_set(&key, cid, (uint32_t)len);
  slot = qs_cidcache_slot(&key);
  assert_int_equal(bpf_map_lookup_elem(fd, &slot, &v), 0);
  assert_int_equal(qs_steer_global(f->s, &g), 0);
  hit = memcmp(&v.key, &key, sizeof key) == 0 && v.epoch == g.epoch &&
        v.check == qs_cidcache_check(&key, v.base, v.epoch, v.rk);
  if (hit) {
    *base = v.base;
    *rk = v.rk;
  }
  close(fd);
  return hit;
}

/* the routing key |rk| registered (|live|) or not, behind the library's
 * back (no epoch change): qs_workers as the program reads it */
static void set_worker(int fd, uint32_t rk, uint32_t live) {
  uint32_t idx = qs_worker_index(rk);
  struct qs_worker_ent w;
  assert_int_equal(bpf_map_lookup_elem(fd, &idx, &w), 0);
  assert_int_equal(w.rk, rk);
  w.live = live;
  assert_int_equal(bpf_map_update_elem(fd, &idx, &w, BPF_ANY), 0);
}

static void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  assert_int_equal(sched_setaffinity(0, sizeof set, &set), 0);
  assert_int_equal(sched_getcpu(), cpu);
}

static void pin_cpu(void) {
  int cpu = sched_getcpu();
  assert_true(cpu >= 0);
  pin_to(cpu);
}

static int mint(struct fix *f, const struct qs_cidconf *cc, uint16_t worker, uint8_t *cid) {
  return qs_cidconf_mint(cc, qs_rk_make(qs_steer_generation(f->s), worker), cid);
}

/* send |cid| in a 1-RTT packet; the receiving socket, and the reason */
static int send_cid(struct fix *f, int cfd, const uint8_t *cid, int len, int *reason,
                    uint64_t ctr[QS_CTR_MAX]) {
  uint8_t pkt[PKT_LEN];
  return fix_observe(f, cfd, pkt, short_pkt(pkt, cid, (size_t)len, 0), reason, ctr);
}

/* Every case starts alike: pinned to this CPU, 4 workers, a client, the
 * counters, and one CID of |worker| sent once so that this CPU caches it.
 * Returns the client socket; the CID's length in *len. */
static int start(struct fix *f, uint16_t worker, uint8_t *cid, int *len, uint64_t ctr[QS_CTR_MAX]) {
  uint32_t base, rk;
  int cfd, reason;
  pin_cpu();
  fix_open(f, 4, AF_INET, ALG_AES1);
  cfd = client_socket(AF_INET, 0);
  assert_int_equal(qs_steer_read_counters(f->s, ctr), 0);
  *len = mint(f, &f->cc, worker, cid);
  assert_false(cached(f, cid, (size_t)*len, &base, &rk));
  assert_int_equal(send_cid(f, cfd, cid, *len, &reason, ctr), worker);
  assert_int_equal(reason, QS_CTR_CID_ROUTED);
  assert_true(cached(f, cid, (size_t)*len, &base, &rk));
  return cfd;
}

/* The hit path: an entry made by the first datagram serves the next ones,
 * even once the routing key is gone from qs_workers (which only a lookup
 * on a miss would notice). */
static void test_hit(void **state) {
  struct fix f;
  uint8_t cid[QS_MAX_CIDLEN], cid2[QS_MAX_CIDLEN];
  uint64_t ctr[QS_CTR_MAX];
  uint32_t base, rk, want = qs_rk_make(0, 0);
  int cfd, len, len2, reason, i, fd;
  (void)state;

  cfd = start(&f, 1, cid, &len, ctr);
  assert_true(cached(&f, cid, (size_t)len, &base, &rk));
  want = qs_rk_make(qs_steer_generation(f.s), 1);
  assert_int_equal(base, qs_slot_base(qs_steer_generation(f.s), 1));
  assert_int_equal(rk, want);

  /* remove the routing key behind the program's back (no epoch change) */
  fd = pin_fd(&f, "qs_workers");
  set_worker(fd, want, 0);
  for (i = 0; i < 20; i++) {
    assert_int_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 1);
    assert_int_equal(reason, QS_CTR_CID_ROUTED); /* only the cache knows the owner now */
  }
  len2 = mint(&f, &f.cc, 1, cid2); /* not cached: looked up, and missing */
  assert_int_not_equal(send_cid(&f, cfd, cid2, len2, &reason, ctr), -1);
  assert_int_equal(reason, QS_CTR_FB_UNKNOWN_WORKER);
  /* a handshake CID's mark and mint time are cached with it: an Initial
   * meeting the entry is still judged by them */
  {
    uint8_t hs[QS_MAX_CIDLEN], pkt[1300];
    int hl = qs_cidconf_mint(&f.cc, qs_rk_handshake(want, qs_hs_tick()), hs);
    set_worker(fd, want, 1); /* the key back */
    assert_int_equal(send_cid(&f, cfd, hs, hl, &reason, ctr), 1);
    assert_true(cached(&f, hs, (size_t)hl, &base, &rk));
    assert_true(qs_rk_hs_fresh(rk, qs_hs_tick()));
    assert_int_equal(fix_observe(&f, cfd, pkt, initial_pkt(pkt, hs, (size_t)hl, 0), &reason, ctr),
                     1);
    assert_int_equal(reason, QS_CTR_CID_ROUTED);
    assert_int_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 1);
    {
      union qs_cidkey key; /* cached, but no handshake CID: hashed */
      qs_cidkey_set(&key, cid, (uint32_t)len);
      assert_int_equal(fix_observe(&f, cfd, pkt, initial_pkt(pkt, cid, (size_t)len, 0), &reason,
                                   ctr),
                       fix_hash_sock(&f, &key));
    }
    assert_int_equal(reason, QS_CTR_INITIAL_REUSED);
  }
  {
    /* a generation eight later shares worker 1's qs_workers index (live):
     * only its own routing key names a worker */
    uint8_t far[QS_MAX_CIDLEN];
    int fl = qs_cidconf_mint(
        &f.cc, qs_rk_make((uint16_t)(qs_steer_generation(f.s) + QS_GEN_SLOTS), 1), far);
    assert_int_not_equal(send_cid(&f, cfd, far, fl, &reason, ctr), -1);
    assert_int_equal(reason, QS_CTR_FB_UNKNOWN_WORKER);
  }
  close(fd);
  close(cfd);
  fix_close(&f);
}

/* Shared by the CPUs: an entry made on one CPU serves a datagram arriving on
 * another, which therefore pays no AES and no routing-key lookup (shown as
 * above: the key removed from qs_workers, only the cache knows the owner).
 * A torn entry, its check word not matching, is a miss.  Needs a second
 * CPU (this machine and CI have two). */
static void test_other_cpu(void **state) {
  struct fix f;
  uint8_t cid[QS_MAX_CIDLEN];
  uint64_t ctr[QS_CTR_MAX];
  uint32_t base, rk, want, slot;
  union qs_cidkey key;
  struct qs_cidcache_ent v;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int cfd, len, reason, fd, cfd_map, other;
  (void)state;

  assert_true(ncpu >= 2);
  cfd = start(&f, 3, cid, &len, ctr); /* pinned to one CPU, the entry made there */
  other = (int)((sched_getcpu() + 1) % ncpu);
  want = qs_rk_make(qs_steer_generation(f.s), 3);
  fd = pin_fd(&f, "qs_workers");
  set_worker(fd, want, 0);
  pin_to(other);
  assert_int_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 3);
  assert_int_equal(reason, QS_CTR_CID_ROUTED);

  /* an entry whose check word does not match its fields is not trusted */
  qs_cidkey_set(&key, cid, (uint32_t)len);
  slot = qs_cidcache_slot(&key);
  cfd_map = pin_fd(&f, "qs_cidcache");
  assert_int_equal(bpf_map_lookup_elem(cfd_map, &slot, &v), 0);
  v.base = qs_slot_base(qs_steer_generation(f.s), 1); /* as if torn by another fill */
  assert_int_equal(bpf_map_update_elem(cfd_map, &slot, &v, BPF_ANY), 0);
  assert_false(cached(&f, cid, (size_t)len, &base, &rk));
  /* decoded again, and the key is gone: the hashed fallback, which may
   * pick any worker (worker 1 too), so only the reason tells */
  assert_int_not_equal(send_cid(&f, cfd, cid, len, &reason, ctr), -1);
  assert_int_equal(reason, QS_CTR_FB_UNKNOWN_WORKER);
  close(cfd_map);
  close(fd);
  close(cfd);
  fix_close(&f);
}

/* Key rotation: a new codepoint leaves cached CIDs of the old one routed
 * (they are still valid); retiring the old configuration voids them, and
 * a new key under the same codepoint never lets an old entry speak. */
static void test_rotation(void **state) {
  static const uint8_t key3[16] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3};
  struct fix f;
  struct qs_cidconf rot, again;
  uint8_t cid[QS_MAX_CIDLEN], cid3[QS_MAX_CIDLEN];
  uint64_t ctr[QS_CTR_MAX];
  uint32_t base, rk;
  union qs_cidkey key;
  int cfd, len, len3, reason, sock;
  (void)state;

  cfd = start(&f, 2, cid, &len, ctr);

  /* rotate: configuration 3 mints from now on */
  assert_int_equal(qs_cidconf_init(&rot, 3, 17, host_id, 2, key3, 0), 0);
  assert_int_equal(qs_steer_set_config(f.s, &rot), 0);
  assert_false(cached(&f, cid, (size_t)len, &base, &rk)); /* the epoch moved */
  assert_int_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 2); /* old CIDs still route */
  assert_int_equal(reason, QS_CTR_CID_ROUTED);
  len3 = mint(&f, &rot, 3, cid3);
  assert_int_equal(send_cid(&f, cfd, cid3, len3, &reason, ctr), 3);
  assert_int_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 2); /* cached again */
  assert_true(cached(&f, cid, (size_t)len, &base, &rk));

  /* retire configuration 0: its cached CIDs must not route any more */
  assert_int_equal(qs_steer_clear_config(f.s, 0), 0);
  qs_cidkey_set(&key, cid, (uint32_t)len);
  sock = send_cid(&f, cfd, cid, len, &reason, ctr);
  assert_int_equal(reason, QS_CTR_FB_NO_CONFIG);
  assert_int_equal(sock, fix_hash_sock(&f, &key));

  /* codepoint 0 reused by another key: the old CID decodes to nothing */
  assert_int_equal(qs_cidconf_init(&again, 0, 17, host_id, 2, key3, 1), 0);
  assert_int_equal(qs_steer_set_config(f.s, &again), 0);
  for (int i = 0; i < 5; i++) {
    sock = send_cid(&f, cfd, cid, len, &reason, ctr);
    assert_int_not_equal(reason, QS_CTR_CID_ROUTED);
    assert_int_equal(sock, fix_hash_sock(&f, &key));
  }
  len = mint(&f, &again, 1, cid); /* and its own CIDs route */
  assert_int_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 1);
  assert_int_equal(reason, QS_CTR_CID_ROUTED);
  qs_cidconf_free(&rot);
  qs_cidconf_free(&again);
  close(cfd);
  fix_close(&f);
}

/* A worker's socket replaced: the cache holds the slot, not the socket, so
 * the replacement gets the datagrams and the old socket none; after an
 * unregister (the epoch moves) a re-registration routes again. */
static void test_socket_replaced(void **state) {
  struct fix f;
  uint8_t cid[QS_MAX_CIDLEN], buf[2048];
  uint64_t ctr[QS_CTR_MAX];
  uint32_t base, rk;
  uint16_t port;
  int cfd, len, reason, old, i;
  (void)state;

  cfd = start(&f, 2, cid, &len, ctr);

  old = f.fd[2];
  port = f.port;
  f.fd[2] = server_socket(AF_INET, &port);
  assert_int_equal(qs_steer_register(f.s, 2, (uint32_t)f.group, f.fd[2]), 0);
  assert_true(cached(&f, cid, (size_t)len, &base, &rk)); /* still valid: same slot */
  for (i = 0; i < 20; i++) {
    assert_int_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 2);
    assert_int_equal(reason, QS_CTR_CID_ROUTED);
  }
  assert_true(recv(old, buf, sizeof buf, MSG_DONTWAIT) < 0); /* the old socket got nothing */

  /* unregistered: the cached entry is void, the CID falls back */
  assert_int_equal(qs_steer_unregister(f.s, 2), 0);
  assert_false(cached(&f, cid, (size_t)len, &base, &rk));
  assert_int_not_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 2);
  assert_int_equal(reason, QS_CTR_FB_UNKNOWN_WORKER);
  close(f.fd[2]);
  f.fd[2] = server_socket(AF_INET, &port);
  assert_int_equal(qs_steer_register(f.s, 2, (uint32_t)f.group, f.fd[2]), 0);
  assert_int_equal(send_cid(&f, cfd, cid, len, &reason, ctr), 2);
  assert_int_equal(reason, QS_CTR_CID_ROUTED);
  assert_true(recv(old, buf, sizeof buf, MSG_DONTWAIT) < 0);
  close(old);
  close(cfd);
  fix_close(&f);
}

/* Takeover: the successor's sockets join the group; the predecessor's
 * cached CIDs reach the predecessor while it lives, and once it leaves
 * (its sockets still open) they fall back to the successor by hash: never
 * to the predecessor's socket through a stale entry. */
static void test_takeover(void **state) {
  struct fix a, b;
  char why[256];
  uint8_t cid[QS_MAX_CIDLEN], cidb[QS_MAX_CIDLEN], buf[2048];
  uint64_t ctr[QS_CTR_MAX];
  uint32_t base, rk;
  union qs_cidkey dkey;
  int cfd, len, lenb, reason, sock, i, k;
  (void)state;

  cfd = start(&a, 1, cid, &len, ctr);

  /* generation 2 in the same group, under its own configuration */
  memset(&b, 0, sizeof b);
  b.n = 4;
  b.family = AF_INET;
  b.port = a.port;
  snprintf(b.name, sizeof b.name, "%s", a.name);
  if (qs_steer_open(&b.s, b.name, QS_STEER_TAKEOVER, why, sizeof why) != 0)
    fail_msg("takeover: %s", why);
  assert_int_equal(qs_steer_generation(b.s), qs_steer_generation(a.s) + 1);
  for (i = 0; i < 4; i++)
    b.fd[i] = server_socket(AF_INET, &b.port);
  b.group = qs_steer_add_group(b.s, b.fd[0]);
  assert_int_equal(b.group, a.group);
  assert_int_equal(qs_steer_free_cr(b.s), 1);
  assert_int_equal(qs_cidconf_init(&b.cc, 1, 17, host_id, 2, key, 0), 0);
  assert_int_equal(qs_steer_set_config(b.s, &b.cc), 0);
  for (i = 0; i < 4; i++)
    assert_int_equal(qs_steer_register(b.s, (uint16_t)i, (uint32_t)b.group, b.fd[i]), 0);
  assert_int_equal(qs_steer_serve(b.s, 4, 1), 0);

  /* the predecessor's CID still reaches it; the successor's reach theirs */
  assert_int_equal(send_cid(&a, cfd, cid, len, &reason, ctr), 1);
  assert_int_equal(reason, QS_CTR_CID_ROUTED);
  assert_true(cached(&a, cid, (size_t)len, &base, &rk));
  lenb = mint(&b, &b.cc, 3, cidb);
  assert_int_equal(send_cid(&b, cfd, cidb, lenb, &reason, ctr), 3);
  assert_int_equal(reason, QS_CTR_CID_ROUTED);

  /* the predecessor's workers leave (its configuration and sockets stay):
   * the decode still succeeds, but a stale entry must not be what answers */
  for (i = 0; i < 4; i++)
    assert_int_equal(qs_steer_unregister(a.s, (uint16_t)i), 0);
  assert_false(cached(&b, cid, (size_t)len, &base, &rk));
  qs_cidkey_set(&dkey, cid, (uint32_t)len);
  for (k = 0; k < 10; k++) {
    sock = send_cid(&b, cfd, cid, len, &reason, ctr);
    assert_int_equal(reason, QS_CTR_FB_UNKNOWN_WORKER); /* not socket_gone: no stale slot */
    assert_int_equal(sock, fix_hash_sock(&b, &dkey));
  }
  /* then the predecessor exits: its configuration goes too */
  qs_cidconf_free(&a.cc);
  qs_steer_close(a.s);
  for (k = 0; k < 10; k++) {
    sock = send_cid(&b, cfd, cid, len, &reason, ctr);
    assert_int_equal(reason, QS_CTR_FB_NO_CONFIG);
    assert_int_equal(sock, fix_hash_sock(&b, &dkey));
  }
  for (i = 0; i < 4; i++) /* nothing ever reached the predecessor's open sockets */
    assert_true(recv(a.fd[i], buf, sizeof buf, MSG_DONTWAIT) < 0);
  for (i = 0; i < 4; i++)
    close(a.fd[i]);
  close(cfd);
  fix_close(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hit),
      cmocka_unit_test(test_other_cpu),
      cmocka_unit_test(test_rotation),
      cmocka_unit_test(test_socket_replaced),
      cmocka_unit_test(test_takeover),
  };
  if (qs_test_netns_enter() != 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
