/*
 * test_oneshot.c - qsl-run client's core: requests read from text (every mistake named),
 * frames written as text, and a run against qsl's gateway on a thread of the test, a
 * server that answers what was not asked, one that never answers and one that hangs up.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway_harness.h"
#include "oneshot.h"
#include "suites.h"

START_TEST(test_requests_from_text)
{
    struct qsl_wire_msg m[4];
    char err[160];
    ck_assert_int_eq(qsl_oneshot_parse("new 1 0 buy 100 10; cancel 1 0;heartbeat 42", m, 4,
                                       err, sizeof err), 3);
    ck_assert_uint_eq(m[0].type, QSL_WIRE_NEW_ORDER);
    ck_assert_uint_eq(m[0].u.new_order.order_id, 1);
    ck_assert_int_eq(m[0].u.new_order.price, 100);
    ck_assert_uint_eq(m[0].u.new_order.quantity, 10);
    ck_assert_uint_eq(m[0].u.new_order.order_type, 0);  /* limit, gtc by default */
    ck_assert_uint_eq(m[1].type, QSL_WIRE_CANCEL_ORDER);
    ck_assert_uint_eq(m[2].u.heartbeat.token, 42);
    ck_assert_int_eq(qsl_oneshot_parse("NEW 7 1 Sell -5 1 market ioc ; ;", m, 4, err,
                                       sizeof err), 1);
    ck_assert_int_eq(m[0].u.new_order.price, -5);       /* the server judges a price */
    ck_assert_uint_eq(m[0].u.new_order.side, 1);
    ck_assert_uint_eq(m[0].u.new_order.tif, 1);
    static const struct { const char *text, *says; } bad[] = {
        {"new 1 0 up 100 1", "request 1 (new): not understood: up"},
        {"heartbeat 1; cancel x 0", "request 2 (cancel): not understood: x"},
        {"new 1 4294967296 buy 1 1", "not understood: 4294967296"},
        {"new 1 0 buy 1", "new takes ID SYMBOL"},
        {"heartbeat -1", "not understood: -1"},
        {"modify 1 0", "not understood: modify"},
        {"  ;  ", "no request"},
        {"heartbeat 1;heartbeat 2;heartbeat 3;heartbeat 4;heartbeat 5", "more than 4 requests"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(qsl_oneshot_parse(bad[i].text, m, 4, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i].says), "%s: said \"%s\"", bad[i].text, err);
    }
}
END_TEST

START_TEST(test_frames_as_text)
{
    char t[160];
    struct qsl_wire_msg m = {.type = QSL_WIRE_REJECT, .u.reject = {2, 8}};
    qsl_oneshot_format(&m, t, sizeof t);
    ck_assert_str_eq(t, "Reject(oid=2,reason=UnknownOrder)");
    m = (struct qsl_wire_msg){.type = QSL_WIRE_FILL, .u.fill = {4, 1, 100, 5, 5}};
    qsl_oneshot_format(&m, t, sizeof t);
    ck_assert_str_eq(t, "Fill(taker=4,maker=1,px=100,qty=5,seq=5)");
    m = (struct qsl_wire_msg){.type = QSL_WIRE_NEW_ORDER, .u.new_order = {1, 0, 100, 10, 1, 1, 1}};
    qsl_oneshot_format(&m, t, sizeof t);
    ck_assert_str_eq(t, "NewOrder(oid=1,sym=0,sell,px=100,qty=10,market,ioc)");
    m = (struct qsl_wire_msg){.type = QSL_WIRE_HEARTBEAT_ACK, .u.heartbeat = {42}};
    qsl_oneshot_format(&m, t, sizeof t);
    ck_assert_str_eq(t, "HeartbeatAck(token=42)");
}
END_TEST

struct seen {
    int sent, received;
    char last[160];
};

static void on_line(void *ctx, int sent, const struct qsl_wire_msg *m)
{
    struct seen *s = ctx;
    sent ? s->sent++ : s->received++;
    qsl_oneshot_format(m, s->last, sizeof s->last);
}

START_TEST(test_a_run_against_the_gateway)
{
    struct server s;
    qsl_test_server_init(&s, QSL_GATEWAY_EPOLL);
    qsl_test_server_serve(&s, 16);
    struct qsl_wire_msg m[8];
    char why[200];
    int n = qsl_oneshot_parse("new 1 0 buy 100 10; new 2 0 sell 99 4; cancel 2 0; heartbeat 9",
                              m, 8, why, sizeof why);
    ck_assert_int_eq(n, 4);
    int fd = qsl_test_dial(s.port);
    struct seen seen = {0};
    struct qsl_oneshot_stats st;
    ck_assert_int_eq(qsl_oneshot_run(fd, m, (size_t)n, 5000, on_line, &seen, &st, NULL, why,
                                     sizeof why), 0);
    close(fd);
    qsl_test_server_finish(&s);
    /* order 2 crosses order 1 and is filled whole: its cancel finds nothing */
    ck_assert_uint_eq(st.requests, 4);
    ck_assert_uint_eq(st.answered, 4);
    ck_assert_uint_eq(st.acks, 2);
    ck_assert_uint_eq(st.fills, 1);
    ck_assert_uint_eq(st.rejects, 1);
    ck_assert_uint_eq(st.heartbeat_acks, 1);
    ck_assert_int_eq(seen.sent, 4);
    ck_assert_int_eq(seen.received, 5);         /* the fence is not shown */
    ck_assert_str_eq(seen.last, "HeartbeatAck(token=9)");
}
END_TEST

/* A peer on a socketpair: what it wrote before the run, then it may hang up. */
static int run_against(const uint8_t *reply, size_t len, int hang_up, unsigned timeout_ms,
                       char *why, size_t whylen)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (len)
        ck_assert_int_eq(write(sv[1], reply, len), (ssize_t)len);
    if (hang_up)
        close(sv[1]);
    struct qsl_wire_msg hb = {.type = QSL_WIRE_HEARTBEAT, .u.heartbeat = {1}};
    struct qsl_oneshot_stats st;
    why[0] = '\0';
    int rc = qsl_oneshot_run(sv[0], &hb, 1, timeout_ms, NULL, NULL, &st, NULL, why, whylen);
    close(sv[0]);
    if (!hang_up)
        close(sv[1]);
    return rc;
}

START_TEST(test_what_is_not_an_answer_is_said)
{
    uint8_t f[QSL_WIRE_MAX_FRAME];
    char why[200];
    struct qsl_wire_msg stray = {.type = QSL_WIRE_ACK, .u.ack = {99, 0}};
    int len = qsl_wire_encode(&stray, f, sizeof f);
    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(run_against(f, (size_t)len, 0, 2000, why, sizeof why), -EPROTO);
    ck_assert_str_eq(why, "a reply that answers no request: Ack(oid=99,seq=0)");
    f[3] = 2;                                   /* version 2 */
    ck_assert_int_eq(run_against(f, (size_t)len, 0, 2000, why, sizeof why), -EPROTO);
    ck_assert_msg(strstr(why, "a malformed reply"), "%s", why);
    ck_assert_int_eq(run_against(NULL, 0, 1, 2000, why, sizeof why), -ECONNRESET);
    ck_assert_int_eq(run_against(NULL, 0, 0, 50, why, sizeof why), -ETIMEDOUT);
}
END_TEST

Suite *oneshot_suite(void)
{
    Suite *s = suite_create("oneshot");
    TCase *tc = tcase_create("oneshot");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_requests_from_text);
    tcase_add_test(tc, test_frames_as_text);
    tcase_add_test(tc, test_a_run_against_the_gateway);
    tcase_add_test(tc, test_what_is_not_an_answer_is_said);
    suite_add_tcase(s, tc);
    return s;
}
