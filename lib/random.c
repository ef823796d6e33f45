/* random.c: the kernel CSPRNG, the only randomness quicsteer uses (nonces,
 * first-octet bits, secrets). */
#include <errno.h>
#include <sys/random.h>

#include "quicsteer/util.h"

int qs_random(void *buf, size_t len) {
  uint8_t *p = buf;

  /* getrandom returns at most 32 MiB per call and may be interrupted before
   * the pool is ready; loop until everything is filled. */
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return QS_ERR_CRYPTO;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}
