/* conffile.c: see conffile.h. */
#include "conffile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void qs_conf_error_add(struct qs_conf_errors *errs, unsigned line, const char *msg) {
  if (errs->n == QS_CONF_MAX_ERRORS) {
    errs->more++;
    return;
  }
  errs->e[errs->n].line = line;
  snprintf(errs->e[errs->n].msg, sizeof errs->e[errs->n].msg, "%s", msg);
  errs->n++;
}

static void line_error(struct qs_conf_errors *errs, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void line_error(struct qs_conf_errors *errs, unsigned line, const char *fmt, ...) {
  char msg[QS_CONF_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  qs_conf_error_add(errs, line, msg);
}

static int push(struct qs_conffile *c, unsigned line, const char *key, size_t keylen,
                const char *val, size_t vallen, int has_val) {
  size_t n = 2 + keylen + (has_val ? 1 + vallen : 0) + 1;
  char *a;
  if (c->nargs == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    struct qs_conf_arg *p = realloc(c->args, cap * sizeof *p);
    if (!p)
      return -1;
    c->args = p;
    c->cap = cap;
  }
  a = malloc(n);
  if (!a)
    return -1;
  if (has_val)
    snprintf(a, n, "--%.*s=%.*s", (int)keylen, key, (int)vallen, val);
  else
    snprintf(a, n, "--%.*s", (int)keylen, key);
  c->args[c->nargs].arg = a;
  c->args[c->nargs].line = line;
  c->nargs++;
  return 0;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

static const struct option *find_opt(const struct option *opts, const char *key, size_t len) {
  for (; opts->name; opts++)
    if (strlen(opts->name) == len && memcmp(opts->name, key, len) == 0)
      return opts;
  return NULL;
}

static int rejected(const char *const *reject, const char *key, size_t len) {
  for (; reject && *reject; reject++)
    if (strlen(*reject) == len && memcmp(*reject, key, len) == 0)
      return 1;
  return 0;
}

/* One line (without its newline).  Returns -1 only when out of memory. */
static int parse_line(struct qs_conffile *c, unsigned ln, const char *p, const char *end,
                      const struct option *opts, const char *const *reject,
                      struct qs_conf_errors *errs) {
  const char *key, *val = NULL, *vend = NULL;
  const struct option *o;
  size_t keylen;
  int has_val = 0;

  if (end > p && end[-1] == '\r')
    end--;
  if (memchr(p, '\0', (size_t)(end - p))) {
    line_error(errs, ln, "NUL octet in the line");
    return 0;
  }
  while (p < end && is_blank(*p))
    p++;
  if (p == end || *p == '#')
    return 0;
  key = p;
  while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
    p++;
  keylen = (size_t)(p - key);
  while (p < end && is_blank(*p))
    p++;
  if (p < end && *p == '=') {
    has_val = 1;
    p++;
    while (p < end && is_blank(*p))
      p++;
    if (p < end && *p == '"') {
      val = ++p;
      while (p < end && *p != '"')
        p++;
      if (p == end) {
        line_error(errs, ln, "unterminated quote");
        return 0;
      }
      vend = p++;
      while (p < end && is_blank(*p))
        p++;
      if (p < end && *p != '#') {
        line_error(errs, ln, "text after the closing quote");
        return 0;
      }
    } else {
      val = p;
      /* a '#' after a blank starts a comment */
      while (p < end && !(*p == '#' && p > val && is_blank(p[-1])))
        p++;
      vend = p;
      while (vend > val && is_blank(vend[-1]))
        vend--;
    }
  } else if (p < end && *p != '#') {
    line_error(errs, ln, "expected 'name = value' or a flag name alone");
    return 0;
  } else if (p < end && !is_blank(p[-1])) {
    line_error(errs, ln, "expected 'name = value' or a flag name alone");
    return 0;
  }
  if (keylen == 0) {
    line_error(errs, ln, "expected 'name = value' or a flag name alone");
    return 0;
  }
  o = find_opt(opts, key, keylen);
  if (!o) {
    line_error(errs, ln, "unknown option '%.*s'", (int)keylen, key);
    return 0;
  }
  if (rejected(reject, key, keylen)) {
    line_error(errs, ln, "'%.*s' is for the command line only", (int)keylen, key);
    return 0;
  }
  if (o->has_arg == no_argument) {
    if (has_val) {
      size_t vl = (size_t)(vend - val);
      if (vl == 5 && memcmp(val, "false", 5) == 0)
        return 0;
      if (vl != 4 || memcmp(val, "true", 4) != 0) {
        line_error(errs, ln, "'%s' is a flag: write '%s' or '%s = true'", o->name, o->name,
                   o->name);
        return 0;
      }
    }
    return push(c, ln, key, keylen, NULL, 0, 0);
  }
  if (!has_val || vend == val) {
    line_error(errs, ln, "'%s' needs a value ('%s = VALUE')", o->name, o->name);
    return 0;
  }
  return push(c, ln, key, keylen, val, (size_t)(vend - val), 1);
}

int qs_conffile_parse(struct qs_conffile *c, const char *text, size_t len,
                      const struct option *opts, const char *const *reject,
                      struct qs_conf_errors *errs) {
  const char *p = text, *end = text + len;
  unsigned ln = 0;
  memset(c, 0, sizeof *c);
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    ln++;
    if ((size_t)(eol - p) > QS_CONF_MAX_LINE)
      line_error(errs, ln, "line longer than %d octets", QS_CONF_MAX_LINE);
    else if (parse_line(c, ln, p, eol, opts, reject, errs) != 0)
      return -1;
    p = nl ? nl + 1 : end;
  }
  return 0;
}

int qs_conffile_read(struct qs_conffile *c, const char *path, const struct option *opts,
                     const char *const *reject, struct qs_conf_errors *errs) {
  struct stat st;
  char *text;
  size_t got = 0;
  int fd, rv;

  memset(c, 0, sizeof *c);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  rv = fstat(fd, &st) != 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
  if (rv != 0) {
    close(fd);
    return rv;
  }
  /* read to the end, not st_size: pipes (--conf <(...)) have none */
  text = malloc(QS_CONF_MAX_SIZE + 1);
  if (!text) {
    close(fd);
    return -1;
  }
  while (got <= QS_CONF_MAX_SIZE) {
    ssize_t n = read(fd, text + got, QS_CONF_MAX_SIZE + 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rv = -errno;
      close(fd);
      free(text);
      return rv;
    }
    if (n == 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  rv = got > QS_CONF_MAX_SIZE ? -EFBIG : qs_conffile_parse(c, text, got, opts, reject, errs);
  free(text);
  return rv;
}

void qs_conffile_free(struct qs_conffile *c) {
  for (size_t i = 0; i < c->nargs; i++)
    free(c->args[i].arg);
  free(c->args);
  memset(c, 0, sizeof *c);
}
