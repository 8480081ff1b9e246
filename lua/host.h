/*
 * host.h - what the qsl-run host and the qsl.* bindings share.
 */
#ifndef QSL_HOST_H
#define QSL_HOST_H

#include <signal.h>

#include <lauxlib.h>
#include <lua.h>

/* Exit codes of qsl-run (docs/architecture.md). */
#define QSL_EXIT_OK 0
#define QSL_EXIT_ERROR 1
#define QSL_EXIT_SKIPPED 2
#define QSL_EXIT_REFUSED 3

/* Set by the SIGINT/SIGTERM handler: the signal number, 0 when none. */
extern volatile sig_atomic_t qsl_host_signal;

/* A new state with the standard libraries, package.path pointing at lua_dir,
 * and every qsl module preloaded. NULL when out of memory. */
lua_State *qsl_host_newstate(const char *lua_dir);

/* Install the interrupt handlers for L (the one state that runs a script). */
void qsl_host_catch_signals(lua_State *L);

/* Raise the interruption as a qsl exit error if a signal arrived; call from
 * any C loop that may wait. */
void qsl_host_check_interrupt(lua_State *L);

/* Raise an error object {exit = code, reason = msg}; never returns. */
int qsl_host_exit_error(lua_State *L, int code, const char *reason);

/* Push a whole file (at most 1 MiB) as a string and return 1, or push
 * nil, "path: reason", errno and return 3. */
int qsl_host_push_file(lua_State *L, const char *path);

/*
 * Fields of the table at argument t. A wrong type, a value out of lo..hi, a
 * word not in list, or a missing required field (required: def ignored) is
 * an argument error naming the field - never a silent zero.
 */
void qsl_field_known(lua_State *L, int t, const char *const *known);
lua_Integer qsl_field_integer(lua_State *L, int t, const char *k, int required, lua_Integer def,
                              lua_Integer lo, lua_Integer hi);
/* The index of the word in the NULL-terminated list; def NULL: required. */
int qsl_field_option(lua_State *L, int t, const char *k, const char *def, const char *const *list);
/* An integer argument in lo..hi (def when absent), or an argument error saying the range. */
lua_Integer qsl_opt_range(lua_State *L, int arg, lua_Integer def, lua_Integer lo, lua_Integer hi);

/*
 * Register a userdata class once per state: metatable `name` with the
 * metamethods meta (may be NULL) and the methods in a table stored under
 * methods_key ("__index" for plain classes; "methods" when __index is a
 * function that looks there). Leaves nothing on the stack.
 */
void qsl_host_class(lua_State *L, const char *name, const luaL_Reg *meta,
                    const luaL_Reg *methods, const char *methods_key);

/* t[k] = v, on the table at the top of the stack. */
void qsl_set_integer(lua_State *L, const char *k, lua_Integer v);
void qsl_set_string(lua_State *L, const char *k, const char *v);

/* An operating-system failure a scenario may handle, as Lua's io does: pushes nil,
 * "what: <strerror(-rc)>" ("what: unexpected contents" for a parser's -EINVAL) and
 * -rc; returns 3. */
int qsl_push_failure(lua_State *L, int rc, const char *what);

/* This executable's absolute path (for spawning roles). */
const char *qsl_host_exe(void);

/* The version and commit qsl-run was built from, for qsl.build (before qsl_host_newstate;
 * "unknown" when never set, as in the Check suites). */
void qsl_host_set_build(const char *version, const char *commit);

/* "Did you mean": feed candidates to a qsl_host_nearest started on the word
 * that was not found; best() is the nearest one when it is near enough to be
 * a typo (an edit distance of at most max(2, a third of the word)), else NULL. */
struct qsl_host_nearest {
    const char *word;
    char best[64];
    size_t d;
};
void qsl_host_nearest_init(struct qsl_host_nearest *n, const char *word);
void qsl_host_nearest_add(struct qsl_host_nearest *n, const char *candidate);
const char *qsl_host_nearest_best(const struct qsl_host_nearest *n);

int luaopen_qsl(lua_State *L);
int luaopen_qsl_proc(lua_State *L);
int luaopen_qsl_procfs(lua_State *L);
int luaopen_qsl_strace(lua_State *L);
int luaopen_qsl_sock(lua_State *L);
int luaopen_qsl_wire(lua_State *L);
int luaopen_qsl_engine(lua_State *L);
int luaopen_qsl_clock(lua_State *L);
int luaopen_qsl_hist(lua_State *L);
int luaopen_qsl_fs(lua_State *L);
int luaopen_qsl_role(lua_State *L);
int luaopen_qsl_kernel(lua_State *L);


#endif
