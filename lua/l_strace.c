/*
 * l_strace.c - qsl.strace: parse an `strace -c` summary.
 *   parse(text) -> {rows = {{syscall=, calls=, errors=, seconds=, usecs_per_call=,
 *                   percent=}, ...}, total = {...}}  | nil, message
 *   parse_file(path) -> the same, or nil, message, errno when unreadable
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "procfs.h"
#include "strace.h"

#define MAX_ROWS 1024

static void push_row(lua_State *L, const struct qsl_strace_row *r)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, r->syscall);
    lua_setfield(L, -2, "syscall");
    lua_pushinteger(L, (lua_Integer)r->calls);
    lua_setfield(L, -2, "calls");
    lua_pushinteger(L, (lua_Integer)r->errors);
    lua_setfield(L, -2, "errors");
    if (r->seconds >= 0) {
        lua_pushnumber(L, r->seconds);
        lua_setfield(L, -2, "seconds");
    }
    if (r->usecs_per_call >= 0) {
        lua_pushinteger(L, r->usecs_per_call);
        lua_setfield(L, -2, "usecs_per_call");
    }
    if (r->percent >= 0) {
        lua_pushnumber(L, r->percent);
        lua_setfield(L, -2, "percent");
    }
}

static int parse_text(lua_State *L, const char *text, size_t len)
{
    struct qsl_strace_row *rows = malloc(MAX_ROWS * sizeof *rows);
    if (!rows)
        return luaL_error(L, "out of memory");
    struct qsl_strace_summary s = {.rows = rows, .cap = MAX_ROWS};
    enum qsl_strace_err e = qsl_strace_parse(text, len, &s);
    if (e != QSL_STRACE_OK) {
        free(rows);
        lua_pushnil(L);
        lua_pushfstring(L, "strace summary: %s (line %d)", qsl_strace_err_name(e), (int)s.bad_line);
        return 2;
    }
    lua_createtable(L, 0, 2);
    lua_createtable(L, (int)s.n, 0);
    for (size_t i = 0; i < s.n; i++) {
        push_row(L, &rows[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "rows");
    lua_createtable(L, 0, (int)s.n);        /* calls by syscall name: calls.accept4 */
    for (size_t i = 0; i < s.n; i++) {
        lua_pushinteger(L, (lua_Integer)rows[i].calls);
        lua_setfield(L, -2, rows[i].syscall);
    }
    lua_setfield(L, -2, "calls");
    push_row(L, &s.total);
    lua_setfield(L, -2, "total");
    free(rows);
    return 1;
}

static int l_parse(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    return parse_text(L, text, len);
}

static int l_parse_file(lua_State *L)
{
    if (qsl_host_push_file(L, luaL_checkstring(L, 1)) != 1)
        return 3;
    size_t n;
    const char *text = lua_tolstring(L, -1, &n);
    return parse_text(L, text, n);
}

int luaopen_qsl_strace(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"parse", l_parse}, {"parse_file", l_parse_file}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
