/* Lock commands: validation and their versioned binary encoding in Raft entries. */
#include <string.h>

#include "lock/internal.h"

/* Which fields each type carries, in encoding order after the name. */
enum {
    F_NAME = 1 << 0,
    F_LEASE = 1 << 1,
    F_TTL = 1 << 2,
    F_WAIT = 1 << 3,
    F_DELAY = 1 << 4,
    F_SINCE = 1 << 5,
};

static unsigned fields_of(int type)
{
    switch (type) {
    case LOCK_CMD_LEASE_GRANT:
        return F_TTL;
    case LOCK_CMD_LEASE_REVOKE:
    case LOCK_CMD_LEASE_EXPIRE:
        return F_LEASE;
    case LOCK_CMD_ACQUIRE:
        return F_NAME | F_LEASE | F_WAIT | F_DELAY;
    case LOCK_CMD_RELEASE:
        return F_NAME | F_LEASE;
    case LOCK_CMD_WAIT_END:
        return F_NAME | F_LEASE | F_SINCE;
    case LOCK_CMD_DELAY_END:
        return F_NAME | F_SINCE;
    default:
        return 0;
    }
}

const char *lock_cmd_type_name(int type)
{
    static const char *const names[] = {
        [LOCK_CMD_LEASE_GRANT] = "lease_grant", [LOCK_CMD_LEASE_REVOKE] = "lease_revoke",
        [LOCK_CMD_LEASE_EXPIRE] = "lease_expire", [LOCK_CMD_ACQUIRE] = "acquire",
        [LOCK_CMD_RELEASE] = "release", [LOCK_CMD_WAIT_END] = "wait_end",
        [LOCK_CMD_DELAY_END] = "delay_end",
    };
    if (type < 1 || type > LOCK_CMD_TYPE_MAX) {
        return "unknown";
    }
    return names[type];
}

/* The rules shared by the encoder (BATON_EINVAL) and the decoder
 * (BATON_EMALFORMED): what a command may say. */
static bool cmd_valid(const struct lock_cmd *c, size_t name_len)
{
    unsigned f = fields_of(c->type);
    if (f == 0) {
        return false;
    }
    if ((f & F_NAME) && !lock_name_valid(c->name, name_len)) {
        return false;
    }
    if ((f & F_LEASE) && c->lease == 0) {
        return false;
    }
    if ((f & F_TTL) && (c->ttl_ms == 0 || c->ttl_ms > LOCK_MS_MAX)) {
        return false;
    }
    if ((f & F_WAIT) && c->wait_ms > LOCK_MS_MAX) {
        return false;
    }
    if ((f & F_DELAY) && c->lock_delay_ms > LOCK_DELAY_MAX_MS) {
        return false;
    }
    return !(f & F_SINCE) || c->since != 0;
}

int lock_cmd_encode(const struct lock_cmd *c, void *buf, size_t cap, size_t *len)
{
    *len = 0;
    unsigned f = fields_of(c->type);
    size_t name_len = (f & F_NAME) ? strnlen(c->name, sizeof(c->name)) : 0;
    if (!cmd_valid(c, name_len)) {
        return BATON_EINVAL;
    }
    uint8_t tmp[LOCK_CMD_MAX];
    struct lock_writer w = {.p = tmp, .cap = sizeof(tmp)};
    lock_put_u8(&w, LOCK_FORMAT);
    lock_put_u8(&w, (uint8_t)c->type);
    if (f & F_NAME) {
        lock_put_name(&w, c->name, name_len);
    }
    const uint64_t vals[] = {c->lease, c->ttl_ms, c->wait_ms, c->lock_delay_ms, c->since};
    const unsigned bits[] = {F_LEASE, F_TTL, F_WAIT, F_DELAY, F_SINCE};
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (f & bits[i]) {
            lock_put_varint(&w, vals[i]);
        }
    }
    if (w.len > cap) {
        return BATON_ETOOBIG;
    }
    memcpy(buf, tmp, w.len);
    *len = w.len;
    return 0;
}

int lock_cmd_decode(const void *data, size_t len, struct lock_cmd *c)
{
    memset(c, 0, sizeof(*c));
    struct lock_reader r = {.p = data, .left = len};
    uint8_t format = lock_get_u8(&r);
    if (!r.bad && format > LOCK_FORMAT) {
        return BATON_EVERSION;
    }
    c->type = lock_get_u8(&r);
    unsigned f = fields_of(c->type);
    size_t name_len = 0;
    if (f & F_NAME) {
        name_len = lock_get_name(&r, c->name);
    }
    uint64_t *const vals[] = {&c->lease, &c->ttl_ms, &c->wait_ms, &c->lock_delay_ms, &c->since};
    const unsigned bits[] = {F_LEASE, F_TTL, F_WAIT, F_DELAY, F_SINCE};
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (f & bits[i]) {
            *vals[i] = lock_get_varint(&r);
        }
    }
    if (r.bad || r.left != 0 || format != LOCK_FORMAT || !cmd_valid(c, name_len)) {
        memset(c, 0, sizeof(*c));
        return BATON_EMALFORMED;
    }
    return 0;
}
