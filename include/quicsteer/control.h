/* control.h: the control socket of a running server generation.
 *
 * Each generation listens on the abstract AF_UNIX SOCK_SEQPACKET address
 * "quicsteer/NAME/GENERATION/ctl".  Abstract names have no file mode, so
 * both ends check each other (qs_peer_trusted): the server answers only
 * root and its own uid (after --user, that user), refusing, logging and
 * counting anyone else without reading a byte; a client talks only to a
 * listener created by root or by its own uid, so a name squatted by another
 * user (say, a future generation's) is never trusted.  The relay sockets
 * (src/server/io/fwd.h) are checked the same way.
 * One request per connection, one text line each way:
 *   status               -> "ok generation=G workers=N state=serving|draining mint_cr=C"
 *   rotate-key           -> "ok generation=G cr=C"   (mint under a new key from now on)
 *   drain SUCC WORKERS   -> "ok"                      (a successor serves: drain and exit)
 * A failure is "error MESSAGE".
 */
#ifndef QUICSTEER_CONTROL_H
#define QUICSTEER_CONTROL_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define QS_CONTROL_MAX 256 /* longest request or reply */

/* qs_control_addr fills |sun| with the control address of generation |gen|
 * of instance |name| and returns its length. */
static inline socklen_t qs_control_addr(struct sockaddr_un *sun, const char *name, unsigned gen) {
  int n;
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  n = snprintf(sun->sun_path + 1, sizeof sun->sun_path - 1, "quicsteer/%s/%u/ctl", name, gen);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

#ifdef __cplusplus
extern "C" {
#endif

/* qs_peer_trusted tells whether the process at the other end of the
 * connected AF_UNIX socket |fd| belongs to this instance's trust domain:
 * root or our own effective uid.  For an accepted socket that is the
 * client; for a connecting one, whoever created the listener.  Returns 1,
 * 0 (another user: *uid holds it, if |uid| is not NULL) or QS_ERR_SYS. */
int qs_peer_trusted(int fd, uid_t *uid);

/* qs_control_call sends |req| to generation |gen| of instance |name| and
 * copies the reply line (NUL-terminated, without newline) into |reply|.
 * Waits at most |timeout_ms|.  Returns 0 (whatever the reply says),
 * QS_ERR_NOTFOUND (nobody listens there), QS_ERR_PERM (the listener
 * belongs to another user: nothing was sent) or QS_ERR_SYS (errno set). */
int qs_control_call(const char *name, unsigned gen, const char *req, char *reply, size_t len,
                    int timeout_ms);

/* qs_control_alive tells whether generation |gen| of instance |name| has a
 * trusted listener on its control socket: 1 or 0. */
int qs_control_alive(const char *name, unsigned gen);

#ifdef __cplusplus
}
#endif

#endif
