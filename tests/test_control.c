/* test_control.c: the control-socket client and the peer check both ends
 * use (lib/control.c): a listener created by another user is never
 * trusted, so nothing is sent to a squatted name; one of our own is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quicsteer/control.h"
#include "quicsteer/errors.h"

#define NOBODY 65534

static void name_for(char *out, size_t len) { snprintf(out, len, "tctl-%d", (int)getpid()); }

static int listen_on(const char *name, unsigned gen) {
  struct sockaddr_un sun;
  socklen_t len = qs_control_addr(&sun, name, gen);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len) != 0 || listen(fd, 8) != 0)
    return -1;
  return fd;
}

/* A squatter of another uid: nothing reaches it, and the caller is told. */
static void test_other_user_listener(void **state) {
  char name[64], b;
  int ready[2], done[2], st;
  ssize_t got = -1;
  pid_t pid;
  (void)state;
  if (geteuid() != 0)
    fail_msg("needs root (CI runs as root) to play another user");
  name_for(name, sizeof name);
  assert_int_equal(pipe(ready), 0);
  assert_int_equal(pipe(done), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int lfd, c;
    char buf[256];
    ssize_t total = 0;
    if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
      _exit(2);
    lfd = listen_on(name, 1);
    if (lfd < 0)
      _exit(3);
    if (write(ready[1], "r", 1) != 1 || read(done[0], &b, 1) != 1)
      _exit(4);
    /* whatever connected must not have sent anything */
    while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) { /* until EAGAIN */
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n > 0)
        total += n;
      close(c);
    }
    _exit(total == 0 ? 0 : 5);
  }
  assert_int_equal(read(ready[0], &b, 1), 1);
  {
    char reply[QS_CONTROL_MAX];
    assert_int_equal(qs_control_call(name, 1, "status", reply, sizeof reply, 1000), QS_ERR_PERM);
    assert_int_equal(errno, EPERM);
    assert_int_equal(qs_control_alive(name, 1), 0);
  }
  assert_int_equal(write(done[1], "d", 1), 1);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  got = WEXITSTATUS(st);
  assert_int_equal(got, 0);
}

/* Our own listener is trusted; nobody listening is "not found". */
static void test_own_listener(void **state) {
  char name[64], reply[QS_CONTROL_MAX];
  int lfd;
  (void)state;
  name_for(name, sizeof name);
  assert_int_equal(qs_control_alive(name, 7), 0);
  assert_int_equal(qs_control_call(name, 7, "status", reply, sizeof reply, 100), QS_ERR_NOTFOUND);
  lfd = listen_on(name, 7);
  assert_true(lfd >= 0);
  assert_int_equal(qs_control_alive(name, 7), 1);
  {
    int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), a;
    struct sockaddr_un sun;
    socklen_t len = qs_control_addr(&sun, name, 7);
    uid_t uid = 12345;
    assert_int_equal(connect(c, (struct sockaddr *)&sun, len), 0);
    a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(a >= 0);
    assert_int_equal(qs_peer_trusted(a, &uid), 1); /* the accepted side sees us */
    assert_int_equal(uid, geteuid());
    assert_int_equal(qs_peer_trusted(c, NULL), 1); /* the connecting side sees the listener */
    close(a);
    close(c);
  }
  close(lfd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_own_listener),
      cmocka_unit_test(test_other_user_listener),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
