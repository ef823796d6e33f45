/* replay.h: one worker's defence against replayed 0-RTT (RFC 8446 s8).
 *
 * GnuTLS accepts early data only with an anti-replay context.  It refuses
 * 0-RTT when the client's idea of the ticket's age and its own differ by
 * more than the window, and when the ticket was issued before the context
 * started recording (a new process does not know which ClientHellos its
 * predecessor accepted); otherwise it asks us to record the ClientHello
 * (by its PSK binder, unique to it) and refuses one already recorded.
 *
 * The record is a fixed table of fingerprints, each kept for the window.
 * A replay has the same destination connection ID as the original (0-RTT
 * packets are bound to it), so it reaches the same worker, and a worker's
 * record is enough.  When the table has no room the answer is "refuse
 * 0-RTT": the client then sends in 1-RTT; memory never grows.
 *
 * One context per worker: GnuTLS's is not thread-safe.
 */
#ifndef QS_SERVER_REPLAY_H
#define QS_SERVER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#define QS_REPLAY_WINDOW_S 60    /* s: freshness tolerance and how long a ClientHello is kept */
#define QS_REPLAY_SLOTS 32768    /* per worker: 768 KiB, room for ~540 0-RTT handshakes/s */
#define QS_REPLAY_PROBE 16

struct qs_replay_slot {
  uint64_t fp[2];
  uint64_t expiry; /* unix seconds; 0: free */
};

struct qs_replay {
  gnutls_anti_replay_t ar;
  struct qs_replay_slot *slots;
  size_t mask; /* slots - 1 (a power of two) */
  uint64_t full; /* refusals for want of room */
};

/* qs_replay_init makes a context with |nslots| (a power of two) record
 * slots and a window of |window_s| seconds.  Returns 0 or -1. */
int qs_replay_init(struct qs_replay *r, size_t nslots, unsigned window_s);
void qs_replay_free(struct qs_replay *r);

/* qs_replay_enable lets server session |s| (made with
 * GNUTLS_ENABLE_EARLY_DATA) accept 0-RTT under |r|. */
void qs_replay_enable(struct qs_replay *r, gnutls_session_t s);

/* qs_replay_add records ClientHello identity |id| at time |now| until
 * |expiry| (unix seconds).  Returns 0 (recorded), QS_ERR_BUSY (seen
 * before: a replay) or QS_ERR_NOMEM (no free slot). */
int qs_replay_add(struct qs_replay *r, const uint8_t *id, size_t idlen, uint64_t now,
                  uint64_t expiry);

#endif
