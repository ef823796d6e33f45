/* main.c: quicsteer-server start-up, steering set-up, signals and
 * shutdown.  The main thread opens every socket, so that all errors are
 * reported before anything serves, then runs one worker thread per
 * --workers and waits for SIGINT/SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "config.h"
#include "conn.h"
#include "control.h"
#include "fwd.h"
#include "log.h"
#include "mime.h"
#include "trust.h"
#include "server.h"
#include "worker.h"
#include "quicsteer/control.h"
#include "quicsteer/generation.h"
#include "quicsteer/util.h"
#include "quicsteer/wstats.h"

#define QS_EXIT_FAIL 1
#define QS_EXIT_USAGE 2

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...) {
  va_list ap;
  fputs("quicsteer-server: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Are generation |g|'s names free: its control socket and the relay
 * sockets of |nworkers| workers?  0, -EADDRINUSE (a live process or a
 * squatter holds one) or another -errno. */
static int names_free(const struct qs_config *cfg, uint16_t g, unsigned nworkers) {
  struct sockaddr_un sun;
  socklen_t len = qs_control_addr(&sun, cfg->name, g);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), rv = 0;
  if (fd < 0)
    return -errno;
  if (bind(fd, (struct sockaddr *)&sun, len) != 0)
    rv = -errno;
  close(fd);
  for (unsigned i = 0; rv == 0 && i < nworkers; i++) {
    struct qs_fwd_name n;
    qs_fwd_name_make(&n, cfg->name, g, (uint16_t)i);
    fd = qs_fwd_listen(&n);
    if (fd < 0)
      rv = fd;
    else
      close(fd);
  }
  return rv;
}

/* The generation to serve as without kernel steering: newer than every one
 * handed out before (the instance's record, include/quicsteer/generation.h)
 * and than any still running.  Without --takeover none may run.  A name
 * held by another user (squatted) is skipped, never trusted. */
static int userspace_generation(const struct qs_config *cfg, uint16_t *gen) {
  uint16_t live[QS_GEN_SLOTS], g = qs_gen_last(cfg->name);
  size_t nlive = 0;
  int rv;

  for (int back = 0; g && back < QS_GEN_SLOTS; back++, g = qs_gen_prev(g))
    if (qs_control_alive(cfg->name, g))
      live[nlive++] = g;
  rv = nlive && !cfg->takeover ? -EADDRINUSE : -EAGAIN;
  for (int tries = 0; rv == -EAGAIN && tries < 64; tries++) {
    if (qs_gen_claim(cfg->name, live, nlive, gen) != 0) {
      /* no record (no /run/quicsteer: not root?): the first free number,
       * as before the record existed; numbers may then repeat */
      QS_WARN(QS_LOG_MAIN, "cannot record generations in %s (%s): numbers may repeat",
              QS_WSTATS_DIR, strerror(errno));
      for (g = 1; g < QS_GEN_MAX; g++) {
        rv = names_free(cfg, g, cfg->workers);
        if (rv != -EADDRINUSE || !cfg->takeover)
          break;
      }
      *gen = g;
      return rv;
    }
    rv = names_free(cfg, *gen, cfg->workers);
    if (rv == -EADDRINUSE) {
      /* a live generation the record did not know (an older build), or a
       * squatter: either way, never this number */
      if (!cfg->takeover && qs_control_alive(cfg->name, *gen))
        break;
      live[0] = *gen;
      nlive = 1;
      rv = -EAGAIN;
    }
  }
  return rv == -EAGAIN ? -EADDRINUSE : rv;
}

/* the TCP front's listening sockets of group |g|: one per worker, same
 * address and port as its UDP sockets (tcp.h).  With |ephemeral| (port 0
 * asked for: the UDP sockets picked the port) a port taken on TCP returns
 * -EADDRINUSE quietly, for the caller to pick another. */
static int open_tcp(struct qs_server *srv, size_t g, const union qs_sa *addr, int ephemeral) {
  const struct qs_config *cfg = srv->cfg;
  if (!cfg->takeover) {
    /* a reuseport bind would silently share the port with another server */
    int fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, err = 0;
    if (fd >= 0) {
      if (addr->sa.sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
      if (bind(fd, &addr->sa, qs_sa_len(addr)) != 0)
        err = errno;
      close(fd);
    }
    if (err == EADDRINUSE) {
      if (ephemeral)
        return -EADDRINUSE;
      die("TCP %s is in use by another socket (--no-tcp serves QUIC only)", cfg->listen[g].text);
      return -1;
    }
  }
  for (unsigned i = 0; i < srv->nworkers; i++) {
    struct qs_worker *w = &srv->workers[i];
    int fd = qs_tcp_listen(&addr->sa, qs_sa_len(addr));
    if (fd < 0) {
      die("cannot listen on TCP %s: %s", cfg->listen[g].text, strerror(-fd));
      return -1;
    }
    w->tcp_fds[w->ntcp++] = fd;
  }
  return 0;
}

static int sa_port(const union qs_sa *a) {
  return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

/* close_group undoes a group's UDP sockets (a port 0 bind picked a port
 * whose TCP twin is taken) */
static void close_group(struct qs_server *srv, size_t g) {
  for (unsigned i = 0; i < srv->nworkers; i++) {
    struct qs_sock *sk = &srv->workers[i].socks[g];
    if (sk->fd >= 0)
      close(sk->fd);
    sk->fd = -1;
    srv->workers[i].nsocks = g;
  }
}

static int open_sockets(struct qs_server *srv) {
  const struct qs_config *cfg = srv->cfg;
  char a[64];
  srv->ngroups = cfg->nlisten;
  for (size_t g = 0, tries = 0; g < cfg->nlisten; g++) {
    union qs_sa addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, &cfg->listen[g].addr, cfg->listen[g].addrlen);
    /* someone else on the port? a reuseport bind would silently join them */
    int rv = qs_udp_probe(&addr.sa, cfg->listen[g].addrlen);
    if (rv == -EADDRINUSE && !cfg->takeover) {
      die("%s is in use by another socket (another server? use --takeover to succeed a "
          "running quicsteer-server)",
          cfg->listen[g].text);
      return -1;
    }
    if (rv != 0 && rv != -EADDRINUSE) {
      die("cannot listen on %s: %s", cfg->listen[g].text, strerror(-rv));
      return -1;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
      struct qs_sock *sk = &srv->workers[i].socks[g];
      int fd = qs_udp_open(&addr.sa, qs_sa_len(&addr));
      socklen_t len = sizeof sk->bound;
      if (fd < 0) {
        die("cannot listen on %s: %s", cfg->listen[g].text, strerror(-fd));
        return -1;
      }
      sk->fd = fd;
      srv->workers[i].nsocks = g + 1;
      if (getsockname(fd, &sk->bound.sa, &len) != 0) {
        die("getsockname: %s", strerror(errno));
        return -1;
      }
      /* port 0: the first socket picked the port, the others join it */
      addr = sk->bound;
    }
    srv->group_addr[g] = srv->workers[0].socks[g].bound;
    QS_DEBUG(QS_LOG_MAIN, "group %zu: %s", g, qs_addr_format(a, sizeof a, &addr.sa));
    if (!cfg->no_tcp) {
      int ephemeral = sa_port((const union qs_sa *)&cfg->listen[g].addr) == 0;
      rv = open_tcp(srv, g, &addr, ephemeral && tries < 16);
      if (rv == -EADDRINUSE) {
        /* port 0: the port UDP picked is taken on TCP; pick again */
        close_group(srv, g);
        tries++;
        g--;
        continue;
      }
      if (rv != 0)
        return -1;
    }
  }
  return 0;
}

static int setup_steering(struct qs_server *srv) {
  int map[QS_MAX_GROUPS];
  for (size_t g = 0; g < srv->ngroups; g++) {
    map[g] = qs_steer_add_group(srv->steer, srv->workers[0].socks[g].fd);
    if (map[g] < 0) {
      die("cannot attach the steering program to %s: %s", srv->cfg->listen[g].text,
          qs_strerror(map[g]));
      return -1;
    }
  }
  int rv = qs_steer_set_config(srv->steer, &srv->keys.own[srv->keys.mint_cr]);
  if (rv != 0) {
    die("cannot install the CID configuration for the kernel: %s", qs_strerror(rv));
    return -1;
  }
  for (unsigned w = 0; w < srv->nworkers; w++)
    for (size_t g = 0; g < srv->ngroups; g++) {
      rv = qs_steer_register(srv->steer, (uint16_t)w, (uint32_t)map[g],
                             srv->workers[w].socks[g].fd);
      if (rv != 0) {
        die("cannot register worker %u: %s", w, qs_strerror(rv));
        return -1;
      }
    }
  return 0;
}

static void report(const struct qs_server *srv, const char *why) {
  char line[512], a[64];
  size_t n = 0;
  for (size_t g = 0; g < srv->ngroups; g++)
    n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", g ? ", " : "",
                          qs_addr_format(a, sizeof a, &srv->group_addr[g].sa));
  printf("quicsteer-server: listening on %s\n", line);
  if (!srv->cfg->no_tcp)
    printf("quicsteer-server: TCP: HTTP/2 and HTTP/1.1 over TLS on the same addresses\n");
  printf("quicsteer-server: workers: %u (instance %s, generation %u)\n", srv->nworkers,
         srv->cfg->name, srv->generation);
  if (srv->steer)
    printf("quicsteer-server: steering: kernel (BPF)\n");
  else
    printf("quicsteer-server: steering: user space (%s)\n", why);
  if (srv->stats.file_backed)
    printf("quicsteer-server: stats: %s\n", srv->stats.path);
  if (srv->cfg->user)
    printf("quicsteer-server: running as user %s (uid %ld)\n", srv->cfg->user, (long)getuid());
  fflush(stdout);
}

/* The --proxy routes, upstream names resolved; NULL if any is bad (each
 * recorded at its own line, see qs_config_complain_value). */
static struct qs_proxy_table *proxy_table(struct qs_config *cfg) {
  struct qs_proxy_table *t = calloc(1, sizeof *t);
  char err[256];
  int bad = 0;
  if (!t) {
    qs_config_complain(cfg, NULL, "out of memory");
    return NULL;
  }
  qs_proxy_table_init(t, cfg->proxy_connect_timeout, cfg->proxy_first_byte_timeout,
                      cfg->proxy_idle_timeout, cfg->proxy_pool_idle, cfg->proxy_pool_max);
  for (size_t i = 0; i < cfg->nproxy; i++) {
    if (qs_proxy_table_add(t, cfg->proxy[i], err, sizeof err) != 0) {
      qs_config_complain_value(cfg, cfg->proxy[i], "bad --proxy '%s': %s", cfg->proxy[i], err);
      bad = 1;
    }
  }
  if (bad) {
    free(t);
    return NULL;
  }
  return t;
}

/* --check-config: everything start-up reads, without opening a socket. */
static int check_config(struct qs_config *cfg) {
  struct qs_secret secret;
  struct qs_tls tls;
  char err[512];
  size_t n;
  if (cfg->nproxy)
    free(proxy_table(cfg)); /* upstream URLs parse and their names resolve */
  if (qs_config_check(cfg) == 0) {
    gnutls_global_init();
    if (qs_tls_init(&tls, cfg->cert, cfg->key, err, sizeof err) != 0)
      qs_config_complain(cfg, "cert", "%s", err);
    else
      qs_tls_free(&tls);
    gnutls_global_deinit();
    if (cfg->secret_file) {
      int rv = qs_secret_load(&secret, cfg->secret_file);
      if (rv != 0)
        qs_config_complain(cfg, "secret-file", "cannot use secret file %s: %s",
                           cfg->secret_file, rv == QS_ERR_SYS ? strerror(errno) : qs_strerror(rv));
      qs_secret_wipe(&secret);
    }
  }
  n = qs_config_report(cfg);
  if (n == 0)
    printf("quicsteer-server: configuration ok%s%s\n", cfg->conf ? ": " : "",
           cfg->conf ? cfg->conf : "");
  qs_config_free(cfg);
  return n ? QS_EXIT_USAGE : 0;
}

/* raise_nofile lifts the soft descriptor limit to the hard one: each worker
 * holds a relay connection to every other worker (N^2 in all), plus its
 * QUIC and TCP sockets, upstream pools and files, and the usual soft limit
 * of 1024 is reached at about 30 workers (docs/scaling.md). */
static void raise_nofile(void) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      QS_WARN(QS_LOG_MAIN, "cannot raise the descriptor limit: %s", strerror(errno));
  }
}

int main(int argc, char **argv) {
  static struct qs_config cfg;
  static struct qs_server srv;
  struct qs_metrics metrics = {.fd = -1};
  struct qs_control ctl = {.lfd = -1, .sigfd = -1, .ready_fd = -1};
  char err[512], why[256] = "", warn[512];
  int rv, exit_code = QS_EXIT_FAIL, tls_ok = 0, stats_ok = 0, tickets_ok = 0;
  uid_t run_uid = 0;
  gid_t run_gid = 0;
  sigset_t set;

  rv = qs_config_parse(&cfg, argc, argv);
  if (rv != QS_CONFIG_OK) {
    qs_config_free(&cfg);
    return rv == QS_CONFIG_EXIT ? 0 : QS_EXIT_USAGE;
  }
  if (cfg.check_config)
    return check_config(&cfg);
  qs_log_level = cfg.log_level;
  if (cfg.user && qs_trust_user(cfg.user, &run_uid, &run_gid, err, sizeof err) != 0) {
    die("%s", err);
    return QS_EXIT_USAGE;
  }
  /* before any thread exists: the parent waits until the child serves */
  if (cfg.detach && qs_detach(&ctl) != 0) {
    die("cannot fork: %s", strerror(errno));
    return QS_EXIT_FAIL;
  }
  raise_nofile();
  srv.cfg = &cfg;
  srv.nworkers = cfg.workers;
  srv.root.fd = -1;
  srv.alog.fd = -1;
  srv.initial_rtt = (ngtcp2_duration)cfg.initial_rtt_ms * NGTCP2_MILLISECONDS;
  srv.handshake_timeout = (ngtcp2_duration)(cfg.handshake_timeout * NGTCP2_SECONDS);
  srv.admit.retry_mode = cfg.retry;
  srv.admit.max_conns = cfg.max_conns;
  srv.admit.max_handshakes = cfg.max_handshakes;
  srv.admit.retry_handshakes = cfg.retry_auto_handshakes;
  srv.admit.window = QS_RATE_WINDOW;
  srv.admit.retry_per_window = cfg.retry_auto_rate / (NGTCP2_SECONDS / QS_RATE_WINDOW);
  if (srv.admit.retry_per_window < 1)
    srv.admit.retry_per_window = 1;

  signal(SIGPIPE, SIG_IGN);
  /* workers inherit this mask: only the main thread takes the signals */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1); /* reopen the access log (control.c) */
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  gnutls_global_init();
  if (qs_tls_init(&srv.tls, cfg.cert, cfg.key, err, sizeof err) != 0) {
    die("%s", err);
    goto out;
  }
  tls_ok = 1;
  /* content types from the system's table (Debian's media-types) */
  rv = qs_mime_load(QS_MIME_FILE);
  if (rv < 0)
    QS_WARN(QS_LOG_MAIN, "cannot read %s (%s): a built-in list of content types is used",
            QS_MIME_FILE, strerror(-rv));
  rv = qs_docroot_open(&srv.root, cfg.root);
  if (rv != 0) {
    die("cannot serve document root %s: %s", cfg.root, strerror(-rv));
    goto out;
  }
  srv.root.serve_dotfiles = cfg.serve_dotfiles;
  if (cfg.nproxy && !(srv.proxy = proxy_table(&cfg))) {
    qs_config_report(&cfg);
    goto out;
  }
  srv.http_conf.root = &srv.root;
  srv.http_conf.proxy = srv.proxy;
  srv.http_conf.max_fields = cfg.max_header_size;
  srv.http_conf.header_timeout = cfg.header_timeout;
  srv.http_conf.send_timeout = cfg.send_timeout;
  srv.http_conf.serve_dotfiles = cfg.serve_dotfiles;
  srv.http_conf.bytes_endpoint = cfg.bytes_endpoint;
  srv.http_conf.cache_control = cfg.cache_control;
  srv.http_conf.no_precompressed = cfg.no_precompressed;
  if (cfg.access_log &&
      qs_accesslog_open(&srv.alog, cfg.access_log, cfg.access_log_format, err, sizeof err) != 0) {
    die("%s", err);
    goto out;
  }
  if (cfg.qlog_dir && access(cfg.qlog_dir, W_OK) != 0) {
    die("cannot write qlog files into %s: %s", cfg.qlog_dir, strerror(errno));
    goto out;
  }
  if (cfg.secret_file) {
    rv = qs_secret_load(&srv.secret, cfg.secret_file);
    if (rv != 0) {
      die("cannot use secret file %s: %s", cfg.secret_file,
          rv == QS_ERR_SYS ? strerror(errno) : qs_strerror(rv));
      goto out;
    }
    srv.shared_secret = 1;
  } else if (qs_secret_random(&srv.secret) != 0) {
    die("no randomness for the secret");
    goto out;
  }
  {
    /* tickets and tokens under the instance's master secret, which every
     * generation shares (tickets.h) */
    struct qs_secret inst;
    const struct qs_secret *master = &srv.secret;
    uint8_t ctx[QS_EARLY_CTX_LEN];
    if (!srv.shared_secret) {
      if (qs_instance_master(&inst, cfg.name, err, sizeof err) != 0) {
        die("%s", err);
        goto out;
      }
      master = &inst;
    }
    tickets_ok = 1;
    qs_conn_early_context(&srv, ctx);
    rv = qs_token_key_init(&srv.token_key, master);
    if (rv == 0)
      rv = qs_tickets_init(&srv.tickets, master, ctx, sizeof ctx, cfg.ticket_lifetime_s, err,
                           sizeof err);
    else
      snprintf(err, sizeof err, "cannot derive the token key");
    if (master == &inst)
      qs_secret_wipe(&inst);
    if (rv != 0) {
      die("%s", err);
      goto out;
    }
  }

  /* cache-line aligned (struct qs_worker): calloc only promises 16 */
  srv.workers = aligned_alloc(QS_CACHE_LINE, srv.nworkers * sizeof *srv.workers);
  if (!srv.workers) {
    die("out of memory");
    goto out;
  }
  memset(srv.workers, 0, srv.nworkers * sizeof *srv.workers);
  for (unsigned i = 0; i < srv.nworkers; i++) {
    srv.workers[i].fwd_fd = srv.workers[i].stopfd = -1;
    for (int g = 0; g < QS_MAX_GROUPS; g++)
      srv.workers[i].socks[g].fd = -1;
  }

  /* steering first: it decides the generation */
  if (cfg.no_bpf) {
    snprintf(why, sizeof why, "--no-bpf");
  } else {
    /* a number whose socket names someone squatted is given up for the
     * next one (each open claims a new number) */
    for (int tries = 0;; tries++) {
      rv = qs_steer_open(&srv.steer, cfg.name, cfg.takeover ? QS_STEER_TAKEOVER : 0, err,
                         sizeof err);
      if (rv != 0 || tries == 8 ||
          names_free(&cfg, qs_steer_generation(srv.steer), srv.nworkers) != -EADDRINUSE)
        break;
      QS_WARN(QS_LOG_MAIN, "generation %u: its socket names are taken by another process; "
              "skipping that number", qs_steer_generation(srv.steer));
      qs_steer_close(srv.steer);
      srv.steer = NULL;
    }
    if (rv == QS_ERR_NOBPF) {
      snprintf(why, sizeof why, "BPF unavailable: %s", err[0] ? err : qs_strerror(rv));
      srv.steer = NULL;
    } else if (rv == QS_ERR_BUSY) {
      die("instance '%s' is already running (use --takeover to succeed it, or another --name)",
          cfg.name);
      srv.steer = NULL;
      goto out;
    } else if (rv != 0) {
      die("cannot set up steering for instance '%s': %s", cfg.name,
          err[0] ? err : qs_strerror(rv));
      srv.steer = NULL;
      goto out;
    }
  }
  if (srv.steer) {
    srv.generation = qs_steer_generation(srv.steer);
  } else {
    rv = userspace_generation(&cfg, &srv.generation);
    if (rv == -EADDRINUSE) {
      die("instance '%s' is already running (use --takeover to succeed it, or another --name)",
          cfg.name);
      goto out;
    }
    if (rv != 0) {
      die("cannot create the relay sockets: %s", strerror(-rv));
      goto out;
    }
  }
  if (qs_keys_init(&srv) != 0)
    goto out;
  if (qs_control_open(&ctl, &srv) != 0)
    goto out;

  for (unsigned i = 0; i < srv.nworkers; i++) {
    struct qs_worker *w = &srv.workers[i];
    qs_fwd_name_make(&w->fwd_name, cfg.name, srv.generation, (uint16_t)i);
    w->fwd_fd = qs_fwd_listen(&w->fwd_name);
    if (w->fwd_fd < 0) {
      if (w->fwd_fd == -EADDRINUSE)
        die("instance '%s' generation %u is already running", cfg.name, srv.generation);
      else
        die("cannot create relay socket: %s", strerror(-w->fwd_fd));
      goto out;
    }
  }
  if (open_sockets(&srv) != 0)
    goto out;
  if (srv.steer && setup_steering(&srv) != 0)
    goto out;
  if (qs_stats_open(&srv.stats, cfg.name, srv.generation, srv.nworkers, srv.steer != NULL, warn,
                    sizeof warn) != 0) {
    die("out of memory for statistics");
    goto out;
  }
  stats_ok = 1;
  if (warn[0])
    QS_WARN(QS_LOG_MAIN, "%s; statistics only via --metrics", warn);
  if (cfg.have_metrics &&
      qs_metrics_start(&metrics, &cfg.metrics, &srv.stats, srv.steer, err, sizeof err) != 0) {
    die("%s", err);
    goto out;
  }

  /* everything that needs root is done: from here on every thread runs as
   * --user (the workers start afterwards; glibc switches the metrics
   * thread too) */
  if (cfg.user) {
    if (qs_steer_share(cfg.name, run_gid) != 0) {
      die("cannot let user %s use the instance directories: %s", cfg.user, strerror(errno));
      goto out;
    }
    if (qs_trust_drop(run_uid, run_gid, err, sizeof err) != 0) {
      die("--user %s: %s", cfg.user, err);
      goto out;
    }
    if (cfg.qlog_dir && access(cfg.qlog_dir, W_OK) != 0) {
      die("user %s cannot write qlog files into %s: %s", cfg.user, cfg.qlog_dir, strerror(errno));
      goto out;
    }
  }

  srv.tcp_conf.tls = &srv.tls;
  srv.tcp_conf.tickets = &srv.tickets;
  srv.tcp_conf.handshake_timeout = cfg.handshake_timeout;
  srv.tcp_conf.idle_timeout = cfg.idle_timeout_s;
  srv.tcp_conf.max_conns = cfg.max_tcp_conns;
  srv.tcp_conf.max_fields = cfg.max_header_size;
  if (cfg.alt_svc)
    snprintf(srv.tcp_conf.alt_svc, sizeof srv.tcp_conf.alt_svc, "%s", cfg.alt_svc);
  else if (srv.ngroups)
    snprintf(srv.tcp_conf.alt_svc, sizeof srv.tcp_conf.alt_svc, "h3=\":%u\"; ma=86400",
             (unsigned)ntohs(srv.group_addr[0].in.sin_port)); /* same offset in sin6 */
  srv.tcp_conf.alt_svc_len = strlen(srv.tcp_conf.alt_svc);
  for (unsigned i = 0; i < srv.nworkers; i++) {
    if (qs_worker_init(&srv.workers[i], &srv, (uint16_t)i) != 0) {
      die("cannot set up worker %u", i);
      goto stop;
    }
  }
  for (unsigned i = 0; i < srv.nworkers; i++) {
    if (qs_worker_start(&srv.workers[i]) != 0) {
      die("cannot start worker %u", i);
      goto stop;
    }
  }
  if (srv.steer) {
    rv = qs_steer_serve(srv.steer, srv.nworkers, srv.keys.mint_cr);
    if (rv != 0) {
      die("cannot switch new connections to this process: %s", qs_strerror(rv));
      goto stop;
    }
  }
  report(&srv, why);
  if (cfg.have_metrics)
    QS_INFO(QS_LOG_MAIN, "metrics on %s", cfg.metrics.text);

  qs_control_serving(&ctl, &srv);
  rv = qs_control_run(&ctl, &srv);
  if (rv == QS_STOP_SUCCESSOR)
    QS_INFO(QS_LOG_MAIN, "generation %u serves now: draining (timeout %gs)", srv.successor,
            cfg.drain_timeout);
  else
    QS_INFO(QS_LOG_MAIN, "%s: stopping (drain timeout %gs)",
            ctl.signo == SIGINT ? "SIGINT" : "SIGTERM", cfg.drain_timeout);
  exit_code = 0;

stop:
  {
    unsigned n = 0;
    for (unsigned i = 0; i < srv.nworkers; i++)
      n += srv.workers[i].started ? 1u : 0u;
    __atomic_store_n(&srv.draining, n, __ATOMIC_RELEASE);
  }
  for (unsigned i = 0; i < srv.nworkers; i++)
    qs_worker_stop(&srv.workers[i]);
  if (exit_code == 0)
    qs_control_linger(&ctl, &srv); /* a newer successor may still speak up */
  for (unsigned i = 0; i < srv.nworkers; i++)
    qs_worker_join(&srv.workers[i]);
out:
  qs_metrics_stop(&metrics);
  if (srv.steer)
    qs_steer_close(srv.steer);
  if (srv.workers) {
    for (unsigned i = 0; i < srv.nworkers; i++)
      qs_worker_free(&srv.workers[i]);
    free(srv.workers);
  }
  if (stats_ok)
    qs_stats_close(&srv.stats);
  if (tickets_ok && !srv.shared_secret)
    qs_tickets_release(cfg.name);
  qs_control_close(&ctl);
  qs_keys_free(&srv.keys);
  qs_tickets_free(&srv.tickets);
  qs_secret_wipe(&srv.secret);
  qs_docroot_close(&srv.root);
  qs_mime_unload();
  free(srv.proxy);
  qs_accesslog_close(&srv.alog);
  if (tls_ok)
    qs_tls_free(&srv.tls);
  gnutls_global_deinit();
  if (exit_code == 0)
    QS_INFO(QS_LOG_MAIN, "stopped");
  qs_config_free(&cfg);
  return exit_code;
}
