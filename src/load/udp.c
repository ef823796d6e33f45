/* udp.c: sockets and batched datagram I/O for quicsteer-load. */
#include "udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

int qsl_udp_open(const struct sockaddr *remote, socklen_t remotelen,
                 struct sockaddr_storage *local, socklen_t *locallen) {
  int fd = socket(remote->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) {
    return -errno;
  }
  /* Responses arrive in bursts; a small receive buffer turns a burst into
   * loss.  Failure only means the kernel default stays. */
  int sz = 1 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  int one = 1;
  /* GRO hands us a train of same-sized datagrams in one recvmmsg slot */
  (void)setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
  /* connect() picks the ephemeral port and route once, and filters what we
   * receive to the server's address */
  if (connect(fd, remote, remotelen) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  *locallen = sizeof(*local);
  if (getsockname(fd, (struct sockaddr *)local, locallen) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int qsl_tx_init(struct qsl_tx *tx) {
  memset(tx, 0, sizeof(*tx));
  tx->buf = malloc(QSL_TX_MAX_PKTS * QSL_TX_STRIDE);
  tx->fd = -1;
  tx->gso = 1;
  return tx->buf ? 0 : -1;
}

void qsl_tx_free(struct qsl_tx *tx) {
  free(tx->buf);
  tx->buf = NULL;
}

/* Each GSO run: consecutive packets of one size, the last one possibly
 * shorter, at most QSL_GSO_MAX_BYTES together. */
struct tx_run {
  size_t off, len, seg, npkts;
};

static void tx_count(struct qsl_stats *st, const struct tx_run *r) {
  st->dgrams_sent += r->npkts;
  st->bytes_sent += r->len;
  if (r->npkts > 1) {
    st->gso_sends++;
  }
}

static size_t tx_runs(const struct qsl_tx *tx, struct tx_run *runs, int gso) {
  size_t nruns = 0, off = 0;
  for (size_t i = 0; i < tx->n;) {
    struct tx_run *r = &runs[nruns++];
    r->off = off;
    r->seg = tx->len[i];
    r->len = tx->len[i];
    r->npkts = 1;
    off += tx->len[i++];
    while (gso && i < tx->n && r->len + tx->len[i] <= QSL_GSO_MAX_BYTES &&
           tx->len[i] <= r->seg) {
      size_t l = tx->len[i];
      r->len += l;
      r->npkts++;
      off += l;
      i++;
      if (l < r->seg) {
        break; /* a shorter packet ends the run */
      }
    }
  }
  return nruns;
}

void qsl_tx_send(struct qsl_tx *tx, struct qsl_stats *st) {
  if (tx->n == 0) {
    return;
  }
  struct tx_run runs[QSL_TX_MAX_PKTS];
  struct mmsghdr msgs[QSL_TX_MAX_PKTS];
  struct iovec iov[QSL_TX_MAX_PKTS];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctl[QSL_TX_MAX_PKTS];

again:;
  size_t nruns = tx_runs(tx, runs, tx->gso);
  memset(msgs, 0, sizeof(msgs[0]) * nruns);
  for (size_t i = 0; i < nruns; i++) {
    iov[i].iov_base = tx->buf + runs[i].off;
    iov[i].iov_len = runs[i].len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    if (runs[i].npkts > 1) {
      memset(&ctl[i], 0, sizeof(ctl[i]));
      msgs[i].msg_hdr.msg_control = ctl[i].buf;
      msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
      struct cmsghdr *cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = (uint16_t)runs[i].seg;
      memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
    }
  }
  size_t done = 0;
  while (done < nruns) {
    int n = sendmmsg(tx->fd, msgs + done, (unsigned)(nruns - done), 0);
    st->send_calls++;
    if (n > 0) {
      for (int i = 0; i < n; i++) {
        tx_count(st, &runs[done + (size_t)i]);
      }
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EIO || errno == EINVAL) && tx->gso && runs[done].npkts > 1 &&
        done == 0) {
      /* no GSO here (device or kernel): plain datagrams from now on */
      tx->gso = 0;
      goto again;
    }
    /* EAGAIN, ENOBUFS, ECONNREFUSED (ICMP from an earlier send)...: drop
     * this message and try the rest */
    st->send_drops += runs[done].npkts;
    done++;
  }
  tx->n = 0;
  tx->used = 0;
}

int qsl_rx_init(struct qsl_rx *rx) {
  memset(rx, 0, sizeof(*rx));
  rx->buf = malloc((size_t)QSL_RX_BATCH * QSL_RX_BUFLEN);
  if (!rx->buf) {
    return -1;
  }
  for (int i = 0; i < QSL_RX_BATCH; i++) {
    rx->iov[i].iov_base = rx->buf + (size_t)i * QSL_RX_BUFLEN;
    rx->iov[i].iov_len = QSL_RX_BUFLEN;
  }
  return 0;
}

void qsl_rx_free(struct qsl_rx *rx) {
  free(rx->buf);
  rx->buf = NULL;
}

int qsl_rx_recv(struct qsl_rx *rx, int fd, struct qsl_stats *st) {
  for (int i = 0; i < QSL_RX_BATCH; i++) {
    struct msghdr *h = &rx->msgs[i].msg_hdr;
    h->msg_name = NULL;
    h->msg_namelen = 0;
    h->msg_iov = &rx->iov[i];
    h->msg_iovlen = 1;
    h->msg_control = rx->ctl[i].buf;
    h->msg_controllen = sizeof(rx->ctl[i].buf);
    h->msg_flags = 0;
  }
  for (;;) {
    int n = recvmmsg(fd, rx->msgs, QSL_RX_BATCH, 0, NULL);
    if (n > 0) {
      st->recv_calls++;
      return n;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    /* EAGAIN: drained.  ECONNREFUSED: ICMP port unreachable on the
     * connected socket; QUIC treats that as loss and times out. */
    return 0;
  }
}

size_t qsl_rx_seg(struct qsl_rx *rx, int i) {
  struct msghdr *h = &rx->msgs[i].msg_hdr;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
    if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
      int seg;
      memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
      if (seg > 0) {
        return (size_t)seg;
      }
    }
  }
  return rx->msgs[i].msg_len;
}
