/* bench_bpf_aes: ns per AES-128 block inside the kernel (JIT-compiled BPF).
 *
 * Loads bench/bpf_aes_probe.bpf.c's object, runs each program with
 * BPF_PROG_TEST_RUN (the kernel times |repeat| runs and reports the mean),
 * and reports the cost of one block as the difference to the baseline
 * program, which does everything but the AES.  The *_n programs chain
 * several blocks per run (each waits for the previous one: the latency of a
 * block), which also averages out test_run's integer-ns rounding; the *1
 * programs do one block per run, as the steering program does per datagram,
 * and successive runs may overlap in the CPU.  Every program's result is
 * checked against the same AES run in user space, so a fast but wrong build
 * cannot pass.
 *
 * Usage: bench_bpf_aes [-r repeat] [-t trials] [probe.bpf.o]
 * Needs root (CAP_BPF + CAP_PERFMON).  Exit status 0 only if every check
 * passed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aes128.h"

#ifndef QS_BPF_AES_PROBE_OBJ
#define QS_BPF_AES_PROBE_OBJ "bpf_aes_probe.bpf.o"
#endif

#define MAX_TRIALS 64
#define LOG_SIZE (1 << 20)

/* Must match bench/bpf_aes_probe.bpf.c. */
struct probe_val {
  struct qs_aes128_rk rk;
  uint8_t in[16];
  uint8_t out[16];
};

enum probe_kind { PROBE_BASE, PROBE_DEC, PROBE_ENC };

struct probe {
  const char *name;
  enum probe_kind kind;
  int fd;
  uint32_t blocks; /* AES blocks per run: the program's return value */
  uint32_t verified_insns;
  uint32_t xlated_insns;
  uint32_t jited_bytes;
  double ns[MAX_TRIALS]; /* ns per run, one per trial */
};

static struct probe probes[] = {
  {.name = "probe_empty", .kind = PROBE_BASE}, {.name = "probe_dec1", .kind = PROBE_DEC},
  {.name = "probe_dec_n", .kind = PROBE_DEC},  {.name = "probe_enc1", .kind = PROBE_ENC},
  {.name = "probe_enc_n", .kind = PROBE_ENC},  {.name = "probe_dec_call", .kind = PROBE_DEC},
  {.name = "probe_enc_call", .kind = PROBE_ENC},
};
#define NPROBES (sizeof(probes) / sizeof(probes[0]))

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The verifier's "processed N insns" line: how much work verification did,
 * which the steering program's own budget has to accommodate. */
static uint32_t parse_processed(const char *log) {
  const char *p = strstr(log, "processed ");
  return p ? (uint32_t)strtoul(p + 10, NULL, 10) : 0;
}

/* expect_block computes in user space what |blocks| chained runs of the
 * probe's AES give for |in|. */
static void expect_block(const struct probe *pr, const struct qs_aes128_rk *rk, uint8_t out[16],
                         const uint8_t in[16]) {
  uint32_t i;

  memcpy(out, in, 16);
  for (i = 0; i < pr->blocks; i++) {
    if (pr->kind == PROBE_DEC)
      qs_aes128_decrypt(rk, out, out);
    else if (pr->kind == PROBE_ENC)
      qs_aes128_encrypt(rk, out, out);
  }
}

static void probe_describe(struct bpf_object *obj, struct probe *pr) {
  struct bpf_program *prog = bpf_object__find_program_by_name(obj, pr->name);
  struct bpf_prog_info info;
  uint32_t info_len = sizeof(info);
  size_t log_size;

  pr->fd = bpf_program__fd(prog);
  memset(&info, 0, sizeof(info));
  if (bpf_obj_get_info_by_fd(pr->fd, &info, &info_len) == 0) {
    pr->xlated_insns = info.xlated_prog_len / 8;
    pr->jited_bytes = info.jited_prog_len;
  }
  pr->verified_insns = parse_processed(bpf_program__log_buf(prog, &log_size));
}

/* probe_trial times |repeat| runs of |pr| and checks the block it wrote. */
static int probe_trial(int map_fd, const struct probe_val *init, struct probe *pr, int repeat,
                       double *ns) {
  uint32_t zero = 0;
  uint8_t pkt[64], want[16];
  struct probe_val got;
  int err;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
              .repeat = repeat);

  memset(pkt, 0, sizeof(pkt));
  if (bpf_map_update_elem(map_fd, &zero, init, BPF_ANY) != 0) {
    fprintf(stderr, "map update: %s\n", strerror(errno));
    return -1;
  }
  err = bpf_prog_test_run_opts(pr->fd, &opts);
  if (err) {
    fprintf(stderr, "%s: test_run: %s\n", pr->name, strerror(-err));
    return -1;
  }
  *ns = opts.duration;
  pr->blocks = pr->kind == PROBE_BASE ? 0 : (opts.retval ? opts.retval : 1);
  /* Each run starts from init->in again, so the last run's result is the
   * one to check. */
  if (bpf_map_lookup_elem(map_fd, &zero, &got) != 0) {
    fprintf(stderr, "map lookup: %s\n", strerror(errno));
    return -1;
  }
  expect_block(pr, &init->rk, want, init->in);
  if (memcmp(got.out, want, 16) != 0) {
    fprintf(stderr, "%s: kernel result differs from user space\n", pr->name);
    return -1;
  }
  return 0;
}

static int read_bpf_stats(void) {
  FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
  int v = -1;

  if (f) {
    if (fscanf(f, "%d", &v) != 1)
      v = -1;
    fclose(f);
  }
  return v;
}

int main(int argc, char **argv) {
  static const uint8_t key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                  0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};
  const char *path = QS_BPF_AES_PROBE_OBJ;
  int repeat = 1000000, trials = 11, opt, map_fd, rc = 1, t;
  struct bpf_object *obj;
  struct bpf_program *prog;
  struct probe_val init;
  char *logs[NPROBES] = {0};
  size_t i;

  while ((opt = getopt(argc, argv, "r:t:")) != -1) {
    if (opt == 'r')
      repeat = atoi(optarg);
    else if (opt == 't')
      trials = atoi(optarg);
    else {
      fprintf(stderr, "usage: %s [-r repeat] [-t trials] [probe.bpf.o]\n", argv[0]);
      return 2;
    }
  }
  if (optind < argc)
    path = argv[optind];
  if (repeat < 1 || trials < 1 || trials > MAX_TRIALS) {
    fprintf(stderr, "repeat >= 1, 1 <= trials <= %d\n", MAX_TRIALS);
    return 2;
  }

  obj = bpf_object__open_file(path, NULL);
  if (!obj) {
    fprintf(stderr, "open %s: %s\n", path, strerror(errno));
    return 1;
  }
  /* Log level 4 (BPF_LOG_STATS): the verifier reports its instruction count
   * without the full trace. */
  for (i = 0; i < NPROBES; i++) {
    logs[i] = calloc(1, LOG_SIZE);
    prog = bpf_object__find_program_by_name(obj, probes[i].name);
    if (!logs[i] || !prog) {
      fprintf(stderr, "%s: not in %s\n", probes[i].name, path);
      goto out;
    }
    bpf_program__set_log_buf(prog, logs[i], LOG_SIZE);
    bpf_program__set_log_level(prog, 4);
  }
  if (bpf_object__load(obj) != 0) {
    fprintf(stderr, "load %s failed\n", path);
    for (i = 0; i < NPROBES; i++)
      if (logs[i] && logs[i][0])
        fprintf(stderr, "--- %s\n%s\n", probes[i].name, logs[i]);
    goto out;
  }
  map_fd = bpf_object__find_map_fd_by_name(obj, "probe_map");
  if (map_fd < 0) {
    fprintf(stderr, "probe_map missing\n");
    goto out;
  }

  memset(&init, 0, sizeof(init));
  qs_aes128_expand(&init.rk, key);
  for (i = 0; i < 16; i++)
    init.in[i] = (uint8_t)(0x11 * i);

  for (i = 0; i < NPROBES; i++)
    probe_describe(obj, &probes[i]);
  /* Trials go round the programs in turn, so that a burst of load on this
   * (shared, virtual) machine hits every program alike; the fastest trial is
   * the estimate least disturbed by it. */
  for (t = 0; t < trials; t++)
    for (i = 0; i < NPROBES; i++)
      if (probe_trial(map_fd, &init, &probes[i], repeat, &probes[i].ns[t]) != 0)
        goto out;
  for (i = 0; i < NPROBES; i++)
    qsort(probes[i].ns, (size_t)trials, sizeof(double), cmp_double);

  printf("object %s, repeat %d, trials %d, kernel.bpf_stats_enabled=%d (ns per run)\n", path,
         repeat, trials, read_bpf_stats());
  printf("%-14s %8s %8s %8s %6s %9s %9s %10s\n", "program", "verified", "xlated", "jited_B",
         "blocks", "best_ns", "median_ns", "ns/block");
  for (i = 0; i < NPROBES; i++) {
    const struct probe *pr = &probes[i];
    printf("%-14s %8u %8u %8u %6u %9.1f %9.1f", pr->name, pr->verified_insns, pr->xlated_insns,
           pr->jited_bytes, pr->blocks, pr->ns[0], pr->ns[trials / 2]);
    if (pr->blocks)
      printf(" %10.2f", (pr->ns[0] - probes[0].ns[0]) / pr->blocks);
    printf("\n");
  }
  rc = 0;
out:
  bpf_object__close(obj);
  for (i = 0; i < NPROBES; i++)
    free(logs[i]);
  return rc;
}
