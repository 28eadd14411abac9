/* Private state of the lock/lease state machine, shared by the files of src/lock only. */
#ifndef BATON_LOCK_INTERNAL_H
#define BATON_LOCK_INTERNAL_H

#include <stddef.h>

#include "lock/lock.h"
#include "lock/table.h"

#define LOCK_CONTAINER(ptr, type, member)                                       \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- Intrusive circular doubly linked lists (table.c) ----
 * Every order the state machine exposes or acts in is a list order (or a
 * sort by creation index), never a hash table's or a pointer's order. */
struct lock_link {
    struct lock_link *prev;
    struct lock_link *next;
};

void lock_link_init(struct lock_link *head);
bool lock_link_empty(const struct lock_link *head);
void lock_link_append(struct lock_link *head, struct lock_link *n);
/* Unlinks n and leaves it pointing at itself. */
void lock_link_remove(struct lock_link *n);

/* ---- The state ---- */

struct lock_lease {
    struct lock_hnode hnode; /* key: id */
    struct lock_link order;  /* in sm->leases, by id (ids only grow) */
    struct lock_link held;   /* locks it holds: lock_rec.holder_link */
    struct lock_link waits;  /* its queued waits: lock_wait.lease_link */
    size_t n_held;
    size_t n_waits;
    uint64_t id;
    uint64_t ttl_ms;
};

struct lock_wait {
    struct lock_link queue_link; /* in lock->queue, FIFO */
    struct lock_link lease_link; /* in lease->waits */
    struct lock_lease *lease;
    struct lock_rec *lock;
    uint64_t wait_ms;
    uint64_t lock_delay_ms;
    uint64_t since; /* index that queued or last retried it: its id */
};

/* A lock exists while it is held, waited for or under lock-delay; invariant:
 * a lock with waiters has a holder or a delay. */
struct lock_rec {
    struct lock_hnode hnode;      /* key: name */
    struct lock_link order;       /* in sm->locks, by created (only grows) */
    struct lock_link holder_link; /* in holder->held */
    struct lock_link queue;       /* waits: lock_wait.queue_link */
    size_t n_waiters;
    struct lock_lease *holder; /* NULL = none */
    uint64_t created;
    uint64_t token;
    uint64_t holder_delay_ms;
    uint64_t delay_ms;
    uint64_t delay_since; /* 0 = no lock-delay */
    size_t name_len;
    char name[]; /* NUL-terminated */
};

/* One lock a lease is involved in at its end: it holds it, or waits (wait). */
struct lock_end_item {
    struct lock_rec *lock;
    struct lock_wait *wait; /* NULL: held */
};

struct lock_sm {
    uint64_t applied;
    struct lock_htab lease_tab;
    struct lock_link leases;
    size_t n_leases;
    struct lock_htab lock_tab;
    struct lock_link locks;
    size_t n_locks;

    /* Allocated before an apply changes anything, so that an apply either
     * fails with ENOMEM having changed nothing or cannot fail at all. */
    struct lock_wait *spare_wait;
    struct lock_lease *spare_lease;
    struct lock_rec *new_lock; /* for an ACQUIRE of a name without a record */
    struct lock_end_item *scratch;
    size_t scratch_cap;

    /* The apply in progress. */
    uint64_t index;
    struct lock_events *ev;
};

/* ---- state.c: lookups and the primitive changes ---- */
bool lock_name_valid(const char *name, size_t len);
struct lock_lease *lock_lease_find(const struct lock_sm *sm, uint64_t id);
struct lock_rec *lock_rec_find(const struct lock_sm *sm, const char *name, size_t len);
/* A new, unlinked lock record (ENOMEM: NULL). */
struct lock_rec *lock_rec_new(const char *name, size_t len, uint64_t created);
/* Links a new record; needs room in lock_tab. */
void lock_rec_insert(struct lock_sm *sm, struct lock_rec *lk);
/* Removes and frees lk if nobody holds, waits for or delays it. */
void lock_rec_gc(struct lock_sm *sm, struct lock_rec *lk);
/* Links a new lease; needs room in lease_tab. */
void lock_lease_insert(struct lock_sm *sm, struct lock_lease *ls);
void lock_lease_destroy(struct lock_sm *sm, struct lock_lease *ls);
/* lk (free, no delay) goes to ls with token sm->index; emits GRANTED. */
void lock_grant(struct lock_sm *sm, struct lock_rec *lk, struct lock_lease *ls,
                uint64_t lock_delay_ms);
/* The holder leaves lk (emits RELEASED); the caller hands it on. */
void lock_unhold(struct lock_sm *sm, struct lock_rec *lk, int reason);
/* A free lk without delay goes to the head of its queue, or is removed. */
void lock_hand_on(struct lock_sm *sm, struct lock_rec *lk);
/* Appends w (sm->spare_wait, taken) to lk's queue; emits WAIT_QUEUED. */
void lock_wait_add(struct lock_sm *sm, struct lock_rec *lk, struct lock_lease *ls,
                   const struct lock_cmd *c);
/* Unlinks w from both lists and frees it (emits WAIT_ENDED if reason). */
void lock_wait_drop(struct lock_sm *sm, struct lock_wait *w, int reason);
/* The wait of ls in lk's queue; NULL if none. */
struct lock_wait *lock_wait_find(const struct lock_rec *lk, const struct lock_lease *ls);
/* w's place in its queue, 0 = next (walks the waits ahead of it). */
size_t lock_wait_position(const struct lock_wait *w);
/* Frees every lease, lock and wait. */
void lock_sm_clear(struct lock_sm *sm);

/* ---- events.c ---- */
/* Room for n more events with name_bytes bytes of names (NULs included),
 * so that appending them cannot fail. ENOMEM. No-op for ev NULL. */
int lock_events_reserve(struct lock_events *ev, size_t n, size_t name_bytes)
    __attribute__((warn_unused_result));
void lock_events_reset(struct lock_events *ev);
/* Appends e with name (NULL or a lock's) within the reserved room. */
void lock_emit(struct lock_sm *sm, const struct lock_event *e, const struct lock_rec *lk);

/* ---- lease.c, lock.c: one handler per command. A handler cannot fail:
 * apply.c first allocates what it may need (spares, table room, event room,
 * and for a lease's end, scratch). ---- */
void lock_do_lease_grant(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res);
void lock_do_lease_end(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res);
void lock_do_acquire(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res);
void lock_do_release(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res);
void lock_do_wait_end(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res);
void lock_do_delay_end(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res);
/* Scratch and event room for the end of lease c->lease (if live). ENOMEM. */
int lock_prepare_lease_end(struct lock_sm *sm, const struct lock_cmd *c)
    __attribute__((warn_unused_result));

/* ---- codec.c: bounded byte writer and reader ---- */
struct lock_writer {
    uint8_t *p;
    size_t len;
    size_t cap;
    bool grow; /* realloc p as needed (else a fixed buffer) */
    bool bad;  /* ran out of room or memory */
};

struct lock_reader {
    const uint8_t *p;
    size_t left;
    bool bad; /* read past the end or a bad varint; later reads yield 0 */
};

void lock_put_u8(struct lock_writer *w, uint8_t v);
void lock_put_varint(struct lock_writer *w, uint64_t v);
void lock_put_bytes(struct lock_writer *w, const void *p, size_t n);
void lock_put_name(struct lock_writer *w, const char *name, size_t len);
uint8_t lock_get_u8(struct lock_reader *r);
/* Minimal LEB128 only; anything else sets bad. */
uint64_t lock_get_varint(struct lock_reader *r);
/* A name of 1..LOCK_NAME_MAX bytes without NUL into out (NUL-terminated);
 * anything else sets bad. Returns its length. */
size_t lock_get_name(struct lock_reader *r, char *out);

#endif
