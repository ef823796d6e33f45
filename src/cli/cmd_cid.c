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
  uint8_t host_id[QS_HOST_ID_MAX];
  int host_id_n;
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
    "                       [--host-id HEX] [--cr N] [--no-encode-len] [--json] CIDHEX\n"
    "  quicsteer cid mint (--key HEX | --plaintext) [--cr N] [--cid-len N]\n"
    "                     [--host-id HEX] --generation N --worker N\n"
    "                     [--no-encode-len] [--json]\n"
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
    "           read quicsteer's own layout (docs/cid-layout.md): server ID =\n"
    "           host ID (--host-id-len octets, default 2) || generation (16 bits)\n"
    "           || worker (16 bits), the view of the host itself; a fleet load\n"
    "           balancer configured with server ID length = host ID length sees\n"
    "           only the host ID.  Prints cr, server_id, nonce, host_id,\n"
    "           generation and worker; --host-id rejects other hosts' CIDs.\n"
    "  mint     make a quicsteer-layout CID with a random nonce for host ID\n"
    "           (default 0001), generation and worker; --cid-len 1+host ID+4+\n"
    "           at least 4 random octets, at most 20 (default 17).\n"
    "\n"
    "  --json   print one JSON object with the same fields instead.\n"
    "\n"
    "Bad input: one line on stderr and exit status 2.\n";

/* ---- output ---- */

struct field {
  const char *name;
  const uint8_t *hex; /* NULL: a number */
  size_t len;
  unsigned long num;
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
    if (json && f[i].hex)
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
  struct field f = {"cid", cid, len, 0};

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
    a->sid_n = qs_cli_hex(what, v, a->sid, sizeof(a->sid));
    return a->sid_n < 0 ? -a->sid_n : 0;
  case OPT_NONCE:
    a->nonce_n = qs_cli_hex(what, v, a->nonce, sizeof(a->nonce));
    return a->nonce_n < 0 ? -a->nonce_n : 0;
  case OPT_HOST_ID:
    a->host_id_n = qs_cli_hex(what, v, a->host_id, sizeof(a->host_id));
    return a->host_id_n < 0 ? -a->host_id_n : 0;
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
    return qs_cli_uint(what, v, 0xffff, &a->worker);
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
  if ((a->seen & BIT(OPT_KEY)) && (a->seen & BIT(OPT_PLAINTEXT)))
    return qs_cli_fail("%s: --key and --plaintext exclude each other", cmd);
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
        {"cr", NULL, 0, p.cr},
        {"server_id", sid, p.sid_len, 0},
        {"nonce", nonce, p.nonce_len, 0},
    };
    print_fields(f, sizeof(f) / sizeof(f[0]), a->seen & BIT(OPT_JSON));
  }
  return QS_CLI_OK;
}

static int cid_decode_layout(struct cid_args *a) {
  const char *cmd = "cid decode --layout";
  struct qs_cidconf cc;
  uint8_t sid[QS_LB_MAX_SID], nonce[QS_LB_MAX_BODY];
  uint8_t zero_host[QS_HOST_ID_MAX] = {0};
  unsigned long hl = QS_HOST_ID_LEN_DEFAULT;
  uint32_t rk = 0, conf_len;
  uint8_t cr = decode_cr(a);
  int rv;

  if (a->seen & BIT(OPT_HOST_ID)) {
    if ((a->seen & BIT(OPT_HOST_ID_LEN)) && a->host_id_len != (unsigned long)a->host_id_n)
      return qs_cli_fail("%s: --host-id is %d octets, --host-id-len says %lu", cmd, a->host_id_n,
                         a->host_id_len);
    hl = (unsigned long)a->host_id_n;
  } else if (a->seen & BIT(OPT_HOST_ID_LEN)) {
    hl = a->host_id_len;
  }
  if (hl < 1 || hl > QS_HOST_ID_MAX)
    return qs_cli_fail("%s: host ID length out of range (1..%d)", cmd, QS_HOST_ID_MAX);
  if (qs_lb_cr_of(a->cid[0]) == QS_LB_CR_UNROUTABLE)
    return decode_fail(cmd, QS_ERR_UNROUTABLE, a->cid, (size_t)a->cid_n, 0, 0);
  rv = qs_cidconf_init(&cc, cr, (uint32_t)a->cid_n,
                       (a->seen & BIT(OPT_HOST_ID)) ? a->host_id : zero_host, hl, key_of(a),
                       encode_len_of(a));
  if (rv != 0)
    return qs_cli_fail("%s: the CID's %d octets cannot hold the first octet, a host ID of %lu "
                       "octets, the 4-octet routing key and at least %d random octets",
                       cmd, a->cid_n, hl, QS_CID_MIN_RANDOM);
  conf_len = qs_cidconf_cid_len(&cc);
  rv = qs_lb_decode(&cc.lb, a->cid, (size_t)a->cid_n, sid, nonce);
  /* With a host ID to check against, also take the kernel's route. */
  if (rv == 0 && (a->seen & BIT(OPT_HOST_ID)))
    rv = qs_cidconf_route(&cc, a->cid, (size_t)a->cid_n, &rk);
  qs_cidconf_free(&cc);
  if (rv == QS_ERR_FOREIGN) {
    char got[2 * QS_HOST_ID_MAX + 1], want[2 * QS_HOST_ID_MAX + 1];
    return qs_cli_fail("%s: CID belongs to host %s, not %s", cmd, qs_hex_encode(got, sid, hl),
                       qs_hex_encode(want, a->host_id, hl));
  }
  if (rv != 0)
    return decode_fail(cmd, rv, a->cid, (size_t)a->cid_n, conf_len, cr);
  rk = ((uint32_t)sid[hl] << 24) | ((uint32_t)sid[hl + 1] << 16) | ((uint32_t)sid[hl + 2] << 8) |
       sid[hl + 3];
  {
    struct field f[] = {
        {"cr", NULL, 0, cr},
        {"server_id", sid, hl + QS_RK_LEN, 0},
        {"nonce", nonce, (size_t)a->cid_n - 1 - hl - QS_RK_LEN, 0},
        {"host_id", sid, hl, 0},
        {"generation", NULL, 0, qs_rk_generation(rk)},
        {"worker", NULL, 0, qs_rk_worker(rk)},
    };
    print_fields(f, sizeof(f) / sizeof(f[0]), a->seen & BIT(OPT_JSON));
  }
  return QS_CLI_OK;
}

static int cid_decode(struct cid_args *a, int argc, char **argv) {
  int rv;

  rv = parse(a, argc, argv,
             COMMON | BIT(OPT_SERVER_ID_LEN) | BIT(OPT_NONCE_LEN) | BIT(OPT_LAYOUT) |
                 BIT(OPT_HOST_ID_LEN) | BIT(OPT_HOST_ID));
  if (rv)
    return rv < 0 ? QS_CLI_OK : rv;
  if ((a->seen & BIT(OPT_LAYOUT)) && (a->seen & (BIT(OPT_SERVER_ID_LEN) | BIT(OPT_NONCE_LEN))))
    return qs_cli_fail("cid decode: --layout fixes the server ID; drop --server-id-len and "
                       "--nonce-len");
  if (!(a->seen & BIT(OPT_LAYOUT)) && (a->seen & (BIT(OPT_HOST_ID_LEN) | BIT(OPT_HOST_ID))))
    return qs_cli_fail("cid decode: --host-id and --host-id-len need --layout");
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

  a->cid_len = QS_CID_LEN_DEFAULT;
  rv = parse(a, argc, argv,
             COMMON | BIT(OPT_CID_LEN) | BIT(OPT_HOST_ID) | BIT(OPT_GENERATION) |
                 BIT(OPT_WORKER));
  if (rv)
    return rv < 0 ? QS_CLI_OK : rv;
  if ((rv = positional("cid mint", argc, argv, 0)))
    return rv;
  if (!(a->seen & BIT(OPT_GENERATION)))
    return qs_cli_fail("cid mint: --generation N is required");
  if (!(a->seen & BIT(OPT_WORKER)))
    return qs_cli_fail("cid mint: --worker N is required");
  if (a->seen & BIT(OPT_HOST_ID)) {
    host = a->host_id;
    hl = (size_t)a->host_id_n;
  }
  rv = qs_cidconf_init(&cc, (uint8_t)a->cr, (uint32_t)a->cid_len, host, hl, key_of(a),
                       encode_len_of(a));
  if (rv != 0)
    return qs_cli_fail("cid mint: --cid-len %lu cannot hold the first octet, a host ID of %zu "
                       "octets, the 4-octet routing key and at least %d random octets (max %d)",
                       a->cid_len, hl, QS_CID_MIN_RANDOM, QS_MAX_CIDLEN);
  n = qs_cidconf_mint(&cc, qs_rk_make((uint16_t)a->generation, (uint16_t)a->worker), cid);
  qs_cidconf_free(&cc);
  if (n < 0) {
    qs_cli_fail("cid mint: %s", qs_strerror(n));
    return QS_CLI_EFAIL;
  }
  return print_cid(cid, (size_t)n, a->seen & BIT(OPT_JSON));
}

static int cid_main(int argc, char **argv) {
  struct cid_args a;

  memset(&a, 0, sizeof(a));
  a.sid_n = a.nonce_n = a.host_id_n = -1;
  if (argc < 2)
    return qs_cli_fail("cid: missing action: encode, decode or mint (see quicsteer cid --help)");
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
  return qs_cli_fail("cid: unknown action %s: encode, decode or mint", argv[1]);
}

const struct qs_cli_cmd qs_cli_cmd_cid = {
    "cid",
    cid_main,
    "encode, decode and mint QUIC-LB connection IDs (quicsteer cid --help)",
};
