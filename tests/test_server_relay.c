/* test_server_relay.c: every result of relaying a datagram (io/relay.c)
 * with real AF_UNIX sockets: an owner that is alive but behind (its queue
 * full, or its accept backlog full) costs a counted drop (fwd_busy) and
 * qs_relay returns 0, so the caller never answers the client's datagram
 * with a stateless reset; only an owner that is not there (nobody listens)
 * is -1 (fwd_fail). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fwd.h"
#include "relay.h"
#include "server.h"
#include "worker.h"

struct fixture {
  struct qs_config cfg;
  struct qs_server srv;
  struct qs_worker workers[2];
  struct qs_wstats st;
  char name[64];
  uint8_t payload[1200];
  struct qs_dgram d;
};

static struct fixture *fixture_new(void) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->name, sizeof f->name, "trelay-%d", (int)getpid());
  f->cfg.name = f->name;
  f->srv.cfg = &f->cfg;
  f->srv.generation = 1;
  f->srv.nworkers = 2;
  f->srv.workers = f->workers;
  for (int i = 0; i < 2; i++) {
    struct qs_worker *w = &f->workers[i];
    w->srv = &f->srv;
    w->index = (uint16_t)i;
    w->st = &f->st;
    w->fwd_fd = -1;
    qs_fwd_name_make(&w->fwd_name, f->name, 1, (uint16_t)i);
  }
  /* qs_relay_init without a loop: only the outgoing state is used here */
  f->workers[0].fwd_same = malloc(2 * sizeof(int));
  assert_non_null(f->workers[0].fwd_same);
  f->workers[0].fwd_same[0] = f->workers[0].fwd_same[1] = -1;
  for (int i = 0; i < QS_FWD_OTHER; i++)
    f->workers[0].fwd_other[i].fd = -1;
  f->d.group = 0;
  f->d.local.in.sin_family = AF_INET;
  f->d.local.in.sin_port = htons(443);
  f->d.locallen = sizeof f->d.local.in;
  f->d.remote.in.sin_family = AF_INET;
  f->d.remote.in.sin_port = htons(5555);
  f->d.remotelen = sizeof f->d.remote.in;
  memset(f->payload, 0x40, sizeof f->payload);
  return f;
}

static void fixture_del(struct fixture *f) {
  struct qs_worker *w = &f->workers[0];
  for (int i = 0; i < 2; i++)
    if (w->fwd_same[i] >= 0)
      close(w->fwd_same[i]);
  for (int i = 0; i < QS_FWD_OTHER; i++)
    if (w->fwd_other[i].fd >= 0)
      close(w->fwd_other[i].fd);
  free(w->fwd_same);
  free(f);
}

/* A sibling that never reads: its queue fills, and then every datagram is
 * a counted drop, never "unreachable". */
static void test_queue_full(void **state) {
  struct fixture *f = fixture_new();
  int lfd = qs_fwd_listen(&f->workers[1].fwd_name), n;
  (void)state;
  assert_true(lfd >= 0);
  for (n = 0; n < 100000 && f->st.fwd_busy == 0; n++)
    assert_int_equal(qs_relay(&f->workers[0], &f->d, f->payload, sizeof f->payload, 1, 1), 0);
  assert_true(f->st.fwd_out > 0);
  assert_int_equal(f->st.fwd_busy, 1);
  assert_int_equal(f->st.fwd_fail, 0);
  /* still behind: still drops, still 0 */
  assert_int_equal(qs_relay(&f->workers[0], &f->d, f->payload, sizeof f->payload, 1, 1), 0);
  assert_int_equal(f->st.fwd_busy, 2);
  close(lfd);
  fixture_del(f);
}

/* Another generation's worker whose accept backlog is full: connect says
 * EAGAIN; that owner is alive, so a drop, and the next datagram tries
 * again (no one-second "gone" memory). */
static void test_backlog_full(void **state) {
  struct fixture *f = fixture_new();
  struct qs_fwd_name other;
  int lfd, fill[64], nfill = 0;
  (void)state;
  qs_fwd_name_make(&other, f->name, 2, 0);
  lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  assert_true(lfd >= 0);
  assert_int_equal(bind(lfd, (struct sockaddr *)&other.sun, other.len), 0);
  assert_int_equal(listen(lfd, 0), 0);
  for (; nfill < 64; nfill++) {
    fill[nfill] = qs_fwd_connect(&other);
    if (fill[nfill] < 0)
      break;
  }
  assert_true(nfill < 64);
  assert_int_equal(fill[nfill], -EAGAIN);
  assert_int_equal(qs_relay(&f->workers[0], &f->d, f->payload, sizeof f->payload, 2, 0), 0);
  assert_int_equal(f->st.fwd_busy, 1);
  assert_int_equal(f->st.fwd_fail, 0);
  /* room again (the owner accepted one): delivered at once */
  close(accept(lfd, NULL, NULL));
  assert_int_equal(qs_relay(&f->workers[0], &f->d, f->payload, sizeof f->payload, 2, 0), 0);
  assert_int_equal(f->st.fwd_out, 1);
  for (int i = 0; i < nfill; i++)
    close(fill[i]);
  close(lfd);
  fixture_del(f);
}

/* Nobody listens: -1 (the caller may treat the datagram as unknown), and
 * that is remembered for a moment. */
static void test_gone(void **state) {
  struct fixture *f = fixture_new();
  (void)state;
  assert_int_equal(qs_relay(&f->workers[0], &f->d, f->payload, sizeof f->payload, 3, 0), -1);
  assert_int_equal(f->st.fwd_fail, 1);
  assert_int_equal(qs_relay(&f->workers[0], &f->d, f->payload, sizeof f->payload, 3, 0), -1);
  assert_int_equal(f->st.fwd_fail, 2);
  assert_int_equal(f->st.fwd_busy, 0);
  fixture_del(f);
}

/* An owner that closed its end: reconnect once; gone for good is -1. */
static void test_owner_closed(void **state) {
  struct fixture *f = fixture_new();
  int lfd = qs_fwd_listen(&f->workers[1].fwd_name), a;
  (void)state;
  assert_true(lfd >= 0);
  assert_int_equal(qs_relay(&f->workers[0], &f->d, f->payload, sizeof f->payload, 1, 1), 0);
  a = accept(lfd, NULL, NULL);
  assert_true(a >= 0);
  close(a);
  close(lfd);
  assert_int_equal(qs_relay(&f->workers[0], &f->d, f->payload, sizeof f->payload, 1, 1), -1);
  assert_int_equal(f->st.fwd_fail, 1);
  fixture_del(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queue_full),
      cmocka_unit_test(test_backlog_full),
      cmocka_unit_test(test_gone),
      cmocka_unit_test(test_owner_closed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
