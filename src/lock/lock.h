/* The replicated lock/lease state machine: commands, apply, events, reads, snapshots. */
#ifndef BATON_LOCK_H
#define BATON_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton/error.h"

/*
 * Model
 * -----
 * struct lock_sm holds every live lease and every lock that is held, waited
 * for or under lock-delay. It changes only through lock_apply(), which the
 * host calls for each committed Raft entry that carries a lock command, in
 * index order. It never reads a clock, touches a disk or a socket, or draws
 * random numbers, and its result depends on nothing but the state and the entry: the
 * same log gives the same state, results and events on every node and after
 * every restart (Raft §5.3, state-machine safety needs nothing more).
 *
 * Time lives in the leader. Durations (ttl_ms, wait_ms, lock_delay_ms) are
 * stored, never counted down here. Only the leader runs the clocks; when one
 * runs out it proposes LEASE_EXPIRE, LOCK_WAIT_END or LOCK_DELAY_END. A new
 * leader walks the state (lease_walk, lock_waiter_walk, lock_delay_walk) and
 * starts every clock afresh; after that the events of each apply tell it
 * which clocks to start and stop. Keepalives are not replicated.
 *
 * Leases. LEASE_GRANT(ttl_ms) creates a lease whose id is the Raft index of
 * that entry: unique, never reused, and the same on every node. A lease ends
 * by LEASE_REVOKE (the owner or an operator says it is done) or LEASE_EXPIRE
 * (the leader's clock ran out). Its end releases every lock it holds and
 * removes every wait it has queued, in that same applied entry, and hands
 * each freed lock to that lock's next waiter. A lease id that is not live,
 * whether never granted, revoked or expired (ids are never reused, so no
 * tombstones are kept and the cases cannot be told apart), is BATON_EEXPIRED
 * in every command and read.
 *
 * Locks. LOCK_ACQUIRE(name, lease, wait_ms, lock_delay_ms):
 *   - the lock is free: the lease holds it now, with fencing token = the
 *     index of this entry;
 *   - the lease already holds it: the same token again (a retried acquire is
 *     harmless; the stored lock_delay_ms stays the one of the first acquire);
 *   - held by another lease or under lock-delay, wait_ms == 0 (try-lock):
 *     BATON_ELOCKED;
 *   - held by another lease or under lock-delay, wait_ms > 0: the lease joins
 *     the lock's FIFO queue. A lease stands at most once in a queue: a
 *     retried wait keeps its place and restarts its wait (its wait_ms and
 *     lock_delay_ms become the retry's and its wait id becomes the retry's
 *     index, so the leader restarts the clock), while a retried try-lock of a
 *     queued lease is BATON_ELOCKED and leaves the wait alone.
 * A lock is never free while somebody waits for it: whenever its holder goes
 * (release, revoke, expire without lock-delay, end of a lock-delay), the head
 * of the queue becomes the holder in the same entry, with token = the index
 * of that entry. Tokens therefore rise strictly with every change of holder.
 *
 * LOCK_RELEASE(name, lease) by the holder frees the lock (and hands it on).
 * By a lease that waits in the lock's queue it removes that wait and
 * succeeds (result.canceled, token 0): a client that gives up on a blocking
 * acquire releases to leave the queue, as an etcd waiter deletes its own
 * queue key. By any other lease it is an error that changes nothing:
 * BATON_ELOCKED if another lease holds the lock, BATON_ENOTFOUND if nobody
 * does.
 *
 * LOCK_WAIT_END(name, lease, since) removes the lease's wait whose id is
 * since (the index that queued or last retried it), unless it was granted
 * or retried meanwhile (BATON_ENOTFOUND, nothing changes): a stale timer can
 * never cut a later wait short.
 *
 * Lock-delay (Chubby §2.4, Consul sessions): when a lease EXPIRES while
 * holding a lock that it acquired with lock_delay_ms > 0, the lock is granted
 * to nobody until the leader proposes LOCK_DELAY_END(name, since), since being
 * the index of the expiring entry; then the next waiter gets it. A clean
 * release or a revoke never delays: both are deliberate ends, and an
 * operator who revokes someone else's lease relies on fencing tokens, as
 * every holder should. Acquires during the delay behave as if the lock were
 * held (try-lock: BATON_ELOCKED; wait > 0: queue).
 *
 * Names: 1 to LOCK_NAME_MAX bytes, any byte but NUL. Durations are at most
 * LOCK_MS_MAX (lock_delay_ms at most LOCK_DELAY_MAX_MS); ttl_ms is at least 1.
 * The TTL minimum tied to the election timeout is the node's to enforce.
 *
 * Memory and threads: a state machine belongs to one thread (the node's
 * loop). Structures passed in are borrowed. Names and pointers it hands out
 * stay valid until the next call that changes the state machine.
 *
 * Costs: lookups by lease id or lock name are hash-table lookups; a lease's
 * end costs O(k log k) for the k locks it holds or waits for; walks, and a
 * snapshot, are O(state). No order the state machine acts or reports in
 * depends on a hash or a pointer: leases go by id, locks by the index that
 * created their record, waiters by queue order.
 *
 * Errors: functions return 0 or a negative BATON_E* code. Entries and
 * snapshots come from disks and peers and are never trusted: decoders check
 * every length and value and reject, never assert.
 */

#define LOCK_FORMAT 1                        /* command and snapshot format */
#define LOCK_NAME_MAX 255                    /* bytes of a lock name, excluding the NUL */
#define LOCK_MS_MAX 315360000000ull          /* 10 years: clock arithmetic cannot wrap */
#define LOCK_DELAY_MAX_MS 60000ull           /* as Consul: one minute */
#define LOCK_CMD_MAX 320                     /* bytes of the largest encoded command */

/* Values are on disk in every log: never renumber, only append. */
enum lock_cmd_type {
    LOCK_CMD_LEASE_GRANT = 1, /* ttl_ms */
    LOCK_CMD_LEASE_REVOKE,    /* lease */
    LOCK_CMD_LEASE_EXPIRE,    /* lease; leader only */
    LOCK_CMD_ACQUIRE,         /* name, lease, wait_ms, lock_delay_ms */
    LOCK_CMD_RELEASE,         /* name, lease */
    LOCK_CMD_WAIT_END,        /* name, lease, since; leader only */
    LOCK_CMD_DELAY_END,       /* name, since; leader only */
    LOCK_CMD_TYPE_MAX = LOCK_CMD_DELAY_END,
};

/* One command. Each type uses the fields its comment above names; the others
 * are ignored by the encoder and zero after decoding. */
struct lock_cmd {
    int type; /* enum lock_cmd_type */
    uint64_t lease;
    uint64_t ttl_ms;
    uint64_t wait_ms;
    uint64_t lock_delay_ms;
    uint64_t since;
    char name[LOCK_NAME_MAX + 1]; /* NUL-terminated */
};

/* Encoding (all integers unsigned LEB128 varints of minimal length, so every
 * command has exactly one encoding; a name is one length byte and its bytes):
 *   u8 format (LOCK_FORMAT) | u8 type | fields in the order of the enum comment
 * A node that meets a newer format answers BATON_EVERSION where a newer node
 * would apply the command, so a leader must not propose a new format before
 * every member reads it.
 *
 * Encodes c into buf (cap bytes; LOCK_CMD_MAX always suffices) and sets *len.
 *   BATON_EINVAL   unknown type, bad name, a lease or since of 0, ttl_ms of 0,
 *                  or a duration over its maximum
 *   BATON_ETOOBIG  cap is too small; nothing written */
int lock_cmd_encode(const struct lock_cmd *c, void *buf, size_t cap, size_t *len)
    __attribute__((warn_unused_result));

/* Decodes one command. Anything but the exact encoding of a valid command is
 * refused: truncation, trailing bytes, an unknown type, a non-minimal or
 * 64-bit-overflowing varint, or a value the encoder would refuse.
 *   BATON_EMALFORMED  not a valid command (*c is zeroed)
 *   BATON_EVERSION    written by a newer format (*c is zeroed) */
int lock_cmd_decode(const void *data, size_t len, struct lock_cmd *c)
    __attribute__((warn_unused_result));

const char *lock_cmd_type_name(int type);

/* What a command did, for the client that proposed it. Identical on every
 * node for the same state and entry. */
struct lock_result {
    int type;          /* the command's type; 0 if it did not decode */
    int code;          /* 0 or a negative BATON_E*, see lock_apply */
    uint64_t lease;    /* the lease named; LEASE_GRANT: the new id;
                          DELAY_END handed on: the new holder */
    uint64_t ttl_ms;   /* LEASE_GRANT */
    uint64_t token;    /* ACQUIRE granted, RELEASE: the holder's token;
                          DELAY_END handed on: the new holder's */
    uint64_t holder;   /* ACQUIRE, RELEASE with BATON_ELOCKED: who holds it */
    bool queued;       /* ACQUIRE: code 0 and waiting (token 0); the answer
                          comes later as a GRANTED or WAIT_ENDED event */
    uint64_t since;    /* ACQUIRE queued: the wait's id (this index) */
    size_t position;   /* ACQUIRE queued: place in the queue, 0 = next */
    bool canceled;     /* RELEASE: code 0, the lease's queued wait was removed */
};

/* Events: every change an apply made, in the order it made them, so the
 * node can answer blocked clients and run the leader's clocks without
 * polling. A lease's end gives LEASE_ENDED first, then, lock by lock in the
 * locks' creation order (the same on every node and after a restore), either
 * RELEASED followed by GRANTED (the next waiter) or DELAY_STARTED, or
 * WAIT_ENDED. */
enum lock_event_type {
    LOCK_EVENT_LEASE_GRANTED = 1, /* lease, ms = ttl */
    LOCK_EVENT_LEASE_ENDED,       /* lease, reason REVOKED or EXPIRED */
    LOCK_EVENT_GRANTED,           /* name, lease, token: a new holder */
    LOCK_EVENT_RELEASED,          /* name, lease, token, reason RELEASED,
                                     REVOKED or EXPIRED: a holder went */
    LOCK_EVENT_WAIT_QUEUED,       /* name, lease, ms = wait_ms, since: queued
                                     or retried; (re)start the wait clock */
    LOCK_EVENT_WAIT_ENDED,        /* name, lease, reason WAIT_END, CANCELED,
                                     REVOKED or EXPIRED: left the queue
                                     without the lock */
    LOCK_EVENT_DELAY_STARTED,     /* name, ms = delay, since */
    LOCK_EVENT_DELAY_ENDED,       /* name, since */
};

enum lock_reason {
    LOCK_REASON_RELEASED = 1, /* LOCK_RELEASE by the holder */
    LOCK_REASON_REVOKED,      /* LEASE_REVOKE */
    LOCK_REASON_EXPIRED,      /* LEASE_EXPIRE */
    LOCK_REASON_WAIT_END,     /* LOCK_WAIT_END: the wait's time was up */
    LOCK_REASON_CANCELED,     /* LOCK_RELEASE by a waiter */
};

struct lock_event {
    int type;         /* enum lock_event_type */
    int reason;       /* enum lock_reason, or 0 */
    uint64_t lease;   /* 0 for DELAY_* */
    uint64_t token;   /* GRANTED, RELEASED */
    uint64_t ms;      /* LEASE_GRANTED, WAIT_QUEUED, DELAY_STARTED */
    uint64_t since;   /* WAIT_QUEUED, DELAY_STARTED, DELAY_ENDED */
    const char *name; /* lock events: NUL-terminated; NULL for lease events */
};

/* A caller-owned event buffer that grows as needed. lock_apply() empties it
 * and fills it; v[0..n) and their names stay valid until the next
 * lock_apply() with this buffer or lock_events_close(). */
struct lock_events {
    struct lock_event *v;
    size_t n;
    /* private */
    size_t cap;
    char *names;
    size_t names_len;
    size_t names_cap;
};

void lock_events_init(struct lock_events *ev);
void lock_events_close(struct lock_events *ev);
const char *lock_event_type_name(int type);

struct lock_sm;

/* Creates an empty state machine (applied index 0); NULL when out of memory.
 * Free it with lock_sm_free(). */
struct lock_sm *lock_sm_new(void);
void lock_sm_free(struct lock_sm *sm);

/* Applies the committed entry at index whose payload is cmd[0..len)
 * (borrowed). Returns 0 when the entry was applied, whatever the command's
 * own outcome, which is in *res (never NULL):
 *   res->code 0                 done (ACQUIRE: granted, or queued;
 *                               RELEASE: released, or wait canceled)
 *   res->code BATON_EMALFORMED  the payload is not a valid command
 *   res->code BATON_EVERSION    a command of a newer format
 *   res->code BATON_EEXPIRED    the command names a lease that is not live
 *   res->code BATON_ELOCKED     ACQUIRE try-lock: held by another lease or
 *                               under lock-delay; RELEASE by a lease that
 *                               neither holds nor waits: another holds it
 *   res->code BATON_ENOTFOUND   RELEASE by a lease that neither holds nor
 *                               waits, of a lock nobody holds; WAIT_END of
 *                               a wait that is gone; DELAY_END of a delay
 *                               that is over
 * A command whose code is not 0 changes nothing but the applied index. ev
 * (may be NULL) receives the events of this apply (none for such a command).
 * Errors of the call itself, after which nothing changed at all:
 *   BATON_EINVAL  index is not above lock_sm_applied() (the host skipped
 *                 back or applied an entry twice)
 *   BATON_ENOMEM  the host must not skip this entry (every other node applied
 *                 it): retry it, or stop the node */
int lock_apply(struct lock_sm *sm, uint64_t index, const void *cmd, size_t len,
               struct lock_result *res, struct lock_events *ev)
    __attribute__((warn_unused_result));

/* The highest index applied, or the index given to lock_sm_restore(). */
uint64_t lock_sm_applied(const struct lock_sm *sm);
size_t lease_count(const struct lock_sm *sm);
size_t lock_count(const struct lock_sm *sm); /* held, waited for or delayed */

/* ---- Reads. Serve them after ReadIndex (Raft §6.4) has been reached. ---- */

struct lease_info {
    uint64_t id;
    uint64_t ttl_ms;
    size_t n_held;  /* locks it holds */
    size_t n_waits; /* queues it stands in */
};

/* The live lease id. BATON_EEXPIRED if it is not live. */
int lease_get(const struct lock_sm *sm, uint64_t id, struct lease_info *info)
    __attribute__((warn_unused_result));

struct lock_info {
    const char *name;         /* NUL-terminated */
    uint64_t created;         /* index that created this record */
    uint64_t holder;          /* lease, 0 = none */
    uint64_t token;           /* holder's fencing token, 0 = none */
    uint64_t holder_delay_ms; /* lock-delay the holder asked for */
    uint64_t delay_ms;        /* under lock-delay: its length, else 0 */
    uint64_t delay_since;     /* under lock-delay: its id, else 0 */
    size_t n_waiters;
};

struct lock_waiter {
    const char *name; /* the lock's, NUL-terminated */
    uint64_t lease;
    uint64_t wait_ms;
    uint64_t lock_delay_ms;
    uint64_t since;  /* the wait's id, for LOCK_WAIT_END */
    size_t position; /* 0 = next in line */
};

/* The state of lock name: *info, and its first min(n_waiters, max) waiters
 * in queue order into waiters (may be NULL when max is 0). A lock nobody
 * holds, waits for or delays is free: all zero, info->name = name.
 *   BATON_EINVAL  bad name */
int lock_inspect(const struct lock_sm *sm, const char *name, struct lock_info *info,
                 struct lock_waiter *waiters, size_t max) __attribute__((warn_unused_result));

/* True iff token is the fencing token of lock name's current holder (false
 * for a bad name, a free lock, a lock under lock-delay, or token 0). */
bool lock_check(const struct lock_sm *sm, const char *name, uint64_t token);

/* Walks, for the leader's clocks, the sim's invariants and listings. Each
 * calls cb for every item in a deterministic order, the same on every node
 * and after a restore: leases by id; locks by creation index (waiters in
 * queue order within each). The state machine must not be changed during a
 * walk. A non-zero return from cb stops the walk and is returned. */
typedef int (*lease_walk_cb)(const struct lease_info *info, void *arg);
typedef int (*lock_walk_cb)(const struct lock_info *info, void *arg);
typedef int (*lock_waiter_walk_cb)(const struct lock_waiter *w, void *arg);

int lease_walk(const struct lock_sm *sm, lease_walk_cb cb, void *arg);
int lock_walk(const struct lock_sm *sm, lock_walk_cb cb, void *arg);
int lock_delay_walk(const struct lock_sm *sm, lock_walk_cb cb, void *arg); /* delayed only */
int lock_waiter_walk(const struct lock_sm *sm, lock_waiter_walk_cb cb, void *arg);

/* A listing of every live lease with the locks it holds and waits for (for
 * "lease list"). Names point into the state machine: valid until the next call
 * that changes it. remaining_ms and clocked belong to the leader's clocks, not
 * to the state: lease_list_read() leaves them 0/false and
 * lock_clock_list_remaining() (clock.h) fills them in. */
struct lease_entry {
    uint64_t id;
    uint64_t ttl_ms;
    uint64_t remaining_ms; /* the leader's estimate, when clocked */
    bool clocked;          /* remaining_ms comes from a running clock */
    size_t n_held;
    const char **held;     /* the locks it holds, by lock creation index */
    size_t n_waits;
    const char **waits;    /* the locks it queues for, by lock creation index */
};

struct lease_list {
    struct lease_entry *v; /* by lease id */
    size_t n;
    /* private */
    const char **names;    /* backs every entry's held and waits */
    size_t n_names;
};

/* Fills l (caller-allocated; its old contents are overwritten, not freed) with
 * every live lease in id order, in O(leases + locks + waits). Order depends only
 * on the state, so every node lists the same state the same way.
 *   BATON_ENOMEM  (l is then empty) */
int lease_list_read(const struct lock_sm *sm, struct lease_list *l)
    __attribute__((warn_unused_result));
/* The entry of lease id in l, or NULL (binary search). */
struct lease_entry *lease_list_find(const struct lease_list *l, uint64_t id);
/* Frees what lease_list_read() allocated and empties l. */
void lease_list_close(struct lease_list *l);

/* ---- Snapshots ---- */

/* Serializes the state into a malloc'd buffer (*data, caller frees with
 * free()). Equal states give equal bytes. The applied index is not part of
 * it: the snapshot's Raft metadata carries it.
 *   BATON_ENOMEM */
int lock_sm_snapshot(const struct lock_sm *sm, void **data, size_t *len)
    __attribute__((warn_unused_result));

/* Replaces the state with a snapshot (borrowed) taken at Raft index index,
 * which becomes the applied index. Every structural rule of a live state is
 * checked; on any error sm is unchanged.
 *   BATON_ECORRUPT  not a valid snapshot (checksum, lengths, values, a lease
 *                   or index past index, a broken invariant)
 *   BATON_EVERSION  written by a newer format
 *   BATON_ENOMEM */
int lock_sm_restore(struct lock_sm *sm, const void *data, size_t len, uint64_t index)
    __attribute__((warn_unused_result));

#endif
