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

/* Inline: every order pays for them. */
static inline enum qsl_reject qsl_risk_check_market(const struct qsl_risk_limits *l,
                                                    unsigned side, qsl_qty qty)
{
    if (side > QSL_SELL)
        return QSL_REJECT_INVALID_SIDE;
    if (qty == 0)
        return QSL_REJECT_INVALID_QUANTITY;
    if (qty > l->max_quantity)
        return QSL_REJECT_MAX_QUANTITY_EXCEEDED;
    return QSL_REJECT_NONE;
}

static inline enum qsl_reject qsl_risk_check_limit(const struct qsl_risk_limits *l,
                                                   unsigned side, qsl_price price, qsl_qty qty)
{
    if (side > QSL_SELL)
        return QSL_REJECT_INVALID_SIDE;
    if (price <= 0)
        return QSL_REJECT_INVALID_PRICE;
    if (qty == 0)
        return QSL_REJECT_INVALID_QUANTITY;
    if (qty > l->max_quantity)
        return QSL_REJECT_MAX_QUANTITY_EXCEEDED;
    uint64_t notional;      /* an overflowing product is over any limit; no division */
    if (__builtin_mul_overflow((uint64_t)price, (uint64_t)qty, &notional) ||
        notional > l->max_notional)
        return QSL_REJECT_MAX_NOTIONAL_EXCEEDED;
    return QSL_REJECT_NONE;
}

#endif
