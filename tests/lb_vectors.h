/* lb_vectors.h: the QUIC-LB draft's test vectors
 * ($QS_VECTORS, tests/data/quic-lb-vectors.tsv) for the tests that check a
 * binding of lb_core.h against them (test_lb: nettle; test_aes128: the
 * kernel's table AES).  A missing or empty file fails the test. */
#ifndef QS_TEST_LB_VECTORS_H
#define QS_TEST_LB_VECTORS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quicsteer/lb_types.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/util.h"

struct lb_vector {
  int keyed;
  uint8_t key[16];
  uint8_t cr;
  uint8_t sid[QS_LB_MAX_SID];
  size_t sid_len;
  uint8_t nonce[QS_LB_MAX_BODY];
  size_t nonce_len;
  uint8_t body[QS_LB_MAX_BODY]; /* server ID || nonce: the plaintext body */
  uint8_t cid[QS_MAX_CIDLEN];
  size_t cid_len;
};

static size_t lb_vector_hex(uint8_t *out, size_t cap, const char *hex) {
  int n = qs_hex_decode(out, cap, hex);
  if (n <= 0)
    fail_msg("bad hex in the vectors file: %s", hex);
  return (size_t)n;
}

/* load_vectors parses every row into |v| (room for |cap|). */
static size_t load_vectors(struct lb_vector *v, size_t cap) {
  const char *path = getenv("QS_VECTORS");
  char line[1024];
  size_t n = 0;
  FILE *f;

  if (path == NULL)
    fail_msg("QS_VECTORS is not set: cannot find the QUIC-LB vectors");
  f = fopen(path, "r");
  if (f == NULL)
    fail_msg("cannot open %s: %s", path, strerror(errno));
  while (fgets(line, sizeof(line), f)) {
    char alg[32], key[64], sid[64], nonce[64], cid[64];
    unsigned cr;
    if (line[0] == '#' || line[0] == '\n')
      continue;
    if (sscanf(line, "%31s %63s %u %63s %63s %63s", alg, key, &cr, sid, nonce, cid) != 6)
      fail_msg("malformed vector line: %s", line);
    if (n >= cap)
      fail_msg("more vectors than expected in %s", path);
    memset(&v[n], 0, sizeof(v[n]));
    v[n].keyed = strcmp(alg, "encrypted") == 0;
    if (!v[n].keyed && strcmp(alg, "plaintext") != 0)
      fail_msg("unknown algorithm %s in %s", alg, path);
    if (v[n].keyed && lb_vector_hex(v[n].key, 16, key) != 16)
      fail_msg("key of %s is not 16 octets", cid);
    v[n].cr = (uint8_t)cr;
    v[n].sid_len = lb_vector_hex(v[n].sid, sizeof(v[n].sid), sid);
    v[n].nonce_len = lb_vector_hex(v[n].nonce, sizeof(v[n].nonce), nonce);
    v[n].cid_len = lb_vector_hex(v[n].cid, sizeof(v[n].cid), cid);
    if (v[n].cid_len != 1 + v[n].sid_len + v[n].nonce_len)
      fail_msg("CID %s is not 1 + server ID + nonce octets", cid);
    memcpy(v[n].body, v[n].sid, v[n].sid_len);
    memcpy(v[n].body + v[n].sid_len, v[n].nonce, v[n].nonce_len);
    n++;
  }
  fclose(f);
  if (n == 0)
    fail_msg("%s holds no vectors", path);
  return n;
}

#endif
