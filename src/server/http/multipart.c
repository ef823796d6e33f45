/* multipart.c: see multipart.h. */
#include "multipart.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quicsteer/util.h"

#define PART_HEAD 128 /* a part's delimiter and fields beyond its content type */

int qs_parts_init(struct qs_parts *p, const struct qs_byterange *rg, size_t n, uint64_t size,
                  const char *ctype) {
  uint8_t rnd[8];
  char bnd[17];
  size_t cap, used = 0;

  memset(p, 0, sizeof *p);
  if (n < 2 || n > QS_PARTS_MAX)
    return -EINVAL;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++)
      if (rg[i].first <= rg[j].last && rg[j].first <= rg[i].last)
        return -EINVAL;
  qs_random(rnd, sizeof rnd);
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf(bnd + 2 * i, 3, "%02x", rnd[i]);
  snprintf(p->ctype, sizeof p->ctype, "multipart/byteranges; boundary=%s", bnd);
  cap = n * (strlen(ctype) + PART_HEAD) + PART_HEAD;
  if (!(p->text = malloc(cap)))
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    int w = snprintf(p->text + used, cap - used,
                     "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                     i ? "\r\n" : "", bnd, ctype, (unsigned long long)rg[i].first,
                     (unsigned long long)rg[i].last, (unsigned long long)size);
    p->seg[p->nseg++] = (struct qs_partseg){p->text + used, 0, (uint64_t)w};
    p->seg[p->nseg++] = (struct qs_partseg){NULL, rg[i].first, rg[i].last - rg[i].first + 1};
    used += (size_t)w;
  }
  {
    int w = snprintf(p->text + used, cap - used, "\r\n--%s--\r\n", bnd);
    p->seg[p->nseg++] = (struct qs_partseg){p->text + used, 0, (uint64_t)w};
  }
  for (size_t i = 0; i < p->nseg; i++)
    p->total += p->seg[i].len;
  return 0;
}

void qs_parts_free(struct qs_parts *p) {
  free(p->text);
  p->text = NULL;
}

size_t qs_parts_next(struct qs_parts *p, size_t max, const char **text, uint64_t *off) {
  const struct qs_partseg *s;
  uint64_t n;
  if (p->cur >= p->nseg || max == 0)
    return 0;
  s = &p->seg[p->cur];
  n = s->len - p->done;
  if (n > max)
    n = max;
  *text = s->text ? s->text + p->done : NULL;
  *off = s->off + p->done;
  p->done += n;
  if (p->done == s->len) {
    p->cur++;
    p->done = 0;
  }
  return (size_t)n;
}
