/* The deterministic cluster simulation's shared state: clock, nodes, network, history. */
#ifndef BATON_SIM_H
#define BATON_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/crdt.h"
#include "lock/clock.h"
#include "lock/lock.h"
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
    SIM_EV_REQUEST,     /* a client's request reaches node (payload: sim_req) */
    SIM_EV_ANSWER,      /* a node's answer reaches its client (payload: sim_req) */
    SIM_EV_CLIENT,      /* a lock client's timer: node = client, sub = which timer */
    SIM_EV_COUNTER,     /* the counter clients increment or read somewhere */
    SIM_EV_GOSSIP,      /* G-Counter gossip reaches node (payload: sim_gossip) */
};

struct sim_event {
    uint64_t at;  /* virtual ms */
    uint64_t seq; /* insertion order: breaks ties deterministically */
    int type;     /* enum sim_ev_type */
    int sub;      /* CLIENT: which timer */
    uint64_t node;
    uint32_t incarnation; /* SYNC/TICK/STRIKE: ignored if the node restarted since;
                             CLIENT: ignored if the timer was set again since */
    uint64_t term;        /* STRIKE: only while node still leads this term */
    struct raft_message *msg; /* DELIVER: owned by the event */
    void *payload;            /* REQUEST, ANSWER, GOSSIP: malloc'd, owned by the event */
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

/* Lock names L0..L2 and counter names c0..c2; a run uses some of them. */
#define SIM_LOCK_NAMES 3
#define SIM_COUNTER_NAMES 3

/* What survives a crash: exactly what completed a sync. */
struct sim_durable {
    struct raft_hard_state hs;
    bool has_snap;
    struct raft_snapshot snap;
    struct sim_log log;
    struct raft_buf crdt[SIM_COUNTER_NAMES]; /* each counter's stored record, or empty */
};

/* The replicated state machine: a running hash of everything applied. */
struct sim_sm {
    uint64_t applied; /* last applied index */
    uint64_t count;   /* NORMAL entries applied */
    uint64_t hash;    /* over every applied (index, term, payload) */
};

/* A write handed to the disk and not yet synced: a ready batch from the core, or
 * (crdt set) the G-Counter records of one crdt_sync_get(). */
struct sim_batch {
    struct raft_ready rd;
    bool crdt;
    struct crdt_sync sync;
    uint64_t sync_at;
    struct sim_batch *next;
};

/* ------------------------------------------------------------------ clients */

enum sim_op {
    SIM_OP_GRANT = 1,
    SIM_OP_KEEPALIVE,
    SIM_OP_REVOKE,
    SIM_OP_ACQUIRE,
    SIM_OP_RELEASE,
    SIM_OP_INCR,
    SIM_OP_GET,
};

/* A client's request and, filled in by the node, its answer. Lock requests
 * come from lock client `client`; counter requests from the counter clients. */
struct sim_req {
    int op; /* enum sim_op */
    uint32_t client;
    uint64_t id;      /* unique per client */
    uint64_t sent_at; /* when the client sent it */
    uint64_t node;    /* where it went */
    uint64_t lease, ttl_ms, wait_ms, lock_delay_ms, n;
    int name; /* lock or counter name index */
    /* the answer */
    int code;        /* 0 or a negative BATON_E* */
    uint64_t leader; /* ENOTLEADER: the node's idea of the leader */
    uint64_t token;  /* ACQUIRE */
    uint64_t value;  /* GET */
};

/* A request a node holds until its entry applies, its lock is granted, or its
 * counter change is durable. Lost when the node crashes. */
struct sim_pending {
    struct sim_req req;
    uint64_t index, term; /* proposal: the entry */
    uint64_t version;     /* counter: the durable mark to wait for */
    struct sim_pending *next;
};

struct sim_plist {
    struct sim_pending *head, *tail;
};

/* The node's lock service, as src/node/service*.c runs it, and its G-Counter host,
 * as src/node/counters.c does. All of it is memory: a crash loses it. */
struct sim_service {
    struct lock_sm *locks;
    struct lock_events ev;
    struct lock_result res;
    bool has_result; /* the last apply ran a lock command */
    struct lock_clock clock;
    bool clocks_running; /* leader, and caught up with its predecessors' state */
    uint64_t lead_index; /* the no-op that started our term as leader */
    int role;            /* the role the service last saw */
    struct sim_plist proposals, waits, counter_waits;
    uint64_t lock_hash; /* of the lock state's snapshot bytes */
    /* The holder and token of each lock as the applied events tell (check (a)). */
    uint64_t holder[SIM_LOCK_NAMES], token[SIM_LOCK_NAMES], last_token[SIM_LOCK_NAMES];
    struct crdt_set *crdt;
    struct crdt_peer peers[SIM_MAX_IDS];
    uint64_t acked_epoch[SIM_MAX_IDS], acked_have[SIM_MAX_IDS]; /* last ack sent */
    bool ack_due[SIM_MAX_IDS]; /* a delta came in since */
    bool crdt_dirty;
    uint64_t gossip_at; /* when it last gossiped */
    uint64_t rounds;
};

struct sim_node {
    uint64_t id;
    int state; /* enum sim_node_state */
    uint32_t incarnation;
    struct raft *r; /* NULL unless UP */
    struct sim_durable d;
    struct sim_sm sm;
    struct sim_service svc;
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
    uint64_t lock_hash; /* the lock state after it */
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

/* ------------------------------------------------------------------ lock clients */

#define SIM_LOCK_CLIENTS_MAX 4

enum sim_lc_state {
    SIM_LC_IDLE = 0,  /* no lease: grants one after a pause */
    SIM_LC_GRANTING,  /* LEASE_GRANT in flight */
    SIM_LC_READY,     /* has a lease, picks the next operation */
    SIM_LC_ACQUIRING, /* LOCK_ACQUIRE in flight (maybe queued) */
    SIM_LC_HOLDING,   /* holds name until its hold ends */
    SIM_LC_RELEASING, /* LOCK_RELEASE in flight */
    SIM_LC_REVOKING,  /* LEASE_REVOKE in flight */
    SIM_LC_LAPSING,   /* stopped keepalives on purpose: waits for the lease to go */
};

enum sim_lc_timer {
    SIM_LC_ACT,       /* the next step of the operation, or its timeout */
    SIM_LC_KEEPALIVE, /* the next keepalive, or a retry */
    SIM_LC_LOST,      /* lost_at: the client counts the lease lost */
    SIM_LC_TIMERS,
};

/* A lock client, as libbaton's keeper behaves: it keeps its lease alive at TTL/3
 * through whichever node it believes leads and counts the lease lost at the send
 * time of its last acknowledged keepalive + TTL. It believes it holds name from
 * the token's arrival until it sends the release or revoke, or the lease is lost. */
struct sim_lock_client {
    int state; /* enum sim_lc_state */
    uint64_t guess; /* the node it believes leads */
    uint64_t ttl_ms;
    uint64_t lease; /* 0: none */
    uint64_t lost_at;
    unsigned ops_left; /* operations before it ends the lease */
    int name;
    bool holding;
    uint64_t token;
    uint64_t next_id;
    struct sim_req op; /* the operation in flight (op.id 0: none) */
    unsigned tries;
    bool resend; /* the ACT timer resends op instead of timing it out */
    uint64_t ka_id; /* the keepalive in flight; 0: none */
    uint32_t gen[SIM_LC_TIMERS]; /* a timer event for an older gen is stale */
};

/* The latest keepalive for a lease that the leader of one term accepted. */
struct sim_ka {
    uint64_t term, at;
};

/* What the checker knows of one lease (check (c)). */
struct sim_lease_rec {
    uint64_t id, ttl_ms;
    uint64_t applied_at; /* its grant, first applied anywhere */
    uint64_t ka_at;      /* the latest keepalive any leader accepted; 0 = none */
    struct sim_ka *kas;  /* ... and per term, ascending terms */
    size_t n_kas;
    uint64_t lost_at;    /* when its client counts it lost; 0 = no client knows it */
    uint64_t expired_at; /* its expiry, first applied anywhere; 0 = not expired */
};

struct sim_locks {
    unsigned n_clients, n_names;
    struct sim_lock_client c[SIM_LOCK_CLIENTS_MAX];
    struct sim_lease_rec *leases; /* ascending ids */
    size_t n_leases, cap_leases;
    uint64_t grant_token[SIM_LOCK_NAMES]; /* the latest grant in apply order (check (b)) */
    uint64_t hold_token[SIM_LOCK_NAMES];  /* the latest hold a client believed in */
    uint64_t hold_lease[SIM_LOCK_NAMES];
    uint64_t grants, holds, expiries, keepalives, revokes, lapses;
};

/* ------------------------------------------------------------------ counters */

/* The G-Counter bookkeeping of the checker, by node id and counter name. */
struct sim_counters {
    unsigned n_names;
    uint64_t attempted[SIM_MAX_IDS][SIM_COUNTER_NAMES]; /* sent to that node */
    uint64_t answered[SIM_MAX_IDS][SIM_COUNTER_NAMES];  /* durable there and answered */
    uint64_t acked[SIM_MAX_IDS][SIM_COUNTER_NAMES];     /* answers that reached a client */
    uint64_t reported[SIM_MAX_IDS][SIM_COUNTER_NAMES];  /* highest value the node reported */
    uint64_t stored[SIM_MAX_IDS][SIM_COUNTER_NAMES];    /* value of its stored record */
    uint64_t stored_own[SIM_MAX_IDS][SIM_COUNTER_NAMES]; /* its own slot in that record */
    size_t inflight; /* increments whose fate the checker does not know yet */
    bool converged;
    uint64_t increments, reads, gossips;
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
    unsigned client_drop_pm;       /* client messages lost during the fault phase */
    unsigned counter_gap_max;      /* ms between counter requests */
    unsigned counter_read_pm;      /* share of counter requests that are reads */
    unsigned gossip_ms;            /* G-Counter gossip period */
};

/* Planted bugs in the simulation's own host code (--plant), next to those
 * compiled into the core's fault libraries. */
enum sim_plant {
    SIM_PLANT_NONE = 0,
    SIM_PLANT_KEEPALIVE_ANY_LEADER, /* keepalives accepted without raft_leader_lease_valid */
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
    struct sim_locks lk;
    struct sim_counters ct;
    int plant; /* enum sim_plant */
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
int sim_run(uint64_t seed, unsigned nodes, bool verbose, int plant, char *reason,
            size_t reason_len);
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
/* Copies of a message on from->to: 0 (lost or cut), 1 or 2 (duplicated). */
int sim_net_copies(struct sim *s, uint64_t from, uint64_t to);
bool sim_net_is_cut(struct sim *s, uint64_t from, uint64_t to);
/* Client messages: a delay, loss during the fault phase, no partitions. */
void sim_net_request(struct sim *s, const struct sim_req *r);
void sim_net_answer(struct sim *s, const struct sim_req *r);
void sim_net_on_request(struct sim *s, const struct sim_event *ev);

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
void sim_node_free(struct sim *s, struct sim_node *n);
void sim_node_enqueue(struct sim *s, struct sim_node *n, struct sim_batch *b);

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

/* sm.c: the state machine and its snapshot encoding (the running hash, then the
 * lock state machine's own snapshot). */
uint64_t sim_hash_bytes(const void *p, size_t len);
uint64_t sim_entry_hash(const struct raft_entry *e);
void sim_sm_apply(struct sim_sm *sm, const struct raft_entry *e, uint64_t entry_hash);
int sim_sm_encode(const struct sim_sm *sm, const struct lock_sm *locks, struct raft_buf *out);
/* *lock_data points into data (lock_len bytes). */
int sim_sm_decode(const void *data, size_t len, struct sim_sm *sm, const void **lock_data,
                  size_t *lock_len);

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
                       const struct sim_sm *sm, uint64_t lock_hash);
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

/* service.c: a node's lock service, as src/node runs it. */
int sim_service_start(struct sim *s, struct sim_node *n);
void sim_service_stop(struct sim *s, struct sim_node *n);
int sim_service_restore(struct sim *s, struct sim_node *n, const void *data, size_t len,
                        uint64_t index);
void sim_service_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e,
                       bool first);
void sim_service_role(struct sim *s, struct sim_node *n);
void sim_service_tick(struct sim *s, struct sim_node *n);
void sim_service_request(struct sim *s, struct sim_node *n, struct sim_req *r);
void sim_plist_push(struct sim_plist *l, struct sim_pending *p);
void sim_plist_free(struct sim_plist *l);

/* lockcheck.c: checks (a) one holder, (b) rising tokens, (c) the lease theorem. */
void sim_lockcheck_events(struct sim *s, struct sim_node *n, uint64_t index, bool first);
void sim_lockcheck_view_reset(struct sim *s, struct sim_node *n);
void sim_lockcheck_keepalive(struct sim *s, struct sim_node *n, uint64_t lease);
void sim_lockcheck_expire_proposed(struct sim *s, struct sim_node *n, uint64_t lease);
void sim_lockcheck_client_lease(struct sim *s, uint64_t lease, uint64_t lost_at);
void sim_lockcheck_hold(struct sim *s, unsigned client, int name, uint64_t lease,
                        uint64_t token);
void sim_lockcheck_free(struct sim_locks *lk);

const char *sim_lock_name(int i);

/* lockclient.c: the lock clients. */
void sim_lockclient_setup(struct sim *s);
void sim_lockclient_on_timer(struct sim *s, const struct sim_event *ev);
void sim_lockclient_on_answer(struct sim *s, const struct sim_req *r);

/* gossip.c: a node's G-Counters, their durability and their gossip. */
int sim_gossip_start(struct sim *s, struct sim_node *n);
void sim_gossip_stop(struct sim *s, struct sim_node *n);
void sim_gossip_request(struct sim *s, struct sim_node *n, const struct sim_req *r);
void sim_gossip_flush(struct sim *s, struct sim_node *n);
void sim_gossip_synced(struct sim *s, struct sim_node *n, struct sim_batch *b);
void sim_gossip_tick(struct sim *s, struct sim_node *n);
void sim_gossip_deliver(struct sim *s, const struct sim_event *ev);

/* counters.c: the counter clients and the G-Counter checks. */
void sim_counters_on_event(struct sim *s);
void sim_counters_on_answer(struct sim *s, const struct sim_req *r);
void sim_counters_lost(struct sim *s, const struct sim_req *r);
void sim_counters_answered(struct sim *s, struct sim_node *n, const struct sim_req *r);
void sim_counters_reported(struct sim *s, struct sim_node *n, int name, uint64_t value);
void sim_counters_stored(struct sim *s, struct sim_node *n, int name, const void *rec,
                         size_t len);
void sim_counters_loaded(struct sim *s, struct sim_node *n);
void sim_counters_synced(struct sim *s, struct sim_node *n);
void sim_counters_check_delta(struct sim *s, struct sim_node *n, const struct crdt_delta *d);
bool sim_counters_converged(struct sim *s);
const char *sim_counter_name(int i);

/* membership.c: nodes leave once a committed configuration no longer has them. */
void sim_membership_reap(struct sim *s);
void sim_membership_on_retire(struct sim *s, const struct sim_event *ev);

#endif
