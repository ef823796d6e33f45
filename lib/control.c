/* control.c: the client side of a server generation's control socket
 * (include/quicsteer/control.h), shared by the CLI and by a successor
 * telling its predecessor to drain. */
#include "quicsteer/control.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "quicsteer/errors.h"

int qs_control_call(const char *name, unsigned gen, const char *req, char *reply, size_t len,
                    int timeout_ms) {
  struct sockaddr_un sun;
  socklen_t slen = qs_control_addr(&sun, name, gen);
  struct pollfd p;
  ssize_t n;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), err;

  if (fd < 0)
    return QS_ERR_SYS;
  if (connect(fd, (struct sockaddr *)&sun, slen) != 0) {
    err = errno;
    close(fd);
    errno = err;
    return err == ECONNREFUSED || err == ENOENT ? QS_ERR_NOTFOUND : QS_ERR_SYS;
  }
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
