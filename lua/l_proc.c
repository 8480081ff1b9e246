/*
 * l_proc.c - qsl.proc: child processes a scenario starts, watches and stops.
 *
 * Every child runs in a process group of its own (Ctrl-C reaches qsl-run
 * only, which then stops its children in order) with PR_SET_PDEATHSIG, so it
 * dies with qsl-run even if qsl-run is killed outright. A child may be
 * wrapped (strace -f -c ...): then the process to signal is the wrapped
 * program, whose pid its ready line reports, never the wrapper, because
 * strace writes its summary only when its tracee exits on its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

#define PROC_META "qsl.proc"
#define OUT_MAX (1u << 20)      /* stdout kept for ready/result lines and output() */
#define ERR_TAIL 8192

struct proc {
    pid_t pid;                  /* our direct child (the wrapper, when wrapped) */
    pid_t target;               /* what stop() signals */
    int wrapped;
    int pidfd;                  /* -1 when the kernel has no pidfd_open */
    int out_fd;                 /* read end of the child's stdout, -1 at EOF */
    int err_fd;                 /* unlinked file holding the child's stderr */
    char *out;
    size_t out_len, out_cap, scan;
    int reaped, killed;
    int status;
    struct rusage ru;
    struct proc *next;          /* registry of children not yet reaped */
};

static struct proc *live;

static void registry_remove(struct proc *p)
{
    for (struct proc **pp = &live; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ reaping */

static void reap(struct proc *p, int status, const struct rusage *ru)
{
    p->reaped = 1;
    p->status = status;
    p->ru = *ru;
    registry_remove(p);
    if (p->pidfd >= 0) {
        close(p->pidfd);
        p->pidfd = -1;
    }
}

/* Reap without blocking; 1 when the child is (now) reaped. */
static int try_reap(struct proc *p)
{
    if (p->reaped)
        return 1;
    int status;
    struct rusage ru;
    pid_t r = wait4(p->pid, &status, WNOHANG, &ru);
    if (r == p->pid) {
        reap(p, status, &ru);
        return 1;
    }
    return 0;
}

static void kill_all_of(struct proc *p)
{
    if (p->reaped)
        return;
    kill(p->target, SIGKILL);
    kill(-p->pid, SIGKILL);     /* the child's process group: wrapper, tracee, helpers */
    kill(p->pid, SIGKILL);
    p->killed = 1;
}

static void reap_blocking(struct proc *p)
{
    int status;
    struct rusage ru;
    while (!p->reaped) {
        pid_t r = wait4(p->pid, &status, 0, &ru);
        if (r == p->pid)
            reap(p, status, &ru);
        else if (r < 0 && errno != EINTR) {
            p->reaped = 1;      /* not our child any more: nothing left to wait for */
            registry_remove(p);
        }
    }
}

void qsl_proc_reap_all(void)
{
    while (live) {
        struct proc *p = live;
        kill_all_of(p);
        reap_blocking(p);
    }
}

/* ------------------------------------------------------------------ output */

static void read_out(struct proc *p)
{
    while (p->out_fd >= 0) {
        if (p->out_cap - p->out_len < 4096) {
            size_t cap = p->out_cap ? p->out_cap * 2 : 8192;
            if (cap > OUT_MAX + 4096)
                cap = OUT_MAX + 4096;
            char *o = cap > p->out_cap ? realloc(p->out, cap) : NULL;
            if (!o) {
                /* full: keep the stream flowing, drop what does not fit */
                char sink[4096];
                ssize_t n = read(p->out_fd, sink, sizeof sink);
                if (n > 0)
                    continue;
                if (n == 0 || errno != EINTR) {
                    if (n == 0 || errno != EAGAIN) {
                        close(p->out_fd);
                        p->out_fd = -1;
                    }
                    return;
                }
                continue;
            }
            p->out = o;
            p->out_cap = cap;
        }
        ssize_t n = read(p->out_fd, p->out + p->out_len, p->out_cap - p->out_len - 1);
        if (n > 0) {
            p->out_len += (size_t)n;
            p->out[p->out_len] = '\0';
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(p->out_fd);
            p->out_fd = -1;
        } else if (errno == EAGAIN) {
            return;
        }
    }
}

/* The next complete line starting with word, from p->scan on; NULL if none yet. */
static const char *find_line(struct proc *p, const char *word, size_t *len)
{
    size_t wl = strlen(word);
    while (p->scan < p->out_len) {
        char *line = p->out + p->scan;
        char *nl = memchr(line, '\n', p->out_len - p->scan);
        if (!nl)
            return NULL;
        p->scan = (size_t)(nl - p->out) + 1;
        if (strncmp(line, word, wl) == 0 && (line[wl] == ' ' || line + wl == nl)) {
            *len = (size_t)(nl - line);
            return line;
        }
    }
    return NULL;
}

/*
 * "word key=value key=value" into a table; numbers become numbers. Returns 1,
 * or 0 after pushing an error message naming the bad field.
 */
static int push_fields(lua_State *L, const char *line, size_t len)
{
    lua_newtable(L);
    const char *p = memchr(line, ' ', len), *end = line + len;
    while (p && p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *e = p;
        while (e < end && *e != ' ')
            e++;
        if (e == p)
            break;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        int ok = eq && eq > p;
        for (const char *k = p; ok && k < eq; k++)
            ok = (*k >= 'a' && *k <= 'z') || *k == '_' || (k > p && *k >= '0' && *k <= '9');
        if (!ok) {
            lua_pop(L, 1);
            lua_pushfstring(L, "unparsable field '%s' in line '%s'",
                            lua_pushlstring(L, p, (size_t)(e - p)),
                            lua_pushlstring(L, line, len));
            lua_replace(L, -3);
            lua_pop(L, 1);
            return 0;
        }
        lua_pushlstring(L, p, (size_t)(eq - p));
        lua_pushlstring(L, eq + 1, (size_t)(e - eq - 1));
        if (lua_stringtonumber(L, lua_tostring(L, -1)) != 0)
            lua_remove(L, -2);
        lua_settable(L, -3);
        p = e;
    }
    return 1;
}

static void push_err_tail(lua_State *L, struct proc *p)
{
    char buf[ERR_TAIL + 1];
    off_t size = lseek(p->err_fd, 0, SEEK_END);
    off_t from = size > ERR_TAIL ? size - ERR_TAIL : 0;
    ssize_t n = pread(p->err_fd, buf, ERR_TAIL, from);
    n = n < 0 ? 0 : n;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    lua_pushlstring(L, buf, (size_t)n);
}

/* ------------------------------------------------------------------ waiting */

/*
 * Wait until the child has exited (then reap it) or timeout_ms passes
 * (-1: no limit), reading its stdout meanwhile. If stop_at_line is given,
 * return early once such a line is complete. Returns 1 when the child is
 * reaped, 2 when the line arrived, 0 on timeout.
 */
static int wait_child(lua_State *L, struct proc *p, double timeout_ms, const char *stop_at_line)
{
    double deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        read_out(p);
        if (stop_at_line) {
            size_t save = p->scan, len;
            if (find_line(p, stop_at_line, &len)) {
                p->scan = save;
                return 2;
            }
            p->scan = save;
        }
        if (try_reap(p)) {
            read_out(p);
            return 1;
        }
        qsl_host_check_interrupt(L);
        double left = deadline < 0 ? 50 : deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd fds[2];
        int n = 0;
        if (p->out_fd >= 0)
            fds[n++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
        if (p->pidfd >= 0)
            fds[n++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
        int slice = left > 50 ? 50 : (int)left + 1;
        if (p->pidfd < 0 && slice > 5)
            slice = 5;          /* no pidfd: poll for the exit in short steps */
        if (poll(fds, (nfds_t)n, slice) < 0 && errno != EINTR)
            return 0;
    }
}

static void push_status(lua_State *L, const struct proc *p)
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

static void push_exit_desc(lua_State *L, const struct proc *p)
{
    if (WIFEXITED(p->status))
        lua_pushfstring(L, "exit code %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        lua_pushfstring(L, "killed by SIG%s", sigabbrev_np(WTERMSIG(p->status)));
    else
        lua_pushstring(L, "ended");
}

/* ------------------------------------------------------------------ spawning */

enum stage { STAGE_SETUP = 1, STAGE_NETNS, STAGE_LOOPBACK, STAGE_RLIMIT, STAGE_CPU, STAGE_EXEC };

static const char *const stage_names[] = {"", "set-up", "network namespace",
                                          "loopback in namespace", "RLIMIT_NOFILE",
                                          "CPU affinity", "exec"};

struct spawn_opts {
    const char **argv;
    int netns;
    long nofile;
    int cpu;
    const char **env;           /* "K=V" strings to add */
};

static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
    return rc;
}

static void child_fail(int report, enum stage st)
{
    int msg[2] = {(int)st, errno};
    ssize_t ignored = write(report, msg, sizeof msg);
    (void)ignored;
    _exit(127);
}

/* In the child, between fork and exec: only async-signal-safe work. */
static void child(const struct spawn_opts *o, int out_w, int err_fd, int report, pid_t parent)
{
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);             /* the parent is already gone */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_fd, 2) < 0)
        child_fail(report, STAGE_SETUP);
    /* nothing else crosses exec: descriptors qsl-run inherited without
     * O_CLOEXEC would otherwise leak into every child (and into its fd count) */
    if (report != 3) {
        if (dup2(report, 3) < 0)
            child_fail(report, STAGE_SETUP);
        report = 3;
    }
    fcntl(report, F_SETFD, FD_CLOEXEC);     /* open until exec, to report a failure */
    close_range(4, ~0u, 0);
    if (o->netns && unshare(CLONE_NEWNET) != 0)
        child_fail(report, STAGE_NETNS);
    if (o->netns && loopback_up() != 0)
        child_fail(report, STAGE_LOOPBACK);
    if (o->nofile > 0) {
        struct rlimit rl = {(rlim_t)o->nofile, (rlim_t)o->nofile};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            child_fail(report, STAGE_RLIMIT);
    }
    if (o->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o->cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            child_fail(report, STAGE_CPU);
    }
    /* a role run by a scenario dies with it, even under a wrapper such as strace
     * (its parent is then the wrapper): roles.c arms PR_SET_PDEATHSIG on seeing this */
    static char die_with_parent[] = "QSL_PDEATHSIG=1";
    putenv(die_with_parent);
    /* exec's prototypes predate const; the strings are never written */
    for (const char **e = o->env; e && *e; e++)
        putenv((char *)(uintptr_t)*e);
    execvp(o->argv[0], (char *const *)(uintptr_t)o->argv);
    child_fail(report, STAGE_EXEC);
}

static int proc_gc(lua_State *L);

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

static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    enum { MAXARGS = 256 };
    const char *argv[MAXARGS + 1], *env[65];
    int argc = 0, nenv = 0;
    struct spawn_opts o = {.cpu = -1};

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
    o.cpu = (int)qsl_field_integer(L, 1, "cpu", 0, -1, -1, CPU_SETSIZE - 1);
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
    o.argv = argv;
    o.env = env;

    /* the handle exists, closed, before any resource is taken */
    struct proc *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    p->pid = -1;
    p->reaped = 1;
    p->pidfd = p->out_fd = p->err_fd = -1;
    luaL_setmetatable(L, PROC_META);

    int outp[2], rep[2];
    p->err_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (p->err_fd < 0)
        return luaL_fileresult(L, 0, "stderr file");
    if (pipe2(outp, O_CLOEXEC) != 0)
        return luaL_fileresult(L, 0, "pipe");
    if (pipe2(rep, O_CLOEXEC) != 0) {
        close(outp[0]);
        close(outp[1]);
        return luaL_fileresult(L, 0, "pipe");
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child(&o, outp[1], p->err_fd, rep[1], parent);
    int fork_errno = errno;
    close(outp[1]);
    close(rep[1]);
    if (pid < 0) {
        close(outp[0]);
        close(rep[0]);
        errno = fork_errno;
        return luaL_fileresult(L, 0, "fork");
    }
    p->pid = p->target = pid;
    p->wrapped = wrap;
    p->reaped = 0;
    p->out_fd = outp[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    p->next = live;
    live = p;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    p->pidfd = pfd >= 0 ? pfd : -1;

    int msg[2];
    ssize_t n;
    do
        n = read(rep[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(rep[0]);
    if (n == (ssize_t)sizeof msg) {     /* the child failed before exec */
        reap_blocking(p);
        lua_pushnil(L);
        lua_pushfstring(L, "spawn %s: %s: %s", argv[0], stage_names[msg[0]], strerror(msg[1]));
        lua_pushinteger(L, msg[1]);
        return 3;
    }
    return 1;
}

/* ------------------------------------------------------------------ methods */

static struct proc *check_proc(lua_State *L)
{
    return luaL_checkudata(L, 1, PROC_META);
}

/*
 * The first line starting with word (after those already taken), as fields;
 * waits up to timeout_ms. nil, message when the child exits first or time
 * runs out. A wrapped child's ready line names the pid to signal.
 */
static int wait_line(lua_State *L, struct proc *p, const char *word, lua_Integer timeout)
{
    size_t len;
    const char *line;
    int r = p->reaped ? 1 : wait_child(L, p, (double)timeout, word);
    if ((line = find_line(p, word, &len)) != NULL) {
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
    if (r == 1) {
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
    struct proc *p = check_proc(L);
    return wait_line(L, p, "ready", luaL_optinteger(L, 2, 5000));
}

static int l_line(lua_State *L)
{
    struct proc *p = check_proc(L);
    const char *word = luaL_checkstring(L, 2);
    luaL_argcheck(L, *word && !strchr(word, ' ') && !strchr(word, '\n'), 2, "a single word");
    return wait_line(L, p, word, luaL_optinteger(L, 3, 5000));
}

static int l_wait(lua_State *L)
{
    struct proc *p = check_proc(L);
    lua_Integer timeout = luaL_optinteger(L, 2, -1);
    if (p->pid < 0)
        return luaL_error(L, "wait: process was never started");
    if (!p->reaped && wait_child(L, p, (double)timeout, NULL) == 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "process %d still running after %d ms", (int)p->pid, (int)timeout);
        return 2;
    }
    push_status(L, p);
    return 1;
}

static int l_stop(lua_State *L)
{
    struct proc *p = check_proc(L);
    lua_Integer grace = luaL_optinteger(L, 2, 2000);
    if (p->pid < 0)
        return luaL_error(L, "stop: process was never started");
    if (!p->reaped) {
        kill(p->target, SIGTERM);
        if (wait_child(L, p, (double)grace, NULL) == 0) {
            kill_all_of(p);
            wait_child(L, p, 5000, NULL);
            reap_blocking(p);
        }
    }
    push_status(L, p);
    return 1;
}

static int l_signal(lua_State *L)
{
    struct proc *p = check_proc(L);
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
    struct proc *p = check_proc(L);
    read_out(p);
    const char *last = NULL, *line;
    size_t last_len = 0, len, save = p->scan;
    p->scan = 0;
    while ((line = find_line(p, "result", &len)) != NULL) {
        last = line;
        last_len = len;
    }
    p->scan = save;
    if (!last) {
        lua_pushnil(L);
        lua_pushfstring(L, "process %d printed no result line", (int)p->pid);
        return 2;
    }
    if (!push_fields(L, last, last_len)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

static int l_output(lua_State *L)
{
    struct proc *p = check_proc(L);
    read_out(p);
    lua_pushlstring(L, p->out ? p->out : "", p->out_len);
    return 1;
}

static int l_errors(lua_State *L)
{
    struct proc *p = check_proc(L);
    if (p->err_fd < 0)
        lua_pushliteral(L, "");
    else
        push_err_tail(L, p);
    return 1;
}

static int l_running(lua_State *L)
{
    struct proc *p = check_proc(L);
    lua_pushboolean(L, p->pid > 0 && !try_reap(p));
    return 1;
}

static int l_index(lua_State *L)
{
    struct proc *p = check_proc(L);
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

static int proc_gc(lua_State *L)
{
    struct proc *p = luaL_checkudata(L, 1, PROC_META);
    if (!p->reaped) {
        kill_all_of(p);
        reap_blocking(p);
    }
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    if (p->pidfd >= 0)
        close(p->pidfd);
    p->out_fd = p->err_fd = p->pidfd = -1;
    free(p->out);
    p->out = NULL;
    p->out_len = p->out_cap = 0;
    return 0;
}

static int proc_tostring(lua_State *L)
{
    struct proc *p = check_proc(L);
    lua_pushfstring(L, "qsl.proc %d (%s)", (int)p->pid, p->reaped ? "reaped" : "running");
    return 1;
}

static const luaL_Reg methods[] = {
    {"ready", l_ready},   {"line", l_line},     {"wait", l_wait},     {"stop", l_stop},       {"signal", l_signal},
    {"result", l_result}, {"output", l_output}, {"errors", l_errors},   {"running", l_running},
    {NULL, NULL},
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
    if (luaL_newmetatable(L, PROC_META)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "methods");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
