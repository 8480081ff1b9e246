/*
 * risk.c - pre-trade checks.
 */
#include "risk.h"

void qsl_risk_defaults(struct qsl_risk_limits *l)
{
    l->max_quantity = QSL_RISK_DEFAULT_MAX_QUANTITY;
    l->max_notional = QSL_RISK_DEFAULT_MAX_NOTIONAL;
}
