/* fuzz_server_text.c: libFuzzer target for the server's text handling of
 * untrusted or hand-written input: access log lines (accesslog.c: request
 * paths and headers come from clients) and the --conf parser (conffile.c).
 *
 * The first octet picks the case.  Beyond "no crash" it checks the
 * promises: an access log line is one line (no control octet but its final
 * '\n'), under QS_ACCESS_LINE_MAX, and in JSON a sequence of well-formed
 * strings in valid UTF-8; every argument the config parser makes is
 * "--name" or "--name=value" without a newline, at a line that exists. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "conffile.h"

static void check(int cond) {
  if (!cond)
    abort();
}

/* length of the UTF-8 sequence at |s|, 0 if invalid (written apart from
 * accesslog.c's so that the two can disagree) */
static size_t utf8_len(const unsigned char *s, size_t n) {
  uint32_t cp;
  size_t len;
  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xe0) == 0xc0)
    len = 2, cp = s[0] & 0x1f;
  else if ((s[0] & 0xf0) == 0xe0)
    len = 3, cp = s[0] & 0x0f;
  else if ((s[0] & 0xf8) == 0xf0)
    len = 4, cp = s[0] & 0x07;
  else
    return 0;
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

static void check_line(const char *line, size_t n, int json) {
  int in_str = 0;
  check(n > 0 && n < QS_ACCESS_LINE_MAX && line[n - 1] == '\n');
  for (size_t i = 0; i + 1 < n;) {
    const unsigned char *u = (const unsigned char *)line + i;
    size_t k;
    check(*u >= 0x20 && *u != 0x7f);
    if (!json) {
      check(*u < 0x7f); /* combined is ASCII */
      i++;
      continue;
    }
    k = utf8_len(u, n - 1 - i);
    check(k > 0);
    if (in_str && *u == '\\') {
      check(i + 2 < n && strchr("\"\\u", u[1]) != NULL);
      i += u[1] == 'u' ? 6 : 2;
      continue;
    }
    if (*u == '"')
      in_str = !in_str;
    i += k;
  }
  check(!in_str);
  if (json)
    check(line[0] == '{' && line[n - 2] == '}');
}

static void fuzz_log(const uint8_t *data, size_t size, int json) {
  static char line[QS_ACCESS_LINE_MAX];
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
  char *path = malloc(size + 1), method[17];
  size_t half = size / 2, ml = size < 16 ? size : 16;
  uint64_t t = size > 8 ? (uint64_t)data[0] << 50 | (uint64_t)data[1] << 30 : 0;
  check(path != NULL);
  /* the layer's strings are NUL-terminated: a NUL ends them early */
  memcpy(path, data, size);
  path[size] = '\0';
  memcpy(method, data, ml);
  method[ml] = '\0';
  struct qs_req_done e = {
      .client = (struct sockaddr *)&a6,
      .proto = "HTTP/3",
      .method = size & 1 ? method : NULL,
      .path = path,
      .status = size ? data[0] * 4 : 0,
      .reset = (int)(size & 2),
      .body_bytes = size * 1000003u,
      .duration_ns = size * 999999937u,
      .worker = (unsigned)size,
      .upstream = size & 4 ? method : NULL,
      .referer = (const char *)data + half,
      .refererlen = size - half,
      .user_agent = half ? (const char *)data : NULL,
      .user_agentlen = half,
  };
  size_t n = qs_accesslog_format(line, sizeof line, json ? QS_ACCESS_LOG_JSON : 0, t, &e);
  check_line(line, n, json);
  free(path);
}

static void fuzz_conf(const uint8_t *data, size_t size) {
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"no-bpf", no_argument, NULL, 1},
                                       {"conf", required_argument, NULL, 2},
                                       {"a-b", required_argument, NULL, 3},
                                       {NULL, 0, NULL, 0}};
  static const char *const reject[] = {"conf", NULL};
  static struct qs_conf_errors errs;
  struct qs_conffile c;
  size_t lines = 1;
  for (size_t i = 0; i < size; i++)
    lines += data[i] == '\n';
  memset(&errs, 0, sizeof errs);
  check(qs_conffile_parse(&c, (const char *)data, size, opts, reject, &errs) == 0);
  for (size_t i = 0; i < c.nargs; i++) {
    const char *a = c.args[i].arg;
    check(strncmp(a, "--", 2) == 0 && !strchr(a, '\n'));
    check(strncmp(a, "--conf", 6) != 0);
    check(c.args[i].line >= 1 && c.args[i].line <= lines);
    check(i == 0 || c.args[i].line > c.args[i - 1].line);
  }
  for (size_t i = 0; i < errs.n; i++)
    check(errs.e[i].line >= 1 && errs.e[i].line <= lines);
  qs_conffile_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  switch (data[0] % 3) {
  case 0:
    fuzz_log(data + 1, size - 1, 0);
    break;
  case 1:
    fuzz_log(data + 1, size - 1, 1);
    break;
  default:
    fuzz_conf(data + 1, size - 1);
    break;
  }
  return 0;
}
