/*
 * wire.c - encode and strictly decode the original binary protocol.
 */
#include <errno.h>

#include "wire.h"

static const uint8_t body_sizes[QSL_WIRE_TYPE_MAX + 1] = {
    [QSL_WIRE_NEW_ORDER] = 27,
    [QSL_WIRE_CANCEL_ORDER] = 12,
    [QSL_WIRE_MD_TRADE] = 16,
    [QSL_WIRE_MD_TOP_OF_BOOK] = 22,
    [QSL_WIRE_HEARTBEAT] = 8,
    [QSL_WIRE_HEARTBEAT_ACK] = 8,
    [QSL_WIRE_ACK] = 16,
    [QSL_WIRE_REJECT] = 9,
    [QSL_WIRE_FILL] = 36,
};

size_t qsl_wire_body_size(unsigned type)
{
    return type <= QSL_WIRE_TYPE_MAX ? body_sizes[type] : 0;
}

size_t qsl_wire_frame_size(unsigned type)
{
    size_t body = qsl_wire_body_size(type);
    return body ? QSL_WIRE_HEADER_SIZE + body : 0;
}

/* ------------------------------------------------------------------ encode */

static int enums_valid(const struct qsl_wire_msg *m)
{
    switch (m->type) {
    case QSL_WIRE_NEW_ORDER:
        return m->u.new_order.side <= QSL_SELL && m->u.new_order.order_type <= QSL_MARKET &&
               m->u.new_order.tif <= QSL_IOC;
    case QSL_WIRE_MD_TOP_OF_BOOK:
        return m->u.md_top_of_book.bid_present <= 1 && m->u.md_top_of_book.ask_present <= 1;
    case QSL_WIRE_REJECT:
        return m->u.reject.reason < QSL_REJECT_COUNT;
    default:
        return 1;
    }
}

static void encode_body(const struct qsl_wire_msg *m, uint8_t *b)
{
    switch (m->type) {
    case QSL_WIRE_NEW_ORDER: {
        const struct qsl_wire_new_order *o = &m->u.new_order;
        qsl_be64_put(b, o->order_id);
        qsl_be32_put(b + 8, o->symbol);
        qsl_be64_put(b + 12, (uint64_t)o->price);
        qsl_be32_put(b + 20, o->quantity);
        b[24] = o->side;
        b[25] = o->order_type;
        b[26] = o->tif;
        break;
    }
    case QSL_WIRE_CANCEL_ORDER:
        qsl_be64_put(b, m->u.cancel_order.order_id);
        qsl_be32_put(b + 8, m->u.cancel_order.symbol);
        break;
    case QSL_WIRE_MD_TRADE:
        qsl_be32_put(b, m->u.md_trade.symbol);
        qsl_be64_put(b + 4, (uint64_t)m->u.md_trade.price);
        qsl_be32_put(b + 12, m->u.md_trade.quantity);
        break;
    case QSL_WIRE_MD_TOP_OF_BOOK: {
        const struct qsl_wire_md_top_of_book *t = &m->u.md_top_of_book;
        qsl_be32_put(b, t->symbol);
        b[4] = t->bid_present;
        qsl_be64_put(b + 5, t->bid_present ? (uint64_t)t->bid : 0);
        b[13] = t->ask_present;
        qsl_be64_put(b + 14, t->ask_present ? (uint64_t)t->ask : 0);
        break;
    }
    case QSL_WIRE_HEARTBEAT:
    case QSL_WIRE_HEARTBEAT_ACK:
        qsl_be64_put(b, m->u.heartbeat.token);
        break;
    case QSL_WIRE_ACK:
        qsl_wire_put_ack(b, m->u.ack.order_id, m->u.ack.seq);
        break;
    case QSL_WIRE_REJECT:
        qsl_wire_put_reject(b, m->u.reject.order_id, m->u.reject.reason);
        break;
    case QSL_WIRE_FILL:
        qsl_wire_put_fill(b, &m->u.fill);
        break;
    }
}

int qsl_wire_encode(const struct qsl_wire_msg *m, uint8_t *buf, size_t cap)
{
    size_t body = qsl_wire_body_size(m->type);
    if (body == 0 || !enums_valid(m))
        return -EINVAL;
    if (cap < QSL_WIRE_HEADER_SIZE + body)
        return -ENOSPC;
    qsl_wire_put_header(buf, m->type, (uint32_t)body, m->seq);
    encode_body(m, buf + QSL_WIRE_HEADER_SIZE);
    return (int)(QSL_WIRE_HEADER_SIZE + body);
}

/* ------------------------------------------------------------------ decode */

enum qsl_wire_err qsl_wire_decode_header(const uint8_t *buf, size_t len,
                                         struct qsl_wire_header *h)
{
    if (len < QSL_WIRE_HEADER_SIZE)
        return QSL_WIRE_TRUNCATED;
    h->type = qsl_be16_get(buf);
    h->version = qsl_be16_get(buf + 2);
    h->body_len = qsl_be32_get(buf + 4);
    h->seq = qsl_be64_get(buf + 8);
    if (h->version != QSL_WIRE_VERSION)
        return QSL_WIRE_UNSUPPORTED_VERSION;
    if (qsl_wire_body_size(h->type) == 0)
        return QSL_WIRE_UNKNOWN_TYPE;
    if (h->body_len > QSL_WIRE_MAX_BODY)
        return QSL_WIRE_BODY_TOO_LARGE;
    return QSL_WIRE_OK;
}

static void decode_body(const uint8_t *b, struct qsl_wire_msg *m)
{
    switch (m->type) {
    case QSL_WIRE_NEW_ORDER: {
        struct qsl_wire_new_order *o = &m->u.new_order;
        o->order_id = qsl_be64_get(b);
        o->symbol = qsl_be32_get(b + 8);
        o->price = (qsl_price)qsl_be64_get(b + 12);
        o->quantity = qsl_be32_get(b + 20);
        o->side = b[24];
        o->order_type = b[25];
        o->tif = b[26];
        break;
    }
    case QSL_WIRE_CANCEL_ORDER:
        m->u.cancel_order.order_id = qsl_be64_get(b);
        m->u.cancel_order.symbol = qsl_be32_get(b + 8);
        break;
    case QSL_WIRE_MD_TRADE:
        m->u.md_trade.symbol = qsl_be32_get(b);
        m->u.md_trade.price = (qsl_price)qsl_be64_get(b + 4);
        m->u.md_trade.quantity = qsl_be32_get(b + 12);
        break;
    case QSL_WIRE_MD_TOP_OF_BOOK: {
        struct qsl_wire_md_top_of_book *t = &m->u.md_top_of_book;
        t->symbol = qsl_be32_get(b);
        t->bid_present = b[4];
        t->bid = (qsl_price)qsl_be64_get(b + 5);
        t->ask_present = b[13];
        t->ask = (qsl_price)qsl_be64_get(b + 14);
        break;
    }
    case QSL_WIRE_HEARTBEAT:
    case QSL_WIRE_HEARTBEAT_ACK:
        m->u.heartbeat.token = qsl_be64_get(b);
        break;
    case QSL_WIRE_ACK:
        m->u.ack.order_id = qsl_be64_get(b);
        m->u.ack.seq = qsl_be64_get(b + 8);
        break;
    case QSL_WIRE_REJECT:
        m->u.reject.order_id = qsl_be64_get(b);
        m->u.reject.reason = b[8];
        break;
    case QSL_WIRE_FILL:
        m->u.fill.taker_id = qsl_be64_get(b);
        m->u.fill.maker_id = qsl_be64_get(b + 8);
        m->u.fill.price = (qsl_price)qsl_be64_get(b + 16);
        m->u.fill.quantity = qsl_be32_get(b + 24);
        m->u.fill.seq = qsl_be64_get(b + 28);
        break;
    }
}

/* enums_valid's rules, read from the body's bytes (the offsets encode_body writes). */
static int body_enums_valid(unsigned type, const uint8_t *b)
{
    switch (type) {
    case QSL_WIRE_NEW_ORDER:
        return b[24] <= QSL_SELL && b[25] <= QSL_MARKET && b[26] <= QSL_IOC;
    case QSL_WIRE_MD_TOP_OF_BOOK:
        return b[4] <= 1 && b[13] <= 1;
    case QSL_WIRE_REJECT:
        return b[8] < QSL_REJECT_COUNT;
    default:
        return 1;
    }
}

enum qsl_wire_err qsl_wire_check(const uint8_t *buf, size_t len, struct qsl_wire_header *h,
                                 size_t *frame_len)
{
    enum qsl_wire_err e = qsl_wire_decode_header(buf, len, h);
    if (e != QSL_WIRE_OK)
        return e;
    size_t body = qsl_wire_body_size(h->type);
    if (h->body_len != body)
        return QSL_WIRE_BODY_LENGTH_MISMATCH;
    if (len - QSL_WIRE_HEADER_SIZE < body)
        return QSL_WIRE_TRUNCATED;
    if (!body_enums_valid(h->type, buf + QSL_WIRE_HEADER_SIZE))
        return QSL_WIRE_INVALID_ENUM_VALUE;
    *frame_len = QSL_WIRE_HEADER_SIZE + body;
    return QSL_WIRE_OK;
}

enum qsl_wire_err qsl_wire_decode_body(const struct qsl_wire_header *h, const uint8_t *body,
                                       struct qsl_wire_msg *m)
{
    if (!body_enums_valid(h->type, body))
        return QSL_WIRE_INVALID_ENUM_VALUE;
    m->type = h->type;
    m->seq = h->seq;
    decode_body(body, m);
    return QSL_WIRE_OK;
}

enum qsl_wire_err qsl_wire_decode(const uint8_t *buf, size_t len,
                                  struct qsl_wire_msg *m, size_t *frame_len)
{
    struct qsl_wire_header h;
    size_t flen;
    enum qsl_wire_err e = qsl_wire_check(buf, len, &h, &flen);
    if (e != QSL_WIRE_OK)
        return e;
    m->type = h.type;
    m->seq = h.seq;
    decode_body(buf + QSL_WIRE_HEADER_SIZE, m);
    if (frame_len)
        *frame_len = flen;
    return QSL_WIRE_OK;
}

/* ------------------------------------------------------------------ names */

const char *qsl_wire_err_name(enum qsl_wire_err e)
{
    static const char *const names[] = {
        "Ok", "Truncated", "UnsupportedVersion", "UnknownType",
        "BodyTooLarge", "BodyLengthMismatch", "InvalidEnumValue",
    };
    return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "Unknown";
}

/* NULL-terminated word lists, indexed by the wire value (type names from 1). */
const char *const qsl_wire_type_names[] = {
    "NewOrder", "CancelOrder", "MdTrade", "MdTopOfBook",
    "Heartbeat", "HeartbeatAck", "Ack", "Reject", "Fill", NULL,
};
const char *const qsl_wire_reject_names[] = {
    "None", "UnknownSymbol", "InvalidPrice", "InvalidQuantity", "InvalidSide",
    "MaxQuantityExceeded", "MaxNotionalExceeded", "DuplicateOrderId",
    "UnknownOrder", "StorageExhausted", NULL,
};
const char *const qsl_side_names[] = {"buy", "sell", NULL};
const char *const qsl_order_type_names[] = {"limit", "market", NULL};
const char *const qsl_tif_names[] = {"gtc", "ioc", NULL};

const char *qsl_wire_type_name(unsigned type)
{
    return type >= 1 && type <= QSL_WIRE_TYPE_MAX ? qsl_wire_type_names[type - 1] : NULL;
}

const char *qsl_wire_reject_name(unsigned reason)
{
    return reason < QSL_REJECT_COUNT ? qsl_wire_reject_names[reason] : NULL;
}
