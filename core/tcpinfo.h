/*
 * tcpinfo.h - the kernel's own account of a TCP connection (TCP_INFO): its round trip as
 * TCP measures it, its congestion window, what it retransmitted and lost, and what held it
 * back. Read when a connection ends; summed over a run's connections.
 */
#ifndef QSL_TCPINFO_H
#define QSL_TCPINFO_H

#include <stdint.h>

#include "hist.h"

struct qsl_tcpinfo {
    uint32_t rtt_us, rttvar_us, min_rtt_us;     /* smoothed, its variation, the least seen */
    uint32_t snd_cwnd;                          /* segments */
    uint32_t retransmits;       /* unrecovered RTO retransmits now (tcpi_retransmits) */
    uint32_t total_retrans;     /* segments retransmitted over the connection's life */
    uint32_t lost;              /* segments now thought lost */
    uint64_t delivery_rate;     /* bytes/s, the latest sample */
    uint64_t busy_us, rwnd_limited_us, sndbuf_limited_us;
    uint32_t segs_out, segs_in;
    uint32_t notsent_bytes;     /* written, not yet sent */
};

/* 0, or a negative errno (-EPROTONOSUPPORT when the kernel's struct ends before
 * tcpi_sndbuf_limited, 4.10's last field read here). */
int qsl_tcpinfo_read(int fd, struct qsl_tcpinfo *t);

/* A run's connections: counts summed, round trips in a histogram (ns), extremes. */
struct qsl_tcpinfo_sum {
    uint64_t connections, unread;   /* read; ended without a readable TCP_INFO */
    uint64_t total_retrans, lost, segs_out, segs_in;
    uint64_t busy_us, rwnd_limited_us, sndbuf_limited_us;
    uint64_t min_rtt_us;            /* the least over connections (0: none read) */
    uint64_t rttvar_max_us, notsent_max, cwnd_min, delivery_rate_max;
    struct qsl_hist rtt;            /* each connection's smoothed rtt, in ns */
};

void qsl_tcpinfo_sum_init(struct qsl_tcpinfo_sum *s);
void qsl_tcpinfo_add(struct qsl_tcpinfo_sum *s, const struct qsl_tcpinfo *t);
/* Reads fd's TCP_INFO into t and adds it to s (or counts it unread): for a connection about
 * to close. 0, or qsl_tcpinfo_read's error. */
int qsl_tcpinfo_account(struct qsl_tcpinfo_sum *s, int fd, struct qsl_tcpinfo *t);

#endif
