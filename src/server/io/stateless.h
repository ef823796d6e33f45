/* stateless.h: answers sent without connection state: version
 * negotiation, stateless reset, Retry, and CONNECTION_CLOSE in an Initial
 * (refused connection, invalid token).
 */
#ifndef QS_SERVER_STATELESS_H
#define QS_SERVER_STATELESS_H

#include <stddef.h>
#include <stdint.h>

#include <ngtcp2/ngtcp2.h>

#include "udp.h"

struct qs_worker;

/* A stateless reset is only sent for a datagram of at least this size, and
 * is always shorter than it: at most QS_RESET_TRIGGER_MIN - 1 octets.  So a
 * reset (ours, or a peer's answer to ours) never triggers another. */
#define QS_RESET_TRIGGER_MIN 58
#define QS_RESET_LEN_MIN 42

/* qs_stateless_vneg answers the long-header datagram |data| of an
 * unsupported version with the versions we speak (only for datagrams of
 * at least 1200 octets, to avoid amplification). */
void qs_stateless_vneg(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *data,
                       size_t len);

/* qs_stateless_reset answers a short-header datagram of |len| octets for
 * the unknown connection ID |dcid| (rate-limited per worker). */
void qs_stateless_reset(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *dcid,
                        size_t dcidlen, size_t len);

/* qs_stateless_retry sends a Retry with a fresh SCID of this worker and a
 * token for the client Initial |hd|.  Returns 0 or -1. */
int qs_stateless_retry(struct qs_worker *w, const struct qs_dgram *d, const ngtcp2_pkt_hd *hd);

/* qs_stateless_close answers the client Initial |hd| with CONNECTION_CLOSE
 * carrying transport error |code|. */
void qs_stateless_close(struct qs_worker *w, const struct qs_dgram *d, const ngtcp2_pkt_hd *hd,
                        uint64_t code);

#endif
