/* steer_abi.h: what the BPF program (bpf/steer.bpf.c) and user space share:
 * map value layouts, limits, counter reasons.  Fixed-width types only.
 *
 * The maps are pinned under /sys/fs/bpf/quicsteer/NAME/ and outlive a process
 * (takeover), so any change to a struct here must bump QS_ABI_VERSION: a
 * process refuses to join pinned state of another ABI (QS_ERR_ABI).
 */
#ifndef QUICSTEER_STEER_ABI_H
#define QUICSTEER_STEER_ABI_H

#include "quicsteer/types.h"
#include "quicsteer/lb_types.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/siphash.h"

#define QS_ABI_VERSION 7

#define QS_MAX_GROUPS 4    /* reuseport groups (listen addresses) per instance */
#define QS_MAX_WORKERS 128 /* workers per generation */
#define QS_GEN_SLOTS 8     /* generations whose sockets can be registered at once */
#define QS_MAX_SOCKS (QS_GEN_SLOTS * QS_MAX_WORKERS * QS_MAX_GROUPS)
#define QS_NO_SLOT 0xffffffffu
#define QS_GROUP_SEARCH 0xfffffffeu
#define QS_CIDCACHE_SLOTS 16384 /* direct-mapped cache of decoded CIDs, shared by all CPUs (power of 2) */

/* Hand-written AES-128 key schedule, as bpf/aes128.h uses it: 11 round keys
 * for encryption and 11 (InvMixColumns applied) for decryption, big-endian
 * column words. */
struct qs_aes128_rk {
  uint32_t ek[44];
  uint32_t dk[44];
};

/* The sockets of worker (generation g, worker w) occupy the sockarray slots
 * qs_slot_base(g, w) + group, one per listen address.  Deterministic, so a
 * process needs no allocator shared with its predecessor: two live
 * generations must differ modulo QS_GEN_SLOTS. */
static inline uint32_t qs_slot_base(uint16_t generation, uint16_t worker) {
  return ((uint32_t)(generation % QS_GEN_SLOTS) * QS_MAX_WORKERS + worker) * QS_MAX_GROUPS;
}

/* qs_workers[qs_worker_index(rk)]: the registered worker of routing key rk.
 * An array indexed by the generation slot and the worker, not a hash map
 * keyed by rk: its lookup compiles to an address computation (a hash-map
 * lookup cost the CID decode ~40 ns here).  An entry names a worker only
 * while live and for exactly its own routing key (generations eight apart
 * share an index). */
struct qs_worker_ent {
  uint32_t rk;   /* qs_rk_make(generation, worker) */
  uint32_t base; /* qs_slot_base(generation, worker) */
  uint32_t live; /* 1 while registered */
  uint32_t pad;
};

QS_INLINE uint32_t qs_worker_index(uint32_t rk) {
  return (uint32_t)(qs_rk_generation(rk) % QS_GEN_SLOTS) * QS_MAX_WORKERS + qs_rk_worker(rk);
}

/* qs_lbconf[cr]: one QUIC-LB configuration the kernel can decode, with the
 * key schedule of bpf/aes128.h (unused for plaintext).  The raw key is kept
 * too (the pins are root-only), so that every live generation can decode
 * every other's CIDs in user space: the table is the instance's keyring. */
struct qs_lbconf {
  uint32_t valid;
  uint32_t generation; /* the generation that installed it */
  struct qs_route_conf rc;
  uint8_t key[16];     /* all zero for plaintext */
  struct qs_aes128_rk rk;
};

/* A listen address: the program learns which group a datagram is for from
 * the reuseport context's socket (family, local port and address). */
struct qs_group {
  uint16_t family; /* AF_INET or AF_INET6; 0 = unused */
  uint16_t port;   /* host byte order */
  uint32_t addr[4];  /* network byte order; IPv4 in addr[0]; all zero = any */
};

/* qs_global[0]: instance-wide settings. */
struct qs_global {
  uint32_t abi;       /* QS_ABI_VERSION of the creator */
  uint32_t ngroups;
  uint64_t hash_k0;   /* SipHash key for new-connection spreading */
  uint64_t hash_k1;
  uint32_t short_cid_len; /* DCID length a short header of an unknown config is hashed on */
  uint32_t epoch;         /* bumped by every unregister/config change: voids qs_cidcache */
  /* the group of an IPv4 / IPv6 datagram when that family has exactly one
   * group (the usual [::]:P + 0.0.0.0:P), else QS_GROUP_SEARCH: saves the
   * program from matching the socket's address */
  uint32_t group_v4;
  uint32_t group_v6;
  /* CID length of configuration cr (qs_lbconf[cr]), 0 if none: the cached
   * path needs no read of the configuration itself */
  uint8_t cid_len[8];
  struct qs_group groups[QS_MAX_GROUPS];
};

/* A DCID as the program keys and hashes it: zero-padded to 20 octets,
 * then its length: 24 octets, read as three little-endian words. */
union qs_cidkey {
  struct {
    uint8_t cid[QS_MAX_CIDLEN];
    uint32_t len;
  } k;
  uint64_t w[3];
};

/* qs_cidkey_set builds the key of the |len|-octet |cid| (user space; the
 * program fills keys with bpf_skb_load_bytes). */
QS_INLINE void qs_cidkey_set(union qs_cidkey *key, const uint8_t *cid, uint32_t len) {
  uint32_t i;
  key->w[0] = key->w[1] = key->w[2] = 0;
  for (i = 0; i < QS_MAX_CIDLEN && i < len; i++)
    key->k.cid[i] = cid[i];
  key->k.len = len;
}

/* qs_cidkey_hash: the hash new connections are spread by. */
QS_INLINE uint64_t qs_cidkey_hash(uint64_t k0, uint64_t k1, const union qs_cidkey *key) {
  return qs_siphash13_w3(k0, k1, key->w[0], key->w[1], key->w[2]);
}

/* qs_cidcache: a direct-mapped cache of the CIDs the program decoded,
 * shared by every CPU, so that later datagrams of a connection skip the AES
 * and the routing-key lookup, and a CID is decoded once per host, not once
 * per CPU it arrives on.  An array, not a hash map: an array lookup compiles
 * to one address computation, and the hit path touches the entry's own
 * line and nothing else (a per-CPU array also reads a pointer table).  A
 * CID's own bits pick the slot (quicsteer CIDs are random after the first
 * octets: ciphertext, or the random nonce of plaintext ones); a collision
 * merely costs a decode.  An entry counts while epoch == qs_global.epoch and
 * its check word matches the rest (qs_cidcache_check): two CPUs filling one
 * slot at once can leave an entry mixed from both, which the check rejects
 * (a false match is a 2^-32 chance per torn read, and then the worker that
 * receives the datagram relays it to its owner). */
struct qs_cidcache_ent {
  union qs_cidkey key;
  uint32_t base; /* qs_slot_base of the owning worker */
  uint32_t epoch;
  uint32_t rk;   /* the decoded routing key, handshake mark and mint time included */
  uint32_t check; /* qs_cidcache_check of the fields above */
};

/* qs_cidcache_check: an unkeyed mix of every field of an entry (64-bit
 * multiplies by odd constants, high half): fields from two different
 * entries do not agree with either's check. */
QS_INLINE uint32_t qs_cidcache_check(const union qs_cidkey *key, uint32_t base, uint32_t epoch,
                                     uint32_t rk) {
  uint64_t h = key->w[0] * 0x9e3779b97f4a7c15ULL;
  h = (h ^ key->w[1]) * 0xc2b2ae3d27d4eb4fULL;
  h = (h ^ key->w[2]) * 0x165667b19e3779f9ULL;
  h = (h ^ (((uint64_t)epoch << 32) | base)) * 0x9e3779b97f4a7c15ULL;
  h = (h ^ rk) * 0xc2b2ae3d27d4eb4fULL;
  return (uint32_t)(h >> 32);
}

QS_INLINE uint32_t qs_cidcache_slot(const union qs_cidkey *key) {
  uint64_t x = key->w[0] ^ key->w[1] ^ key->w[2];
  return (uint32_t)((x >> 32) ^ x ^ (x >> 17)) & (QS_CIDCACHE_SLOTS - 1);
}

/* qs_newset[0..1]: the workers that take new connections.  Two copies: a
 * writer fills the inactive one, then flips qs_active[0] with one 4-octet
 * store, so the program never sees a half-written set. */
struct qs_newset {
  uint32_t count;
  uint32_t generation;
  uint32_t base[QS_MAX_WORKERS]; /* qs_slot_base of each worker */
};

/* qs_gens[slot]: who owns a generation slot, so that a starting process can
 * tell a live predecessor from the pins of a dead one. */
struct qs_gen_owner {
  uint32_t pid;
  uint32_t generation;
  uint64_t starttime; /* field 22 of /proc/PID/stat: pids get reused */
  uint32_t workers;
  uint32_t state;     /* enum qs_gen_state */
  uint32_t mint_cr;   /* config-rotation bits this generation mints with */
  uint32_t cr_mask;   /* configurations this generation installed (bit cr) */
};

enum qs_gen_state {
  QS_GEN_FREE = 0,
  QS_GEN_STARTING = 1, /* registering sockets, not yet taking new connections */
  QS_GEN_SERVING = 2,
  QS_GEN_DRAINING = 3, /* keeps its connections, takes no new ones */
};

/* qs_counters: one per-CPU counter per decision.  Keep qs_ctr_names (lib)
 * and docs/steering.md in step. */
enum qs_ctr {
  QS_CTR_RX = 0,            /* datagrams the program saw: the sum of all others,
                               filled in by user space (qs_ctr_sum_rx) */
  QS_CTR_INITIAL_HASH,      /* Initial/0-RTT with a client-chosen DCID, spread by hash */
  QS_CTR_CID_ROUTED,        /* a quicsteer CID, delivered to its worker's socket */
  QS_CTR_FB_UNROUTABLE,     /* fallback: config-rotation bits 0b111 */
  QS_CTR_FB_NO_CONFIG,      /* fallback: no configuration for these bits */
  QS_CTR_FB_CIDLEN,         /* fallback: DCID length is not the configuration's */
  QS_CTR_FB_FOREIGN_HOST,   /* fallback: decodes to another host ID */
  QS_CTR_FB_UNKNOWN_WORKER, /* fallback: routing key not registered */
  QS_CTR_FB_SOCKET_GONE,    /* fallback: registered, but its socket is closed */
  QS_CTR_FB_VERSION,        /* fallback: version negotiation or unknown version */
  QS_CTR_FB_KERNEL,         /* no socket takes new connections: kernel's own choice */
  QS_CTR_DROP_EMPTY,        /* dropped: no UDP payload */
  QS_CTR_DROP_TRUNCATED,    /* dropped: long header ends before its CIDs */
  QS_CTR_DROP_CIDLEN,       /* dropped: QUIC v1/v2 CID longer than 20 octets */
  QS_CTR_DROP_SHORT,        /* dropped: short header below 21 octets */
  QS_CTR_INITIAL_REUSED,    /* Initial/0-RTT whose DCID is a quicsteer CID but not a fresh
                               handshake CID: spread by hash, not aimed at its worker */
  QS_CTR_MAX
};

/* Every datagram ends in exactly one decision counter; rx is their sum. */
static inline void qs_ctr_sum_rx(uint64_t c[QS_CTR_MAX]) {
  int i;
  c[QS_CTR_RX] = 0;
  for (i = QS_CTR_RX + 1; i < QS_CTR_MAX; i++)
    c[QS_CTR_RX] += c[i];
}

#endif
