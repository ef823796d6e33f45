/* keys.h: the server's keyring.
 *
 * The keyring holds the QUIC-LB configurations this process mints with and
 * every one it can decode: its own (one per key rotation) and, with kernel
 * steering, those of every other live generation, read from the instance's
 * config table (the pinned qs_lbconf map keeps raw keys for this).  Workers
 * read the current keyring through qs_keys_current(); a new one is built
 * whole and published with one atomic store.  A replaced keyring is freed
 * once every worker has been through a quiescent state (its loop went to
 * sleep, or ran again) since: readers need no lock, never see a half-built
 * keyring, and a process can change keys forever.
 *
 * Retirement: after a rotation the old configuration only decodes.  It is
 * retired (gone from the keyring and the kernel, its codepoint free for a
 * later rotation) as soon as no worker's connection table holds a CID under
 * it (qs_cidtab_cr_count) and no worker can still be minting one.  If
 * connections still hold such CIDs --key-retire seconds after the
 * rotation, workers send them GOAWAY (they close once their requests are
 * done, and clients reconnect under the new key), and close what is left
 * --drain-timeout later.
 */
#ifndef QS_SERVER_KEYS_H
#define QS_SERVER_KEYS_H

#include <stdint.h>

#include "quicsteer/lb.h"
#include "quicsteer/steer_abi.h"

#define QS_KEYS_MAX 64 /* replaced keyrings not yet freed (workers may hold them) */

struct qs_server;

/* a replaced keyring and the workers' quiescent counts when it was replaced */
struct qs_keys_old {
  struct qs_keyring *kr;
  uint32_t *snap;
};

struct qs_keys {
  struct qs_keyring *cur; /* atomic */
  struct qs_keys_old old[QS_KEYS_MAX];
  unsigned nold;
  struct qs_cidconf own[QS_LB_MAX_CONFIGS]; /* configurations this process installed */
  uint8_t own_valid[QS_LB_MAX_CONFIGS];
  uint8_t mint_cr;
  uint32_t rotations;
  uint64_t retired; /* configurations retired so far */
  /* own[cr] rotated out: when (qs_now), the workers' quiescent counts then */
  uint64_t out_at[QS_LB_MAX_CONFIGS];
  uint32_t *out_snap[QS_LB_MAX_CONFIGS];
  uint64_t kill_at[QS_LB_MAX_CONFIGS];  /* when its last connections were closed */
  unsigned goaway_mask, kill_mask;      /* atomic: read by workers (qs_worker_kick) */
  struct qs_lbconf seen[QS_LB_MAX_CONFIGS]; /* the config table when last imported */
  uint64_t seen_checked_at; /* without BPF: when other generations were last probed */
};

/* qs_keys_init creates the first keyring: a fresh configuration to mint
 * with (a codepoint no live generation uses, a key derived from the secret)
 * and the other live generations' configurations: with kernel steering
 * from the config table, without it derived from a shared secret file
 * (srv->shared_secret).  Returns 0 or -1 (message printed). */
int qs_keys_init(struct qs_server *srv);

/* qs_keys_learn adds generation |gen|'s first configuration, derived from
 * the shared secret, in user space only (kernel steering reads the config
 * table instead).  Returns 0 or -1. */
int qs_keys_learn(struct qs_server *srv, uint16_t gen);

/* qs_keys_current returns the keyring workers use now. */
static inline const struct qs_keyring *qs_keys_current(const struct qs_keys *k) {
  return __atomic_load_n(&k->cur, __ATOMIC_ACQUIRE);
}

/* qs_keys_rotate switches minting to a new configuration under a new key
 * (installed in the kernel first, when steering there); the old ones keep
 * decoding.  Returns the new codepoint, or -1 with |why| set. */
int qs_keys_rotate(struct qs_server *srv, char *why, size_t whylen);

/* qs_keys_refresh runs on the main thread's tick: it frees replaced
 * keyrings no worker can hold, retires rotated-out configurations (see
 * above), and follows other generations' configurations (kernel steering:
 * the config table; without: drops those of generations that are gone).
 * Returns 1 if it published, 0 if nothing changed, -1 on error. */
int qs_keys_refresh(struct qs_server *srv);

void qs_keys_free(struct qs_keys *k);

#endif
