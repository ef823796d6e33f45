/* fuzz_cid_decode.c: libFuzzer target for the QUIC-LB decoders (lb.c over
 * lb_core.h), with the configuration taken from the input.
 *
 * Input: octet 0 = cr (bits 0-2, mod 7) | encode_len (bit 3) | keyed (bit
 * 4) | use the layout (bit 5) | layout's server ID in the clear (bit 6); octet 1 = server ID length (host ID length
 * for the layout); octet 2 = nonce length; then the CID, copied to an
 * exact-size heap buffer so that ASan sees any over-read.
 *
 * Besides memory safety it checks that the codec is a bijection: whatever
 * decodes re-encodes to the same CID, and the kernel's route (qs_lb_route)
 * agrees with the full decode. */
#include <stdlib.h>
#include <string.h>

#include "quicsteer/lb.h"
#include "quicsteer/quic_header.h"

static const uint8_t key[QS_LB_KEY_LEN] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
                                           0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};

static void check(int cond) {
  if (!cond)
    abort();
}

static void fuzz_plain(uint8_t cfg, uint8_t sid_len, uint8_t nonce_len, const uint8_t *cid,
                       size_t cidlen) {
  struct qs_lb_params p = {0};
  uint8_t sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY], sid2[QS_LB_MAX_SID], again[QS_MAX_CIDLEN];
  struct qs_lb lb;
  int rv, n;

  p.cr = (uint8_t)((cfg & 7) % 7);
  p.encode_len = (cfg >> 3) & 1;
  p.sid_len = (uint8_t)(1 + sid_len % QS_LB_MAX_SID);
  p.nonce_len = (uint8_t)(QS_LB_MIN_NONCE + nonce_len % 16);
  if (qs_lb_init(&lb, &p, (cfg & 0x10) ? key : NULL) != 0)
    return;
  rv = qs_lb_decode(&lb, cid, cidlen, sid, nonce);
  if (rv == 0) {
    check(cidlen == qs_lb_cid_len(&lb.p));
    /* The server ID alone (three-pass shortcut) must agree. */
    check(qs_lb_decode(&lb, cid, cidlen, sid2, NULL) == 0);
    check(memcmp(sid, sid2, p.sid_len) == 0);
    n = qs_lb_encode(&lb, sid, nonce, again, sizeof(again));
    check(n >= 0 && (size_t)n == cidlen);
    check(memcmp(again + 1, cid + 1, cidlen - 1) == 0);
    check((again[0] >> 5) == (cid[0] >> 5));
    if (p.encode_len)
      check(again[0] == cid[0]);
  } else {
    check(rv == QS_ERR_EMPTY || rv == QS_ERR_CIDLEN || rv == QS_ERR_UNROUTABLE ||
          rv == QS_ERR_NOCONF);
  }
  qs_lb_free(&lb);
}

static void fuzz_layout(uint8_t cfg, uint8_t host_len, uint8_t cid_len, const uint8_t *cid,
                        size_t cidlen) {
  static const uint8_t host[QS_HOST_ID_MAX] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  struct qs_keyring *kr = calloc(1, sizeof(*kr));
  uint8_t cr = (uint8_t)((cfg & 7) % 7), sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY];
  uint8_t again[QS_MAX_CIDLEN];
  uint32_t rk = 0, rk2 = 0, rk3 = 0, hl = 1 + host_len % QS_HOST_ID_MAX;
  int rv, rv2, mode = (cfg >> 6) & 1;
  size_t nl = 0;

  check(kr != NULL);
  if (qs_cidconf_init_mode(&kr->conf[cr], cr, 1 + cid_len % QS_MAX_CIDLEN, host, hl, mode,
                           (cfg & 0x10) ? key : NULL, (cfg >> 3) & 1) == 0) {
    kr->valid[cr] = 1;
    rv = qs_cidconf_route(&kr->conf[cr], cid, cidlen, &rk);
    rv2 = qs_keyring_route(kr, cid, cidlen, &rk2);
    /* The keyring looks at the rotation bits before the length, so only
     * for this slot's CIDs must the two fail alike. */
    check((rv == 0) == (rv2 == 0));
    if (cidlen > 0 && qs_lb_cr_of(cid[0]) == cr)
      check(rv == rv2);
    if (rv == 0) {
      check(rk == rk2);
      /* the full decode (either mode) agrees with the kernel's route, and
       * re-encodes to the same CID */
      check(qs_cidconf_decode(&kr->conf[cr], cid, cidlen, sid, &rk3, nonce, &nl) == 0);
      check(memcmp(sid, host, hl) == 0 && rk3 == rk);
      check(qs_cidconf_encode(&kr->conf[cr], rk, nonce, again) == (int)cidlen);
      check(memcmp(again + 1, cid + 1, cidlen - 1) == 0 && (again[0] >> 5) == (cid[0] >> 5));
      if (!mode) {
        check(qs_lb_decode(&kr->conf[cr].lb, cid, cidlen, sid, NULL) == 0);
        check(rk == (((uint32_t)sid[hl] << 24) | ((uint32_t)sid[hl + 1] << 16) |
                     ((uint32_t)sid[hl + 2] << 8) | sid[hl + 3]));
      } else {
        check(memcmp(cid + 1, host, hl) == 0);
      }
    } else if (mode && rv == QS_ERR_FOREIGN) {
      check(memcmp(cid + 1, host, hl) != 0);
    }
    qs_cidconf_free(&kr->conf[cr]);
  }
  free(kr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *cid;
  size_t cidlen;

  if (size < 3)
    return 0;
  cidlen = size - 3;
  cid = malloc(cidlen ? cidlen : 1);
  check(cid != NULL);
  memcpy(cid, data + 3, cidlen);
  if (data[0] & 0x20)
    fuzz_layout(data[0], data[1], data[2], cid, cidlen);
  else
    fuzz_plain(data[0], data[1], data[2], cid, cidlen);
  free(cid);
  return 0;
}
