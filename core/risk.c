/*
 * risk.c - pre-trade checks.
 */
#include "risk.h"

void qsl_risk_defaults(struct qsl_risk_limits *l)
{
    l->max_quantity = QSL_RISK_DEFAULT_MAX_QUANTITY;
    l->max_notional = QSL_RISK_DEFAULT_MAX_NOTIONAL;
}

enum qsl_reject qsl_risk_check_market(const struct qsl_risk_limits *l, unsigned side,
                                      qsl_qty qty)
{
    if (side > QSL_SELL)
        return QSL_REJECT_INVALID_SIDE;
    if (qty == 0)
        return QSL_REJECT_INVALID_QUANTITY;
    if (qty > l->max_quantity)
        return QSL_REJECT_MAX_QUANTITY_EXCEEDED;
    return QSL_REJECT_NONE;
}

enum qsl_reject qsl_risk_check_limit(const struct qsl_risk_limits *l, unsigned side,
                                     qsl_price price, qsl_qty qty)
{
    if (side > QSL_SELL)
        return QSL_REJECT_INVALID_SIDE;
    if (price <= 0)
        return QSL_REJECT_INVALID_PRICE;
    if (qty == 0)
        return QSL_REJECT_INVALID_QUANTITY;
    if (qty > l->max_quantity)
        return QSL_REJECT_MAX_QUANTITY_EXCEEDED;
    /* price > 0 here; the division form cannot overflow where price * qty could. */
    if (qty > l->max_notional / (uint64_t)price)
        return QSL_REJECT_MAX_NOTIONAL_EXCEEDED;
    return QSL_REJECT_NONE;
}
