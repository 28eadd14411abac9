/* Byte encodings of deltas (the wire) and counter records (the disk). */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

enum {
    KIND_DELTA = 1,
    KIND_RECORD = 2,
};

#define RECORD_HEADER_BYTES 6 /* format, kind, u32 n */
#define PAIR_BYTES 16
#define SLOT_MIN_BYTES (1 + 1 + PAIR_BYTES)

static uint8_t *put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
    return p + n;
}

/* A bounds-checked reader: once a read runs past the end, bad is set and every
 * later read yields zeros, so a decoder checks once at the end of a step. */
struct reader {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *rd_bytes(struct reader *r, size_t n)
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

static uint64_t rd_be(struct reader *r, size_t n)
{
    const uint8_t *p = rd_bytes(r, n);
    uint64_t v = 0;
    for (size_t i = 0; p != NULL && i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Reads the format and kind bytes: BATON_EVERSION for a newer format. */
static int rd_header(struct reader *r, uint8_t kind)
{
    uint64_t format = rd_be(r, 1);
    uint64_t k = rd_be(r, 1);
    if (r->bad || format == 0) {
        return BATON_EMALFORMED;
    }
    if (format > CRDT_FORMAT) {
        return BATON_EVERSION;
    }
    return k == kind ? 0 : BATON_EMALFORMED;
}

int crdt_delta_encode(const struct crdt_delta *d, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (d->epoch == 0 || d->since > d->upto) {
        return BATON_EINVAL;
    }
    if (d->n > UINT32_MAX) {
        return BATON_ETOOBIG;
    }
    size_t total = CRDT_DELTA_HEADER_BYTES;
    for (size_t i = 0; i < d->n; i++) {
        size_t nl;
        if (crdt_name_check(d->slots[i].name, &nl) != 0 || d->slots[i].node == 0) {
            return BATON_EINVAL;
        }
        total += 1 + nl + PAIR_BYTES;
    }
    uint8_t *buf = malloc(total);
    if (buf == NULL) {
        return BATON_ENOMEM;
    }
    uint8_t *p = put_be(buf, CRDT_FORMAT, 1);
    p = put_be(p, KIND_DELTA, 1);
    p = put_be(p, d->epoch, 8);
    p = put_be(p, d->since, 8);
    p = put_be(p, d->upto, 8);
    p = put_be(p, d->n, 4);
    for (size_t i = 0; i < d->n; i++) {
        size_t nl = strlen(d->slots[i].name);
        p = put_be(p, nl, 1);
        memcpy(p, d->slots[i].name, nl);
        p = put_be(p + nl, d->slots[i].node, 8);
        p = put_be(p, d->slots[i].value, 8);
    }
    *data = buf;
    *len = total;
    return 0;
}

/* Reads one slot of a delta; its name is copied, NUL-terminated, to *names. */
static int rd_slot(struct reader *r, struct crdt_slot *slot, char **names)
{
    size_t nl = (size_t)rd_be(r, 1);
    const uint8_t *name = rd_bytes(r, nl);
    slot->node = rd_be(r, 8);
    slot->value = rd_be(r, 8);
    if (r->bad || nl == 0 || memchr(name, 0, nl) != NULL || slot->node == 0) {
        return BATON_EMALFORMED;
    }
    memcpy(*names, name, nl);
    (*names)[nl] = '\0';
    slot->name = *names;
    *names += nl + 1;
    return 0;
}

static int delta_decode(struct reader *r, struct crdt_delta *d)
{
    int err = rd_header(r, KIND_DELTA);
    if (err != 0) {
        return err;
    }
    d->epoch = rd_be(r, 8);
    d->since = rd_be(r, 8);
    d->upto = rd_be(r, 8);
    size_t n = (size_t)rd_be(r, 4);
    /* Refuse a count the bytes cannot hold before allocating for it. */
    if (r->bad || d->epoch == 0 || d->since > d->upto || n > r->left / SLOT_MIN_BYTES) {
        return BATON_EMALFORMED;
    }
    if (n == 0) {
        return r->left == 0 ? 0 : BATON_EMALFORMED;
    }
    /* Each slot's name with its NUL takes fewer bytes than its encoding. */
    d->slots = malloc(n * sizeof(*d->slots));
    d->names = malloc(r->left);
    if (d->slots == NULL || d->names == NULL) {
        return BATON_ENOMEM;
    }
    char *names = d->names;
    for (size_t i = 0; i < n; i++) {
        err = rd_slot(r, &d->slots[i], &names);
        if (err != 0) {
            return err;
        }
        d->n++;
    }
    return r->left == 0 ? 0 : BATON_EMALFORMED;
}

int crdt_delta_decode(const void *data, size_t len, struct crdt_delta *d)
{
    memset(d, 0, sizeof(*d));
    struct reader r = {.p = data, .left = data == NULL ? 0 : len};
    int err = delta_decode(&r, d);
    if (err != 0) {
        crdt_delta_clear(d);
    }
    return err;
}

static int pair_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct crdt_pair *)a)->node;
    uint64_t y = ((const struct crdt_pair *)b)->node;
    return (x > y) - (x < y);
}

int crdt_counter_encode(const struct crdt_set *s, const struct crdt_counter *c, void **data,
                        size_t *len)
{
    if (c->n_slots > UINT32_MAX) {
        return BATON_ETOOBIG;
    }
    /* Slots are kept in arrival order; a record lists them by node so that
     * equal counters encode to equal bytes. */
    struct crdt_pair *pairs = malloc(c->n_slots * sizeof(*pairs));
    uint8_t *buf = malloc(RECORD_HEADER_BYTES + c->n_slots * PAIR_BYTES);
    if (pairs == NULL || buf == NULL) {
        free(pairs);
        free(buf);
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < c->n_slots; i++) {
        pairs[i].node = s->slots[c->slots[i]].node;
        pairs[i].value = s->slots[c->slots[i]].value;
    }
    qsort(pairs, c->n_slots, sizeof(*pairs), pair_cmp);
    uint8_t *p = put_be(buf, CRDT_FORMAT, 1);
    p = put_be(p, KIND_RECORD, 1);
    p = put_be(p, c->n_slots, 4);
    for (size_t i = 0; i < c->n_slots; i++) {
        p = put_be(p, pairs[i].node, 8);
        p = put_be(p, pairs[i].value, 8);
    }
    free(pairs);
    *data = buf;
    *len = (size_t)(p - buf);
    return 0;
}

int crdt_record_encode(const struct crdt_set *s, const char *name, void **data, size_t *len)
{
    size_t nl;
    *data = NULL;
    *len = 0;
    int err = crdt_name_check(name, &nl);
    if (err != 0) {
        return err;
    }
    size_t ci = crdt_counter_find(s, name, nl);
    if (ci == CRDT_NONE) {
        return BATON_ENOTFOUND;
    }
    return crdt_counter_encode(s, s->counters[ci], data, len);
}

static int record_decode(struct reader *r, struct crdt_pair **pairs, size_t *n)
{
    int err = rd_header(r, KIND_RECORD);
    if (err != 0) {
        return err;
    }
    size_t count = (size_t)rd_be(r, 4);
    if (r->bad || count == 0 || count != r->left / PAIR_BYTES ||
        r->left % PAIR_BYTES != 0) {
        return BATON_EMALFORMED;
    }
    *pairs = malloc(count * sizeof(**pairs));
    if (*pairs == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        (*pairs)[i].node = rd_be(r, 8);
        (*pairs)[i].value = rd_be(r, 8);
        if ((*pairs)[i].node <= (i == 0 ? 0 : (*pairs)[i - 1].node) ||
            (*pairs)[i].value == 0) {
            return BATON_EMALFORMED;
        }
    }
    *n = count;
    return 0;
}

int crdt_record_decode(const void *data, size_t len, struct crdt_pair **pairs, size_t *n)
{
    *pairs = NULL;
    *n = 0;
    struct reader r = {.p = data, .left = data == NULL ? 0 : len};
    int err = record_decode(&r, pairs, n);
    if (err != 0) {
        free(*pairs);
        *pairs = NULL;
        *n = 0;
    }
    return err;
}

int crdt_record_load(struct crdt_set *s, const char *name, const void *data, size_t len)
{
    size_t nl;
    int err = crdt_name_check(name, &nl);
    if (err != 0) {
        return err;
    }
    struct crdt_pair *pairs;
    size_t n;
    err = crdt_record_decode(data, len, &pairs, &n);
    for (size_t i = 0; i < n && err == 0; i++) {
        err = crdt_load_slot(s, name, pairs[i].node, pairs[i].value);
    }
    free(pairs);
    return err;
}
