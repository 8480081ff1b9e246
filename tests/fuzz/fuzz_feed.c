/* fuzz_feed.c - the subscriber's datagram decoder (single and packed): a
 * datagram is trusted whole or not at all, and its messages are in order. */
#include <stdlib.h>

#include "feed.h"

struct seen {
    unsigned n;
    uint64_t last;
};

static void on_msg(void *ctx, const struct qsl_wire_msg *m)
{
    struct seen *s = ctx;
    if (s->n > 0 && m->seq != s->last + 1)
        abort();
    s->last = m->seq;
    s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    struct seen s = {0, 0};
    int r = qsl_feed_decode(d, n, on_msg, &s);
    if (r < 0 ? s.n != 0 : (unsigned)r != s.n)
        abort();
    return 0;
}
