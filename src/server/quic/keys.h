/* keys.h: the server's keyring.
 *
 * The keyring holds the QUIC-LB configurations this process mints with and
 * every one it can decode: its own (one per key rotation) and, with kernel
 * steering, those of every other live generation, read from the instance's
 * config table (the pinned qs_lbconf map keeps raw keys for this).  Workers
 * read the current keyring through qs_keys_current(); a new one is built
 * whole and published with one atomic store, and older ones are kept until
 * exit, so readers need no lock and never see a half-built keyring.
 */
#ifndef QS_SERVER_KEYS_H
#define QS_SERVER_KEYS_H

#include <stdint.h>

#include "quicsteer/lb.h"
#include "quicsteer/steer_abi.h"

#define QS_KEYS_MAX 64 /* keyrings a process may publish (rotations + imports) */

struct qs_server;

struct qs_keys {
  struct qs_keyring *cur; /* atomic */
  struct qs_keyring *all[QS_KEYS_MAX];
  unsigned nall;
  struct qs_cidconf own[QS_LB_MAX_CONFIGS]; /* configurations this process installed */
  uint8_t own_valid[QS_LB_MAX_CONFIGS];
  uint8_t mint_cr;
  unsigned rotations;
  struct qs_lbconf seen[QS_LB_MAX_CONFIGS]; /* the config table when last imported */
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

/* qs_keys_refresh re-reads the instance's config table (kernel steering)
 * and publishes a new keyring if another generation's configurations came
 * or went.  Returns 1 if it published, 0 if nothing changed, -1 on error. */
int qs_keys_refresh(struct qs_server *srv);

void qs_keys_free(struct qs_keys *k);

#endif
