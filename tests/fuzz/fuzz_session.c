/* fuzz_session.c - the framer fed arbitrary bytes in arbitrary chunkings: never
 * past its buffers, never past the output bound, and chunking never changes
 * the replies. The first byte picks the chunk size, the second the bound. */
#include <stdlib.h>
#include <string.h>

#include "session.h"

static size_t feed_all(const uint8_t *d, size_t n, size_t chunk, size_t cap, uint8_t *out)
{
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    c.max_orders = 256;
    struct qsl_engine e;
    if (qsl_engine_init(&e, &c) != 0)
        abort();
    struct qsl_session s;
    qsl_session_init(&s, &e);
    /* a paused session gets its output drained into the transcript, as a
     * server's socket would take it, and is fed the rest again */
    static uint8_t scratch[16384];
    struct qsl_session_out o = {scratch, 0, cap};
    size_t total = 0;
    for (size_t pos = 0; pos < n && !qsl_session_closed(&s);) {
        size_t k = n - pos < chunk ? n - pos : chunk;
        size_t used = qsl_session_feed(&s, d + pos, k, &o);
        if (used > k || o.len > o.cap || (used < k && !qsl_session_paused(&s) &&
                                          !qsl_session_closed(&s)))
            abort();
        if (qsl_session_paused(&s) && o.len == 0)
            abort();            /* paused with nothing to drain: it would never resume */
        if (qsl_session_paused(&s) || used == k) {
            memcpy(out + total, scratch, o.len);
            total += o.len;
            o.len = 0;
        }
        pos += used;
        while (qsl_session_paused(&s) && used == k) {   /* the paused frame sits in the hold */
            qsl_session_feed(&s, NULL, 0, &o);
            memcpy(out + total, scratch, o.len);
            total += o.len;
            o.len = 0;
        }
    }
    memcpy(out + total, scratch, o.len);
    total += o.len;
    qsl_engine_free(&e);
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 2)
        return 0;
    size_t chunk = (size_t)d[0] % 64 + 1, cap = (size_t)d[1] * 64 + 64;
    d += 2;
    n -= 2;
    /* each request's reply is at most a bounded multiple of its bytes (a 43-byte
     * order fills at most 256 resting makers here) */
    size_t room = n * 52 * 8 + 4096;
    uint8_t *a = malloc(room), *b = malloc(room);
    size_t la = feed_all(d, n, chunk, cap, a);
    size_t lb = feed_all(d, n, n ? n : 1, cap, b);
    if (la != lb || memcmp(a, b, la) != 0)
        abort();
    free(a);
    free(b);
    return 0;
}
