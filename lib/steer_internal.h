/* steer_internal.h: helpers shared by steer.c, steer_pin.c and
 * steer_view.c; not installed. */
#ifndef QUICSTEER_STEER_INTERNAL_H
#define QUICSTEER_STEER_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "quicsteer/steer.h"
#include "quicsteer/wstats.h"

#define QS_STEER_NAME_MAX 64

int qs_steer_name_ok(const char *name);
void qs_steer_pin_dir(char *out, size_t len, const char *name);
void qs_steer_run_dir(char *out, size_t len, const char *name);
int qs_steer_mount_bpffs(char *why, size_t whylen);
int qs_steer_make_dirs(const char *name, char *why, size_t whylen);
int qs_steer_lock(const char *name);
void qs_steer_unlock(int fd);
/* bpf_obj_get of /sys/fs/bpf/quicsteer/NAME/OBJ; -1 with errno on failure */
int qs_steer_pin_get(const char *name, const char *obj);
void qs_steer_unpin_all(const char *name);
/* unlink every pin in the directory open as |dirfd| (needs no search
 * permission on its parents: works after --user dropped root) */
void qs_steer_unpin_at(int dirfd);
uint64_t qs_proc_starttime(uint32_t pid);
int qs_gen_owner_alive(const struct qs_gen_owner *o);
int qs_steer_read_gens(int gens_fd, struct qs_gen_owner gens[QS_GEN_SLOTS]);
int qs_steer_sum_percpu(int fd, uint32_t key, uint64_t *sum);

#endif
