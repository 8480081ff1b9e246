/*
 * l_fs.c - qsl.fs: what an artifact writer needs from the file system that
 * Lua's io and os do not give.
 *   pid() -> this process's pid (unique temporary names)
 *   lock(path) -> a lock handle: flock(LOCK_EX) on path (created 0600), held
 *                 until :unlock(), close or collection; nil, message, errno
 *   mkdir(path) -> true (also when it exists as a directory), or nil, message, errno
 *   writable(dir) -> true, or nil, message, errno (access(W_OK|X_OK))
 *   run_dir() -> this run's directory (/tmp/qsl-run.XXXXXX), removed with its contents
 *                when qsl-run ends, SIGKILL included; nil, message, errno
 *   remove_at_exit(path [, {rmdir = true}]) -> true: path is removed when qsl-run ends
 *                (rmdir: only if it is an empty directory); nil, message, errno
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "proc.h"

#define LOCK_META "qsl.fs.lock"

struct lock {
    int fd;                     /* -1: not held */
};

static int l_pid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

static int unlock(lua_State *L)
{
    struct lock *k = luaL_checkudata(L, 1, LOCK_META);
    if (k->fd >= 0) {
        close(k->fd);           /* closing the descriptor releases the flock */
        k->fd = -1;
    }
    return 0;
}

static int l_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct lock *k = lua_newuserdatauv(L, sizeof *k, 0);
    k->fd = -1;                 /* created closed: __gc is safe whatever fails next */
    luaL_setmetatable(L, LOCK_META);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return luaL_fileresult(L, 0, path);
    k->fd = fd;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 1;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return luaL_fileresult(L, 0, path);
        /* another run holds it for the few renames of its artifact */
        qsl_host_check_interrupt(L);
        usleep(1000);
    }
}

static int l_mkdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (mkdir(path, 0777) != 0 && !(errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        if (errno == EEXIST)
            errno = ENOTDIR;
        return luaL_fileresult(L, 0, path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_writable(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    return luaL_fileresult(L, access(path, W_OK | X_OK) == 0, path);
}

static int l_run_dir(lua_State *L)
{
    const char *d = qsl_proc_run_dir();
    if (!d)
        return luaL_fileresult(L, 0, "/tmp/qsl-run.XXXXXX");
    lua_pushstring(L, d);
    return 1;
}

static int l_remove_at_exit(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int only = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        static const char *const known[] = {"rmdir", NULL};
        qsl_field_known(L, 2, known);
        lua_getfield(L, 2, "rmdir");
        only = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    luaL_argcheck(L, *path && !strchr(path, '\n'), 1, "a path, without a newline");
    int rc = qsl_proc_remove_at_exit(path, only);
    if (rc != 0) {
        errno = -rc;
        return luaL_fileresult(L, 0, path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_qsl_fs(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", unlock}, {"__close", unlock}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"unlock", unlock}, {NULL, NULL}};
    qsl_host_class(L, LOCK_META, meta, methods, "__index");
    static const luaL_Reg funcs[] = {{"pid", l_pid}, {"lock", l_lock}, {"mkdir", l_mkdir},
                                     {"writable", l_writable}, {"run_dir", l_run_dir},
                                     {"remove_at_exit", l_remove_at_exit}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
