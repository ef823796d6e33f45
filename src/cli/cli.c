/* cli.c: argument helpers shared by the quicsteer subcommands. */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "quicsteer/util.h"

int qs_cli_fail(const char *fmt, ...) {
  va_list ap;

  fputs("quicsteer: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return QS_CLI_EUSAGE;
}

int qs_cli_optfail(const char *cmd, int c, char **argv) {
  /* optind has moved past the offending word. */
  const char *word = optind > 0 ? argv[optind - 1] : "?";

  if (c == ':')
    return qs_cli_fail("%s: option %s needs a value (see --help)", cmd, word);
  if (optopt && optopt != '?')
    return qs_cli_fail("%s: unknown option -%c (see --help)", cmd, optopt);
  return qs_cli_fail("%s: unknown option %s (see --help)", cmd, word);
}

int qs_cli_uint(const char *what, const char *s, unsigned long max, unsigned long *out) {
  unsigned long v = 0;
  const char *p;

  if (*s == '\0')
    return qs_cli_fail("%s: expected a number, got an empty string", what);
  /* Digits only: strtoul would accept signs, spaces and hex prefixes. */
  for (p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return qs_cli_fail("%s: expected a decimal number", what);
    v = v * 10 + (unsigned long)(*p - '0');
    if (v > max)
      return qs_cli_fail("%s: out of range (0..%lu)", what, max);
  }
  *out = v;
  return QS_CLI_OK;
}

int qs_cli_hex(const char *what, const char *s, uint8_t *out, size_t cap) {
  int n = qs_hex_decode(out, cap, s);

  if (n == QS_ERR_INVAL)
    return -qs_cli_fail("%s: longer than %zu octets", what, cap);
  if (n < 0)
    return -qs_cli_fail("%s: not an even-length hex string", what);
  return n;
}

int qs_cli_name(const char *cmd, const char *name) {
  size_t n = strlen(name), i;
  int ok = n > 0 && n <= 64 && name[0] != '.';
  for (i = 0; ok && i < n; i++)
    ok = isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '-' || name[i] == '.';
  return ok ? 0 : qs_cli_fail("%s: bad instance name '%s' (want [A-Za-z0-9_.-]{1,64})", cmd, name);
}

int qs_cli_instance(const char *cmd, int argc, char **argv, const char *name) {
  if (optind < argc)
    return qs_cli_fail("%s: unexpected argument %s", cmd, argv[optind]);
  return qs_cli_name(cmd, name);
}
