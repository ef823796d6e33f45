/* main.c: the `quicsteer` operator tool: a table of subcommands.
 *
 * To add one, write cmd_NAME.c exporting `const struct qs_cli_cmd
 * qs_cli_cmd_NAME` and list it in `commands` below.  Subcommands other than
 * `cid` are declared weak: a build without their file simply lacks them
 * (their address is NULL), and --help lists only what is present.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

extern const struct qs_cli_cmd qs_cli_cmd_cid;
extern const struct qs_cli_cmd qs_cli_cmd_stat __attribute__((weak));
extern const struct qs_cli_cmd qs_cli_cmd_rotate_key __attribute__((weak));

static const struct qs_cli_cmd *const commands[] = {
    &qs_cli_cmd_cid,
    &qs_cli_cmd_stat,
    &qs_cli_cmd_rotate_key,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f) {
  size_t i;

  fputs("usage: quicsteer COMMAND [ARG]...\n"
        "       quicsteer COMMAND --help\n"
        "       quicsteer --help | --version\n\n"
        "Operator tool for quicsteer, the QUIC server that steers datagrams to\n"
        "workers with QUIC-LB connection IDs.\n\n"
        "Commands:\n",
        f);
  for (i = 0; i < NCOMMANDS; i++)
    if (commands[i])
      fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
  fputs("\nExit status: 0 success, 1 system failure, 2 bad input.\n", f);
}

int main(int argc, char **argv) {
  size_t i;

  if (argc < 2)
    return qs_cli_fail("missing command (see quicsteer --help)");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return QS_CLI_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("quicsteer %s\n", QS_VERSION_STRING);
    return QS_CLI_OK;
  }
  for (i = 0; i < NCOMMANDS; i++)
    if (commands[i] && strcmp(argv[1], commands[i]->name) == 0)
      return commands[i]->run(argc - 1, argv + 1);
  if (argv[1][0] == '-')
    return qs_cli_fail("unknown option %s (see quicsteer --help)", argv[1]);
  return qs_cli_fail("unknown command %s (see quicsteer --help)", argv[1]);
}
