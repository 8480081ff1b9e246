/*
 * qsl_run.c - qsl-run, the only program: runs a scenario, or one role.
 *
 *   qsl-run SCRIPT.lua [key=value ...] [--help]
 *   qsl-run ROLE [options]
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
            "       qsl-run SCRIPT.lua --help              list its parameters\n"
            "       qsl-run ROLE [options]                 run one role without Lua\n"
            "       qsl-run --list                         the scenarios with their descriptions\n"
            "       qsl-run --roles-markdown               docs/roles.md, from the role declarations\n"
            "       qsl-run --version | --help\n"
            "exit codes: 0 done, 1 error, 2 skipped, 3 refused (no valid measurement),\n"
            "            130/143 interrupted\n");
    qsl_roles_usage(f);
}

static void version(void)
{
    printf("qsl-run %s (%s; C compiler %s; flags %s)\n", QSL_VERSION, LUA_RELEASE, __VERSION__,
           QSL_CFLAGS);
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

static int list_scenarios(void)
{
    char dir[PATH_MAX];
    if (!tree_dir("scenarios", dir, sizeof dir)) {
        fprintf(stderr, "qsl-run: no scenarios/ directory next to %s\n", qsl_host_exe());
        return QSL_EXIT_ERROR;
    }
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        perror("qsl-run: scenarios");
        return QSL_EXIT_ERROR;
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (len > 4 && strcmp(name + len - 4, ".lua") == 0 && strcmp(name, "TEMPLATE.lua") != 0) {
            char path[PATH_MAX + 256], desc[512];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            describe(path, desc, sizeof desc);
            printf("scenarios/%-24s %s\n", name, desc);
        }
        free(names[i]);
    }
    free(names);
    return QSL_EXIT_OK;
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

static int run_script(const char *script, int argc, char **argv)
{
    char ldir[PATH_MAX];
    if (!lua_dir(ldir, sizeof ldir)) {
        fprintf(stderr, "qsl-run: cannot find qsl's Lua modules (lua/ next to %s); "
                        "set QSL_LUA_DIR\n", qsl_host_exe());
        return QSL_EXIT_ERROR;
    }
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
    int rc = luaL_loadfile(L, script);
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 0, -2);
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
    if (!strcmp(a, "--roles-markdown")) {
        qsl_roles_markdown(stdout);
        return QSL_EXIT_OK;
    }
    const struct qsl_role *role = qsl_role_find(a);
    if (role)
        return qsl_role_main(role, argc - 2, argv + 2);
    size_t len = strlen(a);
    if (len > 4 && !strcmp(a + len - 4, ".lua"))
        return run_script(a, argc - 2, argv + 2);
    fprintf(stderr, "qsl-run: '%s' is neither a scenario (*.lua) nor a role (roles:", a);
    for (int i = 0; qsl_roles[i]; i++)
        fprintf(stderr, " %s", qsl_roles[i]->name);
    fprintf(stderr, "; qsl-run --help for more)\n");
    return QSL_EXIT_ERROR;
}
