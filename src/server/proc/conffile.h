/* conffile.h: the --conf file, translated into long options.
 *
 * Syntax (docs/config.md): one setting per line, "name = value" where
 * name is a long option of quicsteer-server without its dashes; a flag
 * (an option without a value) is "name" alone or "name = true" ("name =
 * false" leaves it unset).  Blank lines and lines whose first non-blank
 * character is '#' are ignored, and so is everything from a '#' that
 * follows a blank.  A value may be written in double quotes to keep
 * blanks or a '#'; there are no escapes.  A repeatable option is
 * repeated.
 *
 * Each setting becomes one argument "--name=value" (or "--name") that the
 * same getopt_long table parses as the command line, so there is no
 * second list of options; its line number is kept for messages.
 */
#ifndef QS_SERVER_CONFFILE_H
#define QS_SERVER_CONFFILE_H

#include <getopt.h>
#include <stddef.h>

#define QS_CONF_MAX_SIZE (1024 * 1024) /* octets: larger files are refused */
#define QS_CONF_MAX_LINE 4096          /* octets per line */
#define QS_CONF_MAX_ERRORS 64          /* reported; the rest are counted */
#define QS_CONF_MSG_MAX 320

/* messages about the configuration; line 0: not from the file */
struct qs_conf_errors {
  size_t n;    /* in e[] */
  size_t more; /* beyond QS_CONF_MAX_ERRORS */
  struct {
    unsigned line;
    char msg[QS_CONF_MSG_MAX];
  } e[QS_CONF_MAX_ERRORS];
};

/* qs_conf_error_add records |msg| for |line|. */
void qs_conf_error_add(struct qs_conf_errors *errs, unsigned line, const char *msg);

struct qs_conf_arg {
  char *arg; /* "--name=value" or "--name", allocated */
  unsigned line;
};

struct qs_conffile {
  struct qs_conf_arg *args;
  size_t nargs, cap;
};

/* qs_conffile_parse translates the file text |text| (|len| octets) into
 * c->args, checking every name against |opts| (has_arg tells a flag from
 * an option with a value); the names in |reject| (NULL-terminated) are
 * refused as command-line only.  Every malformed line is recorded in
 * |errs|.  Returns 0, or -1 if out of memory. */
int qs_conffile_parse(struct qs_conffile *c, const char *text, size_t len,
                      const struct option *opts, const char *const *reject,
                      struct qs_conf_errors *errs);

/* qs_conffile_read reads |path| and parses it as qs_conffile_parse does.
 * Returns 0, -1 if out of memory, or -errno if the file cannot be read
 * (-EFBIG: over QS_CONF_MAX_SIZE). */
int qs_conffile_read(struct qs_conffile *c, const char *path, const struct option *opts,
                     const char *const *reject, struct qs_conf_errors *errs);

void qs_conffile_free(struct qs_conffile *c);

#endif
