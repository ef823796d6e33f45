/* util.h: small helpers every part of quicsteer uses: hex, randomness, directories. */
#ifndef QUICSTEER_UTIL_H
#define QUICSTEER_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "quicsteer/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* qs_hex_decode decodes the NUL-terminated |hex| (upper or lower case, no
 * separators) into |out| (room for |cap| octets).  Returns the number of
 * octets, QS_ERR_HEX (odd length, empty, or a non-hex character) or
 * QS_ERR_INVAL (longer than |cap|). */
int qs_hex_decode(uint8_t *out, size_t cap, const char *hex);

/* qs_hex_nibble returns the value of hex digit |c| (either case), or -1. */
int qs_hex_nibble(char c);

/* qs_hex_encode writes |len| octets as lowercase hex plus a NUL to |out|
 * (room for 2*len+1) and returns |out|. */
char *qs_hex_encode(char *out, const uint8_t *in, size_t len);

/* qs_random fills |buf| from the kernel CSPRNG (getrandom).  Returns 0 or
 * QS_ERR_CRYPTO. */
int qs_random(void *buf, size_t len);

/* qs_mkdir_p creates directory |dir| and its missing parents with |mode|.
 * Returns 0 (also if it exists) or QS_ERR_SYS (errno set). */
int qs_mkdir_p(const char *dir, unsigned mode);

#ifdef __cplusplus
}
#endif

#endif
