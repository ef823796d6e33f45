/* control.c: the client side of a server generation's control socket
 * (include/quicsteer/control.h), shared by the CLI and by a successor
 * telling its predecessor to drain, and the peer check both ends use. */
#include "quicsteer/control.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "quicsteer/errors.h"

int qs_peer_trusted(int fd, uid_t *uid) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
    return QS_ERR_SYS;
  if (uid)
    *uid = cred.uid;
  return cred.uid == 0 || cred.uid == geteuid();
}

/* A socket connected to generation |gen|'s control listener, checked. */
static int control_connect(const char *name, unsigned gen) {
  struct sockaddr_un sun;
  socklen_t slen = qs_control_addr(&sun, name, gen);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), err, ok;

  if (fd < 0)
    return QS_ERR_SYS;
  if (connect(fd, (struct sockaddr *)&sun, slen) != 0) {
    err = errno;
    close(fd);
    errno = err;
    return err == ECONNREFUSED || err == ENOENT ? QS_ERR_NOTFOUND : QS_ERR_SYS;
  }
  ok = qs_peer_trusted(fd, NULL);
  if (ok != 1) {
    err = errno;
    close(fd);
    errno = ok == 0 ? EPERM : err;
    return ok == 0 ? QS_ERR_PERM : QS_ERR_SYS;
  }
  return fd;
}

int qs_control_alive(const char *name, unsigned gen) {
  int fd = control_connect(name, gen);
  if (fd < 0)
    return 0;
  close(fd);
  return 1;
}

int qs_control_call(const char *name, unsigned gen, const char *req, char *reply, size_t len,
                    int timeout_ms) {
  struct pollfd p;
  ssize_t n;
  int fd = control_connect(name, gen), err;

  if (fd < 0)
    return fd;
  if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
    goto fail;
  p.fd = fd;
  p.events = POLLIN;
  if (poll(&p, 1, timeout_ms) != 1) {
    errno = ETIMEDOUT;
    goto fail;
  }
  n = recv(fd, reply, len ? len - 1 : 0, 0);
  if (n < 0)
    goto fail;
  while (n > 0 && (reply[n - 1] == '\n' || reply[n - 1] == '\r'))
    n--;
  reply[n] = 0;
  close(fd);
  return 0;
fail:
  err = errno;
  close(fd);
  errno = err;
  return QS_ERR_SYS;
}
