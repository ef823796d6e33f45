/* main.c: quicsteer-load, an HTTP/3 load and connection-migration client.
 *
 * The main thread parses the command line, starts one event-loop thread
 * per --threads, prints the live progress line, forwards an interrupt, and
 * merges the threads' statistics into the final report.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

#include "conn.h"
#include "opts.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"

static pthread_t main_thread;
static _Atomic uint32_t workers_done;
static struct qsl_shared shared;

static void *worker_main(void *arg) {
  struct qsl_worker *w = arg;
  qsl_worker_run(w);
  atomic_fetch_add(&workers_done, 1);
  pthread_kill(main_thread, SIGUSR1); /* wake the main thread at once */
  return NULL;
}

/* one socket per connection, two during a migration, plus a few per thread.
 * Above the hard limit only a privileged process may go (CAP_SYS_RESOURCE,
 * up to fs.nr_open); otherwise the soft limit stops at the hard one and
 * connections beyond it fail as `connect`. */
static void raise_fd_limit(const struct qsl_opts *o) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return;
  }
  rlim_t want = (rlim_t)o->connections * 2 + (rlim_t)o->threads * 4 + 64;
  if (rl.rlim_cur >= want) {
    return;
  }
  if (rl.rlim_max < want) {
    struct rlimit up = {want, want};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
      return;
    }
  }
  rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
  (void)setrlimit(RLIMIT_NOFILE, &rl);
}

struct progress {
  uint64_t t_last, ok_last, bytes_last;
};

static void progress_line(struct qsl_worker *ws, uint32_t n, uint64_t t0, struct progress *p) {
  uint64_t ok = 0, failed = 0, bytes = 0, hs = 0, cfail = 0;
  for (uint32_t i = 0; i < n; i++) {
    ok += qsl_live_get(&ws[i].live.req_ok);
    failed += qsl_live_get(&ws[i].live.req_failed);
    bytes += qsl_live_get(&ws[i].live.body_bytes);
    hs += qsl_live_get(&ws[i].live.handshakes);
    cfail += qsl_live_get(&ws[i].live.conns_failed);
  }
  uint64_t now = qsl_now();
  double dt = p->t_last ? (double)(now - p->t_last) / 1e9 : (double)(now - t0) / 1e9;
  double rps = dt > 0 ? (double)(ok - p->ok_last) / dt : 0;
  double mbps = dt > 0 ? (double)(bytes - p->bytes_last) / dt / 1e6 : 0;
  fprintf(stderr,
          "\r\033[K[%6.1fs] handshakes %" PRIu64 " (failed %" PRIu64 ")  requests ok %" PRIu64
          " failed %" PRIu64 "  %.0f req/s  %.2f MB/s",
          (double)(now - t0) / 1e9, hs, cfail, ok, failed, rps, mbps);
  fflush(stderr);
  p->t_last = now;
  p->ok_last = ok;
  p->bytes_last = bytes;
}

int main(int argc, char **argv) {
  static struct qsl_opts o; /* large (URL table): not on the stack */
  char err[512];
  int rv = qsl_opts_parse(&o, argc, argv, err, sizeof(err));
  if (rv == QSL_OPTS_HELP) {
    qsl_opts_usage(stdout);
    return 0;
  }
  if (rv == QSL_OPTS_VERSION) {
    printf("quicsteer-load %s (ngtcp2 %s, nghttp3 %s, GnuTLS %s)\n", QS_VERSION_STRING,
           ngtcp2_version(0)->version_str, nghttp3_version(0)->version_str,
           gnutls_check_version(NULL));
    return 0;
  }
  if (rv != QSL_OPTS_RUN) {
    fprintf(stderr, "quicsteer-load: %s (see --help)\n", err);
    return 2;
  }
  if (qsl_opts_resolve(&o, err, sizeof(err)) != 0) {
    fprintf(stderr, "quicsteer-load: %s\n", err);
    qsl_opts_free(&o);
    return 2;
  }
  if (o.dump_path && !(o.dump = fopen(o.dump_path, "wb"))) {
    fprintf(stderr, "quicsteer-load: --dump %s: %s\n", o.dump_path, strerror(errno));
    qsl_opts_free(&o);
    return 2;
  }
  struct qsl_tls tls;
  if (qsl_tls_init(&tls, &o, err, sizeof(err)) != 0) {
    fprintf(stderr, "quicsteer-load: %s\n", err);
    qsl_opts_free(&o);
    return 2;
  }
  raise_fd_limit(&o);

  /* workers never see signals; the main thread takes them synchronously */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  main_thread = pthread_self();

  int status = 1;
  uint32_t nt = o.threads, started = 0;
  struct qsl_worker *ws = calloc(nt, sizeof(*ws));
  if (!ws) {
    fprintf(stderr, "quicsteer-load: out of memory\n");
    goto out;
  }
  for (uint32_t i = 0; i < nt; i++) {
    if (qsl_worker_init(&ws[i], i, &o, &tls) != 0) {
      fprintf(stderr, "quicsteer-load: cannot set up thread %u: %s\n", i, strerror(errno));
      for (uint32_t j = 0; j <= i; j++) {
        qsl_worker_free(&ws[j]);
      }
      free(ws);
      ws = NULL;
      goto out;
    }
  }
  uint64_t t0 = qsl_now();
  for (uint32_t i = 0; i < nt; i++) {
    ws[i].t_begin = t0;
    ws[i].shared = &shared;
    if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
      fprintf(stderr, "quicsteer-load: cannot start thread %u\n", i);
      for (uint32_t j = 0; j < started; j++) {
        qsl_worker_stop(&ws[j]);
      }
      break;
    }
    started++;
  }

  int progress = o.progress < 0 ? isatty(STDERR_FILENO) : o.progress;
  struct progress prog = {0};
  uint64_t next_tick = t0 + 1000000000ull;
  int interrupts = 0;
  while (atomic_load(&workers_done) < started) {
    struct timespec ts = {1, 0};
    if (progress) {
      uint64_t now = qsl_now();
      uint64_t d = next_tick > now ? next_tick - now : 0;
      ts.tv_sec = (time_t)(d / 1000000000ull);
      ts.tv_nsec = (long)(d % 1000000000ull);
    }
    siginfo_t si;
    int sig = sigtimedwait(&sigs, &si, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      if (++interrupts > 1) {
        fprintf(stderr, "\nquicsteer-load: interrupted twice, exiting\n");
        _exit(1);
      }
      for (uint32_t i = 0; i < started; i++) {
        qsl_worker_stop(&ws[i]);
      }
    }
    if (progress && qsl_now() >= next_tick) {
      progress_line(ws, started, t0, &prog);
      next_tick += 1000000000ull;
    }
  }
  if (progress) {
    fputs("\r\033[K", stderr);
  }

  struct qsl_stats *total = malloc(sizeof(*total));
  uint64_t t_end = t0;
  if (total) {
    qsl_stats_init(total);
  }
  for (uint32_t i = 0; i < started; i++) {
    pthread_join(ws[i].thread, NULL);
    if (ws[i].t_end > t_end) {
      t_end = ws[i].t_end;
    }
    if (total) {
      qsl_stats_merge(total, &ws[i].st);
    }
  }
  if (total && started == nt) {
    if (o.json) {
      qsl_report_json(stdout, total, &o, t_end - t0);
    } else {
      qsl_report_text(stdout, total, &o, t_end - t0);
    }
    fflush(stdout);
    status = qsl_stats_failed(total) || interrupts ? 1 : 0;
  }
  free(total);
  for (uint32_t i = 0; i < nt; i++) {
    qsl_worker_free(&ws[i]);
  }
  free(ws);
out:
  if (o.dump) {
    fclose(o.dump);
  }
  qsl_tls_free(&tls);
  qsl_opts_free(&o);
  return status;
}
