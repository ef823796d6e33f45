/* fwd.c: see fwd.h. */
#include "fwd.h"

#include "quicsteer/control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define QS_FWD_SOCKBUF (4 * 1024 * 1024)

void qs_fwd_name_make(struct qs_fwd_name *n, const char *name, uint16_t generation,
                      uint16_t worker) {
  int len;
  memset(n, 0, sizeof *n);
  n->sun.sun_family = AF_UNIX;
  /* sun_path[0] stays NUL: the abstract namespace */
  len = snprintf(n->sun.sun_path + 1, sizeof n->sun.sun_path - 1, "quicsteer/%s/%u/%u", name,
                 generation, worker);
  n->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
}

static void set_bufs(int fd) {
  int size = QS_FWD_SOCKBUF;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

int qs_fwd_listen(const struct qs_fwd_name *n) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;
  if (fd < 0)
    return -errno;
  if (bind(fd, (const struct sockaddr *)&n->sun, n->len) != 0 || listen(fd, 256) != 0) {
    err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

int qs_fwd_accept(int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    return -errno;
  set_bufs(fd);
  return fd;
}

int qs_fwd_connect(const struct qs_fwd_name *n) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;
  if (fd < 0)
    return -errno;
  set_bufs(fd);
  if (connect(fd, (const struct sockaddr *)&n->sun, n->len) != 0) {
    err = errno;
    close(fd);
    return -err;
  }
  /* the datagrams we relay carry clients' addresses and packets: never to
   * a name squatted by another user */
  if (qs_peer_trusted(fd, NULL) != 1) {
    close(fd);
    return -EPERM;
  }
  return fd;
}

static void addr_put(struct qs_fwd_addr *o, const union qs_sa *a) {
  memset(o, 0, sizeof *o);
  o->family = a->sa.sa_family;
  if (a->sa.sa_family == AF_INET6) {
    o->port = a->in6.sin6_port;
    o->scope_id = a->in6.sin6_scope_id;
    memcpy(o->addr, &a->in6.sin6_addr, 16);
  } else {
    o->port = a->in.sin_port;
    memcpy(o->addr, &a->in.sin_addr, 4);
  }
}

static int addr_get(union qs_sa *a, socklen_t *len, const struct qs_fwd_addr *o) {
  memset(a, 0, sizeof *a);
  if (o->family == AF_INET6) {
    a->in6.sin6_family = AF_INET6;
    a->in6.sin6_port = o->port;
    a->in6.sin6_scope_id = o->scope_id;
    memcpy(&a->in6.sin6_addr, o->addr, 16);
    *len = sizeof a->in6;
    return 0;
  }
  if (o->family == AF_INET) {
    a->in.sin_family = AF_INET;
    a->in.sin_port = o->port;
    memcpy(&a->in.sin_addr, o->addr, 4);
    *len = sizeof a->in;
    return 0;
  }
  return -1;
}

int qs_fwd_send(int fd, const struct qs_dgram *d, const uint8_t *data, size_t len) {
  struct qs_fwd_hdr h;
  struct iovec iov[2];
  struct msghdr m = {0};

  memset(&h, 0, sizeof h);
  h.magic = QS_FWD_MAGIC;
  h.version = QS_FWD_VERSION;
  h.group = (uint8_t)d->group;
  h.ecn = d->ecn;
  addr_put(&h.local, &d->local);
  addr_put(&h.remote, &d->remote);
  iov[0].iov_base = &h;
  iov[0].iov_len = sizeof h;
  iov[1].iov_base = (void *)data;
  iov[1].iov_len = len;
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  for (;;) {
    if (sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
      return 0;
    if (errno != EINTR)
      return -errno;
  }
}

int qs_fwd_decode(const uint8_t *msg, size_t len, struct qs_dgram *d, const uint8_t **data,
                  size_t *dlen) {
  struct qs_fwd_hdr h;
  if (len < sizeof h)
    return -1;
  memcpy(&h, msg, sizeof h);
  if (h.magic != QS_FWD_MAGIC || h.version != QS_FWD_VERSION)
    return -1;
  if (addr_get(&d->local, &d->locallen, &h.local) != 0 ||
      addr_get(&d->remote, &d->remotelen, &h.remote) != 0 ||
      h.local.family != h.remote.family)
    return -1;
  d->group = h.group;
  d->ecn = h.ecn & 0x3;
  *data = msg + sizeof h;
  *dlen = len - sizeof h;
  return 0;
}
