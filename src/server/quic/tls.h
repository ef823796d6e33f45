/* tls.h: the server's TLS 1.3 credentials (GnuTLS) and per-connection
 * sessions wired to ngtcp2 through libngtcp2_crypto_gnutls (packet protection
 * keys derived by pkey.h).
 *
 * Credentials and the priority cache are loaded once and then only read,
 * which GnuTLS allows from any thread.
 */
#ifndef QS_SERVER_TLS_H
#define QS_SERVER_TLS_H

#include <stddef.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "replay.h"
#include "tickets.h"

struct qs_tls {
  gnutls_certificate_credentials_t cred;
  gnutls_priority_t prio;
};

/* qs_tls_init loads the PEM certificate chain |cert| and its private key
 * |key|.  On failure writes one sentence to |err| and returns -1 (a file
 * that cannot be read, a malformed file, or a key that does not match the
 * certificate). */
int qs_tls_init(struct qs_tls *t, const char *cert, const char *key, char *err, size_t errlen);
void qs_tls_free(struct qs_tls *t);

/* qs_tls_session_new makes a server session offering ALPN "h3" and
 * configured for QUIC; |ref| is how ngtcp2's crypto callbacks find the
 * connection.  With |tk| it issues and resumes session tickets
 * (tickets.h); with |rp| as well it accepts 0-RTT under that replay
 * record (replay.h).  Returns 0 or -1. */
int qs_tls_session_new(const struct qs_tls *t, const struct qs_tickets *tk, struct qs_replay *rp,
                       gnutls_session_t *ps, ngtcp2_crypto_conn_ref *ref);

/* qs_tls_send_ticket sends the client one new session ticket (once the
 * handshake is complete).  Returns 0 or a GnuTLS error code. */
int qs_tls_send_ticket(gnutls_session_t s);

/* qs_tls_hello_offers_early_data returns 1 if the ClientHello message body
 * |hello| carries the early_data extension (the client sends 0-RTT). */
int qs_tls_hello_offers_early_data(const gnutls_datum_t *hello);

/* qs_tls_alpn_is_h3 returns 1 if the handshake selected ALPN "h3". */
int qs_tls_alpn_is_h3(gnutls_session_t s);

/* qs_tls_tcp_session_new makes a server session for TLS over TCP (the TCP
 * front, tcp.h) under the same credentials: ALPN "h2" or "http/1.1" (none
 * means HTTP/1.1), session tickets under |tk| when not NULL.  The caller
 * sets the transport.  Returns 0 or -1. */
int qs_tls_tcp_session_new(const struct qs_tls *t, const struct qs_tickets *tk,
                           gnutls_session_t *ps);

/* qs_tls_alpn_is_h2 tells whether the TCP session negotiated "h2". */
int qs_tls_alpn_is_h2(gnutls_session_t s);

#endif
