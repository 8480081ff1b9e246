/* Helpers for the binding suites: a fresh qsl Lua state per test, run snippets. */
#ifndef QSL_LUA_TEST_H
#define QSL_LUA_TEST_H

#include <check.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

extern lua_State *L;

void lua_setup(void);
void lua_teardown(void);
/* Run Lua code that must succeed (its asserts are the test). */
#define run_ok(code) run_ok_at(__FILE__, __LINE__, code)
void run_ok_at(const char *file, int line, const char *code);
/* Run Lua code that must fail; returns the error as text (exit errors: "exit=N reason"). */
const char *run_err(const char *code);

Suite *proc_suite(void);

#endif
