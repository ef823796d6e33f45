/* trust.h: who may talk to this server, and whom it runs as.
 *
 * Every accepted control and relay connection is checked with
 * qs_peer_trusted (include/quicsteer/control.h): root or the server's own
 * uid.  Anyone else is refused before a byte is read, counted
 * (peers_refused in the stats file, `quicsteer stat`, Prometheus) and
 * logged, at most once a second.
 *
 * --user NAME: the main thread does everything that needs root first
 * (certificate and key, BPF load/attach/pins, sockets, stats file), then
 * qs_trust_drop switches the whole process (glibc applies setuid to every
 * thread) to NAME before the workers start.  No capability is kept: what
 * the running server still changes in the kernel (BPF maps on key rotation
 * and exit) goes through map fds opened while it was root, which need none.
 */
#ifndef QS_SERVER_TRUST_H
#define QS_SERVER_TRUST_H

#include <stddef.h>
#include <sys/types.h>

struct qs_server;

/* qs_trust_peer checks the accepted AF_UNIX socket |fd| (the control
 * socket's when |worker| is QS_LOG_MAIN, else worker |worker|'s relay
 * socket).  Returns 1 if the peer is trusted; 0 if it was refused (counted,
 * logged: the caller closes |fd| without reading). */
int qs_trust_peer(struct qs_server *srv, int fd, int worker, const char *what);

/* qs_trust_user looks up user |name|.  Returns 0, or -1 with |err| set. */
int qs_trust_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/* qs_trust_drop makes every thread of the process run as |uid|:|gid| with
 * no supplementary groups and no capabilities, and checks that root cannot
 * be regained.  Returns 0, or -1 with |err| set (the caller must exit). */
int qs_trust_drop(uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
