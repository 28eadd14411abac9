/* A deterministic in-memory cluster for unit-testing the pure Raft core. */
#ifndef BATON_TESTS_RAFT_FIXTURE_H
#define BATON_TESTS_RAFT_FIXTURE_H

/*
 * The fixture runs up to FX_MAX servers (ids 1..FX_MAX) of the core in one process:
 *   - each server has its own manual clock (fx_tick advances one, fx_run all);
 *   - messages the servers send land in one outbox (deep copies) that the test
 *     delivers as it likes: all of them, only some, or none (cut links, a standing
 *     drop filter, crashed servers);
 *   - each server has a simulated durable store that follows the ready contract of
 *     raft.h (send the early messages, persist snapshot/entries/hard state, send the
 *     late messages, install the snapshot, apply, raft_persisted, free), so a test
 *     can crash a server and restart it from exactly what it had made durable;
 *   - a server can be put on "hold": its ready batches are handed out (and their
 *     early messages sent) but not persisted until fx_release, to model a slow disk.
 *
 * After every batch the fixture checks the invariants that no correct core may
 * break (it fails the running Check test on the spot, saying which):
 *   - Election Safety: at most one leader per term;
 *   - a server's term never goes down while it runs;
 *   - durability: a granted vote, a candidate's vote request and an AppendEntries
 *     acknowledgement only leave once what they promise is in the durable store;
 *     a durable vote is never changed within its term;
 *   - State Machine Safety: no two servers apply different entries at one index;
 *     entries are applied in index order without gaps;
 *   - Leader Completeness: a leader holds every entry applied anywhere by a server
 *     whose term was not above the leader's (such an entry was committed in a term
 *     at most the leader's, Raft §5.4).
 *
 * The fixture is compiled into each test binary by #include "raft_fixture.c", so
 * tests/CMakeLists.txt needs no change.
 */

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define FX_MAX 9

/* Test defaults: heartbeat 10 ms, election 100 ms, the rest as raft_options_default. */
#define FX_HEARTBEAT_MS 10
#define FX_ELECTION_MS 100

struct fx_msg {
    struct raft_message m;
    bool after_persist;
};

struct fx_store {
    struct raft_hard_state hs;
    struct raft_snapshot *snap; /* NULL or owned, with owned data */
    struct raft_entry *log;     /* contiguous, owned data */
    size_t n_log;
    size_t cap_log;
};

/* One applied entry of the test state machine (which simply records them). */
struct fx_sm_entry {
    uint64_t index;
    uint64_t term;
    int type;
    struct raft_buf data;
};

struct fx_node {
    uint64_t id;
    bool exists;
    bool up;
    bool hold;
    struct raft *r;
    struct raft_options opt;
    uint64_t now;
    uint64_t max_term; /* highest term seen while up, for the monotonic check */
    struct fx_store store;

    struct fx_sm_entry *sm;
    size_t n_sm;
    size_t cap_sm;
    uint64_t applied;
    unsigned snapshots_installed;

    struct raft_ready *held;
    size_t n_held;
    size_t cap_held;

    struct raft_read *reads;
    size_t n_reads;
    size_t cap_reads;

    unsigned sent[RAFT_MSG_TYPE_MAX + 1]; /* messages sent, by type */
};

typedef bool (*fx_pred)(const struct raft_message *m, void *ctx);

struct fx_committed {
    bool set;
    uint64_t seen_in; /* term of the first server that applied it, >= its commit term */
    uint64_t term;
    int type;
    struct raft_buf data;
};

struct fx {
    size_t n; /* ids in use are 1..n */
    struct fx_node node[FX_MAX + 1];
    struct fx_msg *out;
    size_t n_out;
    size_t cap_out;
    bool cut[FX_MAX + 1][FX_MAX + 1]; /* cut[a][b]: messages a -> b are lost */
    fx_pred drop;                     /* standing filter: true = lose the message */
    void *drop_ctx;
    void (*observe)(const struct raft_message *m, void *ctx); /* sees each delivery */
    void *observe_ctx;
    /* Rewrites a shallow copy of each message before delivery; it may only shrink
     * what the message points to (the outbox keeps owning the buffers). */
    void (*rewrite)(struct raft_message *m, void *ctx);
    void *rewrite_ctx;

    uint64_t *leader_of_term; /* indexed by term, 0 = none seen */
    size_t cap_terms;
    struct fx_committed *committed; /* indexed by raft index */
    size_t cap_committed;
    uint64_t max_committed;
};

/* Options: fx_options fills the test defaults (id is set per server). */
void fx_options(struct raft_options *opt);

/* A cluster of n bootstrapped voters 1..n (NULL tmpl: fx_options). */
void fx_init(struct fx *f, size_t n, const struct raft_options *tmpl);
/* An empty fixture; add servers with fx_boot or fx_add_joining. */
void fx_init_empty(struct fx *f);
/* Creates server id from the given durable state (entries borrowed) and starts it. */
void fx_boot(struct fx *f, uint64_t id, const struct raft_options *tmpl,
             struct raft_hard_state hs, const struct raft_entry *entries, size_t n_entries);
/* Creates server id with an empty log (a server that joins an existing cluster). */
void fx_add_joining(struct fx *f, uint64_t id, const struct raft_options *tmpl);
void fx_destroy(struct fx *f);

struct raft *fx_raft(struct fx *f, uint64_t id);
struct fx_node *fx_node(struct fx *f, uint64_t id);

/* Runs the ready loop of server id until the core has nothing more. */
void fx_pump(struct fx *f, uint64_t id);
/* Advances server id's clock by ms and ticks it. */
void fx_tick(struct fx *f, uint64_t id, uint64_t ms);
/* The same, but whatever id sends during this tick is lost. */
void fx_tick_silent(struct fx *f, uint64_t id, uint64_t ms);
/* Advances every running server by ms in heartbeat steps, settling after each. */
void fx_run(struct fx *f, uint64_t ms);
/* Feeds one message to server id (as if received) and pumps it. */
void fx_step(struct fx *f, uint64_t id, const struct raft_message *m);

/* One round: delivers (or loses) every message now in the outbox; what they cause
 * is queued for the next round. Returns the number handed to a server. */
size_t fx_deliver(struct fx *f);
/* One round over the messages matching pred; the others stay queued. */
size_t fx_deliver_if(struct fx *f, fx_pred pred, void *ctx);
/* Rounds until the outbox is empty (fails the test after too many rounds). */
void fx_settle(struct fx *f);
/* Rounds until no queued message matches pred. */
void fx_settle_if(struct fx *f, fx_pred pred, void *ctx);
size_t fx_drop_if(struct fx *f, fx_pred pred, void *ctx);
void fx_drop_all(struct fx *f);
/* Queued messages from -> to of type; 0 for any. */
size_t fx_count(const struct fx *f, uint64_t from, uint64_t to, int type);
const struct fx_msg *fx_find(const struct fx *f, uint64_t from, uint64_t to, int type,
                             size_t nth);
/* The last queued message from -> to of type, or NULL. */
const struct fx_msg *fx_last(const struct fx *f, uint64_t from, uint64_t to, int type);
/* A zeroed message with its header set, for tests that inject messages. */
struct raft_message fx_mk(int type, uint64_t from, uint64_t to, uint64_t term);
/* Predicates; ctx points to an int message type. */
bool fx_pred_type(const struct raft_message *m, void *ctx);
bool fx_pred_election(const struct raft_message *m, void *ctx); /* (pre)vote + resp */

void fx_cut(struct fx *f, uint64_t a, uint64_t b); /* both directions */
void fx_isolate(struct fx *f, uint64_t id);
void fx_heal(struct fx *f);

/* Crash: unpersisted batches are lost. Restart: from the durable store. */
void fx_crash(struct fx *f, uint64_t id);
void fx_restart(struct fx *f, uint64_t id);
void fx_hold(struct fx *f, uint64_t id);
/* Persists and completes every held batch of id, in order, and ends the hold. */
void fx_release(struct fx *f, uint64_t id);

/* Makes id leader: silences servers that know a leader (ticking them past their
 * election timeout with their messages lost), then times id out and settles. */
void fx_elect(struct fx *f, uint64_t id);
/* Proposes data at id (which must be leader) and returns the entry's index. */
uint64_t fx_propose(struct fx *f, uint64_t id, const char *data);
/* Snapshots id's state machine at index and compacts (keeping trailing entries). */
void fx_compact(struct fx *f, uint64_t id, uint64_t index, uint64_t trailing);
/* The running leader with the highest term, 0 if none. */
uint64_t fx_leader(struct fx *f);

/* Log Matching among running servers: equal (index, term) means equal prefixes. */
void fx_check_log_matching(struct fx *f);
/* Servers a and b have the same log over [from, to] (terms, types and data). */
void fx_assert_same_log(struct fx *f, uint64_t a, uint64_t b, uint64_t from, uint64_t to);
/* Servers a and b applied the same sequence (same applied index, same entries). */
void fx_assert_same_applied(struct fx *f, uint64_t a, uint64_t b);
/* Last index in id's durable store (log or snapshot). */
uint64_t fx_store_last(const struct fx_node *n);
/* Index of the read with ctx answered to id, or -1 if not answered; *ok its status. */
long fx_read_result(struct fx *f, uint64_t id, uint64_t ctx, bool *ok);

/* One Check TCase per concern: a test, run once, or for _i in [0, loops). */
struct fx_case {
    const char *name;
    const TTest *test;
    int loops;
};

/* Runs the cases as one suite; returns the process exit status. */
int fx_main(const char *suite, const struct fx_case *cases, size_t n);

/* Builds a log whose index 1 is the bootstrap entry of voters 1..n_voters and
 * whose index i+2 has terms[i]; data "t<term>i<index>". Free with fx_free_entries. */
struct raft_entry *fx_make_log(size_t n_voters, const uint64_t *terms, size_t n_terms);
void fx_free_entries(struct raft_entry *e, size_t n);

#endif
