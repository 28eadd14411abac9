/* The leader's clocks: when leases, queued waits and lock-delays run out. */
#ifndef BATON_LOCK_CLOCK_H
#define BATON_LOCK_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "lock/lock.h"
#include "lock/table.h"

/*
 * Only the leader counts time, as lock.h says. struct lock_clock is that count: pure,
 * fed the time by its host. A new leader calls lock_clock_start(), which gives
 * every lease its full TTL plus one election timeout (a lease can be extended by
 * failover, never cut short), and every queued wait and lock-delay its full
 * length again; from then on it feeds each applied entry's events to
 * lock_clock_event() and keepalives to lock_clock_keepalive(), and asks
 * lock_clock_due() on every tick which commands to propose. A proposal that has
 * not been applied within retry_ms (it may have been lost with a leader) is
 * returned again; the state machine ignores duplicates.
 *
 * Safety: a lease's deadline is never earlier than the arrival of its last
 * keepalive at this leader plus its TTL, so no LEASE_EXPIRE is proposed before
 * that (the simulation checks exactly this).
 *
 * Memory: caller-allocated struct; lock_clock_close() frees what it grew.
 * Threads: one at a time, the node's loop thread.
 */

enum lock_clock_kind {
    LOCK_CLOCK_LEASE = 1,
    LOCK_CLOCK_WAIT,
    LOCK_CLOCK_DELAY,
};

struct lock_clock_item {
    struct lock_hnode hnode; /* key: kind, lease, name */
    size_t heap_pos;         /* in lock_clock.heap */
    int kind;
    uint64_t lease;    /* LEASE, WAIT */
    uint64_t since;    /* WAIT, DELAY: the id the state machine gave it */
    uint64_t ttl_ms;   /* LEASE: its TTL; WAIT, DELAY: its length */
    uint64_t deadline; /* when it runs out */
    uint64_t proposed; /* when its ending was last proposed; 0 = not yet */
    char name[LOCK_NAME_MAX + 1];
};

/* Every clock is found by key in O(1) and kept in a min-heap by the time it next
 * needs attention (its deadline, or its retry once proposed), so a keepalive, an
 * event or a tick costs O(log clocks), not O(clocks): a leader may hold tens of
 * thousands of leases. */
struct lock_clock {
    struct lock_htab index;
    struct lock_clock_item **heap;
    size_t n;
    size_t cap;
    uint64_t retry_ms;
};

void lock_clock_init(struct lock_clock *c, uint64_t retry_ms);
void lock_clock_close(struct lock_clock *c);

/* Restarts every clock from the state machine at now: leases get ttl + extra_ms,
 * waits and delays their full length. BATON_ENOMEM (the clock is then empty). */
int lock_clock_start(struct lock_clock *c, const struct lock_sm *sm, uint64_t now,
                     uint64_t extra_ms) __attribute__((warn_unused_result));

/* Forgets every clock (leadership lost). */
void lock_clock_clear(struct lock_clock *c);

/* Starts or stops clocks for one applied event (borrowed). BATON_ENOMEM. */
int lock_clock_event(struct lock_clock *c, const struct lock_event *ev, uint64_t now)
    __attribute__((warn_unused_result));

/* A keepalive for lease reached us at now: its deadline becomes now + TTL.
 * *ttl_ms is the TTL. BATON_EEXPIRED if the lease is unknown or its expiry has
 * already been proposed (too late: the lease is as good as gone). */
int lock_clock_keepalive(struct lock_clock *c, uint64_t lease, uint64_t now, uint64_t *ttl_ms)
    __attribute__((warn_unused_result));

/* Milliseconds left on lease at now (0 if run out); BATON_ENOTFOUND. */
int lock_clock_remaining(const struct lock_clock *c, uint64_t lease, uint64_t now,
                         uint64_t *ms) __attribute__((warn_unused_result));

/* Sets remaining_ms (0 once run out) and clocked for every entry of l whose
 * lease has a clock, at now, in O(leases); entries without one are left as
 * they are. */
void lock_clock_list_remaining(const struct lock_clock *c, struct lease_list *l, uint64_t now);

/* Writes up to max commands whose clocks ran out by now (LEASE_EXPIRE,
 * LOCK_WAIT_END, LOCK_DELAY_END) and marks them proposed; returns how many. */
size_t lock_clock_due(struct lock_clock *c, uint64_t now, struct lock_cmd *out, size_t max);

/* The earliest deadline or retry, UINT64_MAX if none (for the host's timer). */
uint64_t lock_clock_next(const struct lock_clock *c);

#endif
