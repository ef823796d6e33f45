/* cmd_cid.c: `quicsteer cid`: encode, decode and mint QUIC-LB connection IDs
 * (draft-ietf-quic-load-balancers-21) from the command line, with the same
 * library code the server and the BPF program use.  For operators checking a
 * load balancer's configuration against ours, and for tests. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "quicsteer/lb.h"
#include "quicsteer/quic_header.h"
#include "quicsteer/steer.h"
#include "quicsteer/util.h"

enum {
  OPT_KEY = 1,
  OPT_PLAINTEXT,
  OPT_CR,
  OPT_SERVER_ID,
  OPT_NONCE,
  OPT_NO_ENCODE_LEN,
  OPT_JSON,
  OPT_SERVER_ID_LEN,
  OPT_NONCE_LEN,
  OPT_LAYOUT,
  OPT_HOST_ID_LEN,
  OPT_HOST_ID,
  OPT_CID_LEN,
  OPT_GENERATION,
  OPT_WORKER,
  OPT_SERVER_ID_MODE,
  OPT_NAME,
  OPT_HELP,
};
#define BIT(o) (1u << (o))
#define COMMON (BIT(OPT_KEY) | BIT(OPT_PLAINTEXT) | BIT(OPT_CR) | BIT(OPT_NO_ENCODE_LEN) | \
                BIT(OPT_JSON) | BIT(OPT_HELP))

static const struct option long_opts[] = {
    {"key", required_argument, NULL, OPT_KEY},
    {"plaintext", no_argument, NULL, OPT_PLAINTEXT},
    {"cr", required_argument, NULL, OPT_CR},
    {"server-id", required_argument, NULL, OPT_SERVER_ID},
    {"nonce", required_argument, NULL, OPT_NONCE},
    {"no-encode-len", no_argument, NULL, OPT_NO_ENCODE_LEN},
    {"json", no_argument, NULL, OPT_JSON},
    {"server-id-len", required_argument, NULL, OPT_SERVER_ID_LEN},
    {"nonce-len", required_argument, NULL, OPT_NONCE_LEN},
    {"layout", no_argument, NULL, OPT_LAYOUT},
    {"host-id-len", required_argument, NULL, OPT_HOST_ID_LEN},
    {"host-id", required_argument, NULL, OPT_HOST_ID},
    {"cid-len", required_argument, NULL, OPT_CID_LEN},
    {"generation", required_argument, NULL, OPT_GENERATION},
    {"worker", required_argument, NULL, OPT_WORKER},
    {"server-id-mode", required_argument, NULL, OPT_SERVER_ID_MODE},
    {"name", required_argument, NULL, OPT_NAME},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct cid_args {
  const char *action;
  char cmd[32]; /* "cid ACTION", the prefix of every message */
  unsigned seen; /* BIT(OPT_*) of every option given */
  uint8_t key[QS_LB_KEY_LEN];
  unsigned long cr;
  uint8_t sid[QS_LB_MAX_SID];
  int sid_n;
  uint8_t nonce[QS_LB_MAX_BODY];
  int nonce_n;
  unsigned long sid_len, nonce_len, host_id_len, cid_len, generation, worker;
  int mode; /* enum qs_sid_mode */
  const char *name;
  uint8_t cid[QS_MAX_CIDLEN];
  int cid_n;
};

static const char usage_text[] =
    "usage:\n"
    "  quicsteer cid encode (--key HEX | --plaintext) [--cr N] --server-id HEX\n"
    "                       --nonce HEX [--no-encode-len] [--json]\n"
    "  quicsteer cid decode (--key HEX | --plaintext) --server-id-len N\n"
    "                       [--nonce-len N] [--cr N] [--no-encode-len] [--json] CIDHEX\n"
    "  quicsteer cid decode --layout (--key HEX | --plaintext) [--host-id-len N]\n"
    "                       [--server-id HEX] [--server-id-mode MODE] [--cr N]\n"
    "                       [--no-encode-len] [--json] CIDHEX\n"
    "  quicsteer cid mint (--key HEX | --plaintext) [--cr N] [--cid-len N]\n"
    "                     [--server-id HEX] [--server-id-mode MODE] --generation N\n"
    "                     --worker N [--nonce HEX] [--no-encode-len] [--json]\n"
    "  quicsteer cid lb-config [--name NAME] [--json]\n"
    "\n"
    "QUIC-LB connection IDs (draft-ietf-quic-load-balancers-21).  The algorithm\n"
    "follows from the configuration: --plaintext, or with a 16-octet AES-128\n"
    "--key single-pass AES when server ID + nonce are 16 octets, else the\n"
    "four-pass Feistel.  The first octet carries the config rotation bits (--cr,\n"
    "0..6; 7 marks unroutable CIDs) and, unless --no-encode-len, the CID length\n"
    "after the first octet; with --no-encode-len those 5 bits are random.\n"
    "\n"
    "  encode   print the CID for a server ID and nonce.\n"
    "  decode   print cr=N server_id=HEX nonce=HEX.  The config rotation bits\n"
    "           come from the CID; --cr makes any other value an error.  The\n"
    "           nonce length defaults to what the CID leaves after the server ID.\n"
    "  decode --layout\n"
    "           read quicsteer's own layout (docs/cid-layout.md).  With\n"
    "           --server-id-mode encrypted (the default): server ID = host ID\n"
    "           (--host-id-len octets, default 2) || generation (16 bits) ||\n"
    "           worker (16 bits: 7 of worker, above them a handshake CID's\n"
    "           mark and mint time), the view of the host itself; a fleet load\n"
    "           balancer configured with server ID length = host ID length sees\n"
    "           only the host ID.  With clear: octets 1..L are the host's server\n"
    "           ID in the clear, generation, worker and nonce follow under the\n"
    "           key (docs/fleet.md); server_id is then the clear one.  Prints cr,\n"
    "           server_id, nonce, host_id, generation and worker; --server-id\n"
    "           (alias --host-id; a leading 0x is accepted) rejects other hosts'\n"
    "           CIDs.\n"
    "  mint     make a quicsteer-layout CID for server ID (default 0001),\n"
    "           generation and worker, with a random nonce unless --nonce;\n"
    "           --cid-len 1+server ID+4+at least 4 random octets, at most 20\n"
    "           (default: what quicsteer-server uses, 17 encrypted; clear: 1 +\n"
    "           server ID + 16 when that fits, else 20).\n"
    "  lb-config\n"
    "           print, for each configuration of running instance NAME (kernel\n"
    "           steering), what a fleet QUIC-LB balancer needs: cr, mode,\n"
    "           server_id_len, server_id, cid_len, encode_len, key (encrypted\n"
    "           mode only: clear mode's key never leaves the host), minting\n"
    "           (1 for the configuration new CIDs use).\n"
    "\n"
    "  --json   print one JSON object with the same fields instead.\n"
    "\n"
    "Bad input: one line on stderr and exit status 2.\n";

/* ---- output ---- */

struct field {
  const char *name;
  const uint8_t *hex; /* NULL: a number, or |str| */
  size_t len;
  unsigned long num;
  const char *str;
};

static void print_fields(const struct field *f, size_t n, int json) {
  char hex[2 * QS_MAX_CIDLEN + 1];
  size_t i;

  if (json)
    putchar('{');
  for (i = 0; i < n; i++) {
    const char *sep = i == 0 ? "" : json ? "," : " ";
    if (f[i].hex)
      qs_hex_encode(hex, f[i].hex, f[i].len);
    if (f[i].str && !f[i].hex)
      printf(json ? "%s\"%s\":\"%s\"" : "%s%s=%s", sep, f[i].name, f[i].str);
    else if (json && f[i].hex)
      printf("%s\"%s\":\"%s\"", sep, f[i].name, hex);
    else if (json)
      printf("%s\"%s\":%lu", sep, f[i].name, f[i].num);
    else if (f[i].hex)
      printf("%s%s=%s", sep, f[i].name, hex);
    else
      printf("%s%s=%lu", sep, f[i].name, f[i].num);
  }
  puts(json ? "}" : "");
}

static int print_cid(const uint8_t *cid, size_t len, int json) {
  struct field f = {"cid", cid, len, 0, NULL};

  if (json) {
    print_fields(&f, 1, 1);
  } else {
    char hex[2 * QS_MAX_CIDLEN + 1];
    puts(qs_hex_encode(hex, cid, len));
  }
  return QS_CLI_OK;
}

/* ---- parsing ---- */

static const char *opt_name(int o) {
  const struct option *lo;
  for (lo = long_opts; lo->name; lo++)
    if (lo->val == o)
      return lo->name;
  return "?";
}

static int parse_opt(struct cid_args *a, int o, const char *v) {
  const char *name = opt_name(o);
  char what[64];
  int n;

  snprintf(what, sizeof(what), "%s: --%s", a->cmd, name);
  switch (o) {
  case OPT_KEY:
    n = qs_cli_hex(what, v, a->key, sizeof(a->key));
    if (n < 0)
      return -n;
    if (n != QS_LB_KEY_LEN)
      return qs_cli_fail("%s: expected 16 octets (32 hex digits) of AES-128 key, got %d", what,
                         n);
    return 0;
  case OPT_CR:
    if (qs_cli_uint(what, v, 255, &a->cr))
      return QS_CLI_EUSAGE;
    if (a->cr == QS_LB_CR_UNROUTABLE)
      return qs_cli_fail("%s: 7 is the draft's unroutable codepoint, no configuration uses it "
                         "(0..6)",
                         what);
    if (a->cr > QS_LB_CR_UNROUTABLE)
      return qs_cli_fail("%s: out of range (0..6)", what);
    return 0;
  case OPT_SERVER_ID:
  case OPT_HOST_ID: /* the old name of --server-id */
    a->sid_n = qs_server_id_parse(a->sid, v);
    if (a->sid_n == QS_ERR_INVAL)
      return qs_cli_fail("%s: longer than %d octets", what, QS_LB_MAX_SID);
    if (a->sid_n < 0)
      return qs_cli_fail("%s: not an even-length hex string (a leading 0x is fine)", what);
    return 0;
  case OPT_NONCE:
    a->nonce_n = qs_cli_hex(what, v, a->nonce, sizeof(a->nonce));
    return a->nonce_n < 0 ? -a->nonce_n : 0;
  case OPT_SERVER_ID_MODE:
    a->mode = qs_sid_mode_parse(v);
    return a->mode < 0 ? qs_cli_fail("%s: '%s' is neither encrypted nor clear", what, v) : 0;
  case OPT_NAME:
    a->name = v;
    return qs_cli_name(a->cmd, v);
  case OPT_SERVER_ID_LEN:
    return qs_cli_uint(what, v, 255, &a->sid_len);
  case OPT_NONCE_LEN:
    return qs_cli_uint(what, v, 255, &a->nonce_len);
  case OPT_HOST_ID_LEN:
    return qs_cli_uint(what, v, 255, &a->host_id_len);
  case OPT_CID_LEN:
    return qs_cli_uint(what, v, 255, &a->cid_len);
  case OPT_GENERATION:
    return qs_cli_uint(what, v, 0xffff, &a->generation);
  case OPT_WORKER:
    return qs_cli_uint(what, v, QS_RK_WORKER_MASK, &a->worker); /* lb_types.h */
  default:
    return 0;
  }
}

/* parse fills |a| from argv (argv[0] is the action).  Returns -1 when
 * --help was printed, else an exit status (0 to go on). */
static int parse(struct cid_args *a, int argc, char **argv, unsigned allowed) {
  const char *cmd = a->cmd;
  int o, rv;

  optind = 0; /* glibc: reinitialise for this argv */
  opterr = 0;
  while ((o = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
    if (o == '?' || o == ':')
      return qs_cli_optfail(cmd, o, argv);
    if (o == OPT_HELP) {
      fputs(usage_text, stdout);
      return -1;
    }
    if (!(allowed & BIT(o)))
      return qs_cli_fail("%s: --%s does not apply here (see --help)", cmd, opt_name(o));
    if (a->seen & BIT(o))
      return qs_cli_fail("%s: --%s given twice", cmd, opt_name(o));
    a->seen |= BIT(o);
    rv = parse_opt(a, o, optarg);
    if (rv)
      return rv;
  }
  if ((a->seen & BIT(OPT_HOST_ID)) && (a->seen & BIT(OPT_SERVER_ID)))
    return qs_cli_fail("%s: --host-id is another name for --server-id: give one", cmd);
  if ((a->seen & BIT(OPT_KEY)) && (a->seen & BIT(OPT_PLAINTEXT)))
    return qs_cli_fail("%s: --key and --plaintext exclude each other", cmd);
  if (!(allowed & BIT(OPT_KEY)))
    return 0;
  if (!(a->seen & (BIT(OPT_KEY) | BIT(OPT_PLAINTEXT))))
    return qs_cli_fail("%s: say --key HEX or --plaintext", cmd);
  return 0;
}

static int positional(const char *cmd, int argc, char **argv, int want) {
  if (argc - optind < want)
    return qs_cli_fail("%s: missing CIDHEX (see --help)", cmd);
  if (argc - optind > want)
    return qs_cli_fail("%s: unexpected argument %s (see --help)", cmd, argv[optind + want]);
  return 0;
}

static const uint8_t *key_of(const struct cid_args *a) {
  return (a->seen & BIT(OPT_KEY)) ? a->key : NULL;
}

static int encode_len_of(const struct cid_args *a) { return !(a->seen & BIT(OPT_NO_ENCODE_LEN)); }

/* ---- encode ---- */

static int cid_encode(struct cid_args *a, int argc, char **argv) {
  struct qs_lb_params p = {0};
  struct qs_lb lb;
  uint8_t cid[QS_MAX_CIDLEN];
  int rv, n;

  rv = parse(a, argc, argv,
             COMMON | BIT(OPT_SERVER_ID) | BIT(OPT_NONCE));
  if (rv)
    return rv < 0 ? QS_CLI_OK : rv;
  if ((rv = positional("cid encode", argc, argv, 0)))
    return rv;
  if (a->sid_n <= 0)
    return qs_cli_fail("cid encode: --server-id HEX is required");
  if (a->nonce_n <= 0)
    return qs_cli_fail("cid encode: --nonce HEX is required");
  p.cr = (uint8_t)a->cr;
  p.sid_len = (uint8_t)a->sid_n;
  p.nonce_len = (uint8_t)a->nonce_n;
  p.encode_len = (uint8_t)encode_len_of(a);
  rv = qs_lb_init(&lb, &p, key_of(a));
  if (rv != 0)
    return qs_cli_fail("cid encode: server ID %d octets, nonce %d octets: not a QUIC-LB "
                       "configuration (server ID 1..15, nonce >= 4, together <= 19 octets)",
                       a->sid_n, a->nonce_n);
  n = qs_lb_encode(&lb, a->sid, a->nonce, cid, sizeof(cid));
  qs_lb_free(&lb);
  if (n < 0) {
    qs_cli_fail("cid encode: %s", qs_strerror(n));
    return QS_CLI_EFAIL;
  }
  return print_cid(cid, (size_t)n, a->seen & BIT(OPT_JSON));
}

/* ---- decode ---- */

/* decode_fail explains why |rv| came back for the |len|-octet CID |cid|
 * under a configuration of CID length |conf_len| and rotation bits |cr|. */
static int decode_fail(const char *cmd, int rv, const uint8_t *cid, size_t len, uint32_t conf_len,
                       unsigned cr) {
  switch (rv) {
  case QS_ERR_UNROUTABLE:
    return qs_cli_fail("%s: CID is unroutable (config rotation bits 0b111)", cmd);
  case QS_ERR_NOCONF:
    return qs_cli_fail("%s: CID has config rotation bits %u, not the configuration's %u", cmd,
                       qs_lb_cr_of(cid[0]), cr);
  case QS_ERR_CIDLEN:
    if (len != conf_len)
      return qs_cli_fail("%s: CID is %zu octets, the configuration's are %u", cmd, len, conf_len);
    return qs_cli_fail("%s: CID's first octet says %u octets follow, but %zu do (--no-encode-len "
                       "if its low bits are random)",
                       cmd, cid[0] & 0x1fu, len - 1);
  default:
    return qs_cli_fail("%s: %s", cmd, qs_strerror(rv));
  }
}

/* decode_cr is the configuration's rotation codepoint: --cr, else the
 * CID's own (an unroutable CID is reported by the decoder). */
static uint8_t decode_cr(const struct cid_args *a) {
  uint8_t cr = qs_lb_cr_of(a->cid[0]);

  if (a->seen & BIT(OPT_CR))
    return (uint8_t)a->cr;
  return cr == QS_LB_CR_UNROUTABLE ? 0 : cr;
}

static int cid_decode_plain(struct cid_args *a) {
  const char *cmd = "cid decode";
  struct qs_lb_params p = {0};
  struct qs_lb lb;
  uint8_t sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY];
  unsigned long nonce_len;
  int rv;

  if (!(a->seen & BIT(OPT_SERVER_ID_LEN)))
    return qs_cli_fail("%s: --server-id-len N is required (or --layout)", cmd);
  if (a->sid_len < 1 || a->sid_len > QS_LB_MAX_SID)
    return qs_cli_fail("%s: --server-id-len: out of range (1..15)", cmd);
  if (qs_lb_cr_of(a->cid[0]) == QS_LB_CR_UNROUTABLE)
    return decode_fail(cmd, QS_ERR_UNROUTABLE, a->cid, (size_t)a->cid_n, 0, 0);
  if (a->seen & BIT(OPT_NONCE_LEN)) {
    nonce_len = a->nonce_len;
  } else if ((unsigned long)a->cid_n < 1 + a->sid_len + QS_LB_MIN_NONCE) {
    return qs_cli_fail("%s: the CID's %d octets cannot hold the first octet, a server ID of %lu "
                       "octets and a nonce of at least 4 octets",
                       cmd, a->cid_n, a->sid_len);
  } else {
    nonce_len = (unsigned long)a->cid_n - 1 - a->sid_len;
  }
  if (nonce_len < QS_LB_MIN_NONCE || a->sid_len + nonce_len > QS_LB_MAX_BODY)
    return qs_cli_fail("%s: server ID %lu octets, nonce %lu octets: not a QUIC-LB "
                       "configuration (nonce >= 4, together <= 19 octets)",
                       cmd, a->sid_len, nonce_len);
  p.cr = decode_cr(a);
  p.sid_len = (uint8_t)a->sid_len;
  p.nonce_len = (uint8_t)nonce_len;
  p.encode_len = (uint8_t)encode_len_of(a);
  rv = qs_lb_init(&lb, &p, key_of(a));
  if (rv == 0)
    rv = qs_lb_decode(&lb, a->cid, (size_t)a->cid_n, sid, nonce);
  qs_lb_free(&lb);
  if (rv != 0)
    return decode_fail(cmd, rv, a->cid, (size_t)a->cid_n, qs_lb_cid_len(&p), p.cr);
  {
    struct field f[] = {
        {"cr", NULL, 0, p.cr, NULL},
        {"server_id", sid, p.sid_len, 0, NULL},
        {"nonce", nonce, p.nonce_len, 0, NULL},
    };
    print_fields(f, sizeof(f) / sizeof(f[0]), a->seen & BIT(OPT_JSON));
  }
  return QS_CLI_OK;
}

/* host_of picks the server ID of --server-id / --host-id, or |dflt|; it
 * must leave room for the routing key and the random part. */
static int host_of(const struct cid_args *a, const char *cmd, const uint8_t **host, size_t *hl) {
  if (a->seen & (BIT(OPT_SERVER_ID) | BIT(OPT_HOST_ID))) {
    *host = a->sid;
    *hl = (size_t)a->sid_n;
  }
  if (*hl > QS_HOST_ID_MAX)
    return qs_cli_fail("%s: a server ID of %zu octets leaves no room in a 20-octet CID for the "
                       "4-octet routing key and 4 random octets (at most %d)",
                       cmd, *hl, QS_HOST_ID_MAX);
  return 0;
}

static int cid_decode_layout(struct cid_args *a) {
  const char *cmd = "cid decode --layout";
  struct qs_cidconf cc;
  uint8_t sid[QS_HOST_ID_MAX], nonce[QS_LB_MAX_BODY];
  static const uint8_t zero_host[QS_HOST_ID_MAX] = {0};
  const uint8_t *host = zero_host;
  size_t hl = QS_HOST_ID_LEN_DEFAULT, nl = 0;
  int check = (a->seen & (BIT(OPT_SERVER_ID) | BIT(OPT_HOST_ID))) != 0;
  uint32_t rk = 0, conf_len;
  uint8_t cr = decode_cr(a);
  int rv;

  if (a->seen & BIT(OPT_HOST_ID_LEN))
    hl = a->host_id_len;
  if (check && (a->seen & BIT(OPT_HOST_ID_LEN)) && a->host_id_len != (unsigned long)a->sid_n)
    return qs_cli_fail("%s: --server-id is %d octets, --host-id-len says %lu", cmd, a->sid_n,
                       a->host_id_len);
  if ((rv = host_of(a, cmd, &host, &hl)))
    return rv;
  if (hl < 1)
    return qs_cli_fail("%s: host ID length out of range (1..%d)", cmd, QS_HOST_ID_MAX);
  if (qs_lb_cr_of(a->cid[0]) == QS_LB_CR_UNROUTABLE)
    return decode_fail(cmd, QS_ERR_UNROUTABLE, a->cid, (size_t)a->cid_n, 0, 0);
  rv = qs_cidconf_init_mode(&cc, cr, (uint32_t)a->cid_n, host, hl, a->mode, key_of(a),
                            encode_len_of(a));
  if (rv != 0)
    return qs_cli_fail("%s: the CID's %d octets cannot hold the first octet, a host ID of %zu "
                       "octets, the 4-octet routing key and at least %d random octets",
                       cmd, a->cid_n, hl, QS_CID_MIN_RANDOM);
  conf_len = qs_cidconf_cid_len(&cc);
  rv = qs_cidconf_decode(&cc, a->cid, (size_t)a->cid_n, sid, &rk, nonce, &nl);
  /* With a host ID to check against, also take the kernel's route. */
  if (rv == 0 && check)
    rv = qs_cidconf_route(&cc, a->cid, (size_t)a->cid_n, &rk);
  qs_cidconf_free(&cc);
  if (rv == QS_ERR_FOREIGN) {
    char got[2 * QS_HOST_ID_MAX + 1], want[2 * QS_HOST_ID_MAX + 1];
    return qs_cli_fail("%s: CID belongs to host %s, not %s", cmd, qs_hex_encode(got, sid, hl),
                       qs_hex_encode(want, host, hl));
  }
  if (rv != 0)
    return decode_fail(cmd, rv, a->cid, (size_t)a->cid_n, conf_len, cr);
  {
    uint8_t view[QS_LB_MAX_SID];
    size_t vl = hl;
    memcpy(view, sid, hl);
    if (a->mode == QS_SID_ENCRYPTED) { /* the host's view: host ID || routing key */
      view[hl] = (uint8_t)(rk >> 24);
      view[hl + 1] = (uint8_t)(rk >> 16);
      view[hl + 2] = (uint8_t)(rk >> 8);
      view[hl + 3] = (uint8_t)rk;
      vl += QS_RK_LEN;
    }
    struct field f[] = {
        {"cr", NULL, 0, cr, NULL},
        {"server_id", view, vl, 0, NULL},
        {"nonce", nonce, nl, 0, NULL},
        {"host_id", sid, hl, 0, NULL},
        {"generation", NULL, 0, qs_rk_generation(rk), NULL},
        {"worker", NULL, 0, qs_rk_worker(rk), NULL},
    };
    print_fields(f, sizeof(f) / sizeof(f[0]), a->seen & BIT(OPT_JSON));
  }
  return QS_CLI_OK;
}

static int cid_decode(struct cid_args *a, int argc, char **argv) {
  int rv;

  rv = parse(a, argc, argv,
             COMMON | BIT(OPT_SERVER_ID_LEN) | BIT(OPT_NONCE_LEN) | BIT(OPT_LAYOUT) |
                 BIT(OPT_HOST_ID_LEN) | BIT(OPT_HOST_ID) | BIT(OPT_SERVER_ID) |
                 BIT(OPT_SERVER_ID_MODE));
  if (rv)
    return rv < 0 ? QS_CLI_OK : rv;
  if ((a->seen & BIT(OPT_LAYOUT)) && (a->seen & (BIT(OPT_SERVER_ID_LEN) | BIT(OPT_NONCE_LEN))))
    return qs_cli_fail("cid decode: --layout fixes the server ID; drop --server-id-len and "
                       "--nonce-len");
  if (!(a->seen & BIT(OPT_LAYOUT)) &&
      (a->seen & (BIT(OPT_HOST_ID_LEN) | BIT(OPT_HOST_ID) | BIT(OPT_SERVER_ID) |
                  BIT(OPT_SERVER_ID_MODE))))
    return qs_cli_fail("cid decode: --server-id, --host-id, --host-id-len and --server-id-mode "
                       "need --layout");
  if ((rv = positional("cid decode", argc, argv, 1)))
    return rv;
  a->cid_n = qs_hex_decode(a->cid, sizeof(a->cid), argv[optind]);
  if (a->cid_n == QS_ERR_INVAL)
    return qs_cli_fail("cid decode: CID longer than %d octets", QS_MAX_CIDLEN);
  if (a->cid_n < 0)
    return qs_cli_fail("cid decode: CID is not an even-length hex string");
  return (a->seen & BIT(OPT_LAYOUT)) ? cid_decode_layout(a) : cid_decode_plain(a);
}

/* ---- mint ---- */

static int cid_mint(struct cid_args *a, int argc, char **argv) {
  static const uint8_t default_host[QS_HOST_ID_LEN_DEFAULT] = {0x00, 0x01};
  struct qs_cidconf cc;
  uint8_t cid[QS_MAX_CIDLEN];
  const uint8_t *host = default_host;
  size_t hl = sizeof(default_host);
  int rv, n;

  rv = parse(a, argc, argv,
             COMMON | BIT(OPT_CID_LEN) | BIT(OPT_HOST_ID) | BIT(OPT_SERVER_ID) |
                 BIT(OPT_SERVER_ID_MODE) | BIT(OPT_NONCE) | BIT(OPT_GENERATION) |
                 BIT(OPT_WORKER));
  if (rv)
    return rv < 0 ? QS_CLI_OK : rv;
  if ((rv = positional("cid mint", argc, argv, 0)))
    return rv;
  if (!(a->seen & BIT(OPT_GENERATION)))
    return qs_cli_fail("cid mint: --generation N is required");
  if (!(a->seen & BIT(OPT_WORKER)))
    return qs_cli_fail("cid mint: --worker N is required");
  if ((rv = host_of(a, "cid mint", &host, &hl)))
    return rv;
  if (!(a->seen & BIT(OPT_CID_LEN)))
    a->cid_len = qs_cid_len_default(a->mode, hl);
  rv = qs_cidconf_init_mode(&cc, (uint8_t)a->cr, (uint32_t)a->cid_len, host, hl, a->mode,
                            key_of(a), encode_len_of(a));
  if (rv != 0)
    return qs_cli_fail("cid mint: --cid-len %lu cannot hold the first octet, a server ID of %zu "
                       "octets, the 4-octet routing key and at least %d random octets (max %d)",
                       a->cid_len, hl, QS_CID_MIN_RANDOM, QS_MAX_CIDLEN);
  if ((a->seen & BIT(OPT_NONCE)) && (size_t)a->nonce_n != cc.lb.p.nonce_len) {
    qs_cidconf_free(&cc);
    return qs_cli_fail("cid mint: --nonce is %d octets, a %lu-octet CID has %u random octets",
                       a->nonce_n, a->cid_len, cc.lb.p.nonce_len);
  }
  n = qs_cidconf_encode(&cc, qs_rk_make((uint16_t)a->generation, (uint16_t)a->worker),
                        (a->seen & BIT(OPT_NONCE)) ? a->nonce : NULL, cid);
  qs_cidconf_free(&cc);
  if (n < 0) {
    qs_cli_fail("cid mint: %s", qs_strerror(n));
    return QS_CLI_EFAIL;
  }
  return print_cid(cid, (size_t)n, a->seen & BIT(OPT_JSON));
}

/* ---- lb-config ---- */

static int cid_lb_config(struct cid_args *a, int argc, char **argv) {
  const char *cmd = "cid lb-config";
  struct qs_gen_owner gens[QS_GEN_SLOTS];
  uint8_t alive[QS_GEN_SLOTS], zero[QS_LB_KEY_LEN] = {0};
  struct qs_steer_view *v;
  unsigned mint_mask = 0, shown = 0;
  int rv, i;

  a->name = "default";
  rv = parse(a, argc, argv, BIT(OPT_NAME) | BIT(OPT_JSON) | BIT(OPT_HELP));
  if (rv)
    return rv < 0 ? QS_CLI_OK : rv;
  if ((rv = positional(cmd, argc, argv, 0)))
    return rv;
  rv = qs_steer_view_open(&v, a->name);
  if (rv == QS_ERR_NOTFOUND)
    return qs_cli_fail("%s: instance '%s' has no kernel state (not running, or running with "
                       "--no-bpf)",
                       cmd, a->name);
  if (rv != 0) {
    qs_cli_fail("%s: cannot open instance '%s': %s", cmd, a->name, qs_strerror(rv));
    return QS_CLI_EFAIL;
  }
  if (qs_steer_view_gens(v, gens, alive) == 0)
    for (i = 0; i < QS_GEN_SLOTS; i++)
      if (alive[i] && gens[i].state == QS_GEN_SERVING && gens[i].mint_cr < QS_LB_MAX_CONFIGS)
        mint_mask |= 1u << gens[i].mint_cr;
  for (i = 0; i < QS_LB_MAX_CONFIGS; i++) {
    struct qs_lbconf c;
    const struct qs_route_conf *rc = &c.rc;
    int clear, keyed;
    if (qs_steer_view_lbconf(v, (uint8_t)i, &c) != 0 || !c.valid)
      continue;
    clear = rc->mode == QS_SID_CLEAR;
    keyed = !clear && memcmp(c.key, zero, sizeof zero) != 0;
    {
      /* what a balancer configures: the host ID is the server ID in both
       * modes (encrypted: the routing key is nonce to the balancer) */
      struct field f[] = {
          {"cr", NULL, 0, (unsigned long)i, NULL},
          {"mode", NULL, 0, 0, NULL},
          {"server_id_len", NULL, 0, rc->host_id_len, NULL},
          {"server_id", rc->host_id, rc->host_id_len, 0, NULL},
          {"cid_len", NULL, 0, qs_lb_cid_len(&rc->p), NULL},
          {"encode_len", NULL, 0, rc->p.encode_len, NULL},
          {"key", keyed ? c.key : NULL, keyed ? QS_LB_KEY_LEN : 0, 0, NULL},
          {"minting", NULL, 0, (mint_mask >> i) & 1u, NULL},
          {"generation", NULL, 0, c.generation, NULL},
      };
      f[1].str = qs_sid_mode_name(rc->mode);
      if (!keyed)
        f[6].str = clear ? "none" : "plaintext";
      print_fields(f, sizeof(f) / sizeof(f[0]), a->seen & BIT(OPT_JSON));
    }
    shown++;
  }
  qs_steer_view_close(v);
  if (!shown)
    return qs_cli_fail("%s: instance '%s' has no configuration installed", cmd, a->name);
  return QS_CLI_OK;
}

static int cid_main(int argc, char **argv) {
  struct cid_args a;

  memset(&a, 0, sizeof(a));
  a.sid_n = a.nonce_n = -1;
  if (argc < 2)
    return qs_cli_fail("cid: missing action: encode, decode, mint or lb-config (see quicsteer cid "
                       "--help)");
  a.action = argv[1];
  snprintf(a.cmd, sizeof(a.cmd), "cid %s", a.action);
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(usage_text, stdout);
    return QS_CLI_OK;
  }
  if (strcmp(argv[1], "encode") == 0)
    return cid_encode(&a, argc - 1, argv + 1);
  if (strcmp(argv[1], "decode") == 0)
    return cid_decode(&a, argc - 1, argv + 1);
  if (strcmp(argv[1], "mint") == 0)
    return cid_mint(&a, argc - 1, argv + 1);
  if (strcmp(argv[1], "lb-config") == 0)
    return cid_lb_config(&a, argc - 1, argv + 1);
  return qs_cli_fail("cid: unknown action %s: encode, decode, mint or lb-config", argv[1]);
}

const struct qs_cli_cmd qs_cli_cmd_cid = {
    "cid",
    cid_main,
    "encode, decode and mint QUIC-LB connection IDs (quicsteer cid --help)",
};
