/* trust.c: see trust.h. */
#include "trust.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "quicsteer/control.h"

#define QS_REFUSED_LOG_NS 1000000000ull /* at most one line a second */

int qs_trust_peer(struct qs_server *srv, int fd, int worker, const char *what) {
  static uint64_t last_log, quiet;
  struct qs_wstats *rec = &srv->stats.w[worker < 0 ? 0 : worker];
  uid_t uid = (uid_t)-1;
  int ok = qs_peer_trusted(fd, &uid);
  uint64_t now, prev;

  if (ok == 1)
    return 1;
  /* the control socket (main thread) and worker 0 share a record */
  __atomic_fetch_add(&rec->peers_refused, 1, __ATOMIC_RELAXED);
  now = qs_now();
  prev = __atomic_load_n(&last_log, __ATOMIC_RELAXED);
  if (now - prev < QS_REFUSED_LOG_NS ||
      !__atomic_compare_exchange_n(&last_log, &prev, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    __atomic_fetch_add(&quiet, 1, __ATOMIC_RELAXED);
    return 0;
  }
  prev = __atomic_exchange_n(&quiet, 0, __ATOMIC_RELAXED);
  if (ok == 0)
    QS_WARN(worker, "refused a %s connection from uid %ld (only root and uid %ld may connect)%s",
            what, (long)uid, (long)geteuid(), prev ? "; more refusals not logged" : "");
  else
    QS_WARN(worker, "refused a %s connection: cannot read its credentials: %s", what,
            strerror(errno));
  return 0;
}

int qs_trust_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen) {
  struct passwd pw, *res = NULL;
  char buf[4096];
  int rv = getpwnam_r(name, &pw, buf, sizeof buf, &res);
  if (rv != 0 || !res) {
    snprintf(err, errlen, "--user %s: %s", name, rv ? strerror(rv) : "no such user");
    return -1;
  }
  if (pw.pw_uid == 0) {
    snprintf(err, errlen, "--user %s: that is root; name an unprivileged user", name);
    return -1;
  }
  *uid = pw.pw_uid;
  *gid = pw.pw_gid;
  return 0;
}

int qs_trust_drop(uid_t uid, gid_t gid, char *err, size_t errlen) {
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  uid_t r, e, s;

  if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
    snprintf(err, errlen, "cannot switch to uid %ld gid %ld: %s", (long)uid, (long)gid,
             strerror(errno));
    return -1;
  }
  /* leaving uid 0 for good clears every capability; check it did */
  memset(data, 0, sizeof data);
  if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid || setuid(0) == 0 ||
      syscall(SYS_capget, &hdr, data) != 0 || data[0].effective || data[0].permitted ||
      data[1].effective || data[1].permitted) {
    snprintf(err, errlen, "privileges were not fully dropped (uid %ld)", (long)uid);
    return -1;
  }
  return 0;
}
