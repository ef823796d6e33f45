/* udp.h: UDP sockets for the listen groups: setup, batched receive with
 * packet metadata (destination address, ECN), and send with source address,
 * ECN and UDP GSO.
 */
#ifndef QS_SERVER_UDP_H
#define QS_SERVER_UDP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define QS_RX_BATCH 32
/* The largest UDP payload accepted; also our max_udp_payload_size transport
 * parameter, so a peer that honours it never sends more. */
#define QS_RX_MAX_UDP 2048
/* Room for the forwarding header in front of a relayed datagram. */
#define QS_RX_SLOT (QS_RX_MAX_UDP + 128)
#define QS_RX_CTRL 128
/* One GSO send: at most 64 segments and 64 KiB. */
#define QS_TX_BUF 65507
#define QS_GSO_MAX_SEGS 64

union qs_sa {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
};

/* What a worker knows about one received datagram. */
struct qs_dgram {
  int group;           /* listen group (socket) it arrived on, or was forwarded for */
  union qs_sa local;   /* the address the client sent to */
  socklen_t locallen;
  union qs_sa remote;  /* the client */
  socklen_t remotelen;
  uint8_t ecn;         /* low two bits of TOS / traffic class */
};

/* Preallocated receive state for recvmmsg, shared by all sockets of a
 * worker: one batch is processed completely before the next read. */
struct qs_rxbatch {
  struct mmsghdr msgs[QS_RX_BATCH];
  struct iovec iov[QS_RX_BATCH];
  union qs_sa addrs[QS_RX_BATCH];
  uint8_t ctrl[QS_RX_BATCH][QS_RX_CTRL] __attribute__((aligned(8)));
  uint8_t *bufs; /* QS_RX_BATCH * QS_RX_SLOT */
};

int qs_rxbatch_init(struct qs_rxbatch *b);
void qs_rxbatch_free(struct qs_rxbatch *b);

/* qs_udp_probe binds a throwaway socket to |addr| without SO_REUSEPORT.
 * Returns 0 if the address is free or -errno (EADDRINUSE: someone holds
 * the port). */
int qs_udp_probe(const struct sockaddr *addr, socklen_t len);

/* qs_udp_open returns a non-blocking UDP socket with SO_REUSEPORT bound to
 * |addr| (IPv6 sockets are IPv6-only), with destination-address and ECN
 * reception enabled, or -errno. */
int qs_udp_open(const struct sockaddr *addr, socklen_t len);

/* qs_udp_gso_supported returns 1 if |fd| accepts UDP_SEGMENT. */
int qs_udp_gso_supported(int fd);

/* qs_udp_recv reads up to QS_RX_BATCH datagrams into |b| with |room|
 * octets each (QS_RX_MAX_UDP for UDP, QS_RX_SLOT for relayed datagrams),
 * recording sender addresses if |names|.  Returns the count, 0 when
 * nothing is queued, or -errno. */
int qs_udp_recv(int fd, struct qs_rxbatch *b, size_t room, int names);

/* qs_udp_meta fills |d| from message |i| of |b| for a socket bound to
 * |bound|; returns the payload length, or -1 if the datagram was truncated
 * (larger than QS_RX_MAX_UDP). */
int qs_udp_meta(const struct qs_rxbatch *b, int i, const union qs_sa *bound, struct qs_dgram *d);

/* qs_udp_send sends |len| octets to |remote| from |local| (the address the
 * client used; NULL or a specific bind: let the kernel choose) with ECN
 * codepoint |ecn|.  When |gso| < |len| the buffer holds segments of |gso|
 * octets (the last may be shorter) sent with one UDP_SEGMENT call; if the
 * kernel rejects GSO (EIO, EINVAL) *gso_ok is cleared and the segments are
 * sent one by one.  Returns 0, -EAGAIN (nothing of the remaining data was
 * sent; *sent tells how much was), or another -errno. */
int qs_udp_send(int fd, int wildcard, const union qs_sa *local, const union qs_sa *remote,
                socklen_t remotelen, uint8_t ecn, const uint8_t *buf, size_t len, size_t gso,
                int *gso_ok, size_t *sent);

/* qs_sa_len returns the length of the address by its family. */
socklen_t qs_sa_len(const union qs_sa *a);

/* qs_sa_is_any returns 1 for the wildcard address of either family. */
int qs_sa_is_any(const union qs_sa *a);

/* qs_sa_equal compares family, address and port. */
int qs_sa_equal(const union qs_sa *a, const union qs_sa *b);

#endif
