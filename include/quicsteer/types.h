/* types.h: fixed-width integer types for headers shared with the BPF program.
 *
 * clang -target bpf cannot include the host's <stdint.h> (glibc's stubs pick
 * a word size BPF does not have), so the BPF side takes them from the kernel's
 * <linux/types.h> instead.  Everything else uses <stdint.h>.
 */
#ifndef QUICSTEER_TYPES_H
#define QUICSTEER_TYPES_H

#ifdef __bpf__
#include <linux/types.h>
typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
typedef __s32 int32_t;
typedef __s64 int64_t;
#ifndef QS_INLINE
#define QS_INLINE static __attribute__((always_inline)) inline
#endif
#else
#include <stdint.h>
#ifndef QS_INLINE
#define QS_INLINE static inline
#endif
#endif

#endif
