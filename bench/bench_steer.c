/* bench_steer: what the steering program costs per datagram, side by side.
 *
 *  1. Inside the program: run_time_ns / run_cnt from the kernel's BPF
 *     statistics (BPF_ENABLE_STATS) for each path (Initial hash,
 *     plaintext CID, single-pass AES CID, four-pass CID), next to a trivial
 *     program that reads one octet, which shows the measuring floor.
 *     Two more rows show what a tight loop hides and real traffic pays: a
 *     single-pass AES CID never seen before (every datagram a cache miss:
 *     AES decode, routing-key lookup, cache fill), and the cached path with
 *     cold caches (one datagram at a time, QS_EVICT octets of other memory
 *     touched between datagrams on the same CPU, as a server's own work
 *     does between two of its datagrams).
 *  2. The whole loopback path: wall time per datagram of send + kernel
 *     delivery + receive, with no program (plain SO_REUSEPORT), with the
 *     trivial program and with quicsteer's, trials interleaved, medians.
 *
 * Runs in its own network namespace.  Prints a markdown table.  Statistics
 * are on only while it runs, through a BPF_ENABLE_STATS descriptor: the
 * sysctl kernel.bpf_stats_enabled is never written, so it stays as it was.
 *   bench_steer [--count N] [--trials T]
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../tests/netns.h"
#include "quicsteer/lb.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/steer.h"
#include "quicsteer/util.h"
#include "trivial.skel.h"

#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif
#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif

#define NSOCK 2
#define BATCH 32
#define PKT 1200
#define NPKT 1024 /* distinct packets cycled through */
#define QS_EVICT (4u << 20) /* octets touched between datagrams: more than L2 */

static const uint8_t host_id[2] = {0, 1};
static const uint8_t key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};

struct rig {
  int srv[NSOCK];
  int cli;
  struct sockaddr_in to;
  uint8_t (*pkts)[PKT];
  struct mmsghdr smsg[BATCH], rmsg[BATCH];
  struct iovec siov[BATCH], riov[BATCH];
  uint8_t rbuf[BATCH][PKT];
};

static void die(const char *what) {
  fprintf(stderr, "bench_steer: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void rig_open(struct rig *r) {
  int one = 1, buf = 16 << 20, i;
  socklen_t len = sizeof r->to;
  memset(r, 0, sizeof *r);
  r->to.sin_family = AF_INET;
  r->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (i = 0; i < NSOCK; i++) {
    r->srv[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (r->srv[i] < 0 || setsockopt(r->srv[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        setsockopt(r->srv[i], SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) ||
        bind(r->srv[i], (struct sockaddr *)&r->to, sizeof r->to))
      die("server socket");
    if (i == 0 && getsockname(r->srv[0], (struct sockaddr *)&r->to, &len))
      die("getsockname");
  }
  r->cli = socket(AF_INET, SOCK_DGRAM, 0);
  if (r->cli < 0)
    die("client socket");
  r->pkts = calloc(NPKT, PKT);
  if (!r->pkts)
    die("calloc");
  for (i = 0; i < BATCH; i++) {
    r->smsg[i].msg_hdr.msg_name = &r->to;
    r->smsg[i].msg_hdr.msg_namelen = sizeof r->to;
    r->smsg[i].msg_hdr.msg_iov = &r->siov[i];
    r->smsg[i].msg_hdr.msg_iovlen = 1;
    r->siov[i].iov_len = PKT;
    r->riov[i].iov_base = r->rbuf[i];
    r->riov[i].iov_len = PKT;
    r->rmsg[i].msg_hdr.msg_iov = &r->riov[i];
    r->rmsg[i].msg_hdr.msg_iovlen = 1;
  }
}

/* Send |count| of the prepared packets in batches and receive them all;
 * returns wall nanoseconds per datagram. */
static double pump(struct rig *r, long count) {
  long sent = 0, got = 0;
  double t0 = now_ns();
  int i, n;
  while (sent < count) {
    for (i = 0; i < BATCH; i++)
      r->siov[i].iov_base = r->pkts[(sent + i) % NPKT];
    n = sendmmsg(r->cli, r->smsg, BATCH, 0);
    if (n < 0)
      die("sendmmsg");
    sent += n;
    while (got < sent) {
      int before = (int)got;
      for (i = 0; i < NSOCK; i++) {
        int m = recvmmsg(r->srv[i], r->rmsg, BATCH, MSG_DONTWAIT, NULL);
        if (m > 0)
          got += m;
      }
      if (got == before) {
        /* loopback delivers within sendmmsg: nothing more is coming */
        if (got + BATCH * 4 < sent)
          die("datagrams lost");
        break;
      }
    }
  }
  return (now_ns() - t0) / (double)count;
}

/* One datagram at a time, each followed by a walk over |evict| (one read
 * and write per cache line), so the program meets cold caches. */
static void pump_cold(struct rig *r, long count, uint8_t *evict) {
  for (long i = 0; i < count; i++) {
    int m;
    r->siov[0].iov_base = r->pkts[i % NPKT];
    if (sendmmsg(r->cli, r->smsg, 1, 0) != 1)
      die("sendmmsg");
    for (int k = 0; k < NSOCK; k++)
      if ((m = recvmmsg(r->srv[k], r->rmsg, BATCH, MSG_DONTWAIT, NULL)) > 0)
        break;
    for (size_t off = 0; off < QS_EVICT; off += 64)
      evict[off]++;
  }
}

static int prog_stats(int fd, uint64_t *ns, uint64_t *cnt) {
  struct bpf_prog_info info;
  uint32_t len = sizeof info;
  memset(&info, 0, sizeof info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len))
    return -1;
  *ns = info.run_time_ns;
  *cnt = info.run_cnt;
  return 0;
}

/* ns per run inside program |fd| while pumping |count| datagrams (one at
 * a time over cold caches if |evict|) */
static double in_prog(struct rig *r, int fd, long count, uint8_t *evict) {
  uint64_t ns0, c0, ns1, c1;
  if (prog_stats(fd, &ns0, &c0))
    die("bpf_obj_get_info_by_fd");
  if (evict)
    pump_cold(r, count, evict);
  else
    pump(r, count);
  if (prog_stats(fd, &ns1, &c1))
    die("bpf_obj_get_info_by_fd");
  if (c1 == c0)
    die("program did not run (no run-time statistics?)");
  return (double)(ns1 - ns0) / (double)(c1 - c0);
}

static void attach(struct rig *r, int fd) {
  if (fd < 0) {
    int zero = 0;
    setsockopt(r->srv[0], SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof zero);
    return;
  }
  if (setsockopt(r->srv[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &fd, sizeof fd))
    die("SO_ATTACH_REUSEPORT_EBPF");
}

static void fill_initials(struct rig *r) {
  uint8_t dcid[8];
  int i;
  for (i = 0; i < NPKT; i++) {
    uint8_t *p = r->pkts[i];
    memset(p, 0, PKT);
    if (qs_random(dcid, sizeof dcid))
      die("random");
    memcpy(p, "\xc0\x00\x00\x00\x01\x08", 6);
    memcpy(p + 6, dcid, 8);
    p[14] = 0;
  }
}

static void fill_short(struct rig *r, const struct qs_cidconf *cc, uint16_t gen) {
  int i;
  for (i = 0; i < NPKT; i++) {
    uint8_t *p = r->pkts[i];
    memset(p, 0, PKT);
    p[0] = 0x40;
    if (qs_cidconf_mint(cc, qs_rk_make(gen, (uint16_t)(i % NSOCK)), p + 1) < 0)
      die("mint");
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"count", required_argument, NULL, 'n'}, {"trials", required_argument, NULL, 't'}, {0}};
  struct qs_cidconf plain, aes1, aes4;
  struct trivial *triv;
  struct qs_steer *s;
  struct rig r;
  char why[256], name[32];
  long count = 300000;
  int trials = 15, c, i, group, prog, tprog;
  uint16_t gen;

  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'n')
      count = atol(optarg);
    else if (c == 't')
      trials = atoi(optarg);
    else
      return 2;
  }
  if (count < 1000 || trials < 1 || trials > 99) {
    fprintf(stderr, "bench_steer: --count >= 1000, --trials 1..99\n");
    return 2;
  }
  if (qs_test_netns_enter())
    return 1;
  /* run-time statistics for as long as this process holds the descriptor
   * (BPF_ENABLE_STATS): the kernel counts holders, so nothing is left on
   * when it exits, however it exits, and kernel.bpf_stats_enabled, which
   * other programs on the machine may toggle, is never written */
  if (bpf_enable_stats(BPF_STATS_RUN_TIME) < 0)
    die("BPF_ENABLE_STATS");

  rig_open(&r);
  /* a name of its own: several copies may run at once */
  snprintf(name, sizeof name, "bench-steer-%d", (int)getpid());
  if (qs_steer_open(&s, name, 0, why, sizeof why)) {
    fprintf(stderr, "bench_steer: %s\n", why);
    return 1;
  }
  gen = qs_steer_generation(s);
  group = qs_steer_add_group(s, r.srv[0]);
  if (group < 0)
    die("add group");
  if (qs_cidconf_init(&plain, 1, 17, host_id, 2, NULL, 1) ||
      qs_cidconf_init(&aes1, 0, 17, host_id, 2, key, 1) ||
      qs_cidconf_init(&aes4, 2, 12, host_id, 2, key, 1))
    die("cidconf");
  if (qs_steer_set_config(s, &plain) || qs_steer_set_config(s, &aes1) ||
      qs_steer_set_config(s, &aes4))
    die("set config");
  for (i = 0; i < NSOCK; i++)
    if (qs_steer_register(s, (uint16_t)i, (uint32_t)group, r.srv[i]))
      die("register");
  if (qs_steer_serve(s, NSOCK, 0))
    die("serve");
  prog = qs_steer_prog_fd(s);
  triv = trivial__open_and_load();
  if (!triv)
    die("loading the trivial program");
  tprog = bpf_program__fd(triv->progs.qs_trivial);

  {
    /* Each path in turn, round after round: noise from other work on the
     * machine only ever adds time, so the minimum is the program's cost and
     * the median shows how much the machine added. */
    enum { TRIVIAL, INITIAL, PLAIN, AES1, AES4, AES1_MISS, TRIVIAL_COLD, AES1_COLD, NPATH };
    static const char *const label[NPATH] = {
        "trivial program (reads 1 octet)",
        "quicsteer: Initial, hash of the client's DCID",
        "quicsteer: 1-RTT, plaintext CID",
        "quicsteer: 1-RTT, single-pass AES CID (17 octets)",
        "quicsteer: 1-RTT, four-pass AES CID (12 octets)",
        "quicsteer: 1-RTT, single-pass AES CID never seen (cache miss)",
        "trivial program, cold caches (4 MiB touched between datagrams)",
        "quicsteer: 1-RTT, single-pass AES CID, cached, cold caches"};
    double v[NPATH][99];
    int p;
    long per = count / trials;
    uint8_t *evict = calloc(1, QS_EVICT);
    if (!evict)
      die("calloc");
    for (i = 0; i < trials; i++)
      for (p = 0; p < NPATH; p++) {
        int fd = p == TRIVIAL || p == TRIVIAL_COLD ? tprog : prog;
        int cold = p == TRIVIAL_COLD || p == AES1_COLD;
        attach(&r, fd);
        if (p == INITIAL)
          fill_initials(&r);
        else
          fill_short(&r, p == PLAIN ? &plain : p == AES4 ? &aes4 : &aes1, gen);
        if (p == AES1_MISS) {
          /* fresh CIDs, each sent once: every datagram decodes */
          v[p][i] = in_prog(&r, fd, NPKT, NULL);
          continue;
        }
        pump(&r, NPKT); /* warm the cache lines and the CID cache */
        /* cold rounds are slow (a 4 MiB walk each): fewer datagrams */
        v[p][i] = in_prog(&r, fd, cold ? NPKT : per, cold ? evict : NULL);
      }
    free(evict);
    printf("## In-program cost per datagram (run_time_ns / run_cnt; %d rounds of %ld datagrams)\n\n",
           trials, per);
    printf("| program / path | min ns | median ns |\n|---|---:|---:|\n");
    for (p = 0; p < NPATH; p++) {
      double med = median(v[p], trials);
      printf("| %s | %.1f | %.1f |\n", label[p], v[p][0], med);
    }
  }

  {
    double none[99], tv[99], qs[99], mn, mt, mq;
    fill_short(&r, &aes1, gen);
    for (i = 0; i < trials; i++) {
      attach(&r, -1);
      none[i] = pump(&r, count / trials);
      attach(&r, tprog);
      tv[i] = pump(&r, count / trials);
      attach(&r, prog);
      qs[i] = pump(&r, count / trials);
    }
    mn = median(none, trials);
    mt = median(tv, trials);
    mq = median(qs, trials);
    printf("\n## Loopback send + receive per %d-octet datagram (median of %d interleaved rounds)\n\n",
           PKT, trials);
    printf("| reuseport group | ns per datagram | vs no program |\n|---|---:|---:|\n");
    printf("| no program (kernel 4-tuple hash) | %.0f | 1.000 |\n", mn);
    printf("| trivial program | %.0f | %.3f |\n", mt, mt / mn);
    printf("| quicsteer, single-pass AES CIDs | %.0f | %.3f |\n", mq, mq / mn);
  }

  trivial__destroy(triv);
  qs_cidconf_free(&plain);
  qs_cidconf_free(&aes1);
  qs_cidconf_free(&aes4);
  qs_steer_close(s);
  for (i = 0; i < NSOCK; i++)
    close(r.srv[i]);
  close(r.cli);
  free(r.pkts);
  return 0;
}
