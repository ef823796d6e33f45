/* relay.h: a worker's relay connections to and from other workers, of this
 * generation and others (the wire format and sockets are fwd.h's). */
#ifndef QS_SERVER_RELAY_H
#define QS_SERVER_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "udp.h"

struct qs_worker;

/* qs_relay_init sets up w's relay state and starts accepting on
 * w->fwd_fd.  Returns 0 or -1. */
int qs_relay_init(struct qs_worker *w);

/* qs_relay_free closes every relay socket of |w|. */
void qs_relay_free(struct qs_worker *w);

/* qs_relay sends the datagram |data| described by |d| to worker |worker| of
 * generation |gen|.  Returns 0 if it was relayed (fwd_out), or dropped for a
 * transient reason (fwd_busy: the owner's queue or accept backlog is full,
 * or we are out of descriptors; the client retransmits), -1 only if the
 * owner is not there (fwd_fail: nobody listens, it closed, or the name
 * belongs to another user); the caller may then treat the datagram as
 * unknown. */
int qs_relay(struct qs_worker *w, const struct qs_dgram *d, const uint8_t *data, size_t len,
             uint16_t gen, uint16_t worker);

#endif
