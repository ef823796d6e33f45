/* steer_pin.c: the pinned side of an instance's steering state: bpffs,
 * the per-instance directories, the instance lock, reading maps by pin, and
 * telling live owners from the leftovers of dead ones.  Shared by the loader
 * (steer.c) and the read-only view the CLI uses (steer_view.c).
 */
#include "steer_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

int qs_steer_name_ok(const char *name) {
  size_t i, n = name ? strlen(name) : 0;
  if (n == 0 || n > QS_STEER_NAME_MAX || name[0] == '.')
    return 0;
  for (i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

void qs_steer_pin_dir(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", QS_PIN_ROOT, name);
}

void qs_steer_run_dir(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", QS_WSTATS_DIR, name);
}

static int mkdir_p(const char *path, mode_t mode) {
  char tmp[PATH_MAX];
  char *p;
  snprintf(tmp, sizeof tmp, "%s", path);
  for (p = tmp + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = 0;
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
      return -1;
    *p = '/';
  }
  if (mkdir(tmp, mode) != 0 && errno != EEXIST)
    return -1;
  return 0;
}

int qs_steer_mount_bpffs(char *why, size_t whylen) {
  struct statfs st;
  if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
    return 0;
  if (mkdir_p("/sys/fs/bpf", 0700) != 0 || mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) {
    snprintf(why, whylen, "cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
    return QS_ERR_NOBPF;
  }
  return 0;
}

int qs_steer_make_dirs(const char *name, char *why, size_t whylen) {
  char path[PATH_MAX];
  qs_steer_pin_dir(path, sizeof path, name);
  if (mkdir_p(path, 0700) != 0) {
    snprintf(why, whylen, "cannot create %s: %s", path, strerror(errno));
    return errno == EPERM || errno == EACCES ? QS_ERR_NOBPF : QS_ERR_SYS;
  }
  qs_steer_run_dir(path, sizeof path, name);
  if (mkdir_p(path, 0755) != 0) {
    snprintf(why, whylen, "cannot create %s: %s", path, strerror(errno));
    return QS_ERR_SYS;
  }
  return 0;
}

int qs_steer_share(const char *name, gid_t gid) {
  static const struct {
    int pin;
    const char *leaf;
    mode_t mode;
  } paths[] = {{1, "", 0770}, {0, "", 0775}, {0, "/lock", 0660}};
  char path[PATH_MAX];
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    if (paths[i].pin)
      qs_steer_pin_dir(path, sizeof path, name);
    else
      qs_steer_run_dir(path, sizeof path, name);
    strncat(path, paths[i].leaf, sizeof path - strlen(path) - 1);
    if (access(path, F_OK) != 0)
      continue; /* not used in this mode */
    if (chown(path, 0, gid) != 0 || chmod(path, paths[i].mode) != 0)
      return QS_ERR_SYS;
  }
  return 0;
}

int qs_steer_lock(const char *name) {
  char path[PATH_MAX];
  int fd;
  qs_steer_run_dir(path, sizeof path, name);
  strncat(path, "/lock", sizeof path - strlen(path) - 1);
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  if (flock(fd, LOCK_EX) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void qs_steer_unlock(int fd) {
  if (fd >= 0) {
    flock(fd, LOCK_UN);
    close(fd);
  }
}

int qs_steer_pin_get(const char *name, const char *obj) {
  char path[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/%s/%s", QS_PIN_ROOT, name, obj);
  if (n < 0 || (size_t)n >= sizeof path)
    return -1;
  return bpf_obj_get(path);
}

void qs_steer_unpin_at(int dirfd) {
  struct dirent *de;
  int fd = dup(dirfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0)
      close(fd);
    return;
  }
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.')
      unlinkat(dirfd, de->d_name, 0);
  closedir(d);
}

void qs_steer_unpin_all(const char *name) {
  char dir[PATH_MAX];
  int fd;
  qs_steer_pin_dir(dir, sizeof dir, name);
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return;
  qs_steer_unpin_at(fd);
  close(fd);
  rmdir(dir);
}

/* Field 22 of /proc/PID/stat (start time in clock ticks): a live pid with
 * another start time is a reused pid, not our owner. */
uint64_t qs_proc_starttime(uint32_t pid) {
  char path[64], buf[1024];
  unsigned long long v = 0;
  char *p;
  ssize_t n;
  int fd, field;

  snprintf(path, sizeof path, "/proc/%u/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = 0;
  p = strrchr(buf, ')'); /* the command name may contain spaces */
  if (!p)
    return 0;
  for (field = 2; *p && field < 22; p++)
    if (*p == ' ')
      field++;
  if (sscanf(p, "%llu", &v) != 1)
    return 0;
  return v;
}

int qs_gen_owner_alive(const struct qs_gen_owner *o) {
  if (o->state == QS_GEN_FREE || o->pid == 0)
    return 0;
  if (kill((pid_t)o->pid, 0) != 0 && errno == ESRCH)
    return 0;
  return qs_proc_starttime(o->pid) == o->starttime;
}

int qs_steer_read_gens(int gens_fd, struct qs_gen_owner gens[QS_GEN_SLOTS]) {
  uint32_t i;
  for (i = 0; i < QS_GEN_SLOTS; i++)
    if (bpf_map_lookup_elem(gens_fd, &i, &gens[i]) != 0)
      return QS_ERR_SYS;
  return 0;
}

int qs_steer_sum_percpu(int fd, uint32_t key, uint64_t *sum) {
  int ncpu = libbpf_num_possible_cpus(), i;
  uint64_t *vals;
  if (ncpu <= 0)
    return QS_ERR_SYS;
  vals = calloc((size_t)ncpu, sizeof *vals);
  if (!vals)
    return QS_ERR_NOMEM;
  if (bpf_map_lookup_elem(fd, &key, vals) != 0) {
    free(vals);
    return QS_ERR_SYS;
  }
  *sum = 0;
  for (i = 0; i < ncpu; i++)
    *sum += vals[i];
  free(vals);
  return 0;
}
