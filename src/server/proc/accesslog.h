/* accesslog.h: the access log (--access-log): one line per request.
 *
 * The HTTP layer hands each finished request to qs_accesslog_done, its
 * "done" hook (struct qs_req_done, req.h).  The line is formatted
 * (qs_accesslog_format, a pure function) into the worker's own buffer of QS_ACCESS_BUF octets,
 * which is written once per loop iteration (an ev_prepare watcher) with a
 * non-blocking write of whole lines; what the target does not take stays
 * buffered and is retried every second.  Nothing ever blocks the worker:
 * a line that finds the buffer full is dropped and counted (log_dropped),
 * and so are the buffered lines when the target fails (ENOSPC, EPIPE...).
 *
 * Targets: a file, opened O_APPEND (every generation of a takeover appends
 * to the same file; each write holds whole lines, so lines of several
 * workers and processes never interleave); or "-", standard error: a pipe
 * or terminal is reopened through /proc/self/fd/2 as a new non-blocking
 * open file (stderr itself stays blocking for the server's messages), a
 * socket (the journal) is written with MSG_DONTWAIT.  On pipes and sockets
 * writes are cut at line ends, at most PIPE_BUF octets each, so that
 * workers' lines stay whole there too.
 *
 * Reopen (SIGUSR1, as logrotate expects): the main thread opens the path
 * anew and bumps a generation counter; each worker sees the new counter
 * before its next line or flush, writes what it buffered to the old file,
 * and switches to its own duplicate of the new descriptor.  A line for a
 * request that completes after the reopen goes to the new file.
 */
#ifndef QS_SERVER_ACCESSLOG_H
#define QS_SERVER_ACCESSLOG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "config.h" /* QS_ACCESS_LOG_COMBINED, QS_ACCESS_LOG_JSON */
#include "req.h"    /* struct qs_req_done */

#define QS_ACCESS_BUF (64 * 1024) /* per worker */
#define QS_ACCESS_LINE_MAX 8192   /* longer fields are cut to fit */

/* qs_accesslog_format writes the line for request |d|, finished at
 * |unix_ns| (wall clock), with its '\n' into |buf|, |cap| >=
 * QS_ACCESS_LINE_MAX, and returns its length.  Absent strings (NULL) are
 * "-" in combined and null in JSON.
 *
 * combined: the Apache/nginx combined format, then the extra fields:
 *   127.0.0.1 - - [01/Dec/2026:09:33:07 +0000] "GET /a?b HTTP/3" 200 512 "-" "-"
 *   client_port=50123 duration=0.000412 worker=1 upstream=- reset=0
 * Time in UTC; in quoted fields '"', '\' and octets outside 0x20..0x7e
 * are written \xHH.
 * json: one object per line, the same fields:
 *   {"time":"2026-12-01T09:33:07.123Z","client":"127.0.0.1","client_port":50123,
 *    "protocol":"HTTP/3","method":"GET","path":"/a?b","status":200,"body_bytes":512,
 *    "duration":0.000412,"worker":1,"upstream":null,"reset":false,"referer":null,
 *    "user_agent":null}
 * Strings are escaped for JSON; octets that are not valid UTF-8 are written
 * as \u00HH (their Latin-1 reading), so every line is valid JSON. */
size_t qs_accesslog_format(char *buf, size_t cap, int format, uint64_t unix_ns,
                           const struct qs_req_done *d);

/* The process's log target, shared by the workers. */
struct qs_accesslog {
  int fd;   /* -1: no access log */
  int sock; /* the target is a socket: send(MSG_DONTWAIT) */
  int reg;  /* a regular file: one write per flush */
  int format;
  const char *path;
  unsigned gen; /* bumped by each reopen (atomic) */
  pthread_mutex_t lock; /* fd while reopening */
};

/* qs_accesslog_open opens |path| ("-": standard error).  Returns 0, or
 * -errno with one sentence in |err|. */
int qs_accesslog_open(struct qs_accesslog *l, const char *path, int format, char *err,
                      size_t errlen);

/* qs_accesslog_reopen (main thread, SIGUSR1) opens the path again and
 * moves the workers to it.  Returns 0, or -errno (the old file stays). */
int qs_accesslog_reopen(struct qs_accesslog *l);

void qs_accesslog_close(struct qs_accesslog *l);

/* One worker's buffer. */
struct qs_accesslog_w {
  int on;
  struct qs_accesslog *l;
  struct ev_loop *loop;
  int worker; /* for messages */
  int fd; /* this worker's duplicate of l->fd */
  int sock, reg; /* as l's when duplicated */
  unsigned gen;
  char *buf;
  size_t len;
  size_t nlines;     /* in buf, counted as dropped if the target fails */
  uint64_t *dropped; /* the worker's log_dropped counter */
  int warned;        /* a failure was reported for this descriptor */
  ev_prepare flush_w; /* every loop iteration */
  ev_timer retry_w;   /* every second while the target is full */
};

/* qs_accesslog_worker_init sets up the worker's buffer on |loop| (on = 0
 * if |l| has no target).  Returns 0 or -1. */
int qs_accesslog_worker_init(struct qs_accesslog_w *w, struct qs_accesslog *l,
                             struct ev_loop *loop, int worker, uint64_t *dropped);

/* qs_accesslog_worker_free writes what is buffered (without blocking) and
 * releases the buffer; what the target does not take is counted dropped. */
void qs_accesslog_worker_free(struct qs_accesslog_w *w);

/* qs_accesslog_done logs one request: the HTTP layer's done hook
 * (qs_req_done_cb), |arg| the worker's struct qs_accesslog_w. */
void qs_accesslog_done(void *arg, const struct qs_req_done *d);

/* qs_accesslog_flush writes buffered lines now, without blocking. */
void qs_accesslog_flush(struct qs_accesslog_w *w);

#endif
