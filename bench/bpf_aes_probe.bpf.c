/* bpf_aes_probe.bpf.c: what one AES-128 block costs inside the kernel.
 *
 * Socket-filter programs, so that BPF_PROG_TEST_RUN can repeat them and time
 * them; bench/bench_bpf_aes.c runs each one and subtracts the baseline.  The
 * round keys sit in a map value and the block is copied to the stack, as in
 * the steering program (bpf/steer.bpf.c).  Blocks are chained (each output is
 * the next input) so the compiler cannot drop or overlap the work.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "aes128.h"

/* Blocks per run of the *_n programs: enough to make the per-run overhead
 * and test_run's integer-ns rounding small against the AES work. */
#define PROBE_N 16

struct probe_val {
  struct qs_aes128_rk rk;
  uint8_t in[16];
  uint8_t out[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, uint32_t);
  __type(value, struct probe_val);
} probe_map SEC(".maps");

static __attribute__((always_inline)) struct probe_val *probe_get(uint8_t blk[16]) {
  uint32_t zero = 0, i;
  struct probe_val *v = bpf_map_lookup_elem(&probe_map, &zero);

  if (!v)
    return 0;
  for (i = 0; i < 16; i++)
    blk[i] = v->in[i];
  return v;
}

static __attribute__((always_inline)) void probe_put(struct probe_val *v, const uint8_t blk[16]) {
  uint32_t i;

  for (i = 0; i < 16; i++)
    v->out[i] = blk[i];
}

/* Baseline: the same lookup and copies without any AES. */
SEC("socket")
int probe_empty(struct __sk_buff *skb) {
  uint8_t blk[16];
  struct probe_val *v = probe_get(blk);

  if (!v)
    return 0;
  probe_put(v, blk);
  return 0;
}

SEC("socket")
int probe_dec1(struct __sk_buff *skb) {
  uint8_t blk[16];
  struct probe_val *v = probe_get(blk);

  if (!v)
    return 0;
  qs_aes128_decrypt(&v->rk, blk, blk);
  probe_put(v, blk);
  return 0;
}

SEC("socket")
int probe_enc1(struct __sk_buff *skb) {
  uint8_t blk[16];
  struct probe_val *v = probe_get(blk);

  if (!v)
    return 0;
  qs_aes128_encrypt(&v->rk, blk, blk);
  probe_put(v, blk);
  return 0;
}

SEC("socket")
int probe_dec_n(struct __sk_buff *skb) {
  uint8_t blk[16];
  struct probe_val *v = probe_get(blk);
  uint32_t i;

  if (!v)
    return 0;
#pragma clang loop unroll(disable)
  for (i = 0; i < PROBE_N; i++)
    qs_aes128_decrypt(&v->rk, blk, blk);
  probe_put(v, blk);
  return PROBE_N;
}

SEC("socket")
int probe_enc_n(struct __sk_buff *skb) {
  uint8_t blk[16];
  struct probe_val *v = probe_get(blk);
  uint32_t i;

  if (!v)
    return 0;
#pragma clang loop unroll(disable)
  for (i = 0; i < PROBE_N; i++)
    qs_aes128_encrypt(&v->rk, blk, blk);
  probe_put(v, blk);
  return PROBE_N;
}

/* The AES behind a BPF-to-BPF call, as bpf/steer.bpf.c binds it (a global
 * function, verified once): what the call and its argument checks add. */
struct probe_blk {
  uint8_t b[16];
};

__attribute__((noinline)) int probe_aes_dec(const struct qs_aes128_rk *rk, struct probe_blk *blk) {
  if (!rk || !blk)
    return 0;
  qs_aes128_decrypt(rk, blk->b, blk->b);
  return 1;
}

__attribute__((noinline)) int probe_aes_enc(const struct qs_aes128_rk *rk, struct probe_blk *blk) {
  if (!rk || !blk)
    return 0;
  qs_aes128_encrypt(rk, blk->b, blk->b);
  return 1;
}

SEC("socket")
int probe_dec_call(struct __sk_buff *skb) {
  struct probe_blk blk;
  struct probe_val *v = probe_get(blk.b);

  if (!v)
    return 0;
  probe_aes_dec(&v->rk, &blk);
  probe_put(v, blk.b);
  return 0;
}

SEC("socket")
int probe_enc_call(struct __sk_buff *skb) {
  struct probe_blk blk;
  struct probe_val *v = probe_get(blk.b);

  if (!v)
    return 0;
  probe_aes_enc(&v->rk, &blk);
  probe_put(v, blk.b);
  return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
