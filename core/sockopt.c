/*
 * sockopt.c - the table of named socket options.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
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

int qsl_sockopt_parse_list(const char *text, int stream, struct qsl_sockopt_list *l, char *err,
                           unsigned long cap)
{
    memset(l, 0, sizeof *l);
    if (strcmp(text, "none") == 0)  /* the documented default, said out loud */
        return 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ','), *colon = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!colon || colon >= p + len) {
            snprintf(err, cap, "'%.*s': expected name:value", (int)len, p);
            return -EINVAL;
        }
        char name[32];
        size_t nlen = (size_t)(colon - p);
        snprintf(name, sizeof name, "%.*s", (int)(nlen < sizeof name ? nlen : sizeof name - 1), p);
        const struct qsl_sockopt *o = qsl_sockopt_find(name);
        char *vend = NULL;
        long v = 0;
        /* digits only (a leading '-' for linger): strtol would take " 1" or "+1" */
        int digits = (colon[1] >= '0' && colon[1] <= '9') ||
                     (colon[1] == '-' && colon[2] >= '0' && colon[2] <= '9');
        if (digits)
            v = strtol(colon + 1, &vend, 10);
        if (!o || (o->flags & QSL_SOCKOPT_READONLY)) {
            snprintf(err, cap, "'%s': not a settable socket option", name);
            return -EINVAL;
        }
        if ((o->flags & QSL_SOCKOPT_TCP) && !stream) {
            snprintf(err, cap, "'%s' applies to TCP sockets only", name);
            return -EINVAL;
        }
        if (!digits || vend != p + len || v < ((o->flags & QSL_SOCKOPT_LINGER) ? -1 : 0) ||
            v > 1 << 30) {
            snprintf(err, cap, "'%.*s': the value must be an integer in 0..%d", (int)len, p, 1 << 30);
            return -EINVAL;
        }
        for (unsigned i = 0; i < l->n; i++)
            if (l->opt[i] == o) {
                snprintf(err, cap, "'%s' given twice (which one would hold?)", name);
                return -EINVAL;
            }
        if (l->n == QSL_SOCKOPT_LIST_MAX) {
            snprintf(err, cap, "more than %d options", QSL_SOCKOPT_LIST_MAX);
            return -EINVAL;
        }
        l->opt[l->n] = o;
        l->value[l->n++] = (int)v;
        p = end ? end + 1 : p + len;
    }
    return 0;
}

int qsl_sockopt_apply(int fd, const struct qsl_sockopt_list *l, int *granted, const char **failed)
{
    for (unsigned i = 0; i < l->n; i++) {
        int rc = qsl_sockopt_set(fd, l->opt[i], l->value[i]);
        if (rc == 0 && granted)
            rc = qsl_sockopt_get(fd, l->opt[i], &granted[i]);
        if (rc != 0) {
            if (failed)
                *failed = l->opt[i]->name;
            return rc;
        }
    }
    return 0;
}

int qsl_sockopt_format(const struct qsl_sockopt_list *l, const int *granted, char *buf,
                       unsigned long cap)
{
    int n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < l->n && n >= 0 && (unsigned long)n < cap; i++)
        n += snprintf(buf + n, cap - (unsigned long)n, "%s%s:%d", i ? "," : "", l->opt[i]->name,
                      granted ? granted[i] : l->value[i]);
    if (l->n == 0)
        n = snprintf(buf, cap, "none");
    return n;
}
