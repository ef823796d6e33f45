/* stats.c: see stats.h. */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "quicsteer/util.h"

int qs_stats_open(struct qs_stats *st, const char *name, uint16_t generation, unsigned nworkers,
                  int steering, char *warn, size_t warnlen) {
  char dir[PATH_MAX];
  struct timeval tv;
  int fd = -1;

  memset(st, 0, sizeof *st);
  warn[0] = '\0';
  st->nworkers = nworkers;
  st->maplen = sizeof(struct qs_wstats_file) + (size_t)nworkers * sizeof(struct qs_wstats);
  snprintf(dir, sizeof dir, "%s/%s", QS_WSTATS_DIR, name);
  snprintf(st->path, sizeof st->path, "%s/gen-%u.stats", dir, generation);
  if (qs_mkdir_p(dir, 0755) != 0) {
    snprintf(warn, warnlen, "cannot create %s: %s", dir, strerror(errno));
  } else {
    fd = open(st->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
      snprintf(warn, warnlen, "cannot create %s: %s", st->path, strerror(errno));
    else if (ftruncate(fd, (off_t)st->maplen) != 0) {
      snprintf(warn, warnlen, "cannot size %s: %s", st->path, strerror(errno));
      close(fd);
      unlink(st->path);
      fd = -1;
    }
  }
  if (fd >= 0) {
    st->map = mmap(NULL, st->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (st->map == MAP_FAILED) {
      snprintf(warn, warnlen, "cannot map %s: %s", st->path, strerror(errno));
      unlink(st->path);
      st->map = NULL;
    } else {
      st->file_backed = 1;
    }
  }
  if (!st->map) {
    st->map = mmap(NULL, st->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (st->map == MAP_FAILED) {
      st->map = NULL;
      return -1;
    }
  }
  st->hdr = st->map;
  st->w = (struct qs_wstats *)((uint8_t *)st->map + sizeof(struct qs_wstats_file));
  gettimeofday(&tv, NULL);
  st->hdr->version = QS_WSTATS_VERSION;
  st->hdr->pid = (uint32_t)getpid();
  st->hdr->generation = generation;
  st->hdr->nworkers = nworkers;
  st->hdr->steering = steering ? 1 : 0;
  st->hdr->started_unix_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
  /* readers check the magic last: publish it after the rest */
  __atomic_store_n(&st->hdr->magic, QS_WSTATS_MAGIC, __ATOMIC_RELEASE);
  return 0;
}

void qs_stats_close(struct qs_stats *st) {
  if (st->map)
    munmap(st->map, st->maplen);
  if (st->file_backed) {
    char *slash;
    unlink(st->path);
    /* the instance directory too, unless another generation still uses it */
    slash = strrchr(st->path, '/');
    if (slash) {
      *slash = '\0';
      rmdir(st->path);
    }
  }
  st->map = NULL;
  st->file_backed = 0;
}

struct metric {
  const char *name;
  size_t off;
  int gauge;
  const char *help;
};

#define M(f, g, h) {#f, offsetof(struct qs_wstats, f), g, h}
static const struct metric metrics[] = {
    M(conns_open, 1, "Open QUIC connections."),
    M(conns_accepted, 0, "QUIC handshakes started."),
    M(conns_completed, 0, "QUIC handshakes completed."),
    M(conns_closed, 0, "QUIC connections closed."),
    M(streams_open, 1, "Open HTTP/3 request streams."),
    M(requests, 0, "HTTP/3 requests answered."),
    M(bytes_rx, 0, "UDP payload octets received."),
    M(bytes_tx, 0, "UDP payload octets sent."),
    M(dgrams_rx, 0, "UDP datagrams received."),
    M(dgrams_tx, 0, "UDP datagrams sent."),
    M(fwd_out, 0, "Datagrams relayed to the worker owning their connection."),
    M(fwd_in, 0, "Datagrams relayed here by another worker."),
    M(fwd_fail, 0, "Datagrams whose owner was unknown or unreachable."),
    M(resets_tx, 0, "Stateless resets sent."),
    M(retry_tx, 0, "Retry packets sent."),
    M(vneg_tx, 0, "Version negotiation packets sent."),
    M(drop_bad, 0, "Datagrams dropped as malformed."),
    M(migrations, 0, "Connections whose path changed."),
    M(path_failed, 0, "Path validations that failed (the connection kept its old path)."),
    M(http_header_too_large, 0, "Requests refused with 431: header section over the bound."),
    M(http_header_timeout, 0, "Requests reset: header section incomplete after the timeout."),
    M(http_refused_dotfile, 0, "Requests refused with 403: a dotfile or dot-directory."),
    M(http_refused_special, 0, "Requests refused with 403: not a regular file."),
    M(http_sibling_stale, 0, "Precompressed siblings found older than their file, ignored."),
    M(proxy_requests, 0, "Requests routed to an upstream."),
    M(proxy_conns_new, 0, "Upstream connections opened."),
    M(proxy_conns_reused, 0, "Proxied requests sent on a kept-alive upstream connection."),
    M(proxy_refused, 0, "Upstream connections refused or unreachable (502)."),
    M(proxy_connect_timeout, 0, "Upstream connect timeouts (504)."),
    M(proxy_first_byte_timeout, 0, "Upstream first-byte timeouts (504)."),
    M(proxy_idle_timeout, 0, "Upstream idle timeouts (504, or reset once answering)."),
    M(proxy_bad_response, 0, "Malformed upstream responses (502, or reset once answering)."),
    M(proxy_upstream_died, 0, "Upstreams that closed mid-body (stream reset)."),
    M(proxy_client_abort, 0, "Proxied requests the client reset (upstream connection closed)."),
    M(proxy_marked_down, 0, "Upstreams put out of rotation after a failure."),
    M(http_send_timeout, 0, "Responses reset: their body made no progress for the send timeout."),
    M(log_dropped, 0, "Access log lines dropped (buffer full or the target failed)."),
    M(handshakes_open, 1, "Half-open QUIC connections (handshake not completed)."),
    M(refused_handshakes, 0, "New connections refused: --max-handshakes reached."),
    M(refused_conns, 0, "New connections refused: --max-conns reached."),
    M(refused_stopping, 0, "New connections refused while stopping."),
    M(handshake_timeout, 0, "Handshakes abandoned at --handshake-timeout."),
    M(token_invalid, 0, "Invalid Retry tokens (answered with INVALID_TOKEN)."),
    M(new_token_tx, 0, "Address-validation tokens issued in NEW_TOKEN frames."),
    M(token_accepted, 0, "Initials whose NEW_TOKEN token validated the address."),
    M(fwd_busy, 0, "Datagrams for a live owner dropped because its relay queue was full."),
    M(peers_refused, 0, "Control or relay connections refused: the peer was another user."),
    M(tls_full, 0, "TLS handshakes completed without resumption."),
    M(tls_resumed, 0, "TLS handshakes completed resuming a session ticket."),
    M(early_accepted, 0, "Connections whose 0-RTT data was accepted."),
    M(early_rejected, 0, "Connections whose 0-RTT data was refused (resent in 1-RTT)."),
    M(early_deferred, 0, "Unsafe requests received in 0-RTT, held until the handshake completed."),
    M(drop_foreign, 0, "Datagrams for another host's connection ID, dropped."),
    M(tcp_conns_open, 1, "Open TCP connections (TLS, HTTP/2 or HTTP/1.1)."),
    M(tcp_accepted, 0, "TCP connections accepted."),
    M(tcp_refused, 0, "TCP connections closed at once: --max-tcp-conns reached."),
    M(tcp_handshake_fail, 0, "TLS handshakes over TCP that failed."),
    M(tcp_handshake_timeout, 0, "TLS handshakes over TCP abandoned at --handshake-timeout."),
    M(tcp_idle_closed, 0, "Idle TCP connections closed at --idle-timeout."),
};
#undef M

size_t qs_stats_render(char *buf, size_t cap, const struct qs_stats *st,
                       const struct qs_steer *steer) {
  size_t len = 0;
  int n;

#define EMIT(...)                                                                                  \
  do {                                                                                             \
    n = snprintf(buf + len, cap - len, __VA_ARGS__);                                               \
    if (n < 0 || (size_t)n >= cap - len)                                                           \
      return len;                                                                                  \
    len += (size_t)n;                                                                              \
  } while (0)

  EMIT("# HELP quicsteer_workers Worker threads of this process.\n"
       "# TYPE quicsteer_workers gauge\nquicsteer_workers %u\n",
       st->nworkers);
  EMIT("# HELP quicsteer_steering_kernel 1 if datagrams are steered in the kernel.\n"
       "# TYPE quicsteer_steering_kernel gauge\nquicsteer_steering_kernel %u\n",
       st->hdr->steering);
  for (size_t m = 0; m < sizeof metrics / sizeof metrics[0]; m++) {
    const char *suffix = metrics[m].gauge ? "" : "_total";
    EMIT("# HELP quicsteer_%s%s %s\n# TYPE quicsteer_%s%s %s\n", metrics[m].name, suffix,
         metrics[m].help, metrics[m].name, suffix, metrics[m].gauge ? "gauge" : "counter");
    for (unsigned w = 0; w < st->nworkers; w++) {
      const uint64_t *p = (const uint64_t *)((const uint8_t *)&st->w[w] + metrics[m].off);
      EMIT("quicsteer_%s%s{worker=\"%u\"} %llu\n", metrics[m].name, suffix, w,
           (unsigned long long)__atomic_load_n(p, __ATOMIC_RELAXED));
    }
  }
  if (steer) {
    uint64_t c[QS_CTR_MAX];
    if (qs_steer_read_counters(steer, c) == 0) {
      EMIT("# HELP quicsteer_steer_decisions_total Steering decisions of the kernel program.\n"
           "# TYPE quicsteer_steer_decisions_total counter\n");
      for (int i = 0; i < QS_CTR_MAX; i++)
        EMIT("quicsteer_steer_decisions_total{reason=\"%s\"} %llu\n", qs_ctr_name(i),
             (unsigned long long)c[i]);
    }
  }
#undef EMIT
  return len;
}

static void serve_one(struct qs_metrics *m, int fd) {
  static const size_t cap = 256 * 1024;
  char req[2048], head[256];
  char *body;
  size_t blen, got = 0;
  struct timeval tv = {.tv_sec = 2};
  int hl;

  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  /* read the request head; its content does not matter */
  while (got < sizeof req - 1) {
    ssize_t r = read(fd, req + got, sizeof req - 1 - got);
    if (r <= 0)
      break;
    got += (size_t)r;
    req[got] = '\0';
    if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
      break;
  }
  body = malloc(cap);
  if (!body)
    return;
  blen = qs_stats_render(body, cap, m->st, m->steer);
  hl = snprintf(head, sizeof head,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                blen);
  if (write(fd, head, (size_t)hl) == hl) {
    size_t off = 0;
    while (off < blen) {
      ssize_t w = write(fd, body + off, blen - off);
      if (w <= 0)
        break;
      off += (size_t)w;
    }
  }
  free(body);
}

static void *metrics_main(void *arg) {
  struct qs_metrics *m = arg;
  struct pollfd p[2] = {{.fd = m->fd, .events = POLLIN}, {.fd = m->stopfd, .events = POLLIN}};
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents)
      break;
    if (p[0].revents & POLLIN) {
      int c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0) {
        serve_one(m, c);
        close(c);
      }
    }
  }
  return NULL;
}

int qs_metrics_start(struct qs_metrics *m, const struct qs_listen *addr, const struct qs_stats *st,
                     const struct qs_steer *steer, char *err, size_t errlen) {
  int on = 1;
  memset(m, 0, sizeof *m);
  m->st = st;
  m->steer = steer;
  m->stopfd = -1;
  m->fd = socket(addr->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (m->fd < 0)
    goto fail;
  setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind(m->fd, (const struct sockaddr *)&addr->addr, addr->addrlen) != 0 ||
      listen(m->fd, 16) != 0)
    goto fail;
  m->stopfd = eventfd(0, EFD_CLOEXEC);
  if (m->stopfd < 0)
    goto fail;
  if (pthread_create(&m->thread, NULL, metrics_main, m) != 0) {
    errno = EAGAIN;
    goto fail;
  }
  m->running = 1;
  return 0;
fail:
  snprintf(err, errlen, "cannot serve metrics on %s: %s", addr->text, strerror(errno));
  if (m->fd >= 0)
    close(m->fd);
  if (m->stopfd >= 0)
    close(m->stopfd);
  m->fd = m->stopfd = -1;
  return -1;
}

void qs_metrics_stop(struct qs_metrics *m) {
  uint64_t one = 1;
  if (!m->running)
    return;
  if (write(m->stopfd, &one, sizeof one) != sizeof one) {
    /* cannot happen with an eventfd below its maximum */
  }
  pthread_join(m->thread, NULL);
  close(m->fd);
  close(m->stopfd);
  m->running = 0;
}
