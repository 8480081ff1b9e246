/*
 * net.c - socket creation, numeric addresses, bind/connect/listen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"

int qsl_net_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *len = sizeof *a6;
        return 0;
    }
    return -EINVAL;
}

int qsl_net_socket(int family, int type)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    return fd >= 0 ? fd : -errno;
}

int qsl_net_socket_for(const char *host, int type)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (qsl_net_addr(host, 0, &ss, &len) != 0)
        return -EINVAL;
    return qsl_net_socket(ss.ss_family, type);
}

/* The address, which must be of the socket's own family. */
static int addr_for(int fd, const char *host, uint16_t port, struct sockaddr_storage *ss,
                    socklen_t *len)
{
    struct sockaddr_storage mine;
    socklen_t mlen = sizeof mine;
    if (qsl_net_addr(host, port, ss, len) != 0 || getsockname(fd, (struct sockaddr *)&mine, &mlen) != 0 ||
        mine.ss_family != ss->ss_family)
        return -EINVAL;
    return 0;
}

int qsl_net_bind(int fd, const char *host, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_for(fd, host, port, &ss, &len) != 0)
        return -EINVAL;
    return bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
}

int qsl_net_connect_addr(int fd, const struct sockaddr_storage *ss, socklen_t len)
{
    int rc;
    do
        rc = connect(fd, (const struct sockaddr *)ss, len);
    while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : -errno;
}

int qsl_net_connect(int fd, const char *host, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_for(fd, host, port, &ss, &len) != 0)
        return -EINVAL;
    return qsl_net_connect_addr(fd, &ss, len);
}

int qsl_net_listen(int fd, int backlog)
{
    return listen(fd, backlog) == 0 ? 0 : -errno;
}

int qsl_net_local_port(int fd, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

int qsl_net_tcp_server(const char *host, uint16_t *port, int backlog)
{
    int fd = qsl_net_socket_for(host, SOCK_STREAM);
    if (fd < 0)
        return fd;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = qsl_net_bind(fd, host, *port);
    if (rc == 0)
        rc = qsl_net_listen(fd, backlog);
    if (rc == 0)
        rc = qsl_net_local_port(fd, port);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int qsl_net_is_multicast(const char *host)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (qsl_net_addr(host, 0, &ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return IN6_IS_ADDR_MULTICAST(&((struct sockaddr_in6 *)&ss)->sin6_addr);
    return IN_MULTICAST(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr));
}

int qsl_net_ifindex(const char *ifname, unsigned *ifindex)
{
    if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE)
        return -EINVAL;
    *ifindex = if_nametoindex(ifname);
    return *ifindex ? 0 : -ENODEV;
}

/* The group's address, scoped to the interface when IPv6 (a link-local group needs it). */
static int group_addr(int fd, const char *group, uint16_t port, unsigned ifindex,
                      struct sockaddr_storage *ss, socklen_t *len)
{
    if (!qsl_net_is_multicast(group) || addr_for(fd, group, port, ss, len) != 0)
        return -EINVAL;
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_scope_id = ifindex;
    return 0;
}

int qsl_net_multicast_connect(int fd, const char *group, uint16_t port, unsigned ifindex,
                              int hops, int loop)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = group_addr(fd, group, port, ifindex, &ss, &len);
    if (rc != 0)
        return rc;
    if (ss.ss_family == AF_INET6) {
        int idx = (int)ifindex;
        rc = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) ||
             setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) ||
             setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop);
    } else {
        struct ip_mreqn m = {.imr_ifindex = (int)ifindex};
        unsigned char ttl = (unsigned char)hops, lp = (unsigned char)(loop != 0);
        rc = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) ||
             setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) ||
             setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &lp, sizeof lp);
    }
    if (rc != 0)
        return -errno;
    return qsl_net_connect_addr(fd, &ss, len);
}

int qsl_net_multicast_bind(int fd, const char *group, uint16_t port, unsigned ifindex)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = group_addr(fd, group, port, ifindex, &ss, &len);
    if (rc != 0)
        return rc;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0)
        return -errno;
    if (ss.ss_family == AF_INET6) {
        struct ipv6_mreq m = {.ipv6mr_multiaddr = ((struct sockaddr_in6 *)&ss)->sin6_addr,
                              .ipv6mr_interface = ifindex};
        rc = setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
    } else {
        struct ip_mreqn m = {.imr_multiaddr = ((struct sockaddr_in *)&ss)->sin_addr,
                             .imr_ifindex = (int)ifindex};
        rc = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
    }
    return rc == 0 ? 0 : -errno;
}

int qsl_net_wait(int fd, short events, uint64_t deadline, qsl_stop_flag *stop)
{
    for (;;) {
        if (stop && *stop)
            return -1;
        uint64_t now = qsl_clock_ms();
        if (deadline && now >= deadline)
            return 0;
        int slice = deadline && deadline - now < 100 ? (int)(deadline - now) : 100;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, slice);
        if (r > 0 || (r < 0 && errno != EINTR))
            return 1;
    }
}

int qsl_net_connect_until(int fd, const struct sockaddr_storage *ss, socklen_t len,
                          uint64_t deadline, qsl_stop_flag *stop)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)ss, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    int r = qsl_net_wait(fd, POLLOUT, deadline, stop);
    if (r <= 0)
        return r < 0 ? -EINTR : -ETIMEDOUT;
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        return -errno;
    return -err;
}
