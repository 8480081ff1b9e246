/*
 * sockopt.c - the table of named socket options.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "sockopt.h"

#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif
#ifndef SO_INCOMING_CPU
#define SO_INCOMING_CPU 49
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif

static const struct qsl_sockopt table[] = {
    {"rcvbuf", SOL_SOCKET, SO_RCVBUF, SO_RCVBUF, 0},
    {"sndbuf", SOL_SOCKET, SO_SNDBUF, SO_SNDBUF, 0},
    {"rcvbufforce", SOL_SOCKET, SO_RCVBUFFORCE, SO_RCVBUF, 0},
    {"sndbufforce", SOL_SOCKET, SO_SNDBUFFORCE, SO_SNDBUF, 0},
    {"reuseaddr", SOL_SOCKET, SO_REUSEADDR, SO_REUSEADDR, 0},
    {"reuseport", SOL_SOCKET, SO_REUSEPORT, SO_REUSEPORT, 0},
    {"keepalive", SOL_SOCKET, SO_KEEPALIVE, SO_KEEPALIVE, 0},
    {"busy_poll", SOL_SOCKET, SO_BUSY_POLL, SO_BUSY_POLL, 0},
    {"rxq_ovfl", SOL_SOCKET, SO_RXQ_OVFL, SO_RXQ_OVFL, 0},
    {"timestamping", SOL_SOCKET, SO_TIMESTAMPING, SO_TIMESTAMPING, 0},
    {"timestampns", SOL_SOCKET, SO_TIMESTAMPNS, SO_TIMESTAMPNS, 0},
    {"rcvlowat", SOL_SOCKET, SO_RCVLOWAT, SO_RCVLOWAT, 0},
    {"priority", SOL_SOCKET, SO_PRIORITY, SO_PRIORITY, 0},
    {"mark", SOL_SOCKET, SO_MARK, SO_MARK, 0},
    {"incoming_cpu", SOL_SOCKET, SO_INCOMING_CPU, SO_INCOMING_CPU, 0},
    {"zerocopy", SOL_SOCKET, SO_ZEROCOPY, SO_ZEROCOPY, 0},
    {"type", SOL_SOCKET, SO_TYPE, SO_TYPE, QSL_SOCKOPT_READONLY},
    {"error", SOL_SOCKET, SO_ERROR, SO_ERROR, QSL_SOCKOPT_READONLY},
    /* linger 0: close() resets the connection (RST) instead of a FIN */
    {"linger", SOL_SOCKET, SO_LINGER, SO_LINGER, QSL_SOCKOPT_LINGER},
    {"nodelay", IPPROTO_TCP, TCP_NODELAY, TCP_NODELAY, QSL_SOCKOPT_TCP},
    {"quickack", IPPROTO_TCP, TCP_QUICKACK, TCP_QUICKACK, QSL_SOCKOPT_TCP},
    {"cork", IPPROTO_TCP, TCP_CORK, TCP_CORK, QSL_SOCKOPT_TCP},
};

const struct qsl_sockopt *qsl_sockopt_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

const struct qsl_sockopt *qsl_sockopt_at(unsigned i)
{
    return i < sizeof table / sizeof table[0] ? &table[i] : NULL;
}

int qsl_sockopt_set(int fd, const struct qsl_sockopt *o, int value)
{
    if (o->flags & QSL_SOCKOPT_READONLY)
        return -EINVAL;
    if (o->flags & QSL_SOCKOPT_LINGER) {
        struct linger l = {value >= 0, value >= 0 ? value : 0};
        return setsockopt(fd, o->level, o->optname, &l, sizeof l) == 0 ? 0 : -errno;
    }
    return setsockopt(fd, o->level, o->optname, &value, sizeof value) == 0 ? 0 : -errno;
}

int qsl_sockopt_get(int fd, const struct qsl_sockopt *o, int *value)
{
    if (o->flags & QSL_SOCKOPT_LINGER) {
        struct linger l;
        socklen_t llen = sizeof l;
        if (getsockopt(fd, o->level, o->get_optname, &l, &llen) != 0)
            return -errno;
        *value = l.l_onoff ? l.l_linger : -1;
        return 0;
    }
    socklen_t len = sizeof *value;
    *value = 0;
    return getsockopt(fd, o->level, o->get_optname, value, &len) == 0 ? 0 : -errno;
}

int qsl_sockopt_drops(int fd, uint32_t *drops)
{
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof mem;
    memset(mem, 0, sizeof mem);
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0)
        return -errno;
    if (len < (SK_MEMINFO_DROPS + 1) * sizeof mem[0])
        return -ENOTSUP;        /* a kernel too old to report drops (before 4.6) */
    *drops = mem[SK_MEMINFO_DROPS];
    return 0;
}
