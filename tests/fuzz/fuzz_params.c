/* fuzz_params.c - scenario parameter parsing (lua/qsl/scenario.lua): any text
 * for any type is a value of that type or an error naming the parameter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

static lua_State *L;

static const char *const check =
    "local scenario = require 'qsl.scenario'\n"
    "local raw = ...\n"
    "local types = {\n"
    "  {name='i', type='integer', min=0, max=100, help='h'}, {name='n', type='number', help='h'},\n"
    "  {name='b', type='boolean', help='h'}, {name='e', type='enum', values={'a','b'}, help='h'},\n"
    "  {name='l', type='integer_list', help='h'}, {name='f', type='number_list', help='h'},\n"
    "  {name='s', type='string', help='h'}}\n"
    "for _, p in ipairs(types) do\n"
    "  local ok, v = pcall(scenario.convert, p, raw)\n"
    "  if ok then\n"
    "    local want = (p.type:match('list') and 'table') or (p.type == 'integer' and 'number')\n"
    "      or (p.type == 'enum' and 'string') or p.type\n"
    "    assert(type(v) == want, p.type)\n"
    "    if p.type == 'integer' then assert(math.type(v) == 'integer' and v >= 0 and v <= 100) end\n"
    "  else\n"
    "    assert(type(v) == 'table' and v.param == p.name and v.message:find(p.name, 1, true), p.type)\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (!L) {
        L = qsl_host_newstate(getenv("QSL_LUA_DIR") ? getenv("QSL_LUA_DIR") : "lua");
        if (luaL_loadstring(L, check) != LUA_OK)
            abort();
        lua_setglobal(L, "CHECK");
    }
    lua_getglobal(L, "CHECK");
    lua_pushlstring(L, (const char *)d, n);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_params: %s\n", lua_tostring(L, -1));
        abort();
    }
    return 0;
}
