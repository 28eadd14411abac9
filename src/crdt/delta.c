/* Deltas: the durable slots changed after a version, cut to a message budget. */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

#ifdef BATON_CRDT_FAULT_GOSSIP_UNDURABLE
/* Planted bug (tests/sim proves it is caught): deltas carry every change,
 * durable or not. */
static uint64_t sendable(const struct crdt_set *s)
{
    return s->version;
}

static uint64_t latest_sendable(const struct crdt_slot_state *st)
{
    return st->stamp;
}
#else
/* Changes up to here may leave the node. */
static uint64_t sendable(const struct crdt_set *s)
{
    return s->durable;
}

/* The stamp of the slot's change that a delta may carry. */
static uint64_t latest_sendable(const struct crdt_slot_state *st)
{
    return st->stable_stamp;
}
#endif

void crdt_delta_clear(struct crdt_delta *d)
{
    free(d->slots);
    free(d->names);
    memset(d, 0, sizeof(*d));
}

int crdt_delta_get(const struct crdt_set *s, uint64_t since, size_t max_slots,
                   size_t max_bytes, struct crdt_delta *d)
{
    memset(d, 0, sizeof(*d));
    if (max_slots == 0 || max_bytes < CRDT_DELTA_MIN_BYTES) {
        return BATON_EINVAL;
    }
    uint64_t durable = sendable(s);
    d->epoch = s->epoch;
    d->since = since;
    d->upto = since;
    if (since >= durable) {
        return 0;
    }
    /* Changes in (since, durable]; of those, a slot's latest durable change is
     * the one to send (the others were superseded, or are not durable yet). */
    size_t start = crdt_log_seek(s, since);
    size_t end = crdt_log_seek(s, durable);
    size_t cap = end - start < max_slots ? end - start : max_slots;
    if (cap > 0) {
        d->slots = malloc(cap * sizeof(*d->slots));
        if (d->slots == NULL) {
            return BATON_ENOMEM;
        }
    }
    size_t bytes = CRDT_DELTA_HEADER_BYTES;
    for (size_t i = start; i < end; i++) {
        const struct crdt_change *e = &s->log[i];
        const struct crdt_slot_state *st = &s->slots[e->slot];
        if (e->stamp != latest_sendable(st)) {
            continue;
        }
        const struct crdt_counter *c = s->counters[st->counter];
        size_t size = 1 + c->name_len + 16;
        if (d->n == max_slots || size > max_bytes - bytes) {
            /* Everything before this change has been looked at. */
            d->upto = e->stamp - 1;
            return 0;
        }
        d->slots[d->n++] = (struct crdt_slot){.name = c->name, .node = st->node,
                                              .value = e->value};
        bytes += size;
    }
    d->upto = durable;
    return 0;
}
