/* stats.h: per-worker counters (include/quicsteer/wstats.h) in a shared
 * file /run/quicsteer/NAME/gen-G.stats, and their Prometheus rendering on
 * an optional TCP listener (--metrics).
 *
 * A worker updates only its own record, with relaxed atomic adds: no lock
 * and no system call on the packet path.  The metrics thread and
 * `quicsteer stat` read with relaxed loads.
 */
#ifndef QS_SERVER_STATS_H
#define QS_SERVER_STATS_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "quicsteer/steer.h"
#include "quicsteer/wstats.h"

/* A record has one writer, its worker: a relaxed load and store (plain
 * moves on x86, never torn for a reader) instead of a locked read-modify-
 * write, which costs tens of cycles several times per datagram. */
#define QS_STAT_ADD(rec, field, n)                                                                 \
  __atomic_store_n(&(rec)->field,                                                                  \
                   __atomic_load_n(&(rec)->field, __ATOMIC_RELAXED) + (uint64_t)(n),               \
                   __ATOMIC_RELAXED)
#define QS_STAT_SUB(rec, field, n)                                                                 \
  __atomic_store_n(&(rec)->field,                                                                  \
                   __atomic_load_n(&(rec)->field, __ATOMIC_RELAXED) - (uint64_t)(n),               \
                   __ATOMIC_RELAXED)
#define QS_STAT_GET(rec, field) __atomic_load_n(&(rec)->field, __ATOMIC_RELAXED)

struct qs_stats {
  void *map;
  size_t maplen;
  int file_backed;
  char path[PATH_MAX];
  struct qs_wstats_file *hdr;
  struct qs_wstats *w; /* nworkers records */
  unsigned nworkers;
};

/* qs_stats_open creates the stats file of (|name|, |generation|) with
 * |nworkers| zeroed records.  If the file cannot be created the records
 * live in anonymous memory instead (Prometheus still works) and |warn|
 * says why.  Returns 0 or -1 (no memory at all). */
int qs_stats_open(struct qs_stats *st, const char *name, uint16_t generation, unsigned nworkers,
                  int steering, char *warn, size_t warnlen);

/* qs_stats_close unmaps the records and removes the file. */
void qs_stats_close(struct qs_stats *st);

/* qs_stats_render writes the Prometheus text exposition of |st| (and of
 * the kernel's steering counters when |steer| is not NULL) to |buf|.
 * Returns the length written (truncated output is cut at a line). */
size_t qs_stats_render(char *buf, size_t cap, const struct qs_stats *st,
                       const struct qs_steer *steer);

struct qs_metrics {
  int fd;
  int stopfd;
  pthread_t thread;
  int running;
  const struct qs_stats *st;
  const struct qs_steer *steer;
};

/* qs_metrics_start listens on TCP |addr| and serves the rendering to any
 * HTTP/1.x GET from a thread of its own.  Returns 0, or -1 with |err|. */
int qs_metrics_start(struct qs_metrics *m, const struct qs_listen *addr, const struct qs_stats *st,
                     const struct qs_steer *steer, char *err, size_t errlen);
void qs_metrics_stop(struct qs_metrics *m);

#endif
