/* options.h: quicsteer-server's numeric options, one table row each, and
 * the one parser that reads, checks and stores their values; and its
 * flags, one row each.
 *
 * config.c puts every row into the getopt_long table, so the command line
 * and the --conf file (conffile.h) reach the same parser.  A value is a
 * decimal number (no sign but '-' where the type is signed or a double,
 * no blanks, no hex), optionally followed by a suffix of its unit
 * (docs/config.md, "Numbers"):
 *
 *   seconds       "s", "ms"    (30s, 250ms)
 *   milliseconds  "ms", "s"    (100ms, 2s)
 *   octets        "k", "K" (1024), "M" (1048576)
 *
 * A suffix that makes an integer option's value fractional ("1500ms" for
 * whole seconds) is an error.  The value must then lie in [min, max]
 * (min excluded for rows with min_open).
 */
#ifndef QS_SERVER_OPTIONS_H
#define QS_SERVER_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

/* how the field stores the value */
enum qs_numopt_type {
  QS_NUM_INT,    /* int */
  QS_NUM_UINT,   /* unsigned */
  QS_NUM_SIZE,   /* size_t */
  QS_NUM_DOUBLE, /* double */
};

/* what the number counts: its suffixes and its word in messages */
enum qs_numopt_unit {
  QS_UNIT_NONE,
  QS_UNIT_SECONDS,
  QS_UNIT_MS,
  QS_UNIT_OCTETS,
};

struct qs_numopt {
  const char *name; /* the long option, without its dashes */
  char short_name;  /* 0: none */
  uint8_t type;     /* enum qs_numopt_type */
  uint8_t unit;     /* enum qs_numopt_unit */
  uint8_t min_open; /* 1: the value must be above min */
  size_t off;       /* the field in the struct the parser fills */
  size_t size;      /* sizeof the field, checked against type */
  double min, max;  /* exact for integers up to 2^53 */
  double def;       /* the default (qs_numopt_defaults) */
};

#define QS_NUMOPT_MAX 48 /* rows of qs_numopts, at most */

/* The numeric options of struct qs_config (config.h), NULL-named last. */
extern const struct qs_numopt qs_numopts[];

/* A flag (an option without a value) sets an int field to 1. */
struct qs_flagopt {
  const char *name;
  size_t off;
};

#define QS_FLAGOPT_MAX 24 /* rows of qs_flagopts, at most */

/* The flags of struct qs_config, NULL-named last. */
extern const struct qs_flagopt qs_flagopts[];

/* qs_numopt_parse reads |text| as a value of |o| and stores it into the
 * field of |base| that |o| names.  Returns 0, or -1 with a one-line
 * message naming the option, the value and the accepted range in |msg|
 * (|base| untouched). */
int qs_numopt_parse(const struct qs_numopt *o, const char *text, void *base, char *msg,
                    size_t msglen);

/* qs_numopt_defaults stores every row's default into |base|. */
void qs_numopt_defaults(const struct qs_numopt *rows, void *base);

#endif
