/* hex.c: hex text <-> octets, for keys, CIDs and secrets given by operators. */
#include <string.h>

#include "quicsteer/util.h"

int qs_hex_nibble(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int qs_hex_decode(uint8_t *out, size_t cap, const char *hex) {
  size_t n = strlen(hex), i;

  if (n == 0 || (n & 1))
    return QS_ERR_HEX;
  /* Validate everything before writing so a failure leaves |out| alone and
   * reports a malformed string as such even when it is also too long. */
  for (i = 0; i < n; i++)
    if (qs_hex_nibble(hex[i]) < 0)
      return QS_ERR_HEX;
  if (n / 2 > cap || n / 2 > (size_t)0x7fffffff)
    return QS_ERR_INVAL;
  for (i = 0; i < n / 2; i++)
    out[i] = (uint8_t)((qs_hex_nibble(hex[2 * i]) << 4) | qs_hex_nibble(hex[2 * i + 1]));
  return (int)(n / 2);
}

char *qs_hex_encode(char *out, const uint8_t *in, size_t len) {
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 0xf];
  }
  out[2 * len] = '\0';
  return out;
}
