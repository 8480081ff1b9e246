/*
 * qsl_run.c - qsl-run, the only program: runs a scenario, or one role.
 *
 *   qsl-run SCRIPT.lua [key=value ...] [--help]
 *   qsl-run NAME [key=value ...]      NAME.lua from the scenario search path
 *   qsl-run ROLE [options]
 *   qsl-run show A.json | compare [--csv] A.json B.json [...]
 *   qsl-run --help | --version | --list
 *
 * Exit codes: 0 done; 1 error; 2 skipped; 3 refused (no valid measurement, no
 * artifact); 128+N when interrupted by signal N (130 SIGINT, 143 SIGTERM).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "commit.h"
#include "host.h"
#include "proc.h"
#include "role.h"

#ifndef QSL_VERSION
#define QSL_VERSION "0.1.0"
#endif
#ifndef QSL_CFLAGS
#define QSL_CFLAGS "unknown"
#endif

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* <root>/<rel> for the tree the binary sits in: build/qsl-run (or
 * build/asan/qsl-run) in a checkout, PREFIX/bin/qsl-run when installed (then
 * PREFIX/share/qsl/<rel>). Never the current directory. */
static const char *tree_dir(const char *rel, char *out, size_t cap)
{
    static const char *const where[] = {"..", "../..", "../share/qsl"};
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s", qsl_host_exe());
    const char *bin = dirname(exe);
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        char qsl_mark[PATH_MAX + 32];
        snprintf(out, cap, "%s/%s/%s", bin, where[i], rel);
        /* lua/ must be qsl's own: it holds qsl/scenario.lua */
        snprintf(qsl_mark, sizeof qsl_mark, "%s/qsl", out);
        if (is_dir(out) && (strcmp(rel, "lua") != 0 || is_dir(qsl_mark)))
            return out;
    }
    return NULL;
}

static const char *lua_dir(char *out, size_t cap)
{
    const char *env = getenv("QSL_LUA_DIR");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return out;
    }
    return tree_dir("lua", out, cap);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qsl-run SCRIPT.lua [key=value ...]   run a scenario\n"
            "       qsl-run NAME [key=value ...]         run NAME.lua from $QSL_PATH, then\n"
            "                                            qsl's own scenarios/\n"
            "       qsl-run SCRIPT.lua --help              list its parameters\n"
            "       qsl-run ROLE [options]                 run one role without Lua\n"
            "       qsl-run --list                         the scenarios with their descriptions\n"
            "       qsl-run show A.json                    an artifact's main tables\n"
            "       qsl-run compare [--csv] A.json B.json  the same tables side by side, B/A\n"
            "       qsl-run --roles-markdown               docs/roles.md, from the role declarations\n"
            "       qsl-run --version | --help\n"
            "exit codes: 0 done, 1 error, 2 skipped, 3 refused (no valid measurement),\n"
            "            130/143 interrupted\n");
    qsl_roles_usage(f);
}

static void version(void)
{
    printf("qsl-run %s (commit %s; %s; C compiler %s; flags %s)\n", QSL_VERSION, QSL_COMMIT,
           LUA_RELEASE, __VERSION__, QSL_CFLAGS);
}

/* The first comment line of a scenario, past a shebang: its one-line description. */
static void describe(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (strncmp(line, "--", 2) == 0) {
            char *s = line + 2;
            while (*s == ' ' || *s == '-')
                s++;
            s[strcspn(s, "\n")] = '\0';
            snprintf(out, cap, "%s", s);
        }
        break;
    }
    fclose(f);
}

enum { MAX_DIRS = 16 };

/* Where `qsl-run NAME` looks for NAME.lua, in order: each directory of
 * QSL_PATH (colon-separated), then the scenarios/ of the tree qsl-run belongs
 * to (the checkout, or PREFIX/share/qsl/scenarios when installed). */
static int scenario_dirs(char dirs[MAX_DIRS][PATH_MAX])
{
    int n = 0;
    const char *env = getenv("QSL_PATH");
    while (env && *env && n < MAX_DIRS - 1) {
        size_t len = strcspn(env, ":");
        if (len > 0 && len < PATH_MAX) {
            memcpy(dirs[n], env, len);
            dirs[n][len] = '\0';
            if (is_dir(dirs[n]))
                n++;
        }
        env += len + (env[len] == ':');
    }
    if (tree_dir("scenarios", dirs[n], PATH_MAX))
        n++;
    return n;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_scenario_name(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && strcmp(name + len - 4, ".lua") == 0 && strcmp(name, "TEMPLATE.lua") != 0 &&
           name[0] != '.';
}

/* NAME.lua in the first directory of the search path that has it. */
static const char *find_scenario(const char *name, char *out, size_t cap)
{
    char dirs[MAX_DIRS][PATH_MAX];
    int n = scenario_dirs(dirs);
    for (int i = 0; i < n; i++) {
        if ((size_t)snprintf(out, cap, "%s/%s.lua", dirs[i], name) < cap && is_file(out))
            return out;
    }
    return NULL;
}

/* Calls fn(ctx, path, name-without-.lua) for each scenario on the search path,
 * the first of each name only (an earlier directory hides a later one). */
static int each_scenario(void (*fn)(void *, const char *, const char *), void *ctx)
{
    char dirs[MAX_DIRS][PATH_MAX];
    int nd = scenario_dirs(dirs), total = 0;
    char seen[128][64];
    int nseen = 0;
    for (int d = 0; d < nd; d++) {
        struct dirent **names;
        int n = scandir(dirs[d], &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
            const char *file = names[i]->d_name;
            size_t len = strlen(file);
            char path[PATH_MAX + 256], name[64];
            int usable = is_scenario_name(file) && len - 4 < sizeof name &&
                         (size_t)snprintf(path, sizeof path, "%s/%s", dirs[d], file) < sizeof path;
            if (usable) {
                snprintf(name, sizeof name, "%.*s", (int)(len - 4), file);
                for (int k = 0; k < nseen && usable; k++)
                    usable = strcmp(seen[k], name) != 0;
            }
            if (usable) {
                if (nseen < 128)
                    memcpy(seen[nseen++], name, sizeof name);
                fn(ctx, path, name);
                total++;
            }
            free(names[i]);
        }
        if (n >= 0)
            free(names);
    }
    return total;
}

static void list_one(void *ctx, const char *path, const char *name)
{
    (void)ctx;
    char desc[512];
    describe(path, desc, sizeof desc);
    printf("%-24s %s\n", name, desc);
}

static int list_scenarios(void)
{
    if (each_scenario(list_one, NULL) == 0) {
        fprintf(stderr, "qsl-run: no scenarios on the search path ($QSL_PATH, then scenarios/ "
                        "next to %s)\n", qsl_host_exe());
        return QSL_EXIT_ERROR;
    }
    return QSL_EXIT_OK;
}

static void consider_scenario(void *ctx, const char *path, const char *name)
{
    (void)path;
    qsl_host_nearest_add(ctx, name);
}

static int unknown_word(const char *a)
{
    struct qsl_host_nearest n;
    qsl_host_nearest_init(&n, a);
    for (int i = 0; qsl_roles[i]; i++)
        qsl_host_nearest_add(&n, qsl_roles[i]->name);
    each_scenario(consider_scenario, &n);
    fprintf(stderr, "qsl-run: '%s' is neither a scenario (*.lua, or a name from --list) nor a role",
            a);
    if (qsl_host_nearest_best(&n))
        fprintf(stderr, " (did you mean '%s'?)", qsl_host_nearest_best(&n));
    fprintf(stderr, "; roles:");
    for (int i = 0; qsl_roles[i]; i++)
        fprintf(stderr, " %s", qsl_roles[i]->name);
    fprintf(stderr, "; qsl-run --help for more\n");
    return QSL_EXIT_ERROR;
}

/* Message handler: exit errors pass through untouched; anything else gets a traceback. */
static int is_exit_error(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    luaL_getmetatable(L, "qsl.exit");
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return is;
}

static int msgh(lua_State *L)
{
    lua_settop(L, 1);
    if (is_exit_error(L, 1))
        return 1;
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* A progress line redrawn in place on a terminal has no newline yet: end it, so
 * that an error message starts on its own line. */
static void end_progress(lua_State *L)
{
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "qsl.scenario") == LUA_TTABLE &&
        lua_getfield(L, -1, "line_open") == LUA_TBOOLEAN && lua_toboolean(L, -1))
        fputc('\n', stderr);
    lua_settop(L, top);
}

/* A scenario that ends without writing the artifact it created would exit 0 with
 * every trial lost: that is an error naming the artifact. */
static int check_written(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "qsl.artifact");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 2);
        return QSL_EXIT_OK;
    }
    lua_getfield(L, -1, "unwritten");
    int code = QSL_EXIT_OK;
    if (lua_pcall(L, 0, 1, 0) == LUA_OK && lua_istable(L, -1) && luaL_len(L, -1) > 0) {
        lua_geti(L, -1, 1);
        fprintf(stderr, "qsl-run: error: artifact '%s' was created but never written "
                        "(the scenario ends without art:write())\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        code = QSL_EXIT_ERROR;
    }
    lua_pop(L, 3);
    return code;
}

/* script is a file, or with chunk set, the name of that Lua chunk (show, compare). */
static int run_lua(const char *script, const char *chunk, int argc, char **argv)
{
    char ldir[PATH_MAX];
    if (!lua_dir(ldir, sizeof ldir)) {
        fprintf(stderr, "qsl-run: cannot find qsl's Lua modules (lua/ next to %s); "
                        "set QSL_LUA_DIR\n", qsl_host_exe());
        return QSL_EXIT_ERROR;
    }
    qsl_host_set_build(QSL_VERSION, QSL_COMMIT);
    lua_State *L = qsl_host_newstate(ldir);
    if (!L) {
        fprintf(stderr, "qsl-run: out of memory\n");
        return QSL_EXIT_ERROR;
    }
    qsl_host_catch_signals(L);
    lua_createtable(L, argc, 1);
    lua_pushstring(L, script);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");

    int code = QSL_EXIT_OK;
    lua_pushcfunction(L, msgh);
    int rc = chunk ? luaL_loadbuffer(L, chunk, strlen(chunk), script) : luaL_loadfile(L, script);
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 0, -2);
    end_progress(L);
    if (rc == LUA_OK && !qsl_host_signal)
        code = check_written(L);
    if (rc != LUA_OK) {
        if (is_exit_error(L, -1)) {
            lua_getfield(L, -1, "exit");
            lua_getfield(L, -2, "reason");
            code = (int)lua_tointeger(L, -2);
            const char *reason = lua_tostring(L, -1);
            const char *what = code == QSL_EXIT_SKIPPED ? "skipped"
                             : code == QSL_EXIT_REFUSED ? "refused, no artifact written"
                             : code == QSL_EXIT_OK ? NULL
                             : code > 128 ? "stopped" : "error";
            if (what)
                fprintf(stderr, "qsl-run: %s: %s\n", what, reason ? reason : "");
        } else {
            fprintf(stderr, "qsl-run: %s\n", lua_tostring(L, -1));
            code = QSL_EXIT_ERROR;
        }
    }
    lua_close(L);               /* __gc stops whatever the script still holds */
    qsl_proc_reap_all();
    if (qsl_host_signal && code == QSL_EXIT_OK)
        code = 128 + qsl_host_signal;
    return code;
}

static int run_script(const char *script, int argc, char **argv)
{
    return run_lua(script, NULL, argc, argv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return QSL_EXIT_ERROR;
    }
    const char *a = argv[1];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        usage(stdout);
        return QSL_EXIT_OK;
    }
    if (!strcmp(a, "--version")) {
        version();
        return QSL_EXIT_OK;
    }
    if (!strcmp(a, "--list"))
        return list_scenarios();
    if (!strcmp(a, "show") || !strcmp(a, "compare"))
        return run_lua(a, "require('qsl.compare').main(arg)", argc - 1, argv + 1);
    if (!strcmp(a, "--roles-markdown")) {
        qsl_roles_markdown(stdout);
        return QSL_EXIT_OK;
    }
    const struct qsl_role *role = qsl_role_find(a);
    if (role)
        return qsl_role_main(role, argc - 2, argv + 2);
    size_t len = strlen(a);
    if (strchr(a, '/') || (len > 4 && !strcmp(a + len - 4, ".lua") && is_file(a)))
        return run_script(a, argc - 2, argv + 2);
    char path[PATH_MAX + 300], name[256];
    snprintf(name, sizeof name, "%.*s", (int)(len > 4 && !strcmp(a + len - 4, ".lua") ? len - 4 : len), a);
    if (find_scenario(name, path, sizeof path))
        return run_script(path, argc - 2, argv + 2);
    if (len > 4 && !strcmp(a + len - 4, ".lua"))
        return run_script(a, argc - 2, argv + 2);   /* reports that it cannot open it */
    return unknown_word(a);
}
