/* cli.h: what the `quicsteer` operator tool's subcommands share.
 *
 * Each subcommand lives in its own file (cmd_NAME.c) and exports one
 * struct qs_cli_cmd; main.c lists them.  Conventions every subcommand keeps:
 * output on stdout, exit 0; any bad input gives exactly one line on stderr,
 * starting "quicsteer: ", and exit status 2; a failure of the machine
 * (CSPRNG, system call) exits 1.
 */
#ifndef QUICSTEER_CLI_H
#define QUICSTEER_CLI_H

#include <stdint.h>

#define QS_CLI_OK 0
#define QS_CLI_EFAIL 1  /* the system failed us */
#define QS_CLI_EUSAGE 2 /* the operator's input is wrong */

struct qs_cli_cmd {
  const char *name;
  /* argv[0] is the subcommand's name; returns the exit status. */
  int (*run)(int argc, char **argv);
  const char *summary; /* one line for `quicsteer --help` */
};

/* qs_cli_fail prints "quicsteer: " + the formatted message + newline on
 * stderr and returns QS_CLI_EUSAGE. */
int qs_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* qs_cli_optfail reports what getopt_long (with opterr = 0 and an
 * optstring starting with ':') returned for a bad option |c| while parsing
 * |argv| for subcommand |cmd|; returns QS_CLI_EUSAGE. */
int qs_cli_optfail(const char *cmd, int c, char **argv);

/* qs_cli_uint parses the decimal |s| (digits only) into |*out| if it is at
 * most |max|.  Otherwise it reports "|what|: ..." and returns QS_CLI_EUSAGE. */
int qs_cli_uint(const char *what, const char *s, unsigned long max, unsigned long *out);

/* qs_cli_hex decodes |s| into |out| (room for |cap| octets) and returns the
 * length, or reports "|what|: ..." and returns -QS_CLI_EUSAGE. */
int qs_cli_hex(const char *what, const char *s, uint8_t *out, size_t cap);

/* qs_cli_name checks an instance name for subcommand |cmd|: 1-64 of
 * [A-Za-z0-9_.-], as the server accepts.  Returns 0, or reports and returns
 * QS_CLI_EUSAGE. */
int qs_cli_name(const char *cmd, const char *name);

/* qs_cli_instance ends the option parse of a subcommand that addresses a
 * running instance: no operand may follow the options (optind == argc)
 * and |name| must pass qs_cli_name.  Returns 0, or reports and returns
 * QS_CLI_EUSAGE. */
int qs_cli_instance(const char *cmd, int argc, char **argv, const char *name);

#endif
