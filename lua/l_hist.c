/*
 * l_hist.c - qsl.hist: latency histograms (core/hist.h) from Lua.
 *   h = qsl.hist.new(); h:record(ns [, n]); h:percentile(99.9); h:summary()
 */
#include <lauxlib.h>
#include <lua.h>

#include "hist.h"
#include "host.h"

#define HIST_META "qsl.hist"

static struct qsl_hist *check_hist(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, HIST_META);
}

static int l_new(lua_State *L)
{
    struct qsl_hist *h = lua_newuserdatauv(L, sizeof *h, 0);
    qsl_hist_init(h);
    luaL_setmetatable(L, HIST_META);
    return 1;
}

static int l_record(lua_State *L)
{
    struct qsl_hist *h = check_hist(L, 1);
    lua_Integer v = luaL_checkinteger(L, 2), n = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, v >= 0, 2, "a latency cannot be negative");
    luaL_argcheck(L, n >= 0, 3, "count cannot be negative");
    if (qsl_hist_record_n(h, (uint64_t)v, (uint64_t)n) != 0)
        return luaL_error(L, "histogram: recording %I more would pass its largest count (%I)",
                          n, (lua_Integer)QSL_HIST_COUNT_MAX);
    return 0;
}

static int l_percentile(lua_State *L)
{
    struct qsl_hist *h = check_hist(L, 1);
    lua_Number p = luaL_checknumber(L, 2);
    luaL_argcheck(L, p >= 0 && p <= 100, 2, "percentile out of range 0..100");
    if (h->count == 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)qsl_hist_percentile(h, p));
    return 1;
}

static int l_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_hist(L, 1)->count);
    return 1;
}

static int l_merge(lua_State *L)
{
    if (qsl_hist_merge(check_hist(L, 1), check_hist(L, 2)) != 0)
        return luaL_error(L, "histogram: the merged count would pass its largest (%I)",
                          (lua_Integer)QSL_HIST_COUNT_MAX);
    return 0;
}

static int l_summary(lua_State *L)
{
    struct qsl_hist *h = check_hist(L, 1);
    lua_newtable(L);
    lua_pushinteger(L, (lua_Integer)h->count);
    lua_setfield(L, -2, "count");
    if (h->count == 0)
        return 1;
    lua_pushinteger(L, (lua_Integer)h->min);
    lua_setfield(L, -2, "min");
    lua_pushinteger(L, (lua_Integer)h->max);
    lua_setfield(L, -2, "max");
    lua_pushnumber(L, qsl_hist_mean(h));
    lua_setfield(L, -2, "mean");
    static const struct { const char *k; double p; } ps[] = {
        {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99_9", 99.9}, {"p99_99", 99.99},
    };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        lua_pushinteger(L, (lua_Integer)qsl_hist_percentile(h, ps[i].p));
        lua_setfield(L, -2, ps[i].k);
    }
    return 1;
}

int luaopen_qsl_hist(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"record", l_record}, {"percentile", l_percentile}, {"count", l_count},
        {"merge", l_merge},   {"summary", l_summary},       {NULL, NULL},
    };
    qsl_host_class(L, HIST_META, NULL, methods, "__index");
    static const luaL_Reg funcs[] = {{"new", l_new}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
