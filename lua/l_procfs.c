/*
 * l_procfs.c - qsl.procfs: /proc readings for a pid, /proc/net/snmp, sysctls.
 * A missing or unreadable file is nil, message, errno: a process may be gone.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "procfs.h"

static pid_t check_pid(lua_State *L, int idx)
{
    lua_Integer pid = luaL_optinteger(L, idx, getpid());
    luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, idx, "not a process id");
    return (pid_t)pid;
}

static int l_stat(lua_State *L)
{
    pid_t pid = check_pid(L, 1);
    struct qsl_proc_stat st;
    char what[64];
    snprintf(what, sizeof what, "/proc/%d/stat", (int)pid);
    int rc = qsl_procfs_stat(pid, &st);
    if (rc)
        return qsl_push_failure(L, rc, what);
    lua_newtable(L);
    qsl_set_integer(L, "pid", st.pid);
    lua_pushstring(L, st.comm);
    lua_setfield(L, -2, "comm");
    lua_pushlstring(L, &st.state, 1);
    lua_setfield(L, -2, "state");
    qsl_set_integer(L, "ppid", st.ppid);
    qsl_set_integer(L, "minflt", (lua_Integer)st.minflt);
    qsl_set_integer(L, "majflt", (lua_Integer)st.majflt);
    qsl_set_integer(L, "utime_ticks", (lua_Integer)st.utime);
    qsl_set_integer(L, "stime_ticks", (lua_Integer)st.stime);
    qsl_set_integer(L, "num_threads", st.num_threads);
    qsl_set_integer(L, "starttime_ticks", (lua_Integer)st.starttime);
    qsl_set_integer(L, "vsize", (lua_Integer)st.vsize);
    qsl_set_integer(L, "rss_pages", st.rss);
    qsl_set_integer(L, "processor", st.processor);
    return 1;
}

static int kv_to_table(void *ctx, const char *key, const char *value)
{
    lua_State *L = ctx;
    char *end;
    long long n = strtoll(value, &end, 10);
    if (end != value && (*end == '\0' || strcmp(end, " kB") == 0))
        lua_pushinteger(L, n);          /* numbers in the file's own unit (kB for Vm*) */
    else
        lua_pushstring(L, value);
    lua_setfield(L, -2, key);
    return 0;
}

static int l_status(lua_State *L)
{
    pid_t pid = check_pid(L, 1);
    char path[64], buf[16384];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    long n = qsl_procfs_read(path, buf, sizeof buf);
    if (n < 0)
        return qsl_push_failure(L, (int)n, path);
    lua_newtable(L);
    int rc = qsl_procfs_parse_kv(buf, (size_t)n, kv_to_table, L);
    return rc ? qsl_push_failure(L, rc, path) : 1;
}

static int l_schedstat(lua_State *L)
{
    pid_t pid = check_pid(L, 1);
    struct qsl_proc_schedstat s;
    char what[64];
    snprintf(what, sizeof what, "/proc/%d/schedstat", (int)pid);
    int rc = qsl_procfs_schedstat(pid, &s);
    if (rc)
        return qsl_push_failure(L, rc, what);
    lua_newtable(L);
    qsl_set_integer(L, "cpu_ns", (lua_Integer)s.cpu_ns);
    qsl_set_integer(L, "wait_ns", (lua_Integer)s.wait_ns);
    qsl_set_integer(L, "timeslices", (lua_Integer)s.timeslices);
    return 1;
}

static int l_fd_count(lua_State *L)
{
    pid_t pid = check_pid(L, 1);
    char what[64];
    snprintf(what, sizeof what, "/proc/%d/fd", (int)pid);
    long n = qsl_procfs_fd_count(pid);
    if (n < 0)
        return qsl_push_failure(L, (int)n, what);
    lua_pushinteger(L, n);
    return 1;
}

/* fds(pid) -> {[fd] = "socket:[123]", ...}: what each descriptor points at */
static int l_fds(lua_State *L)
{
    pid_t pid = check_pid(L, 1);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return qsl_push_failure(L, -errno, path);
    lua_newtable(L);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || e->d_name[0] == '.' || (pid == getpid() && fd == dirfd(d)))
            continue;
        char link[PATH_MAX + 64], target[PATH_MAX];
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0)
            continue;           /* closed while we looked */
        lua_pushlstring(L, target, (size_t)n);
        lua_rawseti(L, -2, fd);
    }
    closedir(d);
    return 1;
}

static int counter_to_table(void *ctx, const char *proto, const char *name, int64_t value)
{
    lua_State *L = ctx;
    if (lua_getfield(L, -1, proto) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, proto);
    }
    lua_pushinteger(L, value);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    return 0;
}

typedef int (*counters_parser)(const char *, size_t, qsl_procfs_counter_fn, void *);

/* A counters file at path as {Proto = {Name = n, ...}, ...}, or nil, message, errno. */
static int push_counters(lua_State *L, const char *path, counters_parser parse)
{
    if (qsl_host_push_file(L, path) != 1)
        return 3;
    size_t n;
    const char *text = lua_tolstring(L, -1, &n);
    lua_newtable(L);
    int rc = parse(text, n, counter_to_table, L);
    return rc ? qsl_push_failure(L, rc, path) : 1;
}

/* snmp([path]) -> {Udp = {RcvbufErrors = n, ...}, Tcp = {...}, ...} */
static int l_snmp(lua_State *L)
{
    return push_counters(L, luaL_optstring(L, 1, "/proc/net/snmp"), qsl_procfs_parse_snmp);
}

/* snmp6([path]) -> {Udp6 = {RcvbufErrors = n, ...}, Ip6 = {...}, ...}: snmp's shape */
static int l_snmp6(lua_State *L)
{
    return push_counters(L, luaL_optstring(L, 1, "/proc/net/snmp6"), qsl_procfs_parse_snmp6);
}

static int l_sysctl(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    int64_t v;
    int rc = qsl_procfs_sysctl(name, &v);
    if (rc == -EINVAL && (strchr(name, '/') || strstr(name, "..")))
        return luaL_argerror(L, 1, "a dotted sysctl name such as net.core.rmem_max");
    if (rc)
        return qsl_push_failure(L, rc, name);
    lua_pushinteger(L, v);
    return 1;
}

static int l_clock_ticks(lua_State *L)
{
    lua_pushinteger(L, qsl_procfs_clock_ticks());
    return 1;
}

static int l_read(lua_State *L)
{
    return qsl_host_push_file(L, luaL_checkstring(L, 1));
}

int luaopen_qsl_procfs(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"stat", l_stat},         {"status", l_status}, {"schedstat", l_schedstat},
        {"fd_count", l_fd_count}, {"fds", l_fds},       {"snmp", l_snmp},
        {"snmp6", l_snmp6},
        {"sysctl", l_sysctl},
        {"clock_ticks", l_clock_ticks}, {"read", l_read}, {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
