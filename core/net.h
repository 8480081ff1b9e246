/*
 * net.h - socket helpers in the style of Redis's anet.c, for the gateway, the
 * load driver, the feed roles and qsl.sock alike. Addresses are numeric IPv4
 * or IPv6 literals only: qsl never resolves its way to a host it did not
 * mean. Every call returns a descriptor or 0, or a negative errno.
 */
#ifndef QSL_NET_H
#define QSL_NET_H

#include <stdint.h>
#include <sys/socket.h>

#include "stop.h"

/* A literal and a port as a socket address; -EINVAL for anything but a numeric literal. */
int qsl_net_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

/* A close-on-exec socket of the address family of host (SOCK_STREAM or SOCK_DGRAM). */
int qsl_net_socket_for(const char *host, int type);
int qsl_net_socket(int family, int type);

int qsl_net_bind(int fd, const char *host, uint16_t port);
int qsl_net_connect(int fd, const char *host, uint16_t port);      /* retries EINTR */
int qsl_net_connect_addr(int fd, const struct sockaddr_storage *ss, socklen_t len);
int qsl_net_listen(int fd, int backlog);

/* Connect without blocking past the deadline (qsl_clock_ms's clock, 0: none) or a
 * stop: 0, -ETIMEDOUT, -EINTR (stopped), or the connect's -errno. fd ends
 * non-blocking. */
int qsl_net_connect_until(int fd, const struct sockaddr_storage *ss, socklen_t len,
                          uint64_t deadline, qsl_stop_flag *stop);

/* The port the socket is bound to (the kernel's pick after port 0). */
int qsl_net_local_port(int fd, uint16_t *port);

/*
 * Multicast. A group is a numeric IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) literal; the
 * interface is named, since a namespace's only route may be none (a veth host has no
 * default route, and lo no multicast route): qsl_net_ifindex gives its index, or
 * -ENODEV. The sender picks the interface, hop limit and whether its own host's
 * members hear it (IP_MULTICAST_LOOP); the receiver binds the group with SO_REUSEADDR
 * (every member of the group on the host shares the port, each with its own copy and
 * its own buffer) and joins it on the interface. A link-local group gets the
 * interface as its scope.
 */
int qsl_net_is_multicast(const char *host);
int qsl_net_ifindex(const char *ifname, unsigned *ifindex);
int qsl_net_multicast_connect(int fd, const char *group, uint16_t port, unsigned ifindex,
                              int hops, int loop);
int qsl_net_multicast_bind(int fd, const char *group, uint16_t port, unsigned ifindex);

/*
 * Wait until fd is ready for `events` (poll's), with the stop flag in view: 1 ready
 * (or an error the next call on fd will report), 0 the deadline (qsl_clock_ms) passed (0: none),
 * -1 *stop became non-zero. A stop that lands between a check and the wait is seen
 * within 100 ms: the wait is taken in slices.
 */
int qsl_net_wait(int fd, short events, uint64_t deadline, qsl_stop_flag *stop);

/* socket + SO_REUSEADDR + bind + listen; *port 0 = the kernel picks, then *port is it. */
int qsl_net_tcp_server(const char *host, uint16_t *port, int backlog);

#endif
