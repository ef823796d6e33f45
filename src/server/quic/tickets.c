/* tickets.c: see tickets.h. */
#include "tickets.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "quicsteer/util.h"
#include "quicsteer/wstats.h"

int qs_instance_master(struct qs_secret *m, const char *name, char *err, size_t errlen) {
  char dir[PATH_MAX], path[PATH_MAX + sizeof QS_TICKET_FILE + 1];
  int rv;

  snprintf(dir, sizeof dir, "%s/%s", QS_WSTATS_DIR, name);
  snprintf(path, sizeof path, "%s/%s", dir, QS_TICKET_FILE);
  if (qs_mkdir_p(dir, 0755) != 0) {
    snprintf(err, errlen, "cannot create %s for the instance key: %s", dir,
             strerror(errno));
    return -1;
  }
  rv = qs_secret_load_or_create(m, path);
  if (rv == QS_ERR_SYS && errno == EPERM)
    snprintf(err, errlen, "instance key %s must be a file of this user with mode 0600",
             path);
  else if (rv == QS_ERR_SYS)
    snprintf(err, errlen, "cannot use instance key %s: %s", path, strerror(errno));
  else if (rv != 0)
    snprintf(err, errlen, "cannot use instance key %s: %s", path, qs_strerror(rv));
  return rv == 0 ? 0 : -1;
}

int qs_tickets_init(struct qs_tickets *t, const struct qs_secret *master, const uint8_t *ctx,
                    size_t ctxlen, unsigned lifetime_s, char *err, size_t errlen) {
  int rv;

  memset(t, 0, sizeof *t);
  if (lifetime_s == 0 || lifetime_s > QS_TICKET_LIFETIME_MAX) {
    snprintf(err, errlen, "session ticket lifetime must be 1..%u seconds",
             QS_TICKET_LIFETIME_MAX);
    return -1;
  }
  rv = qs_secret_derive(master, "session ticket", ctx, ctxlen, t->key, sizeof t->key);
  if (rv != 0) {
    snprintf(err, errlen, "cannot derive the session ticket key: %s", qs_strerror(rv));
    return -1;
  }
  t->lifetime_s = lifetime_s;
  return 0;
}

int qs_tickets_configure(const struct qs_tickets *t, gnutls_session_t s) {
  gnutls_datum_t key = {.data = (unsigned char *)t->key, .size = sizeof t->key};
  /* the ticket lifetime, and so GnuTLS's rotation period (3 lifetimes) */
  gnutls_db_set_cache_expiration(s, (int)t->lifetime_s);
  return gnutls_session_ticket_enable_server(s, &key);
}

void qs_tickets_release(const char *name) {
  char dir[PATH_MAX], path[PATH_MAX + sizeof QS_TICKET_FILE + 1];
  struct dirent *e;
  DIR *d;
  int live = 0;

  snprintf(dir, sizeof dir, "%s/%s", QS_WSTATS_DIR, name);
  d = opendir(dir);
  if (!d)
    return;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "gen-", 4) == 0)
      live = 1;
  closedir(d);
  if (live)
    return;
  snprintf(path, sizeof path, "%s/%s", dir, QS_TICKET_FILE);
  unlink(path);
  rmdir(dir);
}

void qs_tickets_free(struct qs_tickets *t) { explicit_bzero(t, sizeof *t); }
