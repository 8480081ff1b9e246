/*
 * l_proc.c - qsl.proc: the Lua face of core/proc (children a scenario
 * starts, watches and stops). Arguments are checked here; the process work
 * is core's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "proc.h"

#define PROC_META "qsl.proc"
#define ERR_TAIL 8192

static int interrupted(void *ctx)
{
    (void)ctx;
    return qsl_host_signal != 0;
}

/* core's wait, with an arriving SIGINT/SIGTERM raised as the run's interruption */
static enum qsl_proc_wait wait_for(lua_State *L, struct qsl_proc *p, double ms, const char *word)
{
    enum qsl_proc_wait r = qsl_proc_wait(p, ms, word, interrupted, NULL);
    if (r == QSL_PROC_STOPPED)
        qsl_host_check_interrupt(L);
    return r;
}

/*
 * "word key=value key=value" into a table; numbers become numbers. Returns 1,
 * or 0 after pushing an error message naming the bad field.
 */
static int push_fields(lua_State *L, const char *line, size_t len)
{
    struct qsl_proc_field f[128];
    int n = qsl_proc_fields(line, len, f, 128);
    if (n < 0) {
        const char *bad = line;
        for (int i = 0, at = -1 - n; i <= at && bad; i++)       /* the at-th token */
            bad = memchr(bad, ' ', (size_t)(line + len - bad)), bad = bad ? bad + 1 : NULL;
        const char *end = bad ? memchr(bad, ' ', (size_t)(line + len - bad)) : NULL;
        lua_pushfstring(L, "unparsable field '%s' in line '%s'",
                        bad ? lua_pushlstring(L, bad, (size_t)((end ? end : line + len) - bad))
                            : "?",
                        lua_pushlstring(L, line, len));
        lua_replace(L, bad ? -3 : -2);
        if (bad)
            lua_pop(L, 1);
        return 0;
    }
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, f[i].key, f[i].klen);
        lua_pushlstring(L, f[i].val, f[i].vlen);
        if (lua_stringtonumber(L, lua_tostring(L, -1)) != 0)
            lua_remove(L, -2);
        lua_settable(L, -3);
    }
    return 1;
}

static void push_err_tail(lua_State *L, const struct qsl_proc *p)
{
    char buf[ERR_TAIL + 1];
    size_t n = qsl_proc_err_tail(p, buf, sizeof buf);
    lua_pushlstring(L, buf, n);
}

static void push_status(lua_State *L, const struct qsl_proc *p)
{
    lua_newtable(L);
    lua_pushinteger(L, p->pid);
    lua_setfield(L, -2, "pid");
    lua_pushboolean(L, WIFEXITED(p->status));
    lua_setfield(L, -2, "exited");
    if (WIFEXITED(p->status)) {
        lua_pushinteger(L, WEXITSTATUS(p->status));
        lua_setfield(L, -2, "code");
    }
    if (WIFSIGNALED(p->status)) {
        lua_pushinteger(L, WTERMSIG(p->status));
        lua_setfield(L, -2, "signal");
        lua_pushstring(L, sigabbrev_np(WTERMSIG(p->status)));
        lua_setfield(L, -2, "signal_name");
    }
    lua_pushboolean(L, p->killed);
    lua_setfield(L, -2, "killed");
    const struct rusage *r = &p->ru;
    int64_t uus = (int64_t)r->ru_utime.tv_sec * 1000000 + r->ru_utime.tv_usec;
    int64_t sus = (int64_t)r->ru_stime.tv_sec * 1000000 + r->ru_stime.tv_usec;
    struct { const char *name; lua_Integer v; } f[] = {
        {"utime_us", uus}, {"stime_us", sus}, {"maxrss_kb", r->ru_maxrss},
        {"minflt", r->ru_minflt}, {"majflt", r->ru_majflt},
        {"nvcsw", r->ru_nvcsw}, {"nivcsw", r->ru_nivcsw},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        lua_pushinteger(L, f[i].v);
        lua_setfield(L, -2, f[i].name);
    }
    lua_pushnumber(L, (double)uus / 1e6);
    lua_setfield(L, -2, "utime");
    lua_pushnumber(L, (double)sus / 1e6);
    lua_setfield(L, -2, "stime");
}

static void push_exit_desc(lua_State *L, const struct qsl_proc *p)
{
    if (WIFEXITED(p->status))
        lua_pushfstring(L, "exit code %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        lua_pushfstring(L, "killed by SIG%s", sigabbrev_np(WTERMSIG(p->status)));
    else
        lua_pushstring(L, "ended");
}

/* ------------------------------------------------------------------ spawning */

/* Strings of the array at index idx appended to v (a Lua-owned userdata array). */
static int push_strings(lua_State *L, int idx, const char *what, const char **v, int at, int max)
{
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        if (at >= max)
            luaL_error(L, "spawn: %s has too many elements", what);
        lua_geti(L, idx, i);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "spawn: %s[%d] is a %s, not a string", what, (int)i, luaL_typename(L, -1));
        v[at++] = lua_tostring(L, -1);
        lua_pop(L, 1);          /* still referenced from the table, so the string stays */
    }
    return at;
}

/*
 * spawn's cpus = {n, ...}: the set, each a CPU this process may run on (a scenario that asks
 * for CPUs the machine lacks is refused, naming it); 0 when absent. Not with cpu=.
 */
static int check_cpus(lua_State *L, int cpu, cpu_set_t *set)
{
    int t = lua_getfield(L, 1, "cpus");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TTABLE || lua_rawlen(L, -1) == 0)
        return luaL_argerror(L, 1, "cpus must be a non-empty list of CPU numbers");
    if (cpu >= 0)
        return luaL_argerror(L, 1, "give cpu or cpus, not both");
    cpu_set_t have;
    CPU_ZERO(&have);
    if (sched_getaffinity(0, sizeof have, &have) != 0)
        return luaL_error(L, "cpus: sched_getaffinity: %s", strerror(errno));
    CPU_ZERO(set);
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);
        int ok;
        lua_Integer n = lua_tointegerx(L, -1, &ok);
        if (!ok || n < 0 || n >= CPU_SETSIZE)
            return luaL_argerror(L, 1, "cpus must be a list of CPU numbers");
        if (!CPU_ISSET((int)n, &have))
            return luaL_argerror(L, 1, lua_pushfstring(L, "cpus: CPU %d is not one this "
                                 "process may run on (%d here)", (int)n, CPU_COUNT(&have)));
        CPU_SET((int)n, set);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    enum { MAXARGS = 256 };
    const char *argv[MAXARGS + 1], *env[65];
    int argc = 0, nenv = 0;
    struct { int netns; long nofile; int cpu; pid_t netns_of; int stdin_pipe; } o = {.cpu = -1};
    static const char *const known[] = {"wrap", "role", "argv", "args", "netns", "nofile",
                                        "netns_of", "cpu", "cpus", "env", "stdin", NULL};
    qsl_field_known(L, 1, known);

    int wrap = lua_getfield(L, 1, "wrap") == LUA_TTABLE;
    if (wrap)
        argc = push_strings(L, -1, "wrap", argv, argc, MAXARGS);
    else if (!lua_isnil(L, -1))
        return luaL_argerror(L, 1, "wrap must be a list of strings");
    int wrap_len = argc;
    int has_role = lua_getfield(L, 1, "role") == LUA_TSTRING;
    int has_argv = lua_getfield(L, 1, "argv") == LUA_TTABLE;
    if (has_role == has_argv)
        return luaL_argerror(L, 1, "give exactly one of role (a string) or argv (a list)");
    if (has_role) {
        argv[argc++] = qsl_host_exe();
        argv[argc++] = lua_tostring(L, -2);
        if (lua_getfield(L, 1, "args") == LUA_TTABLE)
            argc = push_strings(L, lua_gettop(L), "args", argv, argc, MAXARGS);
        else if (!lua_isnil(L, -1))
            return luaL_argerror(L, 1, "args must be a list of strings");
    } else {
        argc = push_strings(L, lua_gettop(L), "argv", argv, argc, MAXARGS);
        if (argc == wrap_len)
            return luaL_argerror(L, 1, "argv is empty");
    }
    argv[argc] = NULL;
    lua_getfield(L, 1, "netns");
    o.netns = lua_toboolean(L, -1);
    o.nofile = (long)qsl_field_integer(L, 1, "nofile", 0, 0, 0, 1 << 30);
    o.netns_of = (pid_t)qsl_field_integer(L, 1, "netns_of", 0, 0, 0, 1 << 22);
    o.cpu = (int)qsl_field_integer(L, 1, "cpu", 0, -1, -1, CPU_SETSIZE - 1);
    cpu_set_t cpus;
    int has_cpus = check_cpus(L, o.cpu, &cpus);
    int st = lua_getfield(L, 1, "stdin");
    if (st != LUA_TNIL && (st != LUA_TSTRING || strcmp(lua_tostring(L, -1), "pipe") != 0))
        return luaL_argerror(L, 1, "stdin must be \"pipe\" (or absent: /dev/null)");
    o.stdin_pipe = st != LUA_TNIL;
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "env") == LUA_TTABLE) {
        int t = lua_gettop(L);
        lua_newtable(L);            /* keeps the "K=V" strings alive until exec */
        int anchor = t + 1;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            if (nenv == 64 || lua_type(L, -2) != LUA_TSTRING)
                return luaL_argerror(L, 1, "env must map at most 64 names to strings");
            const char *k = lua_tostring(L, -2);        /* a string key: no conversion */
            const char *v = luaL_tolstring(L, -1, NULL);
            env[nenv++] = lua_pushfstring(L, "%s=%s", k, v);
            lua_rawseti(L, anchor, nenv);
            lua_pop(L, 2);          /* the tolstring copy and the value; the key stays */
        }
    }
    env[nenv] = NULL;

    /* the handle exists, closed, before any resource is taken */
    struct qsl_proc *p = lua_newuserdatauv(L, sizeof *p, 1);   /* 1: where it runs, if remote */
    qsl_proc_init(p);
    luaL_setmetatable(L, PROC_META);
    struct qsl_proc_spec spec = {.argv = argv, .wrapped = wrap, .netns = o.netns,
                                 .netns_of = o.netns_of, .nofile = o.nofile, .cpu = o.cpu,
                                 .cpus = has_cpus ? &cpus : NULL,
                                 .env = env, .stdin_pipe = o.stdin_pipe};
    char what[64];
    int rc = qsl_proc_spawn(p, &spec, what, sizeof what);
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "spawn %s: %s: %s", argv[0], what, strerror(-rc));
        lua_pushinteger(L, -rc);
        return 3;
    }
    return 1;
}

/* ------------------------------------------------------------------ methods */

static struct qsl_proc *check_proc(lua_State *L)
{
    return luaL_checkudata(L, 1, PROC_META);
}

/*
 * The first line starting with word (after those already taken), as fields;
 * waits up to timeout_ms. nil, message when the child exits first or time
 * runs out. A wrapped child's ready line names the pid to signal.
 */
static int wait_line(lua_State *L, struct qsl_proc *p, const char *word, lua_Integer timeout)
{
    size_t len;
    const char *line;
    if (p->reaped)
        qsl_proc_read(p);       /* reaped elsewhere (p:running()): what it wrote is kept */
    enum qsl_proc_wait r = p->reaped ? QSL_PROC_EXITED : wait_for(L, p, (double)timeout, word);
    if ((line = qsl_proc_take_line(p, word, &len)) != NULL) {
        if (!push_fields(L, line, len)) {
            lua_pushnil(L);
            lua_insert(L, -2);
            return 2;
        }
        lua_getfield(L, -1, "pid");
        if (p->wrapped && !strcmp(word, "ready") && lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0)
            p->target = (pid_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        return 1;
    }
    lua_pushnil(L);
    if (r == QSL_PROC_EXITED) {
        push_exit_desc(L, p);
        push_err_tail(L, p);
        const char *tail = lua_tostring(L, -1);
        lua_pushfstring(L, "process %d exited before its %s line (%s)%s%s", (int)p->pid, word,
                        lua_tostring(L, -2), *tail ? "; its stderr: " : "", tail);
        lua_replace(L, -3);
        lua_pop(L, 1);
    } else {
        lua_pushfstring(L, "process %d printed no %s line within %d ms", (int)p->pid, word,
                        (int)timeout);
    }
    return 2;
}

static int l_ready(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    return wait_line(L, p, "ready", luaL_optinteger(L, 2, 5000));
}

static int l_line(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    const char *word = luaL_checkstring(L, 2);
    luaL_argcheck(L, *word && !strchr(word, ' ') && !strchr(word, '\n'), 2, "a single word");
    return wait_line(L, p, word, luaL_optinteger(L, 3, 5000));
}

static int l_wait(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    lua_Integer timeout = luaL_optinteger(L, 2, -1);
    if (p->pid < 0)
        return luaL_error(L, "wait: process was never started");
    if (!p->reaped && wait_for(L, p, (double)timeout, NULL) != QSL_PROC_EXITED) {
        lua_pushnil(L);
        lua_pushfstring(L, "process %d still running after %d ms", (int)p->pid, (int)timeout);
        return 2;
    }
    push_status(L, p);
    return 1;
}

static int l_stop(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    lua_Integer grace = luaL_optinteger(L, 2, 2000);
    if (p->pid < 0)
        return luaL_error(L, "stop: process was never started");
    qsl_proc_stop(p, (double)grace, interrupted, NULL);
    push_status(L, p);
    qsl_host_check_interrupt(L);
    return 1;
}

static int l_signal(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    static const char *const names[] = {"TERM", "KILL", "INT", "HUP", "USR1", "USR2", "STOP",
                                        "CONT", NULL};
    static const int sigs[] = {SIGTERM, SIGKILL, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGSTOP,
                               SIGCONT};
    int sig = sigs[luaL_checkoption(L, 2, "TERM", names)];
    if (p->reaped)
        return luaL_error(L, "signal: process %d has already been reaped", (int)p->pid);
    return luaL_fileresult(L, kill(p->target, sig) == 0, NULL);
}

static int l_result(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    qsl_proc_read(p);
    size_t len;
    const char *last = qsl_proc_last_line(p, "result", &len);
    if (!last) {
        lua_pushnil(L);
        lua_pushfstring(L, "process %d printed no result line", (int)p->pid);
        return 2;
    }
    if (!push_fields(L, last, len)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

static int l_output(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    qsl_proc_read(p);
    lua_pushlstring(L, p->out ? p->out : "", p->out_len);
    return 1;
}

static int l_errors(lua_State *L)
{
    push_err_tail(L, check_proc(L));
    return 1;
}

static int l_running(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    lua_pushboolean(L, p->pid > 0 && !qsl_proc_try_reap(p));
    return 1;
}

static int l_index(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "pid") == 0)
        lua_pushinteger(L, p->pid);
    else if (strcmp(k, "target") == 0)
        lua_pushinteger(L, p->target);
    else {
        luaL_getmetafield(L, 1, "methods");
        lua_getfield(L, -1, k);
    }
    return 1;
}

/* p:runs_on(where): the child is a client for a process on another machine (ssh): its own
 * /proc says nothing of that process, so p:sample() refuses from then on. */
static int l_runs_on(lua_State *L)
{
    check_proc(L);
    luaL_checkstring(L, 2);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, 1);
    return 0;
}

/* p:adopt_child() -> the pid stop() and signals now reach: a wrapped child's own child
 * (its wrapper started it), for a program that prints no ready line; nil while the
 * wrapper has none yet; an error when p is not wrapped or has several. */
static int l_adopt_child(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    int rc = qsl_proc_adopt_child(p);
    if (rc == -EINVAL)
        return luaL_error(L, "adopt_child: process %d is not wrapped", (int)p->pid);
    if (rc == -EBUSY)
        return luaL_error(L, "adopt_child: the wrapper %d has several children", (int)p->pid);
    if (rc < 0)
        return qsl_push_failure(L, rc, "adopt_child: /proc");
    if (rc == 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, rc);
    return 1;
}

/* p:sample() -> qsl.measure.sample of the process (its target, when wrapped): CPU, switches,
 * faults, memory and descriptors from /proc. */
static int l_sample(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    if (lua_getiuservalue(L, 1, 1) == LUA_TSTRING)
        return luaL_error(L, "process %d runs on %s: its CPU cannot be sampled here", (int)p->pid,
                          lua_tostring(L, -1));
    lua_getglobal(L, "require");
    lua_pushliteral(L, "qsl.measure");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "sample");
    lua_pushinteger(L, p->pid);
    lua_call(L, 1, 1);
    return 1;
}

/* p:close_stdin(): the end of the child's input (spawned with stdin = "pipe"). */
static int l_close_stdin(lua_State *L)
{
    qsl_proc_close_stdin(check_proc(L));
    return 0;
}

static int proc_gc(lua_State *L)
{
    qsl_proc_close(luaL_checkudata(L, 1, PROC_META));
    return 0;
}

static int proc_tostring(lua_State *L)
{
    struct qsl_proc *p = check_proc(L);
    lua_pushfstring(L, "qsl.proc %d (%s)", (int)p->pid, p->reaped ? "reaped" : "running");
    return 1;
}

static const luaL_Reg methods[] = {
    {"ready", l_ready},   {"line", l_line},     {"wait", l_wait},     {"stop", l_stop},       {"signal", l_signal},
    {"result", l_result}, {"output", l_output}, {"errors", l_errors},   {"running", l_running},
    {"close_stdin", l_close_stdin}, {"sample", l_sample}, {"runs_on", l_runs_on},
    {"adopt_child", l_adopt_child}, {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__index", l_index}, {"__gc", proc_gc}, {"__close", proc_gc}, {"__tostring", proc_tostring},
    {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"spawn", l_spawn},
    {NULL, NULL},
};

int luaopen_qsl_proc(lua_State *L)
{
    qsl_host_class(L, PROC_META, metamethods, methods, "methods");
    luaL_newlib(L, funcs);
    return 1;
}
