/*
 * host.c - the embedded Lua state of qsl-run: libraries, module path,
 * interruption, and the exit-error convention.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "feed.h"
#include "gateway.h"
#include "host.h"
#include "procfs.h"
#include "uring.h"

volatile sig_atomic_t qsl_host_signal;
static lua_State *signal_state;

const char *qsl_host_exe(void)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0)
            strcpy(path, "qsl-run");
        else
            path[n] = '\0';
    }
    return path;
}

static int field_error(lua_State *L, int t, const char *k, const char *what)
{
    return luaL_argerror(L, t, lua_pushfstring(L, "field '%s': %s", k, what));
}

/* Every key of option table t must be in known: a misspelt option would
 * otherwise be ignored silently and its default used. */
void qsl_field_known(lua_State *L, int t, const char *const *known)
{
    t = lua_absindex(L, t);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        int ok = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; known[i] && !ok; i++)
                ok = strcmp(lua_tostring(L, -1), known[i]) == 0;
        if (!ok) {
            const char *key = luaL_tolstring(L, -1, NULL);
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            lua_pushfstring(L, "unknown field '%s' (known:", key);
            luaL_addvalue(&b);
            for (int i = 0; known[i]; i++) {
                luaL_addchar(&b, ' ');
                luaL_addstring(&b, known[i]);
            }
            luaL_addchar(&b, ')');
            luaL_pushresult(&b);
            luaL_argerror(L, t, lua_tostring(L, -1));
        }
    }
}

lua_Integer qsl_field_integer(lua_State *L, int t, const char *k, int required, lua_Integer def,
                              lua_Integer lo, lua_Integer hi)
{
    int type = lua_getfield(L, t, k);
    lua_Integer v = def;
    if (type == LUA_TNIL) {
        if (required)
            field_error(L, t, k, "required");
    } else {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < lo || v > hi)
            field_error(L, t, k, lua_pushfstring(L, "expected an integer in %I..%I, got %s", lo,
                                                 hi, luaL_tolstring(L, -1, NULL)));
    }
    lua_pop(L, 1);
    return v;
}

int qsl_field_option(lua_State *L, int t, const char *k, const char *def, const char *const *list)
{
    int type = lua_getfield(L, t, k);
    const char *v = def;
    if (type == LUA_TSTRING)
        v = lua_tostring(L, -1);
    else if (type != LUA_TNIL)
        return field_error(L, t, k, lua_pushfstring(L, "expected a string, got %s",
                                                    luaL_typename(L, -1)));
    if (!v)
        return field_error(L, t, k, "required");
    for (int i = 0; list[i]; i++)
        if (strcmp(v, list[i]) == 0) {
            lua_pop(L, 1);
            return i;
        }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "invalid value '%s' (expected ", v);
    luaL_addvalue(&b);
    for (int i = 0; list[i]; i++) {
        if (i)
            luaL_addchar(&b, '|');
        luaL_addstring(&b, list[i]);
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return field_error(L, t, k, lua_tostring(L, -1));
}

lua_Integer qsl_opt_range(lua_State *L, int arg, lua_Integer def, lua_Integer lo, lua_Integer hi)
{
    lua_Integer v = luaL_optinteger(L, arg, def);
    if (v < lo || v > hi)
        luaL_argerror(L, arg, lua_pushfstring(L, "%I out of range %I..%I", v, lo, hi));
    return v;
}

void qsl_host_class(lua_State *L, const char *name, const luaL_Reg *meta,
                    const luaL_Reg *methods, const char *methods_key)
{
    if (luaL_newmetatable(L, name)) {
        if (meta)
            luaL_setfuncs(L, meta, 0);
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, methods_key);
    }
    lua_pop(L, 1);
}

int qsl_host_exit_error(lua_State *L, int code, const char *reason)
{
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, code);
    lua_setfield(L, -2, "exit");
    lua_pushstring(L, reason);
    lua_setfield(L, -2, "reason");
    luaL_setmetatable(L, "qsl.exit");
    return lua_error(L);
}

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    qsl_host_check_interrupt(L);
}

void qsl_host_check_interrupt(lua_State *L)
{
    int sig = qsl_host_signal;
    if (sig == 0)
        return;
    char msg[64];
    snprintf(msg, sizeof msg, "interrupted by SIG%s", sigabbrev_np(sig));
    qsl_host_exit_error(L, 128 + sig, msg);
}

/* As lua.c does: the handler only sets a flag and a hook, both safe here. */
static void on_signal(int sig)
{
    if (qsl_host_signal == 0)
        qsl_host_signal = sig;
    if (signal_state)
        lua_sethook(signal_state, interrupt_hook,
                    LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void qsl_host_catch_signals(lua_State *L)
{
    signal_state = L;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int qsl_host_push_file(lua_State *L, const char *path)
{
    enum { MAX = 1 << 20 };
    luaL_Buffer b;
    char *buf = luaL_buffinitsize(L, &b, MAX);
    long n = qsl_procfs_read(path, buf, MAX);
    if (n < 0) {
        luaL_pushresultsize(&b, 0);
        lua_pop(L, 1);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, n == -E2BIG ? "larger than 1 MiB" : strerror((int)-n));
        lua_pushinteger(L, -n);
        return 3;
    }
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

/* ------------------------------------------------------------------ the qsl module */

static int l_exit_tostring(lua_State *L)
{
    lua_getfield(L, 1, "reason");
    lua_getfield(L, 1, "exit");
    lua_pushfstring(L, "%s (exit %s)", luaL_optstring(L, -2, "?"), luaL_optstring(L, -1, "?"));
    return 1;
}

static int exit_with(lua_State *L, int code)
{
    return qsl_host_exit_error(L, code, luaL_checkstring(L, 1));
}
static int l_skip(lua_State *L) { return exit_with(L, QSL_EXIT_SKIPPED); }
static int l_refuse(lua_State *L) { return exit_with(L, QSL_EXIT_REFUSED); }
static int l_fail(lua_State *L) { return exit_with(L, QSL_EXIT_ERROR); }

static int l_exit(lua_State *L)
{
    lua_Integer code = luaL_checkinteger(L, 1);
    luaL_argcheck(L, code >= 0 && code <= 255, 1, "exit code out of range 0..255");
    return qsl_host_exit_error(L, (int)code, luaL_optstring(L, 2, ""));
}

static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "not a descriptor number");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

/* Edit distance; names are short, so O(len^2) is nothing. Longer than 63: "far". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return (size_t)-1;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

void qsl_host_nearest_init(struct qsl_host_nearest *n, const char *word)
{
    n->word = word;
    n->best[0] = '\0';
    n->d = (size_t)-1;
}

void qsl_host_nearest_add(struct qsl_host_nearest *n, const char *candidate)
{
    size_t d = distance(n->word, candidate);
    if (d < n->d) {             /* distance() is "far" for names that do not fit best */
        n->d = d;
        snprintf(n->best, sizeof n->best, "%s", candidate);
    }
}

const char *qsl_host_nearest_best(const struct qsl_host_nearest *n)
{
    size_t third = strlen(n->word) / 3;
    return n->d <= (third > 2 ? third : 2) ? n->best : NULL;
}

/* A probe's answer as Lua gets it: true, or false and why. */
static int push_verdict(lua_State *L, int rc, const char *why)
{
    lua_pushboolean(L, rc == 0);
    if (rc == 0)
        return 1;
    lua_pushstring(L, why);
    return 2;
}

/* qsl.io_uring() -> true, or false and why (built without liburing, or the kernel refuses:
 * kernel.io_uring_disabled, seccomp, too old). Probed each call: a sysctl may change. */
static int l_io_uring(lua_State *L)
{
    char why[200];
    return push_verdict(L, qsl_uring_available(why, sizeof why), why);
}

/* qsl.mode_available(name) -> true, or false and why: the gateway's or the subscriber's
 * mode of that name, asked through its own table's probe (an unknown name is an error). */
static int l_mode_available(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    char why[200];
    int rc = 1;
    for (int m = 0; rc == 1 && qsl_gateway_mode_names[m]; m++)
        if (strcmp(name, qsl_gateway_mode_names[m]) == 0)
            rc = qsl_gateway_mode_available((enum qsl_gateway_mode)m, why, sizeof why);
    for (int m = 0; rc == 1 && qsl_feed_rx_mode_names[m]; m++)
        if (strcmp(name, qsl_feed_rx_mode_names[m]) == 0)
            rc = qsl_feed_rx_mode_available((enum qsl_feed_rx_mode)m, why, sizeof why);
    if (rc == 1)
        return luaL_argerror(L, 1, "not a gateway or subscriber mode");
    return push_verdict(L, rc, why);
}

/* qsl.suggest(word, {candidates}) -> the nearest candidate if it is a likely typo, or nil */
static int l_suggest(lua_State *L)
{
    struct qsl_host_nearest n;
    qsl_host_nearest_init(&n, luaL_checkstring(L, 1));
    luaL_checktype(L, 2, LUA_TTABLE);
    for (lua_Integer i = 1, len = luaL_len(L, 2); i <= len; i++) {
        if (lua_geti(L, 2, i) != LUA_TSTRING)
            return luaL_argerror(L, 2, "expected a list of strings");
        qsl_host_nearest_add(&n, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    const char *best = qsl_host_nearest_best(&n);
    if (best)
        lua_pushstring(L, best);
    else
        lua_pushnil(L);
    return 1;
}

void qsl_set_integer(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

void qsl_set_string(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

int qsl_push_failure(lua_State *L, int rc, const char *what)
{
    lua_pushnil(L);
    if (rc == -EINVAL)
        lua_pushfstring(L, "%s: unexpected contents", what);
    else
        lua_pushfstring(L, "%s: %s", what, strerror(-rc));
    lua_pushinteger(L, -rc);
    return 3;
}

static int l_exe(lua_State *L)
{
    lua_pushstring(L, qsl_host_exe());
    return 1;
}

/* qsl.have(tool) -> its path when an executable of that name is on PATH (or, given a
 * path, that file is executable), else nil: what `command -v` answers, without a shell. */
static int l_have(lua_State *L)
{
    const char *tool = luaL_checkstring(L, 1);
    luaL_argcheck(L, *tool, 1, "a program name");
    if (strchr(tool, '/')) {
        if (access(tool, X_OK) != 0)
            return 0;
        lua_pushstring(L, tool);
        return 1;
    }
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; p && *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char full[4096];
        int w = n > 0 ? snprintf(full, sizeof full, "%.*s/%s", (int)n, p, tool) : -1;
        if (w > 0 && (size_t)w < sizeof full) {
            struct stat st;
            if (access(full, X_OK) == 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
                lua_pushstring(L, full);
                return 1;
            }
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

#ifndef QSL_CFLAGS
#define QSL_CFLAGS "unknown"
#endif

static const char *build_version = "unknown", *build_commit = "unknown";

void qsl_host_set_build(const char *version, const char *commit)
{
    build_version = version;
    build_commit = commit;
}

static void push_build(lua_State *L)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, build_version);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, build_commit);
    lua_setfield(L, -2, "commit");
    lua_pushstring(L, "gcc-compatible " __VERSION__);
    lua_setfield(L, -2, "compiler");
    lua_pushstring(L, QSL_CFLAGS);
    lua_setfield(L, -2, "cflags");
    lua_pushstring(L, LUA_RELEASE);
    lua_setfield(L, -2, "lua");
}

static const struct { const char *name; lua_CFunction open; } modules[] = {
    {"qsl.proc", luaopen_qsl_proc},   {"qsl.procfs", luaopen_qsl_procfs},
    {"qsl.strace", luaopen_qsl_strace}, {"qsl.sock", luaopen_qsl_sock},
    {"qsl.wire", luaopen_qsl_wire},   {"qsl.engine", luaopen_qsl_engine},
    {"qsl.clock", luaopen_qsl_clock}, {"qsl.hist", luaopen_qsl_hist},
    {"qsl.fs", luaopen_qsl_fs},       {"qsl.role", luaopen_qsl_role},
    {"qsl.kernel", luaopen_qsl_kernel},
};

/* qsl.roles, qsl.measure, ...: the Lua modules load on first use, so a scenario needs one
 * require. A name with no module under it is nil, as for any absent field. */
static int l_qsl_index(lua_State *L)
{
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    const char *key = lua_tostring(L, 2);
    if (strchr(key, '.') || strchr(key, '/'))
        return 0;
    lua_pushfstring(L, "qsl.%s", key);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushvalue(L, -3);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1))
        return 0;
    lua_getglobal(L, "require");
    lua_pushvalue(L, -4);
    lua_call(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

int luaopen_qsl(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"skip", l_skip}, {"refuse", l_refuse}, {"fail", l_fail}, {"exit", l_exit},
        {"exe", l_exe},   {"isatty", l_isatty}, {"suggest", l_suggest}, {"have", l_have},
        {"io_uring", l_io_uring}, {"mode_available", l_mode_available}, {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    push_build(L);
    lua_setfield(L, -2, "build");
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        luaL_requiref(L, modules[i].name, modules[i].open, 0);
        lua_setfield(L, -2, modules[i].name + 4);       /* "qsl.proc" -> qsl.proc */
    }
    lua_pushinteger(L, QSL_EXIT_SKIPPED);
    lua_setfield(L, -2, "EXIT_SKIPPED");
    lua_pushinteger(L, QSL_EXIT_REFUSED);
    lua_setfield(L, -2, "EXIT_REFUSED");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_qsl_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    return 1;
}

lua_State *qsl_host_newstate(const char *lua_dir)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return NULL;
    luaL_openlibs(L);
    if (luaL_newmetatable(L, "qsl.exit")) {
        lua_pushcfunction(L, l_exit_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_qsl);
    lua_setfield(L, -2, "qsl");
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        lua_pushcfunction(L, modules[i].open);
        lua_setfield(L, -2, modules[i].name);
    }
    lua_pop(L, 1);
    /* qsl's own Lua modules first, found from the binary, never from the cwd alone */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", lua_dir, lua_dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
    return L;
}
