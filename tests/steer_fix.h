/* steer_fix.h: the fixture the kernel steering tests share (test_steer.c,
 * test_steer_cache.c, test_steer_diff.c): a reuseport group of real UDP
 * sockets on loopback with the real program loaded through the library's
 * loader, clients sending from chosen ports, and a drain that tells which
 * socket got each datagram.  Include after <cmocka.h>, inside a test's own
 * network namespace (netns.h). */
#ifndef QS_TEST_STEER_FIX_H
#define QS_TEST_STEER_FIX_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "quicsteer/lb.h"
#include "quicsteer/steer.h"

#define MAX_N 16
#define PKT_LEN 64 /* a plausible 1-RTT packet: > 21 octets */
#define CLIENT_PORT_BASE 20000

static const uint8_t host_id[2] = {0x00, 0x01};
static const uint8_t key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};

enum alg { ALG_PLAIN, ALG_AES1, ALG_AES4 };

struct fix {
  struct qs_steer *s;
  struct qs_cidconf cc;
  int fd[MAX_N];
  int n;
  int family;
  int group;
  uint16_t port;
  char name[64];
};

static inline void addr_of(struct sockaddr_storage *ss, socklen_t *len, int family, uint16_t port) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    *len = sizeof *a;
  }
}

static inline int server_socket(int family, uint16_t *port) {
  struct sockaddr_storage ss;
  socklen_t len;
  int one = 1, buf = 8 << 20;
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
  if (family == AF_INET6)
    assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one), 0);
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf), 0);
  addr_of(&ss, &len, family, *port);
  assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
  if (*port == 0) {
    len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  return fd;
}

static inline void fix_open(struct fix *f, int n, int family, enum alg alg) {
  char why[256];
  uint32_t cid_len = alg == ALG_AES4 ? 12 : 17;
  int i, rv;

  memset(f, 0, sizeof *f);
  f->n = n;
  f->family = family;
  snprintf(f->name, sizeof f->name, "test-steer-%d", (int)getpid());
  rv = qs_steer_open(&f->s, f->name, 0, why, sizeof why);
  if (rv != 0)
    fail_msg("qs_steer_open: %s (%s)", why, qs_strerror(rv));
  for (i = 0; i < n; i++)
    f->fd[i] = server_socket(family, &f->port);
  f->group = qs_steer_add_group(f->s, f->fd[0]);
  assert_int_equal(f->group, 0);
  assert_int_equal(qs_cidconf_init(&f->cc, 0, cid_len, host_id, sizeof host_id,
                                   alg == ALG_PLAIN ? NULL : key, 1),
                   0);
  assert_int_equal(f->cc.rc.p.alg, alg == ALG_PLAIN ? QS_LB_PLAINTEXT
                                   : alg == ALG_AES1 ? QS_LB_AES_SINGLE
                                                     : QS_LB_AES_FOURPASS);
  assert_int_equal(qs_steer_set_config(f->s, &f->cc), 0);
  for (i = 0; i < n; i++)
    assert_int_equal(qs_steer_register(f->s, (uint16_t)i, (uint32_t)f->group, f->fd[i]), 0);
  assert_int_equal(qs_steer_serve(f->s, (uint32_t)n, 0), 0);
}

static inline void fix_close(struct fix *f) {
  int i;
  qs_cidconf_free(&f->cc);
  qs_steer_close(f->s);
  for (i = 0; i < f->n; i++)
    if (f->fd[i] >= 0)
      close(f->fd[i]);
}

static inline int client_socket(int family, uint16_t port) {
  struct sockaddr_storage ss;
  socklen_t len;
  int one = 1;
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  addr_of(&ss, &len, family, port);
  if (bind(fd, (struct sockaddr *)&ss, len) != 0)
    fail_msg("bind client port %u: %s", port, strerror(errno));
  return fd;
}

static inline void send_to(struct fix *f, int cfd, const uint8_t *pkt, size_t len) {
  struct sockaddr_storage ss;
  socklen_t slen;
  addr_of(&ss, &slen, f->family, f->port);
  assert_int_equal(sendto(cfd, pkt, len, 0, (struct sockaddr *)&ss, slen), (ssize_t)len);
}

/* A 1-RTT packet for |cid|, tagged with |tag| after the CID. */
static inline size_t short_pkt(uint8_t *pkt, const uint8_t *cid, size_t cidlen, uint32_t tag) {
  size_t i;
  pkt[0] = 0x40;
  memcpy(pkt + 1, cid, cidlen);
  memcpy(pkt + 1 + cidlen, &tag, sizeof tag);
  for (i = 1 + cidlen + sizeof tag; i < PKT_LEN; i++)
    pkt[i] = (uint8_t)i;
  return PKT_LEN;
}

/* A QUIC v1 Initial long header for |dcid|, tagged with |tag|. */
static inline size_t initial_pkt(uint8_t *pkt, const uint8_t *dcid, size_t dcidlen, uint32_t tag) {
  size_t off = 0, i;
  pkt[off++] = 0xc0;
  pkt[off++] = 0;
  pkt[off++] = 0;
  pkt[off++] = 0;
  pkt[off++] = 1;
  pkt[off++] = (uint8_t)dcidlen;
  memcpy(pkt + off, dcid, dcidlen);
  off += dcidlen;
  pkt[off++] = 8; /* SCID */
  for (i = 0; i < 8; i++)
    pkt[off++] = (uint8_t)(0xa0 + i);
  memcpy(pkt + off, &tag, sizeof tag);
  off += sizeof tag;
  while (off < 1200)
    pkt[off++] = 0;
  return off;
}

/* Drain every server socket until |want| datagrams arrived (or a second of
 * silence).  counts[i] += datagrams on socket i; |check| gets each one. */
typedef void (*check_fn)(int sock, const uint8_t *pkt, size_t len, void *arg);

static inline int drain(struct fix *f, int want, uint32_t counts[MAX_N], check_fn check, void *arg) {
  uint8_t buf[2048];
  struct pollfd pfd[MAX_N];
  int got = 0, i, idle = 0;
  ssize_t n;

  while (got < want && idle < 20) {
    for (i = 0; i < f->n; i++) {
      pfd[i].fd = f->fd[i];
      pfd[i].events = POLLIN;
    }
    if (poll(pfd, (nfds_t)f->n, 50) <= 0) {
      idle++;
      continue;
    }
    idle = 0;
    for (i = 0; i < f->n; i++) {
      if (f->fd[i] < 0)
        continue;
      while ((n = recv(f->fd[i], buf, sizeof buf, MSG_DONTWAIT)) >= 0) {
        got++;
        if (counts)
          counts[i]++;
        if (check)
          check(i, buf, (size_t)n, arg);
      }
    }
  }
  return got;
}

/* fix_observe sends the |len|-octet |pkt| from |cfd| and waits until the
 * program has decided: returns the socket that received it (-1: dropped)
 * and in *reason the one decision counter that moved.  |ctr| holds the
 * counters before the send and is updated.  Fails the test if not exactly
 * one counter moved by one, or if a delivered datagram never arrives. */
static inline int fix_observe(struct fix *f, int cfd, const uint8_t *pkt, size_t len, int *reason,
                              uint64_t ctr[QS_CTR_MAX]) {
  uint64_t now[QS_CTR_MAX];
  uint8_t buf[2048];
  int i, tries, sock = -1, moved = -1;

  send_to(f, cfd, pkt, len);
  /* loopback normally decides within sendto, but softirq work may lag */
  for (tries = 0; tries < 400; tries++) {
    assert_int_equal(qs_steer_read_counters(f->s, now), 0);
    if (now[QS_CTR_RX] != ctr[QS_CTR_RX])
      break;
    usleep(5000);
  }
  assert_int_equal(now[QS_CTR_RX] - ctr[QS_CTR_RX], 1);
  for (i = QS_CTR_RX + 1; i < QS_CTR_MAX; i++) {
    if (now[i] == ctr[i])
      continue;
    assert_int_equal(now[i] - ctr[i], 1);
    assert_int_equal(moved, -1);
    moved = i;
  }
  memcpy(ctr, now, sizeof now);
  *reason = moved;
  if (moved == QS_CTR_DROP_EMPTY || moved == QS_CTR_DROP_TRUNCATED ||
      moved == QS_CTR_DROP_CIDLEN || moved == QS_CTR_DROP_SHORT)
    return -1;
  for (tries = 0; tries < 400 && sock < 0; tries++) {
    for (i = 0; i < f->n; i++) {
      if (f->fd[i] >= 0 && recv(f->fd[i], buf, sizeof buf, MSG_DONTWAIT) >= 0) {
        sock = i;
        break;
      }
    }
    if (sock < 0)
      usleep(5000);
  }
  if (sock < 0)
    fail_msg("a datagram counted %s never arrived", qs_ctr_name(moved));
  for (i = 0; i < f->n; i++) /* and nothing else did */
    if (f->fd[i] >= 0 && recv(f->fd[i], buf, sizeof buf, MSG_DONTWAIT) >= 0)
      fail_msg("one datagram arrived twice");
  return sock;
}

/* fix_hash_sock: the socket the program's spread picks for DCID key |key|
 * (the hash key of the instance, over the fixture's n workers). */
static inline int fix_hash_sock(struct fix *f, const union qs_cidkey *key) {
  struct qs_global g;
  assert_int_equal(qs_steer_global(f->s, &g), 0);
  return (int)qs_hash_pick(qs_cidkey_hash(g.hash_k0, g.hash_k1, key), (uint32_t)f->n);
}

#endif
