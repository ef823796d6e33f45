/* bench_cid.c: nanoseconds per CID operation in user space, for each QUIC-LB
 * algorithm: qs_lb_encode / qs_lb_decode (full, and server ID only, which
 * lets four-pass stop after three passes when it fits) and quicsteer's
 * qs_cidconf_mint / qs_cidconf_route.  Prints a markdown table.
 *
 *   bench_cid [ITERATIONS]   (default 1000000; best of 5 runs each)
 *
 * Mint draws its nonce from getrandom(2), so it measures that system call
 * too: that is what a server pays per new CID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quicsteer/lb.h"
#include "quicsteer/quic_header.h"

static volatile uint32_t sink;
static unsigned long iters = 1000000;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum op { OP_ENCODE, OP_DECODE, OP_DECODE_SID, OP_MINT, OP_ROUTE };

struct bench {
  struct qs_lb lb;
  struct qs_cidconf cc;
  uint8_t sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY], cid[QS_MAX_CIDLEN];
  size_t cidlen;
};

/* run_once times |iters| operations; each feeds an octet of its output
 * into the next input so the compiler cannot hoist or drop any. */
static double run_once(struct bench *b, enum op op) {
  uint8_t out[QS_MAX_CIDLEN], sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY];
  uint32_t acc = 0, rk = 0;
  unsigned long i;
  double t0 = now_ns();

  for (i = 0; i < iters; i++) {
    switch (op) {
    case OP_ENCODE:
      qs_lb_encode(&b->lb, b->sid, b->nonce, out, sizeof(out));
      b->nonce[0] ^= out[1];
      acc += out[2];
      break;
    case OP_DECODE:
      qs_lb_decode(&b->lb, b->cid, b->cidlen, sid, nonce);
      b->cid[b->cidlen - 1] ^= (uint8_t)(nonce[0] | 1);
      acc += sid[0];
      break;
    case OP_DECODE_SID:
      qs_lb_decode(&b->lb, b->cid, b->cidlen, sid, NULL);
      b->cid[b->cidlen - 1] ^= (uint8_t)(sid[0] | 1);
      acc += sid[0];
      break;
    case OP_MINT:
      qs_cidconf_mint(&b->cc, (uint32_t)i, out);
      acc += out[3];
      break;
    case OP_ROUTE:
      /* The same valid CID each time: an out-of-line call the compiler
       * cannot elide, and a change would make it foreign. */
      qs_cidconf_route(&b->cc, b->cid, b->cidlen, &rk);
      acc += rk;
      break;
    }
  }
  sink = acc;
  return (now_ns() - t0) / (double)iters;
}

static double best_of(struct bench *b, enum op op) {
  double best = 1e30, t;
  int r;
  for (r = 0; r < 5; r++) {
    t = run_once(b, op);
    if (t < best)
      best = t;
  }
  return best;
}

static const char *alg_name(uint8_t alg) {
  switch (alg) {
  case QS_LB_PLAINTEXT:
    return "plaintext";
  case QS_LB_AES_SINGLE:
    return "single-pass AES";
  default:
    return "four-pass Feistel";
  }
}

static void setup_lb(struct bench *b, uint8_t sid_len, uint8_t nonce_len, const uint8_t *key) {
  struct qs_lb_params p = {0};
  p.cr = 1;
  p.sid_len = sid_len;
  p.nonce_len = nonce_len;
  p.encode_len = 1;
  if (qs_lb_init(&b->lb, &p, key) != 0) {
    fprintf(stderr, "bench_cid: bad configuration\n");
    exit(1);
  }
  memset(b->sid, 0x5a, sizeof(b->sid));
  memset(b->nonce, 0xa5, sizeof(b->nonce));
  b->cidlen = (size_t)qs_lb_encode(&b->lb, b->sid, b->nonce, b->cid, sizeof(b->cid));
}

int main(int argc, char **argv) {
  static const uint8_t key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                  0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};
  static const uint8_t host[2] = {0x00, 0x01};
  /* QUIC-LB shapes: sid + nonce; the layout shapes: CID length. */
  static const struct {
    uint8_t sid, nonce, keyed;
  } shapes[] = {
      {6, 10, 0}, {6, 10, 1}, {3, 4, 1}, {6, 13, 1}, {10, 5, 1},
  };
  static const struct {
    uint32_t cid_len;
    uint8_t keyed;
  } layouts[] = {{17, 0}, {17, 1}, {12, 1}, {20, 1}};
  struct bench *b = calloc(1, sizeof(*b));
  size_t i;

  if (argc > 1)
    iters = strtoul(argv[1], NULL, 10);
  if (b == NULL || iters == 0)
    return 1;
  printf("QUIC-LB codec, %lu operations per run, best of 5 (ns per operation)\n\n", iters);
  printf("| algorithm | server ID + nonce | encode | decode | decode server ID only |\n");
  printf("|---|---|---:|---:|---:|\n");
  for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
    setup_lb(b, shapes[i].sid, shapes[i].nonce, shapes[i].keyed ? key : NULL);
    printf("| %s | %u + %u | %.1f | %.1f | %.1f |\n", alg_name(b->lb.p.alg), shapes[i].sid,
           shapes[i].nonce, best_of(b, OP_ENCODE), best_of(b, OP_DECODE),
           best_of(b, OP_DECODE_SID));
    qs_lb_free(&b->lb);
  }
  printf("\nquicsteer layout (host ID 2 octets + routing key 4 + random), ns per operation\n\n");
  printf("| algorithm | CID length | mint (incl. getrandom) | route |\n");
  printf("|---|---:|---:|---:|\n");
  for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
    double mint, route;
    if (qs_cidconf_init(&b->cc, 1, layouts[i].cid_len, host, sizeof(host),
                        layouts[i].keyed ? key : NULL, 1) != 0)
      return 1;
    b->cidlen = (size_t)qs_cidconf_mint(&b->cc, qs_rk_make(3, 1), b->cid);
    mint = best_of(b, OP_MINT);
    route = best_of(b, OP_ROUTE);
    printf("| %s | %u | %.1f | %.1f |\n", alg_name(b->cc.rc.p.alg), layouts[i].cid_len, mint,
           route);
    qs_cidconf_free(&b->cc);
  }
  free(b);
  return 0;
}
