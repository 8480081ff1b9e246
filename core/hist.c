/*
 * hist.c - log-linear latency histogram.
 */
#include <errno.h>
#include <string.h>

#include "hist.h"

void qsl_hist_init(struct qsl_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

unsigned qsl_hist_index(uint64_t v)
{
    if (v < 128)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 6;                   /* v >> shift is in [64, 127] */
    return 128 + (shift - 1) * 64 + (unsigned)((v >> shift) - 64);
}

uint64_t qsl_hist_lower(unsigned index)
{
    if (index < 128)
        return index;
    unsigned shift = (index - 128) / 64 + 1;
    return (uint64_t)(64 + (index - 128) % 64) << shift;
}

uint64_t qsl_hist_upper(unsigned index)
{
    return index + 1 < QSL_HIST_BUCKETS ? qsl_hist_lower(index + 1) - 1 : UINT64_MAX;
}

int qsl_hist_record_n(struct qsl_hist *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return 0;
    if (n > QSL_HIST_COUNT_MAX - h->count)
        return -EOVERFLOW;
    h->bucket[qsl_hist_index(v)] += n;
    h->count += n;
    h->sum += (double)v * (double)n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    return 0;
}

void qsl_hist_record(struct qsl_hist *h, uint64_t v)
{
    qsl_hist_record_n(h, v, 1);
}

int qsl_hist_merge(struct qsl_hist *into, const struct qsl_hist *from)
{
    if (from->count == 0)
        return 0;
    if (from->count > QSL_HIST_COUNT_MAX - into->count)
        return -EOVERFLOW;
    for (unsigned i = 0; i < QSL_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
    return 0;
}

uint64_t qsl_hist_percentile(const struct qsl_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    /* the rank-th smallest value, rank = ceil(p% of count), at least 1 */
    double want = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < QSL_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t up = qsl_hist_upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}

double qsl_hist_mean(const struct qsl_hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
