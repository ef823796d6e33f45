/* steer.bpf.c: the sk_reuseport program that hands every QUIC datagram to
 * the socket of the worker that owns its connection.
 *
 * The decision itself is include/quicsteer/classify.h's, the same function
 * the workers run in user space; this file binds it to the kernel (shared
 * cache of decoded CIDs, config map, table AES, coarse clock) and acts on it.
 * Per datagram (md->data starts at the UDP header; QUIC starts at offset 8):
 *  1. copy the first QS_CLS_COPY-or-fewer octets and classify them;
 *  2. a quicsteer CID (its config-rotation bits name a known configuration,
 *     it decodes to this host; for an Initial, a fresh handshake CID) whose
 *     routing key is registered goes to that worker's socket for this listen
 *     address.  Decoded CIDs are remembered in a cache shared by all CPUs,
 *     so the AES and the routing-key lookup run once per CID per host, not
 *     once per datagram or per CPU;
 *  3. everything else that may be QUIC is spread by a keyed hash of the DCID
 *     alone over the workers that take new connections, so every packet of
 *     one handshake lands on the same worker, whatever the client's port;
 *  4. drop only what cannot be QUIC.  docs/steering.md lists each rule.
 * Every decision is counted (enum qs_ctr).
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "quicsteer/steer_abi.h"
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
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
  __uint(max_entries, QS_GEN_SLOTS * QS_MAX_WORKERS);
  __type(key, __u32); /* qs_worker_index */
  __type(value, struct qs_worker_ent);
} qs_workers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
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

#include "quicsteer/classify.h"

/* The classifier's kernel binding (include/quicsteer/classify.h): a DCID is
 * looked up in the shared cache of decoded CIDs first, then decoded with
 * its configuration from the config map.  |ent| is the cache slot, filled
 * once the owner is known to be registered. */
struct qs_bpf_cls {
  struct qs_cidcache_ent *ent;
  __u32 epoch; /* qs_global.epoch, read before any lookup */
  __u32 base;  /* on a hit: the cached owner's slot base */
  __u32 rk;    /* the decoded routing key, as cached */
  __u32 hit;
};

static __always_inline int bpf_decode(struct qs_bpf_cls *x, const struct qs_cls *c, __u32 *rk) {
  const struct qs_lbconf *conf;
  struct qs_cidcache_ent *ent;
  __u32 slot = qs_cidcache_slot(&c->key), cr = c->cr;
  int rv;

  ent = bpf_map_lookup_elem(&qs_cidcache, &slot);
  x->ent = ent;
  if (ent && ent->epoch == x->epoch && ent->key.w[0] == c->key.w[0] &&
      ent->key.w[1] == c->key.w[1] && ent->key.w[2] == c->key.w[2]) {
    __u32 b = ent->base, r = ent->rk;
    if (ent->check == qs_cidcache_check(&c->key, b, x->epoch, r)) {
      x->hit = 1;
      x->base = b;
      *rk = x->rk = r;
      return 0;
    }
  }
  /* not cached: decode with the configuration itself */
  conf = bpf_map_lookup_elem(&qs_lbconf, &cr);
  if (!conf || !conf->valid)
    return QS_ERR_NOCONF;
  rv = qs_bpf_route(conf, &c->key, rk);
  x->rk = *rk;
  return rv;
}

#define QS_CLS_CTX struct qs_bpf_cls
#define QS_CLS_DECODE(x, c, rk) bpf_decode((x), (c), (rk))
#define QS_CLS_NOW(x) qs_hs_tick_of(bpf_ktime_get_coarse_ns())
#include "quicsteer/classify.h"

/* The header prefix into |pfx| (QS_CLS_SHIFT octets in, as classify.h
 * wants it); returns how many octets it holds, 0 on failure.  Usually read
 * straight from the packet's linear part: a short header needs only its
 * first 21 octets (QS_SHORT_MIN_LEN: the first octet and a DCID of up to 20;
 * the classifier reads nothing else of it), a long header the first
 * QS_CLS_COPY.  Only when the linear part is shorter than that (a long header
 * under QS_CLS_COPY octets, a paged skb) is bpf_skb_load_bytes called: a
 * helper call (with its return thunks) costs more than the rest of the
 * cached path.  Unaligned 8-octet packet loads are fine on this JIT; the
 * stack stores stay 8-aligned. */
static __always_inline __u64 load_prefix(struct sk_reuseport_md *md, __u64 *pfx, __u32 len) {
  const __u8 *q = (const __u8 *)(long)md->data + UDP_HDR_LEN;
  const __u8 *end = (const __u8 *)(long)md->data_end;
  __u64 n;

  if (q + QS_SHORT_MIN_LEN <= end) {
    pfx[0] = (__u64)q[0] << 56;
    pfx[1] = *(const __u64 *)(q + 1);
    pfx[2] = *(const __u64 *)(q + 9);
    if (!qs_hdr_is_long(q[0])) {
      pfx[3] = *(const __u32 *)(q + 17);
      return QS_SHORT_MIN_LEN;
    }
    if (len >= QS_CLS_COPY && q + QS_CLS_COPY <= end) {
      pfx[3] = *(const __u64 *)(q + 17);
      pfx[4] = *(const __u64 *)(q + 25);
      pfx[5] = *(const __u64 *)(q + 33);
      pfx[6] = *(const __u64 *)(q + 40) >> 8; /* octets 41..47 */
      return QS_CLS_COPY;
    }
  }
  n = len < QS_CLS_COPY ? (__u64)len : QS_CLS_COPY;
  /* clang would test a copy of n and pass another: make the checked
   * register the one the helper gets, so the verifier sees the bound */
  asm volatile("" : "+r"(n));
  if (n < 1 || n > QS_CLS_COPY ||
      bpf_skb_load_bytes(md, UDP_HDR_LEN, (__u8 *)pfx + QS_CLS_SHIFT, n) != 0)
    return 0;
  return n;
}

SEC("sk_reuseport")
int qs_steer(struct sk_reuseport_md *md) {
  __u64 pfx[QS_CLS_WORDS]; /* not zeroed: every read is within the copied
                            * length, or masked by the CID length */
  const struct qs_global *g;
  struct qs_bpf_cls x = {};
  struct qs_cls c;
  const struct qs_worker_ent *w;
  __u32 zero = 0, len, group, b, widx;
  __u64 n; /* 64-bit: a u32 gets zero-extended copies the verifier cannot relate */

  /* no QS_CTR_RX here: every path ends in exactly one decision counter, so
   * user space derives rx as their sum and the program saves a map update */
  len = md->len;
  if (len <= UDP_HDR_LEN) {
    count(QS_CTR_DROP_EMPTY);
    return SK_DROP;
  }
  len -= UDP_HDR_LEN;
  n = load_prefix(md, pfx, len);
  if (n == 0) {
    count(QS_CTR_DROP_TRUNCATED);
    return SK_DROP;
  }
  g = bpf_map_lookup_elem(&qs_global, &zero);
  if (!g) {
    count(QS_CTR_FB_KERNEL); /* cannot happen for an array; keeps the sum exact */
    return SK_PASS;
  }
  /* before any lookup: an entry cached with a stale epoch is void */
  x.epoch = g->epoch;
  group = find_group(md, g);

  if (qs_classify(&c, &x, pfx, (__u32)n, len, g->cid_len, g->short_cid_len) == QS_VERDICT_DROP) {
    count(c.reason);
    return SK_DROP;
  }
  if (c.nokey) {
    count(c.reason); /* a DCID over 20 octets: the kernel's own choice */
    return SK_PASS;
  }
  if (c.verdict == QS_VERDICT_ROUTE && group != QS_NO_GROUP) {
    if (x.hit) {
      b = x.base;
    } else {
      widx = qs_worker_index(c.rk);
      w = bpf_map_lookup_elem(&qs_workers, &widx);
      if (!w || !w->live || w->rk != c.rk) {
        qs_classify_unowned(&c, QS_CTR_FB_UNKNOWN_WORKER);
        goto hash;
      }
      b = w->base;
      if (x.ent) {
        x.ent->key = c.key;
        x.ent->base = b;
        x.ent->rk = x.rk;
        x.ent->epoch = x.epoch;
        x.ent->check = qs_cidcache_check(&c.key, b, x.epoch, x.rk);
      }
    }
    if (deliver(md, b + group) == 0) {
      count(QS_CTR_CID_ROUTED);
      return SK_PASS;
    }
    qs_classify_unowned(&c, QS_CTR_FB_SOCKET_GONE);
  }
hash:
  return spread(md, g, group, &c.key, c.reason);
}
