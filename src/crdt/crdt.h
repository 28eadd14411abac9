/* Named G-Counter CRDTs: merge logic, delta gossip, durability marks and byte encodings. */
#ifndef BATON_CRDT_H
#define BATON_CRDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton/error.h"

/*
 * Model
 * -----
 * A struct crdt_set holds every counter one node knows. A counter has a name
 * and one slot per node id that ever incremented it; its value is the sum of
 * its slots. crdt_incr() adds to the slot of this node (self), crdt_merge()
 * takes the slot-wise maximum with slots heard from a peer. Merge is
 * commutative, associative and idempotent, so gossip that is lost, duplicated
 * or reordered still converges (Shapiro et al., "Conflict-free Replicated Data
 * Types", 2011, §3.1: state-based G-Counter).
 *
 * The set never reads a clock, touches a disk or a socket, or draws random numbers.
 *
 * Versions
 * --------
 * Every change to a slot (an increment, a merge or a load that raised it) takes
 * the next value of a set-wide version clock and stamps the slot with it. Three
 * marks follow that clock, with durable <= synced <= version:
 *   version   the newest change in memory (crdt_version);
 *   synced    changes up to here were handed to the host to persist
 *             (crdt_sync_get);
 *   durable   the host has confirmed that changes up to here are on disk
 *             (crdt_persisted; crdt_durable).
 * Versions are local to one run of one node: they restart when the process
 * does, which is why every delta carries the set's epoch (see Gossip).
 *
 * Durability
 * ----------
 * A counter must never be seen to go down, not even across a crash that loses
 * unsynced writes, and a restarted node must never hand out again a slot value
 * that someone has already seen (it would count increments twice). So:
 *   - deltas carry only durable slot values: a change leaves the node in
 *     gossip only once crdt_persisted() has covered it;
 *   - the host answers a client (the reply to crdt_incr, or a crdt_value read)
 *     only once crdt_durable() has reached crdt_version() as it was when the
 *     call returned (crdt_incr hands that version back);
 *   - a peer's changes are acknowledged (crdt_peer_ack) only once they are
 *     durable here.
 * The host's loop: after changes, crdt_sync_get() yields one encoded record per
 * changed counter; the host writes them (key: the counter's name) and, when the
 * write is synced, calls crdt_persisted(s, sync.upto). At startup it creates a
 * new set and feeds every stored record to crdt_record_load().
 *
 * Gossip
 * ------
 * Deltas are state, not operations: a delta is a list of (name, node, value)
 * slots, merged with the same slot-wise maximum. crdt_delta_get(s, since, ...)
 * lists every durable slot whose stamp is newer than since, in stamp order, so
 * at rest (nothing changed since the version a peer acknowledged) a delta is
 * empty whatever the number of counters, and a peer that holds nothing
 * (since 0) gets the full state: full-state anti-entropy is a delta since 0.
 * A size budget splits a delta into messages; each says the range of versions
 * (since, upto] it covers and the next one continues from upto.
 *
 * struct crdt_peer keeps, for one peer, both directions of that exchange:
 *   outbound: acked, the version of ours the peer holds durably; the next
 *             delta to send it is crdt_delta_get(s, peer.acked, ...);
 *   inbound:  the peer's epoch and how far we hold its versions contiguously
 *             and durably; crdt_peer_ack() returns (epoch, have) for the host
 *             to send back, crdt_peer_acked() applies such an answer.
 * A delta whose range starts past what we hold (an earlier one was lost) is
 * merged anyway, since merging is always safe, but does not move "have"; the
 * sender's acked then stays behind and it sends the gap again. A restarted
 * node starts with a new, larger epoch: its peers see the new epoch and reset
 * what they hold of it to 0, and it acknowledges nothing of theirs (epoch 0),
 * so both sides fall back to a full-state exchange. Deltas are idempotent, so
 * any duplicate or overlap is harmless.
 *
 * Overflow
 * --------
 * Slots are uint64 and never wrap. crdt_incr() returns BATON_EOVERFLOW, and
 * changes nothing, when the local slot or the counter's value would pass
 * UINT64_MAX. A merge cannot refuse a peer's slot without breaking
 * convergence, so concurrent increments on several nodes can still carry the
 * sum past UINT64_MAX: crdt_value() then returns BATON_EOVERFLOW, from then on
 * (a G-Counter never goes down), and crdt_incr() refuses that counter.
 *
 * Names
 * -----
 * 1 to CRDT_NAME_MAX bytes, any byte but NUL (names are C strings here and in
 * the store). A name outside that is BATON_EINVAL from every call.
 *
 * Node ids are never 0, as in Raft. Slots of unknown nodes are 0.
 *
 * Memory and threads: a set belongs to one thread (the node's loop). Names
 * that the set returns point into it and stay valid until crdt_set_free()
 * (counters are never deleted). Structures handed to the set are borrowed.
 *
 * Errors: functions return 0 or a negative BATON_E* code. Bytes from a peer
 * or the disk are never trusted: decoders check every length before reading.
 */

#define CRDT_NAME_MAX 255 /* bytes of a counter name, excluding the NUL */

/* One slot: the value of node's slot of counter name. */
struct crdt_slot {
    const char *name; /* NUL-terminated, 1..CRDT_NAME_MAX bytes */
    uint64_t node;    /* never 0 */
    uint64_t value;
};

struct crdt_set;

/* Creates an empty set for node self (never 0) in its run epoch (never 0, and
 * greater than the epoch of every earlier run of this node, e.g. a boot counter
 * kept in the store: a smaller one still converges but makes peers re-send the
 * full state at every round). *out is freed with crdt_set_free().
 *   BATON_EINVAL  self or epoch is 0
 *   BATON_ENOMEM */
int crdt_set_new(uint64_t self, uint64_t epoch, struct crdt_set **out)
    __attribute__((warn_unused_result));
void crdt_set_free(struct crdt_set *s);

uint64_t crdt_self(const struct crdt_set *s);
uint64_t crdt_epoch(const struct crdt_set *s);
uint64_t crdt_version(const struct crdt_set *s);
uint64_t crdt_durable(const struct crdt_set *s);
/* Number of counters known (each has at least one slot). */
size_t crdt_count(const struct crdt_set *s);

/* Adds n to self's slot of name, creating the counter if needed. On success,
 * when not NULL: *slot is self's new slot, *value the counter's new value and
 * *version the version to wait for (crdt_durable() >= *version) before the
 * increment may be reported to anyone. n == 0 changes nothing and reports the
 * current slot, value and version (a read).
 *   BATON_EINVAL    bad name
 *   BATON_EOVERFLOW the slot or the value would pass UINT64_MAX, or the value
 *                   already has; nothing changed
 *   BATON_ENOMEM    nothing changed */
int crdt_incr(struct crdt_set *s, const char *name, uint64_t n, uint64_t *slot,
              uint64_t *value, uint64_t *version) __attribute__((warn_unused_result));

/* The value of name: the sum of the slots known here, durable or not (see
 * Durability for when it may be reported).
 *   BATON_EINVAL     bad name
 *   BATON_ENOTFOUND  no slot of name is known here; *value is set to 0, which
 *                    is what a G-Counter that nobody incremented holds (the
 *                    host may answer 0 or "not found")
 *   BATON_EOVERFLOW  the sum passes UINT64_MAX; *value is set to UINT64_MAX */
int crdt_value(const struct crdt_set *s, const char *name, uint64_t *value)
    __attribute__((warn_unused_result));

/* Node's slot of name (0 if that node has none). BATON_EINVAL (bad name or
 * node 0), BATON_ENOTFOUND (unknown name; *value is set to 0). */
int crdt_slot_get(const struct crdt_set *s, const char *name, uint64_t node,
                  uint64_t *value) __attribute__((warn_unused_result));

/* Merges slots[0..n) (borrowed) into the set: each slot takes the maximum of
 * its value here and there. Slots of value 0 change nothing. When not NULL,
 * changed[i] (n elements) tells whether slots[i] raised a slot and
 * *n_changed counts them. Every slot is checked before any is merged.
 *   BATON_EINVAL    a bad name or node 0 in slots; nothing merged
 *   BATON_ENOMEM    the slots before the failing one were merged (and are
 *                   flagged): a partial merge is a valid state, but the
 *                   caller must not acknowledge the batch
 *   BATON_EOVERFLOW as BATON_ENOMEM, once the version clock has counted
 *                   2^64 - 1 changes (not in this universe) */
int crdt_merge(struct crdt_set *s, const struct crdt_slot *slots, size_t n, bool *changed,
               size_t *n_changed) __attribute__((warn_unused_result));

/* Startup: merges one slot read back from the disk. When nothing is pending
 * (durable == version), the slot counts as durable at once; otherwise it is an
 * ordinary pending change. Errors as for crdt_merge(). */
int crdt_load_slot(struct crdt_set *s, const char *name, uint64_t node, uint64_t value)
    __attribute__((warn_unused_result));

/* Calls cb for every slot, counters in the order they were first seen and each
 * counter's slots in the order they were first seen, with the latest values.
 * slot and its name are valid during the call. The set must not be changed
 * from cb. A non-zero return from cb stops the walk and is returned. */
typedef int (*crdt_slot_cb)(const struct crdt_slot *slot, void *arg);
int crdt_foreach(const struct crdt_set *s, crdt_slot_cb cb, void *arg);

/* ---- Durability ---------------------------------------------------------- */

/* One counter to persist: the value to store under key name. */
struct crdt_record {
    const char *name; /* points into the set */
    void *data;       /* owned by the crdt_sync */
    size_t len;
};

struct crdt_sync {
    uint64_t upto; /* pass to crdt_persisted() once every record is on disk */
    struct crdt_record *records;
    size_t n;
};

/* Hands out every counter changed after the synced mark, each as a record of
 * all its slots, and moves synced to the current version. *sync is
 * caller-owned; free with crdt_sync_clear(). Several may be outstanding; they
 * must be written in the order they were handed out. n == 0 when nothing
 * changed (there is nothing to write; upto may still be passed on).
 *   BATON_ENOMEM  nothing handed out, synced unchanged (also BATON_ETOOBIG,
 *                 for a counter of more than UINT32_MAX slots) */
int crdt_sync_get(struct crdt_set *s, struct crdt_sync *sync)
    __attribute__((warn_unused_result));
void crdt_sync_clear(struct crdt_sync *sync);

/* Tells the set that every change up to upto is on disk. upto past the synced
 * mark is taken as the synced mark; an upto at or below durable does nothing. */
void crdt_persisted(struct crdt_set *s, uint64_t upto);

/* After a failed write: the next crdt_sync_get() hands out again everything
 * that is not durable. */
void crdt_sync_reset(struct crdt_set *s);

/* ---- Deltas -------------------------------------------------------------- */

/* A batch of slots covering the sender's versions (since, upto]. */
struct crdt_delta {
    uint64_t epoch; /* the sender's run epoch */
    uint64_t since;
    uint64_t upto;
    struct crdt_slot *slots;
    size_t n;
    char *names; /* storage for the names of a decoded delta; NULL otherwise */
};

/* Bytes of an encoded delta with no slots, and at most one slot adds. */
#define CRDT_DELTA_HEADER_BYTES 30
#define CRDT_SLOT_MAX_BYTES (1 + CRDT_NAME_MAX + 16)
/* The smallest max_bytes crdt_delta_get() takes: room for any one slot. */
#define CRDT_DELTA_MIN_BYTES (CRDT_DELTA_HEADER_BYTES + CRDT_SLOT_MAX_BYTES)

/* Fills *d (caller-owned; free with crdt_delta_clear) with the durable slots
 * changed after since, oldest change first, as many as fit in max_slots slots
 * and max_bytes bytes of encoding (crdt_delta_encode). d->upto is where the
 * next message continues (pass it as since). The host sends d when d->n > 0
 * or d->upto > since; otherwise the peer is up to date and nothing need go.
 * The slots' names point into the set.
 *   BATON_EINVAL  max_slots is 0 or max_bytes < CRDT_DELTA_MIN_BYTES
 *   BATON_ENOMEM */
int crdt_delta_get(const struct crdt_set *s, uint64_t since, size_t max_slots,
                   size_t max_bytes, struct crdt_delta *d) __attribute__((warn_unused_result));
void crdt_delta_clear(struct crdt_delta *d);

/* ---- Peers --------------------------------------------------------------- */

/* What this node and one peer know of each other's changes. Caller-owned;
 * starts with crdt_peer_init() (as after a restart: nothing known). */
struct crdt_peer {
    /* Outbound: the peer holds every change of ours up to acked, durably. */
    uint64_t acked;
    /* Inbound: the peer's run epoch (0: not heard yet) and its versions we
     * hold: up to have durably, up to next merged. pend queues the points
     * where next moved (upto) with the local version that makes them durable
     * (at); two are enough for have to keep moving under steady traffic. */
    uint64_t epoch;
    uint64_t have;
    uint64_t next;
    struct {
        uint64_t upto;
        uint64_t at;
    } pend[2];
    size_t n_pend;
};

void crdt_peer_init(struct crdt_peer *p);

/* Merges a delta received from the peer and advances what we hold of it when
 * the delta continues from there. Errors as for crdt_merge(), plus
 * BATON_EINVAL for epoch 0 or since > upto; on error the marks do not move. */
int crdt_peer_receive(struct crdt_set *s, struct crdt_peer *p, const struct crdt_delta *d,
                      bool *changed, size_t *n_changed) __attribute__((warn_unused_result));

/* The acknowledgement to send the peer: (*epoch, *have) says we hold its
 * changes up to have of that epoch durably. (0, 0) until we heard from it. */
void crdt_peer_ack(const struct crdt_set *s, struct crdt_peer *p, uint64_t *epoch,
                   uint64_t *have);

/* Applies an acknowledgement from the peer. One for another epoch of ours is
 * stale and ignored; epoch 0 (the peer restarted and holds nothing it knows of)
 * or a have past our durable mark (nonsense) starts over from 0. An older
 * acknowledgement may move acked back: that only re-sends slots. */
void crdt_peer_acked(const struct crdt_set *s, struct crdt_peer *p, uint64_t epoch,
                     uint64_t have);

/* Full-state anti-entropy: the next delta to this peer starts from 0. */
void crdt_peer_resync(struct crdt_peer *p);

/* ---- Encodings ----------------------------------------------------------- */

/*
 * Both encodings start with a format byte (CRDT_FORMAT) and a kind byte;
 * integers are big-endian.
 *   delta:  u8 1 | u8 1 | u64 epoch | u64 since | u64 upto | u32 n |
 *           n * (u8 name_len | name | u64 node | u64 value)
 *   record: u8 1 | u8 2 | u32 n | n * (u64 node | u64 value)
 * A record is the value stored under a counter's name: all its slots, nodes
 * strictly increasing. Decoders accept only what the encoders write: epoch and
 * nodes not 0, since <= upto, names of 1..CRDT_NAME_MAX bytes without NUL, a
 * record of at least one slot with values not 0, and no byte missing or left
 * over. So a decoded message re-encodes to the same bytes.
 */
#define CRDT_FORMAT 1

/* Encodes d into a malloc'd buffer (*data, caller frees) of *len bytes.
 * BATON_EINVAL (bad epoch, range, name or node), BATON_ETOOBIG (more than
 * UINT32_MAX slots), BATON_ENOMEM. */
int crdt_delta_encode(const struct crdt_delta *d, void **data, size_t *len)
    __attribute__((warn_unused_result));

/* Decodes data (borrowed) into *d (caller-owned; free with crdt_delta_clear;
 * its names point into d->names).
 *   BATON_EMALFORMED  anything that is not a valid delta
 *   BATON_EVERSION    a format newer than CRDT_FORMAT
 *   BATON_ENOMEM
 * On error *d is empty. */
int crdt_delta_decode(const void *data, size_t len, struct crdt_delta *d)
    __attribute__((warn_unused_result));

/* One slot of a record, whose name is the key it is stored under. */
struct crdt_pair {
    uint64_t node;
    uint64_t value;
};

/* Encodes the record of counter name (a malloc'd *data, caller frees).
 * BATON_EINVAL (bad name), BATON_ENOTFOUND, BATON_ETOOBIG (more than
 * UINT32_MAX slots), BATON_ENOMEM. */
int crdt_record_encode(const struct crdt_set *s, const char *name, void **data, size_t *len)
    __attribute__((warn_unused_result));

/* Decodes a record into a malloc'd array *pairs (caller frees) of *n pairs.
 * BATON_EMALFORMED, BATON_EVERSION, BATON_ENOMEM as for crdt_delta_decode. */
int crdt_record_decode(const void *data, size_t len, struct crdt_pair **pairs, size_t *n)
    __attribute__((warn_unused_result));

/* Startup: decodes the record stored under name and loads each slot as
 * crdt_load_slot() does. A record that does not decode loads nothing.
 * BATON_EINVAL (bad name), decoding errors, BATON_ENOMEM (as crdt_merge). */
int crdt_record_load(struct crdt_set *s, const char *name, const void *data, size_t len)
    __attribute__((warn_unused_result));

#endif
