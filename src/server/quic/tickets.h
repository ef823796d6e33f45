/* tickets.h: TLS session tickets that any worker of any generation of an
 * instance can decrypt, for QUIC and TCP (TLS over TCP) alike.
 *
 * Keys.  The instance has one master secret: the --secret-file secret when
 * given (then every process sharing that file, on any host, shares
 * tickets), else /run/quicsteer/NAME/ticket.key, 32 random octets created
 * once, atomically, mode 0600, read by every later generation and gone at
 * reboot (the same secret keys the address tokens, token.h).  The 64-octet
 * key handed to GnuTLS is
 *   HKDF(master, "session ticket", context)
 * where the caller's |context| names what a resumed session relies on (the
 * server's 0-RTT limits): a process with other limits derives another key,
 * so a ticket can never carry 0-RTT into limits it was not issued under.
 *
 * Rotation.  GnuTLS derives the key that actually encrypts tickets from
 * this one and the wall clock: key(P) = SHA3-512(P || key) for the period
 * P = floor(unix time / (3 * lifetime)), encrypting under the current
 * period's key and decrypting under the current or the previous one.
 * Every process holding the same key rotates in step without talking to
 * the others, and a ticket, valid for |lifetime|, is always within the two
 * accepted periods.  Nothing here needs a timer.
 */
#ifndef QS_SERVER_TICKETS_H
#define QS_SERVER_TICKETS_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "quicsteer/reset.h"

#define QS_TICKET_KEY_LEN 64 /* GnuTLS's session ticket key */
#define QS_TICKET_LIFETIME_MAX 604800 /* s: RFC 8446 s4.6.1 */
#define QS_TICKET_FILE "ticket.key"

struct qs_tickets {
  uint8_t key[QS_TICKET_KEY_LEN];
  unsigned lifetime_s;
};

/* qs_instance_master loads the instance file of |name| into |m| (creating
 * it if missing): the master secret of an instance started without
 * --secret-file, which keys its session tickets and its Retry and NEW_TOKEN
 * tokens (token.h), so that every generation accepts them.  Returns 0, or
 * -1 with one sentence in |err|. */
int qs_instance_master(struct qs_secret *m, const char *name, char *err, size_t errlen);

/* qs_tickets_init derives the ticket key from the instance's master secret
 * |master| (the --secret-file secret, or qs_instance_master's).  |ctx| (at
 * most 255 octets) is the context above.  Returns 0, or -1 with one
 * sentence in |err|. */
int qs_tickets_init(struct qs_tickets *t, const struct qs_secret *master, const uint8_t *ctx,
                    size_t ctxlen, unsigned lifetime_s, char *err, size_t errlen);

/* qs_tickets_configure makes server session |s| issue and accept tickets
 * under |t|'s key and lifetime.  Safe from any thread.  Returns 0 or a
 * GnuTLS error code. */
int qs_tickets_configure(const struct qs_tickets *t, gnutls_session_t s);

/* qs_tickets_release removes the instance file of |name| when no
 * generation is left (no gen-G.stats file, proc/stats.h): a stopped
 * instance leaves no key behind, and its next start issues new tickets.
 * Called by a process on its way out, after closing its stats. */
void qs_tickets_release(const char *name);

void qs_tickets_free(struct qs_tickets *t);

#endif
