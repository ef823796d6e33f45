/* fwd.h: relaying datagrams to the worker that owns their connection.
 *
 * Each worker listens on an abstract AF_UNIX socket named
 *   "\0quicsteer/NAME/GENERATION/WORKER"
 * A worker that receives a datagram for a connection ID minted by another
 * worker (of this process, or of another generation of the same instance)
 * relays it there with a fixed header: the listen group, the local and
 * remote addresses and the ECN bits.  The owner processes it as if its own
 * socket of that group had received it, and replies from that socket.
 * Abstract names need no file system and vanish with their process, which
 * lets a successor reach its predecessor's workers.  They have no file
 * mode either, so both ends check the other's uid (root or ours,
 * qs_peer_trusted): a relayed datagram is trusted as the client's own.
 *
 * The sockets are SOCK_SEQPACKET, connected lazily per (sender, owner) pair
 * and kept: datagram semantics, but as a connected pair the queue is bounded
 * by the socket buffers, not by net.unix.max_dgram_qlen (10 by default),
 * which an unconnected SOCK_DGRAM receiver would impose on every burst.
 */
#ifndef QS_SERVER_FWD_H
#define QS_SERVER_FWD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "udp.h"

#define QS_FWD_MAGIC 0x71736677u /* "qsfw" */
#define QS_FWD_VERSION 1

struct qs_fwd_addr {
  uint16_t family; /* AF_INET or AF_INET6 */
  uint16_t port;   /* network byte order */
  uint32_t scope_id;
  uint8_t addr[16];
};

struct qs_fwd_hdr {
  uint32_t magic;
  uint8_t version;
  uint8_t group;
  uint8_t ecn;
  uint8_t pad;
  struct qs_fwd_addr local;
  struct qs_fwd_addr remote;
};

struct qs_fwd_name {
  struct sockaddr_un sun;
  socklen_t len;
};

/* qs_fwd_name_make builds the abstract address of (|name|, |generation|,
 * |worker|). */
void qs_fwd_name_make(struct qs_fwd_name *n, const char *name, uint16_t generation,
                      uint16_t worker);

/* qs_fwd_listen returns a non-blocking listening socket bound to |n|, or
 * -errno (EADDRINUSE: a live process already uses that name). */
int qs_fwd_listen(const struct qs_fwd_name *n);

/* qs_fwd_accept accepts one relay connection on |lfd| (the caller checks
 * the peer: qs_trust_peer).  Returns the socket, -EAGAIN, or another
 * -errno. */
int qs_fwd_accept(int lfd);

/* qs_fwd_connect returns a non-blocking socket connected to |n|, or -errno
 * (ECONNREFUSED: nobody listens there; EPERM: the listener belongs to
 * another user, qs_peer_trusted; EAGAIN: its accept queue is full). */
int qs_fwd_connect(const struct qs_fwd_name *n);

/* qs_fwd_send relays the |len|-octet datagram |data| described by |d| on
 * the connected socket |fd|.  Returns 0 or -errno (EAGAIN: the owner's
 * queue is full; EPIPE/ECONNRESET: the owner is gone). */
int qs_fwd_send(int fd, const struct qs_dgram *d, const uint8_t *data, size_t len);

/* qs_fwd_decode parses a relayed message of |len| octets at |msg| into
 * |d| and the datagram (*data, *dlen).  Returns 0, or -1 if malformed. */
int qs_fwd_decode(const uint8_t *msg, size_t len, struct qs_dgram *d, const uint8_t **data,
                  size_t *dlen);

#endif
