/* fuzz_http_path.c: libFuzzer target for the request-path decoder
 * (src/server/http/http.c, qs_http_decode_path), the pure step that turns a
 * client's :path into a path below the document root.
 *
 * Beyond "no crash" it checks what keeps the server inside its root: a
 * decoded path is NUL-terminated within the buffer, relative (no leading
 * '/'), has no empty, "." or ".." segment (a trailing '/' may end it) and no
 * NUL; its answer is 0, 400
 * or 414; and decoding is idempotent on what it produced ("/" + out decodes
 * to out again when out holds nothing that would be decoded anew); without
 * --serve-dotfiles the answer is the same or a counted 403 for a segment
 * starting with '.', and nothing it accepts holds one. */
#include <stdlib.h>
#include <string.h>

#include "http.h"

static void check(int cond) {
  if (!cond)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char out[QS_PATH_MAX + 1], again[QS_PATH_MAX + 2], in2[QS_PATH_MAX + 2];
  const char *path = (const char *)data;
  size_t olen, seg;
  int rv;

  static char strict[QS_PATH_MAX + 1];
  int rs;

  memset(out, 0x7f, sizeof out);
  rv = qs_http_decode_path(path, size, out, sizeof out, 1);
  check(rv == 0 || rv == 400 || rv == 414);
  /* without --serve-dotfiles: the same, or a refused dot segment */
  rs = qs_http_decode_path(path, size, strict, sizeof strict, 0);
  check(rs == rv || rs == 403 + 1000 * QS_REFUSED_DOTFILE);
  if (rs == 0)
    check(strcmp(strict, out) == 0 && strstr(out, "/.") == NULL && out[0] != '.');
  if (rv != 0)
    return 0;
  check(size > 0 && path[0] == '/');
  olen = strnlen(out, sizeof out);
  check(olen < sizeof out);
  check(olen == 0 || out[0] != '/');
  /* segments between slashes; only a trailing slash (a directory) may
   * leave an empty last one */
  for (seg = 0; seg < olen;) {
    size_t end = seg;
    while (end < olen && out[end] != '/')
      end++;
    check(end > seg);
    check(!(end - seg == 1 && out[seg] == '.'));
    check(!(end - seg == 2 && out[seg] == '.' && out[seg + 1] == '.'));
    seg = end + 1;
  }
  if (olen == 0 || strpbrk(out, "%?#"))
    return 0;
  in2[0] = '/';
  memcpy(in2 + 1, out, olen);
  check(qs_http_decode_path(in2, olen + 1, again, sizeof again, 1) == 0);
  check(strcmp(again, out) == 0);
  return 0;
}
