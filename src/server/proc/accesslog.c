/* accesslog.c: see accesslog.h. */
#include "accesslog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* ---- formatting (pure) ---- */

/* Escaped strings are cut to these budgets so that the fixed fields after
 * them always fit in QS_ACCESS_LINE_MAX. */
#define BUDGET_PATH 4096
#define BUDGET_HEADER 1024 /* referer, user agent */
#define BUDGET_SHORT 256   /* method, protocol, upstream */

struct out {
  char *p;
  size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n) {
  if (n > o->cap - o->len)
    n = o->cap - o->len;
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct out *o, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(o->p + o->len, o->cap - o->len + 1, fmt, ap);
  va_end(ap);
  if (n > 0)
    o->len += (size_t)n > o->cap - o->len ? o->cap - o->len : (size_t)n;
}

static const char hex[] = "0123456789abcdef";

/* combined: '"', '\' and octets outside 0x20..0x7e as \xHH, as nginx does */
static void put_clf(struct out *o, const char *s, size_t n, size_t budget) {
  size_t end = o->len + budget < o->cap ? o->len + budget : o->cap;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
      char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
      if (o->len + 4 > end)
        return;
      put(o, esc, 4);
    } else {
      if (o->len + 1 > end)
        return;
      o->p[o->len++] = (char)c;
    }
  }
}

/* length of the valid UTF-8 sequence at |s| (RFC 3629), or 0 */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char lo = 0x80, hi = 0xbf;
  size_t len;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    len = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
  else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return len;
}

/* a JSON string, quotes included, or null */
static void put_json(struct out *o, const char *s, size_t n, size_t budget) {
  size_t end;
  if (!s) {
    puts_(o, "null");
    return;
  }
  put(o, "\"", 1);
  end = o->len + budget < o->cap - 1 ? o->len + budget : o->cap - 1; /* room for the quote */
  for (size_t i = 0; i < n;) {
    const unsigned char *u = (const unsigned char *)s + i;
    size_t k;
    if (*u == '"' || *u == '\\') {
      char esc[2] = {'\\', (char)*u};
      if (o->len + 2 > end)
        break;
      put(o, esc, 2);
      i++;
    } else if (*u >= 0x20 && *u < 0x7f) {
      if (o->len + 1 > end)
        break;
      o->p[o->len++] = (char)*u;
      i++;
    } else if (*u >= 0x80 && (k = utf8_seq(u, n - i)) != 0) {
      if (o->len + k > end)
        break;
      put(o, (const char *)u, k);
      i += k;
    } else {
      /* control octets, DEL, and octets that are not UTF-8 */
      char esc[6] = {'\\', 'u', '0', '0', hex[*u >> 4], hex[*u & 15]};
      if (o->len + 6 > end)
        break;
      put(o, esc, 6);
      i++;
    }
  }
  put(o, "\"", 1);
}

static void client_text(const struct sockaddr *sa, char *host, size_t hostlen, unsigned *port) {
  *port = 0;
  snprintf(host, hostlen, "-");
  if (!sa)
    return;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)hostlen);
    *port = ntohs(s4->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)hostlen);
    *port = ntohs(s6->sin6_port);
  }
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static size_t slen(const char *s) { return s ? strlen(s) : 0; }

size_t qs_accesslog_format(char *buf, size_t cap, int format, uint64_t unix_ns,
                           const struct qs_req_done *e) {
  struct out o = {.p = buf, .len = 0, .cap = cap - 1}; /* room for '\n' */
  char host[INET6_ADDRSTRLEN];
  time_t secs = (time_t)(unix_ns / 1000000000u);
  unsigned long long dur_s = e->duration_ns / 1000000000u,
                     dur_us = e->duration_ns % 1000000000u / 1000u;
  unsigned port;
  struct tm tm;

  gmtime_r(&secs, &tm);
  client_text(e->client, host, sizeof host, &port);
  if (format == QS_ACCESS_LOG_JSON) {
    putf(&o, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\",\"client\":\"%s\",",
         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
         (unsigned)(unix_ns / 1000000u % 1000u), host);
    putf(&o, "\"client_port\":%u,\"protocol\":", port);
    put_json(&o, e->proto, slen(e->proto), BUDGET_SHORT);
    puts_(&o, ",\"method\":");
    put_json(&o, e->method, slen(e->method), BUDGET_SHORT);
    puts_(&o, ",\"path\":");
    put_json(&o, e->path, slen(e->path), BUDGET_PATH);
    putf(&o, ",\"status\":%d,\"body_bytes\":%llu,\"duration\":%llu.%06llu,\"worker\":%u,", e->status,
         (unsigned long long)e->body_bytes, dur_s, dur_us, e->worker);
    puts_(&o, "\"upstream\":");
    put_json(&o, e->upstream, slen(e->upstream), BUDGET_SHORT);
    puts_(&o, e->reset ? ",\"reset\":true" : ",\"reset\":false");
    puts_(&o, ",\"referer\":");
    put_json(&o, e->referer, e->refererlen, BUDGET_HEADER);
    puts_(&o, ",\"user_agent\":");
    put_json(&o, e->user_agent, e->user_agentlen, BUDGET_HEADER);
    puts_(&o, "}");
  } else {
    putf(&o, "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", host, tm.tm_mday,
         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (e->method)
      put_clf(&o, e->method, strlen(e->method), BUDGET_SHORT);
    else
      puts_(&o, "-");
    puts_(&o, " ");
    if (e->path)
      put_clf(&o, e->path, strlen(e->path), BUDGET_PATH);
    else
      puts_(&o, "-");
    puts_(&o, " ");
    if (e->proto)
      put_clf(&o, e->proto, strlen(e->proto), BUDGET_SHORT);
    putf(&o, "\" %d %llu \"", e->status, (unsigned long long)e->body_bytes);
    if (e->referer)
      put_clf(&o, e->referer, e->refererlen, BUDGET_HEADER);
    else
      puts_(&o, "-");
    puts_(&o, "\" \"");
    if (e->user_agent)
      put_clf(&o, e->user_agent, e->user_agentlen, BUDGET_HEADER);
    else
      puts_(&o, "-");
    putf(&o, "\" client_port=%u duration=%llu.%06llu worker=%u upstream=", port, dur_s, dur_us,
         e->worker);
    if (e->upstream)
      put_clf(&o, e->upstream, strlen(e->upstream), BUDGET_SHORT);
    else
      puts_(&o, "-");
    puts_(&o, e->reset ? " reset=1" : " reset=0");
  }
  buf[o.len++] = '\n';
  return o.len;
}

/* ---- the target ---- */

static int open_target(const char *path, int *sock, int *reg) {
  struct stat st;
  int fd;
  *sock = *reg = 0;
  if (strcmp(path, "-") != 0) {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0)
      return -errno;
    *reg = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    return fd;
  }
  if (fstat(STDERR_FILENO, &st) != 0)
    return -errno;
  if (S_ISSOCK(st.st_mode) || S_ISREG(st.st_mode)) {
    *sock = S_ISSOCK(st.st_mode);
    *reg = S_ISREG(st.st_mode);
    fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
  } else {
    /* a pipe or terminal: a new open file of its own, non-blocking, so
     * that stderr itself stays as it is */
    fd = open("/proc/self/fd/2", O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
  }
  return fd < 0 ? -errno : fd;
}

int qs_accesslog_open(struct qs_accesslog *l, const char *path, int format, char *err,
                      size_t errlen) {
  memset(l, 0, sizeof *l);
  l->path = path;
  l->format = format;
  l->fd = open_target(path, &l->sock, &l->reg);
  if (l->fd < 0) {
    int rv = l->fd;
    snprintf(err, errlen, "cannot open access log %s: %s", path, strerror(-rv));
    return rv;
  }
  pthread_mutex_init(&l->lock, NULL);
  return 0;
}

int qs_accesslog_reopen(struct qs_accesslog *l) {
  int sock, reg, fd, old;
  if (l->fd < 0)
    return -EBADF;
  fd = open_target(l->path, &sock, &reg);
  if (fd < 0)
    return fd;
  pthread_mutex_lock(&l->lock);
  old = l->fd;
  l->fd = fd;
  l->sock = sock;
  l->reg = reg;
  __atomic_add_fetch(&l->gen, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&l->lock);
  close(old); /* the workers write to their own duplicates */
  return 0;
}

void qs_accesslog_close(struct qs_accesslog *l) {
  if (l->fd < 0)
    return;
  close(l->fd);
  pthread_mutex_destroy(&l->lock);
  l->fd = -1;
}

/* ---- a worker's buffer ---- */

static size_t count_lines(const char *p, size_t n) {
  size_t k = 0;
  for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
    k++;
  return k;
}

/* How much of |p| to write at once: on pipes and sockets whole lines of
 * at most PIPE_BUF octets (a longer line alone), so that writes of
 * several workers do not cut into each other's lines. */
static size_t chunk(const char *p, size_t n) {
  const char *nl;
  if (n <= PIPE_BUF)
    return n;
  nl = memrchr(p, '\n', PIPE_BUF);
  if (nl)
    return (size_t)(nl - p) + 1;
  nl = memchr(p, '\n', n);
  return nl ? (size_t)(nl - p) + 1 : n;
}

static void drop(struct qs_accesslog_w *w, size_t lines) {
  if (lines)
    __atomic_fetch_add(w->dropped, (uint64_t)lines, __ATOMIC_RELAXED);
}

static void write_out(struct qs_accesslog_w *w) {
  size_t off = 0;
  while (off < w->len) {
    size_t n = w->reg ? w->len - off : chunk(w->buf + off, w->len - off);
    ssize_t r = w->sock ? send(w->fd, w->buf + off, n, MSG_DONTWAIT | MSG_NOSIGNAL)
                        : write(w->fd, w->buf + off, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break; /* full: the retry timer tries again */
    if (r <= 0) {
      if (!w->warned)
        QS_WARN(w->worker, "access log %s: %s; dropping lines", w->l->path,
                r < 0 ? strerror(errno) : "no progress");
      w->warned = 1;
      drop(w, w->nlines);
      w->nlines = 0;
      off = w->len;
      break;
    }
    w->nlines -= count_lines(w->buf + off, (size_t)r);
    off += (size_t)r;
  }
  memmove(w->buf, w->buf + off, w->len - off);
  w->len -= off;
  if (w->len && !ev_is_active(&w->retry_w)) {
    ev_timer_set(&w->retry_w, 1., 1.);
    ev_timer_start(w->loop, &w->retry_w);
  } else if (!w->len && ev_is_active(&w->retry_w)) {
    ev_timer_stop(w->loop, &w->retry_w);
  }
}

/* After a reopen: what is buffered goes to the old file, what follows to
 * the new one. */
static void follow_reopen(struct qs_accesslog_w *w) {
  unsigned gen = __atomic_load_n(&w->l->gen, __ATOMIC_ACQUIRE);
  int fd;
  if (gen == w->gen)
    return;
  write_out(w);
  pthread_mutex_lock(&w->l->lock);
  fd = fcntl(w->l->fd, F_DUPFD_CLOEXEC, 0);
  w->sock = w->l->sock;
  w->reg = w->l->reg;
  w->gen = __atomic_load_n(&w->l->gen, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&w->l->lock);
  if (fd < 0) {
    QS_WARN(w->worker, "access log %s: cannot follow the reopen: %s", w->l->path,
            strerror(errno));
    return;
  }
  close(w->fd);
  w->fd = fd;
  w->warned = 0;
}

void qs_accesslog_flush(struct qs_accesslog_w *w) {
  if (!w->on)
    return;
  follow_reopen(w);
  if (w->len)
    write_out(w);
}

static void flush_cb(struct ev_loop *loop, ev_prepare *p, int revents) {
  (void)loop;
  (void)revents;
  qs_accesslog_flush(p->data);
}

static void retry_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  (void)loop;
  (void)revents;
  qs_accesslog_flush(t->data);
}

int qs_accesslog_worker_init(struct qs_accesslog_w *w, struct qs_accesslog *l,
                             struct ev_loop *loop, int worker, uint64_t *dropped) {
  memset(w, 0, sizeof *w);
  w->fd = -1;
  w->worker = worker;
  if (l->fd < 0)
    return 0;
  w->l = l;
  w->loop = loop;
  w->dropped = dropped;
  w->buf = malloc(QS_ACCESS_BUF);
  pthread_mutex_lock(&l->lock);
  w->fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 0);
  w->sock = l->sock;
  w->reg = l->reg;
  w->gen = l->gen;
  pthread_mutex_unlock(&l->lock);
  if (!w->buf || w->fd < 0) {
    free(w->buf);
    if (w->fd >= 0)
      close(w->fd);
    w->buf = NULL;
    w->fd = -1;
    return -1;
  }
  ev_prepare_init(&w->flush_w, flush_cb);
  w->flush_w.data = w;
  ev_prepare_start(loop, &w->flush_w);
  ev_timer_init(&w->retry_w, retry_cb, 1., 1.);
  w->retry_w.data = w;
  w->on = 1;
  return 0;
}

void qs_accesslog_worker_free(struct qs_accesslog_w *w) {
  if (!w->on)
    return;
  qs_accesslog_flush(w);
  drop(w, w->nlines); /* the target would not take them */
  ev_prepare_stop(w->loop, &w->flush_w);
  ev_timer_stop(w->loop, &w->retry_w);
  close(w->fd);
  free(w->buf);
  w->buf = NULL;
  w->fd = -1;
  w->on = 0;
}

void qs_accesslog_done(void *arg, const struct qs_req_done *d) {
  struct qs_accesslog_w *w = arg;
  char line[QS_ACCESS_LINE_MAX];
  struct timespec ts;
  size_t n;
  if (!w->on)
    return;
  follow_reopen(w);
  clock_gettime(CLOCK_REALTIME, &ts);
  n = qs_accesslog_format(line, sizeof line, w->l->format,
                          (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, d);
  if (w->len + n > QS_ACCESS_BUF)
    write_out(w);
  if (w->len + n > QS_ACCESS_BUF) {
    drop(w, 1); /* never wait for the target */
    return;
  }
  memcpy(w->buf + w->len, line, n);
  w->len += n;
  w->nlines++;
}
