/* fuzz_fwd_decode.c: libFuzzer target for the relay message decoder
 * (src/server/io/fwd.c, qs_fwd_decode): what one worker accepts from
 * another's relay connection.
 *
 * Beyond "no crash, no read past the message" it checks the decoder's
 * promises: on success the datagram is the message's tail, both addresses
 * are of one family with the length that family needs, the ECN field is two
 * bits; and what it accepted survives the real wire path: sent with
 * qs_fwd_send over a SOCK_SEQPACKET pair and decoded again, it is the same
 * datagram with the same metadata. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fwd.h"

static void check(int cond) {
  if (!cond)
    abort();
}

static int pair[2] = {-1, -1};

static void same_addr(const union qs_sa *a, socklen_t alen, const union qs_sa *b, socklen_t blen) {
  check(alen == blen && memcmp(a, b, alen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t buf[QS_RX_SLOT + 64];
  struct qs_dgram d, e;
  const uint8_t *dg, *dg2;
  size_t dlen, dlen2;
  ssize_t n;

  if (pair[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0)
    abort();
  memset(&d, 0xa5, sizeof d);
  if (qs_fwd_decode(data, size, &d, &dg, &dlen) != 0)
    return 0;
  check(size >= sizeof(struct qs_fwd_hdr));
  check(dg == data + sizeof(struct qs_fwd_hdr) && dlen == size - sizeof(struct qs_fwd_hdr));
  check(d.local.sa.sa_family == d.remote.sa.sa_family);
  check(d.local.sa.sa_family == AF_INET || d.local.sa.sa_family == AF_INET6);
  check(d.locallen == qs_sa_len(&d.local) && d.remotelen == qs_sa_len(&d.remote));
  check(d.ecn <= 3);
  if (dlen > QS_RX_MAX_UDP)
    return 0; /* the worker never relays more than a UDP slot */
  check(qs_fwd_send(pair[0], &d, dg, dlen) == 0);
  n = recv(pair[1], buf, sizeof buf, 0);
  check(n == (ssize_t)(sizeof(struct qs_fwd_hdr) + dlen));
  memset(&e, 0x5a, sizeof e);
  check(qs_fwd_decode(buf, (size_t)n, &e, &dg2, &dlen2) == 0);
  check(dlen2 == dlen && memcmp(dg2, dg, dlen) == 0);
  check(e.group == (uint8_t)d.group && e.ecn == d.ecn);
  same_addr(&e.local, e.locallen, &d.local, d.locallen);
  same_addr(&e.remote, e.remotelen, &d.remote, d.remotelen);
  return 0;
}
