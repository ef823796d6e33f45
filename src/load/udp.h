/* udp.h: the load client's UDP sockets and batched I/O.
 *
 * Every connection has its own connected socket (its own 5-tuple, as real
 * clients), so batching is per socket: a connection's burst of packets goes
 * out in one sendmmsg() whose messages are GSO (UDP_SEGMENT) runs, and a
 * readable socket is drained with recvmmsg() into GRO-sized buffers.  The
 * buffers belong to the worker thread and are allocated once.
 */
#ifndef QSL_UDP_H
#define QSL_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stats.h"

#define QSL_TX_MAX_PKTS 64    /* packets one connection writes per turn */
#define QSL_TX_STRIDE 1472    /* room for one packet (>= path max payload) */
#define QSL_RX_BATCH 16       /* datagrams (or GRO trains) per recvmmsg */
#define QSL_RX_BUFLEN 65536   /* one GRO train */
#define QSL_GSO_MAX_BYTES 65000 /* a UDP datagram, GSO or not, stays below 64 KiB */

/* qsl_udp_open makes a non-blocking socket connected to |remote|, bound to
 * a fresh ephemeral port, and stores its local address.  Returns the fd or
 * -errno. */
int qsl_udp_open(const struct sockaddr *remote, socklen_t remotelen,
                 struct sockaddr_storage *local, socklen_t *locallen);

struct qsl_tx {
  uint8_t *buf; /* QSL_TX_MAX_PKTS * QSL_TX_STRIDE, packets back to back */
  size_t len[QSL_TX_MAX_PKTS];
  size_t n;     /* packets queued */
  size_t used;  /* octets queued */
  int fd;       /* socket they all go out of */
  int gso;      /* UDP_SEGMENT works (cleared on the first refusal) */
};

/* qsl_tx_send sends the queued packets (GSO runs of equal-sized packets,
 * all in one sendmmsg where possible) and empties the queue.  Packets the
 * kernel refuses (EAGAIN, ENOBUFS...) are dropped and counted: QUIC loss
 * recovery resends them.  Updates the UDP counters of |st|. */
void qsl_tx_send(struct qsl_tx *tx, struct qsl_stats *st);

struct qsl_rx {
  uint8_t *buf; /* QSL_RX_BATCH * QSL_RX_BUFLEN */
  struct mmsghdr msgs[QSL_RX_BATCH];
  struct iovec iov[QSL_RX_BATCH];
  union {
    char buf[64];
    struct cmsghdr align;
  } ctl[QSL_RX_BATCH];
};

int qsl_tx_init(struct qsl_tx *tx);
void qsl_tx_free(struct qsl_tx *tx);
int qsl_rx_init(struct qsl_rx *rx);
void qsl_rx_free(struct qsl_rx *rx);

/* qsl_rx_recv reads up to QSL_RX_BATCH datagrams from |fd|.  Returns how
 * many (0 when nothing is pending or on a transient error); for each,
 * qsl_rx_seg gives the GRO segment size (the datagram length when not
 * coalesced). */
int qsl_rx_recv(struct qsl_rx *rx, int fd, struct qsl_stats *st);
size_t qsl_rx_seg(struct qsl_rx *rx, int i);

#endif
