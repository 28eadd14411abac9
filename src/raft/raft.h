/* The pure Raft core: a step function fed events that hands back "ready" batches. */
#ifndef BATON_RAFT_H
#define BATON_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton/error.h"

/*
 * Model
 * -----
 * struct raft is one Raft server. It never reads a clock, touches a disk or a
 * socket, or draws random numbers of its own: the host feeds it
 *   - time:        raft_tick(r, now_ms) with a monotonic millisecond clock,
 *   - messages:    raft_step(r, msg) for every message received from a peer,
 *   - requests:    raft_propose(), raft_read_index(), raft_change(), raft_transfer(),
 *   - durability:  raft_persisted() when a ready batch has been synced,
 * and randomness comes from the seed in raft_options.
 *
 * After any of those calls the host asks for work with raft_ready_get() and does it
 * in this order (Raft §5, canonical/raft, etcd/raft):
 *   1. send rd->msgs whose after_persist is false right away (a leader's
 *      AppendEntries go out in parallel with its own disk write, Raft §10.2.1);
 *   2. persist, in one durable write: rd->snapshot (if any: it replaces the whole
 *      log, so delete every stored entry), then truncate the log from
 *      rd->entries[0].index and append rd->entries, then rd->hard_state;
 *   3. after the sync: send the msgs whose after_persist is true, install
 *      rd->snapshot into the state machine, apply rd->committed in order, answer
 *      rd->reads, then call raft_persisted(r, rd);
 *   4. raft_ready_free(rd).
 * Ready batches must be persisted in the order they were handed out. Several may
 * be outstanding at once (the host keeps stepping the core while a sync runs).
 *
 * Memory: every pointer inside a ready batch is owned by the batch and freed by
 * raft_ready_free(). Messages passed to raft_step() are borrowed: the core copies
 * what it keeps. Nothing the core returns through an accessor outlives the next
 * call that changes the core.
 *
 * Errors: functions return 0 or a negative BATON_E* code. Input from peers is
 * never asserted on: a message that makes no sense is dropped.
 */

enum raft_role {
    RAFT_FOLLOWER = 1,
    RAFT_PRECANDIDATE,
    RAFT_CANDIDATE,
    RAFT_LEADER,
};

enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 1, /* opaque command for the state machine */
    RAFT_ENTRY_NOOP,       /* appended by every new leader (Raft §8) */
    RAFT_ENTRY_CONF,       /* an encoded struct raft_conf */
};

struct raft_buf {
    void *base;
    size_t len;
};

struct raft_entry {
    uint64_t term;
    uint64_t index;
    int type; /* enum raft_entry_type */
    struct raft_buf data;
};

/* Membership: one server of the configuration. Learners receive the log but
 * neither vote nor count toward a quorum. A learner with promote set is made a
 * voter by the leader once it has caught up (Raft dissertation §4.2.1). */
enum raft_server_role {
    RAFT_VOTER = 1,
    RAFT_LEARNER,
};

#define RAFT_ADDR_MAX 128

struct raft_server {
    uint64_t id; /* never 0 */
    int role;    /* enum raft_server_role */
    bool promote;
    char addr[RAFT_ADDR_MAX]; /* opaque to the core; NUL-terminated */
};

#define RAFT_MAX_SERVERS 16

struct raft_conf {
    size_t n;
    struct raft_server servers[RAFT_MAX_SERVERS];
};

/* Configuration helpers (conf.c). */
const struct raft_server *raft_conf_get(const struct raft_conf *c, uint64_t id);
bool raft_conf_is_voter(const struct raft_conf *c, uint64_t id);
size_t raft_conf_voters(const struct raft_conf *c);
/* Whether a and b list the same servers, in the same order, with the same roles,
 * promotion marks and addresses. */
bool raft_conf_equal(const struct raft_conf *a, const struct raft_conf *b);
/* Adds a server; BATON_EINVAL if id is 0 or already present, BATON_ECONFIG if full. */
int raft_conf_add(struct raft_conf *c, uint64_t id, int role, const char *addr);
/* Removes a server; BATON_ENOTFOUND if absent. */
int raft_conf_remove(struct raft_conf *c, uint64_t id);
/* Encoding used in RAFT_ENTRY_CONF entries and snapshot metadata. encode returns
 * a malloc'd buffer (caller frees buf->base) or BATON_ENOMEM; decode returns
 * BATON_EMALFORMED for anything that is not a valid configuration. */
int raft_conf_encode(const struct raft_conf *c, struct raft_buf *buf);
int raft_conf_decode(const void *data, size_t len, struct raft_conf *c);

struct raft_snapshot_meta {
    uint64_t index; /* last entry covered by the snapshot */
    uint64_t term;  /* term of that entry */
    struct raft_conf conf; /* configuration as of index */
};

struct raft_snapshot {
    struct raft_snapshot_meta meta;
    struct raft_buf data; /* the state machine's serialized state */
};

struct raft_hard_state {
    uint64_t term;
    uint64_t vote; /* 0 = none */
};

enum raft_msg_type {
    RAFT_MSG_PREVOTE = 1,
    RAFT_MSG_PREVOTE_RESP,
    RAFT_MSG_VOTE,
    RAFT_MSG_VOTE_RESP,
    RAFT_MSG_APPEND,
    RAFT_MSG_APPEND_RESP,
    RAFT_MSG_HEARTBEAT,
    RAFT_MSG_HEARTBEAT_RESP,
    RAFT_MSG_SNAPSHOT,
    RAFT_MSG_SNAPSHOT_RESP,
    RAFT_MSG_TIMEOUT_NOW,
    RAFT_MSG_TYPE_MAX = RAFT_MSG_TIMEOUT_NOW,
};

/* One message between servers. A flat struct: each type uses the fields its
 * comment names and leaves the rest zero. */
struct raft_message {
    int type; /* enum raft_msg_type */
    uint64_t from;
    uint64_t to;
    uint64_t term;

    /* PREVOTE, VOTE: the candidate's last log position; transfer is set when the
     * election was started by TimeoutNow and must override leader stickiness. */
    uint64_t last_log_index;
    uint64_t last_log_term;
    bool transfer;

    /* *_RESP: reject = the request was refused. */
    bool reject;

    /* APPEND: prev_index/prev_term, entries, commit.
     * APPEND_RESP: index = last index the follower now matches (success), or the
     * rejected prev_index (reject) with hint_index/hint_term for fast backoff:
     * hint_term is the follower's term at prev_index (0 if its log is shorter) and
     * hint_index the first index it holds of that term (or its last index + 1). */
    uint64_t prev_index;
    uint64_t prev_term;
    uint64_t commit;
    struct raft_entry *entries;
    size_t n_entries;
    uint64_t index;
    uint64_t hint_index;
    uint64_t hint_term;

    /* HEARTBEAT: commit (capped at the follower's match), read_seq.
     * HEARTBEAT_RESP: read_seq echoed back. */
    uint64_t read_seq;

    /* SNAPSHOT: snapshot.meta, chunk [offset, offset + chunk.len) of
     * snapshot.data (snapshot.data itself unused), done on the last chunk.
     * SNAPSHOT_RESP: offset = bytes received so far, index = snapshot index;
     * reject = restart from offset. */
    struct raft_snapshot_meta snapshot;
    uint64_t offset;
    struct raft_buf chunk;
    bool done;
};

/* Deep copy of an entry (dst->data malloc'd); BATON_ENOMEM. */
int raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src);

/* Frees what a message owns (entries and their data, chunk). Not the struct. */
void raft_message_clear(struct raft_message *m);
/* Deep copy; BATON_ENOMEM on failure (dst left empty). */
int raft_message_copy(struct raft_message *dst, const struct raft_message *src);

/* The answer to a ReadIndex request: ok with the index to wait for (serve the read
 * once the state machine has applied index), or !ok if leadership was lost first. */
struct raft_read {
    uint64_t ctx;
    uint64_t index;
    bool ok;
};

struct raft_ready {
    uint64_t seq; /* hand-out order, for raft_persisted */

    /* Persist these (in this order) before anything with after_persist. */
    struct raft_snapshot *snapshot; /* a received snapshot replacing the log, or NULL */
    bool has_hard_state;
    struct raft_hard_state hard_state;
    struct raft_entry *entries; /* truncate from entries[0].index, then append */
    size_t n_entries;

    struct raft_message *msgs;
    size_t n_msgs;
    /* msgs[i] may be sent before this batch is persisted unless after[i]. */
    bool *after_persist;

    /* Now committed: apply in order after persisting this batch (and after
     * installing snapshot). */
    struct raft_entry *committed;
    size_t n_committed;

    struct raft_read *reads;
    size_t n_reads;

    /* Soft state, as of the end of this batch. */
    int role;
    uint64_t leader;
    uint64_t term;
};

struct raft_options {
    uint64_t id;
    unsigned heartbeat_ms;        /* leader heartbeat period */
    unsigned election_ms;         /* base election timeout; randomized in [e, 2e) */
    unsigned max_inflight;        /* AppendEntries in flight per follower */
    unsigned max_batch_entries;   /* entries per AppendEntries */
    size_t max_batch_bytes;       /* payload bytes per AppendEntries */
    size_t snapshot_chunk_bytes;  /* InstallSnapshot chunk size */
    bool pre_vote;
    bool check_quorum;
    uint64_t seed;                /* randomness for election timeouts */
};

/* Fills opt with defaults (heartbeat 100 ms, election 1000 ms, 8 in flight,
 * 256 entries / 1 MiB per message, 256 KiB chunks, pre-vote and check-quorum on). */
void raft_options_default(struct raft_options *opt, uint64_t id);

/* What the host loaded from stable storage. Entries may start before
 * snapshot.meta.index + 1 (trailing entries kept at compaction); they must be
 * contiguous. Borrowed: the core copies what it keeps. */
struct raft_boot {
    struct raft_hard_state hard_state;
    const struct raft_snapshot *snapshot; /* NULL if none */
    const struct raft_entry *entries;
    size_t n_entries;
};

struct raft;

/* Creates a server from its durable state at virtual time now_ms. A server whose
 * log holds no configuration waits to be contacted by a leader (a joining node).
 * Returns NULL on allocation failure, or if boot is inconsistent (*err says why:
 * BATON_ECORRUPT for non-contiguous entries, BATON_EINVAL for bad options). */
struct raft *raft_new(const struct raft_options *opt, const struct raft_boot *boot,
                      uint64_t now_ms, int *err);
void raft_free(struct raft *r);

/* The first entry of a new cluster: every initial member persists the same one
 * (index 1, term 1, RAFT_ENTRY_CONF). entry->data is malloc'd; caller frees. */
int raft_bootstrap_entry(const struct raft_conf *conf, struct raft_entry *entry)
    __attribute__((warn_unused_result));

/* Advances virtual time; may start an election, send heartbeats, step down
 * (check-quorum) or abort a leadership transfer. now_ms must not go backwards. */
void raft_tick(struct raft *r, uint64_t now_ms);

/* Feeds one received message (borrowed). Messages not addressed to this server or
 * that make no sense are dropped; returns 0 or BATON_ENOMEM. */
int raft_step(struct raft *r, const struct raft_message *m);

/* Appends a command. Leader only: BATON_ENOTLEADER otherwise, BATON_EBUSY during a
 * leadership transfer. data is copied. On success *index and *term name the entry:
 * the command took effect iff the entry applied at *index has term *term. */
int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index,
                 uint64_t *term) __attribute__((warn_unused_result));

/* Linearizable read (Raft §6.4, ReadIndex): the answer arrives in a ready batch's
 * reads with the same ctx. Leader only (BATON_ENOTLEADER otherwise). */
int raft_read_index(struct raft *r, uint64_t ctx) __attribute__((warn_unused_result));

/* Single-server membership change (Raft dissertation §4.1). */
enum raft_change_type {
    RAFT_CHANGE_ADD_VOTER = 1, /* joins as a learner, promoted once caught up */
    RAFT_CHANGE_ADD_LEARNER,   /* stays a learner */
    RAFT_CHANGE_REMOVE,
};
/* Leader only. BATON_EBUSY while a previous change is uncommitted or before the
 * leader has committed an entry of its own term; BATON_EINVAL for a change that
 * changes nothing (add of a member, remove of a stranger, removing the last voter).
 * On success *index is the configuration entry's index. */
int raft_change(struct raft *r, int type, uint64_t id, const char *addr, uint64_t *index)
    __attribute__((warn_unused_result));

/* Leadership transfer (Raft dissertation §3.10) to target, or to the most
 * up-to-date voter when target is 0. Leader only; BATON_EINVAL for a target that
 * is not a voter; BATON_EBUSY if a transfer is already running. */
int raft_transfer(struct raft *r, uint64_t target) __attribute__((warn_unused_result));

/* Log compaction: the host has durably stored a snapshot of its state machine at
 * index (<= applied) whose metadata it got from raft_snapshot_meta(). The core keeps
 * a copy of data to send to lagging followers and drops entries up to
 * index - trailing. BATON_EINVAL if index is not applied or older than the current
 * snapshot. */
int raft_snapshot_meta(const struct raft *r, uint64_t index, struct raft_snapshot_meta *meta);
int raft_compact(struct raft *r, const struct raft_snapshot_meta *meta, const void *data,
                 size_t len, uint64_t trailing) __attribute__((warn_unused_result));

/* True when there is work for raft_ready_get(). */
bool raft_has_ready(const struct raft *r);
/* Moves the pending work into *rd (caller-owned struct; free with raft_ready_free). */
int raft_ready_get(struct raft *r, struct raft_ready *rd) __attribute__((warn_unused_result));
/* Tells the core the batch rd was synced (entries, hard state, snapshot), in order. */
void raft_persisted(struct raft *r, const struct raft_ready *rd);
void raft_ready_free(struct raft_ready *rd);

/* Read-only views, for the host, tests and the simulation. */
uint64_t raft_id(const struct raft *r);
int raft_role(const struct raft *r);
uint64_t raft_term(const struct raft *r);
uint64_t raft_vote(const struct raft *r);
uint64_t raft_leader(const struct raft *r);
uint64_t raft_commit(const struct raft *r);
uint64_t raft_applied(const struct raft *r); /* highest index handed out to apply */
uint64_t raft_first_index(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
uint64_t raft_last_term(const struct raft *r);
uint64_t raft_snapshot_index(const struct raft *r);
/* Term of the entry at index (the snapshot's term at its index), 0 if unknown. */
uint64_t raft_term_at(const struct raft *r, uint64_t index);
/* The entry at index, or NULL if outside [first_index, last_index]. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);
/* The configuration in effect (the latest in the log, committed or not). */
const struct raft_conf *raft_conf(const struct raft *r);
/* The latest committed configuration (Raft dissertation §4.1: a server uses the
 * latest configuration in its log, committed or not; this is the last one at or
 * below the commit index, what a leader can vouch for). Copied into *conf.
 * BATON_EMALFORMED only if the log holds a configuration entry that does not
 * decode (the core never writes one). */
int raft_conf_committed(const struct raft *r, struct raft_conf *conf)
    __attribute__((warn_unused_result));
/* True while a leader has heard from a quorum within the last election timeout,
 * i.e. no other leader can have been elected meanwhile (check-quorum lease). */
bool raft_leader_lease_valid(const struct raft *r);
/* The target of the leadership transfer this leader is running, 0 if none (never
 * started, completed, or abandoned after an election timeout). */
uint64_t raft_transfer_target(const struct raft *r);
/* Progress of follower id as seen by this leader; false if not leader or unknown. */
bool raft_progress(const struct raft *r, uint64_t id, uint64_t *match, uint64_t *next);

const char *raft_role_name(int role);
const char *raft_msg_type_name(int type);

#endif
