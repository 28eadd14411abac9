/* Private state of the Raft core, shared by the files of src/raft only. */
#ifndef BATON_RAFT_INTERNAL_H
#define BATON_RAFT_INTERNAL_H

#include "raft/raft.h"

/* The in-memory log: entries [first, first + n) plus the snapshot's last
 * (index, term). Entries at or below snap_index may remain as a trailing tail
 * kept for followers that are only slightly behind. Invariant: first <=
 * snap_index + 1, and with n == 0, first == snap_index + 1. */
struct raft_log {
    struct raft_entry *entries;
    size_t n;
    size_t cap;
    uint64_t first;
    uint64_t snap_index;
    uint64_t snap_term;
};

void raft_log_init(struct raft_log *l, uint64_t snap_index, uint64_t snap_term);
void raft_log_close(struct raft_log *l);
uint64_t raft_log_last_index(const struct raft_log *l);
uint64_t raft_log_last_term(const struct raft_log *l);
uint64_t raft_log_term_at(const struct raft_log *l, uint64_t index);
struct raft_entry *raft_log_get(const struct raft_log *l, uint64_t index);
/* Appends a copy of e (e->index must be last + 1); BATON_ENOMEM. */
int raft_log_append(struct raft_log *l, const struct raft_entry *e);
/* Takes ownership of e->data on success. */
int raft_log_append_take(struct raft_log *l, struct raft_entry *e);
void raft_log_truncate_from(struct raft_log *l, uint64_t index);
/* Drops entries up to and including index. */
void raft_log_drop_prefix(struct raft_log *l, uint64_t index);
/* Discards everything and restarts after a snapshot at (index, term). */
void raft_log_reset(struct raft_log *l, uint64_t index, uint64_t term);

enum progress_state {
    PROGRESS_PROBE = 1,   /* one AppendEntries at a time until next is found */
    PROGRESS_REPLICATE,   /* optimistic pipeline of up to max_inflight */
    PROGRESS_SNAPSHOT,    /* sending InstallSnapshot chunks */
};

#define RAFT_INFLIGHT_MAX 64
#define RAFT_HB_RING 64

/* The leader's view of one other server (Raft §5.3 nextIndex/matchIndex). */
struct raft_progress {
    uint64_t id;
    uint64_t match;
    uint64_t next;
    int state;
    bool probe_sent;
    bool recent_active;   /* heard from since the last check-quorum round */
    bool timeout_now_sent;
    uint64_t inflight[RAFT_INFLIGHT_MAX]; /* last index of each AppendEntries in flight */
    unsigned inflight_head;
    unsigned inflight_n;
    uint64_t snap_index;  /* snapshot being sent */
    uint64_t snap_offset; /* bytes of it the follower has acknowledged */
    uint64_t snap_sent;   /* end of the last chunk sent */
    uint64_t snap_sent_ms; /* when it was sent */
    uint64_t read_acked;  /* highest heartbeat sequence acknowledged */
    uint64_t lease_ack_ms; /* send time of the newest acknowledged heartbeat */
};

struct raft_vote_tally {
    uint64_t id;
    bool granted;
};

/* A ReadIndex request waiting for a quorum to confirm the leadership. seq 0 means
 * it still waits for the leader's first commit in its term. */
struct raft_pending_read {
    uint64_t ctx;
    uint64_t index;
    uint64_t seq;
};

/* Work accumulated for the next ready batch. */
struct raft_outbox {
    struct raft_message *msgs;
    bool *after;
    size_t n_msgs;
    size_t cap_msgs;
    struct raft_read *reads;
    size_t n_reads;
    size_t cap_reads;
    uint64_t persist_from; /* first log index to persist; 0 = none */
    bool hs_dirty;
    struct raft_snapshot *snapshot;
    bool bcast_append;    /* new entries to replicate (batched until ready_get) */
    bool bcast_heartbeat; /* reads to confirm */
};

/* A snapshot arriving in chunks from the leader. */
struct raft_incoming_snapshot {
    struct raft_snapshot_meta meta;
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool active;
};

struct raft {
    struct raft_options opt;
    uint64_t id;
    int role;
    uint64_t term;
    uint64_t vote;
    uint64_t leader;
    uint64_t commit;
    uint64_t applied;        /* handed out for apply */
    uint64_t durable_index;  /* our own log is synced up to here */
    unsigned hs_unsynced;    /* handed-out batches with hard state not yet synced */
    uint64_t ready_seq;
    uint64_t now;
    uint64_t rng;

    struct raft_log log;
    struct raft_conf conf;
    uint64_t conf_index;     /* log index of conf; 0 when it came from the snapshot */
    struct raft_conf snap_conf;
    struct raft_buf snap_data; /* our latest snapshot, for lagging followers */

    /* Timers (absolute virtual ms). */
    uint64_t election_deadline;
    uint64_t heartbeat_deadline;
    uint64_t check_quorum_deadline;
    uint64_t last_heard_leader;

    struct raft_vote_tally votes[RAFT_MAX_SERVERS];
    size_t n_votes;

    struct raft_progress progress[RAFT_MAX_SERVERS];
    size_t n_progress;

    uint64_t transfer_target;
    uint64_t transfer_deadline;

    uint64_t hb_seq;
    uint64_t hb_sent_ms[RAFT_HB_RING];
    struct raft_pending_read *reads;
    size_t n_reads;
    size_t cap_reads;

    struct raft_incoming_snapshot incoming;
    struct raft_outbox out;
};

/* raft.c */
uint64_t raft_random(struct raft *r);
void raft_reset_election_timer(struct raft *r);
void raft_become_follower(struct raft *r, uint64_t term, uint64_t leader);
void raft_become_candidate(struct raft *r);
void raft_become_precandidate(struct raft *r);
void raft_become_leader(struct raft *r);
/* A message from the current leader: follow it and restart the election timer. */
void raft_accept_leader(struct raft *r, const struct raft_message *m);
bool raft_is_voter(const struct raft *r);
size_t raft_quorum(const struct raft *r);
/* True once the leader has committed an entry of its own term (Raft §8). */
bool raft_committed_in_term(const struct raft *r);

/* outbox.c */
int raft_send(struct raft *r, struct raft_message *m); /* takes m's contents */
int raft_push_read(struct raft *r, uint64_t ctx, uint64_t index, bool ok);
void raft_mark_persist(struct raft *r, uint64_t from_index);
void raft_outbox_close(struct raft_outbox *o);

/* election.c */
void raft_campaign(struct raft *r, bool transfer);
void raft_start_election(struct raft *r); /* pre-vote first when enabled */
int raft_handle_vote(struct raft *r, const struct raft_message *m);
void raft_handle_vote_resp(struct raft *r, const struct raft_message *m);

/* replication.c */
struct raft_progress *raft_progress_get(struct raft *r, uint64_t id);
void raft_send_append(struct raft *r, struct raft_progress *pr, bool allow_empty);
void raft_bcast_append(struct raft *r);
void raft_bcast_heartbeat(struct raft *r);
int raft_handle_append(struct raft *r, const struct raft_message *m);
void raft_handle_append_resp(struct raft *r, const struct raft_message *m);
int raft_handle_heartbeat(struct raft *r, const struct raft_message *m);
void raft_handle_heartbeat_resp(struct raft *r, const struct raft_message *m);
bool raft_maybe_commit(struct raft *r);
int raft_append_local(struct raft *r, int type, const void *data, size_t len, uint64_t *index);
/* The inflight window of a progress (shared with snapshot.c). */
void raft_progress_reset(struct raft_progress *pr, int state);

/* snapshot.c */
/* The configuration as of index (the latest CONF entry at or before it). */
int raft_conf_at(const struct raft *r, uint64_t index, struct raft_conf *conf);
void raft_send_snapshot_chunk(struct raft *r, struct raft_progress *pr);
/* Resends the unacknowledged chunk if nothing moved for a while (lost chunk). */
void raft_snapshot_resend_stalled(struct raft *r, struct raft_progress *pr);
int raft_handle_snapshot(struct raft *r, const struct raft_message *m);
void raft_handle_snapshot_resp(struct raft *r, const struct raft_message *m);

/* membership.c */
void raft_conf_refresh(struct raft *r);
void raft_progress_sync(struct raft *r);
void raft_maybe_promote(struct raft *r);
void raft_on_commit_conf(struct raft *r);

/* transfer.c */
void raft_transfer_check(struct raft *r, struct raft_progress *pr);
void raft_transfer_abort(struct raft *r);
void raft_handle_timeout_now(struct raft *r, const struct raft_message *m);

/* read.c */
void raft_reads_on_commit(struct raft *r);
void raft_reads_on_ack(struct raft *r);
void raft_reads_fail_all(struct raft *r);

#endif
