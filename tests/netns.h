/* netns.h: run a test in a throwaway network namespace (xdp-tools style):
 * nothing it sends can leave it, and its ports collide with nobody's. */
#ifndef QS_TEST_NETNS_H
#define QS_TEST_NETNS_H

#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* qs_test_netns_enter moves the calling process into a new network
 * namespace and brings its loopback up.  Returns 0 or -1 (message printed). */
static inline int qs_test_netns_enter(void) {
  struct ifreq ifr;
  int fd;
  if (unshare(CLONE_NEWNET) != 0) {
    perror("unshare(CLONE_NEWNET)");
    return -1;
  }
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    return -1;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ||
      (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)) {
    perror("bringing lo up");
    close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

#endif
