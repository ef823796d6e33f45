/* quic_header.h: bounds-checked parsing of a QUIC packet header.
 *
 * Covers the version-invariant layout (RFC 8999), the QUIC v1 long-header
 * packet types (RFC 9000) and the QUIC v2 ones (RFC 9369, where the two type
 * bits are permuted; also for the provisional v2 number ngtcp2 0.12 uses),
 * and version negotiation.  The BPF program includes this
 * file too: it is one parser for the kernel and for user space, so it is
 * static inline, uses fixed-width types and no libc.
 *
 * It never reads past QS_HDR_SPAN octets: everything it needs (first octet,
 * version, both CIDs of a v1/v2 long header: at most 1+4+1+20+1+20 = 47
 * octets) lies there, so the BPF side copies that prefix to its stack and
 * passes it here.  Every read is checked against the length given and masked
 * into the span, which is also what lets the verifier prove the accesses safe.
 */
#ifndef QUICSTEER_QUIC_HEADER_H
#define QUICSTEER_QUIC_HEADER_H

#include "quicsteer/types.h"
#include "quicsteer/errors.h"

#define QS_HDR_SPAN 64 /* power of two: reads are masked with QS_HDR_SPAN-1 */
#define QS_MAX_CIDLEN 20

#define QS_VERSION_NEG 0x00000000u
#define QS_VERSION_V1 0x00000001u
#define QS_VERSION_V2 0x6b3343cfu
/* The provisional QUIC v2 number ngtcp2 0.12 speaks (NGTCP2_PROTO_VER_V2_DRAFT);
 * it numbers its long-header types as RFC 9369 does. */
#define QS_VERSION_V2_DRAFT 0x709a50c4u

/* A short-header packet shorter than this cannot be QUIC whatever its DCID
 * length: RFC 9000 s10.3 sizes the smallest stateless reset (and thereby any
 * packet an endpoint must consider) at 21 octets. */
#define QS_SHORT_MIN_LEN 21

enum qs_pkt_type {
  QS_PKT_INITIAL = 0,
  QS_PKT_0RTT = 1,
  QS_PKT_HANDSHAKE = 2,
  QS_PKT_RETRY = 3,
  QS_PKT_VERSION_NEG = 4, /* long header, version 0 */
  QS_PKT_LONG_OTHER = 5,  /* long header of a version this parser does not know */
  QS_PKT_SHORT = 6,       /* short header (1-RTT) */
};

struct qs_hdr {
  uint32_t version; /* long header only */
  uint8_t type;     /* enum qs_pkt_type */
  uint8_t dcid_off;
  uint8_t dcid_len; /* a short header does not carry it: 0 until resolved */
  uint8_t scid_off; /* long header only */
  uint8_t scid_len;
};

QS_INLINE uint8_t qs_hdr_at(const uint8_t *buf, uint32_t off) {
  return buf[off & (QS_HDR_SPAN - 1)];
}

QS_INLINE int qs_hdr_is_long(uint8_t first) { return (first & 0x80) != 0; }

/* qs_hdr_version_known: a version whose packet types (and 20-octet CID
 * limit) this parser knows: QUIC v1, v2 and ngtcp2's provisional v2. */
QS_INLINE int qs_hdr_version_known(uint32_t version) {
  return version == QS_VERSION_V1 || version == QS_VERSION_V2 || version == QS_VERSION_V2_DRAFT;
}

/* qs_hdr_long_type maps the two type bits of a long header's first octet to
 * enum qs_pkt_type for QUIC v1 and v2 (and the provisional v2). */
QS_INLINE uint8_t qs_hdr_long_type(uint32_t version, uint8_t first) {
  uint8_t bits = (first >> 4) & 0x3;
  if (version == QS_VERSION_V1)
    return bits; /* 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry */
  if (version == QS_VERSION_V2 || version == QS_VERSION_V2_DRAFT)
    return (bits + 3) & 0x3; /* 1 Initial, 2 0-RTT, 3 Handshake, 0 Retry */
  if (version == QS_VERSION_NEG)
    return QS_PKT_VERSION_NEG;
  return QS_PKT_LONG_OTHER;
}

/* qs_hdr_parse parses the header at |buf|, of which |len| octets are
 * available (a datagram, or a prefix of one: only QS_HDR_SPAN octets are
 * read).  For a short header it sets dcid_off = 1 and dcid_len = 0; the
 * caller knows the length and calls qs_hdr_set_short_dcid.
 *
 * Returns 0, or:
 *   QS_ERR_EMPTY      |len| is 0;
 *   QS_ERR_TRUNCATED  a long header ends before its CIDs do;
 *   QS_ERR_CIDLEN     a CID longer than 20 octets.  The version and type are
 *                     filled in first: for an unknown version this is legal
 *                     (RFC 8999 allows 255), for v1 and v2 it is not.
 */
QS_INLINE int qs_hdr_parse(struct qs_hdr *h, const uint8_t *buf, uint32_t len) {
  uint8_t first;
  uint32_t off;

  h->version = 0;
  h->dcid_off = 0;
  h->dcid_len = 0;
  h->scid_off = 0;
  h->scid_len = 0;
  if (len == 0)
    return QS_ERR_EMPTY;
  if (len > QS_HDR_SPAN)
    len = QS_HDR_SPAN;
  first = qs_hdr_at(buf, 0);
  if (!qs_hdr_is_long(first)) {
    h->type = QS_PKT_SHORT;
    h->dcid_off = 1;
    return 0;
  }
  /* first octet, version (4), DCID length (1) */
  if (len < 6) {
    h->type = QS_PKT_LONG_OTHER;
    return QS_ERR_TRUNCATED;
  }
  h->version = ((uint32_t)qs_hdr_at(buf, 1) << 24) | ((uint32_t)qs_hdr_at(buf, 2) << 16) |
               ((uint32_t)qs_hdr_at(buf, 3) << 8) | (uint32_t)qs_hdr_at(buf, 4);
  h->type = qs_hdr_long_type(h->version, first);
  h->dcid_len = qs_hdr_at(buf, 5);
  h->dcid_off = 6;
  if (h->dcid_len > QS_MAX_CIDLEN)
    return QS_ERR_CIDLEN;
  off = 6u + h->dcid_len; /* the SCID length octet */
  if (off >= len)
    return QS_ERR_TRUNCATED;
  h->scid_len = qs_hdr_at(buf, off);
  h->scid_off = (uint8_t)(off + 1);
  if (h->scid_len > QS_MAX_CIDLEN)
    return QS_ERR_CIDLEN;
  if (off + 1u + h->scid_len > len)
    return QS_ERR_TRUNCATED;
  return 0;
}

/* qs_hdr_set_short_dcid records the DCID length of a short header, which the
 * receiver knows from its own configuration.  |len| is the number of octets
 * available at the buffer given to qs_hdr_parse.  Returns 0, QS_ERR_CIDLEN if
 * |cidlen| > 20, or QS_ERR_TRUNCATED if the packet cannot hold that DCID. */
QS_INLINE int qs_hdr_set_short_dcid(struct qs_hdr *h, uint32_t len, uint32_t cidlen) {
  if (cidlen > QS_MAX_CIDLEN)
    return QS_ERR_CIDLEN;
  if (1u + cidlen > len)
    return QS_ERR_TRUNCATED;
  h->dcid_len = (uint8_t)cidlen;
  return 0;
}

/* qs_hdr_copy_cid copies the CID of |len| octets at |off| of |buf| into
 * |out| (QS_MAX_CIDLEN octets).  The loop has a constant bound for the BPF
 * verifier; |off| + |len| were checked by qs_hdr_parse. */
QS_INLINE void qs_hdr_copy_cid(uint8_t out[QS_MAX_CIDLEN], const uint8_t *buf, uint32_t off,
                               uint32_t len) {
  uint32_t i;
  for (i = 0; i < QS_MAX_CIDLEN; i++) {
    if (i >= len)
      break;
    out[i] = qs_hdr_at(buf, off + i);
  }
}

#endif
