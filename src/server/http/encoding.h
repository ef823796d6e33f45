/* encoding.h: content-coding negotiation for precompressed static files.
 *
 * A file x may have siblings x.br and x.gz holding its bytes compressed
 * (made by the operator's build, never by the server).  The static
 * handler serves one of them, with Content-Encoding, to a client whose
 * Accept-Encoding (RFC 9110 s12.5.3) accepts it.  Pure: unit-tested in
 * tests/test_server_http.c.
 */
#ifndef QS_SERVER_ENCODING_H
#define QS_SERVER_ENCODING_H

#include <stddef.h>
#include <stdint.h>

/* the representations of a file; QS_ENC_BIT(e) in a sibling mask */
enum { QS_ENC_IDENTITY = 0, QS_ENC_BR, QS_ENC_GZIP, QS_ENC_N };
#define QS_ENC_BIT(e) (1u << (e))

/* qs_enc_name is the content-coding of |enc| ("br", "gzip"; "" for
 * identity); qs_enc_suffix the sibling's file name suffix (".br", ".gz"). */
const char *qs_enc_name(int enc);
const char *qs_enc_suffix(int enc);

/* what a request's Accept-Encoding field lines say: a weight in
 * thousandths per coding (index QS_ENC_IDENTITY for identity, QS_ENC_N for
 * "*"), -1 where not named */
struct qs_enc_accept {
  int16_t q[QS_ENC_N + 1];
};

void qs_enc_accept_init(struct qs_enc_accept *a);

/* qs_enc_accept_add reads one Accept-Encoding field line (|len| octets):
 * several lines are one comma list (RFC 9110 s5.3). */
void qs_enc_accept_add(struct qs_enc_accept *a, const char *v, size_t len);

/* qs_enc_accept_rank writes the codings of ours the client accepts into
 * |out| (QS_ENC_N - 1 entries), best first, returning their count.
 * Tokens are case-insensitive
 * ("x-gzip" is gzip); a coding's weight is its own q, else that of "*",
 * else it is not accepted; q=0, or a q that is not a qvalue, refuses it.
 * A coding weighted below an explicit "identity;q=" is dropped (the
 * client prefers the plain file).  At equal weight br comes before gzip.
 * "identity;q=0" is not honoured beyond serving identity when nothing
 * else is acceptable.  No field at all accepts nothing but identity. */
size_t qs_enc_accept_rank(const struct qs_enc_accept *a, uint8_t *out);

/* qs_enc_rank is qs_enc_accept_rank of the one field line |v|. */
size_t qs_enc_rank(const char *v, size_t len, uint8_t *out);

/* qs_enc_choose is the representation to serve: the first of the codings
 * |a| ranks that sibling mask |sibs| has, else QS_ENC_IDENTITY. */
int qs_enc_choose(const struct qs_enc_accept *a, unsigned sibs);

#endif
