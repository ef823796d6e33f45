/* cmd_stat.c: `quicsteer stat --name NAME [--json] [--watch]`
 *
 * Shows, for a running instance, the kernel's per-reason steering counters
 * (from the pinned maps, when steering runs in the kernel) next to each
 * worker's user-space counters (from /run/quicsteer/NAME/gen-G.stats, which
 * exist in both modes).  --watch redraws every second with rates; with
 * --json each snapshot is one JSON object per line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "quicsteer/steer.h"
#include "quicsteer/wstats.h"

/* The per-worker counters, by name, so that the table, the rates and the
 * JSON are generated from one list. */
static const struct {
  const char *name;
  size_t off;
  int gauge; /* no rate */
} wfields[] = {
    {"dgrams_rx", offsetof(struct qs_wstats, dgrams_rx), 0},
    {"dgrams_tx", offsetof(struct qs_wstats, dgrams_tx), 0},
    {"bytes_rx", offsetof(struct qs_wstats, bytes_rx), 0},
    {"bytes_tx", offsetof(struct qs_wstats, bytes_tx), 0},
    {"conns_open", offsetof(struct qs_wstats, conns_open), 1},
    {"conns_accepted", offsetof(struct qs_wstats, conns_accepted), 0},
    {"conns_completed", offsetof(struct qs_wstats, conns_completed), 0},
    {"conns_closed", offsetof(struct qs_wstats, conns_closed), 0},
    {"streams_open", offsetof(struct qs_wstats, streams_open), 1},
    {"requests", offsetof(struct qs_wstats, requests), 0},
    {"fwd_out", offsetof(struct qs_wstats, fwd_out), 0},
    {"fwd_in", offsetof(struct qs_wstats, fwd_in), 0},
    {"fwd_fail", offsetof(struct qs_wstats, fwd_fail), 0},
    {"resets_tx", offsetof(struct qs_wstats, resets_tx), 0},
    {"retry_tx", offsetof(struct qs_wstats, retry_tx), 0},
    {"vneg_tx", offsetof(struct qs_wstats, vneg_tx), 0},
    {"drop_bad", offsetof(struct qs_wstats, drop_bad), 0},
    {"migrations", offsetof(struct qs_wstats, migrations), 0},
    {"path_failed", offsetof(struct qs_wstats, path_failed), 0},
    {"http_header_too_large", offsetof(struct qs_wstats, http_header_too_large), 0},
    {"http_header_timeout", offsetof(struct qs_wstats, http_header_timeout), 0},
    {"http_refused_dotfile", offsetof(struct qs_wstats, http_refused_dotfile), 0},
    {"http_refused_special", offsetof(struct qs_wstats, http_refused_special), 0},
    {"http_sibling_stale", offsetof(struct qs_wstats, http_sibling_stale), 0},
    {"proxy_requests", offsetof(struct qs_wstats, proxy_requests), 0},
    {"proxy_conns_new", offsetof(struct qs_wstats, proxy_conns_new), 0},
    {"proxy_conns_reused", offsetof(struct qs_wstats, proxy_conns_reused), 0},
    {"proxy_refused", offsetof(struct qs_wstats, proxy_refused), 0},
    {"proxy_connect_timeout", offsetof(struct qs_wstats, proxy_connect_timeout), 0},
    {"proxy_first_byte_timeout", offsetof(struct qs_wstats, proxy_first_byte_timeout), 0},
    {"proxy_idle_timeout", offsetof(struct qs_wstats, proxy_idle_timeout), 0},
    {"proxy_bad_response", offsetof(struct qs_wstats, proxy_bad_response), 0},
    {"proxy_upstream_died", offsetof(struct qs_wstats, proxy_upstream_died), 0},
    {"proxy_client_abort", offsetof(struct qs_wstats, proxy_client_abort), 0},
    {"proxy_marked_down", offsetof(struct qs_wstats, proxy_marked_down), 0},
    {"http_send_timeout", offsetof(struct qs_wstats, http_send_timeout), 0},
    {"log_dropped", offsetof(struct qs_wstats, log_dropped), 0},
    {"handshakes_open", offsetof(struct qs_wstats, handshakes_open), 1},
    {"refused_handshakes", offsetof(struct qs_wstats, refused_handshakes), 0},
    {"refused_conns", offsetof(struct qs_wstats, refused_conns), 0},
    {"refused_stopping", offsetof(struct qs_wstats, refused_stopping), 0},
    {"handshake_timeout", offsetof(struct qs_wstats, handshake_timeout), 0},
    {"token_invalid", offsetof(struct qs_wstats, token_invalid), 0},
    {"new_token_tx", offsetof(struct qs_wstats, new_token_tx), 0},
    {"token_accepted", offsetof(struct qs_wstats, token_accepted), 0},
    {"fwd_busy", offsetof(struct qs_wstats, fwd_busy), 0},
    {"peers_refused", offsetof(struct qs_wstats, peers_refused), 0},
    {"tls_full", offsetof(struct qs_wstats, tls_full), 0},
    {"tls_resumed", offsetof(struct qs_wstats, tls_resumed), 0},
    {"early_accepted", offsetof(struct qs_wstats, early_accepted), 0},
    {"early_rejected", offsetof(struct qs_wstats, early_rejected), 0},
    {"early_deferred", offsetof(struct qs_wstats, early_deferred), 0},
    {"drop_foreign", offsetof(struct qs_wstats, drop_foreign), 0},
    {"tcp_conns_open", offsetof(struct qs_wstats, tcp_conns_open), 1},
    {"tcp_accepted", offsetof(struct qs_wstats, tcp_accepted), 0},
    {"tcp_refused", offsetof(struct qs_wstats, tcp_refused), 0},
    {"tcp_handshake_fail", offsetof(struct qs_wstats, tcp_handshake_fail), 0},
    {"tcp_handshake_timeout", offsetof(struct qs_wstats, tcp_handshake_timeout), 0},
    {"tcp_idle_closed", offsetof(struct qs_wstats, tcp_idle_closed), 0},
};
#define NWFIELDS (sizeof wfields / sizeof wfields[0])
/* the columns of the table (the JSON has them all) */
static const char *const table_cols[] = {"dgrams_rx", "dgrams_tx", "conns_open", "requests",
                                         "fwd_out",   "fwd_in",    "resets_tx",  "drop_bad"};

struct gen_snap {
  struct qs_wstats_file hdr;
  struct qs_wstats w[QS_MAX_WORKERS];
  uint64_t krx[QS_MAX_WORKERS]; /* datagrams the program delivered to this worker */
  int state;                     /* enum qs_gen_state, or -1 if the kernel does not know it */
};

struct snap {
  int kernel; /* pinned steering state found */
  uint64_t ctr[QS_CTR_MAX];
  struct gen_snap gen[QS_GEN_SLOTS];
  int ngen;
  double t;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t wget(const struct qs_wstats *w, size_t i) {
  return __atomic_load_n((const uint64_t *)((const char *)w + wfields[i].off), __ATOMIC_RELAXED);
}

static const char *state_name(int st) {
  switch (st) {
  case QS_GEN_STARTING:
    return "starting";
  case QS_GEN_SERVING:
    return "serving";
  case QS_GEN_DRAINING:
    return "draining";
  default:
    return "unknown";
  }
}

/* Copy one gen-G.stats file into |g|.  Returns 0, or -1 if it is not a
 * complete stats file of a live process. */
static int read_gen_file(const char *path, struct gen_snap *g) {
  struct qs_wstats_file *hdr;
  struct stat st;
  size_t need;
  void *m;
  int fd = open(path, O_RDONLY | O_CLOEXEC), rv = -1;
  uint32_t i;

  if (fd < 0)
    return -1;
  if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof *hdr) {
    close(fd);
    return -1;
  }
  m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED)
    return -1;
  hdr = m;
  need = sizeof *hdr + (size_t)hdr->nworkers * sizeof(struct qs_wstats);
  if (hdr->magic == QS_WSTATS_MAGIC && hdr->version == QS_WSTATS_VERSION &&
      hdr->nworkers <= QS_MAX_WORKERS && (size_t)st.st_size >= need &&
      (kill((pid_t)hdr->pid, 0) == 0 || errno == EPERM)) {
    g->hdr = *hdr;
    for (i = 0; i < hdr->nworkers; i++)
      memcpy(&g->w[i], (const char *)m + sizeof *hdr + i * sizeof(struct qs_wstats),
             sizeof(struct qs_wstats));
    rv = 0;
  }
  munmap(m, (size_t)st.st_size);
  return rv;
}

static int take(const char *name, struct snap *s) {
  struct qs_gen_owner gens[QS_GEN_SLOTS];
  uint8_t alive[QS_GEN_SLOTS];
  struct qs_steer_view *v = NULL;
  struct qs_global glob;
  char dir[256], path[512];
  struct dirent *de;
  DIR *d;
  int i, j;
  uint32_t w, grp;

  memset(s, 0, sizeof *s);
  s->t = now_s();
  snprintf(dir, sizeof dir, "%s/%s", QS_WSTATS_DIR, name);
  d = opendir(dir);
  if (d) {
    while ((de = readdir(d)) != NULL && s->ngen < QS_GEN_SLOTS) {
      if (strncmp(de->d_name, "gen-", 4) != 0 || !strstr(de->d_name, ".stats"))
        continue;
      snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
      if (read_gen_file(path, &s->gen[s->ngen]) == 0) {
        s->gen[s->ngen].state = -1;
        s->ngen++;
      }
    }
    closedir(d);
  }
  if (qs_steer_view_open(&v, name) == 0 && qs_steer_view_counters(v, s->ctr) == 0 &&
      qs_steer_view_gens(v, gens, alive) == 0 && qs_steer_view_global(v, &glob) == 0) {
    s->kernel = 1;
    for (i = 0; i < s->ngen; i++) {
      struct gen_snap *g = &s->gen[i];
      for (j = 0; j < QS_GEN_SLOTS; j++)
        if (alive[j] && gens[j].generation == g->hdr.generation && gens[j].pid == g->hdr.pid)
          g->state = (int)gens[j].state;
      for (w = 0; w < g->hdr.nworkers; w++)
        for (grp = 0; grp < glob.ngroups && grp < QS_MAX_GROUPS; grp++) {
          uint64_t n = 0;
          if (qs_steer_view_sock_rx(v, qs_slot_base((uint16_t)g->hdr.generation, (uint16_t)w) + grp,
                                    &n) == 0)
            g->krx[w] += n;
        }
    }
  }
  qs_steer_view_close(v);
  /* oldest generation first */
  for (i = 1; i < s->ngen; i++)
    for (j = i; j > 0 && s->gen[j].hdr.generation < s->gen[j - 1].hdr.generation; j--) {
      struct gen_snap t = s->gen[j];
      s->gen[j] = s->gen[j - 1];
      s->gen[j - 1] = t;
    }
  return s->ngen > 0 || s->kernel ? 0 : -1;
}

static const struct gen_snap *find_gen(const struct snap *s, const struct gen_snap *g) {
  int i;
  if (!s)
    return NULL;
  for (i = 0; i < s->ngen; i++)
    if (s->gen[i].hdr.generation == g->hdr.generation && s->gen[i].hdr.pid == g->hdr.pid)
      return &s->gen[i];
  return NULL;
}

static size_t wfield(const char *name) {
  size_t i;
  for (i = 0; i < NWFIELDS; i++)
    if (strcmp(wfields[i].name, name) == 0)
      return i;
  return 0;
}

static void print_table(const char *name, const struct snap *s, const struct snap *prev) {
  double dt = prev ? s->t - prev->t : 0;
  size_t c, ncols = sizeof table_cols / sizeof table_cols[0];
  int i, k;
  uint32_t w;

  printf("instance '%s': steering %s\n", name,
         s->kernel ? "in the kernel (BPF)" : "in user space (no pinned BPF state)");
  for (i = 0; i < s->ngen; i++) {
    const struct gen_snap *g = &s->gen[i], *pg = find_gen(prev, g);
    printf("\ngeneration %u: pid %u, %u workers%s%s\n", g->hdr.generation, g->hdr.pid,
           g->hdr.nworkers, g->state >= 0 ? ", " : "", g->state >= 0 ? state_name(g->state) : "");
    printf("%7s %12s", "worker", "kernel_rx");
    for (c = 0; c < ncols; c++)
      printf(" %12s", table_cols[c]);
    printf("\n");
    for (w = 0; w < g->hdr.nworkers; w++) {
      printf("%7u %12llu", w, (unsigned long long)g->krx[w]);
      for (c = 0; c < ncols; c++) {
        size_t f = wfield(table_cols[c]);
        uint64_t v = wget(&g->w[w], f);
        if (pg && dt > 0 && !wfields[f].gauge)
          printf(" %9llu/s ", (unsigned long long)((double)(v - wget(&pg->w[w], f)) / dt + 0.5));
        else
          printf(" %12llu", (unsigned long long)v);
      }
      printf("\n");
    }
    /* TLS, summed over the workers (per worker in --json) */
    {
      static const char *const tls_cols[] = {"tls_full", "tls_resumed", "early_accepted",
                                             "early_rejected", "early_deferred"};
      printf("  tls:");
      for (c = 0; c < sizeof tls_cols / sizeof tls_cols[0]; c++) {
        size_t f = wfield(tls_cols[c]);
        uint64_t v = 0;
        for (w = 0; w < g->hdr.nworkers; w++)
          v += wget(&g->w[w], f);
        printf(" %s %llu", tls_cols[c], (unsigned long long)v);
      }
      printf("\n");
    }
  }
  if (s->kernel) {
    printf("\nkernel decisions (datagrams)\n");
    for (k = 0; k < QS_CTR_MAX; k++) {
      printf("  %-26s %14llu", qs_ctr_name(k), (unsigned long long)s->ctr[k]);
      if (prev && dt > 0)
        printf(" %10.0f/s", (double)(s->ctr[k] - prev->ctr[k]) / dt);
      printf("\n");
    }
  }
  fflush(stdout);
}

static void print_json(const char *name, const struct snap *s) {
  size_t f;
  int i, k;
  uint32_t w;

  printf("{\"name\":\"%s\",\"steering\":\"%s\",\"generations\":[", name,
         s->kernel ? "kernel" : "user");
  for (i = 0; i < s->ngen; i++) {
    const struct gen_snap *g = &s->gen[i];
    printf("%s{\"generation\":%u,\"pid\":%u,\"state\":\"%s\",\"workers\":[", i ? "," : "",
           g->hdr.generation, g->hdr.pid, g->state >= 0 ? state_name(g->state) : "unknown");
    for (w = 0; w < g->hdr.nworkers; w++) {
      printf("%s{\"worker\":%u,\"kernel_rx\":%llu", w ? "," : "", w,
             (unsigned long long)g->krx[w]);
      for (f = 0; f < NWFIELDS; f++)
        printf(",\"%s\":%llu", wfields[f].name, (unsigned long long)wget(&g->w[w], f));
      printf("}");
    }
    printf("]}");
  }
  printf("]");
  if (s->kernel) {
    printf(",\"kernel\":{");
    for (k = 0; k < QS_CTR_MAX; k++)
      printf("%s\"%s\":%llu", k ? "," : "", qs_ctr_name(k), (unsigned long long)s->ctr[k]);
    printf("}");
  }
  printf("}\n");
  fflush(stdout);
}

static int stat_run(int argc, char **argv) {
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"watch", no_argument, NULL, 'w'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  static struct snap cur, prev;
  const char *name = "default";
  int c, json = 0, watch = 0, have_prev = 0;

  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      name = optarg;
      break;
    case 'j':
      json = 1;
      break;
    case 'w':
      watch = 1;
      break;
    case 'h':
      printf("usage: quicsteer stat [--name NAME] [--json] [--watch]\n\n"
             "Per-worker counters of running instance NAME (default \"default\") and,\n"
             "when steering runs in the kernel, its per-reason decision counters.\n"
             "--watch redraws every second with rates (JSON: one object per line).\n");
      return QS_CLI_OK;
    default:
      return qs_cli_optfail("stat", c, argv);
    }
  }
  if (qs_cli_instance("stat", argc, argv, name) != 0)
    return QS_CLI_EUSAGE;
  if (take(name, &cur) != 0) {
    fprintf(stderr, "quicsteer: no running instance '%s' (nothing in %s/%s nor %s/%s)\n", name,
            QS_WSTATS_DIR, name, QS_PIN_ROOT, name);
    return QS_CLI_EFAIL;
  }
  if (!watch) {
    if (json)
      print_json(name, &cur);
    else
      print_table(name, &cur, NULL);
    return QS_CLI_OK;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  while (!stop) {
    if (json) {
      print_json(name, &cur);
    } else {
      printf("\033[H\033[2J");
      print_table(name, &cur, have_prev ? &prev : NULL);
    }
    prev = cur;
    have_prev = 1;
    sleep(1);
    if (take(name, &cur) != 0) {
      fprintf(stderr, "quicsteer: instance '%s' is gone\n", name);
      return QS_CLI_EFAIL;
    }
  }
  return QS_CLI_OK;
}

const struct qs_cli_cmd qs_cli_cmd_stat = {
    "stat", stat_run, "per-worker and kernel steering counters of a running instance"};
