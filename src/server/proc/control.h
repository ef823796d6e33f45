/* control.h: the main thread once the workers run.
 *
 * It waits for SIGINT/SIGTERM, answers the generation's control socket
 * (include/quicsteer/control.h: status, rotate-key, drain), notices a
 * successor (with kernel steering the owner record turns DRAINING when one
 * switches new connections to itself; in any mode the successor also sends
 * "drain"), and keeps the keyring in step with the instance's config table.
 */
#ifndef QS_SERVER_CONTROL_H
#define QS_SERVER_CONTROL_H

struct qs_server;

enum qs_stop_reason {
  QS_STOP_SIGNAL = 1,    /* SIGINT or SIGTERM */
  QS_STOP_SUCCESSOR = 2, /* srv->successor serves now: drain */
};

struct qs_control {
  int lfd;   /* listening control socket */
  int sigfd; /* signalfd for SIGINT and SIGTERM (blocked in every thread) */
  int signo; /* the signal that stopped us */
  int ready_fd; /* --detach: tell the waiting parent we serve, then close */
};

/* qs_control_open creates the control socket and the signalfd.  Returns 0
 * or -1 (message printed). */
int qs_control_open(struct qs_control *c, struct qs_server *srv);

/* qs_control_serving announces that this generation serves: to systemd
 * (READY=1, MAINPID), to a --detach parent, and, after a takeover, to the
 * predecessors, which are told to drain. */
void qs_control_serving(struct qs_control *c, struct qs_server *srv);

/* qs_control_run runs until this process should stop; returns the reason. */
int qs_control_run(struct qs_control *c, struct qs_server *srv);

/* qs_control_linger keeps answering the control socket (a newer successor's
 * "drain", status) and the keyring in step while the workers drain, until
 * srv->draining reaches 0.  Signals are ignored meanwhile. */
void qs_control_linger(struct qs_control *c, struct qs_server *srv);

void qs_control_close(struct qs_control *c);

/* qs_detach forks: the parent waits until the child serves (exit 0) or dies
 * (exit 1); the child returns with c->ready_fd to signal on.  Call before
 * any thread exists.  Returns 0 in the child, -1 if fork failed. */
int qs_detach(struct qs_control *c);

#endif
