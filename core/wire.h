/*
 * wire.h - the binary protocol of the original system, byte for byte.
 *
 * Every frame is a 16-byte big-endian header (type u16, version u16,
 * body_len u32, seq u64) and a fixed-size body. Decoding is strict and
 * reports the first error in the original's order: Truncated header,
 * UnsupportedVersion, UnknownType, BodyTooLarge, BodyLengthMismatch,
 * Truncated body, InvalidEnumValue. Nothing here reads past `len`.
 */
#ifndef QSL_WIRE_H
#define QSL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "types.h"

#define QSL_WIRE_HEADER_SIZE 16u
#define QSL_WIRE_VERSION 1u
#define QSL_WIRE_MAX_BODY 4096u
#define QSL_WIRE_MAX_FIXED_BODY 36u     /* Fill, the largest body */
#define QSL_WIRE_MAX_FRAME (QSL_WIRE_HEADER_SIZE + QSL_WIRE_MAX_FIXED_BODY)

enum qsl_wire_type {
    QSL_WIRE_NEW_ORDER = 1,
    QSL_WIRE_CANCEL_ORDER = 2,
    QSL_WIRE_MD_TRADE = 3,
    QSL_WIRE_MD_TOP_OF_BOOK = 4,
    QSL_WIRE_HEARTBEAT = 5,
    QSL_WIRE_HEARTBEAT_ACK = 6,
    QSL_WIRE_ACK = 7,
    QSL_WIRE_REJECT = 8,
    QSL_WIRE_FILL = 9
};
#define QSL_WIRE_TYPE_MAX 9

enum qsl_wire_err {
    QSL_WIRE_OK = 0,
    QSL_WIRE_TRUNCATED,
    QSL_WIRE_UNSUPPORTED_VERSION,
    QSL_WIRE_UNKNOWN_TYPE,
    QSL_WIRE_BODY_TOO_LARGE,
    QSL_WIRE_BODY_LENGTH_MISMATCH,
    QSL_WIRE_INVALID_ENUM_VALUE
};

struct qsl_wire_header {
    uint16_t type;
    uint16_t version;
    uint32_t body_len;
    uint64_t seq;
};

struct qsl_wire_new_order {
    qsl_order_id order_id;
    qsl_symbol symbol;
    qsl_price price;
    qsl_qty quantity;
    uint8_t side, order_type, tif;
};
struct qsl_wire_cancel_order { qsl_order_id order_id; qsl_symbol symbol; };
struct qsl_wire_md_trade { qsl_symbol symbol; qsl_price price; qsl_qty quantity; };
struct qsl_wire_md_top_of_book {
    qsl_symbol symbol;
    uint8_t bid_present;
    qsl_price bid;          /* meaningful only when bid_present; encoded 0 otherwise */
    uint8_t ask_present;
    qsl_price ask;
};
struct qsl_wire_heartbeat { uint64_t token; };   /* Heartbeat and HeartbeatAck */
struct qsl_wire_ack { qsl_order_id order_id; uint64_t seq; };
struct qsl_wire_reject { qsl_order_id order_id; uint8_t reason; };
struct qsl_wire_fill {
    qsl_order_id taker_id, maker_id;
    qsl_price price;
    qsl_qty quantity;
    uint64_t seq;
};

struct qsl_wire_msg {
    uint16_t type;          /* enum qsl_wire_type */
    uint64_t seq;           /* header seq: the market-data sequence on the feed */
    union {
        struct qsl_wire_new_order new_order;
        struct qsl_wire_cancel_order cancel_order;
        struct qsl_wire_md_trade md_trade;
        struct qsl_wire_md_top_of_book md_top_of_book;
        struct qsl_wire_heartbeat heartbeat;
        struct qsl_wire_ack ack;
        struct qsl_wire_reject reject;
        struct qsl_wire_fill fill;
    } u;
};

/* Fixed body size of a type, or 0 for a type the protocol does not know. */
size_t qsl_wire_body_size(unsigned type);

/* Frame size (header + body) of a known type, 0 otherwise. */
size_t qsl_wire_frame_size(unsigned type);

/*
 * Encode m into buf. Returns the frame length, -EINVAL for an unknown type
 * or an out-of-range enum field, -ENOSPC when cap is too small (nothing is
 * written then).
 */
int qsl_wire_encode(const struct qsl_wire_msg *m, uint8_t *buf, size_t cap);

/* Header checks only (Truncated, version, type, BodyTooLarge). */
enum qsl_wire_err qsl_wire_decode_header(const uint8_t *buf, size_t len,
                                         struct qsl_wire_header *h);

/*
 * Every check qsl_wire_decode makes, without decoding the body: the header in
 * *h and, on QSL_WIRE_OK, the frame's length in *frame_len. For a reader that
 * needs only the header of a valid frame (the feed subscriber's sequence numbers).
 */
enum qsl_wire_err qsl_wire_check(const uint8_t *buf, size_t len, struct qsl_wire_header *h,
                                 size_t *frame_len);

/*
 * The body of a frame whose header h has passed qsl_wire_decode_header, with a
 * body_len equal to its type's size, and whose body is all in body: the enum rules
 * checked (QSL_WIRE_INVALID_ENUM_VALUE), then decoded into m. For a reader that has
 * already framed the stream by its headers (the gateway's session): the header is
 * then read once per frame, not twice.
 */
enum qsl_wire_err qsl_wire_decode_body(const struct qsl_wire_header *h, const uint8_t *body,
                                       struct qsl_wire_msg *m);

/*
 * Decode one frame from the start of buf. On QSL_WIRE_OK, *frame_len (if not
 * NULL) is the number of bytes the frame occupies.
 */
enum qsl_wire_err qsl_wire_decode(const uint8_t *buf, size_t len,
                                  struct qsl_wire_msg *m, size_t *frame_len);

const char *qsl_wire_err_name(enum qsl_wire_err e);
const char *qsl_wire_type_name(unsigned type);          /* "NewOrder", ... or NULL */
/* The same names as NULL-terminated word lists, for parsers of text (Lua, roles):
 * type names start at type 1; the others are indexed by their wire value. */
extern const char *const qsl_wire_type_names[], *const qsl_wire_reject_names[];
extern const char *const qsl_side_names[], *const qsl_order_type_names[], *const qsl_tif_names[];
const char *qsl_wire_reject_name(unsigned reason);      /* "UnknownSymbol", ... or NULL */

/* Big-endian helpers, shared with the feed's packed framing: one byte swap and one
 * unaligned move each (memcpy of a constant size compiles to a single mov). */
static inline void qsl_be16_put(uint8_t *p, uint16_t v)
{
    v = __builtin_bswap16(v);
    memcpy(p, &v, sizeof v);
}
static inline void qsl_be32_put(uint8_t *p, uint32_t v)
{
    v = __builtin_bswap32(v);
    memcpy(p, &v, sizeof v);
}
static inline void qsl_be64_put(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, sizeof v);
}
static inline uint16_t qsl_be16_get(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap16(v);
}
static inline uint32_t qsl_be32_get(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap32(v);
}
static inline uint64_t qsl_be64_get(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
}

/* A frame's header, and the bodies of the gateway's replies, written straight into the
 * caller's buffer (its room checked by the caller): qsl_wire_encode and the session write
 * them alike, the session without building a message first. */
static inline void qsl_wire_put_header(uint8_t *p, uint16_t type, uint32_t body_len,
                                       uint64_t seq)
{
    qsl_be16_put(p, type);
    qsl_be16_put(p + 2, QSL_WIRE_VERSION);
    qsl_be32_put(p + 4, body_len);
    qsl_be64_put(p + 8, seq);
}
static inline void qsl_wire_put_ack(uint8_t *b, qsl_order_id id, uint64_t seq)
{
    qsl_be64_put(b, id);
    qsl_be64_put(b + 8, seq);
}
static inline void qsl_wire_put_reject(uint8_t *b, qsl_order_id id, uint8_t reason)
{
    qsl_be64_put(b, id);
    b[8] = reason;
}
static inline void qsl_wire_put_fill(uint8_t *b, const struct qsl_wire_fill *f)
{
    qsl_be64_put(b, f->taker_id);
    qsl_be64_put(b + 8, f->maker_id);
    qsl_be64_put(b + 16, (uint64_t)f->price);
    qsl_be32_put(b + 24, f->quantity);
    qsl_be64_put(b + 28, f->seq);
}

#endif
