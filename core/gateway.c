/*
 * gateway.c - the gateway's face: its defaults, the one list of its modes, and the
 * run that hands a listening socket to the mode asked for. Each mode is a file of its
 * own (gateway_epoll.c, gateway_blocking.c, gateway_uring.c) behind the same two
 * calls (struct qsl_gateway_backend); what the event-loop modes share is in
 * gateway_conn.c. Adding a mode is a new file and a row in QSL_GATEWAY_MODES.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "gateway.h"
#include "gateway_conn.h"
#include "wire.h"

#define NAME(e, file, name, help) name,
const char *const qsl_gateway_mode_names[] = {QSL_GATEWAY_MODES(NAME) NULL};
#undef NAME

#define HELP(e, file, name, help) help,
const char *const qsl_gateway_mode_helps[] = {QSL_GATEWAY_MODES(HELP) NULL};
#undef HELP

#define BACKEND(e, file, name, help) &qsl_gateway_##file##_backend,
static const struct qsl_gateway_backend *const backends[] = {QSL_GATEWAY_MODES(BACKEND)};
#undef BACKEND

void qsl_gateway_defaults(struct qsl_gateway_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_conns = 1024;
    c->out_bytes = 65536;
    c->idle_ms = QSL_GATEWAY_IDLE_DEFAULT;
    c->linger_ms = 1000;
    qsl_engine_config_defaults(&c->engine);
}

int qsl_gateway_mode_available(enum qsl_gateway_mode mode, char *why, size_t len)
{
    if (len)
        why[0] = '\0';
    if ((unsigned)mode >= QSL_GATEWAY_MODE_COUNT) {
        if (len)
            snprintf(why, len, "no such mode");
        return -EINVAL;
    }
    return backends[mode]->available(why, len);
}

uint32_t qsl_gateway_idle_ms(const struct qsl_gateway_config *c)
{
    if (c->idle_ms != QSL_GATEWAY_IDLE_DEFAULT || (unsigned)c->mode >= QSL_GATEWAY_MODE_COUNT)
        return c->idle_ms == QSL_GATEWAY_IDLE_DEFAULT ? 0 : c->idle_ms;
    return backends[c->mode]->default_idle_ms;
}

int qsl_gateway_run(int listen_fd, const struct qsl_gateway_config *c,
                    struct qsl_gateway_stats *st, qsl_stop_flag *stop)
{
    memset(st, 0, sizeof *st);
    qsl_tcpinfo_sum_init(&st->tcp);
    st->started_ns = qsl_clock_ns();
    if (c->max_conns == 0 || c->out_bytes < QSL_WIRE_MAX_FRAME * 2 ||
        (unsigned)c->mode >= QSL_GATEWAY_MODE_COUNT)
        return -EINVAL;
    struct qsl_engine e;
    int rc = qsl_engine_init(&e, &c->engine);
    if (rc != 0)
        return rc;
    struct qsl_gateway_config cc = *c;
    cc.idle_ms = qsl_gateway_idle_ms(c);
    rc = backends[cc.mode]->run(listen_fd, &e, &cc, st, stop);
    qsl_engine_free(&e);
    return rc;
}
