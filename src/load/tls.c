/* tls.c: GnuTLS client sessions for quicsteer-load. */
#include "tls.h"

#include <stdio.h>
#include <string.h>

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

/* TLS 1.3 only; no middlebox compatibility mode, which QUIC forbids */
static const char qsl_priority[] =
    "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:"
    "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:"
    "+GROUP-SECP256R1:+GROUP-SECP384R1";

int qsl_tls_init(struct qsl_tls *t, const struct qsl_opts *o, char *err, size_t errlen) {
  memset(t, 0, sizeof(*t));
  int rv = gnutls_certificate_allocate_credentials(&t->cred);
  if (rv != 0) {
    snprintf(err, errlen, "gnutls: %s", gnutls_strerror(rv));
    return -1;
  }
  if (o->verify_cert) {
    rv = o->cacert ? gnutls_certificate_set_x509_trust_file(t->cred, o->cacert,
                                                            GNUTLS_X509_FMT_PEM)
                   : gnutls_certificate_set_x509_system_trust(t->cred);
    if (rv <= 0) {
      snprintf(err, errlen, "%s: no CA certificates loaded%s%s",
               o->cacert ? o->cacert : "system trust", rv < 0 ? ": " : "",
               rv < 0 ? gnutls_strerror(rv) : "");
      qsl_tls_free(t);
      return -1;
    }
    t->verify = 1;
  }
  gnutls_priority_t prio;
  if (qsl_tls_priority_init(&prio) != 0) {
    snprintf(err, errlen, "gnutls: cannot compile the TLS priority string");
    qsl_tls_free(t);
    return -1;
  }
  gnutls_priority_deinit(prio);
  t->sni = o->sni ? o->urls[0].host : NULL;
  t->host = o->urls[0].host;
  return 0;
}

int qsl_tls_priority_init(gnutls_priority_t *prio) {
  return gnutls_priority_init(prio, qsl_priority, NULL) == 0 ? 0 : -1;
}

void qsl_tls_free(struct qsl_tls *t) {
  if (t->cred) {
    gnutls_certificate_free_credentials(t->cred);
  }
  memset(t, 0, sizeof(*t));
}

int qsl_tls_session_new(const struct qsl_tls *t, gnutls_priority_t prio, gnutls_session_t *out,
                        ngtcp2_crypto_conn_ref *ref) {
  gnutls_session_t s;
  /* one key share, for the most preferred group (X25519), instead of GnuTLS's
   * default two (X25519 and P-256): every QUIC server takes X25519, and the
   * second share costs the client a P-256 key generation per handshake */
  if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_KEY_SHARE_TOP) != 0) {
    return -1;
  }
  static const unsigned char h3[] = "h3";
  gnutls_datum_t alpn = {.data = (unsigned char *)h3, .size = 2};
  if (gnutls_priority_set(s, prio) != 0 ||
      ngtcp2_crypto_gnutls_configure_client_session(s) != 0 ||
      gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred) != 0 ||
      gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0 ||
      (t->sni && gnutls_server_name_set(s, GNUTLS_NAME_DNS, t->sni, strlen(t->sni)) != 0)) {
    gnutls_deinit(s);
    return -1;
  }
  if (t->verify) {
    /* GnuTLS matches an IP literal against the certificate's IP SANs */
    gnutls_session_set_verify_cert(s, t->host, 0);
  }
  gnutls_session_set_ptr(s, ref);
  *out = s;
  return 0;
}

int qsl_tls_alpn_is_h3(gnutls_session_t s) {
  gnutls_datum_t p;
  return gnutls_alpn_get_selected_protocol(s, &p) == 0 && p.size == 2 &&
         memcmp(p.data, "h3", 2) == 0;
}
