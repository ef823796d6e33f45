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

#define QS_ABI_VERSION 1

#define QS_MAX_GROUPS 4    /* reuseport groups (listen addresses) per instance */
#define QS_MAX_WORKERS 128 /* workers per generation */
#define QS_GEN_SLOTS 8     /* generations whose sockets can be registered at once */
#define QS_MAX_SOCKS (QS_GEN_SLOTS * QS_MAX_WORKERS * QS_MAX_GROUPS)
#define QS_NO_SLOT 0xffffffffu

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

/* qs_lbconf[cr]: one QUIC-LB configuration the kernel can decode.  The
 * route part is struct qs_route_conf of lb_core.h, spelled out here so that
 * this header does not depend on the cipher binding. */
struct qs_lbconf {
  uint8_t valid;
  uint8_t cr;
  uint8_t alg;        /* enum qs_lb_alg */
  uint8_t sid_len;    /* host_id_len + 4 */
  uint8_t nonce_len;
  uint8_t encode_len;
  uint8_t host_id_len;
  uint8_t pad0;
  uint8_t host_id[12];
  uint32_t pad1;
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
  struct qs_group groups[QS_MAX_GROUPS];
};

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
  uint32_t pad;
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
  QS_CTR_RX = 0,            /* datagrams the program saw */
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
  QS_CTR_MAX
};

#endif
