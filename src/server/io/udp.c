/* udp.c: see udp.h. */
#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QS_SOCKBUF (4 * 1024 * 1024)

int qs_rxbatch_init(struct qs_rxbatch *b) {
  memset(b, 0, sizeof *b);
  b->bufs = malloc((size_t)QS_RX_BATCH * QS_RX_SLOT);
  return b->bufs ? 0 : -ENOMEM;
}

void qs_rxbatch_free(struct qs_rxbatch *b) {
  free(b->bufs);
  b->bufs = NULL;
}

socklen_t qs_sa_len(const union qs_sa *a) {
  return a->sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int qs_sa_is_any(const union qs_sa *a) {
  if (a->sa.sa_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
  return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
}

int qs_sa_equal(const union qs_sa *a, const union qs_sa *b) {
  if (a->sa.sa_family != b->sa.sa_family)
    return 0;
  if (a->sa.sa_family == AF_INET6)
    return a->in6.sin6_port == b->in6.sin6_port &&
           memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
  return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
}

int qs_udp_probe(const struct sockaddr *addr, socklen_t len) {
  int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1, rv = 0;
  if (fd < 0)
    return -errno;
  if (addr->sa_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (bind(fd, addr, len) != 0)
    rv = -errno;
  close(fd);
  return rv;
}

static void set_bufsize(int fd, int opt_force, int opt) {
  int size = QS_SOCKBUF;
  /* the FORCE variants pass the sysctl cap, as root */
  if (setsockopt(fd, SOL_SOCKET, opt_force, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size);
}

int qs_udp_open(const struct sockaddr *addr, socklen_t len) {
  int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1, err;
  if (fd < 0)
    return -errno;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
    goto fail;
  if (addr->sa_family == AF_INET6) {
    int pmtu = IPV6_PMTUDISC_DO;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0 ||
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) != 0 ||
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on) != 0)
      goto fail;
    /* QUIC does its own path MTU discovery: never fragment */
    setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof pmtu);
  } else {
    int pmtu = IP_PMTUDISC_DO;
    if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on) != 0)
      goto fail;
    setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
  }
  set_bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF);
  set_bufsize(fd, SO_SNDBUFFORCE, SO_SNDBUF);
  if (bind(fd, addr, len) != 0)
    goto fail;
  return fd;
fail:
  err = errno;
  close(fd);
  return -err;
}

int qs_udp_gso_supported(int fd) {
  int v = 0;
  socklen_t l = sizeof v;
  return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &l) == 0;
}

int qs_udp_recv(int fd, struct qs_rxbatch *b, size_t room, int names) {
  int n;
  for (int i = 0; i < QS_RX_BATCH; i++) {
    b->iov[i].iov_base = b->bufs + (size_t)i * QS_RX_SLOT;
    b->iov[i].iov_len = room;
    struct msghdr *m = &b->msgs[i].msg_hdr;
    m->msg_name = names ? &b->addrs[i] : NULL;
    m->msg_namelen = names ? sizeof b->addrs[i] : 0;
    m->msg_iov = &b->iov[i];
    m->msg_iovlen = 1;
    m->msg_control = b->ctrl[i];
    m->msg_controllen = QS_RX_CTRL;
    m->msg_flags = 0;
  }
  n = recvmmsg(fd, b->msgs, QS_RX_BATCH, MSG_DONTWAIT, NULL);
  if (n < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  return n;
}

int qs_udp_meta(const struct qs_rxbatch *b, int i, const union qs_sa *bound, struct qs_dgram *d) {
  const struct msghdr *m = &b->msgs[i].msg_hdr;
  struct cmsghdr *c;

  if (m->msg_flags & (MSG_TRUNC | MSG_CTRUNC))
    return -1;
  d->remote = b->addrs[i];
  d->remotelen = m->msg_namelen;
  d->local = *bound;
  d->locallen = qs_sa_len(bound);
  d->ecn = 0;
  for (c = CMSG_FIRSTHDR((struct msghdr *)m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      d->local.in.sin_addr = pi.ipi_addr;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
      uint8_t tos;
      memcpy(&tos, CMSG_DATA(c), 1);
      d->ecn = tos & 0x3;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      d->local.in6.sin6_addr = pi.ipi6_addr;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
      int tc;
      memcpy(&tc, CMSG_DATA(c), sizeof tc);
      d->ecn = (uint8_t)(tc & 0x3);
    }
  }
  return (int)b->msgs[i].msg_len;
}

/* Fills control message |c| with |len| octets of |data|; returns the room
 * it takes in msg_control. */
static size_t cmsg_put(struct cmsghdr *c, int level, int type, const void *data, size_t len) {
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(c), data, len);
  return CMSG_SPACE(len);
}

static int send_one(int fd, int wildcard, const union qs_sa *local, const union qs_sa *remote,
                    socklen_t remotelen, uint8_t ecn, const uint8_t *buf, size_t len, size_t gso) {
  union {
    uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) +
                CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctrl;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr m = {0};
  struct cmsghdr *c;
  size_t clen = 0;
  int family = remote->sa.sa_family, tos = ecn;

  memset(&ctrl, 0, sizeof ctrl);
  m.msg_name = (void *)remote;
  m.msg_namelen = remotelen;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl.buf;
  m.msg_controllen = sizeof ctrl.buf;
  c = CMSG_FIRSTHDR(&m);
  if (wildcard && local && local->sa.sa_family == family) {
    /* reply from the address the client used */
    if (family == AF_INET) {
      struct in_pktinfo pi = {0};
      pi.ipi_spec_dst = local->in.sin_addr;
      clen += cmsg_put(c, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    } else {
      struct in6_pktinfo pi = {0};
      pi.ipi6_addr = local->in6.sin6_addr;
      clen += cmsg_put(c, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
    }
    c = CMSG_NXTHDR(&m, c);
  }
  clen += cmsg_put(c, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
                   family == AF_INET ? IP_TOS : IPV6_TCLASS, &tos, sizeof tos);
  if (gso && gso < len) {
    uint16_t seg = (uint16_t)gso;
    c = CMSG_NXTHDR(&m, c);
    clen += cmsg_put(c, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg);
  }
  m.msg_controllen = clen;
  for (;;) {
    ssize_t n = sendmsg(fd, &m, MSG_DONTWAIT);
    if (n >= 0)
      return 0;
    if (errno == EINTR)
      continue;
    return -errno;
  }
}

int qs_udp_send(int fd, int wildcard, const union qs_sa *local, const union qs_sa *remote,
                socklen_t remotelen, uint8_t ecn, const uint8_t *buf, size_t len, size_t gso,
                int *gso_ok, size_t *sent) {
  int rv;
  *sent = 0;
  if (gso == 0 || gso > len)
    gso = len;
  if (gso < len && *gso_ok) {
    rv = send_one(fd, wildcard, local, remote, remotelen, ecn, buf, len, gso);
    if (rv == 0) {
      *sent = len;
      return 0;
    }
    if (rv != -EIO && rv != -EINVAL && rv != -ENOPROTOOPT && rv != -EOPNOTSUPP)
      return rv;
    /* the device or kernel cannot segment: send one by one from now on */
    *gso_ok = 0;
  }
  while (*sent < len) {
    size_t n = len - *sent < gso ? len - *sent : gso;
    rv = send_one(fd, wildcard, local, remote, remotelen, ecn, buf + *sent, n, 0);
    if (rv != 0)
      return rv;
    *sent += n;
  }
  return 0;
}
