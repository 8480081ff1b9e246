/*
 * l_sock.c - qsl.sock: UDP and TCP sockets for ad-hoc scenarios, with named
 * options. Addresses are numeric IPv4 or IPv6 literals: no name lookup, so a
 * scenario cannot aim at a host it did not mean.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "net.h"
#include "sockopt.h"

#define SOCK_META "qsl.sock"

struct sock {
    int fd;                     /* -1 when closed */
    int type;                   /* SOCK_DGRAM or SOCK_STREAM */
    int family;
};

static struct sock *check_sock(lua_State *L, int idx)
{
    struct sock *s = luaL_checkudata(L, idx, SOCK_META);
    if (s->fd < 0)
        luaL_error(L, "attempt to use a closed socket");
    return s;
}

/* The port argument after a host at idx. */
static uint16_t check_port(lua_State *L, int idx)
{
    lua_Integer port = luaL_checkinteger(L, idx + 1);
    luaL_argcheck(L, port >= 0 && port <= 65535, idx + 1, "port out of range 0..65535");
    return (uint16_t)port;
}

/* core/net's result: -EINVAL is the caller's address (of the wrong family, or a name). */
static int net_result(lua_State *L, const struct sock *s, int idx, int rc, const char *what)
{
    if (rc == -EINVAL && idx > 0)
        return luaL_argerror(L, idx, s->family == AF_INET6 ? "not a numeric IPv6 address"
                                                           : "not a numeric IPv4 address");
    errno = -rc;
    return luaL_fileresult(L, rc == 0, what);
}

static int open_sock(lua_State *L, int type)
{
    static const char *const fams[] = {"inet", "inet6", NULL};
    int family = luaL_checkoption(L, 1, "inet", fams) ? AF_INET6 : AF_INET;
    struct sock *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->fd = -1;                 /* closed until the socket exists */
    luaL_setmetatable(L, SOCK_META);
    int fd = qsl_net_socket(family, type);
    if (fd < 0)
        return net_result(L, s, 0, fd, "socket");
    s->fd = fd;
    s->type = type;
    s->family = family;
    return 1;
}

/* dial(host, port) -> a TCP socket connected to a numeric address, or nil, message, errno */
static int l_dial(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    uint16_t port = check_port(L, 1);
    struct sock *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->fd = -1;
    luaL_setmetatable(L, SOCK_META);
    int fd = qsl_net_socket_for(host, SOCK_STREAM);
    if (fd == -EINVAL)
        return luaL_argerror(L, 1, "not a numeric IPv4 or IPv6 address");
    if (fd < 0)
        return net_result(L, s, 0, fd, "socket");
    s->fd = fd;
    s->type = SOCK_STREAM;
    s->family = strchr(host, ':') ? AF_INET6 : AF_INET;
    int rc = qsl_net_connect(fd, host, port);
    if (rc != 0)
        return net_result(L, s, 0, rc, "connect");
    return 1;
}

static int l_udp(lua_State *L) { return open_sock(L, SOCK_DGRAM); }
static int l_tcp(lua_State *L) { return open_sock(L, SOCK_STREAM); }

static int l_bind(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    const char *host = luaL_checkstring(L, 2);
    return net_result(L, s, 2, qsl_net_bind(s->fd, host, check_port(L, 2)), "bind");
}

static int l_connect(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    const char *host = luaL_checkstring(L, 2);
    return net_result(L, s, 2, qsl_net_connect(s->fd, host, check_port(L, 2)), "connect");
}

static int l_listen(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    lua_Integer backlog = qsl_opt_range(L, 2, 128, 1, 65535);  /* past somaxconn the kernel trims */
    return net_result(L, s, 0, qsl_net_listen(s->fd, (int)backlog), "listen");
}

/* Wait until fd is ready for events, at most timeout_ms (-1: no limit). 1 ready, 0 timeout. */
static int wait_fd(lua_State *L, int fd, short events, lua_Integer timeout_ms)
{
    for (lua_Integer left = timeout_ms;;) {
        qsl_host_check_interrupt(L);
        int slice = left < 0 || left > 100 ? 100 : (int)left;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, slice);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1;           /* let the call itself report the error */
        if (left >= 0 && (left -= slice) <= 0)
            return 0;
    }
}

static int timed_out(lua_State *L)
{
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    lua_pushinteger(L, ETIMEDOUT);
    return 3;
}

static int l_accept(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    lua_Integer timeout = luaL_optinteger(L, 2, -1);
    if (!wait_fd(L, s->fd, POLLIN, timeout))
        return timed_out(L);
    struct sock *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->fd = -1;
    luaL_setmetatable(L, SOCK_META);
    int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return luaL_fileresult(L, 0, "accept");
    c->fd = fd;
    c->type = s->type;
    c->family = s->family;
    return 1;
}

static int l_send(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    int flags = MSG_NOSIGNAL | (lua_toboolean(L, 3) ? MSG_DONTWAIT : 0);
    ssize_t n;
    do
        n = send(s->fd, data, len, flags);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return luaL_fileresult(L, 0, "send");
    lua_pushinteger(L, n);
    return 1;
}

/* recv(max, timeout_ms): a datagram, or what a stream has (up to max); "" at EOF. */
static int l_recv(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, 65536);
    lua_Integer timeout = luaL_optinteger(L, 3, -1);
    luaL_argcheck(L, max > 0 && max <= (1 << 24), 2, "size out of range 1..16 MiB");
    if (!wait_fd(L, s->fd, POLLIN, timeout))
        return timed_out(L);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, (size_t)max);
    ssize_t n;
    do
        n = recv(s->fd, p, (size_t)max, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return luaL_fileresult(L, 0, "recv");
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

/* closed(timeout_ms) -> true when the peer ends the connection (EOF or a reset) within
 * the timeout, reading and dropping what arrives meanwhile; false when it stays open. */
static int l_closed(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    lua_Integer timeout = qsl_opt_range(L, 2, 2000, 0, 3600000);
    char sink[4096];
    for (lua_Integer left = timeout;;) {
        lua_Integer slice = left < 50 ? left : 50;
        if (wait_fd(L, s->fd, POLLIN, slice)) {
            ssize_t n = recv(s->fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                lua_pushboolean(L, 1);
                return 1;
            }
        }
        if ((left -= slice) <= 0)
            break;
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* A known option that fits the socket, or an argument error naming it. */
static const struct qsl_sockopt *check_opt(lua_State *L, int idx, const struct sock *s)
{
    const char *name = luaL_checkstring(L, idx);
    const struct qsl_sockopt *o = qsl_sockopt_find(name);
    if (!o) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "unknown socket option '");
        luaL_addstring(&b, name);
        luaL_addstring(&b, "'; known:");
        for (unsigned i = 0; (o = qsl_sockopt_at(i)) != NULL; i++) {
            luaL_addchar(&b, ' ');
            luaL_addstring(&b, o->name);
        }
        luaL_pushresult(&b);
        luaL_argerror(L, idx, lua_tostring(L, -1));
    }
    if ((o->flags & QSL_SOCKOPT_TCP) && s->type != SOCK_STREAM)
        luaL_argerror(L, idx, lua_pushfstring(L, "'%s' applies to TCP sockets only", name));
    return o;
}

/* setopt(name, value) -> granted value (read back), or nil, message, errno */
static int l_setopt(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    const struct qsl_sockopt *o = check_opt(L, 2, s);
    if (o->flags & QSL_SOCKOPT_READONLY)
        return luaL_argerror(L, 2, "read-only option");
    /* the kernel takes an int: a larger value would be truncated into a silent other one */
    lua_Integer lo = (o->flags & QSL_SOCKOPT_LINGER) ? -1 : 0;
    int v = lua_isboolean(L, 3) ? lua_toboolean(L, 3)
                                : (int)(luaL_checkinteger(L, 3), qsl_opt_range(L, 3, 0, lo, INT_MAX));
    int rc = qsl_sockopt_set(s->fd, o, v);
    if (rc == 0)
        rc = qsl_sockopt_get(s->fd, o, &v);
    if (rc) {
        errno = -rc;
        return luaL_fileresult(L, 0, o->name);
    }
    lua_pushinteger(L, v);
    return 1;
}

static int l_getopt(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    const struct qsl_sockopt *o = check_opt(L, 2, s);
    int v;
    int rc = qsl_sockopt_get(s->fd, o, &v);
    if (rc) {
        errno = -rc;
        return luaL_fileresult(L, 0, o->name);
    }
    lua_pushinteger(L, v);
    return 1;
}

static int l_drops(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    uint32_t d;
    int rc = qsl_sockopt_drops(s->fd, &d);
    if (rc) {
        errno = -rc;
        return luaL_fileresult(L, 0, "SO_MEMINFO");
    }
    lua_pushinteger(L, d);
    return 1;
}

static int l_local(lua_State *L)
{
    struct sock *s = check_sock(L, 1);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0)
        return luaL_fileresult(L, 0, "getsockname");
    char host[INET6_ADDRSTRLEN];
    int port;
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    }
    lua_pushstring(L, host);
    lua_pushinteger(L, port);
    return 2;
}

static int l_fileno(lua_State *L)
{
    lua_pushinteger(L, check_sock(L, 1)->fd);
    return 1;
}

static int sock_close(lua_State *L)
{
    struct sock *s = luaL_checkudata(L, 1, SOCK_META);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    return 0;
}

static int sock_tostring(lua_State *L)
{
    struct sock *s = luaL_checkudata(L, 1, SOCK_META);
    if (s->fd < 0)
        lua_pushliteral(L, "qsl.sock (closed)");
    else
        lua_pushfstring(L, "qsl.sock %s fd %d", s->type == SOCK_DGRAM ? "udp" : "tcp", s->fd);
    return 1;
}

static int l_options(lua_State *L)
{
    lua_newtable(L);
    const struct qsl_sockopt *o;
    for (unsigned i = 0; (o = qsl_sockopt_at(i)) != NULL; i++) {
        lua_pushstring(L, o->name);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

int luaopen_qsl_sock(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"bind", l_bind},     {"connect", l_connect}, {"listen", l_listen}, {"accept", l_accept},
        {"send", l_send},     {"recv", l_recv},       {"setopt", l_setopt}, {"getopt", l_getopt},
        {"closed", l_closed},
        {"drops", l_drops},   {"local_address", l_local}, {"fileno", l_fileno},
        {"close", sock_close}, {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", sock_close}, {"__close", sock_close}, {"__tostring", sock_tostring}, {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"udp", l_udp}, {"tcp", l_tcp}, {"dial", l_dial}, {"options", l_options}, {NULL, NULL},
    };
    qsl_host_class(L, SOCK_META, meta, methods, "__index");
    luaL_newlib(L, funcs);
    return 1;
}
