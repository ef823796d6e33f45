/* steer.h: the in-kernel steering state of one quicsteer instance.
 *
 * One instance (--name NAME) owns a BPF sk_reuseport program and its maps,
 * pinned under /sys/fs/bpf/quicsteer/NAME/ so that a successor process
 * (takeover) and the operator CLI can find them.  Each process that serves
 * the instance is one *generation*: it registers its workers' sockets under
 * routing keys (generation, worker) and, once ready, makes them the set that
 * takes new connections.  Older generations keep their registrations, so
 * their connections' CIDs still reach their sockets in the kernel.
 *
 * Typical use (server):
 *   qs_steer_open(&s, name, flags, why, sizeof why)  -> QS_ERR_NOBPF: user space only
 *   for each listen address: fd of worker 0 ... -> qs_steer_add_group(s, fd)
 *   qs_steer_set_config(s, &cidconf)                 (the key the kernel decodes with)
 *   for each worker w, group g: qs_steer_register(s, w, g, fd)
 *   qs_steer_serve(s, nworkers, cr)                  (one atomic switch)
 *   ... qs_steer_drain(s) when a successor took over ...
 *   qs_steer_close(s)
 */
#ifndef QUICSTEER_STEER_H
#define QUICSTEER_STEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "quicsteer/errors.h"
#include "quicsteer/lb.h"
#include "quicsteer/steer_abi.h"

#define QS_PIN_ROOT "/sys/fs/bpf/quicsteer"

#ifdef __cplusplus
extern "C" {
#endif

struct qs_steer;

enum qs_steer_flags {
  QS_STEER_TAKEOVER = 1u, /* join a live instance NAME as its next generation */
};

/* qs_steer_open loads the program and creates or joins the pinned state of
 * instance |name|.  Without QS_STEER_TAKEOVER a live instance of that name
 * is an error; pins left by a dead one are detected and replaced.  On
 * failure |why| holds one sentence for the operator.  Returns 0, or:
 *   QS_ERR_NOBPF     BPF cannot be used here (no CAP_BPF, no bpffs, ...):
 *                    run without kernel steering;
 *   QS_ERR_BUSY      a live instance |name| exists (use takeover);
 *   QS_ERR_NOTFOUND  takeover requested, but no live instance |name|;
 *   QS_ERR_ABI       the pinned state comes from an incompatible build;
 *   QS_ERR_INVAL     |name| is not [A-Za-z0-9_.-]{1,64};
 *   QS_ERR_SYS, QS_ERR_NOMEM. */
int qs_steer_open(struct qs_steer **ps, const char *name, unsigned flags, char *why,
                  size_t whylen);

/* The generation number this process serves as: newer than every live one
 * and than any handed out before (include/quicsteer/generation.h). */
uint16_t qs_steer_generation(const struct qs_steer *s);

/* qs_steer_gens reads the owner records through this process's own map fd
 * (it works after privileges are dropped); |alive| tells live owners from
 * stale records.  Returns 0 or QS_ERR_SYS. */
int qs_steer_gens(const struct qs_steer *s, struct qs_gen_owner gens[QS_GEN_SLOTS],
                  uint8_t alive[QS_GEN_SLOTS]);

/* qs_steer_share lets group |gid| (a --user server's) use instance |name|'s
 * directories after it drops root: the pin directory (0770, to unpin when
 * it is the last generation out), the run directory (0775: stats files)
 * and the lock (0660); all stay owned by root.  Works without BPF too (it
 * skips what does not exist).  Returns 0 or QS_ERR_SYS. */
int qs_steer_share(const char *name, gid_t gid);

/* qs_steer_add_group registers the local address of the bound UDP socket
 * |fd| as a listen group and attaches the program to its reuseport group
 * (replacing whatever program the group had).  Returns the group index
 * (0..QS_MAX_GROUPS-1; the same index again for an address already known),
 * QS_ERR_INVAL (too many groups, not a UDP socket) or QS_ERR_SYS. */
int qs_steer_add_group(struct qs_steer *s, int fd);

/* qs_steer_set_config installs |cc| (its cr bits, lengths, host ID, key) for
 * the kernel to decode.  Returns 0 or QS_ERR_SYS. */
int qs_steer_set_config(struct qs_steer *s, const struct qs_cidconf *cc);

/* qs_steer_clear_config removes configuration |cr|: its CIDs fall back to
 * the hash.  Returns 0, QS_ERR_INVAL or QS_ERR_SYS. */
int qs_steer_clear_config(struct qs_steer *s, uint8_t cr);

/* qs_steer_free_cr returns a config-rotation codepoint (0..6) that neither
 * this generation nor any other live one has installed, for a new
 * configuration (a successor's, or a key rotation).  Returns it,
 * QS_ERR_BUSY if all seven are in use, or QS_ERR_SYS. */
int qs_steer_free_cr(struct qs_steer *s);

/* qs_steer_free_cr_in is qs_steer_free_cr among the codepoints whose bit is
 * set in |allowed| (a fleet balancer such as Katran reads the top bits of
 * the first octet, so a host may be limited to some codepoints). */
int qs_steer_free_cr_in(struct qs_steer *s, uint32_t allowed);

/* qs_steer_read_config copies configuration |cr| of the instance (any
 * generation's; valid == 0 if none): with its raw key, it lets a process
 * decode the CIDs of every live generation.  Returns 0, QS_ERR_INVAL or
 * QS_ERR_SYS. */
int qs_steer_read_config(const struct qs_steer *s, uint8_t cr, struct qs_lbconf *out);

/* qs_steer_set_mint records that this generation now mints with |cr| (after
 * a key rotation).  Returns 0, QS_ERR_INVAL or QS_ERR_SYS. */
int qs_steer_set_mint(struct qs_steer *s, uint8_t cr);

/* qs_steer_register puts socket |fd| of worker |worker| (< QS_MAX_WORKERS)
 * into the group |group|'s slot and registers the routing key (this
 * generation, worker).  Returns 0, QS_ERR_INVAL or QS_ERR_SYS. */
int qs_steer_register(struct qs_steer *s, uint16_t worker, uint32_t group, int fd);

/* qs_steer_unregister drops worker |worker|'s routing key and sockets. */
int qs_steer_unregister(struct qs_steer *s, uint16_t worker);

/* qs_steer_serve makes workers 0..|nworkers|-1 of this generation the set
 * that takes new connections (one atomic switch), records |mint_cr| as the
 * configuration it mints with and marks any other live generation as
 * draining.  Returns 0, QS_ERR_INVAL or QS_ERR_SYS. */
int qs_steer_serve(struct qs_steer *s, uint32_t nworkers, uint8_t mint_cr);

/* qs_steer_drain records that this generation takes no new connections
 * (a successor has switched the set).  Its registrations stay. */
int qs_steer_drain(struct qs_steer *s);

/* qs_steer_read_counters sums the per-CPU decision counters. */
int qs_steer_read_counters(const struct qs_steer *s, uint64_t out[QS_CTR_MAX]);

/* qs_steer_close unregisters this generation (its routing keys, sockets and
 * owner record), and removes the pins if no other live generation remains.
 * The program stays attached to the sockets until they close. */
void qs_steer_close(struct qs_steer *s);

/* qs_steer_state returns this generation's state as recorded in the pinned
 * owner table (enum qs_gen_state): QS_GEN_DRAINING once a successor called
 * qs_steer_serve.  Negative QS_ERR_SYS on failure. */
int qs_steer_state(const struct qs_steer *s);

/* qs_steer_sock_rx sums the datagrams the program delivered to sockarray
 * slot |slot| (qs_slot_base(generation, worker) + group). */
int qs_steer_sock_rx(const struct qs_steer *s, uint32_t slot, uint64_t *out);

/* qs_steer_global copies the instance-wide settings (hash key, groups). */
int qs_steer_global(const struct qs_steer *s, struct qs_global *out);

/* The program's fd (benchmarks, tests). */
int qs_steer_prog_fd(const struct qs_steer *s);

/* ---- read-only view of a running instance (operator CLI) ---- */

struct qs_steer_view;

/* qs_steer_view_open opens the pinned maps of instance |name| without
 * loading anything.  Returns 0, QS_ERR_INVAL (bad name), QS_ERR_NOTFOUND (no
 * pinned state: not running, or running without kernel steering) or
 * QS_ERR_SYS. */
int qs_steer_view_open(struct qs_steer_view **pv, const char *name);
int qs_steer_view_counters(const struct qs_steer_view *v, uint64_t out[QS_CTR_MAX]);
int qs_steer_view_sock_rx(const struct qs_steer_view *v, uint32_t slot, uint64_t *out);
/* Owner records; |alive| tells live owners from stale records. */
int qs_steer_view_gens(const struct qs_steer_view *v, struct qs_gen_owner gens[QS_GEN_SLOTS],
                       uint8_t alive[QS_GEN_SLOTS]);
/* Whether routing key |rk| is registered (1), not (0), or QS_ERR_SYS. */
int qs_steer_view_has_worker(const struct qs_steer_view *v, uint32_t rk);
int qs_steer_view_lbconf(const struct qs_steer_view *v, uint8_t cr, struct qs_lbconf *out);
int qs_steer_view_global(const struct qs_steer_view *v, struct qs_global *out);
void qs_steer_view_close(struct qs_steer_view *v);

/* qs_ctr_name returns the stable snake_case name of counter |c| (as in
 * `quicsteer stat` and the Prometheus output). */
const char *qs_ctr_name(int c);

#ifdef __cplusplus
}
#endif

#endif
