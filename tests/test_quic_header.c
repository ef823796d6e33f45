/* test_quic_header.c: the QUIC header parser (quic_header.h) on v1 and v2
 * long headers, version negotiation, unknown versions and short headers,
 * including every truncation.  Inputs are exact-size heap copies, so ASan
 * reports any read past them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quicsteer/quic_header.h"

static int parse_exact(struct qs_hdr *h, const uint8_t *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  int rv;

  assert_non_null(q);
  if (n)
    memcpy(q, p, n);
  rv = qs_hdr_parse(h, q, (uint32_t)n);
  free(q);
  return rv;
}

/* build_long writes a long header: first octet, version, DCID, SCID, then
 * |tail| octets of payload; returns its length. */
static size_t build_long(uint8_t *out, uint8_t first, uint32_t version, size_t dcid_len,
                         size_t scid_len, size_t tail) {
  size_t n = 0, i;

  out[n++] = first;
  out[n++] = (uint8_t)(version >> 24);
  out[n++] = (uint8_t)(version >> 16);
  out[n++] = (uint8_t)(version >> 8);
  out[n++] = (uint8_t)version;
  out[n++] = (uint8_t)dcid_len;
  for (i = 0; i < dcid_len; i++)
    out[n++] = (uint8_t)(0xd0 + i);
  out[n++] = (uint8_t)scid_len;
  for (i = 0; i < scid_len; i++)
    out[n++] = (uint8_t)(0x50 + i);
  for (i = 0; i < tail; i++)
    out[n++] = (uint8_t)(0xee ^ i);
  return n;
}

/* The long-header first octet for a packet type under a version: v1 puts
 * Initial, 0-RTT, Handshake, Retry at type bits 0..3; v2 at 1, 2, 3, 0. */
static uint8_t first_for(uint32_t version, uint8_t type) {
  uint8_t bits = version == QS_VERSION_V2 ? (uint8_t)((type + 1) & 3) : type;
  return (uint8_t)(0xc0 | (bits << 4) | 0x01);
}

/* Every prefix of a valid header: each one that ends before the SCID is
 * truncated (and only then), and nothing reads past it. */
static void check_prefixes(uint32_t version, uint8_t type, size_t dcid_len, size_t scid_len) {
  uint8_t pkt[128];
  size_t n = build_long(pkt, first_for(version, type), version, dcid_len, scid_len, 30), len;
  size_t hdr_end = 7 + dcid_len + scid_len;
  struct qs_hdr h;
  int rv;

  for (len = 0; len <= n; len++) {
    rv = parse_exact(&h, pkt, len);
    if (len == 0) {
      assert_int_equal(rv, QS_ERR_EMPTY);
    } else if (len < hdr_end) {
      assert_int_equal(rv, QS_ERR_TRUNCATED);
    } else {
      assert_int_equal(rv, 0);
      assert_int_equal(h.version, version);
      assert_int_equal(h.type, type);
      assert_int_equal(h.dcid_off, 6);
      assert_int_equal(h.dcid_len, dcid_len);
      assert_int_equal(h.scid_off, 7 + dcid_len);
      assert_int_equal(h.scid_len, scid_len);
    }
  }
}

static void test_long_v1_v2_prefixes(void **state) {
  static const uint32_t versions[] = {QS_VERSION_V1, QS_VERSION_V2};
  static const size_t lens[][2] = {{8, 8}, {0, 0}, {20, 20}, {17, 0}, {0, 20}, {1, 5}};
  size_t v, l;
  uint8_t type;

  (void)state;
  for (v = 0; v < 2; v++)
    for (type = QS_PKT_INITIAL; type <= QS_PKT_RETRY; type++)
      for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
        check_prefixes(versions[v], type, lens[l][0], lens[l][1]);
}

static void test_type_bits(void **state) {
  (void)state;
  /* v1: 00 Initial, 01 0-RTT, 10 Handshake, 11 Retry (RFC 9000 17.2). */
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V1, 0xc0), QS_PKT_INITIAL);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V1, 0xd0), QS_PKT_0RTT);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V1, 0xe0), QS_PKT_HANDSHAKE);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V1, 0xf0), QS_PKT_RETRY);
  /* v2: 01 Initial, 10 0-RTT, 11 Handshake, 00 Retry (RFC 9369 3.2). */
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2, 0xd0), QS_PKT_INITIAL);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2, 0xe0), QS_PKT_0RTT);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2, 0xf0), QS_PKT_HANDSHAKE);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2, 0xc0), QS_PKT_RETRY);
  /* ngtcp2 0.12's provisional v2 number types its packets as v2 does. */
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2_DRAFT, 0xd0), QS_PKT_INITIAL);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2_DRAFT, 0xe0), QS_PKT_0RTT);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2_DRAFT, 0xf0), QS_PKT_HANDSHAKE);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2_DRAFT, 0xc0), QS_PKT_RETRY);
  assert_true(qs_hdr_version_known(QS_VERSION_V2_DRAFT));
  assert_false(qs_hdr_version_known(0xff00001du));
  /* The low four bits never matter. */
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V2, 0xdf), QS_PKT_INITIAL);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_V1, 0xcf), QS_PKT_INITIAL);
  assert_int_equal(qs_hdr_long_type(QS_VERSION_NEG, 0xc0), QS_PKT_VERSION_NEG);
  assert_int_equal(qs_hdr_long_type(0xff00001du, 0xc0), QS_PKT_LONG_OTHER);
  assert_int_equal(qs_hdr_long_type(0x1a2a3a4au, 0xf0), QS_PKT_LONG_OTHER);
}

static void test_version_negotiation(void **state) {
  uint8_t pkt[128];
  size_t n;
  struct qs_hdr h;

  (void)state;
  /* Version 0, any first-octet bits after the form bit, a list of versions. */
  n = build_long(pkt, 0x80 | 0x3a, QS_VERSION_NEG, 8, 17, 8);
  assert_int_equal(parse_exact(&h, pkt, n), 0);
  assert_int_equal(h.type, QS_PKT_VERSION_NEG);
  assert_int_equal(h.version, 0);
  assert_int_equal(h.dcid_len, 8);
  assert_int_equal(h.scid_len, 17);
  assert_int_equal(parse_exact(&h, pkt, 6 + 8 + 1 + 16), QS_ERR_TRUNCATED);
}

static void test_cid_too_long(void **state) {
  uint8_t pkt[600];
  size_t n, len;
  struct qs_hdr h;

  (void)state;
  /* v1/v2 forbid CIDs over 20 octets (RFC 9000 17.2). */
  n = build_long(pkt, 0xc0, QS_VERSION_V1, 21, 0, 0);
  assert_int_equal(parse_exact(&h, pkt, n), QS_ERR_CIDLEN);
  assert_int_equal(h.type, QS_PKT_INITIAL);
  n = build_long(pkt, 0xc0, QS_VERSION_V2, 8, 21, 0);
  assert_int_equal(parse_exact(&h, pkt, n), QS_ERR_CIDLEN);
  assert_int_equal(h.type, QS_PKT_RETRY);
  /* Unknown versions may carry up to 255 (RFC 8999): the error is
   * reported, with version and type filled in for the caller. */
  for (len = 21; len <= 255; len += 13) {
    n = build_long(pkt, 0xc0, 0xabcdef01u, len, 0, 0);
    assert_int_equal(parse_exact(&h, pkt, n), QS_ERR_CIDLEN);
    assert_int_equal(h.version, 0xabcdef01u);
    assert_int_equal(h.type, QS_PKT_LONG_OTHER);
    /* ... even when the datagram ends right after the length octet. */
    assert_int_equal(parse_exact(&h, pkt, 6), QS_ERR_CIDLEN);
  }
  /* An unknown version within the limits parses like any long header. */
  n = build_long(pkt, 0xc0, 0xabcdef01u, 20, 20, 0);
  assert_int_equal(parse_exact(&h, pkt, n), 0);
  assert_int_equal(h.type, QS_PKT_LONG_OTHER);
}

static void test_short_header(void **state) {
  uint8_t pkt[64];
  uint8_t cid[QS_MAX_CIDLEN];
  struct qs_hdr h;
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(pkt); i++)
    pkt[i] = (uint8_t)i;
  pkt[0] = 0x41;
  assert_int_equal(parse_exact(&h, pkt, 1), 0);
  assert_int_equal(h.type, QS_PKT_SHORT);
  assert_int_equal(h.dcid_off, 1);
  assert_int_equal(h.dcid_len, 0);
  assert_int_equal(qs_hdr_set_short_dcid(&h, 1, 17), QS_ERR_TRUNCATED);
  assert_int_equal(qs_hdr_set_short_dcid(&h, 17, 17), QS_ERR_TRUNCATED);
  assert_int_equal(qs_hdr_set_short_dcid(&h, 64, 21), QS_ERR_CIDLEN);
  assert_int_equal(qs_hdr_set_short_dcid(&h, 18, 17), 0);
  assert_int_equal(h.dcid_len, 17);
  {
    uint8_t *q = malloc(18);
    assert_non_null(q);
    memcpy(q, pkt, 18);
    qs_hdr_copy_cid(cid, q, h.dcid_off, h.dcid_len);
    free(q);
  }
  assert_memory_equal(cid, pkt + 1, 17);
  assert_int_equal(qs_hdr_set_short_dcid(&h, 64, 0), 0);
  assert_int_equal(h.dcid_len, 0);
}

static void test_empty_and_tiny(void **state) {
  uint8_t one = 0xc0, five[5] = {0xc0, 0, 0, 0, 1};
  struct qs_hdr h;

  (void)state;
  assert_int_equal(parse_exact(&h, &one, 0), QS_ERR_EMPTY);
  assert_int_equal(parse_exact(&h, &one, 1), QS_ERR_TRUNCATED);
  assert_int_equal(parse_exact(&h, five, 5), QS_ERR_TRUNCATED);
}

/* Only QS_HDR_SPAN octets are ever read, however long the datagram is. */
static void test_long_datagram(void **state) {
  uint8_t pkt[1500];
  size_t n;
  struct qs_hdr h;
  uint8_t cid[QS_MAX_CIDLEN];

  (void)state;
  memset(pkt, 0xaa, sizeof(pkt));
  n = build_long(pkt, first_for(QS_VERSION_V2, QS_PKT_HANDSHAKE), QS_VERSION_V2, 20, 20, 0);
  assert_int_equal(n, 47);
  assert_int_equal(parse_exact(&h, pkt, sizeof(pkt)), 0);
  assert_int_equal(h.type, QS_PKT_HANDSHAKE);
  qs_hdr_copy_cid(cid, pkt, h.scid_off, h.scid_len);
  assert_memory_equal(cid, pkt + 27, 20);
  /* The parser works on a QS_HDR_SPAN-octet prefix just as well. */
  assert_int_equal(parse_exact(&h, pkt, QS_HDR_SPAN), 0);
  assert_int_equal(h.scid_len, 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_long_v1_v2_prefixes), cmocka_unit_test(test_type_bits),
      cmocka_unit_test(test_version_negotiation), cmocka_unit_test(test_cid_too_long),
      cmocka_unit_test(test_short_header),        cmocka_unit_test(test_empty_and_tiny),
      cmocka_unit_test(test_long_datagram),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
