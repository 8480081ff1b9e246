/*
 * risk.h - pre-trade checks, in the original's order: price, quantity,
 * maximum quantity, maximum notional (limit orders only; a market order has
 * no price to multiply). The side is checked first; the wire cannot carry a
 * bad side (the decoder refuses it), so only a direct engine caller sees
 * InvalidSide. Defaults are the original gateway's limits.
 */
#ifndef QSL_RISK_H
#define QSL_RISK_H

#include "types.h"

struct qsl_risk_limits {
    qsl_qty max_quantity;
    uint64_t max_notional;      /* price x quantity, in ticks x units */
};

#define QSL_RISK_DEFAULT_MAX_QUANTITY 1000000u
#define QSL_RISK_DEFAULT_MAX_NOTIONAL 1000000000ull

void qsl_risk_defaults(struct qsl_risk_limits *l);
enum qsl_reject qsl_risk_check_limit(const struct qsl_risk_limits *l, unsigned side,
                                     qsl_price price, qsl_qty qty);
enum qsl_reject qsl_risk_check_market(const struct qsl_risk_limits *l, unsigned side,
                                      qsl_qty qty);

#endif
