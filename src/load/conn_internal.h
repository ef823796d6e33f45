/* conn_internal.h: what conn.c (life cycle, I/O) and conn_cb.c (library
 * callbacks) share about a connection slot.  Not for other modules.
 */
#ifndef QSL_CONN_INTERNAL_H
#define QSL_CONN_INTERNAL_H

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "conn.h"
#include "stats.h"
#include "worker.h"

extern const ngtcp2_callbacks qsl_qc_callbacks;
extern const nghttp3_callbacks qsl_h3_callbacks;

/* qsl_conn_ref_get is the ngtcp2_crypto_conn_ref hook GnuTLS callbacks use */
ngtcp2_conn *qsl_conn_ref_get(ngtcp2_crypto_conn_ref *ref);

/* qsl_conn_debug_log is ngtcp2's log_printf when QSL_DEBUG is set */
void qsl_conn_debug_log(void *ud, const char *fmt, ...);

static inline const struct qsl_opts *qsl_conn_opts(const struct qsl_conn *c) { return c->w->o; }

/* qsl_stream_release frees a stream entry for the next request */
static inline void qsl_stream_release(struct qsl_conn *c, struct qsl_stream *st) {
  st->id = -1;
  c->free_idx[c->nfree++] = (uint32_t)(st - c->streams);
  c->nactive--;
  c->want_submit = 1;
}

/* qsl_req_fail charges one failed request to |kind| */
static inline void qsl_req_fail(struct qsl_conn *c, enum qsl_err kind) {
  struct qsl_worker *w = c->w;
  w->st.req_failed++;
  w->st.err[kind]++;
  qsl_live_add(&w->live.req_failed, 1);
}

#endif
