/*
 * check_main.c - what only C can check of the Lua side: processes, signals
 * and exit codes around qsl-run. The Lua tests proper are tests/lua/test_*.lua,
 * run by qsl-run through tests/lua/run.lua.
 * Run from the repository root (lua/ is found there); QSL_RUN names the
 * qsl-run binary under test.
 */
#include <stdio.h>
#include <string.h>

#include "lua_test.h"
#include "proc.h"

lua_State *L;

void lua_setup(void)
{
    L = qsl_host_newstate("lua");
    ck_assert_ptr_nonnull(L);
    const char *run = getenv("QSL_RUN");
    lua_pushstring(L, run ? run : "build/qsl-run");
    lua_setglobal(L, "QSL_RUN");
}

void lua_teardown(void)
{
    lua_close(L);
    qsl_proc_reap_all();
}

void run_ok_at(const char *file, int line, const char *code)
{
    if (luaL_loadbuffer(L, code, strlen(code), "=test") != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (!msg && lua_istable(L, -1)) {
            lua_getfield(L, -1, "reason");
            msg = lua_tostring(L, -1);
        }
        ck_abort_msg("%s:%d: Lua failed: %s", file, line, msg ? msg : "(non-string error)");
    }
}

const char *run_err(const char *code)
{
    if (luaL_loadbuffer(L, code, strlen(code), "=test") != LUA_OK)
        return lua_tostring(L, -1);
    if (lua_pcall(L, 0, 0, 0) == LUA_OK)
        ck_abort_msg("expected an error from: %s", code);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "exit");
        lua_getfield(L, -2, "reason");
        return lua_pushfstring(L, "exit=%d %s", (int)lua_tointeger(L, -2), lua_tostring(L, -1));
    }
    return lua_tostring(L, -1);
}

int main(int argc, char **argv)
{
    Suite *(*all[])(void) = {proc_suite};
    static const char *names[] = {"proc"};
    SRunner *sr = NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (argc > 1 && strcmp(argv[1], names[i]) != 0)
            continue;
        if (!sr)
            sr = srunner_create(all[i]());
        else
            srunner_add_suite(sr, all[i]());
    }
    if (!sr)
        return 2;
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
