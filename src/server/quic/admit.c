/* admit.c: see admit.h. */
#include "admit.h"

#include "config.h"

static int retry_wanted(const struct qs_admit_limits *l, struct qs_admit_state *s,
                        uint64_t now) {
  switch (l->retry_mode) {
  case QS_RETRY_ALWAYS:
    return 1;
  case QS_RETRY_AUTO:
    if (now - s->window_start > l->window) {
      s->window_start = now;
      s->in_window = 0;
    }
    return s->handshakes >= l->retry_handshakes || s->in_window >= l->retry_per_window;
  default:
    return 0;
  }
}

int qs_admit_decide(const struct qs_admit_limits *l, struct qs_admit_state *s, size_t conns,
                    int validated, uint64_t now) {
  if (conns >= l->max_conns)
    return QS_ADMIT_REFUSE_CONNS;
  if (s->handshakes >= l->max_handshakes)
    return QS_ADMIT_REFUSE_HANDSHAKES;
  if (!validated && retry_wanted(l, s, now))
    return QS_ADMIT_RETRY;
  return QS_ADMIT_ACCEPT;
}

void qs_admit_opened(struct qs_admit_state *s) {
  s->handshakes++;
  s->in_window++;
}

void qs_admit_established(struct qs_admit_state *s) {
  if (s->handshakes)
    s->handshakes--;
}

void qs_admit_closed(struct qs_admit_state *s, int half_open) {
  if (half_open && s->handshakes)
    s->handshakes--;
}
