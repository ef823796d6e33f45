/* steer_view.c: a read-only view of a running instance's pinned steering
 * state, for the operator CLI.  Opens maps by pin; loads nothing. */
#include "steer_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

struct qs_steer_view {
  int counters, sock_rx, gens, workers, lbconf, global;
};

int qs_steer_view_open(struct qs_steer_view **pv, const char *name) {
  struct qs_steer_view *v;
  *pv = NULL;
  if (!qs_steer_name_ok(name))
    return QS_ERR_INVAL;
  v = calloc(1, sizeof *v);
  if (!v)
    return QS_ERR_NOMEM;
  v->counters = v->sock_rx = v->gens = v->workers = v->lbconf = v->global = -1;
  v->counters = qs_steer_pin_get(name, "qs_counters");
  v->sock_rx = qs_steer_pin_get(name, "qs_sock_rx");
  v->gens = qs_steer_pin_get(name, "qs_gens");
  v->workers = qs_steer_pin_get(name, "qs_workers");
  v->lbconf = qs_steer_pin_get(name, "qs_lbconf");
  v->global = qs_steer_pin_get(name, "qs_global");
  if (v->counters < 0 || v->sock_rx < 0 || v->gens < 0 || v->workers < 0 || v->lbconf < 0 ||
      v->global < 0) {
    int err = errno;
    qs_steer_view_close(v);
    return err == ENOENT ? QS_ERR_NOTFOUND : QS_ERR_SYS;
  }
  *pv = v;
  return 0;
}

int qs_steer_view_counters(const struct qs_steer_view *v, uint64_t out[QS_CTR_MAX]) {
  uint32_t i;
  int rv;
  for (i = 0; i < QS_CTR_MAX; i++)
    if ((rv = qs_steer_sum_percpu(v->counters, i, &out[i])) != 0)
      return rv;
  qs_ctr_sum_rx(out);
  return 0;
}

int qs_steer_view_sock_rx(const struct qs_steer_view *v, uint32_t slot, uint64_t *out) {
  return qs_steer_sum_percpu(v->sock_rx, slot, out);
}

int qs_steer_view_gens(const struct qs_steer_view *v, struct qs_gen_owner gens[QS_GEN_SLOTS],
                       uint8_t alive[QS_GEN_SLOTS]) {
  uint32_t i;
  int rv = qs_steer_read_gens(v->gens, gens);
  if (rv != 0)
    return rv;
  for (i = 0; i < QS_GEN_SLOTS; i++)
    alive[i] = (uint8_t)qs_gen_owner_alive(&gens[i]);
  return 0;
}

int qs_steer_view_has_worker(const struct qs_steer_view *v, uint32_t rk) {
  struct qs_worker_ent w;
  uint32_t idx = qs_worker_index(rk);
  if (bpf_map_lookup_elem(v->workers, &idx, &w) != 0)
    return QS_ERR_SYS;
  return w.live && w.rk == rk;
}

int qs_steer_view_lbconf(const struct qs_steer_view *v, uint8_t cr, struct qs_lbconf *out) {
  uint32_t k = cr;
  return bpf_map_lookup_elem(v->lbconf, &k, out) == 0 ? 0 : QS_ERR_SYS;
}

int qs_steer_view_global(const struct qs_steer_view *v, struct qs_global *out) {
  uint32_t zero = 0;
  return bpf_map_lookup_elem(v->global, &zero, out) == 0 ? 0 : QS_ERR_SYS;
}

void qs_steer_view_close(struct qs_steer_view *v) {
  if (!v)
    return;
  if (v->counters >= 0)
    close(v->counters);
  if (v->sock_rx >= 0)
    close(v->sock_rx);
  if (v->gens >= 0)
    close(v->gens);
  if (v->workers >= 0)
    close(v->workers);
  if (v->lbconf >= 0)
    close(v->lbconf);
  if (v->global >= 0)
    close(v->global);
  free(v);
}
