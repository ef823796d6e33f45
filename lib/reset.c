/* reset.c: per-purpose keys and stateless reset tokens derived from the
 * server's static secret with HKDF-SHA256 (nettle). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/hkdf.h>
#include <nettle/hmac.h>

#include "quicsteer/reset.h"
#include "quicsteer/util.h"

#define QS_SECRET_SALT "quicsteer v1"
#define QS_SECRET_MAX_LABEL 64
#define QS_SECRET_MAX_CTX 255 /* a QUIC CID length octet's range */
#define QS_SECRET_FILE_MAX 4096

int qs_secret_init(struct qs_secret *s, const uint8_t *secret, size_t len) {
  struct hmac_sha256_ctx mac;

  if (len < QS_SECRET_MIN_LEN)
    return QS_ERR_INVAL;
  hmac_sha256_set_key(&mac, sizeof(QS_SECRET_SALT) - 1, (const uint8_t *)QS_SECRET_SALT);
  hkdf_extract(&mac, (nettle_hash_update_func *)hmac_sha256_update,
               (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE, len, secret,
               s->prk);
  explicit_bzero(&mac, sizeof(mac));
  return 0;
}

int qs_secret_random(struct qs_secret *s) {
  uint8_t secret[32];
  int rv;

  if (qs_random(secret, sizeof(secret)) != 0)
    return QS_ERR_CRYPTO;
  rv = qs_secret_init(s, secret, sizeof(secret));
  explicit_bzero(secret, sizeof(secret));
  return rv;
}

int qs_secret_derive(const struct qs_secret *s, const char *label, const uint8_t *ctx,
                     size_t ctxlen, uint8_t *out, size_t outlen) {
  uint8_t info[QS_SECRET_MAX_LABEL + 1 + QS_SECRET_MAX_CTX];
  struct hmac_sha256_ctx mac;
  size_t llen = strlen(label);

  if (outlen == 0 || outlen > 255u * SHA256_DIGEST_SIZE || llen > QS_SECRET_MAX_LABEL ||
      ctxlen > QS_SECRET_MAX_CTX || (ctxlen > 0 && ctx == NULL))
    return QS_ERR_INVAL;
  /* The label's terminating NUL goes into the info too, so that no label
   * followed by some context can equal a longer label with other context. */
  memcpy(info, label, llen + 1);
  if (ctxlen > 0)
    memcpy(info + llen + 1, ctx, ctxlen);
  hmac_sha256_set_key(&mac, sizeof(s->prk), s->prk);
  hkdf_expand(&mac, (nettle_hash_update_func *)hmac_sha256_update,
              (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE,
              llen + 1 + ctxlen, info, outlen, out);
  explicit_bzero(&mac, sizeof(mac));
  return 0;
}

void qs_reset_token(const struct qs_secret *s, const uint8_t *cid, size_t cidlen,
                    uint8_t token[QS_RESET_TOKEN_LEN]) {
  /* Only fails for a CID longer than any QUIC version can carry; then the
   * token must still be unguessable, so it is random (and matches nothing). */
  if (qs_secret_derive(s, "stateless reset", cid, cidlen, token, QS_RESET_TOKEN_LEN) != 0 &&
      qs_random(token, QS_RESET_TOKEN_LEN) != 0)
    memset(token, 0xff, QS_RESET_TOKEN_LEN);
}

/* A file that is nothing but an even number of hex digits (around optional
 * trailing whitespace) is hex text; anything else is taken as raw octets. */
static int decode_if_hex(uint8_t *buf, size_t n) {
  char text[QS_SECRET_FILE_MAX + 1];
  int rv;

  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                   buf[n - 1] == '\t'))
    n--;
  if (n == 0)
    return -1;
  memcpy(text, buf, n);
  text[n] = '\0';
  if (memchr(text, '\0', n) != NULL)
    return -1;
  rv = qs_hex_decode(buf, QS_SECRET_FILE_MAX, text);
  explicit_bzero(text, sizeof(text));
  return rv > 0 ? rv : -1;
}

/* Reads the secret from |fd| (closed here). */
static int load_fd(struct qs_secret *s, int fd) {
  uint8_t buf[QS_SECRET_FILE_MAX + 1];
  size_t n = 0;
  int rv, hexlen;

  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof(buf) - n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      rv = errno;
      close(fd);
      explicit_bzero(buf, sizeof(buf));
      errno = rv;
      return QS_ERR_SYS;
    }
    if (r == 0 || (n += (size_t)r) == sizeof(buf))
      break;
  }
  close(fd);
  if (n > QS_SECRET_FILE_MAX) { /* not a secret: refuse rather than truncate */
    explicit_bzero(buf, sizeof(buf));
    return QS_ERR_INVAL;
  }
  hexlen = decode_if_hex(buf, n);
  if (hexlen > 0)
    n = (size_t)hexlen;
  rv = qs_secret_init(s, buf, n);
  explicit_bzero(buf, sizeof(buf));
  return rv;
}

int qs_secret_load(struct qs_secret *s, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return QS_ERR_SYS;
  return load_fd(s, fd);
}

/* Creates |path| with fresh random octets unless it exists.  Returns 0
 * (created, or another process was first) or QS_ERR_*. */
static int create_file(const char *path) {
  uint8_t secret[QS_SECRET_CREATE_LEN];
  char tmp[PATH_MAX];
  int fd, rv = 0, e = 0;
  ssize_t w;

  if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= sizeof tmp) {
    errno = ENAMETOOLONG;
    return QS_ERR_SYS;
  }
  if (qs_random(secret, sizeof secret) != 0)
    return QS_ERR_CRYPTO;
  unlink(tmp); /* left by a crashed process with our pid */
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    explicit_bzero(secret, sizeof secret);
    return QS_ERR_SYS;
  }
  w = write(fd, secret, sizeof secret);
  explicit_bzero(secret, sizeof secret);
  if (w != (ssize_t)sizeof secret || fsync(fd) != 0) {
    e = w < 0 ? errno : EIO;
    rv = QS_ERR_SYS;
  }
  close(fd);
  /* link, unlike rename, never replaces: the first process to get here wins */
  if (rv == 0 && link(tmp, path) != 0 && errno != EEXIST) {
    e = errno;
    rv = QS_ERR_SYS;
  }
  unlink(tmp);
  if (rv != 0)
    errno = e;
  return rv;
}

int qs_secret_load_or_create(struct qs_secret *s, const char *path) {
  struct stat st;
  int fd, rv;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    rv = create_file(path);
    if (rv != 0)
      return rv;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0)
    return QS_ERR_SYS;
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
      !S_ISREG(st.st_mode)) {
    close(fd);
    errno = EPERM;
    return QS_ERR_SYS;
  }
  return load_fd(s, fd);
}

void qs_secret_wipe(struct qs_secret *s) { explicit_bzero(s, sizeof(*s)); }
