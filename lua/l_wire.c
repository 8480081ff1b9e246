/*
 * l_wire.c - qsl.wire: encode and decode frames of the original protocol.
 *   encode{type="NewOrder", seq=0, order_id=, symbol=, price=, quantity=,
 *          side="buy", order_type="limit", tif="gtc"} -> bytes
 *   decode(bytes [, pos]) -> message, frame_length | nil, error_name
 *   header{type=, version=1, body_len=, seq=0} -> 16 raw bytes (for bad input)
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"
#include "wire.h"


/* Every field of the message is required (a missing one is never a silent
 * zero); seq defaults to 0, order_type to limit and tif to gtc. */
static int option_field(lua_State *L, const char *k, const char *def, const char *const *list)
{
    return qsl_field_option(L, 1, k, def, list);
}

static lua_Integer int_field(lua_State *L, const char *k, lua_Integer lo, lua_Integer hi)
{
    return qsl_field_integer(L, 1, k, 1, 0, lo, hi);
}

#define U32 ((lua_Integer)UINT32_MAX)
#define I64MIN LUA_MININTEGER
#define I64MAX LUA_MAXINTEGER

static int l_encode(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct qsl_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = (uint16_t)(option_field(L, "type", NULL, qsl_wire_type_names) + 1);
    m.seq = (uint64_t)qsl_field_integer(L, 1, "seq", 0, 0, I64MIN, I64MAX);
    switch (m.type) {
    case QSL_WIRE_NEW_ORDER:
        m.u.new_order.order_id = (uint64_t)int_field(L, "order_id", I64MIN, I64MAX);
        m.u.new_order.symbol = (uint32_t)int_field(L, "symbol", 0, U32);
        m.u.new_order.price = int_field(L, "price", I64MIN, I64MAX);
        m.u.new_order.quantity = (uint32_t)int_field(L, "quantity", 0, U32);
        m.u.new_order.side = (uint8_t)option_field(L, "side", NULL, qsl_side_names);
        m.u.new_order.order_type = (uint8_t)option_field(L, "order_type", "limit", qsl_order_type_names);
        m.u.new_order.tif = (uint8_t)option_field(L, "tif", "gtc", qsl_tif_names);
        break;
    case QSL_WIRE_CANCEL_ORDER:
        m.u.cancel_order.order_id = (uint64_t)int_field(L, "order_id", I64MIN, I64MAX);
        m.u.cancel_order.symbol = (uint32_t)int_field(L, "symbol", 0, U32);
        break;
    case QSL_WIRE_MD_TRADE:
        m.u.md_trade.symbol = (uint32_t)int_field(L, "symbol", 0, U32);
        m.u.md_trade.price = int_field(L, "price", I64MIN, I64MAX);
        m.u.md_trade.quantity = (uint32_t)int_field(L, "quantity", 0, U32);
        break;
    case QSL_WIRE_MD_TOP_OF_BOOK:
        m.u.md_top_of_book.symbol = (uint32_t)int_field(L, "symbol", 0, U32);
        lua_getfield(L, 1, "bid");
        lua_getfield(L, 1, "ask");
        m.u.md_top_of_book.bid_present = !lua_isnil(L, -2);
        m.u.md_top_of_book.ask_present = !lua_isnil(L, -1);
        lua_pop(L, 2);
        if (m.u.md_top_of_book.bid_present)
            m.u.md_top_of_book.bid = int_field(L, "bid", I64MIN, I64MAX);
        if (m.u.md_top_of_book.ask_present)
            m.u.md_top_of_book.ask = int_field(L, "ask", I64MIN, I64MAX);
        break;
    case QSL_WIRE_HEARTBEAT:
    case QSL_WIRE_HEARTBEAT_ACK:
        m.u.heartbeat.token = (uint64_t)int_field(L, "token", I64MIN, I64MAX);
        break;
    case QSL_WIRE_ACK:
        m.u.ack.order_id = (uint64_t)int_field(L, "order_id", I64MIN, I64MAX);
        m.u.ack.seq = (uint64_t)int_field(L, "ack_seq", I64MIN, I64MAX);
        break;
    case QSL_WIRE_REJECT:
        m.u.reject.order_id = (uint64_t)int_field(L, "order_id", I64MIN, I64MAX);
        m.u.reject.reason = (uint8_t)option_field(L, "reason", NULL, qsl_wire_reject_names);
        break;
    case QSL_WIRE_FILL:
        m.u.fill.taker_id = (uint64_t)int_field(L, "taker_id", I64MIN, I64MAX);
        m.u.fill.maker_id = (uint64_t)int_field(L, "maker_id", I64MIN, I64MAX);
        m.u.fill.price = int_field(L, "price", I64MIN, I64MAX);
        m.u.fill.quantity = (uint32_t)int_field(L, "quantity", 0, U32);
        m.u.fill.seq = (uint64_t)int_field(L, "fill_seq", I64MIN, I64MAX);
        break;
    }
    uint8_t buf[QSL_WIRE_MAX_FRAME];
    int n = qsl_wire_encode(&m, buf, sizeof buf);
    if (n < 0)
        return luaL_error(L, "encode: invalid message");
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    return 1;
}

static void push_msg(lua_State *L, const struct qsl_wire_msg *m)
{
    lua_newtable(L);
    qsl_set_string(L, "type", qsl_wire_type_names[m->type - 1]);
    qsl_set_integer(L, "seq", (lua_Integer)m->seq);
    switch (m->type) {
    case QSL_WIRE_NEW_ORDER: {
        const struct qsl_wire_new_order *o = &m->u.new_order;
        qsl_set_integer(L, "order_id", (lua_Integer)o->order_id);
        qsl_set_integer(L, "symbol", o->symbol);
        qsl_set_integer(L, "price", o->price);
        qsl_set_integer(L, "quantity", o->quantity);
        qsl_set_string(L, "side", qsl_side_names[o->side]);
        qsl_set_string(L, "order_type", qsl_order_type_names[o->order_type]);
        qsl_set_string(L, "tif", qsl_tif_names[o->tif]);
        break;
    }
    case QSL_WIRE_CANCEL_ORDER:
        qsl_set_integer(L, "order_id", (lua_Integer)m->u.cancel_order.order_id);
        qsl_set_integer(L, "symbol", m->u.cancel_order.symbol);
        break;
    case QSL_WIRE_MD_TRADE:
        qsl_set_integer(L, "symbol", m->u.md_trade.symbol);
        qsl_set_integer(L, "price", m->u.md_trade.price);
        qsl_set_integer(L, "quantity", m->u.md_trade.quantity);
        break;
    case QSL_WIRE_MD_TOP_OF_BOOK:
        qsl_set_integer(L, "symbol", m->u.md_top_of_book.symbol);
        if (m->u.md_top_of_book.bid_present)
            qsl_set_integer(L, "bid", m->u.md_top_of_book.bid);
        if (m->u.md_top_of_book.ask_present)
            qsl_set_integer(L, "ask", m->u.md_top_of_book.ask);
        break;
    case QSL_WIRE_HEARTBEAT:
    case QSL_WIRE_HEARTBEAT_ACK:
        qsl_set_integer(L, "token", (lua_Integer)m->u.heartbeat.token);
        break;
    case QSL_WIRE_ACK:
        qsl_set_integer(L, "order_id", (lua_Integer)m->u.ack.order_id);
        qsl_set_integer(L, "ack_seq", (lua_Integer)m->u.ack.seq);
        break;
    case QSL_WIRE_REJECT:
        qsl_set_integer(L, "order_id", (lua_Integer)m->u.reject.order_id);
        qsl_set_string(L, "reason", qsl_wire_reject_names[m->u.reject.reason]);
        break;
    case QSL_WIRE_FILL:
        qsl_set_integer(L, "taker_id", (lua_Integer)m->u.fill.taker_id);
        qsl_set_integer(L, "maker_id", (lua_Integer)m->u.fill.maker_id);
        qsl_set_integer(L, "price", m->u.fill.price);
        qsl_set_integer(L, "quantity", m->u.fill.quantity);
        qsl_set_integer(L, "fill_seq", (lua_Integer)m->u.fill.seq);
        break;
    }
}

static int l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer pos = luaL_optinteger(L, 2, 1);
    luaL_argcheck(L, pos >= 1 && (size_t)pos <= len + 1, 2, "position out of range");
    struct qsl_wire_msg m;
    size_t flen;
    enum qsl_wire_err e = qsl_wire_decode((const uint8_t *)s + pos - 1, len - (size_t)(pos - 1),
                                          &m, &flen);
    if (e != QSL_WIRE_OK) {
        lua_pushnil(L);
        lua_pushstring(L, qsl_wire_err_name(e));
        return 2;
    }
    push_msg(L, &m);
    lua_pushinteger(L, (lua_Integer)flen);
    return 2;
}

static int l_header(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    uint8_t h[QSL_WIRE_HEADER_SIZE];
    lua_getfield(L, 1, "type");
    lua_Integer type;
    if (lua_type(L, -1) == LUA_TSTRING)
        type = option_field(L, "type", NULL, qsl_wire_type_names) + 1;
    else
        type = int_field(L, "type", 0, 0xffff);
    lua_getfield(L, 1, "version");
    lua_Integer version = lua_isnil(L, -1) ? 1 : int_field(L, "version", 0, 0xffff);
    lua_Integer body_len = int_field(L, "body_len", 0, U32);
    qsl_be16_put(h, (uint16_t)type);
    qsl_be16_put(h + 2, (uint16_t)version);
    qsl_be32_put(h + 4, (uint32_t)body_len);
    qsl_be64_put(h + 8, (uint64_t)qsl_field_integer(L, 1, "seq", 0, 0, I64MIN, I64MAX));
    lua_pushlstring(L, (const char *)h, sizeof h);
    return 1;
}

static int l_frame_size(lua_State *L)
{
    int t = luaL_checkoption(L, 1, NULL, qsl_wire_type_names) + 1;
    lua_pushinteger(L, (lua_Integer)qsl_wire_frame_size((unsigned)t));
    return 1;
}

int luaopen_qsl_wire(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"encode", l_encode}, {"decode", l_decode}, {"header", l_header},
        {"frame_size", l_frame_size}, {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    qsl_set_integer(L, "HEADER_SIZE", QSL_WIRE_HEADER_SIZE);
    qsl_set_integer(L, "MAX_BODY", QSL_WIRE_MAX_BODY);
    return 1;
}
