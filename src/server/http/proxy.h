/* proxy.h: the reverse proxy: requests whose path starts with a --proxy
 * prefix go to HTTP/1.1 upstreams.
 *
 * The route table (struct qs_proxy_table) is built once at start from the
 * --proxy PREFIX=URL[,URL...] options (names resolved then) and only read
 * afterwards.  Each worker keeps its own state (struct qs_proxy_worker):
 * per upstream a keep-alive pool (at most pool_idle idle and pool_max
 * connections in all; requests beyond wait for a connection), the
 * round-robin position of each route, and passive health: an upstream
 * that refused, timed out or answered garbage is skipped for
 * QS_PROXY_DOWN_S seconds while another of the route is up.
 *
 * A proxied request is mapped to HTTP/1.1 (h1.c), its body streamed under
 * the front's flow control (credit is given back only once octets reached
 * the upstream socket), the response parsed with http-parser and its body
 * streamed back through a ring of QS_PROXY_RING octets: the upstream is
 * read only while the ring has room, so memory per request is bounded
 * however fast the upstream and however slow the client.  Failures are
 * answers (502, 504) before the response started and stream resets after.
 */
#ifndef QS_SERVER_PROXY_H
#define QS_SERVER_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "req.h"

#define QS_PROXY_MAX_ROUTES 64
#define QS_PROXY_MAX_UPSTREAMS 64
#define QS_PROXY_PER_ROUTE 16
#define QS_PROXY_PREFIX_MAX 256
#define QS_PROXY_RING (256 * 1024) /* response body octets buffered per request */
#define QS_PROXY_DOWN_S 10         /* a failed upstream is skipped this long */

struct qs_upstream {
  struct sockaddr_storage addr;
  socklen_t addrlen;
  char text[300]; /* as given: "127.0.0.1:8080", "unix:/run/app.sock" */
};

struct qs_proxy_route {
  char prefix[QS_PROXY_PREFIX_MAX];
  size_t prefixlen;
  unsigned up[QS_PROXY_PER_ROUTE]; /* indices into the table's upstreams */
  size_t nup;
};

struct qs_proxy_table {
  struct qs_proxy_route routes[QS_PROXY_MAX_ROUTES];
  size_t nroutes;
  struct qs_upstream ups[QS_PROXY_MAX_UPSTREAMS];
  size_t nups;
  /* settings */
  double connect_timeout, first_byte_timeout, idle_timeout; /* seconds */
  unsigned pool_idle, pool_max; /* per upstream and worker */
};

/* qs_proxy_table_init empties |t| and sets its settings. */
void qs_proxy_table_init(struct qs_proxy_table *t, double connect_timeout,
                         double first_byte_timeout, double idle_timeout, unsigned pool_idle,
                         unsigned pool_max);

/* qs_proxy_table_add adds one --proxy value: PREFIX=URL[,URL...], URL
 * being http://HOST:PORT (IPv4, [IPv6], or a name resolved now) or
 * unix:/PATH.  A prefix given again gets the URLs added.  Returns 0, or
 * -1 with a one-line reason in |err|. */
int qs_proxy_table_add(struct qs_proxy_table *t, const char *spec, char *err, size_t errlen);

/* qs_proxy_match returns the route with the longest prefix of |path|, or
 * NULL. */
const struct qs_proxy_route *qs_proxy_match(const struct qs_proxy_table *t, const char *path);

struct qs_proxy_worker;

int qs_proxy_worker_new(struct qs_http_worker *hw, const struct qs_proxy_table *t,
                        struct qs_proxy_worker **out);
void qs_proxy_worker_del(struct qs_proxy_worker *pw);

/* qs_proxy_start answers |r| through route |route|. */
void qs_proxy_start(struct qs_req *r, const struct qs_proxy_route *route);

#endif
