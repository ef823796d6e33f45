/* fs.c: file-system helpers for the run-time directories. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "quicsteer/util.h"

int qs_mkdir_p(const char *dir, unsigned mode) {
  char tmp[PATH_MAX];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s", dir) >= sizeof tmp) {
    errno = ENAMETOOLONG;
    return QS_ERR_SYS;
  }
  for (char *p = tmp + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char c = *p;
    *p = '\0';
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
      return QS_ERR_SYS;
    if (c == '\0')
      return 0;
    *p = c;
  }
}
