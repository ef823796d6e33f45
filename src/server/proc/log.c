/* log.c: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int qs_log_level = QS_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int qs_log_parse_level(const char *s) {
  for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
    if (strcmp(s, level_names[i]) == 0)
      return i;
  if (strcmp(s, "warning") == 0)
    return QS_LOG_WARN;
  return -1;
}

void qs_log(int level, int worker, const char *fmt, ...) {
  char line[1024];
  int n;
  va_list ap;

  if (!qs_log_enabled(level))
    return;
  if (worker == QS_LOG_MAIN)
    n = snprintf(line, sizeof line, "quicsteer-server[main] %s: ", level_names[level]);
  else
    n = snprintf(line, sizeof line, "quicsteer-server[w%d] %s: ", worker, level_names[level]);
  va_start(ap, fmt);
  n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof line - 2)
    n = (int)sizeof line - 2;
  line[n++] = '\n';
  /* stderr is unbuffered; one write keeps the line whole */
  ssize_t rv = write(STDERR_FILENO, line, (size_t)n);
  (void)rv;
}
