/* tls.c: see tls.h. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "pkey.h"

/* TLS 1.3 only (QUIC requires it), without the middlebox compatibility mode
 * QUIC forbids. */
static const char prio_string[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
    "+GROUP-SECP384R1:+GROUP-SECP521R1:%DISABLE_TLS13_COMPAT_MODE";

static const char alpn_h3[] = "h3";

int qs_tls_init(struct qs_tls *t, const char *cert, const char *key, char *err, size_t errlen) {
  int rv;
  memset(t, 0, sizeof *t);
  /* say which file is missing rather than GnuTLS's generic file error */
  if (access(cert, R_OK) != 0) {
    snprintf(err, errlen, "cannot read certificate %s: %s", cert, strerror(errno));
    return -1;
  }
  if (access(key, R_OK) != 0) {
    snprintf(err, errlen, "cannot read key %s: %s", key, strerror(errno));
    return -1;
  }
  if (gnutls_certificate_allocate_credentials(&t->cred) != 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  rv = gnutls_certificate_set_x509_key_file2(t->cred, cert, key, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (rv < 0) {
    if (rv == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
      snprintf(err, errlen, "key %s does not match certificate %s", key, cert);
    else
      snprintf(err, errlen, "cannot load certificate %s with key %s: %s", cert, key,
               gnutls_strerror(rv));
    goto fail;
  }
  rv = gnutls_priority_init(&t->prio, prio_string, NULL);
  if (rv != 0) {
    snprintf(err, errlen, "TLS priorities: %s", gnutls_strerror(rv));
    goto fail;
  }
  return 0;
fail:
  gnutls_certificate_free_credentials(t->cred);
  t->cred = NULL;
  return -1;
}

void qs_tls_free(struct qs_tls *t) {
  if (t->prio)
    gnutls_priority_deinit(t->prio);
  if (t->cred)
    gnutls_certificate_free_credentials(t->cred);
  memset(t, 0, sizeof *t);
}

int qs_tls_session_new(const struct qs_tls *t, const struct qs_tickets *tk, struct qs_replay *rp,
                       gnutls_session_t *ps, ngtcp2_crypto_conn_ref *ref) {
  gnutls_session_t s;
  gnutls_datum_t alpn = {.data = (unsigned char *)alpn_h3, .size = sizeof alpn_h3 - 1};
  /* QUIC carries no EndOfEarlyData message; tickets go out when the
   * handshake is complete (qs_tls_send_ticket), not inside it */
  unsigned flags = GNUTLS_SERVER | GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_NO_AUTO_SEND_TICKET;

  if (rp)
    flags |= GNUTLS_ENABLE_EARLY_DATA;
  if (gnutls_init(&s, flags) != 0)
    return -1;
  if (ngtcp2_crypto_gnutls_configure_server_session(s) != 0)
    goto fail;
  qs_pkey_configure_session(s); /* after: it replaces the secret function */
  if (gnutls_priority_set(s, t->prio) != 0 ||
      gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred) != 0 ||
      gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0 ||
      (tk && qs_tickets_configure(tk, s) != 0))
    goto fail;
  if (rp)
    qs_replay_enable(rp, s);
  gnutls_session_set_ptr(s, ref);
  *ps = s;
  return 0;
fail:
  gnutls_deinit(s);
  return -1;
}

int qs_tls_send_ticket(gnutls_session_t s) { return gnutls_session_ticket_send(s, 1, 0); }

/* ClientHello extension 42 (RFC 8446 s4.2.10): the client sends 0-RTT */
static int find_early_data(void *ctx, unsigned tls_id, const unsigned char *data, unsigned len) {
  (void)data;
  (void)len;
  if (tls_id == 42)
    *(int *)ctx = 1;
  return 0;
}

int qs_tls_hello_offers_early_data(const gnutls_datum_t *hello) {
  int found = 0;
  if (gnutls_ext_raw_parse(&found, find_early_data, hello, GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO) !=
      0)
    return 0;
  return found;
}

int qs_tls_alpn_is_h3(gnutls_session_t s) {
  gnutls_datum_t p;
  if (gnutls_alpn_get_selected_protocol(s, &p) != 0)
    return 0;
  return p.size == sizeof alpn_h3 - 1 && memcmp(p.data, alpn_h3, p.size) == 0;
}

static const char alpn_h2[] = "h2", alpn_h11[] = "http/1.1";

int qs_tls_tcp_session_new(const struct qs_tls *t, const struct qs_tickets *tk,
                           gnutls_session_t *ps) {
  gnutls_session_t s;
  gnutls_datum_t alpn[2] = {
      {.data = (unsigned char *)alpn_h2, .size = sizeof alpn_h2 - 1},
      {.data = (unsigned char *)alpn_h11, .size = sizeof alpn_h11 - 1},
  };
  if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK) != 0)
    return -1;
  /* a client without ALPN speaks HTTP/1.1: ALPN is not mandatory here */
  if (gnutls_priority_set(s, t->prio) != 0 ||
      gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred) != 0 ||
      gnutls_alpn_set_protocols(s, alpn, 2, GNUTLS_ALPN_SERVER_PRECEDENCE) != 0 ||
      (tk && qs_tickets_configure(tk, s) != 0)) {
    gnutls_deinit(s);
    return -1;
  }
  *ps = s;
  return 0;
}

int qs_tls_alpn_is_h2(gnutls_session_t s) {
  gnutls_datum_t p;
  if (gnutls_alpn_get_selected_protocol(s, &p) != 0)
    return 0;
  return p.size == sizeof alpn_h2 - 1 && memcmp(p.data, alpn_h2, p.size) == 0;
}
