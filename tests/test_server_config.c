/* test_server_config.c: quicsteer-server's options and --conf file
 * (src/server/proc/config.c, conffile.c): settings, precedence between the
 * file and the command line, and every error with its line number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conffile.h"
#include "config.h"
#include "options.h"

static char dir[] = "/tmp/qs-conf-XXXXXX";
static char path[256];
static struct qs_config cfg;

static const char *write_conf(const char *text, size_t len) {
  FILE *f;
  snprintf(path, sizeof path, "%s/q.conf", dir);
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  fclose(f);
  return path;
}

/* parse "prog ARGS..." with the file |text| written to |path| */
static int parse(const char *text, ...) {
  char *argv[32];
  int argc = 0;
  va_list ap;
  if (text)
    write_conf(text, strlen(text));
  argv[argc++] = (char *)"quicsteer-server";
  va_start(ap, text);
  for (char *a; (a = va_arg(ap, char *)) != NULL;)
    argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  qs_config_free(&cfg);
  return qs_config_parse(&cfg, argc, argv);
}

static void expect_error(size_t i, unsigned line, const char *part) {
  unsigned l = 99999;
  const char *msg = qs_config_error(&cfg, i, &l);
  assert_non_null(msg);
  if (l != line || !strstr(msg, part))
    fail_msg("error %zu: want line %u with '%s', got line %u: %s", i, line, part, l, msg);
}

static int setup(void **state) {
  (void)state;
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state) {
  char p[300];
  (void)state;
  qs_config_free(&cfg);
  snprintf(p, sizeof p, "%s/q.conf", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/cert.pem", dir);
  unlink(p);
  rmdir(dir);
  return 0;
}

static void test_settings(void **state) {
  (void)state;
  const char text[] = "# a comment\n"
                      "\n"
                      "   listen = 127.0.0.1:4433\n"
                      "listen=[::1]:4433\n"
                      "workers = 3   # a trailing comment\n"
                      "cert = /c.pem\r\n"
                      "key = \"/k # not a comment.pem\"  # but this is\n"
                      "qlog-dir = /q#1\n"
                      "no-bpf\n"
                      "no-forward = true\n"
                      "detach = false\n"
                      "\t# indented comment\n"
                      "access-log = -\n"
                      "access-log-format = json\n"
                      "idle-timeout = 7"; /* no final newline */
  assert_int_equal(parse(text, "--conf", path, NULL), QS_CONFIG_OK);
  assert_int_equal(qs_config_nerrors(&cfg), 0);
  assert_int_equal(cfg.nlisten, 2);
  assert_string_equal(cfg.listen[0].text, "127.0.0.1:4433");
  assert_string_equal(cfg.listen[1].text, "[::1]:4433");
  assert_int_equal(cfg.workers, 3);
  assert_string_equal(cfg.cert, "/c.pem");
  assert_string_equal(cfg.key, "/k # not a comment.pem");
  assert_string_equal(cfg.qlog_dir, "/q#1");
  assert_int_equal(cfg.no_bpf, 1);
  assert_int_equal(cfg.no_forward, 1);
  assert_int_equal(cfg.detach, 0);
  assert_string_equal(cfg.access_log, "-");
  assert_int_equal(cfg.access_log_format, QS_ACCESS_LOG_JSON);
  assert_int_equal(cfg.idle_timeout_s, 7);
  assert_string_equal(cfg.conf, path);
  assert_int_equal(qs_config_line(&cfg, "workers"), 5);
  assert_int_equal(qs_config_line(&cfg, "key"), 7);
  assert_int_equal(qs_config_line(&cfg, "name"), 0); /* not in the file */
  assert_int_equal(qs_config_line(&cfg, "no-such-option"), 0);
}

/* The file counts where --conf stands: later options win, earlier lose;
 * repeatable options add up in that order. */
static void test_precedence(void **state) {
  (void)state;
  const char text[] = "workers = 2\nname = fromfile\nlisten = 127.0.0.2:1\ncert = /f.pem\n";
  assert_int_equal(parse(text, "--workers", "5", "--listen", "127.0.0.1:1", "--cert", "/a.pem",
                         "--conf", path, "--name", "cli", "--key", "/k.pem", NULL),
                   QS_CONFIG_OK);
  assert_int_equal(cfg.workers, 2);
  assert_string_equal(cfg.name, "cli");
  assert_string_equal(cfg.cert, "/f.pem");
  assert_int_equal(cfg.nlisten, 2);
  assert_string_equal(cfg.listen[0].text, "127.0.0.1:1");
  assert_string_equal(cfg.listen[1].text, "127.0.0.2:1");
  assert_int_equal(qs_config_line(&cfg, "workers"), 1);
  assert_int_equal(qs_config_line(&cfg, "name"), 0); /* the command line's */
  /* --conf=FILE works too; a flag after it is simply added */
  assert_int_equal(parse(text, "--conf=" "/dev/null", "--cert", "/c", "--key", "/k", "--no-bpf",
                         NULL),
                   QS_CONFIG_OK);
  assert_int_equal(cfg.no_bpf, 1);
  assert_int_equal(cfg.workers > 0, 1);
}

/* Every kind of error, each with its line, all of them reported. */
static void test_errors(void **state) {
  (void)state;
  char text[8192];
  size_t n = 0;
  n += (size_t)snprintf(text + n, sizeof text - n,
                        "cert = /c\n"                 /* 1 ok */
                        "key = /k\n"                  /* 2 ok */
                        "bogus = 1\n"                 /* 3 unknown */
                        "workers = 0\n"               /* 4 bad value (option parser) */
                        "no-bpf = 1\n"                /* 5 flag with a value */
                        "root\n"                      /* 6 value missing */
                        "root =   \n"                 /* 7 empty value */
                        "workers 3\n"                 /* 8 no '=' */
                        "key = \"/x\n"                /* 9 unterminated quote */
                        "key = \"/x\" y\n"            /* 10 text after the quote */
                        "conf = /etc/other.conf\n"    /* 11 command line only */
                        "help\n"                      /* 12 command line only */
                        "retry = sometimes\n"         /* 13 bad value */
                        "listen = nowhere\n"          /* 14 bad address */
                        "Workers = 2\n"               /* 15 not a name */
                        "-w = 2\n"                    /* 16 not a name */
                        "access-log-format = xml\n"   /* 17 bad value */
                        "listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n"
                        "listen = 127.0.0.1:3\nlisten = 127.0.0.1:4\n" /* 18-21 */
                        "listen = 127.0.0.1:5\n"      /* 22 a fifth address */
                        "host-id = zz\n");            /* 23 bad hex */
  memset(text + n, 'a', QS_CONF_MAX_LINE + 1);      /* 24 too long */
  n += QS_CONF_MAX_LINE + 1;
  memcpy(text + n, "\nname = a\0b\n", 12); /* 25 NUL octet */
  n += 12;
  n += (size_t)snprintf(text + n, sizeof text - n, "workers = 4\n"); /* 26 fine again */
  write_conf(text, n);
  assert_int_equal(parse(NULL, "--conf", path, NULL), QS_CONFIG_USAGE);
  assert_int_equal(qs_config_nerrors(&cfg), 19);
  expect_error(0, 3, "unknown option 'bogus'");
  expect_error(1, 4, "bad --workers '0'");
  expect_error(2, 5, "'no-bpf' is a flag");
  expect_error(3, 6, "'root' needs a value");
  expect_error(4, 7, "'root' needs a value");
  expect_error(5, 8, "expected 'name = value'");
  expect_error(6, 9, "unterminated quote");
  expect_error(7, 10, "text after the closing quote");
  expect_error(8, 11, "'conf' is for the command line only");
  expect_error(9, 12, "'help' is for the command line only");
  expect_error(10, 13, "bad --retry 'sometimes'");
  expect_error(11, 14, "bad --listen address 'nowhere'");
  expect_error(12, 15, "expected 'name = value'");
  expect_error(13, 16, "unknown option '-w'");
  expect_error(14, 17, "bad --access-log-format 'xml'");
  expect_error(15, 22, "at most 4 --listen");
  expect_error(16, 23, "bad --host-id 'zz'");
  expect_error(17, 24, "line longer than 4096");
  expect_error(18, 25, "NUL octet");
  /* each bad line was dropped and the rest applied */
  assert_int_equal(cfg.workers, 4);
  assert_int_equal(cfg.nlisten, 4);
}

/* What is not a file line is reported after the file's lines. */
static void test_command_line_errors(void **state) {
  (void)state;
  assert_int_equal(parse("bogus\n", "--conf", path, "--workers", "x", NULL), QS_CONFIG_USAGE);
  assert_int_equal(qs_config_nerrors(&cfg), 2);
  expect_error(0, 1, "unknown option 'bogus'");
  expect_error(1, 0, "bad --workers 'x'");
  /* required options missing */
  assert_int_equal(parse("workers = 1\n", "--conf", path, NULL), QS_CONFIG_USAGE);
  assert_int_equal(qs_config_nerrors(&cfg), 1);
  expect_error(0, 0, "--cert FILE is required");
  /* --conf twice, a missing file, a directory */
  assert_int_equal(parse("", "--conf", path, "--conf", path, NULL), QS_CONFIG_USAGE);
  expect_error(0, 0, "--conf given twice");
  assert_int_equal(parse(NULL, "--conf", "/nonexistent/q.conf", NULL), QS_CONFIG_USAGE);
  expect_error(0, 0, "cannot read --conf /nonexistent/q.conf: No such file");
  assert_int_equal(parse(NULL, "--conf", dir, NULL), QS_CONFIG_USAGE);
  expect_error(0, 0, "Is a directory");
  assert_int_equal(parse(NULL, "--conf", NULL), QS_CONFIG_USAGE);
  expect_error(0, 0, "needs a value");
  /* no file: the command line alone, as before */
  assert_int_equal(parse(NULL, "--cert", "/c", "--key", "/k", "-w", "2", NULL), QS_CONFIG_OK);
  assert_int_equal(cfg.workers, 2);
  assert_null(cfg.conf);
  assert_int_equal(cfg.access_log_format, QS_ACCESS_LOG_COMBINED);
  assert_null(cfg.access_log);
}

/* --check-config: the files named, each reported at the line naming it. */
static void test_check(void **state) {
  char text[1024], cert[300];
  (void)state;
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  fclose(fopen(cert, "w"));
  snprintf(text, sizeof text,
           "cert = %s\n"                     /* 1 readable */
           "key = %s/missing.pem\n"          /* 2 missing */
           "root = %s\n"                     /* 3 not a directory */
           "qlog-dir = %s/none\n"            /* 4 missing */
           "access-log = %s/none/access.log\n" /* 5 directory missing */
           "secret-file = %s\n",             /* 6 a directory */
           cert, dir, cert, dir, dir, dir);
  assert_int_equal(parse(text, "--conf", path, "--check-config", NULL), QS_CONFIG_OK);
  assert_int_equal(cfg.check_config, 1);
  assert_int_equal(qs_config_check(&cfg), 5);
  expect_error(0, 2, "cannot read key");
  expect_error(1, 3, "cannot read root");
  expect_error(2, 6, "secret-file");
  expect_error(3, 4, "qlog-dir");
  expect_error(4, 5, "cannot create access-log");
  assert_int_equal(qs_config_report(&cfg), 5);
  expect_error(0, 2, "cannot read key"); /* sorted by line */
  expect_error(2, 4, "qlog-dir");
  expect_error(4, 6, "secret-file");
  /* a repeated option: each value at its own line */
  assert_int_equal(parse("proxy = /a=http://127.0.0.1:1\nproxy = /b=http://127.0.0.1:2\n",
                         "--conf", path, "--cert", "/c", "--key", "/k", "--proxy",
                         "/c=http://127.0.0.1:3", NULL),
                   QS_CONFIG_OK);
  assert_int_equal(cfg.nproxy, 3);
  qs_config_complain_value(&cfg, cfg.proxy[1], "second");
  qs_config_complain_value(&cfg, cfg.proxy[0], "first");
  qs_config_complain_value(&cfg, cfg.proxy[2], "command line");
  expect_error(0, 2, "second");
  expect_error(1, 1, "first");
  expect_error(2, 0, "command line");
  /* all good */
  snprintf(text, sizeof text, "cert = %s\nkey = %s\nroot = %s\naccess-log = %s/a.log\n", cert,
           cert, dir, dir);
  assert_int_equal(parse(text, "--conf", path, NULL), QS_CONFIG_OK);
  assert_int_equal(qs_config_check(&cfg), 0);
  /* the command line's values are reported without a line */
  assert_int_equal(parse(text, "--conf", path, "--key", "/nonexistent", NULL), QS_CONFIG_OK);
  assert_int_equal(qs_config_check(&cfg), 1);
  expect_error(0, 0, "cannot read key /nonexistent");
}

/* The file parser alone. */
static void test_conffile(void **state) {
  static const struct option opts[] = {{"alpha", required_argument, NULL, 1},
                                       {"beta", no_argument, NULL, 2},
                                       {NULL, 0, NULL, 0}};
  static const char *const reject[] = {"beta", NULL};
  struct qs_conf_errors errs;
  struct qs_conffile c;
  const char text[] = "alpha = x y \nalpha=\"\"\nbeta\nalpha = \"q\"#c\n";
  (void)state;
  memset(&errs, 0, sizeof errs);
  assert_int_equal(qs_conffile_parse(&c, text, sizeof text - 1, opts, reject, &errs), 0);
  assert_int_equal(c.nargs, 2);
  assert_string_equal(c.args[0].arg, "--alpha=x y");
  assert_int_equal(c.args[0].line, 1);
  assert_string_equal(c.args[1].arg, "--alpha=q");
  assert_int_equal(c.args[1].line, 4);
  assert_int_equal(errs.n, 2);
  assert_int_equal(errs.e[0].line, 2); /* "" is empty */
  assert_int_equal(errs.e[1].line, 3);
  qs_conffile_free(&c);
  /* error overflow is counted */
  memset(&errs, 0, sizeof errs);
  char many[QS_CONF_MAX_ERRORS * 4 + 40];
  size_t n = 0;
  for (int i = 0; i < QS_CONF_MAX_ERRORS + 5; i++)
    many[n++] = 'x', many[n++] = '\n';
  assert_int_equal(qs_conffile_parse(&c, many, n, opts, reject, &errs), 0);
  assert_int_equal(errs.n, QS_CONF_MAX_ERRORS);
  assert_int_equal(errs.more, 5);
  qs_conffile_free(&c);
}

/* The numeric option parser alone, on a table of one row per type. */
struct nums {
  int i;
  unsigned u, ms, whole_s;
  size_t z;
  double d, s;
};

#define NUMROW(name, type, unit, open, field, lo, hi, def)                                    \
  {name, 0, type, unit, open, offsetof(struct nums, field), sizeof(((struct nums *)0)->field), \
   lo, hi, def}

static const struct qs_numopt numrows[] = {
    NUMROW("int", QS_NUM_INT, QS_UNIT_NONE, 0, i, -5, 5, -1),
    NUMROW("uint", QS_NUM_UINT, QS_UNIT_NONE, 0, u, 1, 100, 7),
    NUMROW("size", QS_NUM_SIZE, QS_UNIT_OCTETS, 0, z, 1024, 1 << 20, 4096),
    NUMROW("double", QS_NUM_DOUBLE, QS_UNIT_NONE, 0, d, 0.5, 2.5, 1),
    NUMROW("secs", QS_NUM_DOUBLE, QS_UNIT_SECONDS, 1, s, 0, 60, 5),
    NUMROW("ms", QS_NUM_UINT, QS_UNIT_MS, 0, ms, 1, 10000, 100),
    NUMROW("whole", QS_NUM_UINT, QS_UNIT_SECONDS, 0, whole_s, 1, 86400, 30),
    {NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct qs_numopt *numrow(const char *name) {
  for (const struct qs_numopt *o = numrows; o->name; o++)
    if (!strcmp(o->name, name))
      return o;
  fail_msg("no row %s", name);
  return NULL;
}

/* the field |o| names, as a double */
static double field_of(const struct qs_numopt *o, const struct nums *n) {
  const char *f = (const char *)n + o->off;
  switch (o->type) {
  case QS_NUM_INT:
    return *(const int *)f;
  case QS_NUM_UINT:
    return *(const unsigned *)f;
  case QS_NUM_SIZE:
    return (double)*(const size_t *)f;
  default:
    return *(const double *)f;
  }
}

/* what each row's values must be refused with */
static const char *want_of(const char *name) {
  static const char *const wants[][2] = {
      {"int", "-5..5"},
      {"uint", "1..100"},
      {"size", "1024..1048576 octets"},
      {"double", "0.5..2.5"},
      {"secs", "more than 0, at most 60 seconds"},
      {"ms", "1..10000 milliseconds"},
      {"whole", "1..86400 seconds"},
  };
  for (size_t i = 0; i < sizeof wants / sizeof *wants; i++)
    if (!strcmp(wants[i][0], name))
      return wants[i][1];
  fail_msg("no row %s", name);
  return NULL;
}

/* |text| is refused for option |name| with a message naming both and the
 * range, and the field keeps its value */
static void refused(const char *name, const char *text) {
  struct nums n, before;
  char msg[QS_CONF_MSG_MAX], expect[QS_CONF_MSG_MAX];
  memset(&n, 0x5a, sizeof n);
  before = n;
  if (qs_numopt_parse(numrow(name), text, &n, msg, sizeof msg) != -1)
    fail_msg("--%s '%s' accepted", name, text);
  snprintf(expect, sizeof expect, "bad --%s '%s' (want %s)", name, text, want_of(name));
  if (strcmp(msg, expect) != 0)
    fail_msg("--%s '%s': got \"%s\", want \"%s\"", name, text, msg, expect);
  assert_memory_equal(&n, &before, sizeof n);
}

static void test_numopt(void **state) {
  static const char *const names[] = {"int", "uint", "size", "double", "secs", "ms", "whole"};
  /* not a number, or a number with something after it, for every type */
  static const char *const junk[] = {"", "x", " 5", "5 ", "+5", "5x", "0x10", "inf", "nan",
                                     "--1", "1,5", "5\n"};
  static const struct {
    const char *name, *text;
  } bad[] = {
      /* a suffix of another unit, or none where the unit has none */
      {"uint", "5s"},
      {"int", "1k"},
      {"double", "1s"},
      {"secs", "5ss"},
      {"secs", "5k"},
      {"size", "2kb"},
      {"size", "2ms"},
      {"ms", "5k"},
      {"uint", "1e2"}, /* exponents only for doubles */
      /* negative */
      {"uint", "-1"},
      {"size", "-1024"},
      {"ms", "-5"},
      {"double", "-1"},
      {"secs", "-0"},
      /* overflow of the number itself, or with its suffix */
      {"uint", "99999999999999999999999"},
      {"uint", "4294967297"},
      {"int", "-9223372036854775809"},
      {"int", "9223372036854775808"},
      {"size", "18014398509481984k"},
      {"size", "18446744073709551616"},
      {"ms", "18446744073709551615s"},
      {"double", "1e999"},
      {"secs", "1e999ms"},
      /* out of range, both sides, each type */
      {"int", "-6"},
      {"int", "6"},
      {"uint", "0"},
      {"uint", "101"},
      {"size", "1023"},
      {"size", "1048577"},
      {"size", "2M"},
      {"double", "0.49"},
      {"double", "2.5000001"},
      {"secs", "0"}, /* the open end */
      {"secs", "0ms"},
      {"secs", "60.001"},
      {"secs", "60001ms"},
      {"ms", "0"},
      {"ms", "10001"},
      {"ms", "11s"},
      {"whole", "0"},
      {"whole", "86401"},
      {"whole", "1500ms"}, /* not whole seconds */
  };
  static const struct {
    const char *name, *text;
    double value;
  } good[] = {
      /* the ends, the suffixes, what each type stores */
      {"int", "-5", -5},
      {"int", "5", 5},
      {"int", "0", 0},
      {"uint", "1", 1},
      {"uint", "0100", 100},
      {"size", "1024", 1024},
      {"size", "1k", 1024},
      {"size", "32K", 32768},
      {"size", "1M", 1048576},
      {"double", "0.5", 0.5},
      {"double", "2.5", 2.5},
      {"double", "25e-1", 2.5},
      {"double", ".75", 0.75},
      {"secs", "60", 60},
      {"secs", "0.001", 0.001},
      {"secs", "1.5s", 1.5},
      {"secs", "250ms", 0.25},
      {"ms", "1", 1},
      {"ms", "10000ms", 10000},
      {"ms", "2s", 2000},
      {"whole", "30s", 30},
      {"whole", "2000ms", 2},
      {"whole", "86400", 86400},
  };
  struct nums n;
  char msg[QS_CONF_MSG_MAX];
  (void)state;
  for (size_t t = 0; t < sizeof names / sizeof *names; t++)
    for (size_t j = 0; j < sizeof junk / sizeof *junk; j++)
      refused(names[t], junk[j]);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    refused(bad[i].name, bad[i].text);
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    const struct qs_numopt *o = numrow(good[i].name);
    memset(&n, 0, sizeof n);
    if (qs_numopt_parse(o, good[i].text, &n, msg, sizeof msg) != 0)
      fail_msg("--%s '%s' refused: %s", o->name, good[i].text, msg);
    if (field_of(o, &n) != good[i].value)
      fail_msg("--%s '%s' stored %.17g", o->name, good[i].text, field_of(o, &n));
  }
  /* a long value is cut in the message, which still gives the range */
  {
    char longv[400];
    memset(longv, '7', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    assert_int_equal(qs_numopt_parse(numrow("uint"), longv, &n, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "(want 1..100)"));
  }
  /* defaults */
  memset(&n, 0x5a, sizeof n);
  qs_numopt_defaults(numrows, &n);
  assert_int_equal(n.i, -1);
  assert_int_equal(n.u, 7);
  assert_int_equal(n.z, 4096);
  assert_true(n.d == 1 && n.s == 5);
  assert_int_equal(n.ms, 100);
  assert_int_equal(n.whole_s, 30);
}

/* Every row of the server's tables: a numeric field fits its type (the
 * parser refuses a row that does not), both ends parse, a step beyond them
 * does not, its default lies in its range; every flag sets its field. */
static void test_numopt_table(void **state) {
  char v[64], msg[QS_CONF_MSG_MAX];
  struct qs_config c;
  size_t rows = 0;
  (void)state;
  for (const struct qs_numopt *o = qs_numopts; o->name; o++, rows++) {
    snprintf(v, sizeof v, "%.15g", o->max);
    if (qs_numopt_parse(o, v, &c, msg, sizeof msg) != 0)
      fail_msg("--%s %s: %s", o->name, v, msg);
    snprintf(v, sizeof v, "%.15g", o->max + 1);
    assert_int_equal(qs_numopt_parse(o, v, &c, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, o->name));
    snprintf(v, sizeof v, "%.15g", o->min);
    assert_int_equal(qs_numopt_parse(o, v, &c, msg, sizeof msg), o->min_open ? -1 : 0);
    if (o->min > 0) {
      snprintf(v, sizeof v, "%.15g", o->min / 2);
      assert_int_equal(qs_numopt_parse(o, v, &c, msg, sizeof msg), -1);
    }
    if (!(o->def >= o->min && o->def <= o->max && !(o->min_open && o->def == o->min)))
      fail_msg("--%s: default %g outside its range", o->name, o->def);
  }
  assert_true(rows > 0 && rows <= QS_NUMOPT_MAX);
  /* every flag: off by default, on when given, on the command line or in
   * the file */
  for (const struct qs_flagopt *f = qs_flagopts; f->name; f++) {
    char arg[64], line[64];
    snprintf(arg, sizeof arg, "--%s", f->name);
    assert_int_equal(parse(NULL, "--cert", "/c", "--key", "/k", NULL), QS_CONFIG_OK);
    assert_int_equal(*(int *)((char *)&cfg + f->off), 0);
    assert_int_equal(parse(NULL, "--cert", "/c", "--key", "/k", arg, NULL), QS_CONFIG_OK);
    assert_int_equal(*(int *)((char *)&cfg + f->off), 1);
    if (!strcmp(f->name, "check-config"))
      continue; /* the command line's only */
    snprintf(line, sizeof line, "%s = true\n", f->name);
    assert_int_equal(parse(line, "--conf", path, "--cert", "/c", "--key", "/k", NULL),
                     QS_CONFIG_OK);
    assert_int_equal(*(int *)((char *)&cfg + f->off), 1);
  }
  /* all of them at once: each row names its own field */
  assert_int_equal(parse(NULL, "--cert", "/c", "--key", "/k", "--no-bpf", "--no-forward",
                         "--takeover", "--detach", "--check-config", "--serve-dotfiles",
                         "--no-precompressed", "--bytes-endpoint", "--no-early-data", "--no-tcp",
                         NULL),
                   QS_CONFIG_OK);
  assert_true(cfg.no_bpf && cfg.no_forward && cfg.takeover && cfg.detach && cfg.check_config &&
              cfg.serve_dotfiles && cfg.no_precompressed && cfg.bytes_endpoint &&
              cfg.no_early_data && cfg.no_tcp);
  /* through qs_config_parse: the file and the command line, suffixes, the
   * defaults, and a bad value at its line */
  assert_int_equal(parse("idle-timeout = 30s\ndrain-timeout = 250ms\nmax-header-size = 32k\n"
                         "initial-rtt = 1s\n",
                         "--conf", path, "--cert", "/c", "--key", "/k", "-w", "3",
                         "--handshake-timeout", "0.5", NULL),
                   QS_CONFIG_OK);
  assert_int_equal(cfg.idle_timeout_s, 30);
  assert_true(cfg.drain_timeout == 0.25);
  assert_int_equal(cfg.max_header_size, 32768);
  assert_int_equal(cfg.initial_rtt_ms, 1000);
  assert_int_equal(cfg.workers, 3);
  assert_true(cfg.handshake_timeout == 0.5);
  assert_int_equal(cfg.max_conns, QS_DEFAULT_MAX_CONNS);
  assert_true(cfg.send_timeout == QS_DEFAULT_SEND_TIMEOUT_S);
  assert_int_equal(qs_config_line(&cfg, "drain-timeout"), 2);
  assert_int_equal(parse("cert = /c\nkey = /k\nsend-timeout = 0\nmax-conns = -1\n", "--conf",
                         path, "--proxy-pool-max", "x", NULL),
                   QS_CONFIG_USAGE);
  assert_int_equal(qs_config_nerrors(&cfg), 3);
  expect_error(0, 3, "bad --send-timeout '0' (want more than 0, at most 86400 seconds)");
  expect_error(1, 4, "bad --max-conns '-1' (want 1..10000000)");
  expect_error(2, 0, "bad --proxy-pool-max 'x' (want 1..100000)");
}

/* The shipped example parses, and docs/config.md has a row for every key
 * the file accepts. */
static void test_example_and_docs(void **state) {
  char doc[65536], key[80];
  size_t n;
  FILE *f;
  (void)state;
  assert_int_equal(parse(NULL, "--conf", QS_SOURCE_DIR "/contrib/quicsteer.conf", NULL),
                   QS_CONFIG_OK);
  assert_int_equal(qs_config_nerrors(&cfg), 0);
  f = fopen(QS_SOURCE_DIR "/docs/config.md", "r");
  assert_non_null(f);
  n = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[n] = '\0';
  for (const struct option *o = qs_config_options(); o->name; o++) {
    if (!strcmp(o->name, "conf") || !strcmp(o->name, "check-config") ||
        !strcmp(o->name, "help") || !strcmp(o->name, "version"))
      continue;
    snprintf(key, sizeof key, "| `%s` |", o->name);
    if (!strstr(doc, key))
      fail_msg("docs/config.md has no row for key '%s'", o->name);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_settings),   cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_errors),     cmocka_unit_test(test_command_line_errors),
      cmocka_unit_test(test_check),      cmocka_unit_test(test_conffile),
      cmocka_unit_test(test_example_and_docs), cmocka_unit_test(test_numopt),
      cmocka_unit_test(test_numopt_table),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
