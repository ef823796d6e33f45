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
  struct qs_lb_params p = {0};
  uint32_t sid_len;
  int rv;

  memset(cc, 0, sizeof(*cc));
  if (cr == QS_LB_CR_UNROUTABLE)
    return QS_ERR_UNROUTABLE;
  if (cr > QS_LB_CR_UNROUTABLE || host_id == NULL)
    return QS_ERR_INVAL;
  if (host_id_len < 1 || host_id_len > QS_HOST_ID_MAX || cid_len > QS_MAX_CIDLEN)
    return QS_ERR_CIDLEN;
  sid_len = (uint32_t)host_id_len + QS_RK_LEN;
  /* The random part is what keeps two CIDs for the same worker distinct
   * (and, under a key, unlinkable): the draft's 4-octet nonce minimum,
   * counted after the routing key, which is not random. */
  if (cid_len < 1 + sid_len + QS_CID_MIN_RANDOM)
    return QS_ERR_CIDLEN;
  p.cr = cr;
  p.sid_len = (uint8_t)sid_len;
  p.nonce_len = (uint8_t)(cid_len - 1 - sid_len);
  p.encode_len = encode_len ? 1 : 0;
  rv = qs_lb_init(&cc->lb, &p, key);
  if (rv != 0)
    return rv;
  cc->rc.p = cc->lb.p;
  cc->rc.host_id_len = (uint8_t)host_id_len;
  memcpy(cc->rc.host_id, host_id, host_id_len);
  return 0;
}

void qs_cidconf_free(struct qs_cidconf *cc) {
  qs_lb_free(&cc->lb);
  explicit_bzero(cc, sizeof(*cc));
}

int qs_cidconf_mint(const struct qs_cidconf *cc, uint32_t rk, uint8_t *cid) {
  uint8_t sid[QS_LB_MAX_SID];
  uint32_t hl = cc->rc.host_id_len;

  memcpy(sid, cc->rc.host_id, hl);
  sid[hl] = (uint8_t)(rk >> 24);
  sid[hl + 1] = (uint8_t)(rk >> 16);
  sid[hl + 2] = (uint8_t)(rk >> 8);
  sid[hl + 3] = (uint8_t)rk;
  return qs_lb_encode(&cc->lb, sid, NULL, cid, QS_MAX_CIDLEN);
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
