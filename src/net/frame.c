/* Length-prefixed framing: reassembly of frames from a TCP byte stream. */
#include <stdlib.h>
#include <string.h>

#include "net/frame.h"

void net_frame_reader_init(struct net_frame_reader *r, size_t max_frame)
{
    memset(r, 0, sizeof(*r));
    r->max_frame = max_frame ? max_frame : NET_FRAME_MAX_DEFAULT;
}

void net_frame_reader_close(struct net_frame_reader *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

void net_frame_put_header(uint8_t out[NET_FRAME_HEADER], uint32_t len)
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}

static uint32_t get_header(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Consumes every complete frame at the front of p; returns the bytes used. */
static int parse(struct net_frame_reader *r, const uint8_t *p, size_t len, size_t *used,
                 net_frame_cb cb, void *arg)
{
    size_t off = 0;
    *used = 0;
    while (len - off >= NET_FRAME_HEADER) {
        uint32_t n = get_header(p + off);
        if (n > r->max_frame) {
            return BATON_ETOOBIG;
        }
        if (n == 0) {
            return BATON_EMALFORMED;
        }
        if (len - off - NET_FRAME_HEADER < n) {
            break;
        }
        int rv = cb(arg, p + off + NET_FRAME_HEADER, n);
        off += NET_FRAME_HEADER + n;
        *used = off;
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static int buffer(struct net_frame_reader *r, const void *data, size_t len)
{
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + len) {
            cap *= 2;
        }
        uint8_t *buf = realloc(r->buf, cap);
        if (buf == NULL) {
            return BATON_ENOMEM;
        }
        r->buf = buf;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return 0;
}

int net_frame_feed(struct net_frame_reader *r, const void *data, size_t len, net_frame_cb cb,
                   void *arg)
{
    size_t used = 0;
    int rv;
    if (r->len == 0) {
        /* Fast path: frames wholly inside this read are handed out in place. */
        rv = parse(r, data, len, &used, cb, arg);
        if (rv != 0) {
            return rv;
        }
        return used < len ? buffer(r, (const uint8_t *)data + used, len - used) : 0;
    }
    rv = buffer(r, data, len);
    if (rv != 0) {
        return rv;
    }
    rv = parse(r, r->buf, r->len, &used, cb, arg);
    if (used > 0) {
        memmove(r->buf, r->buf + used, r->len - used);
        r->len -= used;
    }
    return rv;
}
