/* trivial.bpf.c: the floor for bench_steer: an sk_reuseport program that
 * reads the QUIC first octet (one byte) and lets the kernel choose. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("sk_reuseport")
int qs_trivial(struct sk_reuseport_md *md) {
  __u8 first;
  if (bpf_skb_load_bytes(md, 8, &first, 1) != 0)
    return SK_DROP;
  return SK_PASS;
}
