/*
 * types.h - the exchange's vocabulary, shared by every core module.
 *
 * Enum values are the wire values of the original protocol (docs/protocol.md):
 * a value is never renumbered.
 */
#ifndef QSL_TYPES_H
#define QSL_TYPES_H

#include <stdint.h>

/* On the gateway's per-request path: these functions are placed together (.text.hot), so
 * a round of requests touches a few pages of code, not a dozen spread over the binary.
 * Without PCID (this machine's CPUs), every system call flushes the TLB under page-table
 * isolation, and each page touched after it pays a page walk. */
#define QSL_HOT __attribute__((hot))

typedef uint64_t qsl_order_id;
typedef uint32_t qsl_symbol;
typedef int64_t qsl_price;      /* integer ticks; carried as two's complement */
typedef uint32_t qsl_qty;

enum qsl_side { QSL_BUY = 0, QSL_SELL = 1 };
enum qsl_order_type { QSL_LIMIT = 0, QSL_MARKET = 1 };
enum qsl_tif { QSL_GTC = 0, QSL_IOC = 1 };

enum qsl_reject {
    QSL_REJECT_NONE = 0,
    QSL_REJECT_UNKNOWN_SYMBOL = 1,
    QSL_REJECT_INVALID_PRICE = 2,
    QSL_REJECT_INVALID_QUANTITY = 3,
    QSL_REJECT_INVALID_SIDE = 4,
    QSL_REJECT_MAX_QUANTITY_EXCEEDED = 5,
    QSL_REJECT_MAX_NOTIONAL_EXCEEDED = 6,
    QSL_REJECT_DUPLICATE_ORDER_ID = 7,
    QSL_REJECT_UNKNOWN_ORDER = 8,
    QSL_REJECT_STORAGE_EXHAUSTED = 9
};
#define QSL_REJECT_COUNT 10

#endif
