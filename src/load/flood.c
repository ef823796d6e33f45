/* flood.c: quicsteer-flood, an Initial flood generator for tests and
 * benchmarks of admission control (docs/load.md, "quicsteer-flood").
 *
 * Each packet is the first Initial of a brand-new client connection: a
 * fresh random DCID and SCID, a real TLS 1.3 ClientHello (ALPN h3, a new
 * X25519 key share) made by ngtcp2 + GnuTLS as quicsteer-load makes it,
 * padded to 1200 octets.  The connection is then thrown away: the
 * handshake is never continued, Retry is never followed.  Everything is
 * sent from one UDP socket (one source port), as one ordinary process
 * would.  Bounded by a count and a time limit; answers are read back and
 * classified by their first octet and size.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "tls.h"

#define QSF_CIDLEN 18
#define QSF_SMALL 600 /* a server Initial under this: a bare CONNECTION_CLOSE */

struct qsf_rx {
  uint64_t retry, close, initial, handshake, vneg, other, dgrams;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref) { return ref->user_data; }

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx) {
  (void)ctx;
  gnutls_rnd(GNUTLS_RND_NONCE, dest, len);
}

static int cb_get_new_connection_id(ngtcp2_conn *qc, ngtcp2_cid *cid, uint8_t *token,
                                    size_t cidlen, void *ud) {
  (void)qc;
  (void)ud;
  if (gnutls_rnd(GNUTLS_RND_NONCE, cid->data, cidlen) != 0 ||
      gnutls_rnd(GNUTLS_RND_NONCE, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cidlen;
  return 0;
}

static const ngtcp2_callbacks callbacks = {
    .client_initial = ngtcp2_crypto_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_retry = ngtcp2_crypto_recv_retry_cb,
    .rand = cb_rand,
    .get_new_connection_id = cb_get_new_connection_id,
    .update_key = ngtcp2_crypto_update_key_cb,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

/* make_initial writes the first datagram of a new connection into |buf|.
 * Returns its length or -1. */
static ngtcp2_ssize make_initial(const struct qsl_tls *t, gnutls_priority_t prio,
                                 const ngtcp2_path *path, uint8_t *buf, size_t cap) {
  ngtcp2_cid dcid = {.datalen = QSF_CIDLEN}, scid = {.datalen = QSF_CIDLEN};
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_crypto_conn_ref ref = {.get_conn = get_conn};
  ngtcp2_conn *qc = NULL;
  gnutls_session_t s = NULL;
  ngtcp2_ssize n = -1;
  uint64_t now = now_ns();

  if (gnutls_rnd(GNUTLS_RND_NONCE, dcid.data, dcid.datalen) != 0 ||
      gnutls_rnd(GNUTLS_RND_NONCE, scid.data, scid.datalen) != 0)
    return -1;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now;
  ngtcp2_transport_params_default(&params);
  params.initial_max_streams_uni = 3;
  params.initial_max_data = 1 << 20;
  params.initial_max_stream_data_bidi_local = 1 << 18;
  params.initial_max_stream_data_uni = 1 << 18;
  if (ngtcp2_conn_client_new(&qc, &dcid, &scid, path, NGTCP2_PROTO_VER_V1, &callbacks, &settings,
                             &params, NULL, NULL) != 0)
    return -1;
  ref.user_data = qc;
  if (qsl_tls_session_new(t, prio, &s, &ref) == 0) {
    ngtcp2_conn_set_tls_native_handle(qc, s);
    n = ngtcp2_conn_write_pkt(qc, NULL, NULL, buf, cap, now);
  }
  ngtcp2_conn_del(qc);
  if (s)
    gnutls_deinit(s);
  return n;
}

static void classify(struct qsf_rx *rx, const uint8_t *p, ssize_t n) {
  rx->dgrams++;
  if (n < 7 || !(p[0] & 0x80)) {
    rx->other++;
    return;
  }
  if (p[1] == 0 && p[2] == 0 && p[3] == 0 && p[4] == 0) {
    rx->vneg++;
    return;
  }
  switch ((p[0] >> 4) & 3) { /* QUIC v1 long packet types */
  case 0:
    if (n < QSF_SMALL)
      rx->close++;
    else
      rx->initial++;
    break;
  case 2:
    rx->handshake++;
    break;
  case 3:
    rx->retry++;
    break;
  default:
    rx->other++;
  }
}

static void drain(int fd, struct qsf_rx *rx) {
  uint8_t buf[2048];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0)
      return;
    classify(rx, buf, n);
  }
}

static void usage(FILE *fp) {
  fputs("Usage: quicsteer-flood [OPTION]... HOST PORT\n"
        "Send QUIC v1 Initials, each with a real TLS 1.3 ClientHello (ALPN h3) and\n"
        "fresh random CIDs, that never complete; report what came back as JSON.\n"
        "\n"
        "  -n, --count N      Initials to send (default: 1000, max 100000000)\n"
        "  -t, --time S       stop after S seconds (default: 10, max 3600)\n"
        "  -r, --rate R       Initials per second (default: as fast as possible)\n"
        "  -w, --wait S       after the last one, read answers for S seconds\n"
        "                     (default: 0.5)\n"
        "  -h, --help         show this help and exit\n"
        "SIGINT or SIGTERM stops the flood early; the report is still printed.\n",
        fp);
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"count", required_argument, NULL, 'n'}, {"time", required_argument, NULL, 't'},
      {"rate", required_argument, NULL, 'r'},  {"wait", required_argument, NULL, 'w'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
  };
  uint64_t count = 1000, sent = 0, send_err = 0;
  double limit_s = 10, rate = 0, wait_s = 0.5;
  struct qsf_rx rx = {0};
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai;
  struct sockaddr_storage local;
  socklen_t locallen = sizeof local;
  struct qsl_tls t = {0};
  gnutls_priority_t prio;
  uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE + 256];
  int c, fd, rv;
  char *end;

  while ((c = getopt_long(argc, argv, "n:t:r:w:h", longopts, NULL)) != -1) {
    double v;
    if (c == 'h') {
      usage(stdout);
      return 0;
    }
    if (c == '?' || !optarg) {
      usage(stderr);
      return 2;
    }
    v = strtod(optarg, &end);
    if (end == optarg || *end != '\0' || !(v >= 0)) {
      fprintf(stderr, "quicsteer-flood: bad value '%s' for -%c\n", optarg, c);
      return 2;
    }
    if (c == 'n' && v >= 1 && v <= 1e8)
      count = (uint64_t)v;
    else if (c == 't' && v > 0 && v <= 3600)
      limit_s = v;
    else if (c == 'r' && v <= 1e8)
      rate = v;
    else if (c == 'w' && v <= 60)
      wait_s = v;
    else {
      fprintf(stderr, "quicsteer-flood: value '%s' for -%c out of range\n", optarg, c);
      return 2;
    }
  }
  if (argc - optind != 2) {
    usage(stderr);
    return 2;
  }
  rv = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
  if (rv != 0) {
    fprintf(stderr, "quicsteer-flood: %s: %s\n", argv[optind], gai_strerror(rv));
    return 1;
  }
  fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
      getsockname(fd, (struct sockaddr *)&local, &locallen) != 0) {
    fprintf(stderr, "quicsteer-flood: cannot reach %s port %s: %s\n", argv[optind],
            argv[optind + 1], strerror(errno));
    return 1;
  }
  if (gnutls_certificate_allocate_credentials(&t.cred) != 0 || qsl_tls_priority_init(&prio) != 0) {
    fprintf(stderr, "quicsteer-flood: cannot set up GnuTLS\n");
    return 1;
  }
  t.host = argv[optind];
  /* SIGINT or SIGTERM: stop sending, still report */
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  ngtcp2_path path = {
      .local = {.addr = (ngtcp2_sockaddr *)&local, .addrlen = locallen},
      .remote = {.addr = ai->ai_addr, .addrlen = ai->ai_addrlen},
  };
  uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(limit_s * 1e9), now = t0;
  while (!stop && sent < count && (now = now_ns()) < deadline) {
    if (rate > 0) {
      uint64_t due = t0 + (uint64_t)((double)sent * 1e9 / rate);
      if (now < due) {
        drain(fd, &rx);
        struct timespec ts = {0, (long)(due - now < 1000000 ? due - now : 1000000)};
        nanosleep(&ts, NULL);
        continue;
      }
    }
    ngtcp2_ssize n = make_initial(&t, prio, &path, buf, sizeof buf);
    if (n <= 0 || send(fd, buf, (size_t)n, 0) != n)
      send_err++;
    else
      sent++;
    if ((sent & 63) == 0)
      drain(fd, &rx);
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  uint64_t wait_end = now_ns() + (uint64_t)(wait_s * 1e9);
  while (!stop && now_ns() < wait_end) {
    struct timespec ts = {0, 5000000};
    drain(fd, &rx);
    nanosleep(&ts, NULL);
  }
  drain(fd, &rx);
  printf("{\"sent\": %llu, \"send_errors\": %llu, \"seconds\": %.3f, \"rate\": %.1f, "
         "\"rx\": {\"dgrams\": %llu, \"retry\": %llu, \"close\": %llu, \"initial\": %llu, "
         "\"handshake\": %llu, \"vneg\": %llu, \"other\": %llu}}\n",
         (unsigned long long)sent, (unsigned long long)send_err, secs,
         secs > 0 ? (double)sent / secs : 0., (unsigned long long)rx.dgrams,
         (unsigned long long)rx.retry, (unsigned long long)rx.close,
         (unsigned long long)rx.initial, (unsigned long long)rx.handshake,
         (unsigned long long)rx.vneg, (unsigned long long)rx.other);
  gnutls_priority_deinit(prio);
  gnutls_certificate_free_credentials(t.cred);
  freeaddrinfo(ai);
  close(fd);
  return 0;
}
