/* keys.c: see keys.h. */
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "server.h"

/* The key of configuration |cr| of generation |gen|: HKDF(secret, "cid
 * key", gen || cr [|| rotation]).  Rotation 0 keeps the 3-octet context, so
 * a successor sharing the secret file can derive it without asking. */
static int derive_key(const struct qs_server *srv, uint16_t gen, uint8_t cr, unsigned rotation,
                      uint8_t key[QS_LB_KEY_LEN]) {
  uint8_t ctx[4] = {(uint8_t)(gen >> 8), (uint8_t)gen, cr, (uint8_t)rotation};
  return qs_secret_derive(&srv->secret, "cid key", ctx, rotation ? 4 : 3, key, QS_LB_KEY_LEN);
}

static int make_conf(const struct qs_server *srv, struct qs_cidconf *cc, uint16_t gen, uint8_t cr,
                     unsigned rotation) {
  const struct qs_config *cfg = srv->cfg;
  uint8_t key[QS_LB_KEY_LEN];
  int rv;
  if (derive_key(srv, gen, cr, rotation, key) != 0)
    return -1;
  rv = qs_cidconf_init(cc, cr, srv->cidlen, cfg->host_id, cfg->host_id_len, key, 0);
  explicit_bzero(key, sizeof key);
  return rv == 0 ? 0 : -1;
}

/* Another generation's configuration, as the config table holds it. */
static int import_conf(struct qs_cidconf *cc, const struct qs_lbconf *c) {
  const struct qs_route_conf *rc = &c->rc;
  int keyed = rc->p.alg != QS_LB_PLAINTEXT;
  return qs_cidconf_init(cc, rc->p.cr, qs_lb_cid_len(&rc->p), rc->host_id, rc->host_id_len,
                         keyed ? c->key : NULL, rc->p.encode_len) == 0
             ? 0
             : -1;
}

static int publish(struct qs_server *srv) {
  struct qs_keys *k = &srv->keys;
  struct qs_keyring *kr;

  if (k->nall == QS_KEYS_MAX) {
    QS_WARN(QS_LOG_MAIN, "too many key changes in one process; keeping the current keyring");
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
  k->all[k->nall++] = kr;
  __atomic_store_n(&k->cur, kr, __ATOMIC_RELEASE);
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

  srv->cidlen = QS_CID_LEN_DEFAULT;
  if (1 + cfg->host_id_len + QS_RK_LEN + QS_CID_MIN_RANDOM > srv->cidlen)
    srv->cidlen = (uint32_t)(1 + cfg->host_id_len + QS_RK_LEN + QS_CID_MIN_RANDOM);
  if (srv->steer) {
    cr = qs_steer_free_cr(srv->steer);
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
    cr = (int)((srv->generation - 1u) % QS_LB_MAX_CONFIGS);
    if (shared_secret)
      for (unsigned back = 1; back < QS_LB_MAX_CONFIGS && back < srv->generation; back++)
        derive_generation(srv, (uint16_t)(srv->generation - back));
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
  int cr, rv;

  if (srv->steer) {
    cr = qs_steer_free_cr(srv->steer);
  } else {
    for (cr = 0; cr < QS_LB_MAX_CONFIGS; cr++)
      if (!k->own_valid[cr] && !k->seen[cr].valid)
        break;
    if (cr == QS_LB_MAX_CONFIGS)
      cr = QS_ERR_BUSY;
  }
  if (cr < 0) {
    snprintf(why, whylen, "no free config-rotation codepoint (all 7 in use by live configurations)");
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
  k->mint_cr = (uint8_t)cr;
  if (publish(srv) != 0) {
    snprintf(why, whylen, "cannot publish the new keyring");
    return -1;
  }
  if (srv->steer)
    qs_steer_set_mint(srv->steer, (uint8_t)cr);
  return cr;
}

int qs_keys_refresh(struct qs_server *srv) {
  struct qs_keys *k = &srv->keys;
  struct qs_lbconf table[QS_LB_MAX_CONFIGS];
  int changed = 0;

  if (!srv->steer)
    return 0;
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
    return 0;
  memcpy(k->seen, table, sizeof table);
  return publish(srv) == 0 ? 1 : -1;
}

void qs_keys_free(struct qs_keys *k) {
  for (unsigned i = 0; i < k->nall; i++) {
    for (int cr = 0; cr < QS_LB_MAX_CONFIGS; cr++)
      if (k->all[i]->valid[cr])
        qs_cidconf_free(&k->all[i]->conf[cr]);
    free(k->all[i]);
  }
  for (int cr = 0; cr < QS_LB_MAX_CONFIGS; cr++)
    if (k->own_valid[cr])
      qs_cidconf_free(&k->own[cr]);
  explicit_bzero(k, sizeof *k);
}
