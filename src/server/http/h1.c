/* h1.c: see h1.h. */
#include "h1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void compact(struct qs_buf *b) {
  memmove(b->p, b->p + b->off, b->len - b->off);
  b->len -= b->off;
  b->off = 0;
}

int qs_buf_add(struct qs_buf *b, const void *data, size_t n) {
  if (n == 0)
    return 0; /* b->p may be NULL yet: no arithmetic on it */
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    uint8_t *p;
    /* a buffer written while it drains (a long response) must not grow
     * with what went through it: move the pending octets to the front
     * when that copies no more than was consumed */
    if (b->off && b->len - b->off <= b->off)
      compact(b);
    while (cap < b->len + n)
      cap *= 2;
    if (cap > b->cap) {
      p = realloc(b->p, cap);
      if (!p)
        return -ENOMEM;
      b->p = p;
      b->cap = cap;
    }
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  return 0;
}

int qs_buf_addf(struct qs_buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp)
    return -EINVAL;
  return qs_buf_add(b, tmp, (size_t)n);
}

void qs_buf_free(struct qs_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void qs_buf_drop(struct qs_buf *b, size_t n) {
  b->off += n;
  if (b->off >= b->len)
    b->off = b->len = 0;
  else if (b->len - b->off <= b->off / 8)
    compact(b); /* a short tail: cheap to move, and the space is reused */
}

static int name_is(const char *name, size_t len, const char *lit) {
  return strlen(lit) == len && strncasecmp(name, lit, len) == 0;
}

static int listed(const char *name, size_t len, const char *conn, size_t connlen) {
  size_t i = 0;
  while (conn && i < connlen) {
    size_t s, e;
    while (i < connlen && (conn[i] == ' ' || conn[i] == '\t' || conn[i] == ','))
      i++;
    s = i;
    while (i < connlen && conn[i] != ',')
      i++;
    e = i;
    while (e > s && (conn[e - 1] == ' ' || conn[e - 1] == '\t'))
      e--;
    if (e > s && e - s == len && strncasecmp(conn + s, name, len) == 0)
      return 1;
  }
  return 0;
}

int qs_h1_hop_by_hop(const char *name, size_t len, const char *conn, size_t connlen) {
  static const char *const hop[] = {"connection",        "keep-alive", "proxy-connection",
                                    "transfer-encoding", "upgrade",    "te",
                                    "trailer",           "proxy-authenticate",
                                    "proxy-authorization"};
  for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
    if (name_is(name, len, hop[i]))
      return 1;
  return listed(name, len, conn, connlen);
}

const char *qs_h1_client_ip(const struct qs_req *r, char *buf, size_t len) {
  const struct sockaddr *sa = (const struct sockaddr *)&r->client;
  const void *a = NULL;
  if (r->clientlen && sa->sa_family == AF_INET)
    a = &((const struct sockaddr_in *)sa)->sin_addr;
  else if (r->clientlen && sa->sa_family == AF_INET6)
    a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
  if (!a || !inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
    snprintf(buf, len, "unknown");
  return buf;
}

static int clean(const char *v, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
      return 0;
  return 1;
}

int qs_h1_request_head(struct qs_buf *b, const struct qs_req *r, enum qs_h1_framing framing) {
  const struct qs_fields *fs = &r->fields;
  const char *method = qs_req_method(r), *path = qs_req_path(r), *auth = qs_req_authority(r);
  const char *conn, *xff = NULL, *fwd = NULL;
  size_t connlen = 0, xfflen = 0, fwdlen = 0;
  char ip[INET6_ADDRSTRLEN + 8];
  int rv = 0, cookies = 0, is_v6;

  if (!method || !path || !clean(method, strlen(method)) || !clean(path, strlen(path)) ||
      strchr(method, ' ') || strchr(path, ' '))
    return -EINVAL;
  conn = qs_fields_get(fs, "connection", &connlen);
  rv |= qs_buf_addf(b, "%s ", method);
  rv |= qs_buf_add(b, path, strlen(path));
  rv |= qs_buf_add(b, " HTTP/1.1\r\n", 11);
  if (!auth)
    auth = qs_fields_get(fs, "host", NULL);
  if (auth) {
    if (!clean(auth, strlen(auth)))
      return -EINVAL;
    rv |= qs_buf_add(b, "Host: ", 6);
    rv |= qs_buf_add(b, auth, strlen(auth));
    rv |= qs_buf_add(b, "\r\n", 2);
  }
  for (size_t i = 0; i < fs->n; i++) {
    const char *n = qs_field_name(fs, i), *v = qs_field_value(fs, i);
    size_t nl = fs->f[i].namelen, vl = fs->f[i].valuelen;
    if (nl == 0 || n[0] == ':')
      continue;
    if (!clean(n, nl) || !clean(v, vl))
      return -EINVAL;
    if (qs_h1_hop_by_hop(n, nl, conn, connlen) || name_is(n, nl, "host") ||
        name_is(n, nl, "content-length") || name_is(n, nl, "x-forwarded-proto") ||
        name_is(n, nl, "early-data"))
      continue;
    if (name_is(n, nl, "x-forwarded-for")) {
      xff = v;
      xfflen = vl;
      continue;
    }
    if (name_is(n, nl, "forwarded")) {
      fwd = v;
      fwdlen = vl;
      continue;
    }
    if (name_is(n, nl, "cookie")) {
      /* HTTP/2 and HTTP/3 split cookies into fields; HTTP/1.1 wants one */
      if (cookies++ == 0) {
        rv |= qs_buf_add(b, "Cookie: ", 8);
      } else {
        rv |= qs_buf_add(b, "; ", 2);
      }
      rv |= qs_buf_add(b, v, vl);
      continue;
    }
    rv |= qs_buf_add(b, n, nl);
    rv |= qs_buf_add(b, ": ", 2);
    rv |= qs_buf_add(b, v, vl);
    rv |= qs_buf_add(b, "\r\n", 2);
  }
  if (cookies)
    rv |= qs_buf_add(b, "\r\n", 2);
  qs_h1_client_ip(r, ip, sizeof ip);
  is_v6 = strchr(ip, ':') != NULL;
  rv |= qs_buf_add(b, "X-Forwarded-For: ", 17);
  if (xff) {
    rv |= qs_buf_add(b, xff, xfflen);
    rv |= qs_buf_add(b, ", ", 2);
  }
  rv |= qs_buf_addf(b, "%s\r\nX-Forwarded-Proto: https\r\nForwarded: ", ip);
  if (fwd) {
    rv |= qs_buf_add(b, fwd, fwdlen);
    rv |= qs_buf_add(b, ", ", 2);
  }
  /* RFC 7239: an IPv6 node is quoted and bracketed */
  rv |= qs_buf_addf(b, is_v6 ? "for=\"[%s]\";proto=https" : "for=%s;proto=https", ip);
  if (auth && strlen(auth) < 256 && !strchr(auth, '"'))
    rv |= qs_buf_addf(b, ";host=\"%s\"", auth);
  rv |= qs_buf_add(b, "\r\n", 2);
  if (r->early_data)
    rv |= qs_buf_add(b, "Early-Data: 1\r\n", 15);
  switch (framing) {
  case QS_H1_LENGTH:
    rv |= qs_buf_addf(b, "Content-Length: %lld\r\n", (long long)r->content_length);
    break;
  case QS_H1_CHUNKED:
    rv |= qs_buf_add(b, "Transfer-Encoding: chunked\r\n", 28);
    break;
  default:
    if (r->mkind == QS_REQ_POST || r->mkind == QS_REQ_PUT)
      rv |= qs_buf_add(b, "Content-Length: 0\r\n", 19);
    break;
  }
  rv |= qs_buf_add(b, "\r\n", 2);
  return rv ? -ENOMEM : 0;
}
