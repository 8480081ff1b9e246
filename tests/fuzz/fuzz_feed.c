/* fuzz_feed.c - the subscriber's datagram decoder (single and packed): a
 * datagram is trusted whole or not at all, its messages are in order, and the
 * single-pass decoder the subscriber uses (qsl_feed_decode_run) agrees with it. */
#include <stdlib.h>

#include "feed.h"

struct seen {
    unsigned n;
    uint64_t last;
    uint64_t seqs[QSL_FEED_DGRAM_MSGS_MAX];
};

static void on_msg(void *ctx, const struct qsl_wire_msg *m)
{
    struct seen *s = ctx;
    if (s->n > 0 && m->seq != s->last + 1)
        abort();
    s->last = m->seq;
    if (s->n < QSL_FEED_DGRAM_MSGS_MAX)
        s->seqs[s->n] = m->seq;
    s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static struct seen s;
    s.n = 0;
    int r = qsl_feed_decode(d, n, on_msg, &s);
    if (r < 0 ? s.n != 0 : (unsigned)r != s.n)
        abort();
    if (n > QSL_FEED_DGRAM_MAX)
        return 0;                   /* no UDP datagram is longer */
    uint64_t first = 0;
    int q = qsl_feed_decode_run(d, n, &first);
    if (q != r)
        abort();
    for (int i = 0; i < q && i < (int)QSL_FEED_DGRAM_MSGS_MAX; i++)
        if (first + (uint64_t)i != s.seqs[i])
            abort();
    return 0;
}
