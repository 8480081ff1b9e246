/*
 * l_kernel.c - qsl.kernel: the kernel's own account (core/kernel.h).
 *   qsl.kernel.available() -> true | false, why, errno   (loads the BPF program once)
 *   c = qsl.kernel.drops{pid = P}    drops in P's network namespace from now on (P absent:
 *       ours); nil, why, errno where BPF cannot run. c:read([ip_proto]) -> {REASON = n, ...}
 *       since c was made, of every packet or of one IP protocol ("udp", "tcp", "icmp",
 *       "igmp", "icmpv6" or its number); c:details() -> {{reason=, protocol= (ethertype),
 *       ip_proto=, count=}, ...}; c:netns(); c:close()
 *   qsl.kernel.overflow() -> drops the program's map had no room for (0 expected)
 *   qsl.kernel.misses() -> times the kernel skipped the program (already running on that
 *       CPU): drops in any namespace that went uncounted; nil, why, errno if unreadable
 *   a = qsl.kernel.audit{reasons = {"SOCKET_RCVBUFF", ..., "all"}}: from now on, how often
 *       the kernel fired skb:kfree_skb with each reason (perf's counter of the tracepoint,
 *       every CPU) against how often the program ran for it (every namespace); nil, why,
 *       errno where it cannot (no tracefs and none mountable privately, no CAP_PERFMON).
 *       a:read() -> {REASON = {fired=,
 *       ran=, skipped=}}; a:close(). A reason this kernel lacks is a caller's mistake.
 *   qsl.kernel.reason(name) -> the reason's value in this kernel's enum, or nothing
 * The program is loaded once per process and stays attached until it exits: a scenario's
 * trials share it, each counter watching its own namespace, so concurrent runs never mix.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "kernel.h"

#define DROPS_META "qsl.kernel.drops"
#define AUDIT_META "qsl.kernel.audit"
#define BASE_MAX 256                    /* (reason, protocol) pairs one namespace holds */

static struct {
    int tried, rc;
    struct qsl_kernel_drops *k;
    char why[512];
    struct { uint32_t netns; unsigned refs; } watch[QSL_KERNEL_MAX_WATCHED];
} g;

struct counter {
    uint32_t netns;
    int open;
    size_t nbase;
    struct qsl_kernel_drop base[BASE_MAX];  /* the counts when it was made */
};

static int load(void)
{
    if (!g.tried) {
        g.tried = 1;
        g.rc = qsl_kernel_drops_open(&g.k, g.why, sizeof g.why);
    }
    return g.rc;
}

/* nil, why, errno: BPF cannot run here (load() said why). */
static int push_unavailable(lua_State *L)
{
    lua_pushnil(L);
    lua_pushstring(L, g.why);
    lua_pushinteger(L, -g.rc);
    return 3;
}

static int l_available(lua_State *L)
{
    int rc = load();
    lua_pushboolean(L, rc == 0);
    if (rc == 0)
        return 1;
    lua_pushstring(L, g.why);
    lua_pushinteger(L, -rc);
    return 3;
}

static int watch(uint32_t netns)
{
    size_t free_at = QSL_KERNEL_MAX_WATCHED;
    for (size_t i = 0; i < QSL_KERNEL_MAX_WATCHED; i++) {
        if (g.watch[i].refs && g.watch[i].netns == netns) {
            g.watch[i].refs++;
            return 0;
        }
        if (!g.watch[i].refs && free_at == QSL_KERNEL_MAX_WATCHED)
            free_at = i;
    }
    if (free_at == QSL_KERNEL_MAX_WATCHED)
        return -ENOSPC;
    int rc = qsl_kernel_drops_watch(g.k, netns);
    if (rc == 0)
        g.watch[free_at].netns = netns, g.watch[free_at].refs = 1;
    return rc;
}

static void unwatch(uint32_t netns)
{
    for (size_t i = 0; i < QSL_KERNEL_MAX_WATCHED; i++)
        if (g.watch[i].refs && g.watch[i].netns == netns) {
            if (--g.watch[i].refs == 0)
                qsl_kernel_drops_unwatch(g.k, netns);
            return;
        }
}

/* The namespace's counts now, into out[BASE_MAX]; their number or a negative errno. */
static int counts(uint32_t netns, struct qsl_kernel_drop *out)
{
    int n = qsl_kernel_drops_read(g.k, netns, out, BASE_MAX);
    return n > BASE_MAX ? -E2BIG : n;
}

static int l_drops(lua_State *L)
{
    pid_t pid = 0;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        static const char *const known[] = {"pid", NULL};
        qsl_field_known(L, 1, known);
        pid = (pid_t)qsl_field_integer(L, 1, "pid", 0, 0, 1, 0x7fffffff);
    }
    int rc = load();
    if (rc != 0)
        return push_unavailable(L);
    uint32_t netns;
    if ((rc = qsl_kernel_netns_of(pid, &netns)) != 0)
        return qsl_push_failure(L, rc, "the process's network namespace (/proc/PID/ns/net)");
    struct counter *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->open = 0;
    luaL_setmetatable(L, DROPS_META);
    if ((rc = watch(netns)) != 0)
        return qsl_push_failure(L, rc, "watching the namespace's drops");
    c->netns = netns;
    c->open = 1;
    int n = counts(netns, c->base);
    if (n < 0) {
        unwatch(netns);
        c->open = 0;
        return qsl_push_failure(L, n, "reading the drop counts");
    }
    c->nbase = (size_t)n;
    return 1;
}

static struct counter *check_counter(lua_State *L)
{
    struct counter *c = luaL_checkudata(L, 1, DROPS_META);
    if (!c->open)
        luaL_error(L, "attempt to use a closed drop counter");
    return c;
}

static uint64_t baseline(const struct counter *c, const struct qsl_kernel_drop *d)
{
    for (size_t i = 0; i < c->nbase; i++)
        if (c->base[i].reason == d->reason && c->base[i].protocol == d->protocol &&
            c->base[i].ip_proto == d->ip_proto)
            return c->base[i].count;
    return 0;
}

/* Calls each(L, name, the drop, count since c was made) for every nonzero count of IP
 * protocol ip_proto (-1: all). */
static int since(lua_State *L, struct counter *c, int ip_proto,
                 void (*each)(lua_State *, const char *, const struct qsl_kernel_drop *,
                              lua_Integer))
{
    struct qsl_kernel_drop now[BASE_MAX];
    int n = counts(c->netns, now);
    if (n < 0)
        return qsl_push_failure(L, n, "reading the drop counts");
    lua_newtable(L);
    for (int i = 0; i < n; i++) {
        uint64_t d = now[i].count - baseline(c, &now[i]);
        char buf[48];
        if (d && (ip_proto < 0 || now[i].ip_proto == ip_proto))
            each(L, qsl_kernel_drop_reason_name(g.k, now[i].reason, buf, sizeof buf), &now[i],
                 (lua_Integer)d);
    }
    return 1;
}

static void add_reason(lua_State *L, const char *name, const struct qsl_kernel_drop *drop,
                       lua_Integer n)
{
    (void)drop;
    lua_getfield(L, -1, name);
    lua_Integer had = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushinteger(L, had + n);
    lua_setfield(L, -2, name);
}

static void add_detail(lua_State *L, const char *name, const struct qsl_kernel_drop *drop,
                       lua_Integer n)
{
    lua_createtable(L, 0, 4);
    qsl_set_string(L, "reason", name);
    qsl_set_integer(L, "protocol", drop->protocol);
    qsl_set_integer(L, "ip_proto", drop->ip_proto);
    qsl_set_integer(L, "count", n);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* An IP protocol by name or number at idx; -1 when absent (every packet). */
static int check_ip_proto(lua_State *L, int idx)
{
    static const char *const names[] = {"icmp", "igmp", "tcp", "udp", "icmpv6", NULL};
    static const int numbers[] = {1, 2, 6, 17, 58};
    if (lua_isnoneornil(L, idx))
        return -1;
    if (lua_type(L, idx) == LUA_TSTRING)
        return numbers[luaL_checkoption(L, idx, NULL, names)];
    return (int)qsl_opt_range(L, idx, 0, 0, 255);
}

static int l_read(lua_State *L)
{
    struct counter *c = check_counter(L);
    return since(L, c, check_ip_proto(L, 2), add_reason);
}

static int l_details(lua_State *L)
{
    return since(L, check_counter(L), -1, add_detail);
}

static int l_netns(lua_State *L)
{
    lua_pushinteger(L, check_counter(L)->netns);
    return 1;
}

static int l_close(lua_State *L)
{
    struct counter *c = luaL_checkudata(L, 1, DROPS_META);
    if (c->open) {
        c->open = 0;
        unwatch(c->netns);
    }
    return 0;
}

static int l_overflow(lua_State *L)
{
    if (load() != 0)
        return 0;
    lua_pushinteger(L, (lua_Integer)qsl_kernel_drops_overflow(g.k));
    return 1;
}

static int l_misses(lua_State *L)
{
    uint64_t n;
    if (load() != 0)
        return push_unavailable(L);
    int rc = qsl_kernel_drops_misses(g.k, &n);
    if (rc != 0)
        return qsl_push_failure(L, rc, "the BPF program's recursion misses");
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

struct audit {
    struct qsl_kernel_audit *a;        /* NULL: closed */
};

static int l_audit(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const known[] = {"reasons", NULL};
    qsl_field_known(L, 1, known);
    if (lua_getfield(L, 1, "reasons") != LUA_TTABLE)
        return luaL_argerror(L, 1, "reasons: a list of reason names");
    size_t n = lua_rawlen(L, -1);
    if (n == 0 || n > QSL_KERNEL_AUDIT_MAX)
        return luaL_argerror(L, 1, lua_pushfstring(L, "reasons: 1 to %d names, not %d",
                                                   QSL_KERNEL_AUDIT_MAX, (int)n));
    int rc = load();
    if (rc != 0)
        return push_unavailable(L);
    uint32_t reasons[QSL_KERNEL_AUDIT_MAX];
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        const char *name = lua_tostring(L, -1);
        if (!name)
            return luaL_argerror(L, 1, "reasons: names (strings)");
        if (strcmp(name, "all") == 0)
            reasons[i] = QSL_KERNEL_AUDIT_ALL;
        else if (qsl_kernel_drop_reason_value(g.k, name, &reasons[i]) != 0)
            return luaL_argerror(L, 1, lua_pushfstring(L, "reasons: this kernel has no "
                                                       "drop reason %s", name));
        lua_pop(L, 1);
    }
    struct audit *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->a = NULL;
    luaL_setmetatable(L, AUDIT_META);
    char why[256];
    if ((rc = qsl_kernel_audit_open(g.k, reasons, n, &u->a, why, sizeof why)) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        lua_pushinteger(L, -rc);
        return 3;
    }
    return 1;
}

static int l_reason(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    uint32_t v;
    if (load() != 0 || qsl_kernel_drop_reason_value(g.k, name, &v) != 0)
        return 0;
    lua_pushinteger(L, v);
    return 1;
}

static int l_audit_read(lua_State *L)
{
    struct audit *u = luaL_checkudata(L, 1, AUDIT_META);
    if (!u->a)
        return luaL_error(L, "attempt to use a closed audit");
    struct qsl_kernel_audit_count c[QSL_KERNEL_AUDIT_MAX];
    int n = qsl_kernel_audit_read(u->a, c, QSL_KERNEL_AUDIT_MAX);
    if (n < 0)
        return qsl_push_failure(L, n, "reading the audit's counters");
    lua_newtable(L);
    for (int i = 0; i < n; i++) {
        char buf[48];
        lua_createtable(L, 0, 3);
        qsl_set_integer(L, "fired", (lua_Integer)c[i].fired);
        qsl_set_integer(L, "ran", (lua_Integer)c[i].ran);
        /* a drop between the two reads can make ran pass fired by one: not a skip */
        qsl_set_integer(L, "skipped", c[i].fired > c[i].ran ? (lua_Integer)(c[i].fired - c[i].ran) : 0);
        lua_setfield(L, -2, c[i].reason == QSL_KERNEL_AUDIT_ALL ? "all"
                     : qsl_kernel_drop_reason_name(g.k, c[i].reason, buf, sizeof buf));
    }
    return 1;
}

static int l_audit_close(lua_State *L)
{
    struct audit *u = luaL_checkudata(L, 1, AUDIT_META);
    qsl_kernel_audit_close(u->a);
    u->a = NULL;
    return 0;
}

int luaopen_qsl_kernel(lua_State *L)
{
    static const luaL_Reg ameta[] = {{"__gc", l_audit_close}, {"__close", l_audit_close},
                                     {NULL, NULL}};
    static const luaL_Reg amethods[] = {{"read", l_audit_read}, {"close", l_audit_close},
                                        {NULL, NULL}};
    qsl_host_class(L, AUDIT_META, ameta, amethods, "__index");
    static const luaL_Reg meta[] = {{"__gc", l_close}, {"__close", l_close}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"read", l_read}, {"details", l_details},
                                       {"netns", l_netns}, {"close", l_close}, {NULL, NULL}};
    qsl_host_class(L, DROPS_META, meta, methods, "__index");
    static const luaL_Reg funcs[] = {{"available", l_available}, {"drops", l_drops},
                                     {"overflow", l_overflow}, {"misses", l_misses},
                                     {"audit", l_audit}, {"reason", l_reason},
                                     {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
