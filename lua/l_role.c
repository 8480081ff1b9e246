/*
 * l_role.c - qsl.role: the role declarations of core/roles, as Lua tables,
 * so scenarios check what a role prints against what it declares.
 *   names() -> {"flow", "publish", ...}
 *   describe(name) -> {name=, help=, params={{name=, kind=, default=, min=, max=,
 *                      unit=, help=, words=}...}, ready={{name=, type=, unit=, help=}...},
 *                      result={...}} | nil, message
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "role.h"

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v ? v : "");
    lua_setfield(L, -2, k);
}

static void push_fields(lua_State *L, const struct qsl_role_field *f)
{
    static const char *const types[] = {"integer", "number", "text"};
    lua_newtable(L);
    for (int i = 0; f[i].name; i++) {
        lua_createtable(L, 0, 4);
        set_str(L, "name", f[i].name);
        set_str(L, "type", types[f[i].type]);
        set_str(L, "unit", f[i].unit);
        set_str(L, "help", f[i].help);
        lua_rawseti(L, -2, i + 1);
    }
}

static void push_param(lua_State *L, const struct qsl_role_param *p)
{
    static const char *const kinds[] = {"integer", "address", "word", "text"};
    lua_createtable(L, 0, 8);
    set_str(L, "name", p->name);
    set_str(L, "kind", kinds[p->kind]);
    set_str(L, "unit", p->unit);
    set_str(L, "help", p->help);
    if (p->kind == QSL_ROLE_ADDR || p->kind == QSL_ROLE_STR) {
        set_str(L, "default", p->def_addr);
    } else if (p->kind == QSL_ROLE_WORD) {
        set_str(L, "default", p->words[p->def]);
        lua_newtable(L);
        for (int w = 0; p->words[w]; w++) {
            lua_pushstring(L, p->words[w]);
            lua_rawseti(L, -2, w + 1);
        }
        lua_setfield(L, -2, "words");
    } else {
        /* ranges past Lua's integers (UINT64_MAX) are shown as its largest */
        lua_Integer hi = p->max > (uint64_t)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)p->max;
        lua_pushinteger(L, (lua_Integer)p->def);
        lua_setfield(L, -2, "default");
        lua_pushinteger(L, (lua_Integer)p->min);
        lua_setfield(L, -2, "min");
        lua_pushinteger(L, hi);
        lua_setfield(L, -2, "max");
    }
}

static int l_describe(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const struct qsl_role *r = qsl_role_find(name);
    if (!r) {
        lua_pushnil(L);
        lua_pushfstring(L, "no role named '%s'", name);
        return 2;
    }
    lua_createtable(L, 0, 5);
    set_str(L, "name", r->name);
    set_str(L, "help", r->help);
    lua_newtable(L);
    for (int i = 0; r->params[i].name; i++) {
        push_param(L, &r->params[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "params");
    push_fields(L, r->ready);
    lua_setfield(L, -2, "ready");
    push_fields(L, r->result);
    lua_setfield(L, -2, "result");
    return 1;
}

static int l_names(lua_State *L)
{
    lua_newtable(L);
    for (int i = 0; qsl_roles[i]; i++) {
        lua_pushstring(L, qsl_roles[i]->name);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

int luaopen_qsl_role(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"describe", l_describe}, {"names", l_names}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
