/* errors.h: the negative error codes every libquicsteer function returns.
 *
 * Plain #defines with no libc so that the BPF program and the inline headers
 * it shares with user space can use them too.  qs_strerror() (lib/errors.c)
 * turns one into a sentence for operators.
 */
#ifndef QUICSTEER_ERRORS_H
#define QUICSTEER_ERRORS_H

#define QS_OK 0
#define QS_ERR_INVAL -1       /* an argument is out of its documented range */
#define QS_ERR_TRUNCATED -2   /* the buffer ends before what its header claims */
#define QS_ERR_CIDLEN -3      /* a CID length QUIC or the configuration forbids */
#define QS_ERR_EMPTY -4       /* zero-length input */
#define QS_ERR_UNROUTABLE -5  /* config-rotation bits 0b111 */
#define QS_ERR_NOCONF -6      /* no configuration for these config-rotation bits */
#define QS_ERR_CRYPTO -7      /* the crypto library or the CSPRNG failed */
#define QS_ERR_NOMEM -8       /* out of memory */
#define QS_ERR_HEX -9         /* not an even-length hex string */
#define QS_ERR_SYS -10        /* a system call failed: see errno */
#define QS_ERR_FOREIGN -11    /* the CID decodes, but to another host */
#define QS_ERR_NOBPF -12      /* the BPF program cannot be loaded or attached */
#define QS_ERR_ABI -13        /* pinned state was made by an incompatible build */
#define QS_ERR_BUSY -14       /* the resource is held by a live owner */
#define QS_ERR_NOTFOUND -15   /* nothing by that name */
#define QS_ERR_PERM -16       /* the peer process belongs to another user */

#ifndef __bpf__
#ifdef __cplusplus
extern "C" {
#endif
/* qs_strerror returns a static English sentence for a QS_ERR_* code. */
const char *qs_strerror(int err);
#ifdef __cplusplus
}
#endif
#endif

#endif
