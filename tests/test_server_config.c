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
      cmocka_unit_test(test_example_and_docs),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
