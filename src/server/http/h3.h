/* h3.h: the HTTP/3 front of a connection: nghttp3 set-up, nghttp3's
 * callbacks, and the ngtcp2 stream callbacks that feed it.  It turns
 * request streams into struct qs_req (req.h) and writes what their
 * handlers answer; it has no HTTP semantics of its own.
 */
#ifndef QS_SERVER_H3_H
#define QS_SERVER_H3_H

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

struct qs_conn;

#define QS_MAX_STREAMS_BIDI 100 /* concurrent requests; extended as they close */

/* qs_h3_setup creates the nghttp3 connection and opens the control and
 * QPACK streams.  Returns 0 or -1. */
int qs_h3_setup(struct qs_conn *c);

/* qs_h3_free deletes the nghttp3 connection and every request stream. */
void qs_h3_free(struct qs_conn *c);

/* qs_h3_handshake_completed lets the requests held back because they came
 * in 0-RTT with an unsafe method go on (qs_req_release). */
void qs_h3_handshake_completed(struct qs_conn *c);

/* qs_h3_pending resumes the streams whose body has data again and resets
 * those whose response was cut off (a file that cannot be read, an
 * upstream that died).  Must not run while ngtcp2 is coalescing a packet.
 * Returns 1 if any stream was reset. */
int qs_h3_pending(struct qs_conn *c);

/* ngtcp2 callbacks, see ngtcp2.h */
int qs_h3_recv_stream_data(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t offset,
                           const uint8_t *data, size_t datalen, void *user_data,
                           void *stream_user_data);
int qs_h3_acked_stream_data_offset(ngtcp2_conn *q, int64_t sid, uint64_t offset,
                                   uint64_t datalen, void *user_data, void *stream_user_data);
int qs_h3_stream_close(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t app_error_code,
                       void *user_data, void *stream_user_data);
int qs_h3_stream_reset(ngtcp2_conn *q, int64_t sid, uint64_t final_size, uint64_t app_error_code,
                       void *user_data, void *stream_user_data);
int qs_h3_stream_stop_sending(ngtcp2_conn *q, int64_t sid, uint64_t app_error_code,
                              void *user_data, void *stream_user_data);
int qs_h3_extend_max_remote_streams_bidi(ngtcp2_conn *q, uint64_t max_streams, void *user_data);
int qs_h3_extend_max_stream_data(ngtcp2_conn *q, int64_t sid, uint64_t max_data, void *user_data,
                                 void *stream_user_data);

#endif
