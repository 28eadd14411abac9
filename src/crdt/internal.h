/* Private state of the G-Counter set, shared by the files of src/crdt only. */
#ifndef BATON_CRDT_INTERNAL_H
#define BATON_CRDT_INTERNAL_H

#include "crdt/crdt.h"

#define CRDT_NONE SIZE_MAX /* "no such index" */
#define CRDT_LOG_COMPACT_MIN 1024 /* changes logged before the first compaction */

/* One (counter, node) slot. Slots live in one array and are never removed, so
 * an index names a slot for the life of the set. */
struct crdt_slot_state {
    uint64_t node;
    uint64_t value;        /* latest value, durable or not */
    uint64_t stamp;        /* version of the latest change */
    uint64_t stable_stamp; /* version of the latest durable change (0: none) */
    size_t counter;        /* index into crdt_set.counters */
};

/* A counter: its slots (indices into crdt_set.slots) and its name. Allocated
 * one by one so that names never move. */
struct crdt_counter {
    size_t *slots;
    size_t n_slots;
    size_t cap_slots;
    uint64_t mark; /* crdt_sync_get()'s de-duplication */
    size_t name_len;
    char name[];
};

/* The change log: one entry per change, in stamp order. An entry is needed
 * while it is not durable (crdt_persisted() reads its value) and while it is
 * its slot's latest durable change (crdt_delta_get() sends it); the others are
 * dropped by compaction. */
struct crdt_change {
    size_t slot;
    uint64_t stamp;
    uint64_t value;
};

struct crdt_set {
    uint64_t self;
    uint64_t epoch;
    uint64_t version;
    uint64_t synced;
    uint64_t durable;
    uint64_t mark_gen;

    struct crdt_counter **counters; /* in the order they were created */
    size_t n_counters;
    size_t cap_counters;

    size_t *table; /* open addressing: counter index + 1, 0 = empty */
    size_t table_cap;

    struct crdt_slot_state *slots;
    size_t n_slots;
    size_t cap_slots;

    struct crdt_change *log;
    size_t log_len;
    size_t log_cap;
    size_t log_compact_at;
};

/* gcounter.c */
/* Grows array p of *cap elements of size bytes to hold need; returns the
 * (possibly moved) array, or NULL with p untouched when out of memory. */
void *crdt_grow(void *p, size_t *cap, size_t need, size_t size);
/* 0 if name is a valid counter name, with its length in *len; BATON_EINVAL. */
int crdt_name_check(const char *name, size_t *len);
/* The counter's index, or CRDT_NONE. */
size_t crdt_counter_find(const struct crdt_set *s, const char *name, size_t len);

/* changelog.c */
/* Index of the first change with a stamp greater than v. */
size_t crdt_log_seek(const struct crdt_set *s, uint64_t v);
/* Makes room for one more change; compacts first when due. BATON_ENOMEM,
 * BATON_EOVERFLOW (the version clock is exhausted). */
int crdt_log_reserve(struct crdt_set *s);
/* Sets slot to value at the next version and logs it (room reserved). */
void crdt_log_change(struct crdt_set *s, size_t slot, uint64_t value);

/* codec.c */
/* Encodes counter c as a record (malloc'd). BATON_ETOOBIG, BATON_ENOMEM. */
int crdt_counter_encode(const struct crdt_set *s, const struct crdt_counter *c, void **data,
                        size_t *len);

#endif
