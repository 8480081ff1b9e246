/*
 * test_roles.c - role declarations: sane tables, parsing by name, lines that
 * can only be printed as declared.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "gateway.h"
#include "role.h"
#include "sockopt.h"
#include "suites.h"

START_TEST(test_every_declaration_is_sane)
{
    int roles = 0;
    for (int i = 0; qsl_roles[i]; i++, roles++) {
        const struct qsl_role *r = qsl_roles[i];
        ck_assert_ptr_eq(qsl_role_find(r->name), r);
        for (const struct qsl_role_param *p = r->params; p->name; p++) {
            ck_assert_uint_le(p->offset + p->size, r->args_size);
            for (const struct qsl_role_param *q = p + 1; q->name; q++)
                ck_assert_msg(strcmp(p->name, q->name) != 0, "%s: %s twice", r->name, p->name);
            if (p->kind == QSL_ROLE_UINT)       /* a default outside the range means "required" */
                ck_assert_msg(p->def <= p->max, "%s.%s: default above its range", r->name, p->name);
            if (p->kind == QSL_ROLE_WORD)
                ck_assert_ptr_nonnull(p->words[p->def]);
            ck_assert_ptr_nonnull(p->help);
            ck_assert_ptr_nonnull(p->unit);
        }
        /* every line's declaration describes the struct it is printed from */
        char why[160];
        ck_assert_msg(qsl_role_fields_check(r->ready, r->ready_size, why, sizeof why) == 0,
                      "%s ready: %s", r->name, why);
        ck_assert_msg(qsl_role_fields_check(r->result, r->result_size, why, sizeof why) == 0,
                      "%s result: %s", r->name, why);
    }
    ck_assert_int_eq(roles, 7);
    ck_assert_ptr_null(qsl_role_find("gatewya"));
}
END_TEST

/* Issue 23: the modes are listed once; the roles take their names and help from those
 * lists (and docs/roles.md from the roles), so no list of modes can drift. */
static const struct qsl_role_param *param_of(const char *role, const char *name)
{
    const struct qsl_role *r = qsl_role_find(role);
    ck_assert_ptr_nonnull(r);
    for (const struct qsl_role_param *p = r->params; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    ck_abort_msg("%s has no parameter %s", role, name);
    return NULL;
}

START_TEST(test_modes_are_listed_once)
{
    const struct qsl_role_param *g = param_of("gateway", "mode");
    ck_assert_ptr_eq(g->words, qsl_gateway_mode_names);
    ck_assert_ptr_eq(g->word_helps, qsl_gateway_mode_helps);
    int n = 0;
    while (g->words[n])
        n++;
    ck_assert_int_eq(n, QSL_GATEWAY_MODE_COUNT);
    ck_assert_str_eq(g->words[QSL_GATEWAY_IO_URING], "io_uring");
    char why[160];
    for (int m = 0; m < QSL_GATEWAY_MODE_COUNT; m++)    /* every mode has a backend that answers */
        ck_assert_int_ge(qsl_gateway_mode_available((enum qsl_gateway_mode)m, why, sizeof why), -ENOSYS);
    ck_assert_int_eq(qsl_gateway_mode_available(QSL_GATEWAY_MODE_COUNT, why, sizeof why), -EINVAL);
    const struct qsl_role_param *f = param_of("subscribe", "mode");
    ck_assert_ptr_eq(f->words, qsl_feed_rx_mode_names);
    ck_assert_ptr_eq(f->word_helps, qsl_feed_rx_mode_helps);
    for (n = 0; f->words[n]; n++)
        ;
    ck_assert_int_eq(n, QSL_FEED_RX_MODE_COUNT);
}
END_TEST

struct probe {
    const char *host;
    uint16_t port;
    int mode;
    uint64_t big;
    uint32_t on;
    const char *text;
};

static const char *const words[] = {"a", "b", NULL};
static const struct qsl_role_param probe_params[] = {
    QSL_ROLE_ADDR(struct probe, host, "127.0.0.1", "h"),
    QSL_ROLE_U(struct probe, port, 7, 1, 65535, "", "p"),
    QSL_ROLE_WORD(struct probe, mode, 1, words, "m"),
    QSL_ROLE_U(struct probe, big, 5, 0, UINT64_MAX, "bytes", "b"),
    QSL_ROLE_U(struct probe, on, 0, 0, 1, "", "a boolean"),
    QSL_ROLE_STR(struct probe, text, "", "t"),
    QSL_ROLE_END,
};
struct probe_line {
    uint64_t n;
    double x;
    const char *w;
    uint32_t small;
};

static const struct qsl_role_field probe_fields[] = {
    QSL_ROLE_F(struct probe_line, n, "", "n"),
    QSL_ROLE_F(struct probe_line, x, "", "x"),
    QSL_ROLE_F(struct probe_line, w, "", "w"),
    QSL_ROLE_F(struct probe_line, small, "", "a 32-bit member"),
    QSL_ROLE_FIELDS_END,
};

static const struct qsl_role probe_role = {.name = "probe", .help = "p", .params = probe_params,
                                           .args_size = sizeof(struct probe),
                                           .ready = probe_fields, .result = probe_fields,
                                           .ready_size = sizeof(struct probe_line),
                                           .result_size = sizeof(struct probe_line)};

START_TEST(test_parse_binds_by_name)
{
    struct probe a;
    char err[128];
    char a1[] = "big=18446744073709551615", a2[] = "mode=a", a3[] = "host=::1";
    char *argv1[] = {a1, a2, a3};
    ck_assert_int_eq(qsl_role_parse(&probe_role, 3, argv1, &a, err, sizeof err), 0);
    ck_assert_uint_eq(a.big, UINT64_MAX);
    ck_assert_int_eq(a.mode, 0);
    ck_assert_str_eq(a.host, "::1");
    ck_assert_uint_eq(a.port, 7);               /* the default, untouched */
    /* issue 21.15: a leading space or '+', an empty text, a boolean named by its forms,
     * and did-you-mean for a near name */
    char bad[][24] = {"port=0", "port=65536", "mode=c", "host=localhost", "zzzz=1", "port",
                      "port=-1", "port=1x", "big= 1", "big=+5", "big= -1", "text=", "on=yes",
                      "prot=5", "bigg=1"};
    const char *want[] = {"port=0: expected an integer in 1..65535", "port=65536",
                          "mode=c: expected one of a, b", "numeric IPv4 or IPv6",
                          "unknown parameter 'zzzz' (qsl-run probe --help", "not key=value",
                          "port=-1", "port=1x", "big= 1: expected an integer",
                          "big=+5: expected an integer", "big= -1: expected an integer",
                          "text=: empty; leave it out for the default (none)",
                          "on=yes: expected 0 (off) or 1 (on)",
                          "unknown parameter 'prot' (did you mean 'port'?)",
                          "unknown parameter 'bigg' (did you mean 'big'?)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *one[] = {bad[i]};
        ck_assert_int_eq(qsl_role_parse(&probe_role, 1, one, &a, err, sizeof err), -1);
        ck_assert_msg(strstr(err, want[i]) != NULL, "'%s' gave '%s'", bad[i], err);
    }
    char d1[] = "big=1", d2[] = "port=9", d3[] = "big=2";      /* the same parameter twice */
    char *twice[] = {d1, d2, d3};
    ck_assert_int_eq(qsl_role_parse(&probe_role, 3, twice, &a, err, sizeof err), -1);
    ck_assert_str_eq(err, "parameter 'big' given twice (which one would hold?)");
}
END_TEST

/* Issue 21.15: the documented default sockopt=none parses; an option given twice and a
 * value that is not plain digits do not. */
START_TEST(test_sockopt_text_is_strict)
{
    struct qsl_sockopt_list l;
    char err[160];
    ck_assert_int_eq(qsl_sockopt_parse_list("none", 1, &l, err, sizeof err), 0);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_int_eq(qsl_sockopt_parse_list("nodelay:0,nodelay:1", 1, &l, err, sizeof err), -EINVAL);
    ck_assert_str_eq(err, "'nodelay' given twice (which one would hold?)");
    ck_assert_int_eq(qsl_sockopt_parse_list("rcvbuf: 4096", 0, &l, err, sizeof err), -EINVAL);
    ck_assert_int_eq(qsl_sockopt_parse_list("rcvbuf:+4096", 0, &l, err, sizeof err), -EINVAL);
    ck_assert_int_eq(qsl_sockopt_parse_list("rcvbuf:4096", 0, &l, err, sizeof err), 0);
    ck_assert_uint_eq(l.n, 1);
}
END_TEST

/* A line is printed from its struct, in declaration order, each value as its type. */
START_TEST(test_lines_follow_the_declaration)
{
    char buf[256], why[160];
    struct probe_line v = {3, 0.5, "ok", 4000000000u};
    ck_assert_int_eq(qsl_role_format(buf, sizeof buf, "result", probe_fields, &v, sizeof v, why,
                                     sizeof why), 0);
    ck_assert_ptr_nonnull(strstr(buf, " n=3 x=0.5 w=ok small=4000000000"));
    ck_assert_int_eq(strncmp(buf, "result pid=", 11), 0);
    v.w = "a b";                                /* a text value with a space */
    ck_assert_int_eq(qsl_role_format(buf, sizeof buf, "result", probe_fields, &v, sizeof v, why,
                                     sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "'w': a value with a space"));
    v.w = "";
    ck_assert_int_eq(qsl_role_format(buf, sizeof buf, "result", probe_fields, &v, sizeof v, why,
                                     sizeof why), -1);
    v.w = "ok";                                 /* a line longer than its buffer */
    ck_assert_int_eq(qsl_role_format(buf, 24, "result", probe_fields, &v, sizeof v, why,
                                     sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "longer than"));
}
END_TEST

/* Issue 23: a declaration that does not match its storage is caught, never printed:
 * a number declared over a 4-byte member, a field past the end of its struct, a name
 * twice, pid, a name that is not a key. */
START_TEST(test_a_mismatched_declaration_fails)
{
    char why[160];
    struct probe_line v = {1, 2.0, "t", 3};
    const struct qsl_role_field as_number[] = {
        {"small", QSL_ROLE_NUMBER, "", "", offsetof(struct probe_line, small), sizeof v.small},
        QSL_ROLE_FIELDS_END};
    ck_assert_int_eq(qsl_role_fields_check(as_number, sizeof v, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "'small' has a size its type cannot have"));
    const struct qsl_role_field past[] = {{"n", QSL_ROLE_INTEGER, "", "", sizeof v, 8},
                                          QSL_ROLE_FIELDS_END};
    ck_assert_int_eq(qsl_role_fields_check(past, sizeof v, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "past the end"));
    const struct qsl_role_field twice[] = {QSL_ROLE_F(struct probe_line, n, "", ""),
                                           QSL_ROLE_F_AT(struct probe_line, "n", small, "", ""),
                                           QSL_ROLE_FIELDS_END};
    ck_assert_int_eq(qsl_role_fields_check(twice, sizeof v, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "declared twice"));
    const struct qsl_role_field pid[] = {QSL_ROLE_F_AT(struct probe_line, "pid", n, "", ""),
                                         QSL_ROLE_FIELDS_END};
    ck_assert_int_eq(qsl_role_fields_check(pid, sizeof v, why, sizeof why), -1);
    const struct qsl_role_field key[] = {QSL_ROLE_F_AT(struct probe_line, "Bad-Key", n, "", ""),
                                         QSL_ROLE_FIELDS_END};
    ck_assert_int_eq(qsl_role_fields_check(key, sizeof v, why, sizeof why), -1);
    /* and print refuses such a line instead of printing it */
    ck_assert_int_eq(qsl_role_print("result", as_number, &v, sizeof v), -1);
}
END_TEST

Suite *roles_suite(void)
{
    Suite *s = suite_create("roles");
    TCase *tc = tcase_create("roles");
    tcase_add_test(tc, test_every_declaration_is_sane);
    tcase_add_test(tc, test_modes_are_listed_once);
    tcase_add_test(tc, test_parse_binds_by_name);
    tcase_add_test(tc, test_sockopt_text_is_strict);
    tcase_add_test(tc, test_lines_follow_the_declaration);
    tcase_add_test(tc, test_a_mismatched_declaration_fails);
    suite_add_tcase(s, tc);
    return s;
}
