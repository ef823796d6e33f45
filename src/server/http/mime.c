/* mime.c: see mime.h. */
#include "mime.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QS_MIME_EXT_MAX 32
#define QS_MIME_TYPE_MAX 128
#define QS_MIME_FILE_MAX (4u << 20) /* larger is not a mime.types file */

struct mime_entry {
  char ext[QS_MIME_EXT_MAX];
  const char *type; /* into the types arena */
};

/* the loaded table, sorted by extension; NULL: built-in list only */
static struct mime_entry *table;
static size_t ntable;
static char *types; /* "type[; charset=utf-8]\0" strings */

static const struct {
  const char *ext;
  const char *type;
} builtin[] = {
    {"html", "text/html; charset=utf-8"},       {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},         {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},  {"json", "application/json; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},       {"svg", "image/svg+xml; charset=utf-8"},
    {"png", "image/png"},                       {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},                     {"gif", "image/gif"},
    {"webp", "image/webp"},                     {"ico", "image/x-icon"},
    {"wasm", "application/wasm"},               {"xml", "application/xml; charset=utf-8"},
    {"pdf", "application/pdf"},                 {"woff2", "font/woff2"},
};

/* is_text: the types a browser decodes as characters */
static int is_text(const char *t) {
  static const char *const more[] = {"application/javascript", "application/json",
                                     "application/xml", "image/svg+xml"};
  if (strncasecmp(t, "text/", 5) == 0) /* text/ anything */
    return 1;
  for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
    if (strcasecmp(t, more[i]) == 0)
      return 1;
  return 0;
}

static int cmp_entry(const void *a, const void *b) {
  return strcasecmp(((const struct mime_entry *)a)->ext, ((const struct mime_entry *)b)->ext);
}

void qs_mime_unload(void) {
  free(table);
  free(types);
  table = NULL;
  types = NULL;
  ntable = 0;
}

int qs_mime_load(const char *path) {
  FILE *f = fopen(path, "re");
  char line[1024];
  struct mime_entry *t = NULL;
  char *ty = NULL;
  size_t n = 0, cap = 0, tylen = 0, tycap = 0;
  int err = 0;

  if (f == NULL)
    return -errno;
  while (fgets(line, sizeof line, f)) {
    char *save = NULL, *type = strtok_r(line, " \t\r\n", &save), *ext;
    size_t off = tylen, need;
    if (type == NULL || type[0] == '#' || strchr(type, '/') == NULL ||
        strlen(type) >= QS_MIME_TYPE_MAX)
      continue;
    need = strlen(type) + sizeof "; charset=utf-8";
    if (tylen + need > QS_MIME_FILE_MAX) {
      err = -EFBIG;
      break;
    }
    int used = 0;
    while ((ext = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
      if (ext[0] == '#')
        break;
      if (strlen(ext) >= QS_MIME_EXT_MAX)
        continue;
      if (n == cap) {
        size_t nc = cap ? 2 * cap : 1024;
        struct mime_entry *nt = realloc(t, nc * sizeof *nt);
        if (nt == NULL) {
          err = -ENOMEM;
          goto out;
        }
        t = nt;
        cap = nc;
      }
      strcpy(t[n].ext, ext);
      t[n++].type = (const char *)(uintptr_t)off; /* an offset until the arena settles */
      used = 1;
    }
    if (!used)
      continue;
    if (tylen + need > tycap) {
      size_t nc = tycap ? 2 * tycap : 16384;
      while (nc < tylen + need)
        nc *= 2;
      char *nty = realloc(ty, nc);
      if (nty == NULL) {
        err = -ENOMEM;
        goto out;
      }
      ty = nty;
      tycap = nc;
    }
    tylen += (size_t)snprintf(ty + tylen, need, "%s%s", type,
                              is_text(type) ? "; charset=utf-8" : "") + 1;
  }
  if (!err && ferror(f))
    err = -EIO;
out:
  fclose(f);
  if (err) {
    free(t);
    free(ty);
    return err;
  }
  for (size_t i = 0; i < n; i++)
    t[i].type = ty + (uintptr_t)t[i].type;
  qsort(t, n, sizeof *t, cmp_entry);
  qs_mime_unload();
  table = t;
  types = ty;
  ntable = n;
  return (int)n;
}

const char *qs_mime_type(const char *name) {
  const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
  struct mime_entry key;

  if (!dot || (slash && dot < slash) || strlen(dot + 1) >= QS_MIME_EXT_MAX)
    return "application/octet-stream";
  strcpy(key.ext, dot + 1);
  if (table) {
    const struct mime_entry *e = bsearch(&key, table, ntable, sizeof *table, cmp_entry);
    if (e)
      return e->type;
  }
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
    if (strcasecmp(key.ext, builtin[i].ext) == 0)
      return builtin[i].type;
  return "application/octet-stream";
}
