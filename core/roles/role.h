/*
 * role.h - the programs `qsl-run ROLE key=value ...` runs: one measured thing
 * each, no Lua. A role is declared once: its parameters (named, typed, with
 * default, range, unit and help, each bound by name to a field of the
 * role's arguments struct), and the fields of its ready and result lines
 * (name, type, unit, meaning). That one declaration drives the parser,
 * `qsl-run ROLE --help`, the lines the role prints (a line that strays from
 * its declaration is a bug the role reports instead of printing), what Lua
 * receives (qsl.roles.describe) and the table in docs/roles.md.
 *
 * The line protocol, so a parent can drive a role:
 *   ready pid=<pid> key=value ...     once, when it serves (flushed at once)
 *   result pid=<pid> key=value ...    once, at the end
 * Keys are [a-z_][a-z0-9_]*, values have no spaces. Diagnostics go to
 * stderr; stdout carries only these lines.
 */
#ifndef QSL_ROLE_H
#define QSL_ROLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stop.h"

enum qsl_role_kind {
    QSL_ROLE_UINT,              /* an integer in min..max */
    QSL_ROLE_ADDR,              /* a numeric IPv4 or IPv6 address (a const char *) */
    QSL_ROLE_WORD,              /* one of words (the field holds the index, an int) */
    QSL_ROLE_STR                /* free text the role checks itself (a const char *) */
};

struct qsl_role_param {
    const char *name;
    enum qsl_role_kind kind;
    size_t offset, size;        /* the field in the arguments struct */
    uint64_t def, min, max;
    const char *unit, *help;
    const char *def_addr;       /* ADDR: the default */
    const char *const *words;   /* WORD: NULL-terminated; def is an index */
    const char *const *word_helps;      /* WORD: one line of help a word (NULL: none) */
};

/* Declare a parameter by the name of its field in the role's arguments struct T. */
#define QSL_ROLE_U(T, f, d, lo, hi, unit, help) \
    {#f, QSL_ROLE_UINT, offsetof(T, f), sizeof(((T *)0)->f), d, lo, hi, unit, help, NULL, NULL, NULL}
#define QSL_ROLE_ADDR(T, f, d, help) \
    {#f, QSL_ROLE_ADDR, offsetof(T, f), sizeof(((T *)0)->f), 0, 0, 0, "", help, d, NULL, NULL}
#define QSL_ROLE_WORD(T, f, d, words, help) \
    {#f, QSL_ROLE_WORD, offsetof(T, f), sizeof(((T *)0)->f), d, 0, 0, "", help, NULL, words, NULL}
/* A word parameter whose words each have a line of help (a table's names and helps). */
#define QSL_ROLE_WORDS(T, f, d, words, helps, help) \
    {#f, QSL_ROLE_WORD, offsetof(T, f), sizeof(((T *)0)->f), d, 0, 0, "", help, NULL, words, helps}
#define QSL_ROLE_STR(T, f, d, help) \
    {#f, QSL_ROLE_STR, offsetof(T, f), sizeof(((T *)0)->f), 0, 0, 0, "", help, d, NULL, NULL}
#define QSL_ROLE_END {NULL, QSL_ROLE_UINT, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL}

/* The `sockopt=` parameter every socket role takes, and its ready-line field (a member
 * `const char *sockopt` of the ready line's struct S). */
#define QSL_ROLE_SOCKOPT(T) \
    QSL_ROLE_STR(T, sockopt, "", "socket options, name:value,... (qsl.sock's names; " \
                 "the ready line echoes what the kernel granted)")
#define QSL_ROLE_SOCKOPT_FIELD(S) QSL_ROLE_F(S, sockopt, "", "the sockopt= options as granted, or none")

/* The engine's memory, on every role that runs one: members uint32_t max_orders and
 * int huge_pages of T (QSL_BOOK_ORDERS_MAX from book.h where it is used). */
#define QSL_ROLE_ENGINE_MEMORY(T) \
    QSL_ROLE_U(T, max_orders, 0, 0, QSL_BOOK_ORDERS_MAX, "orders", \
               "resting orders at most, across symbols; 0 = no bound (the pool grows as the " \
               "original's book does); past it, StorageExhausted (reason 9)"), \
    QSL_ROLE_U(T, huge_pages, 1, 0, 1, "", \
               "1: past 1,024 resting orders the book's pool grows in 2 MiB mappings advised " \
               "for huge pages (a TLB entry each, not 512), and a gateway's connections live " \
               "in them; 0: malloc'd memory only")

enum qsl_role_type { QSL_ROLE_INTEGER, QSL_ROLE_NUMBER, QSL_ROLE_TEXT };

/*
 * A field of a ready or result line, declared with its storage: the line is printed
 * from a struct, each field read at its offset, so a declaration and the values it
 * prints cannot drift apart. The type follows the member's own: an unsigned integer of
 * any width, a double, or text (const char *: no space, no '=', not empty).
 */
struct qsl_role_field {
    const char *name;
    enum qsl_role_type type;
    const char *unit, *help;
    size_t offset, size;
};
#define QSL_ROLE_TYPE_OF(x) _Generic((x), uint8_t: QSL_ROLE_INTEGER, uint16_t: QSL_ROLE_INTEGER, \
    uint32_t: QSL_ROLE_INTEGER, uint64_t: QSL_ROLE_INTEGER, double: QSL_ROLE_NUMBER,            \
    const char *: QSL_ROLE_TEXT)
/* Field f of the line's struct S, named as the member. */
#define QSL_ROLE_F(S, f, unit, help) \
    {#f, QSL_ROLE_TYPE_OF(((S *)0)->f), unit, help, offsetof(S, f), sizeof(((S *)0)->f)}
/* A field named otherwise than its member (an array element: rejects[2]). */
#define QSL_ROLE_F_AT(S, name, member, unit, help) \
    {name, QSL_ROLE_TYPE_OF(((S *)0)->member), unit, help, offsetof(S, member), \
     sizeof(((S *)0)->member)}
#define QSL_ROLE_FIELDS_END {NULL, QSL_ROLE_INTEGER, NULL, NULL, 0, 0}

struct qsl_role {
    const char *name, *help;
    const char *sets;           /* the socket options and settings it applies by default */
    const struct qsl_role_param *params;
    size_t args_size;
    const struct qsl_role_field *ready, *result;     /* pid is implied */
    size_t ready_size, result_size;                  /* the structs they are read from */
    int (*run)(const void *args);
};

/* Every role, NULL-terminated; and one by name (NULL when none). */
extern const struct qsl_role *const qsl_roles[];
const struct qsl_role *qsl_role_find(const char *name);

/* A role that cannot run here (a mode this kernel or build lacks) exits with qsl-run's
 * "skipped" code (docs/architecture.md), its reason on stderr. */
#define QSL_ROLE_EXIT_SKIPPED 2

/* `qsl-run ROLE ...`: --help, parse, run. Returns the exit code. */
int qsl_role_main(const struct qsl_role *r, int argc, char **argv);
void qsl_role_usage(FILE *f, const struct qsl_role *r);
void qsl_roles_usage(FILE *f);
/* docs/roles.md, generated from the declarations. */
void qsl_roles_markdown(FILE *f);

/*
 * Parse key=value arguments into args (defaults first). 0, or -1 with a
 * message naming the argument in err.
 */
int qsl_role_parse(const struct qsl_role *r, int argc, char **argv, void *args, char *err,
                   size_t cap);

/*
 * A role's sockopt= text, parsed into l (may be NULL when only fd needs it) and applied
 * to fd (checked and read back there); the granted values go to granted_text ("none"
 * when empty). stream: a TCP socket. 0, or 1 after saying on stderr what is wrong.
 */
struct qsl_sockopt_list;
int qsl_role_sockopts(const char *role, const char *text, int stream, int fd,
                      struct qsl_sockopt_list *l, char *granted_text, size_t cap);

/* Make SIGTERM and SIGINT set *flag (and interrupt blocking calls) instead of killing. */
void qsl_role_stop_on_signals(qsl_stop_flag *flag);

/*
 * Whether a declaration can describe a struct of `size` bytes: names [a-z_][a-z0-9_]*,
 * none twice, none "pid", every field inside the struct with a size its type can have
 * (an integer 1, 2, 4 or 8 bytes, a number a double, text a pointer). 0, or -1 with why.
 */
int qsl_role_fields_check(const struct qsl_role_field *decl, size_t size, char *why, size_t cap);

/*
 * The line "word pid=<pid> name=value ..." with every declared field read from the
 * struct at values (size bytes) into buf. 0, or -1 with why: a declaration the struct
 * cannot hold (qsl_role_fields_check), a text value with a space, '=' or nothing, a line
 * longer than cap.
 */
int qsl_role_format(char *buf, size_t cap, const char *word, const struct qsl_role_field *decl,
                    const void *values, size_t size, char *why, size_t wcap);

/* qsl_role_format, then the line on stdout (flushed): 0; or -1 after naming the fault on
 * stderr (a role bug, which the role's tests catch). */
int qsl_role_print(const char *word, const struct qsl_role_field *decl, const void *values,
                   size_t size);

#endif
