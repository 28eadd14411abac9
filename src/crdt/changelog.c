/* The change log behind the version clock: durability marks and records to persist. */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

size_t crdt_log_seek(const struct crdt_set *s, uint64_t v)
{
    size_t lo = 0;
    size_t hi = s->log_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->log[mid].stamp <= v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Drops the changes nobody will read again: durable ones that a later durable
 * change of the same slot has superseded. Order is kept, so the log stays
 * sorted by stamp. The next compaction waits until the log has doubled, which
 * keeps the cost at O(1) per change. */
static void log_compact(struct crdt_set *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->log_len; i++) {
        const struct crdt_change *e = &s->log[i];
        if (e->stamp > s->durable || e->stamp == s->slots[e->slot].stable_stamp) {
            s->log[k++] = *e;
        }
    }
    s->log_len = k;
    s->log_compact_at = k > (SIZE_MAX - CRDT_LOG_COMPACT_MIN) / 2
                            ? SIZE_MAX
                            : 2 * k + CRDT_LOG_COMPACT_MIN;
}

int crdt_log_reserve(struct crdt_set *s)
{
    if (s->version == UINT64_MAX) {
        return BATON_EOVERFLOW;
    }
    if (s->log_len >= s->log_compact_at) {
        log_compact(s);
    }
    struct crdt_change *log = crdt_grow(s->log, &s->log_cap, s->log_len + 1, sizeof(*s->log));
    if (log == NULL) {
        return BATON_ENOMEM;
    }
    s->log = log;
    return 0;
}

void crdt_log_change(struct crdt_set *s, size_t slot, uint64_t value)
{
    uint64_t stamp = ++s->version;
    s->slots[slot].value = value;
    s->slots[slot].stamp = stamp;
    s->log[s->log_len++] = (struct crdt_change){.slot = slot, .stamp = stamp, .value = value};
}

void crdt_sync_clear(struct crdt_sync *sync)
{
    for (size_t i = 0; i < sync->n; i++) {
        free(sync->records[i].data);
    }
    free(sync->records);
    memset(sync, 0, sizeof(*sync));
}

/* The next counter changed by log entries *i onwards that is not marked with
 * gen yet, now marked; NULL at the end of the log. */
static struct crdt_counter *next_changed(struct crdt_set *s, size_t *i, uint64_t gen)
{
    for (; *i < s->log_len; (*i)++) {
        struct crdt_counter *c = s->counters[s->slots[s->log[*i].slot].counter];
        if (c->mark != gen) {
            c->mark = gen;
            return c;
        }
    }
    return NULL;
}

int crdt_sync_get(struct crdt_set *s, struct crdt_sync *sync)
{
    memset(sync, 0, sizeof(*sync));
    sync->upto = s->version;
    if (s->synced >= s->version) {
        return 0;
    }
    /* Every change after synced is still in the log: only durable ones are
     * compacted. Count the counters they touch, then encode each once. */
    size_t start = crdt_log_seek(s, s->synced);
    size_t i = start, n = 0;
    for (uint64_t gen = ++s->mark_gen; next_changed(s, &i, gen) != NULL;) {
        n++;
    }
    sync->records = calloc(n, sizeof(*sync->records));
    if (sync->records == NULL) {
        return BATON_ENOMEM;
    }
    i = start;
    struct crdt_counter *c;
    for (uint64_t gen = ++s->mark_gen; (c = next_changed(s, &i, gen)) != NULL;) {
        struct crdt_record *r = &sync->records[sync->n];
        r->name = c->name;
        int err = crdt_counter_encode(s, c, &r->data, &r->len);
        if (err != 0) {
            crdt_sync_clear(sync);
            return err;
        }
        sync->n++;
    }
    sync->upto = s->version;
    s->synced = s->version;
    return 0;
}

void crdt_persisted(struct crdt_set *s, uint64_t upto)
{
    if (upto > s->synced) {
        upto = s->synced;
    }
    if (upto <= s->durable) {
        return;
    }
    /* Each change in (durable, upto] becomes its slot's latest durable one;
     * the log is in stamp order, so the last one of each slot wins. */
    for (size_t i = crdt_log_seek(s, s->durable); i < s->log_len && s->log[i].stamp <= upto;
         i++) {
        s->slots[s->log[i].slot].stable_stamp = s->log[i].stamp;
    }
    s->durable = upto;
}

void crdt_sync_reset(struct crdt_set *s)
{
    s->synced = s->durable;
}
