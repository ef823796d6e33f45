/* fuzz_quic_header.c: libFuzzer target for quic_header.h.
 *
 * libFuzzer hands over an exact-size heap buffer, so ASan flags any read
 * past the datagram.  Beyond "no crash" it checks the parser's promises:
 * on success both CIDs lie inside the bytes given and within 20 octets, and
 * the packet type agrees with the version. */
#include <stdlib.h>
#include <string.h>

#include "quicsteer/quic_header.h"

static void check(int cond) {
  if (!cond)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t len = size > 0xffffffffu ? 0xffffffffu : (uint32_t)size;
  uint32_t span = len < QS_HDR_SPAN ? len : QS_HDR_SPAN;
  uint8_t cid[QS_MAX_CIDLEN];
  struct qs_hdr h;
  int rv;

  rv = qs_hdr_parse(&h, data, len);
  if (len == 0) {
    check(rv == QS_ERR_EMPTY);
    return 0;
  }
  if (!(data[0] & 0x80)) {
    uint32_t want = data[0] & 0x1f; /* any length the receiver might know */
    check(rv == 0 && h.type == QS_PKT_SHORT && h.dcid_off == 1 && h.dcid_len == 0);
    rv = qs_hdr_set_short_dcid(&h, len, want);
    if (rv == 0) {
      check(1u + h.dcid_len <= len);
      qs_hdr_copy_cid(cid, data, h.dcid_off, h.dcid_len);
    } else {
      check(rv == QS_ERR_TRUNCATED || rv == QS_ERR_CIDLEN);
    }
    return 0;
  }
  if (rv != 0) {
    check(rv == QS_ERR_TRUNCATED || rv == QS_ERR_CIDLEN);
    return 0;
  }
  check(h.dcid_len <= QS_MAX_CIDLEN && h.scid_len <= QS_MAX_CIDLEN);
  check(h.dcid_off == 6 && (uint32_t)h.dcid_off + h.dcid_len < span);
  check(h.scid_off == h.dcid_off + h.dcid_len + 1 && (uint32_t)h.scid_off + h.scid_len <= span);
  check(h.dcid_len == data[5] && h.scid_len == data[6 + h.dcid_len]);
  if (h.version == QS_VERSION_NEG)
    check(h.type == QS_PKT_VERSION_NEG);
  else if (!qs_hdr_version_known(h.version))
    check(h.type == QS_PKT_LONG_OTHER);
  else
    check(h.type <= QS_PKT_RETRY);
  qs_hdr_copy_cid(cid, data, h.dcid_off, h.dcid_len);
  check(memcmp(cid, data + 6, h.dcid_len) == 0);
  qs_hdr_copy_cid(cid, data, h.scid_off, h.scid_len);
  check(memcmp(cid, data + h.scid_off, h.scid_len) == 0);
  return 0;
}
