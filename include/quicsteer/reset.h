/* reset.h: keys derived from the server's static secret.
 *
 * Stateless reset tokens (RFC 9000 s10.3) are a function of the CID and a
 * static secret, computed with HKDF-SHA256 (nettle), so that any worker of
 * any generation sharing the secret can answer for any CID, and no table of
 * tokens is kept.  The same extract step yields the other per-purpose keys
 * (Retry/NEW_TOKEN token key, CID keys), each under its own label.
 */
#ifndef QUICSTEER_RESET_H
#define QUICSTEER_RESET_H

#include <stddef.h>
#include <stdint.h>

#include "quicsteer/errors.h"

#define QS_RESET_TOKEN_LEN 16
#define QS_SECRET_MIN_LEN 16
#define QS_SECRET_CREATE_LEN 32

#ifdef __cplusplus
extern "C" {
#endif

struct qs_secret {
  uint8_t prk[32]; /* HKDF-Extract(salt = "quicsteer v1", secret) */
};

/* qs_secret_init extracts a pseudorandom key from the |len|-octet |secret|.
 * Returns 0 or QS_ERR_INVAL if |len| < QS_SECRET_MIN_LEN. */
int qs_secret_init(struct qs_secret *s, const uint8_t *secret, size_t len);

/* qs_secret_random initialises |s| from 32 octets of the CSPRNG (a server
 * started without --secret-file).  Returns 0 or QS_ERR_CRYPTO. */
int qs_secret_random(struct qs_secret *s);

/* qs_secret_derive writes |outlen| (1..255*32) octets of HKDF-Expand(prk,
 * label || 0x00 || ctx) to |out| (the NUL keeps labels prefix-free).
 * Returns 0 or QS_ERR_INVAL (|outlen| out of range, |label| longer than 64
 * or |ctxlen| longer than 255 octets). */
int qs_secret_derive(const struct qs_secret *s, const char *label, const uint8_t *ctx,
                     size_t ctxlen, uint8_t *out, size_t outlen);

/* qs_reset_token writes the stateless reset token for the |cidlen|-octet
 * |cid|: qs_secret_derive(s, "stateless reset", cid, 16 octets). */
void qs_reset_token(const struct qs_secret *s, const uint8_t *cid, size_t cidlen,
                    uint8_t token[QS_RESET_TOKEN_LEN]);

/* qs_secret_load reads a secret file (raw octets, or hex text; at least
 * QS_SECRET_MIN_LEN octets) into |s|.  Returns 0, QS_ERR_SYS (errno set) or
 * QS_ERR_INVAL (too short). */
int qs_secret_load(struct qs_secret *s, const char *path);

/* qs_secret_load_or_create loads the secret file |path|, first creating it
 * with QS_SECRET_CREATE_LEN octets from the CSPRNG, mode 0600, if it does
 * not exist.  Creation is atomic (written to a private temporary file,
 * then linked into place: link fails if the name exists), so processes
 * starting together all end up with the same secret.  An existing file
 * must belong to the effective user and be closed to group and others.
 * Returns 0, QS_ERR_SYS (errno set; EPERM: wrong owner or mode),
 * QS_ERR_INVAL (too short) or QS_ERR_CRYPTO. */
int qs_secret_load_or_create(struct qs_secret *s, const char *path);

void qs_secret_wipe(struct qs_secret *s);

#ifdef __cplusplus
}
#endif

#endif
