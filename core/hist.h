/*
 * hist.h - latency histogram with bounded relative error.
 *
 * Log-linear buckets: values below 128 are exact; above, each power of two is
 * split into 64 buckets, so a bucket spans at most 1/64 of its lower bound.
 * A percentile is reported as the upper bound of its bucket (never an
 * under-estimate), clamped to the largest value seen: relative error < 1.6%.
 * Values are unsigned 64-bit (nanoseconds, typically). Fixed size, no
 * allocation: recording is a few instructions.
 */
#ifndef QSL_HIST_H
#define QSL_HIST_H

#include <stdint.h>

#define QSL_HIST_BUCKETS (128 + 57 * 64)

struct qsl_hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t bucket[QSL_HIST_BUCKETS];
};

void qsl_hist_init(struct qsl_hist *h);
void qsl_hist_record(struct qsl_hist *h, uint64_t v);
/* n values v at once; and one histogram into another. 0, or -EOVERFLOW (nothing
 * recorded) when the count would pass QSL_HIST_COUNT_MAX. */
int qsl_hist_record_n(struct qsl_hist *h, uint64_t v, uint64_t n);
int qsl_hist_merge(struct qsl_hist *into, const struct qsl_hist *from);
/* The largest count a histogram holds: what a signed 64-bit integer (a Lua integer,
 * a JSON reader's int64) can carry. */
#define QSL_HIST_COUNT_MAX ((uint64_t)INT64_MAX)

/* Value at percentile p (0..100); 0 for an empty histogram. */
uint64_t qsl_hist_percentile(const struct qsl_hist *h, double p);
double qsl_hist_mean(const struct qsl_hist *h);

/* Bucket geometry, exposed for tests and exporters. */
unsigned qsl_hist_index(uint64_t v);
uint64_t qsl_hist_lower(unsigned index);
uint64_t qsl_hist_upper(unsigned index);

#endif
