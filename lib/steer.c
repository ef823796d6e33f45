/* steer.c: load the steering program and manage one generation's part of
 * an instance's pinned state (include/quicsteer/steer.h).
 *
 * Maps are pinned by name under /sys/fs/bpf/quicsteer/NAME (libbpf's
 * pin_root_path): the first process creates them, a takeover process's
 * load reuses them (libbpf refuses pins whose definition differs, which we
 * report as an ABI mismatch).  Every read-modify-write of shared state runs
 * under the instance lock (/run/quicsteer/NAME/lock).
 */
#include "steer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "aes128.h"
#include "quicsteer/generation.h"
#include "quicsteer/util.h"
#include "steer.skel.h"

#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif

struct qs_steer {
  struct steer *skel;
  char name[QS_STEER_NAME_MAX + 1];
  uint16_t generation;
  uint32_t cr_mask;
  uint32_t nworkers; /* serving set size, recorded in the owner table */
  int pin_dirfd;     /* the pin directory, to unpin as the last one out */
  uint8_t registered[QS_MAX_WORKERS];
};

/* libbpf reports verifier logs through its print callback; keep the tail
 * so a failed load can be saved for the operator. */
static char qs_libbpf_log[64 * 1024];
static size_t qs_libbpf_log_len;

static int qs_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
  int n;
  if (level == LIBBPF_DEBUG)
    return 0;
  if (qs_libbpf_log_len >= sizeof qs_libbpf_log - 1)
    qs_libbpf_log_len = 0; /* keep the latest output, which holds the error */
  n = vsnprintf(qs_libbpf_log + qs_libbpf_log_len, sizeof qs_libbpf_log - qs_libbpf_log_len, fmt, ap);
  if (n > 0)
    qs_libbpf_log_len += (size_t)n < sizeof qs_libbpf_log - qs_libbpf_log_len
                             ? (size_t)n
                             : sizeof qs_libbpf_log - qs_libbpf_log_len - 1;
  return 0;
}

static void save_verifier_log(const char *name, char *why, size_t whylen, int err) {
  char path[PATH_MAX];
  FILE *f;
  qs_steer_run_dir(path, sizeof path, name);
  strncat(path, "/verifier.log", sizeof path - strlen(path) - 1);
  f = fopen(path, "w");
  if (f) {
    fwrite(qs_libbpf_log, 1, qs_libbpf_log_len, f);
    fclose(f);
  }
  snprintf(why, whylen, "loading the BPF program failed (%s); libbpf/verifier log saved in %s",
           strerror(-err), path);
}

static int map_fd(const struct bpf_map *m) { return bpf_map__fd(m); }

static int live_generations(const char *name, struct qs_gen_owner gens[QS_GEN_SLOTS],
                            uint8_t alive[QS_GEN_SLOTS], int *abi_ok) {
  struct qs_global g;
  uint32_t zero = 0, i;
  int fd, gfd, nlive = 0;

  memset(alive, 0, QS_GEN_SLOTS);
  *abi_ok = 1;
  fd = qs_steer_pin_get(name, "qs_gens");
  if (fd < 0)
    return 0;
  if (qs_steer_read_gens(fd, gens) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  for (i = 0; i < QS_GEN_SLOTS; i++) {
    alive[i] = (uint8_t)qs_gen_owner_alive(&gens[i]);
    nlive += alive[i];
  }
  gfd = qs_steer_pin_get(name, "qs_global");
  if (gfd >= 0) {
    if (bpf_map_lookup_elem(gfd, &zero, &g) != 0 || g.abi != QS_ABI_VERSION)
      *abi_ok = 0;
    close(gfd);
  }
  return nlive;
}

static int init_fresh_state(struct qs_steer *s) {
  struct qs_global g;
  uint32_t zero = 0;
  memset(&g, 0, sizeof g);
  g.abi = QS_ABI_VERSION;
  g.short_cid_len = QS_CID_LEN_DEFAULT;
  g.group_v4 = g.group_v6 = QS_GROUP_SEARCH;
  if (qs_random(&g.hash_k0, sizeof g.hash_k0) != 0 || qs_random(&g.hash_k1, sizeof g.hash_k1) != 0)
    return QS_ERR_CRYPTO;
  if (bpf_map_update_elem(map_fd(s->skel->maps.qs_global), &zero, &g, BPF_ANY) != 0 ||
      bpf_map_update_elem(map_fd(s->skel->maps.qs_active), &zero, &zero, BPF_ANY) != 0)
    return QS_ERR_SYS;
  return 0;
}

static int write_owner(struct qs_steer *s, uint32_t state, uint32_t mint_cr) {
  struct qs_gen_owner o;
  uint32_t slot = s->generation % QS_GEN_SLOTS;
  memset(&o, 0, sizeof o);
  if (state != QS_GEN_FREE) {
    o.pid = (uint32_t)getpid();
    o.generation = s->generation;
    o.starttime = qs_proc_starttime(o.pid);
    o.state = state;
    o.mint_cr = mint_cr;
    o.cr_mask = s->cr_mask;
    o.workers = s->nworkers;
  }
  return bpf_map_update_elem(map_fd(s->skel->maps.qs_gens), &slot, &o, BPF_ANY) == 0 ? 0 : QS_ERR_SYS;
}

static int read_owner(struct qs_steer *s, struct qs_gen_owner *o) {
  uint32_t slot = s->generation % QS_GEN_SLOTS;
  return bpf_map_lookup_elem(map_fd(s->skel->maps.qs_gens), &slot, o) == 0 ? 0 : QS_ERR_SYS;
}

int qs_steer_open(struct qs_steer **ps, const char *name, unsigned flags, char *why,
                  size_t whylen) {
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  struct qs_gen_owner gens[QS_GEN_SLOTS];
  uint8_t alive[QS_GEN_SLOTS];
  char pindir[PATH_MAX], progpin[PATH_MAX + 16];
  struct qs_steer *s = NULL;
  int rv, lock = -1, nlive, abi_ok, err;
  uint16_t live[QS_GEN_SLOTS];
  uint32_t i;

  *ps = NULL;
  if (whylen)
    why[0] = 0;
  if (!qs_steer_name_ok(name)) {
    snprintf(why, whylen, "instance name must be 1-64 of [A-Za-z0-9_.-], not starting with '.'");
    return QS_ERR_INVAL;
  }
  if ((rv = qs_steer_mount_bpffs(why, whylen)) != 0)
    return rv;
  if ((rv = qs_steer_make_dirs(name, why, whylen)) != 0)
    return rv;
  lock = qs_steer_lock(name);
  if (lock < 0) {
    snprintf(why, whylen, "cannot lock instance %s: %s", name, strerror(errno));
    return QS_ERR_SYS;
  }

  nlive = live_generations(name, gens, alive, &abi_ok);
  if (nlive > 0 && !(flags & QS_STEER_TAKEOVER)) {
    snprintf(why, whylen, "instance '%s' is already running (use --takeover to replace it, or another --name)", name);
    rv = QS_ERR_BUSY;
    goto cleanup;
  }
  if (nlive > 0 && !abi_ok) {
    snprintf(why, whylen, "instance '%s' runs an incompatible build (steering ABI differs): stop it first", name);
    rv = QS_ERR_ABI;
    goto cleanup;
  }
  if (nlive == 0)
    qs_steer_unpin_all(name); /* leftovers of a dead instance: never trusted */
  if ((rv = qs_steer_make_dirs(name, why, whylen)) != 0)
    goto cleanup;

  s = calloc(1, sizeof *s);
  if (!s) {
    rv = QS_ERR_NOMEM;
    goto cleanup;
  }
  snprintf(s->name, sizeof s->name, "%s", name);
  qs_steer_pin_dir(pindir, sizeof pindir, name);
  s->pin_dirfd = open(pindir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  opts.pin_root_path = pindir;
  qs_libbpf_log_len = 0;
  libbpf_set_print(qs_libbpf_print);
  s->skel = steer__open_opts(&opts);
  if (!s->skel) {
    err = -errno;
    snprintf(why, whylen, "cannot open the BPF object: %s", strerror(-err));
    rv = QS_ERR_NOBPF;
    goto cleanup;
  }
  err = steer__load(s->skel);
  if (err) {
    if (err == -EPERM || err == -EACCES) {
      snprintf(why, whylen, "not permitted to load BPF programs (%s; needs CAP_BPF and CAP_NET_ADMIN)",
               strerror(-err));
      rv = QS_ERR_NOBPF;
    } else if (nlive > 0) {
      snprintf(why, whylen, "cannot reuse the pinned maps of instance '%s' (%s): incompatible build?",
               name, strerror(-err));
      rv = QS_ERR_ABI;
    } else {
      save_verifier_log(name, why, whylen, err);
      rv = QS_ERR_NOBPF;
    }
    goto cleanup;
  }
  if (nlive == 0 && (rv = init_fresh_state(s)) != 0) {
    snprintf(why, whylen, "cannot initialise the steering maps: %s", strerror(errno));
    goto cleanup;
  }

  /* the next generation number, never one handed out before (the record
   * survives the pins); its slot must not hold a live generation */
  for (i = 0; i < QS_GEN_SLOTS; i++)
    live[i] = alive[i] ? (uint16_t)gens[i].generation : 0;
  qs_gen_claim(name, live, QS_GEN_SLOTS, &s->generation);
  if (nlive > 0 && alive[s->generation % QS_GEN_SLOTS]) {
    snprintf(why, whylen, "instance '%s' has %d live generations: no slot free", name, nlive);
    rv = QS_ERR_BUSY;
    goto cleanup;
  }
  if ((rv = write_owner(s, QS_GEN_STARTING, 0)) != 0) {
    snprintf(why, whylen, "cannot record the generation owner: %s", strerror(errno));
    goto cleanup;
  }
  /* the program pin is informational (bpftool, benchmarks): newest wins */
  snprintf(progpin, sizeof progpin, "%s/qs_steer", pindir);
  unlink(progpin);
  bpf_program__pin(s->skel->progs.qs_steer, progpin);
  qs_steer_unlock(lock);
  *ps = s;
  return 0;

cleanup:
  if (s) {
    if (s->skel)
      steer__destroy(s->skel);
    if (s->pin_dirfd >= 0)
      close(s->pin_dirfd);
    free(s);
  }
  if (nlive == 0 && rv != QS_ERR_BUSY)
    qs_steer_unpin_all(name);
  qs_steer_unlock(lock);
  return rv;
}

uint16_t qs_steer_generation(const struct qs_steer *s) { return s->generation; }

int qs_steer_gens(const struct qs_steer *s, struct qs_gen_owner gens[QS_GEN_SLOTS],
                  uint8_t alive[QS_GEN_SLOTS]) {
  if (qs_steer_read_gens(map_fd(s->skel->maps.qs_gens), gens) != 0)
    return QS_ERR_SYS;
  for (uint32_t i = 0; i < QS_GEN_SLOTS; i++)
    alive[i] = (uint8_t)qs_gen_owner_alive(&gens[i]);
  return 0;
}

int qs_steer_prog_fd(const struct qs_steer *s) { return bpf_program__fd(s->skel->progs.qs_steer); }

int qs_steer_global(const struct qs_steer *s, struct qs_global *out) {
  uint32_t zero = 0;
  return bpf_map_lookup_elem(map_fd(s->skel->maps.qs_global), &zero, out) == 0 ? 0 : QS_ERR_SYS;
}

static int group_from_fd(int fd, struct qs_group *gr) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int type;
  socklen_t tlen = sizeof type;

  memset(gr, 0, sizeof *gr);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM)
    return QS_ERR_INVAL;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return QS_ERR_SYS;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
    gr->family = AF_INET;
    gr->port = ntohs(sin->sin_port);
    gr->addr[0] = sin->sin_addr.s_addr;
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
    gr->family = AF_INET6;
    gr->port = ntohs(sin6->sin6_port);
    memcpy(gr->addr, &sin6->sin6_addr, 16);
  } else {
    return QS_ERR_INVAL;
  }
  return 0;
}

/* Precompute the one group of each address family, if it has only one. */
static void set_family_groups(struct qs_global *g) {
  uint32_t i, n4 = 0, n6 = 0;
  g->group_v4 = g->group_v6 = QS_GROUP_SEARCH;
  for (i = 0; i < g->ngroups && i < QS_MAX_GROUPS; i++) {
    if (g->groups[i].family == AF_INET && n4++ == 0)
      g->group_v4 = i;
    if (g->groups[i].family == AF_INET6 && n6++ == 0)
      g->group_v6 = i;
  }
  if (n4 > 1)
    g->group_v4 = QS_GROUP_SEARCH;
  if (n6 > 1)
    g->group_v6 = QS_GROUP_SEARCH;
}

int qs_steer_add_group(struct qs_steer *s, int fd) {
  struct qs_global g;
  struct qs_group gr;
  uint32_t zero = 0, i;
  int rv, prog = qs_steer_prog_fd(s), lock;

  if ((rv = group_from_fd(fd, &gr)) != 0)
    return rv;
  lock = qs_steer_lock(s->name);
  if (lock < 0)
    return QS_ERR_SYS;
  if ((rv = qs_steer_global(s, &g)) != 0)
    goto out;
  for (i = 0; i < g.ngroups && i < QS_MAX_GROUPS; i++)
    if (memcmp(&g.groups[i], &gr, sizeof gr) == 0)
      break;
  if (i == g.ngroups) {
    if (g.ngroups >= QS_MAX_GROUPS) {
      rv = QS_ERR_INVAL;
      goto out;
    }
    g.groups[g.ngroups++] = gr;
    set_family_groups(&g);
    if (bpf_map_update_elem(map_fd(s->skel->maps.qs_global), &zero, &g, BPF_ANY) != 0) {
      rv = QS_ERR_SYS;
      goto out;
    }
  }
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof prog) != 0) {
    rv = QS_ERR_SYS;
    goto out;
  }
  rv = (int)i;
out:
  qs_steer_unlock(lock);
  return rv;
}

/* Void every cached CID decode (qs_cidcache): called after a change that can
 * make one wrong, with the instance lock held.  The program snapshots the
 * epoch before its lookups, so an entry it caches concurrently with the
 * change carries the old epoch and is ignored. */
static int bump_epoch(struct qs_steer *s) {
  struct qs_global g;
  uint32_t zero = 0;
  if (qs_steer_global(s, &g) != 0)
    return QS_ERR_SYS;
  g.epoch++;
  return bpf_map_update_elem(map_fd(s->skel->maps.qs_global), &zero, &g, BPF_ANY) == 0 ? 0 : QS_ERR_SYS;
}

static int write_config(struct qs_steer *s, uint32_t cr, const struct qs_lbconf *c) {
  struct qs_global g;
  uint32_t zero = 0;
  if (bpf_map_update_elem(map_fd(s->skel->maps.qs_lbconf), &cr, c, BPF_ANY) != 0 ||
      qs_steer_global(s, &g) != 0)
    return QS_ERR_SYS;
  /* the length the program checks first, and the epoch voiding cached
   * decodes, change in one update */
  g.cid_len[cr & 7] = c->valid ? (uint8_t)qs_lb_cid_len(&c->rc.p) : 0;
  g.epoch++;
  return bpf_map_update_elem(map_fd(s->skel->maps.qs_global), &zero, &g, BPF_ANY) == 0 ? 0 : QS_ERR_SYS;
}

int qs_steer_set_config(struct qs_steer *s, const struct qs_cidconf *cc) {
  struct qs_lbconf c;
  uint32_t cr = cc->rc.p.cr;
  int rv, lock;

  if (cr >= QS_LB_MAX_CONFIGS)
    return QS_ERR_INVAL;
  memset(&c, 0, sizeof c);
  c.valid = 1;
  c.generation = s->generation;
  c.rc = cc->rc;
  if (cc->lb.keyed) {
    memcpy(c.key, cc->lb.key, sizeof c.key);
    qs_aes128_expand(&c.rk, cc->lb.key);
  }
  if ((lock = qs_steer_lock(s->name)) < 0)
    return QS_ERR_SYS;
  rv = write_config(s, cr, &c);
  if (rv == 0) {
    struct qs_gen_owner o;
    /* publish the codepoint in the owner record at once, so that no other
     * process picks it (qs_steer_free_cr) */
    s->cr_mask |= 1u << cr;
    if (read_owner(s, &o) == 0)
      rv = write_owner(s, o.state, o.mint_cr);
  }
  qs_steer_unlock(lock);
  return rv;
}

int qs_steer_read_config(const struct qs_steer *s, uint8_t cr, struct qs_lbconf *out) {
  uint32_t k = cr;
  if (cr >= QS_LB_MAX_CONFIGS)
    return QS_ERR_INVAL;
  return bpf_map_lookup_elem(map_fd(s->skel->maps.qs_lbconf), &k, out) == 0 ? 0 : QS_ERR_SYS;
}

int qs_steer_free_cr(struct qs_steer *s) { return qs_steer_free_cr_in(s, 0x7f); }

int qs_steer_free_cr_in(struct qs_steer *s, uint32_t allowed) {
  struct qs_gen_owner gens[QS_GEN_SLOTS];
  uint32_t used = s->cr_mask | ~allowed, i;
  int lock, rv = QS_ERR_BUSY;

  if ((lock = qs_steer_lock(s->name)) < 0)
    return QS_ERR_SYS;
  if (qs_steer_read_gens(map_fd(s->skel->maps.qs_gens), gens) == 0) {
    for (i = 0; i < QS_GEN_SLOTS; i++)
      if (gens[i].generation != s->generation && qs_gen_owner_alive(&gens[i]))
        used |= gens[i].cr_mask;
    for (i = 0; i < QS_LB_MAX_CONFIGS; i++)
      if (!(used & (1u << i))) {
        rv = (int)i;
        break;
      }
  } else {
    rv = QS_ERR_SYS;
  }
  qs_steer_unlock(lock);
  return rv;
}

int qs_steer_set_mint(struct qs_steer *s, uint8_t cr) {
  struct qs_gen_owner o;
  int rv, lock;
  if (cr >= QS_LB_MAX_CONFIGS)
    return QS_ERR_INVAL;
  if ((lock = qs_steer_lock(s->name)) < 0)
    return QS_ERR_SYS;
  rv = read_owner(s, &o);
  if (rv == 0)
    rv = write_owner(s, o.state, cr);
  qs_steer_unlock(lock);
  return rv;
}

static int clear_config(struct qs_steer *s, uint8_t cr) {
  struct qs_lbconf c;
  memset(&c, 0, sizeof c);
  s->cr_mask &= ~(1u << cr);
  return write_config(s, cr, &c);
}

int qs_steer_clear_config(struct qs_steer *s, uint8_t cr) {
  int rv, lock;
  if (cr >= QS_LB_MAX_CONFIGS)
    return QS_ERR_INVAL;
  if ((lock = qs_steer_lock(s->name)) < 0)
    return QS_ERR_SYS;
  rv = clear_config(s, cr);
  qs_steer_unlock(lock);
  return rv;
}

int qs_steer_register(struct qs_steer *s, uint16_t worker, uint32_t group, int fd) {
  uint32_t rk = qs_rk_make(s->generation, worker);
  uint32_t base = qs_slot_base(s->generation, worker), slot = base + group;
  uint32_t idx = qs_worker_index(rk);
  struct qs_worker_ent w = {.rk = rk, .base = base, .live = 1};
  uint64_t v = (uint64_t)fd;

  if (worker >= QS_MAX_WORKERS || group >= QS_MAX_GROUPS || fd < 0)
    return QS_ERR_INVAL;
  if (bpf_map_update_elem(map_fd(s->skel->maps.qs_socks), &slot, &v, BPF_ANY) != 0)
    return QS_ERR_SYS;
  if (bpf_map_update_elem(map_fd(s->skel->maps.qs_workers), &idx, &w, BPF_ANY) != 0)
    return QS_ERR_SYS;
  s->registered[worker] = 1;
  return 0;
}

static int unregister(struct qs_steer *s, uint16_t worker) {
  uint32_t rk = qs_rk_make(s->generation, worker), base, g, slot, idx = qs_worker_index(rk);
  struct qs_worker_ent none = {0};
  base = qs_slot_base(s->generation, worker);
  bpf_map_update_elem(map_fd(s->skel->maps.qs_workers), &idx, &none, BPF_ANY);
  for (g = 0; g < QS_MAX_GROUPS; g++) {
    slot = base + g;
    bpf_map_delete_elem(map_fd(s->skel->maps.qs_socks), &slot);
  }
  s->registered[worker] = 0;
  return bump_epoch(s);
}

int qs_steer_unregister(struct qs_steer *s, uint16_t worker) {
  int rv, lock;
  if (worker >= QS_MAX_WORKERS)
    return QS_ERR_INVAL;
  if ((lock = qs_steer_lock(s->name)) < 0)
    return QS_ERR_SYS;
  rv = unregister(s, worker);
  qs_steer_unlock(lock);
  return rv;
}

/* Fill the inactive new-connection set, then flip the selector: the
 * program reads either the old set or the new one, never a mix. */
static int publish_newset(struct qs_steer *s, uint32_t n) {
  struct qs_newset *set;
  uint32_t zero = 0, active = 0, next, i;
  int rv = 0;

  set = calloc(1, sizeof *set);
  if (!set)
    return QS_ERR_NOMEM;
  set->count = n;
  set->generation = s->generation;
  for (i = 0; i < n; i++)
    set->base[i] = qs_slot_base(s->generation, (uint16_t)i);
  bpf_map_lookup_elem(map_fd(s->skel->maps.qs_active), &zero, &active);
  next = (active & 1) ^ 1;
  if (bpf_map_update_elem(map_fd(s->skel->maps.qs_newset), &next, set, BPF_ANY) != 0 ||
      bpf_map_update_elem(map_fd(s->skel->maps.qs_active), &zero, &next, BPF_ANY) != 0)
    rv = QS_ERR_SYS;
  free(set);
  return rv;
}

int qs_steer_serve(struct qs_steer *s, uint32_t nworkers, uint8_t mint_cr) {
  struct qs_gen_owner gens[QS_GEN_SLOTS];
  struct qs_global g;
  uint32_t zero = 0, i;
  int rv, lock, gfd = map_fd(s->skel->maps.qs_gens);

  if (nworkers == 0 || nworkers > QS_MAX_WORKERS || mint_cr >= QS_LB_MAX_CONFIGS)
    return QS_ERR_INVAL;
  lock = qs_steer_lock(s->name);
  if (lock < 0)
    return QS_ERR_SYS;
  rv = qs_steer_global(s, &g);
  if (rv == 0) {
    struct qs_lbconf c;
    uint32_t cr = mint_cr;
    if (bpf_map_lookup_elem(map_fd(s->skel->maps.qs_lbconf), &cr, &c) == 0 && c.valid)
      g.short_cid_len = qs_lb_cid_len(&c.rc.p);
    if (bpf_map_update_elem(map_fd(s->skel->maps.qs_global), &zero, &g, BPF_ANY) != 0)
      rv = QS_ERR_SYS;
  }
  if (rv == 0)
    rv = publish_newset(s, nworkers);
  s->nworkers = nworkers;
  if (rv == 0)
    rv = write_owner(s, QS_GEN_SERVING, mint_cr);
  if (rv == 0 && qs_steer_read_gens(gfd, gens) == 0) {
    for (i = 0; i < QS_GEN_SLOTS; i++) {
      if (gens[i].generation == s->generation || gens[i].state != QS_GEN_SERVING)
        continue;
      gens[i].state = QS_GEN_DRAINING;
      bpf_map_update_elem(gfd, &i, &gens[i], BPF_ANY);
    }
  }
  qs_steer_unlock(lock);
  return rv;
}

int qs_steer_drain(struct qs_steer *s) {
  struct qs_gen_owner o;
  int rv, lock = qs_steer_lock(s->name);
  if (lock < 0)
    return QS_ERR_SYS;
  rv = read_owner(s, &o);
  if (rv == 0)
    rv = write_owner(s, QS_GEN_DRAINING, o.mint_cr);
  qs_steer_unlock(lock);
  return rv;
}

int qs_steer_read_counters(const struct qs_steer *s, uint64_t out[QS_CTR_MAX]) {
  uint32_t i;
  int rv;
  for (i = 0; i < QS_CTR_MAX; i++)
    if ((rv = qs_steer_sum_percpu(map_fd(s->skel->maps.qs_counters), i, &out[i])) != 0)
      return rv;
  qs_ctr_sum_rx(out);
  return 0;
}

int qs_steer_sock_rx(const struct qs_steer *s, uint32_t slot, uint64_t *out) {
  return qs_steer_sum_percpu(map_fd(s->skel->maps.qs_sock_rx), slot, out);
}

void qs_steer_close(struct qs_steer *s) {
  struct qs_gen_owner gens[QS_GEN_SLOTS];
  uint32_t zero = 0, active = 0, i, other_crs = 0;
  struct qs_newset set;
  int lock, others = 0;
  uint16_t w;

  if (!s)
    return;
  lock = qs_steer_lock(s->name);
  for (w = 0; w < QS_MAX_WORKERS; w++)
    if (s->registered[w])
      unregister(s, w);
  write_owner(s, QS_GEN_FREE, 0);
  if (qs_steer_read_gens(map_fd(s->skel->maps.qs_gens), gens) == 0)
    for (i = 0; i < QS_GEN_SLOTS; i++)
      if (qs_gen_owner_alive(&gens[i])) {
        others++;
        other_crs |= gens[i].cr_mask;
      }
  /* configurations only this generation used go with it */
  for (i = 0; i < QS_LB_MAX_CONFIGS; i++)
    if ((s->cr_mask & (1u << i)) && !(other_crs & (1u << i)))
      clear_config(s, (uint8_t)i);
  /* if we still took new connections, nobody does now: the kernel decides */
  bpf_map_lookup_elem(map_fd(s->skel->maps.qs_active), &zero, &active);
  active &= 1;
  if (bpf_map_lookup_elem(map_fd(s->skel->maps.qs_newset), &active, &set) == 0 &&
      set.generation == s->generation) {
    memset(&set, 0, sizeof set);
    bpf_map_update_elem(map_fd(s->skel->maps.qs_newset), &active, &set, BPF_ANY);
  }
  if (others == 0) {
    char run[PATH_MAX];
    if (s->pin_dirfd >= 0)
      qs_steer_unpin_at(s->pin_dirfd);
    qs_steer_unpin_all(s->name); /* and the directory, if we may */
    /* last one out also removes the lock; a racing starter merely locks an
     * unlinked file, then finds no live instance and starts fresh anyway */
    qs_steer_run_dir(run, sizeof run, s->name);
    strncat(run, "/lock", sizeof run - strlen(run) - 1);
    unlink(run);
    *strrchr(run, '/') = 0;
    rmdir(run);
  }
  qs_steer_unlock(lock);
  steer__destroy(s->skel);
  if (s->pin_dirfd >= 0)
    close(s->pin_dirfd);
  free(s);
}

const char *qs_ctr_name(int c) {
  static const char *const names[QS_CTR_MAX] = {
      [QS_CTR_RX] = "rx",
      [QS_CTR_INITIAL_HASH] = "initial_hash",
      [QS_CTR_CID_ROUTED] = "cid_routed",
      [QS_CTR_FB_UNROUTABLE] = "fallback_unroutable",
      [QS_CTR_FB_NO_CONFIG] = "fallback_no_config",
      [QS_CTR_FB_CIDLEN] = "fallback_cid_length",
      [QS_CTR_FB_FOREIGN_HOST] = "fallback_foreign_host",
      [QS_CTR_FB_UNKNOWN_WORKER] = "fallback_unknown_worker",
      [QS_CTR_FB_SOCKET_GONE] = "fallback_socket_gone",
      [QS_CTR_FB_VERSION] = "fallback_version",
      [QS_CTR_FB_KERNEL] = "fallback_kernel",
      [QS_CTR_DROP_EMPTY] = "drop_empty",
      [QS_CTR_DROP_TRUNCATED] = "drop_truncated",
      [QS_CTR_DROP_CIDLEN] = "drop_cid_length",
      [QS_CTR_DROP_SHORT] = "drop_short",
      [QS_CTR_INITIAL_REUSED] = "initial_reused_cid",
  };
  if (c < 0 || c >= QS_CTR_MAX)
    return "unknown";
  return names[c];
}

int qs_steer_state(const struct qs_steer *s) {
  struct qs_gen_owner o;
  uint32_t slot = s->generation % QS_GEN_SLOTS;
  if (bpf_map_lookup_elem(map_fd(s->skel->maps.qs_gens), &slot, &o) != 0)
    return QS_ERR_SYS;
  if (o.generation != s->generation || o.pid != (uint32_t)getpid())
    return QS_GEN_FREE;
  return (int)o.state;
}
