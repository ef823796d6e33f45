/* steer.bpf.c: the sk_reuseport program that hands every QUIC datagram to
 * the socket of the worker that owns its connection.
 *
 * Per datagram (md->data starts at the UDP header; QUIC starts at offset 8):
 *  1. copy the first QS_HDR_SPAN-or-fewer octets and parse them with the
 *     shared parser (quic_header.h);
 *  2. if the DCID is a quicsteer CID (its config-rotation bits name a known
 *     configuration, it decodes to this host and to a registered routing
 *     key), select that worker's socket for this listen address.  Decoded
 *     CIDs are remembered in a per-CPU cache, so the AES and the routing-key
 *     lookup run once per CID, not once per datagram;
 *  3. otherwise spread by a keyed hash of the DCID alone over the workers
 *     that take new connections, so every packet of one handshake lands on
 *     the same worker, whatever the client's port;
 *  4. drop only what cannot be QUIC.  docs/steering.md lists each rule.
 * Every decision is counted (enum qs_ctr).
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "quicsteer/steer_abi.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/siphash.h"
#include "aes128.h"

/* The CID decode and the AES blocks are global BPF functions: the verifier
 * checks each once, on its own, instead of once per caller state (static
 * subprograms and inlining multiply by every path through the caller, which
 * exceeds the verifier's budget), and the unrolled AES rounds do not spill
 * into the caller's 512-octet stack.  Fixed-size struct arguments tell the
 * verifier how much memory each pointer covers. */
struct qs_blk {
  __u8 b[16];
};

__noinline int qs_bpf_aes_enc(const struct qs_aes128_rk *rk, struct qs_blk *out,
                              const struct qs_blk *in) {
  if (!rk || !out || !in)
    return 0;
  qs_aes128_encrypt(rk, out->b, in->b);
  return 0;
}

__noinline int qs_bpf_aes_dec(const struct qs_aes128_rk *rk, struct qs_blk *out,
                              const struct qs_blk *in) {
  if (!rk || !out || !in)
    return 0;
  qs_aes128_decrypt(rk, out->b, in->b);
  return 0;
}

#define QS_LB_CIPHER struct qs_aes128_rk
#define QS_LB_AES_ENCRYPT(c, out, in)                                                              \
  qs_bpf_aes_enc((c), (struct qs_blk *)(out), (const struct qs_blk *)(in))
#define QS_LB_AES_DECRYPT(c, out, in)                                                              \
  qs_bpf_aes_dec((c), (struct qs_blk *)(out), (const struct qs_blk *)(in))
#include "quicsteer/lb_core.h"

/* qs_bpf_route: lb_core.h's qs_lb_route, as a global function. */
__noinline int qs_bpf_route(const struct qs_lbconf *conf, const union qs_cidkey *key, __u32 *rk) {
  if (!conf || !key || !rk)
    return QS_ERR_INVAL;
  return qs_lb_route(&conf->rk, &conf->rc, key->k.cid, key->k.len, rk);
}

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IPV6 0x86DD
#define UDP_HDR_LEN 8
#define QS_COPY_LEN 48 /* >= 47: a v1/v2 long header's CIDs */
#define QS_NEWSET_TRIES 4
#define QS_NO_GROUP 0xffffffffu

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, QS_LB_MAX_CONFIGS);
  __type(key, __u32);
  __type(value, struct qs_lbconf);
} qs_lbconf SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, QS_GEN_SLOTS * QS_MAX_WORKERS);
  __type(key, __u32);   /* routing key */
  __type(value, __u32); /* qs_slot_base */
} qs_workers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, QS_CIDCACHE_SLOTS);
  __type(key, __u32);
  __type(value, struct qs_cidcache_ent);
} qs_cidcache SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, QS_MAX_SOCKS);
  __type(key, __u32);
  __type(value, __u64);
} qs_socks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct qs_newset);
} qs_newset SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} qs_active SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct qs_global);
} qs_global SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, QS_GEN_SLOTS);
  __type(key, __u32);
  __type(value, struct qs_gen_owner);
} qs_gens SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, QS_CTR_MAX);
  __type(key, __u32);
  __type(value, __u64);
} qs_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, QS_MAX_SOCKS);
  __type(key, __u32);
  __type(value, __u64);
} qs_sock_rx SEC(".maps");

static __always_inline void count(__u32 reason) {
  __u64 *c = bpf_map_lookup_elem(&qs_counters, &reason);
  if (c)
    *c += 1;
}

static __always_inline int deliver(struct sk_reuseport_md *md, __u32 slot) {
  __u64 *c;
  if (bpf_sk_select_reuseport(md, &qs_socks, &slot, 0) != 0)
    return -1;
  c = bpf_map_lookup_elem(&qs_sock_rx, &slot);
  if (c)
    *c += 1;
  return 0;
}

/* The listen group of this datagram.  Usually the family alone tells it
 * (one IPv4 and one IPv6 listener), from a context field; otherwise the
 * reuseport context's socket, one of the group's, names it by family, port
 * and address. */
static __always_inline __u32 find_group(struct sk_reuseport_md *md, const struct qs_global *g) {
  __u32 known = md->eth_protocol == bpf_htons(ETH_P_IPV6) ? g->group_v6 : g->group_v4;
  struct bpf_sock *sk;
  __u32 i, fam, port;

  if (known != QS_GROUP_SEARCH)
    return known;
  sk = md->sk;
  if (!sk)
    return QS_NO_GROUP;
  fam = sk->family;
  port = sk->src_port;
  for (i = 0; i < QS_MAX_GROUPS; i++) {
    const struct qs_group *gr = &g->groups[i];
    if (i >= g->ngroups)
      break;
    if (gr->family != fam || gr->port != port)
      continue;
    if (fam == AF_INET) {
      if (gr->addr[0] == sk->src_ip4)
        return i;
    } else if (gr->addr[0] == sk->src_ip6[0] && gr->addr[1] == sk->src_ip6[1] &&
               gr->addr[2] == sk->src_ip6[2] && gr->addr[3] == sk->src_ip6[3]) {
      return i;
    }
  }
  return QS_NO_GROUP;
}

/* Spread by SipHash of the DCID over the workers taking new connections.
 * A worker whose socket is gone is skipped; if none answers, the kernel's
 * own 4-tuple hash decides (counted as QS_CTR_FB_KERNEL). */
static __always_inline int spread(struct sk_reuseport_md *md, const struct qs_global *g,
                                  __u32 group, const union qs_cidkey *key, __u32 reason) {
  const struct qs_newset *set;
  __u32 zero = 0, *active, idx, i, n;
  __u64 h;

  if (group == QS_NO_GROUP)
    goto kernel;
  active = bpf_map_lookup_elem(&qs_active, &zero);
  if (!active)
    goto kernel;
  idx = *active & 1;
  set = bpf_map_lookup_elem(&qs_newset, &idx);
  if (!set)
    goto kernel;
  n = set->count;
  if (n == 0 || n > QS_MAX_WORKERS)
    goto kernel;
  h = qs_cidkey_hash(g->hash_k0, g->hash_k1, key);
  idx = qs_hash_pick(h, n);
  for (i = 0; i < QS_NEWSET_TRIES; i++) {
    if (deliver(md, set->base[idx & (QS_MAX_WORKERS - 1)] + group) == 0) {
      count(reason);
      return SK_PASS;
    }
    idx = idx + 1 < n ? idx + 1 : 0;
  }
kernel:
  count(QS_CTR_FB_KERNEL);
  return SK_PASS;
}

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the key masks below assume little-endian words"
#endif

/* The packet prefix is copied QS_PFX_SHIFT octets into an 8-aligned buffer,
 * so that a short header's DCID (payload offset 1) starts 8-aligned: its key
 * is then three word loads and a length mask, with no second copy. */
#define QS_PFX_SHIFT 7
#define QS_PFX_WORDS ((QS_PFX_SHIFT + QS_HDR_SPAN + 7) / 8)

/* the low |n| octets (0..8) of a little-endian word */
static __always_inline __u64 low_octets(__u32 n) {
  return n >= 8 ? ~0ULL : (1ULL << (8 * n)) - 1;
}

static __always_inline void short_key(union qs_cidkey *key, const __u64 *pfx, __u32 len) {
  key->w[0] = pfx[1] & low_octets(len);
  key->w[1] = pfx[2] & low_octets(len > 8 ? len - 8 : 0);
  key->w[2] = (pfx[3] & 0xffffffffULL & low_octets(len > 16 ? len - 16 : 0)) | ((__u64)len << 32);
}

SEC("sk_reuseport")
int qs_steer(struct sk_reuseport_md *md) {
  __u64 pfx[QS_PFX_WORDS]; /* not zeroed: every read is within the copied
                            * length, or masked by the CID length */
  __u8 *buf = (__u8 *)pfx + QS_PFX_SHIFT;
  union qs_cidkey key = {};
  const struct qs_global *g;
  const struct qs_lbconf *conf = NULL;
  struct qs_cidcache_ent *ent;
  struct qs_hdr h;
  __u32 zero = 0, len, cr = 0, cidlen, conf_len = 0, rk, group, reason, epoch, slot, *base;
  __u64 n; /* 64-bit: a u32 gets zero-extended copies the verifier cannot relate */
  int rv, is_new = 0;

  /* no QS_CTR_RX here: every path ends in exactly one decision counter, so
   * user space derives rx as their sum and the program saves a map update */
  len = md->len;
  if (len <= UDP_HDR_LEN) {
    count(QS_CTR_DROP_EMPTY);
    return SK_DROP;
  }
  len -= UDP_HDR_LEN;
  n = len < QS_COPY_LEN ? (__u64)len : QS_COPY_LEN;
  /* clang would test a copy of n and pass another: make the checked
   * register the one the helper gets, so the verifier sees the bound */
  asm volatile("" : "+r"(n));
  if (n < 1 || n > QS_COPY_LEN || bpf_skb_load_bytes(md, UDP_HDR_LEN, buf, n) != 0) {
    count(QS_CTR_DROP_TRUNCATED);
    return SK_DROP;
  }
  g = bpf_map_lookup_elem(&qs_global, &zero);
  if (!g) {
    count(QS_CTR_FB_KERNEL); /* cannot happen for an array; keeps the sum exact */
    return SK_PASS;
  }
  /* before any lookup: an entry cached with a stale epoch is void */
  epoch = g->epoch;
  group = find_group(md, g);

  rv = qs_hdr_parse(&h, buf, (__u32)n);
  if (h.type == QS_PKT_SHORT) {
    if (len < QS_SHORT_MIN_LEN) {
      count(QS_CTR_DROP_SHORT);
      return SK_DROP;
    }
    /* the DCID length comes from the configuration its first octet names */
    cr = qs_lb_cr_of(buf[1]);
    conf_len = g->cid_len[cr & 7];
    cidlen = conf_len ? conf_len : g->short_cid_len;
    if (cidlen > QS_MAX_CIDLEN)
      cidlen = QS_MAX_CIDLEN;
    short_key(&key, pfx, cidlen);
  } else {
    if (rv == QS_ERR_TRUNCATED) {
      count(QS_CTR_DROP_TRUNCATED);
      return SK_DROP;
    }
    if (rv == QS_ERR_CIDLEN) {
      if (h.version == QS_VERSION_V1 || h.version == QS_VERSION_V2) {
        count(QS_CTR_DROP_CIDLEN);
        return SK_DROP;
      }
      /* a future version may use long CIDs: any worker can answer it */
      count(QS_CTR_FB_VERSION);
      return SK_PASS;
    }
    /* long headers (handshakes) are rarer: an unaligned octet copy */
    qs_hdr_copy_cid(key.k.cid, buf, h.dcid_off, h.dcid_len);
    key.k.len = h.dcid_len;
    if (h.type == QS_PKT_VERSION_NEG || h.type == QS_PKT_LONG_OTHER) {
      reason = QS_CTR_FB_VERSION;
      goto hash;
    }
    is_new = h.type == QS_PKT_INITIAL || h.type == QS_PKT_0RTT;
    if (h.dcid_len == 0) {
      reason = QS_CTR_FB_CIDLEN;
      goto hash;
    }
    cr = qs_lb_cr_of(buf[h.dcid_off & (QS_HDR_SPAN - 1)]);
    conf_len = g->cid_len[cr & 7];
  }

  if (cr == QS_LB_CR_UNROUTABLE) {
    reason = QS_CTR_FB_UNROUTABLE;
    goto hash;
  }
  if (!conf_len) {
    reason = QS_CTR_FB_NO_CONFIG;
    goto hash;
  }
  if (group == QS_NO_GROUP) {
    reason = QS_CTR_FB_KERNEL;
    goto hash;
  }
  /* most client-chosen DCIDs are not our length: no cache or decode for them */
  if (key.k.len != conf_len) {
    reason = QS_CTR_FB_CIDLEN;
    goto hash;
  }
  slot = qs_cidcache_slot(&key);
  ent = bpf_map_lookup_elem(&qs_cidcache, &slot);
  if (ent && ent->epoch == epoch && ent->key.w[0] == key.w[0] && ent->key.w[1] == key.w[1] &&
      ent->key.w[2] == key.w[2]) {
    if (deliver(md, ent->base + group) == 0) {
      count(QS_CTR_CID_ROUTED);
      return SK_PASS;
    }
    reason = QS_CTR_FB_SOCKET_GONE;
    is_new = 0;
    goto hash;
  }
  /* not cached: decode with the configuration itself */
  conf = bpf_map_lookup_elem(&qs_lbconf, &cr);
  if (!conf || !conf->valid) {
    reason = QS_CTR_FB_NO_CONFIG;
    goto hash;
  }
  rv = qs_bpf_route(conf, &key, &rk);
  if (rv != 0) {
    reason = rv == QS_ERR_FOREIGN ? QS_CTR_FB_FOREIGN_HOST : QS_CTR_FB_CIDLEN;
    goto hash;
  }
  base = bpf_map_lookup_elem(&qs_workers, &rk);
  if (!base) {
    reason = QS_CTR_FB_UNKNOWN_WORKER;
    goto hash;
  }
  if (ent) {
    ent->key = key;
    ent->base = *base;
    ent->epoch = epoch;
  }
  if (deliver(md, *base + group) == 0) {
    count(QS_CTR_CID_ROUTED);
    return SK_PASS;
  }
  reason = QS_CTR_FB_SOCKET_GONE;
  is_new = 0; /* a registered CID whose socket is gone is a fallback even in an Initial */

hash:
  /* Initial and 0-RTT usually carry the client's own DCID: when it is not a
   * quicsteer CID that is the normal new-connection case, not a fallback. */
  if (is_new)
    reason = QS_CTR_INITIAL_HASH;
  return spread(md, g, group, &key, reason);
}
