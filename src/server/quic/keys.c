/* keys.c: see keys.h. */
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "worker.h"
#include "quicsteer/control.h"
#include "quicsteer/generation.h"

/* The key of configuration |cr| of generation |gen|: HKDF(secret, "cid
 * key", gen || cr [|| rotation, 32 bits]).  Rotation 0 keeps the 3-octet
 * context, so a successor sharing the secret file can derive it without
 * asking; later rotations never repeat a context. */
static int derive_key(const struct qs_server *srv, uint16_t gen, uint8_t cr, uint32_t rotation,
                      uint8_t key[QS_LB_KEY_LEN]) {
  uint8_t ctx[7] = {(uint8_t)(gen >> 8),       (uint8_t)gen,          cr,
                    (uint8_t)(rotation >> 24), (uint8_t)(rotation >> 16), (uint8_t)(rotation >> 8),
                    (uint8_t)rotation};
  return qs_secret_derive(&srv->secret, "cid key", ctx, rotation ? 7 : 3, key, QS_LB_KEY_LEN);
}

static int make_conf(const struct qs_server *srv, struct qs_cidconf *cc, uint16_t gen, uint8_t cr,
                     uint32_t rotation) {
  const struct qs_config *cfg = srv->cfg;
  uint8_t key[QS_LB_KEY_LEN];
  int rv;
  if (derive_key(srv, gen, cr, rotation, key) != 0)
    return -1;
  rv = qs_cidconf_init_mode(cc, cr, srv->cidlen, cfg->host_id, cfg->host_id_len, cfg->sid_mode,
                            key, 0);
  explicit_bzero(key, sizeof key);
  return rv == 0 ? 0 : -1;
}

/* Another generation's configuration, as the config table holds it. */
static int import_conf(struct qs_cidconf *cc, const struct qs_lbconf *c) {
  const struct qs_route_conf *rc = &c->rc;
  int keyed = qs_route_conf_alg(rc) != QS_LB_PLAINTEXT;
  return qs_cidconf_init_mode(cc, rc->p.cr, qs_lb_cid_len(&rc->p), rc->host_id, rc->host_id_len,
                              rc->mode, keyed ? c->key : NULL, rc->p.encode_len) == 0
             ? 0
             : -1;
}

/* The workers' quiescent counts now (NULL if out of memory: then treated
 * as never passed, so nothing is freed early). */
static uint32_t *snapshot(const struct qs_server *srv) {
  uint32_t *snap = malloc((srv->nworkers ? srv->nworkers : 1) * sizeof *snap);
  /* pairs with the fence in the workers' busy_cb: either a worker saw the
   * new keyring, or we see it still in the round that may hold the old */
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (snap)
    for (unsigned i = 0; i < srv->nworkers; i++)
      snap[i] = __atomic_load_n(&srv->workers[i].quiescent, __ATOMIC_SEQ_CST);
  return snap;
}

/* Has every worker been quiescent since |snap|?  (asleep then, or its count
 * moved on) */
static int passed(const struct qs_server *srv, const uint32_t *snap) {
  if (!snap)
    return 0;
  for (unsigned i = 0; i < srv->nworkers; i++)
    if ((snap[i] & 1) && __atomic_load_n(&srv->workers[i].quiescent, __ATOMIC_ACQUIRE) == snap[i])
      return 0;
  return 1;
}

static void keyring_free(struct qs_keyring *kr) {
  for (int cr = 0; cr < QS_LB_MAX_CONFIGS; cr++)
    if (kr->valid[cr])
      qs_cidconf_free(&kr->conf[cr]);
  free(kr);
}

static void reclaim(struct qs_server *srv) {
  struct qs_keys *k = &srv->keys;
  unsigned j = 0;
  for (unsigned i = 0; i < k->nold; i++) {
    if (passed(srv, k->old[i].snap)) {
      keyring_free(k->old[i].kr);
      free(k->old[i].snap);
    } else {
      k->old[j++] = k->old[i];
    }
  }
  k->nold = j;
}

static int publish(struct qs_server *srv) {
  struct qs_keys *k = &srv->keys;
  struct qs_keyring *kr, *prev = k->cur;

  if (prev && k->nold == QS_KEYS_MAX)
    reclaim(srv);
  if (prev && k->nold == QS_KEYS_MAX) {
    QS_WARN(QS_LOG_MAIN, "too many key changes at once; keeping the current keyring");
    return -1;
  }
  kr = calloc(1, sizeof *kr);
  if (!kr)
    return -1;
  for (uint8_t cr = 0; cr < QS_LB_MAX_CONFIGS; cr++) {
    if (k->own_valid[cr]) {
      kr->conf[cr] = k->own[cr];
      kr->valid[cr] = 1;
    } else if (k->seen[cr].valid && import_conf(&kr->conf[cr], &k->seen[cr]) == 0) {
      kr->valid[cr] = 1;
    }
  }
  kr->mint_cr = k->mint_cr;
  __atomic_store_n(&k->cur, kr, __ATOMIC_SEQ_CST);
  if (prev) {
    k->old[k->nold].kr = prev;
    k->old[k->nold].snap = snapshot(srv);
    k->nold++;
  }
  return 0;
}

/* Without kernel steering there is no config table: a process sharing the
 * secret file derives another generation's rotation-0 key, generation G
 * minting first with codepoint (G - 1) mod 7. */
static void derive_generation(struct qs_server *srv, uint16_t g) {
  struct qs_keys *k = &srv->keys;
  uint8_t cr = (uint8_t)((g - 1u) % QS_LB_MAX_CONFIGS);
  struct qs_cidconf cc;
  if (k->own_valid[cr] || make_conf(srv, &cc, g, cr, 0) != 0)
    return;
  memset(&k->seen[cr], 0, sizeof k->seen[cr]);
  k->seen[cr].valid = 1;
  k->seen[cr].generation = g;
  k->seen[cr].rc = cc.rc;
  memcpy(k->seen[cr].key, cc.lb.key, QS_LB_KEY_LEN);
  qs_cidconf_free(&cc);
}

int qs_keys_learn(struct qs_server *srv, uint16_t gen) {
  if (srv->steer || !srv->shared_secret)
    return 0;
  derive_generation(srv, gen);
  return publish(srv);
}

static int read_table(struct qs_server *srv, struct qs_lbconf table[QS_LB_MAX_CONFIGS]) {
  for (uint8_t cr = 0; cr < QS_LB_MAX_CONFIGS; cr++) {
    if (qs_steer_read_config(srv->steer, cr, &table[cr]) != 0)
      return -1;
    /* our own entries come from k->own; only others' matter here */
    if (table[cr].generation == srv->generation)
      memset(&table[cr], 0, sizeof table[cr]);
  }
  return 0;
}

int qs_keys_init(struct qs_server *srv) {
  int shared_secret = srv->shared_secret;
  const struct qs_config *cfg = srv->cfg;
  struct qs_keys *k = &srv->keys;
  int cr;

  srv->cidlen = qs_cid_len_default(cfg->sid_mode, cfg->host_id_len);
  if (srv->steer) {
    cr = qs_steer_free_cr_in(srv->steer, cfg->cr_allowed);
    if (cr < 0) {
      fprintf(stderr, "quicsteer-server: no free config-rotation codepoint for instance '%s': %s\n",
              cfg->name, qs_strerror(cr));
      return -1;
    }
    if (read_table(srv, k->seen) != 0) {
      fprintf(stderr, "quicsteer-server: cannot read the instance's configurations\n");
      return -1;
    }
  } else {
    uint16_t g = srv->generation;
    /* without the kernel's table, generations find each other's codepoint
     * as (G - 1) mod 7, which a restricted set would break */
    if (cfg->cr_allowed != 0x7f) {
      fprintf(stderr, "quicsteer-server: --codepoints needs kernel steering (BPF), which is "
                      "not in use\n");
      return -1;
    }
    cr = (int)((srv->generation - 1u) % QS_LB_MAX_CONFIGS);
    /* the generations before us that still run (their codepoints differ
     * from ours and each other's: QS_GEN_MAX is a multiple of 7) */
    if (shared_secret)
      for (unsigned back = 1; back < QS_LB_MAX_CONFIGS; back++) {
        g = qs_gen_prev(g);
        if (qs_control_alive(cfg->name, g))
          derive_generation(srv, g);
      }
  }
  if (make_conf(srv, &k->own[cr], srv->generation, (uint8_t)cr, 0) != 0) {
    fprintf(stderr, "quicsteer-server: cannot set up connection IDs\n");
    return -1;
  }
  k->own_valid[cr] = 1;
  memset(&k->seen[cr], 0, sizeof k->seen[cr]);
  k->mint_cr = (uint8_t)cr;
  return publish(srv);
}

int qs_keys_rotate(struct qs_server *srv, char *why, size_t whylen) {
  struct qs_keys *k = &srv->keys;
  uint8_t prev;
  int cr, rv;

  if (srv->steer) {
    cr = qs_steer_free_cr_in(srv->steer, srv->cfg->cr_allowed);
  } else {
    for (cr = 0; cr < QS_LB_MAX_CONFIGS; cr++)
      if (!k->own_valid[cr] && !k->seen[cr].valid)
        break;
    if (cr == QS_LB_MAX_CONFIGS)
      cr = QS_ERR_BUSY;
  }
  if (cr < 0) {
    snprintf(why, whylen,
             "no free config-rotation codepoint: all 7 in use (a rotated-out key retires once "
             "unused, at the latest --key-retire %gs after its rotation)",
             srv->cfg->key_retire_s);
    return -1;
  }
  if (make_conf(srv, &k->own[cr], srv->generation, (uint8_t)cr, ++k->rotations) != 0) {
    snprintf(why, whylen, "cannot derive the new key");
    return -1;
  }
  /* the kernel must decode the new CIDs before any is handed out */
  if (srv->steer && (rv = qs_steer_set_config(srv->steer, &k->own[cr])) != 0) {
    qs_cidconf_free(&k->own[cr]);
    snprintf(why, whylen, "cannot install the new configuration: %s", qs_strerror(rv));
    return -1;
  }
  k->own_valid[cr] = 1;
  prev = k->mint_cr;
  k->mint_cr = (uint8_t)cr;
  if (publish(srv) != 0) {
    k->mint_cr = prev;
    k->own_valid[cr] = 0;
    if (srv->steer)
      qs_steer_clear_config(srv->steer, (uint8_t)cr);
    qs_cidconf_free(&k->own[cr]);
    snprintf(why, whylen, "cannot publish the new keyring");
    return -1;
  }
  /* the old one decodes until it retires (qs_keys_refresh) */
  k->out_at[prev] = qs_now();
  free(k->out_snap[prev]);
  k->out_snap[prev] = snapshot(srv);
  if (srv->steer)
    qs_steer_set_mint(srv->steer, (uint8_t)cr);
  return cr;
}

static uint32_t cids_under(const struct qs_server *srv, unsigned cr) {
  uint32_t n = 0;
  for (unsigned i = 0; i < srv->nworkers; i++)
    n += qs_cidtab_cr_count(&srv->workers[i].tab, cr);
  return n;
}

static void set_mask(unsigned *mask, unsigned bit, int on) {
  unsigned m = __atomic_load_n(mask, __ATOMIC_RELAXED);
  __atomic_store_n(mask, on ? m | bit : m & ~bit, __ATOMIC_RELEASE);
}

static void kick_all(struct qs_server *srv) {
  for (unsigned i = 0; i < srv->nworkers; i++)
    qs_worker_kick(&srv->workers[i]);
}

/* Retire what no connection can use any more; push the stragglers of a key
 * past --key-retire.  Returns 1 if it published. */
static int retire_due(struct qs_server *srv) {
  struct qs_keys *k = &srv->keys;
  uint64_t now = qs_now(), grace = (uint64_t)(srv->cfg->key_retire_s * 1e9),
           drain = (uint64_t)(srv->cfg->drain_timeout * 1e9);
  int published = 0, kick = 0;

  for (uint8_t cr = 0; cr < QS_LB_MAX_CONFIGS; cr++) {
    unsigned bit = 1u << cr;
    if (!k->own_valid[cr] || cr == k->mint_cr || !k->out_at[cr])
      continue;
    /* nobody mints under it any more, and no CID of it is in use */
    if (passed(srv, k->out_snap[cr]) &&
        (cids_under(srv, cr) == 0 || (k->kill_at[cr] && now > k->kill_at[cr] + NGTCP2_SECONDS))) {
      if (srv->steer)
        qs_steer_clear_config(srv->steer, cr);
      qs_cidconf_free(&k->own[cr]);
      k->own_valid[cr] = 0;
      k->out_at[cr] = k->kill_at[cr] = 0;
      free(k->out_snap[cr]);
      k->out_snap[cr] = NULL;
      set_mask(&k->goaway_mask, bit, 0);
      set_mask(&k->kill_mask, bit, 0);
      k->retired++;
      published = 1;
      QS_INFO(QS_LOG_MAIN, "config %u retired (its connection IDs are no longer in use)", cr);
      continue;
    }
    if (now >= k->out_at[cr] + grace) {
      if (!(k->goaway_mask & bit))
        QS_INFO(QS_LOG_MAIN, "config %u: %u connection ID(s) still in use after %gs: GOAWAY", cr,
                cids_under(srv, cr), srv->cfg->key_retire_s);
      set_mask(&k->goaway_mask, bit, 1);
      kick = 1;
    }
    if (now >= k->out_at[cr] + grace + drain && !k->kill_at[cr]) {
      set_mask(&k->kill_mask, bit, 1);
      k->kill_at[cr] = now;
    }
  }
  if (published && publish(srv) != 0)
    published = 0;
  if (kick)
    kick_all(srv);
  return published;
}

/* Without BPF: forget the configurations of generations that are gone. */
static int forget_gone(struct qs_server *srv) {
  struct qs_keys *k = &srv->keys;
  uint64_t now = qs_now();
  int changed = 0;
  if (now < k->seen_checked_at + NGTCP2_SECONDS)
    return 0;
  k->seen_checked_at = now;
  for (uint8_t cr = 0; cr < QS_LB_MAX_CONFIGS; cr++)
    if (k->seen[cr].valid && !qs_control_alive(srv->cfg->name, k->seen[cr].generation)) {
      memset(&k->seen[cr], 0, sizeof k->seen[cr]);
      changed = 1;
    }
  return changed && publish(srv) == 0;
}

int qs_keys_refresh(struct qs_server *srv) {
  struct qs_keys *k = &srv->keys;
  struct qs_lbconf table[QS_LB_MAX_CONFIGS];
  int changed = 0, published;

  reclaim(srv);
  published = retire_due(srv);
  if (!srv->steer)
    return forget_gone(srv) || published;
  if (read_table(srv, table) != 0)
    return -1;
  for (uint8_t cr = 0; cr < QS_LB_MAX_CONFIGS; cr++) {
    if (k->own_valid[cr])
      continue;
    if (table[cr].valid != k->seen[cr].valid || table[cr].generation != k->seen[cr].generation ||
        memcmp(table[cr].key, k->seen[cr].key, sizeof table[cr].key) != 0)
      changed = 1;
  }
  if (!changed)
    return published;
  memcpy(k->seen, table, sizeof table);
  return publish(srv) == 0 ? 1 : -1;
}

void qs_keys_free(struct qs_keys *k) {
  /* the workers have stopped: every keyring can go */
  for (unsigned i = 0; i < k->nold; i++) {
    keyring_free(k->old[i].kr);
    free(k->old[i].snap);
  }
  if (k->cur)
    keyring_free(k->cur);
  for (int cr = 0; cr < QS_LB_MAX_CONFIGS; cr++) {
    if (k->own_valid[cr])
      qs_cidconf_free(&k->own[cr]);
    free(k->out_snap[cr]);
  }
  explicit_bzero(k, sizeof *k);
}
