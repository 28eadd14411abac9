/* Bounded byte writer and reader with minimal LEB128 varints, for commands and snapshots. */
#include <stdlib.h>
#include <string.h>

#include "lock/internal.h"

/* Makes room for n more bytes; sets bad when a fixed buffer is full or
 * memory runs out, after which every put is dropped. */
static bool room(struct lock_writer *w, size_t n)
{
    if (w->bad) {
        return false;
    }
    if (n <= w->cap - w->len) {
        return true;
    }
    if (!w->grow || w->len > SIZE_MAX / 2 - n) {
        w->bad = true;
        return false;
    }
    size_t cap = w->cap < 256 ? 256 : w->cap;
    while (cap - w->len < n) {
        cap *= 2;
    }
    uint8_t *p = realloc(w->p, cap);
    if (p == NULL) {
        w->bad = true;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

void lock_put_bytes(struct lock_writer *w, const void *p, size_t n)
{
    if (n > 0 && room(w, n)) {
        memcpy(w->p + w->len, p, n);
        w->len += n;
    }
}

void lock_put_u8(struct lock_writer *w, uint8_t v)
{
    lock_put_bytes(w, &v, 1);
}

void lock_put_varint(struct lock_writer *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        b[n++] = (uint8_t)(byte | (v != 0 ? 0x80 : 0));
    } while (v != 0);
    lock_put_bytes(w, b, n);
}

void lock_put_name(struct lock_writer *w, const char *name, size_t len)
{
    lock_put_u8(w, (uint8_t)len);
    lock_put_bytes(w, name, len);
}

static const uint8_t *take(struct lock_reader *r, size_t n)
{
    if (r->bad || n > r->left) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint8_t lock_get_u8(struct lock_reader *r)
{
    const uint8_t *p = take(r, 1);
    return p == NULL ? 0 : *p;
}

/* Only the minimal encoding is accepted (no trailing zero groups, nothing
 * past 64 bits), so every value has one encoding and decode(encode(x)) and
 * encode(decode(b)) are both identities. */
uint64_t lock_get_varint(struct lock_reader *r)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        const uint8_t *p = take(r, 1);
        if (p == NULL) {
            return 0;
        }
        uint64_t group = *p & 0x7fu;
        if (i == 9 && (*p & 0xfeu) != 0) {
            break; /* past 64 bits */
        }
        v |= group << (7 * i);
        if ((*p & 0x80u) == 0) {
            if (i > 0 && *p == 0) {
                break; /* non-minimal */
            }
            return v;
        }
    }
    r->bad = true;
    return 0;
}

size_t lock_get_name(struct lock_reader *r, char *out)
{
    size_t len = lock_get_u8(r);
    const uint8_t *p = take(r, len);
    if (p == NULL || !lock_name_valid((const char *)p, len)) {
        r->bad = true;
        out[0] = '\0';
        return 0;
    }
    memcpy(out, p, len);
    out[len] = '\0';
    return len;
}
