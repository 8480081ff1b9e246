/*
 * l_clock.c - qsl.clock: monotonic nanoseconds, wall-clock time, interruptible sleep.
 */
#include <errno.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

static lua_Integer ns_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int l_now_ns(lua_State *L)
{
    lua_pushinteger(L, ns_of(CLOCK_MONOTONIC));
    return 1;
}

static int l_wall(lua_State *L)
{
    lua_pushnumber(L, (double)ns_of(CLOCK_REALTIME) / 1e9);
    return 1;
}

static int l_cpu_ns(lua_State *L)
{
    lua_pushinteger(L, ns_of(CLOCK_PROCESS_CPUTIME_ID));
    return 1;
}

/* sleep_ms(ms): sleeps in slices so Ctrl-C ends it within a tenth of a second. */
static int l_sleep_ms(lua_State *L)
{
    lua_Number ms = luaL_checknumber(L, 1);
    luaL_argcheck(L, ms >= 0 && ms <= 86400e3, 1, "milliseconds out of range 0..86400000");
    lua_Integer end = ns_of(CLOCK_MONOTONIC) + (lua_Integer)(ms * 1e6);
    for (;;) {
        qsl_host_check_interrupt(L);
        lua_Integer left = end - ns_of(CLOCK_MONOTONIC);
        if (left <= 0)
            return 0;
        if (left > 100000000)
            left = 100000000;
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
    }
}

int luaopen_qsl_clock(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"now_ns", l_now_ns}, {"wall", l_wall}, {"cpu_ns", l_cpu_ns}, {"sleep_ms", l_sleep_ms},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
