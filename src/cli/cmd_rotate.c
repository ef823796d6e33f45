/* cmd_rotate.c: `quicsteer rotate-key --name NAME`
 *
 * Asks the generation of instance NAME that takes new connections to mint
 * its connection IDs under a new config-rotation codepoint and key from now
 * on; the old configuration keeps routing the CIDs already handed out.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "quicsteer/control.h"
#include "quicsteer/generation.h"
#include "quicsteer/steer.h"
#include "quicsteer/wstats.h"

#define QS_ROTATE_TIMEOUT_MS 5000

/* The newest live generation: from the kernel's owner table (the serving
 * one) when steering runs there, else from the live stats files. */
static unsigned serving_generation(const char *name) {
  struct qs_gen_owner gens[QS_GEN_SLOTS];
  uint8_t alive[QS_GEN_SLOTS];
  struct qs_steer_view *v;
  unsigned best = 0;
  char dir[256], path[512];
  struct dirent *de;
  DIR *d;

  if (qs_steer_view_open(&v, name) == 0) {
    if (qs_steer_view_gens(v, gens, alive) == 0)
      for (int i = 0; i < QS_GEN_SLOTS; i++)
        if (alive[i] && gens[i].state == QS_GEN_SERVING &&
            (!best || qs_gen_newer((uint16_t)gens[i].generation, (uint16_t)best)))
          best = gens[i].generation;
    qs_steer_view_close(v);
    if (best)
      return best;
  }
  snprintf(dir, sizeof dir, "%s/%s", QS_WSTATS_DIR, name);
  d = opendir(dir);
  if (!d)
    return 0;
  while ((de = readdir(d)) != NULL) {
    struct qs_wstats_file hdr;
    unsigned g;
    FILE *f;
    if (sscanf(de->d_name, "gen-%u.stats", &g) != 1)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    f = fopen(path, "rb");
    if (!f)
      continue;
    if (fread(&hdr, sizeof hdr, 1, f) == 1 && hdr.magic == QS_WSTATS_MAGIC &&
        (kill((pid_t)hdr.pid, 0) == 0 || errno == EPERM) && hdr.generation >= 1 &&
        hdr.generation <= QS_GEN_MAX &&
        (!best || qs_gen_newer((uint16_t)hdr.generation, (uint16_t)best)))
      best = hdr.generation;
    fclose(f);
  }
  closedir(d);
  return best;
}

static int rotate_run(int argc, char **argv) {
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *name = "default";
  char reply[QS_CONTROL_MAX];
  unsigned gen;
  int c, rv;

  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      name = optarg;
      break;
    case 'h':
      printf("usage: quicsteer rotate-key [--name NAME]\n\n"
             "Makes the serving generation of instance NAME (default \"default\") mint\n"
             "new connection IDs under a new config-rotation codepoint and key; CIDs\n"
             "already handed out keep routing with the old key.\n");
      return QS_CLI_OK;
    default:
      return qs_cli_optfail("rotate-key", c, argv);
    }
  }
  if (qs_cli_instance("rotate-key", argc, argv, name) != 0)
    return QS_CLI_EUSAGE;
  gen = serving_generation(name);
  if (gen == 0) {
    fprintf(stderr, "quicsteer: no running instance '%s'\n", name);
    return QS_CLI_EFAIL;
  }
  rv = qs_control_call(name, gen, "rotate-key", reply, sizeof reply, QS_ROTATE_TIMEOUT_MS);
  if (rv != 0) {
    fprintf(stderr, "quicsteer: cannot reach generation %u of instance '%s': %s\n", gen, name,
            rv == QS_ERR_NOTFOUND ? "no control socket"
            : rv == QS_ERR_PERM   ? "its control socket belongs to another user (not trusted)"
                                  : strerror(errno));
    return QS_CLI_EFAIL;
  }
  if (strncmp(reply, "ok ", 3) != 0) {
    fprintf(stderr, "quicsteer: rotate-key: %s\n",
            strncmp(reply, "error ", 6) == 0 ? reply + 6 : reply);
    return QS_CLI_EFAIL;
  }
  printf("%s\n", reply + 3);
  return QS_CLI_OK;
}

const struct qs_cli_cmd qs_cli_cmd_rotate_key = {
    "rotate-key", rotate_run, "make a running instance mint CIDs under a new key"};
