/* The deterministic cluster simulation's shared state: clock, nodes, network, history. */
#ifndef BATON_SIM_H
#define BATON_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "rng.h"

/* Node ids are 1..SIM_MAX_IDS-1 and never reused within a run. */
#define SIM_MAX_IDS 40
#define SIM_REASON_MAX 1024
/* Once the fault phase ends and everything is healed, a new entry must be committed
 * and applied on every member within this much virtual time, or the seed fails. */
#define SIM_LIVENESS_MS 10000
/* How often the liveness phase retries its probe proposal. */
#define SIM_PROBE_MS 200

/* ------------------------------------------------------------------ events */

enum sim_ev_type {
    SIM_EV_DELIVER = 1, /* a message reaches node */
    SIM_EV_SYNC,        /* node's disk finishes the writes due by now */
    SIM_EV_TICK,        /* node's timer fires */
    SIM_EV_WORKLOAD,    /* a client proposes or reads */
    SIM_EV_NEMESIS,     /* the next fault or membership change */
    SIM_EV_HEAL,        /* end of the fault phase */
    SIM_EV_PROBE,       /* liveness phase: propose a probe entry */
    SIM_EV_DEADLINE,    /* liveness phase: too late */
    SIM_EV_STRIKE,      /* the nemesis hits a freshly elected leader */
    SIM_EV_RETIRE,      /* a node no longer in the cluster is shut down */
};

struct sim_event {
    uint64_t at;  /* virtual ms */
    uint64_t seq; /* insertion order: breaks ties deterministically */
    int type;     /* enum sim_ev_type */
    uint64_t node;
    uint32_t incarnation; /* SYNC/TICK/STRIKE: ignored if the node restarted since */
    uint64_t term;        /* STRIKE: only while node still leads this term */
    struct raft_message *msg; /* DELIVER: owned by the event */
};

/* A binary min-heap on (at, seq). */
struct sim_queue {
    struct sim_event *v;
    size_t n, cap;
    uint64_t next_seq;
};

/* ------------------------------------------------------------------ nodes */

enum sim_node_state {
    SIM_NODE_UNUSED = 0,
    SIM_NODE_UP,
    SIM_NODE_DOWN,    /* crashed: only the durable state is left */
    SIM_NODE_RETIRED, /* out of the cluster; durable state kept for the checker */
};

/* Contiguous entries e[0].index .. e[n-1].index, each owning its data. */
struct sim_log {
    struct raft_entry *e;
    size_t n, cap;
};

/* What survives a crash: exactly what completed a sync. */
struct sim_durable {
    struct raft_hard_state hs;
    bool has_snap;
    struct raft_snapshot snap;
    struct sim_log log;
};

/* The replicated state machine: a running hash of everything applied. */
struct sim_sm {
    uint64_t applied; /* last applied index */
    uint64_t count;   /* NORMAL entries applied */
    uint64_t hash;    /* over every applied (index, term, payload) */
};

/* A ready batch handed out by the core and not yet synced. */
struct sim_batch {
    struct raft_ready rd;
    uint64_t sync_at;
    struct sim_batch *next;
};

struct sim_node {
    uint64_t id;
    int state; /* enum sim_node_state */
    uint32_t incarnation;
    struct raft *r; /* NULL unless UP */
    struct sim_durable d;
    struct sim_sm sm;
    struct sim_batch *head, *tail; /* unsynced, oldest first */
    uint64_t last_sync_at;
    /* The configuration entry that made it a member (1/1 for initial members). */
    uint64_t add_index, add_term;
    bool leaving; /* out of the cluster; shut down at a SIM_EV_RETIRE */
    /* What the checker saw last, so it notices changes. */
    int seen_role;
    uint64_t seen_term, seen_commit;
};

/* ------------------------------------------------------------------ network */

struct sim_link {
    bool cut;          /* messages on this directed link are lost */
    uint16_t drop_pm;  /* per mille lost */
    uint16_t dup_pm;   /* per mille delivered twice */
};

struct sim_net {
    struct sim_link link[SIM_MAX_IDS][SIM_MAX_IDS]; /* [from][to] */
};

/* ------------------------------------------------------------------ history */

/* One (index, term) some log held: log matching says it is one entry. */
struct sim_variant {
    uint64_t term;
    uint64_t hash;      /* of type and payload */
    uint64_t prev_term; /* term of the entry before it; 0 = unknown */
};

/* Everything the checker knows about one log index. */
struct sim_index {
    struct sim_variant *v;
    uint32_t n_v;
    uint64_t committed_term; /* 0 = nobody observed it committed yet */
    uint64_t committed_obs;  /* lowest term of a node that observed it committed */
    bool applied;
    uint64_t applied_term, applied_hash, state_hash;
};

/* A configuration entry seen in some log. */
struct sim_conf_rec {
    uint64_t index, term;
    struct raft_conf conf;
};

struct sim_history {
    struct sim_index *idx; /* by log index */
    size_t n_idx;
    uint64_t *leader_of_term; /* election safety */
    size_t n_terms;
    struct sim_conf_rec *confs; /* sorted by index, then insertion */
    size_t n_confs, cap_confs;
    uint64_t max_commit; /* highest commit index any node observed */
    struct raft_conf committed_conf; /* the latest committed configuration */
    uint64_t committed_conf_index;
    bool commit_grew; /* since the membership reaper last looked */
};

/* ------------------------------------------------------------------ workload */

struct sim_read {
    uint64_t node;
    uint64_t min_index; /* highest commit index observed when it was issued */
    bool answered;
};

struct sim_workload {
    uint64_t next_payload;
    struct sim_read *reads; /* by ctx - 1 */
    size_t n_reads, cap_reads;
    uint64_t probe_index; /* lowest index where a liveness probe was applied */
    uint64_t proposed, reads_ok, changes, transfers;
};

/* ------------------------------------------------------------------ the run */

enum sim_nemesis_action {
    SIM_NEM_CRASH,
    SIM_NEM_CRASH_LEADER,
    SIM_NEM_RESTART,
    SIM_NEM_SPLIT,
    SIM_NEM_ONE_WAY,
    SIM_NEM_ISOLATE_LEADER,
    SIM_NEM_HEAL_NET,
    SIM_NEM_FLAKY,
    SIM_NEM_ADD,
    SIM_NEM_REMOVE,
    SIM_NEM_TRANSFER,
    SIM_NEM_COUNT,
};

/* Everything drawn from the seed before the run starts. */
struct sim_params {
    struct raft_options raft; /* template: id and seed are set per node */
    unsigned delay_min, delay_max; /* network latency, ms */
    unsigned sync_max;             /* disk sync latency 0..sync_max ms */
    unsigned tick_max;             /* timer fires every 1..tick_max ms */
    unsigned compact_every;        /* compact when applied - snapshot exceeds it */
    unsigned trailing_max;         /* entries kept behind a snapshot, 0..max */
    unsigned fault_ms;             /* length of the fault phase */
    unsigned workload_gap_max;     /* ms between client requests */
    unsigned nemesis_gap_max;      /* ms between nemesis actions */
    unsigned read_pm;              /* share of client requests that are reads */
    unsigned max_slots;            /* members (up or down) at most */
    unsigned min_voters;           /* never remove below this many voters */
    unsigned weights[SIM_NEM_COUNT];
    unsigned strike_pm;            /* chance a new leader is hit soon after election */
    unsigned linger_max;           /* a removed node runs on for 0..linger_max ms */
    unsigned learner_pm;           /* share of additions that stay learners */
};

struct sim {
    uint64_t seed;
    unsigned n_initial;
    bool verbose;
    struct sim_rng rng;
    uint64_t now;
    struct sim_params p;
    struct sim_queue q;
    struct sim_net net;
    struct sim_node nodes[SIM_MAX_IDS];
    uint64_t next_id;
    struct sim_history h;
    struct sim_workload w;
    bool healed; /* the fault phase is over */
    uint64_t healed_at;
    uint64_t watched_term;   /* newest leader term the nemesis has considered */
    uint64_t watched_commit; /* that leader's commit index when elected */
    bool watched_struck;     /* the nemesis already decided about its first commit */
    bool done;   /* liveness proven */
    bool failed; /* an invariant broke: reason says which */
    char reason[SIM_REASON_MAX];
};

/* sim.c: the run and its event loop. */
int sim_run(uint64_t seed, unsigned nodes, bool verbose, char *reason, size_t reason_len);
void sim_trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_schedule(struct sim *s, uint64_t at, int type, uint64_t node, uint32_t incarnation,
                  struct raft_message *msg);
struct sim_node *sim_node_get(struct sim *s, uint64_t id);
struct sim_node *sim_leader(struct sim *s);
struct sim_node *sim_any_leader(struct sim *s);
size_t sim_ids_in_state(struct sim *s, int state, uint64_t *ids);
size_t sim_slots_used(struct sim *s);

/* queue.c */
int sim_queue_push(struct sim_queue *q, struct sim_event ev);
bool sim_queue_pop(struct sim_queue *q, struct sim_event *out);
void sim_queue_free(struct sim_queue *q);

/* net.c: the network between nodes. */
void sim_net_send(struct sim *s, const struct raft_message *m);
void sim_net_deliver(struct sim *s, const struct sim_event *ev);
void sim_net_heal(struct sim *s);
void sim_net_split(struct sim *s, const uint64_t *ids, size_t n, uint64_t side_mask);
void sim_net_cut(struct sim *s, uint64_t from, uint64_t to);
void sim_net_isolate(struct sim *s, uint64_t id);
void sim_net_flaky(struct sim *s, uint64_t from, uint64_t to, unsigned drop_pm,
                   unsigned dup_pm);
void sim_msg_describe(char *buf, size_t len, const struct raft_message *m);

/* node.c: the host model around one raft instance. */
void sim_node_create(struct sim *s, uint64_t id, const struct raft_entry *bootstrap,
                     uint64_t add_index, uint64_t add_term);
void sim_node_start(struct sim *s, struct sim_node *n);
void sim_node_crash(struct sim *s, struct sim_node *n);
void sim_node_retire(struct sim *s, struct sim_node *n, const char *why);
void sim_node_process(struct sim *s, struct sim_node *n);
void sim_node_step(struct sim *s, struct sim_node *n, const struct raft_message *m);
void sim_node_on_sync(struct sim *s, const struct sim_event *ev);
void sim_node_on_tick(struct sim *s, const struct sim_event *ev);
void sim_node_free(struct sim_node *n);

/* store.c: a node's simulated stable storage. */
int sim_entry_copy(struct raft_entry *dst, const struct raft_entry *src);
uint64_t sim_durable_last(const struct sim_durable *d);
int sim_durable_append(struct sim_durable *d, const struct raft_entry *entries, size_t n);
int sim_durable_install(struct sim_durable *d, const struct raft_snapshot *snap);
int sim_durable_compact(struct sim_durable *d, const struct raft_snapshot_meta *meta,
                        const struct raft_buf *data, uint64_t trailing);
bool sim_durable_has(const struct sim_durable *d, uint64_t index, uint64_t term);
void sim_durable_boot(const struct sim_durable *d, struct raft_boot *boot);
void sim_durable_free(struct sim_durable *d);

/* sm.c: the state machine and its snapshot encoding. */
uint64_t sim_entry_hash(const struct raft_entry *e);
void sim_sm_apply(struct sim_sm *sm, const struct raft_entry *e, uint64_t entry_hash);
int sim_sm_encode(const struct sim_sm *sm, struct raft_buf *out);
int sim_sm_decode(const void *data, size_t len, struct sim_sm *sm);

/* history.c: what the checker remembers across nodes. */
struct sim_index *sim_history_at(struct sim *s, uint64_t index);
const struct sim_index *sim_history_peek(const struct sim_history *h, uint64_t index);
const struct sim_variant *sim_history_variant(const struct sim_history *h, uint64_t index,
                                              uint64_t term);
int sim_history_add_conf(struct sim *s, uint64_t index, uint64_t term,
                         const struct raft_entry *e);
const struct raft_conf *sim_history_conf_at(struct sim *s, const struct raft *r,
                                            uint64_t index);
void sim_history_commit_conf(struct sim *s, uint64_t index, const struct raft_conf *conf);
void sim_history_free(struct sim_history *h);

/* check.c and commit.c: the invariants. */
void sim_check_entries(struct sim *s, struct sim_node *n, const struct raft_ready *rd);
void sim_check_bootstrap(struct sim *s, const struct raft_entry *e, const struct raft_conf *c);
void sim_check_hard_state(struct sim *s, struct sim_node *n, const struct raft_hard_state *hs);
void sim_check_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e,
                     uint64_t entry_hash);
void sim_check_install(struct sim *s, struct sim_node *n, const struct raft_snapshot_meta *meta,
                       const struct sim_sm *sm);
void sim_check_compact(struct sim *s, struct sim_node *n, const struct raft_snapshot_meta *meta);
void sim_check_send(struct sim *s, struct sim_node *n, const struct raft_message *m);
void sim_check_observe(struct sim *s);
void sim_check_commit(struct sim *s, struct sim_node *n);
void sim_check_new_leader(struct sim *s, struct sim_node *n);

/* workload.c: clients, reads and the liveness probe. */
void sim_workload_on_event(struct sim *s);
void sim_workload_on_probe(struct sim *s);
void sim_workload_on_deadline(struct sim *s);
void sim_workload_read_answer(struct sim *s, struct sim_node *n, const struct raft_read *rd);
void sim_workload_applied(struct sim *s, struct sim_node *n, const struct raft_entry *e);
void sim_workload_check_liveness(struct sim *s);
void sim_workload_free(struct sim_workload *w);

/* nemesis.c: faults, membership changes, transfers, and the final heal. */
void sim_nemesis_pick_weights(struct sim *s);
void sim_nemesis_on_event(struct sim *s);
void sim_nemesis_heal(struct sim *s);
void sim_nemesis_watch(struct sim *s);
void sim_nemesis_on_strike(struct sim *s, const struct sim_event *ev);

/* membership.c: nodes leave once a committed configuration no longer has them. */
void sim_membership_reap(struct sim *s);
void sim_membership_on_retire(struct sim *s, const struct sim_event *ev);

#endif
