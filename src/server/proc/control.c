/* control.c: see control.h. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "keys.h"
#include "log.h"
#include "server.h"
#include "trust.h"
#include "quicsteer/control.h"
#include "quicsteer/generation.h"
#include "quicsteer/util.h"

#define QS_TICK_MS 200 /* how often the owner record and config table are read */
#define QS_CALL_TIMEOUT_MS 2000

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void sd_notify_msg(const char *msg) {
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sun;
  socklen_t len;
  int fd;
  if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof sun.sun_path)
    return;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, strlen(path));
  if (path[0] == '@')
    sun.sun_path[0] = 0;
  len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
  close(fd);
}

int qs_detach(struct qs_control *c) {
  int p[2];
  pid_t pid;
  char b;
  if (pipe2(p, O_CLOEXEC) != 0)
    return -1;
  pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    close(p[0]);
    setsid();
    c->ready_fd = p[1];
    return 0;
  }
  close(p[1]);
  /* the child writes one octet once it serves; EOF means it gave up (its
   * message is already on stderr) */
  if (read(p[0], &b, 1) == 1)
    _exit(0);
  waitpid(pid, NULL, WNOHANG);
  _exit(1);
}

int qs_control_open(struct qs_control *c, struct qs_server *srv) {
  struct sockaddr_un sun;
  socklen_t len = qs_control_addr(&sun, srv->cfg->name, srv->generation);
  sigset_t set;

  c->lfd = c->sigfd = -1;
  c->signo = 0;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  c->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  c->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->sigfd < 0 || c->lfd < 0 || bind(c->lfd, (struct sockaddr *)&sun, len) != 0 ||
      listen(c->lfd, 16) != 0) {
    fprintf(stderr, "quicsteer-server: cannot open the control socket: %s\n", strerror(errno));
    qs_control_close(c);
    return -1;
  }
  return 0;
}

void qs_control_close(struct qs_control *c) {
  if (c->lfd >= 0)
    close(c->lfd);
  if (c->sigfd >= 0)
    close(c->sigfd);
  c->lfd = c->sigfd = -1;
}

/* Remember who took over (the newest, if several in a row did while we
 * drain); workers read it once they are told to stop. */
static void set_successor(struct qs_server *srv, uint16_t gen, uint16_t workers) {
  if (gen == 0 || gen == srv->generation || !qs_gen_newer(gen, srv->generation) ||
      (srv->successor && !qs_gen_newer(gen, srv->successor)))
    return;
  if (!srv->successor)
    qs_random(srv->successor_hash, sizeof srv->successor_hash);
  if (!srv->steer)
    qs_keys_learn(srv, gen); /* to relay its clients that reach us */
  __atomic_store_n(&srv->successor_gw, (uint32_t)gen << 16 | workers, __ATOMIC_RELEASE);
  __atomic_store_n(&srv->successor, gen, __ATOMIC_RELEASE);
}

void qs_control_serving(struct qs_control *c, struct qs_server *srv) {
  char msg[128], reply[QS_CONTROL_MAX];
  snprintf(msg, sizeof msg, "READY=1\nMAINPID=%ld\n", (long)getpid());
  sd_notify_msg(msg);
  if (c->ready_fd >= 0) {
    if (write(c->ready_fd, "r", 1) != 1)
      QS_WARN(QS_LOG_MAIN, "cannot tell the parent we serve");
    close(c->ready_fd);
    c->ready_fd = -1;
  }
  if (!srv->cfg->takeover)
    return;
  /* Tell every older generation still listening to drain.  With kernel
   * steering they also see it in their owner record; this is immediate and
   * works without BPF too. */
  snprintf(msg, sizeof msg, "drain %u %u", srv->generation, srv->nworkers);
  for (uint16_t back = 1, g = srv->generation; back <= QS_GEN_SLOTS; back++) {
    g = qs_gen_prev(g);
    if (qs_control_call(srv->cfg->name, g, msg, reply, sizeof reply, QS_CALL_TIMEOUT_MS) == 0)
      QS_INFO(QS_LOG_MAIN, "told generation %u to drain: %s", g, reply);
  }
}

static void answer(struct qs_control *c, struct qs_server *srv, int fd) {
  char req[QS_CONTROL_MAX], reply[QS_CONTROL_MAX], why[160];
  struct pollfd p = {.fd = fd, .events = POLLIN};
  unsigned gen, workers;
  ssize_t n;
  int cr;

  (void)c;
  if (poll(&p, 1, 1000) != 1 || (n = recv(fd, req, sizeof req - 1, 0)) <= 0)
    return;
  while (n > 0 && (req[n - 1] == '\n' || req[n - 1] == '\r'))
    n--;
  req[n] = 0;
  if (strcmp(req, "status") == 0) {
    snprintf(reply, sizeof reply, "ok generation=%u workers=%u state=%s mint_cr=%u",
             srv->generation, srv->nworkers, srv->successor ? "draining" : "serving",
             qs_keys_current(&srv->keys)->mint_cr);
  } else if (strcmp(req, "rotate-key") == 0) {
    cr = qs_keys_rotate(srv, why, sizeof why);
    if (cr < 0) {
      snprintf(reply, sizeof reply, "error %s", why);
    } else {
      snprintf(reply, sizeof reply, "ok generation=%u cr=%d", srv->generation, cr);
      QS_INFO(QS_LOG_MAIN, "key rotated: new connection IDs use config %d", cr);
    }
  } else if (sscanf(req, "drain %u %u", &gen, &workers) == 2 && gen >= 1 && gen <= QS_GEN_MAX &&
             qs_gen_newer((uint16_t)gen, srv->generation) && workers >= 1 &&
             workers <= QS_MAX_WORKERS) {
    set_successor(srv, (uint16_t)gen, (uint16_t)workers);
    snprintf(reply, sizeof reply, "ok");
  } else {
    snprintf(reply, sizeof reply, "error unknown request");
  }
  send(fd, reply, strlen(reply), MSG_NOSIGNAL);
}

/* With kernel steering: has a successor (or a newer one) switched new
 * connections to it? */
static void watch_owner(struct qs_server *srv) {
  struct qs_gen_owner gens[QS_GEN_SLOTS];
  uint8_t alive[QS_GEN_SLOTS];
  if (!srv->steer || qs_steer_state(srv->steer) != QS_GEN_DRAINING)
    return;
  if (qs_steer_gens(srv->steer, gens, alive) == 0)
    for (int i = 0; i < QS_GEN_SLOTS; i++)
      if (alive[i] && gens[i].state == QS_GEN_SERVING &&
          qs_gen_newer((uint16_t)gens[i].generation, srv->generation))
        set_successor(srv, (uint16_t)gens[i].generation, (uint16_t)gens[i].workers);
}

/* SIGUSR1: logrotate moved the access log away. */
static void reopen_log(struct qs_server *srv) {
  int rv;
  if (srv->alog.fd < 0) {
    QS_INFO(QS_LOG_MAIN, "SIGUSR1: no access log to reopen");
    return;
  }
  rv = qs_accesslog_reopen(&srv->alog);
  if (rv != 0)
    QS_WARN(QS_LOG_MAIN, "SIGUSR1: cannot reopen the access log %s: %s (still writing the old one)",
            srv->alog.path, strerror(-rv));
  else
    QS_INFO(QS_LOG_MAIN, "SIGUSR1: access log %s reopened", srv->alog.path);
}

/* One round of the main thread's loop: a signal, a control request, the
 * owner record and the keyring.  Returns 1 if a signal arrived. */
static int control_round(struct qs_control *c, struct qs_server *srv) {
  struct pollfd p[2] = {{.fd = c->sigfd, .events = POLLIN}, {.fd = c->lfd, .events = POLLIN}};
  int n = poll(p, 2, QS_TICK_MS), sig = 0;
  if (n < 0 && errno != EINTR)
    QS_WARN(QS_LOG_MAIN, "poll: %s", strerror(errno));
  if (n > 0 && (p[0].revents & POLLIN)) {
    struct signalfd_siginfo si;
    if (read(c->sigfd, &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGUSR1) {
        reopen_log(srv);
      } else {
        c->signo = (int)si.ssi_signo;
        sig = 1;
      }
    }
  }
  if (n > 0 && (p[1].revents & POLLIN)) {
    int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      /* another user's request is never read */
      if (qs_trust_peer(srv, fd, QS_LOG_MAIN, "control"))
        answer(c, srv, fd);
      close(fd);
    }
  }
  watch_owner(srv);
  qs_keys_refresh(srv);
  return sig;
}

int qs_control_run(struct qs_control *c, struct qs_server *srv) {
  for (;;) {
    if (control_round(c, srv))
      return QS_STOP_SIGNAL;
    if (__atomic_load_n(&srv->successor, __ATOMIC_ACQUIRE))
      return QS_STOP_SUCCESSOR;
  }
}

void qs_control_linger(struct qs_control *c, struct qs_server *srv) {
  while (__atomic_load_n(&srv->draining, __ATOMIC_ACQUIRE) > 0)
    control_round(c, srv);
}
