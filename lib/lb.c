/* lb.c: QUIC-LB connection IDs in user space: lb_core.h's algorithms bound
 * to nettle's AES, plus quicsteer's layout (host ID || routing key) and the
 * keyring that picks a configuration by its config-rotation bits. */
#include <string.h>

#include "quicsteer/lb.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/util.h"

int qs_lb_init(struct qs_lb *lb, const struct qs_lb_params *p, const uint8_t *key) {
  struct qs_lb_params q = *p;
  int rv;

  memset(lb, 0, sizeof(*lb));
  q.alg = qs_lb_alg_for(key != NULL, (uint32_t)q.sid_len + q.nonce_len);
  q.encode_len = q.encode_len ? 1 : 0;
  memset(q.pad, 0, sizeof(q.pad));
  rv = qs_lb_params_check(&q);
  if (rv != 0)
    return rv;
  lb->p = q;
  if (key) {
    lb->keyed = 1;
    memcpy(lb->key, key, QS_LB_KEY_LEN);
    aes128_set_encrypt_key(&lb->cipher.enc, key);
    aes128_set_decrypt_key(&lb->cipher.dec, key);
  }
  return 0;
}

void qs_lb_free(struct qs_lb *lb) { explicit_bzero(lb, sizeof(*lb)); }

int qs_lb_encode(const struct qs_lb *lb, const uint8_t *sid, const uint8_t *nonce, uint8_t *cid,
                 size_t cidcap) {
  uint32_t plen = (uint32_t)lb->p.sid_len + lb->p.nonce_len;
  uint8_t body[QS_LB_BUF] = {0};
  uint8_t rnd = 0;

  if (cidcap < 1u + plen)
    return QS_ERR_INVAL;
  memcpy(body, sid, lb->p.sid_len);
  if (nonce) {
    memcpy(body + lb->p.sid_len, nonce, lb->p.nonce_len);
  } else if (qs_random(body + lb->p.sid_len, lb->p.nonce_len) != 0) {
    return QS_ERR_CRYPTO;
  }
  /* Without length self-encoding the draft wants the five low bits to carry
   * nothing an observer could link to other CIDs: fresh random bits. */
  if (!lb->p.encode_len && qs_random(&rnd, 1) != 0)
    return QS_ERR_CRYPTO;
  qs_lb_encrypt_body(&lb->cipher, lb->p.alg, body, plen);
  cid[0] = qs_lb_first_octet(&lb->p, rnd);
  memcpy(cid + 1, body, plen);
  explicit_bzero(body, sizeof(body));
  return (int)(1u + plen);
}

/* Checks shared by every decoder: length bounds and the first octet's
 * config-rotation bits against configuration |p|. */
static int check_cid(const struct qs_lb_params *p, const uint8_t *cid, size_t cidlen) {
  uint8_t cr;

  if (cidlen == 0)
    return QS_ERR_EMPTY;
  if (cidlen > QS_MAX_CIDLEN)
    return QS_ERR_CIDLEN;
  cr = qs_lb_cr_of(cid[0]);
  if (cr == QS_LB_CR_UNROUTABLE)
    return QS_ERR_UNROUTABLE;
  if (cr != p->cr)
    return QS_ERR_NOCONF;
  if (cidlen != qs_lb_cid_len(p))
    return QS_ERR_CIDLEN;
  if (p->encode_len && (cid[0] & 0x1f) != cidlen - 1)
    return QS_ERR_CIDLEN;
  return 0;
}

int qs_lb_decode(const struct qs_lb *lb, const uint8_t *cid, size_t cidlen, uint8_t *sid,
                 uint8_t *nonce) {
  uint32_t plen = (uint32_t)lb->p.sid_len + lb->p.nonce_len;
  uint8_t body[QS_LB_BUF] = {0};
  int rv = check_cid(&lb->p, cid, cidlen);

  if (rv != 0)
    return rv;
  memcpy(body, cid + 1, plen);
  /* Decrypt all of it when the caller wants the nonce; the server ID alone
   * may let the four-pass decryption stop after three passes. */
  qs_lb_decrypt_body(&lb->cipher, lb->p.alg, body, plen, nonce ? plen : lb->p.sid_len);
  if (sid)
    memcpy(sid, body, lb->p.sid_len);
  if (nonce)
    memcpy(nonce, body + lb->p.sid_len, lb->p.nonce_len);
  explicit_bzero(body, sizeof(body));
  return 0;
}

/* ---- quicsteer's layout ---- */

int qs_cidconf_init(struct qs_cidconf *cc, uint8_t cr, uint32_t cid_len, const uint8_t *host_id,
                    size_t host_id_len, const uint8_t *key, int encode_len) {
  return qs_cidconf_init_mode(cc, cr, cid_len, host_id, host_id_len, QS_SID_ENCRYPTED, key,
                              encode_len);
}

int qs_cidconf_init_mode(struct qs_cidconf *cc, uint8_t cr, uint32_t cid_len, const uint8_t *sid,
                         size_t sid_len, int mode, const uint8_t *key, int encode_len) {
  struct qs_lb_params p = {0};
  uint32_t rest;
  int rv;

  memset(cc, 0, sizeof(*cc));
  if (cr == QS_LB_CR_UNROUTABLE)
    return QS_ERR_UNROUTABLE;
  if (cr > QS_LB_CR_UNROUTABLE || sid == NULL ||
      (mode != QS_SID_ENCRYPTED && mode != QS_SID_CLEAR))
    return QS_ERR_INVAL;
  if (sid_len < 1 || sid_len > QS_HOST_ID_MAX || cid_len > QS_MAX_CIDLEN)
    return QS_ERR_CIDLEN;
  /* The random part is what keeps two CIDs for the same worker distinct
   * (and, under a key, unlinkable): the draft's 4-octet nonce minimum,
   * counted after the routing key, which is not random. */
  if (cid_len < qs_cid_len_min(sid_len))
    return QS_ERR_CIDLEN;
  rest = cid_len - 1 - (uint32_t)sid_len; /* routing key || random */
  p.cr = cr;
  p.encode_len = encode_len ? 1 : 0;
  if (mode == QS_SID_ENCRYPTED) {
    p.sid_len = (uint8_t)(sid_len + QS_RK_LEN);
    p.nonce_len = (uint8_t)(rest - QS_RK_LEN);
  } else {
    /* the part after the server ID, keyed as a QUIC-LB body of its own */
    p.sid_len = QS_RK_LEN;
    p.nonce_len = (uint8_t)(rest - QS_RK_LEN);
    p.encode_len = 0;
  }
  rv = qs_lb_init(&cc->lb, &p, key);
  if (rv != 0)
    return rv;
  cc->rc.p = cc->lb.p;
  if (mode == QS_SID_CLEAR) {
    /* what a balancer sees: a plaintext QUIC-LB configuration */
    cc->rc.p.alg = QS_LB_PLAINTEXT;
    cc->rc.p.sid_len = (uint8_t)sid_len;
    cc->rc.p.nonce_len = (uint8_t)rest;
    cc->rc.p.encode_len = encode_len ? 1 : 0;
    cc->rc.inner_alg = cc->lb.p.alg;
    rv = qs_lb_params_check(&cc->rc.p);
    if (rv != 0) {
      qs_cidconf_free(cc);
      return rv;
    }
  }
  cc->rc.mode = (uint8_t)mode;
  cc->rc.host_id_len = (uint8_t)sid_len;
  memcpy(cc->rc.host_id, sid, sid_len);
  return 0;
}

uint32_t qs_cid_len_default(int mode, size_t sid_len) {
  uint32_t min = qs_cid_len_min(sid_len), len;

  if (sid_len < 1 || min > QS_MAX_CIDLEN)
    return 0;
  if (mode == QS_SID_CLEAR)
    len = (uint32_t)(1 + sid_len + 16);
  else
    len = QS_CID_LEN_DEFAULT;
  if (len > QS_MAX_CIDLEN)
    len = QS_MAX_CIDLEN;
  return len < min ? min : len;
}

void qs_cidconf_free(struct qs_cidconf *cc) {
  qs_lb_free(&cc->lb);
  explicit_bzero(cc, sizeof(*cc));
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int qs_cidconf_mint(const struct qs_cidconf *cc, uint32_t rk, uint8_t *cid) {
  return qs_cidconf_encode(cc, rk, NULL, cid);
}

int qs_cidconf_encode(const struct qs_cidconf *cc, uint32_t rk, const uint8_t *nonce,
                      uint8_t *cid) {
  uint8_t sid[QS_LB_MAX_SID], inner[QS_MAX_CIDLEN];
  uint32_t hl = cc->rc.host_id_len;
  int n;

  if (cc->rc.mode != QS_SID_CLEAR) {
    memcpy(sid, cc->rc.host_id, hl);
    put_be32(sid + hl, rk);
    return qs_lb_encode(&cc->lb, sid, nonce, cid, QS_MAX_CIDLEN);
  }
  put_be32(sid, rk);
  n = qs_lb_encode(&cc->lb, sid, nonce, inner, sizeof(inner));
  if (n < 0)
    return n;
  /* inner[0]'s low bits are fresh random ones (no length encoding there) */
  cid[0] = qs_lb_first_octet(&cc->rc.p, inner[0]);
  memcpy(cid + 1, cc->rc.host_id, hl);
  memcpy(cid + 1 + hl, inner + 1, (size_t)n - 1);
  explicit_bzero(inner, sizeof(inner));
  return (int)(1 + hl + (uint32_t)n - 1);
}

int qs_cidconf_decode(const struct qs_cidconf *cc, const uint8_t *cid, size_t cidlen,
                      uint8_t *sid, uint32_t *rk, uint8_t *nonce, size_t *nonce_len) {
  uint8_t body[QS_LB_MAX_SID], inner[QS_MAX_CIDLEN];
  uint32_t hl = cc->rc.host_id_len;
  int rv = check_cid(&cc->rc.p, cid, cidlen);

  if (rv != 0)
    return rv;
  if (cc->rc.mode != QS_SID_CLEAR) {
    rv = qs_lb_decode(&cc->lb, cid, cidlen, body, nonce);
    if (sid)
      memcpy(sid, body, hl);
    if (rk)
      *rk = get_be32(body + hl);
  } else {
    /* the enciphered part as the CID of the inner configuration (same cr
     * bits, no length encoding) */
    inner[0] = cid[0];
    memcpy(inner + 1, cid + 1 + hl, cidlen - 1 - hl);
    rv = qs_lb_decode(&cc->lb, inner, cidlen - hl, body, nonce);
    if (sid)
      memcpy(sid, cid + 1, hl);
    if (rk)
      *rk = get_be32(body);
    explicit_bzero(inner, sizeof(inner));
  }
  if (nonce_len)
    *nonce_len = cc->lb.p.nonce_len;
  explicit_bzero(body, sizeof(body));
  return rv;
}

int qs_cidconf_route(const struct qs_cidconf *cc, const uint8_t *cid, size_t cidlen,
                     uint32_t *rk) {
  int rv = check_cid(&cc->rc.p, cid, cidlen);

  if (rv != 0)
    return rv;
  /* The same inline routine the BPF program runs, so that user space and
   * the kernel cannot disagree about where a CID goes. */
  return qs_lb_route(&cc->lb.cipher, &cc->rc, cid, (uint32_t)cidlen, rk);
}

int qs_server_id_parse(uint8_t out[QS_LB_MAX_SID], const char *text) {
  if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    text += 2;
  return qs_hex_decode(out, QS_LB_MAX_SID, text);
}

int qs_sid_mode_parse(const char *text) {
  if (strcmp(text, "encrypted") == 0)
    return QS_SID_ENCRYPTED;
  if (strcmp(text, "clear") == 0)
    return QS_SID_CLEAR;
  return QS_ERR_INVAL;
}

const char *qs_sid_mode_name(int mode) {
  return mode == QS_SID_CLEAR ? "clear" : mode == QS_SID_ENCRYPTED ? "encrypted" : "?";
}

int qs_keyring_foreign(const struct qs_keyring *kr, const uint8_t *cid, size_t cidlen) {
  const struct qs_route_conf *rc;

  if (kr->mint_cr >= QS_LB_MAX_CONFIGS || !kr->valid[kr->mint_cr])
    return 0;
  rc = &kr->conf[kr->mint_cr].rc;
  if (rc->mode != QS_SID_CLEAR || cidlen < 1u + rc->host_id_len)
    return 0;
  return memcmp(cid + 1, rc->host_id, rc->host_id_len) != 0;
}

int qs_keyring_route(const struct qs_keyring *kr, const uint8_t *cid, size_t cidlen,
                     uint32_t *rk) {
  uint8_t cr;

  if (cidlen == 0)
    return QS_ERR_EMPTY;
  cr = qs_lb_cr_of(cid[0]);
  if (cr == QS_LB_CR_UNROUTABLE)
    return QS_ERR_UNROUTABLE;
  if (!kr->valid[cr])
    return QS_ERR_NOCONF;
  return qs_cidconf_route(&kr->conf[cr], cid, cidlen, rk);
}
