/*
 * tcpinfo.c - TCP_INFO read into qsl's own fixed struct, so callers need neither
 * <linux/tcp.h> (which clashes with <netinet/tcp.h>) nor to know which kernel added what.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include "tcpinfo.h"

int qsl_tcpinfo_read(int fd, struct qsl_tcpinfo *t)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return -errno;
    if (len < offsetof(struct tcp_info, tcpi_sndbuf_limited) + sizeof ti.tcpi_sndbuf_limited)
        return -EPROTONOSUPPORT;
    *t = (struct qsl_tcpinfo){
        .rtt_us = ti.tcpi_rtt, .rttvar_us = ti.tcpi_rttvar, .min_rtt_us = ti.tcpi_min_rtt,
        .snd_cwnd = ti.tcpi_snd_cwnd, .retransmits = ti.tcpi_retransmits,
        .total_retrans = ti.tcpi_total_retrans, .lost = ti.tcpi_lost,
        .delivery_rate = ti.tcpi_delivery_rate, .busy_us = ti.tcpi_busy_time,
        .rwnd_limited_us = ti.tcpi_rwnd_limited, .sndbuf_limited_us = ti.tcpi_sndbuf_limited,
        .segs_out = ti.tcpi_segs_out, .segs_in = ti.tcpi_segs_in,
        .notsent_bytes = ti.tcpi_notsent_bytes,
    };
    return 0;
}

void qsl_tcpinfo_sum_init(struct qsl_tcpinfo_sum *s)
{
    memset(s, 0, offsetof(struct qsl_tcpinfo_sum, rtt));
    qsl_hist_init(&s->rtt);
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

void qsl_tcpinfo_add(struct qsl_tcpinfo_sum *s, const struct qsl_tcpinfo *t)
{
    s->total_retrans += t->total_retrans;
    s->lost += t->lost;
    s->segs_out += t->segs_out;
    s->segs_in += t->segs_in;
    s->busy_us += t->busy_us;
    s->rwnd_limited_us += t->rwnd_limited_us;
    s->sndbuf_limited_us += t->sndbuf_limited_us;
    /* min_rtt is ~0U until the first sample: a connection that never measured one */
    if (t->min_rtt_us != UINT32_MAX && (s->min_rtt_us == 0 || t->min_rtt_us < s->min_rtt_us))
        s->min_rtt_us = t->min_rtt_us;
    s->rttvar_max_us = max64(s->rttvar_max_us, t->rttvar_us);
    s->notsent_max = max64(s->notsent_max, t->notsent_bytes);
    s->delivery_rate_max = max64(s->delivery_rate_max, t->delivery_rate);
    if (s->connections == 0 || t->snd_cwnd < s->cwnd_min)
        s->cwnd_min = t->snd_cwnd;
    qsl_hist_record(&s->rtt, (uint64_t)t->rtt_us * 1000u);
    s->connections++;
}

int qsl_tcpinfo_account(struct qsl_tcpinfo_sum *s, int fd, struct qsl_tcpinfo *t)
{
    int rc = qsl_tcpinfo_read(fd, t);
    if (rc == 0)
        qsl_tcpinfo_add(s, t);
    else
        s->unread++;
    return rc;
}
