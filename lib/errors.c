/* errors.c: operator-facing sentences for the QS_ERR_* codes. */
#include "quicsteer/errors.h"

const char *qs_strerror(int err) {
  switch (err) {
  case QS_OK:
    return "success";
  case QS_ERR_INVAL:
    return "invalid argument";
  case QS_ERR_TRUNCATED:
    return "input ends before its header says it should";
  case QS_ERR_CIDLEN:
    return "connection ID length not allowed here";
  case QS_ERR_EMPTY:
    return "empty input";
  case QS_ERR_UNROUTABLE:
    return "connection ID is unroutable (config rotation bits 0b111)";
  case QS_ERR_NOCONF:
    return "no configuration for these config rotation bits";
  case QS_ERR_CRYPTO:
    return "cryptographic library or random source failed";
  case QS_ERR_NOMEM:
    return "out of memory";
  case QS_ERR_HEX:
    return "not an even-length hex string";
  case QS_ERR_SYS:
    return "system call failed";
  case QS_ERR_FOREIGN:
    return "connection ID belongs to another host";
  case QS_ERR_NOBPF:
    return "BPF program cannot be loaded or attached";
  case QS_ERR_ABI:
    return "pinned state was made by an incompatible build";
  case QS_ERR_BUSY:
    return "resource is held by a live owner";
  case QS_ERR_NOTFOUND:
    return "not found";
  case QS_ERR_PERM:
    return "the other end belongs to another user";
  default:
    return "unknown error";
  }
}
