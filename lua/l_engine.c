/*
 * l_engine.c - qsl.engine: drive a matching engine from Lua (tests, custom
 * clients, bad-input scenarios), and run the synthetic flow in C.
 */
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "clock.h"
#include "engine.h"
#include "flow.h"
#include "host.h"
#include "wire.h"

#define ENGINE_META "qsl.engine"

struct lengine {
    struct qsl_engine e;
    int open;
};

static const char *const kinds[] = {"accepted", "canceled", "modified", "trade", "top_of_book"};

static struct qsl_engine *check_engine(lua_State *L)
{
    struct lengine *le = luaL_checkudata(L, 1, ENGINE_META);
    if (!le->open)
        luaL_error(L, "attempt to use a closed engine");
    return &le->e;
}

static lua_Integer opt_field(lua_State *L, int t, const char *k, lua_Integer def,
                             lua_Integer lo, lua_Integer hi)
{
    return qsl_field_integer(L, t, k, 0, def, lo, hi);
}

static int l_new(lua_State *L)
{
    struct qsl_engine_config c;
    qsl_engine_config_defaults(&c);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        c.symbols = (uint32_t)opt_field(L, 1, "symbols", c.symbols, 1, 1 << 20);
        if (lua_getfield(L, 1, "capacity") != LUA_TNIL)
            luaL_argerror(L, 1, "capacity= is gone: the book grows as orders rest; "
                                "max_orders= bounds it (0: no bound)");
        lua_pop(L, 1);
        c.max_orders = (uint32_t)opt_field(L, 1, "max_orders", c.max_orders, 0,
                                           QSL_BOOK_ORDERS_MAX);
        if (lua_getfield(L, 1, "huge_pages") != LUA_TNIL) {
            if (!lua_isboolean(L, -1))
                luaL_argerror(L, 1, "huge_pages= is a boolean");
            c.huge_pages = (uint8_t)lua_toboolean(L, -1);
        }
        lua_pop(L, 1);
        c.risk.max_quantity = (qsl_qty)opt_field(L, 1, "max_quantity", c.risk.max_quantity, 1,
                                                 UINT32_MAX);
        c.risk.max_notional = (uint64_t)opt_field(L, 1, "max_notional",
                                                  (lua_Integer)c.risk.max_notional, 1,
                                                  LUA_MAXINTEGER);
    }
    struct lengine *le = lua_newuserdatauv(L, sizeof *le, 0);
    le->open = 0;
    luaL_setmetatable(L, ENGINE_META);
    if (qsl_engine_init(&le->e, &c) != 0)
        return luaL_error(L, "engine: out of memory for %d symbols", (int)c.symbols);
    le->open = 1;
    return 1;
}

/* Collects events into the Lua table on top of the stack. */
static void push_event(void *ctx, const struct qsl_event *ev)
{
    lua_State *L = ctx;
    lua_createtable(L, 0, 8);
    lua_pushstring(L, kinds[ev->kind]);
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, ev->symbol);
    lua_setfield(L, -2, "symbol");
    if (ev->kind == QSL_EV_TOP_OF_BOOK) {
        if (ev->bid_present) {
            lua_pushinteger(L, ev->bid);
            lua_setfield(L, -2, "bid");
        }
        if (ev->ask_present) {
            lua_pushinteger(L, ev->ask);
            lua_setfield(L, -2, "ask");
        }
    } else {
        lua_pushinteger(L, (lua_Integer)ev->seq);
        lua_setfield(L, -2, "seq");
        lua_pushinteger(L, (lua_Integer)ev->order_id);
        lua_setfield(L, -2, ev->kind == QSL_EV_TRADE ? "taker_id" : "order_id");
    }
    if (ev->kind == QSL_EV_TRADE) {
        lua_pushinteger(L, (lua_Integer)ev->maker_id);
        lua_setfield(L, -2, "maker_id");
        lua_pushinteger(L, ev->price);
        lua_setfield(L, -2, "price");
        lua_pushinteger(L, ev->qty);
        lua_setfield(L, -2, "quantity");
    }
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

static int finish(lua_State *L, enum qsl_reject why)
{
    if (why == QSL_REJECT_NONE)
        return 1;
    lua_pushstring(L, qsl_wire_reject_name(why));
    return 2;
}

static int l_submit(lua_State *L)
{
    struct qsl_engine *e = check_engine(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct qsl_order_req r;
    memset(&r, 0, sizeof r);
    r.order_id = (uint64_t)qsl_field_integer(L, 2, "order_id", 1, 0, LUA_MININTEGER, LUA_MAXINTEGER);
    r.symbol = (qsl_symbol)qsl_field_integer(L, 2, "symbol", 1, 0, 0, UINT32_MAX);
    r.side = (uint8_t)qsl_field_option(L, 2, "side", NULL, qsl_side_names);
    r.order_type = (uint8_t)qsl_field_option(L, 2, "order_type", "limit", qsl_order_type_names);
    r.tif = (uint8_t)qsl_field_option(L, 2, "tif", "gtc", qsl_tif_names);
    /* a market order has no price; a limit order must name one */
    r.price = qsl_field_integer(L, 2, "price", r.order_type == QSL_LIMIT, 0, LUA_MININTEGER,
                                LUA_MAXINTEGER);
    r.qty = (qsl_qty)qsl_field_integer(L, 2, "quantity", 1, 0, 0, UINT32_MAX);
    lua_newtable(L);
    return finish(L, qsl_engine_submit(e, &r, push_event, L));
}

static int l_cancel(lua_State *L)
{
    struct qsl_engine *e = check_engine(L);
    lua_Integer sym = luaL_checkinteger(L, 2), id = luaL_checkinteger(L, 3);
    luaL_argcheck(L, sym >= 0 && sym <= UINT32_MAX, 2, "symbol out of range");
    lua_newtable(L);
    return finish(L, qsl_engine_cancel(e, (qsl_symbol)sym, (uint64_t)id, push_event, L));
}

static int l_modify(lua_State *L)
{
    struct qsl_engine *e = check_engine(L);
    lua_Integer sym = luaL_checkinteger(L, 2), id = luaL_checkinteger(L, 3);
    lua_Integer price = luaL_checkinteger(L, 4), qty = luaL_checkinteger(L, 5);
    luaL_argcheck(L, sym >= 0 && sym <= UINT32_MAX, 2, "symbol out of range");
    luaL_argcheck(L, qty >= 0 && qty <= UINT32_MAX, 5, "quantity out of range");
    lua_newtable(L);
    return finish(L, qsl_engine_modify(e, (qsl_symbol)sym, (uint64_t)id, price, (qsl_qty)qty,
                                       push_event, L));
}

static const struct qsl_book *check_book(lua_State *L, struct qsl_engine *e, int idx)
{
    lua_Integer sym = luaL_checkinteger(L, idx);
    const struct qsl_book *b = sym >= 0 && sym <= UINT32_MAX ? qsl_engine_book(e, (qsl_symbol)sym) : NULL;
    if (!b)
        luaL_argerror(L, idx, "unknown symbol");
    return b;
}

static int l_best(lua_State *L)
{
    struct qsl_engine *e = check_engine(L);
    const struct qsl_book *b = check_book(L, e, 2);
    qsl_price p;
    if (qsl_book_best(b, QSL_BUY, &p))
        lua_pushinteger(L, p);
    else
        lua_pushnil(L);
    if (qsl_book_best(b, QSL_SELL, &p))
        lua_pushinteger(L, p);
    else
        lua_pushnil(L);
    return 2;
}

struct depth_walk {
    lua_State *L;
    uint32_t max, n;
};

static int depth_level(void *ctx, qsl_price price, uint64_t total, uint32_t count)
{
    struct depth_walk *w = ctx;
    lua_State *L = w->L;
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, price);
    lua_setfield(L, -2, "price");
    lua_pushinteger(L, (lua_Integer)total);
    lua_setfield(L, -2, "quantity");
    lua_pushinteger(L, count);
    lua_setfield(L, -2, "orders");
    lua_rawseti(L, -2, ++w->n);
    return w->n < w->max;
}

static int l_depth(lua_State *L)
{
    struct qsl_engine *e = check_engine(L);
    const struct qsl_book *b = check_book(L, e, 2);
    int side = luaL_checkoption(L, 3, NULL, qsl_side_names);
    lua_Integer max = qsl_opt_range(L, 4, 10, 0, 1 << 20);
    lua_newtable(L);
    struct depth_walk w = {L, (uint32_t)max, 0};
    if (max > 0)
        qsl_book_walk(b, (enum qsl_side)side, depth_level, &w);
    return 1;
}

static void push_stats(lua_State *L, const struct qsl_engine *e)
{
    lua_newtable(L);
    const struct qsl_engine_stats *s = &e->stats;
    struct { const char *k; uint64_t v; } f[] = {
        {"accepted", s->accepted}, {"canceled", s->canceled}, {"modified", s->modified},
        {"trades", s->trades}, {"top_of_book", s->top_of_book}, {"resting", e->pool.used},
        {"bytes", qsl_engine_bytes(e)},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        lua_pushinteger(L, (lua_Integer)f[i].v);
        lua_setfield(L, -2, f[i].k);
    }
    lua_newtable(L);
    for (int r = 1; r < QSL_REJECT_COUNT; r++) {
        lua_pushinteger(L, (lua_Integer)s->rejects[r]);
        lua_setfield(L, -2, qsl_wire_reject_name((unsigned)r));
    }
    lua_setfield(L, -2, "rejects");
}

static int l_stats(lua_State *L)
{
    push_stats(L, check_engine(L));
    return 1;
}

/* run_flow{seed=42, orders=20000}: the synthetic flow, in C; returns stats and ns/order. */
static int l_run_flow(lua_State *L)
{
    struct qsl_engine *e = check_engine(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    uint64_t seed = (uint64_t)opt_field(L, 2, "seed", 42, 0, LUA_MAXINTEGER);
    lua_Integer orders = opt_field(L, 2, "orders", 20000, 1, 1000000000);
    int gen = qsl_field_option(L, 2, "flow", "original", qsl_flow_gen_names);
    uint32_t symbols = e->symbols < QSL_FLOW_MAX_SYMBOLS ? e->symbols : QSL_FLOW_MAX_SYMBOLS;
    struct qsl_flow *f = lua_newuserdatauv(L, sizeof *f, 0);      /* freed by the GC */
    qsl_flow_init(f, (enum qsl_flow_gen)gen, seed, symbols);
    uint64_t t0 = qsl_clock_ns();
    for (lua_Integer i = 0; i < orders; i++) {
        struct qsl_flow_item it;
        qsl_flow_next(f, e, &it);
        qsl_flow_apply(e, &it, NULL, NULL);
        if ((i & 0xffff) == 0)
            qsl_host_check_interrupt(L);
    }
    double ns = (double)(qsl_clock_ns() - t0);
    push_stats(L, e);
    lua_pushnumber(L, ns / (double)orders);
    lua_setfield(L, -2, "ns_per_order");
    return 1;
}

static int engine_close(lua_State *L)
{
    struct lengine *le = luaL_checkudata(L, 1, ENGINE_META);
    if (le->open) {
        qsl_engine_free(&le->e);
        le->open = 0;
    }
    return 0;
}

int luaopen_qsl_engine(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"submit", l_submit}, {"cancel", l_cancel}, {"modify", l_modify}, {"best", l_best},
        {"depth", l_depth},   {"stats", l_stats},   {"run_flow", l_run_flow},
        {"close", engine_close}, {NULL, NULL},
    };
    static const luaL_Reg meta[] = {{"__gc", engine_close}, {"__close", engine_close}, {NULL, NULL}};
    qsl_host_class(L, ENGINE_META, meta, methods, "__index");
    static const luaL_Reg funcs[] = {{"new", l_new}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
