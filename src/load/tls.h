/* tls.h: the client's GnuTLS setup: credentials shared read-only by all
 * threads, a TLS 1.3-only priority (as QUIC needs), per-connection sessions.
 */
#ifndef QSL_TLS_H
#define QSL_TLS_H

#include <stddef.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "opts.h"

struct qsl_tls {
  gnutls_certificate_credentials_t cred;
  int verify;
  const char *sni;  /* NULL: the origin is an IP literal (no SNI for those) */
  const char *host; /* name or IP literal the certificate must match */
};

/* qsl_tls_init loads the trust anchors when verification is asked for.
 * Returns 0 or -1 with |err| filled. */
int qsl_tls_init(struct qsl_tls *t, const struct qsl_opts *o, char *err, size_t errlen);
void qsl_tls_free(struct qsl_tls *t);

/* qsl_tls_priority_init compiles the TLS 1.3-only priority string.  Each
 * thread keeps its own: sessions take a reference to it.  Returns 0 or -1. */
int qsl_tls_priority_init(gnutls_priority_t *prio);

/* qsl_tls_session_new makes a QUIC client session offering only ALPN h3
 * whose ngtcp2 hooks find the connection through |ref|.  Returns 0 or -1. */
int qsl_tls_session_new(const struct qsl_tls *t, gnutls_priority_t prio, gnutls_session_t *out,
                        ngtcp2_crypto_conn_ref *ref);

/* qsl_tls_alpn_is_h3 says whether the server selected h3. */
int qsl_tls_alpn_is_h3(gnutls_session_t s);

#endif
