/*
 * gateway_harness.h - a gateway served on a thread of the test, and a client's
 * connection to it: what tests/test_gateway.c and tests/test_replay.c share.
 */
#ifndef QSL_GATEWAY_HARNESS_H
#define QSL_GATEWAY_HARNESS_H

#include <pthread.h>
#include <stdint.h>

#include "gateway.h"

struct server {
    int lfd;
    uint16_t port;
    struct qsl_gateway_config c;
    struct qsl_gateway_stats st;
    qsl_stop_flag stop;
    int rc;
    pthread_t th;
};

/* s->c as qsl_gateway_defaults gives it, in mode: the caller may change it, then serve. */
void qsl_test_server_init(struct server *s, enum qsl_gateway_mode mode);
/* Listen on 127.0.0.1, a port the kernel picks (s->port), and serve on a thread. */
void qsl_test_server_serve(struct server *s, int backlog);
/* Stop it, join it, close the listener; the run must have returned 0. */
void qsl_test_server_finish(struct server *s);
/* A connected TCP client (5 s receive timeout), or the test fails. */
int qsl_test_dial(uint16_t port);
/* CLOCK_MONOTONIC in ms, for a test's deadlines. */
uint64_t qsl_test_ms(void);

#endif
