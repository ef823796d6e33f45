/* lb.h: QUIC-LB connection IDs in user space (draft-ietf-quic-load-
 * balancers-21) and quicsteer's layout on top of them.
 *
 * The algorithms are lb_core.h's inline code, bound here to nettle's AES;
 * the BPF program binds the same code to its own table AES.
 *
 * Two levels:
 *  - struct qs_lb: one plain QUIC-LB configuration (cr bits, server ID length,
 *    nonce length, optional key).  Encode/decode of (server ID, nonce).
 *  - struct qs_cidconf: quicsteer's layout, a QUIC-LB configuration whose
 *    server ID is host ID || routing key (generation 16 | worker 16): mint a
 *    CID for a routing key, route a CID back to one.  docs/cid-layout.md.
 *  - struct qs_keyring: the configurations a host knows (up to 7, one per
 *    cr codepoint), one of which mints.
 */
#ifndef QUICSTEER_LB_H
#define QUICSTEER_LB_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/aes.h>

#include "quicsteer/errors.h"

struct qs_lb_nettle {
  struct aes128_ctx enc;
  struct aes128_ctx dec;
};
#define QS_LB_CIPHER struct qs_lb_nettle
#define QS_LB_AES_ENCRYPT(c, out, in) aes128_encrypt(&(c)->enc, 16, (out), (in))
#define QS_LB_AES_DECRYPT(c, out, in) aes128_decrypt(&(c)->dec, 16, (out), (in))
#include "quicsteer/lb_core.h"

#define QS_LB_KEY_LEN 16

#ifdef __cplusplus
extern "C" {
#endif

struct qs_lb {
  struct qs_lb_params p;
  int keyed;
  uint8_t key[QS_LB_KEY_LEN];
  struct qs_lb_nettle cipher;
};

/* qs_lb_init prepares |lb| for configuration |p| (cr, sid_len, nonce_len,
 * encode_len; p->alg is ignored and derived: plaintext when |key| is NULL,
 * else single-pass AES for 16-octet bodies and four-pass otherwise).
 * Returns 0, QS_ERR_UNROUTABLE (cr 7), QS_ERR_INVAL (cr > 7) or
 * QS_ERR_CIDLEN (lengths outside the draft's limits). */
int qs_lb_init(struct qs_lb *lb, const struct qs_lb_params *p, const uint8_t *key);

/* qs_lb_free wipes the key material. */
void qs_lb_free(struct qs_lb *lb);

/* qs_lb_encode writes the CID for |sid| (sid_len octets) and |nonce|
 * (nonce_len octets; NULL: drawn from the CSPRNG) to |cid|, which has room
 * for |cidcap| octets.  When the first octet's low bits are not the length
 * they are random.  Returns the CID length, QS_ERR_INVAL if |cidcap| is too
 * small, or QS_ERR_CRYPTO if the CSPRNG fails. */
int qs_lb_encode(const struct qs_lb *lb, const uint8_t *sid, const uint8_t *nonce, uint8_t *cid,
                 size_t cidcap);

/* qs_lb_decode recovers server ID and nonce (either output may be NULL)
 * from the |cidlen|-octet |cid|.  Returns 0, or QS_ERR_EMPTY (cidlen 0),
 * QS_ERR_CIDLEN (not this configuration's length, or longer than 20, or a
 * self-encoded length that disagrees), QS_ERR_UNROUTABLE (cr bits 0b111),
 * QS_ERR_NOCONF (cr bits of another configuration). */
int qs_lb_decode(const struct qs_lb *lb, const uint8_t *cid, size_t cidlen, uint8_t *sid,
                 uint8_t *nonce);

/* ---- quicsteer's layout ---- */

#define QS_CID_LEN_DEFAULT 17     /* 1 + 16: single-pass AES */
#define QS_HOST_ID_LEN_DEFAULT 2
#define QS_CID_MIN_RANDOM 4       /* random nonce octets after the routing key */

struct qs_cidconf {
  struct qs_route_conf rc; /* what the kernel gets (with the key schedule) */
  /* the QUIC-LB configuration the key drives: encrypted mode, the whole
   * CID's (== rc.p); clear mode, that of the part after the server ID, as
   * if it were a CID of its own with the routing key as server ID */
  struct qs_lb lb;
};

/* qs_cidconf_init sets up layout configuration |cr| for CIDs of |cid_len|
 * octets (first octet included) carrying |host_id| (|host_id_len| octets,
 * 1..11) and a routing key, under |key| (NULL: plaintext).  The random part
 * (cid_len - 1 - host_id_len - 4) must be at least QS_CID_MIN_RANDOM.
 * |encode_len| selects length self-encoding in the first octet.
 * Returns 0, QS_ERR_UNROUTABLE, QS_ERR_INVAL or QS_ERR_CIDLEN. */
int qs_cidconf_init(struct qs_cidconf *cc, uint8_t cr, uint32_t cid_len, const uint8_t *host_id,
                    size_t host_id_len, const uint8_t *key, int encode_len);

/* qs_cidconf_init_mode is qs_cidconf_init for either server-ID mode (enum
 * qs_sid_mode): |sid| (|sid_len| octets, 1..11) is the host's server ID.  In
 * QS_SID_CLEAR mode it goes in the clear in octets 1..sid_len, followed by
 * the routing key and at least QS_CID_MIN_RANDOM random octets under |key|.
 * Same returns, and QS_ERR_INVAL for an unknown mode. */
int qs_cidconf_init_mode(struct qs_cidconf *cc, uint8_t cr, uint32_t cid_len, const uint8_t *sid,
                         size_t sid_len, int mode, const uint8_t *key, int encode_len);

/* qs_cid_len_default returns the CID length a server uses for a server ID of
 * |sid_len| octets in |mode|, or 0 when none fits in 20 octets.  Encrypted:
 * 17 (one AES block) when it fits, else the shortest.  Clear: a 16-octet
 * enciphered part (one AES block) when it fits (server ID <= 3), else 20. */
uint32_t qs_cid_len_default(int mode, size_t sid_len);

/* qs_cid_len_min is the shortest CID a server ID of |sid_len| octets allows
 * (first octet, server ID, routing key, QS_CID_MIN_RANDOM random octets);
 * it is the same in both modes. */
static inline uint32_t qs_cid_len_min(size_t sid_len) {
  return (uint32_t)(1 + sid_len + QS_RK_LEN + QS_CID_MIN_RANDOM);
}

void qs_cidconf_free(struct qs_cidconf *cc);

static inline uint32_t qs_cidconf_cid_len(const struct qs_cidconf *cc) {
  return qs_lb_cid_len(&cc->rc.p);
}

/* qs_cidconf_mint writes a fresh CID for routing key |rk| to |cid| (room for
 * QS_MAX_CIDLEN octets).  Returns the CID length or QS_ERR_CRYPTO. */
int qs_cidconf_mint(const struct qs_cidconf *cc, uint32_t rk, uint8_t *cid);

/* qs_cidconf_encode is qs_cidconf_mint with the random part given: |nonce|
 * (cid_len - 1 - host ID - 4 octets; NULL: from the CSPRNG).  For tests and
 * `quicsteer cid mint --nonce`. */
int qs_cidconf_encode(const struct qs_cidconf *cc, uint32_t rk, const uint8_t *nonce,
                      uint8_t *cid);

/* qs_cidconf_route returns in |*rk| the routing key of a CID minted under
 * |cc|.  Returns 0, QS_ERR_EMPTY, QS_ERR_UNROUTABLE, QS_ERR_NOCONF (another
 * configuration's cr bits), QS_ERR_CIDLEN or QS_ERR_FOREIGN (another
 * host's ID). */
int qs_cidconf_route(const struct qs_cidconf *cc, const uint8_t *cid, size_t cidlen,
                     uint32_t *rk);

/* qs_cidconf_decode takes a CID minted under |cc| apart without checking
 * whose it is: the server ID (host_id_len octets) to |sid|, the routing key
 * to |*rk| and the random part (*nonce_len octets) to |nonce|; any output
 * may be NULL.  Returns 0, QS_ERR_EMPTY, QS_ERR_UNROUTABLE, QS_ERR_NOCONF or
 * QS_ERR_CIDLEN. */
int qs_cidconf_decode(const struct qs_cidconf *cc, const uint8_t *cid, size_t cidlen,
                      uint8_t *sid, uint32_t *rk, uint8_t *nonce, size_t *nonce_len);

/* qs_server_id_parse reads a server ID given as hex, with or without a
 * leading "0x" (so that an AWS NLB QuicServerId pastes as is), into |out|.
 * Returns its length (1..15), QS_ERR_HEX (not hex, odd length, empty) or
 * QS_ERR_INVAL (longer than 15 octets). */
int qs_server_id_parse(uint8_t out[QS_LB_MAX_SID], const char *text);

/* qs_sid_mode_parse maps "encrypted" / "clear" to enum qs_sid_mode, else
 * QS_ERR_INVAL; qs_sid_mode_name the other way. */
int qs_sid_mode_parse(const char *text);
const char *qs_sid_mode_name(int mode);

struct qs_keyring {
  struct qs_cidconf conf[QS_LB_MAX_CONFIGS];
  uint8_t valid[QS_LB_MAX_CONFIGS];
  uint8_t mint_cr; /* the configuration new CIDs use */
};

/* qs_keyring_foreign returns 1 when the |cidlen|-octet |cid| is certainly
 * another host's: the minting configuration puts the server ID in the clear
 * and |cid| carries a different one in octets 1..L, whatever its
 * config-rotation bits say (they may name a configuration this host does
 * not hold, or no longer holds).  Else 0. */
int qs_keyring_foreign(const struct qs_keyring *kr, const uint8_t *cid, size_t cidlen);

/* qs_keyring_route routes |cid| with the configuration its cr bits name.
 * Same returns as qs_cidconf_route. */
int qs_keyring_route(const struct qs_keyring *kr, const uint8_t *cid, size_t cidlen,
                     uint32_t *rk);

#ifdef __cplusplus
}
#endif

#endif
