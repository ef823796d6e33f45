/* log.h: one-line log messages on stderr, prefixed with the thread's role.
 *
 * Each line is formatted into a local buffer and written with a single
 * write(2), so lines from different workers never interleave.  The level
 * is process-wide and set once before threads start.
 */
#ifndef QS_SERVER_LOG_H
#define QS_SERVER_LOG_H

enum qs_log_level {
  QS_LOG_ERROR = 0,
  QS_LOG_WARN = 1,
  QS_LOG_INFO = 2,
  QS_LOG_DEBUG = 3,
};

/* QS_LOG_MAIN as |worker| marks a line from the main thread. */
#define QS_LOG_MAIN -1

extern int qs_log_level;

/* qs_log_parse_level returns the level named |s| or -1. */
int qs_log_parse_level(const char *s);

void qs_log(int level, int worker, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define qs_log_enabled(level) ((level) <= qs_log_level)

#define QS_ERROR(w, ...) qs_log(QS_LOG_ERROR, (w), __VA_ARGS__)
#define QS_WARN(w, ...) qs_log(QS_LOG_WARN, (w), __VA_ARGS__)
#define QS_INFO(w, ...) qs_log(QS_LOG_INFO, (w), __VA_ARGS__)
#define QS_DEBUG(w, ...)                                                                           \
  do {                                                                                             \
    if (qs_log_enabled(QS_LOG_DEBUG))                                                              \
      qs_log(QS_LOG_DEBUG, (w), __VA_ARGS__);                                                      \
  } while (0)

#endif
