/* One simulated run: parameters from the seed, the cluster, and the event loop. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void sim_trace(struct sim *s, const char *fmt, ...)
{
    if (!s->verbose)
        return;
    va_list ap;
    printf("%8" PRIu64 " ", s->now);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Only the first violation counts: later ones are usually its consequences. */
void sim_fail(struct sim *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
    va_end(ap);
    s->failed = true;
    sim_trace(s, "FAIL: %s", s->reason);
}

void sim_schedule(struct sim *s, uint64_t at, int type, uint64_t node, uint32_t incarnation,
                  struct raft_message *msg)
{
    struct sim_event ev = {.at = at, .type = type, .node = node, .incarnation = incarnation,
                           .msg = msg};
    if (sim_queue_push(&s->q, ev) == 0)
        return;
    if (msg) {
        raft_message_clear(msg);
        free(msg);
    }
    sim_fail(s, "out of memory scheduling an event");
}

struct sim_node *sim_node_get(struct sim *s, uint64_t id)
{
    if (id == 0 || id >= s->next_id)
        return NULL;
    return &s->nodes[id];
}

/* The node a client would find: of those that believe they lead, the newest term. */
struct sim_node *sim_leader(struct sim *s)
{
    struct sim_node *best = NULL;
    for (uint64_t id = 1; id < s->next_id; id++) {
        struct sim_node *n = &s->nodes[id];
        if (n->state != SIM_NODE_UP || raft_role(n->r) != RAFT_LEADER)
            continue;
        if (!best || raft_term(n->r) > raft_term(best->r))
            best = n;
    }
    return best;
}

/* A client that has found "a" leader: any node that believes it leads, stale ones
 * included, so deposed leaders get proposals and reads they must not complete. */
struct sim_node *sim_any_leader(struct sim *s)
{
    uint64_t ids[SIM_MAX_IDS];
    size_t n = 0;
    for (uint64_t id = 1; id < s->next_id; id++)
        if (s->nodes[id].state == SIM_NODE_UP && raft_role(s->nodes[id].r) == RAFT_LEADER)
            ids[n++] = id;
    return n ? &s->nodes[ids[sim_rng_range(&s->rng, 0, n - 1)]] : NULL;
}

/* Ids in ascending order, so random picks from the list replay exactly. */
size_t sim_ids_in_state(struct sim *s, int state, uint64_t *ids)
{
    size_t n = 0;
    for (uint64_t id = 1; id < s->next_id; id++)
        if (s->nodes[id].state == state)
            ids[n++] = id;
    return n;
}

size_t sim_slots_used(struct sim *s)
{
    uint64_t ids[SIM_MAX_IDS];
    return sim_ids_in_state(s, SIM_NODE_UP, ids) + sim_ids_in_state(s, SIM_NODE_DOWN, ids);
}

/* Small timeouts, batches, chunks and compaction thresholds, so that a few seconds of
 * virtual time see many elections, pipelined appends and chunked InstallSnapshots. */
static void pick_params(struct sim *s)
{
    struct sim_params *p = &s->p;
    struct sim_rng *g = &s->rng;
    raft_options_default(&p->raft, 0);
    p->raft.heartbeat_ms = (unsigned)sim_rng_range(g, 20, 50);
    p->raft.election_ms = (unsigned)sim_rng_range(g, 150, 300);
    p->raft.max_inflight = (unsigned)sim_rng_range(g, 1, 8);
    p->raft.max_batch_entries = (unsigned)sim_rng_range(g, 1, 16);
    p->raft.max_batch_bytes = (size_t)sim_rng_range(g, 32, 2048);
    p->raft.snapshot_chunk_bytes = (size_t)sim_rng_range(g, 16, 64);
    p->raft.pre_vote = sim_rng_pm(g, 800);
    p->raft.check_quorum = sim_rng_pm(g, 800);
    p->delay_min = 1;
    p->delay_max = (unsigned)sim_rng_range(g, 2, 30);
    p->sync_max = (unsigned)sim_rng_range(g, 1, 30);
    p->tick_max = (unsigned)sim_rng_range(g, 5, 20);
    p->compact_every = (unsigned)sim_rng_range(g, 16, 64);
    p->trailing_max = 8;
    p->fault_ms = (unsigned)sim_rng_range(g, 5000, 15000);
    p->workload_gap_max = (unsigned)sim_rng_range(g, 4, 60);
    p->nemesis_gap_max = (unsigned)sim_rng_range(g, 100, 1000);
    p->read_pm = (unsigned)sim_rng_range(g, 100, 400);
    p->max_slots = s->n_initial + 2;
    p->min_voters = s->n_initial == 3 ? 2 : 3;
    sim_nemesis_pick_weights(s);
    p->client_drop_pm = (unsigned)sim_rng_range(g, 0, 100);
    p->counter_gap_max = (unsigned)sim_rng_range(g, 20, 400);
    p->counter_read_pm = (unsigned)sim_rng_range(g, 0, 300);
    p->gossip_ms = p->raft.heartbeat_ms * (unsigned)sim_rng_range(g, 1, 3);
    s->ct.n_names = (unsigned)sim_rng_range(g, 1, SIM_COUNTER_NAMES);
}

static void trace_params(struct sim *s)
{
    const struct sim_params *p = &s->p;
    sim_trace(s, "seed %" PRIu64 ", %u nodes: heartbeat %u ms, election %u ms, inflight %u,"
              " batch %u entries/%zu bytes, chunk %zu bytes, pre-vote %d, check-quorum %d,"
              " delay %u..%u ms, sync 0..%u ms, compact every %u, fault phase %u ms",
              s->seed, s->n_initial, p->raft.heartbeat_ms, p->raft.election_ms,
              p->raft.max_inflight, p->raft.max_batch_entries, p->raft.max_batch_bytes,
              p->raft.snapshot_chunk_bytes, p->raft.pre_vote, p->raft.check_quorum,
              p->delay_min, p->delay_max, p->sync_max, p->compact_every, p->fault_ms);
    sim_trace(s, "%u lock clients on %u locks (TTL %" PRIu64 "..), %u counters, client"
              " messages lost %u/1000", s->lk.n_clients, s->lk.n_names, s->lk.c[0].ttl_ms,
              s->ct.n_names, p->client_drop_pm);
}

/* Every initial member's durable log starts with the same bootstrap entry. */
static void setup_cluster(struct sim *s)
{
    struct raft_conf conf;
    memset(&conf, 0, sizeof(conf));
    for (uint64_t id = 1; id <= s->n_initial; id++) {
        char addr[16];
        snprintf(addr, sizeof(addr), "n%" PRIu64, id);
        if (raft_conf_add(&conf, id, RAFT_VOTER, addr) != 0) {
            sim_fail(s, "raft_conf_add(n%" PRIu64 ") failed", id);
            return;
        }
    }
    struct raft_entry boot;
    if (raft_bootstrap_entry(&conf, &boot) != 0 || boot.index != 1 || boot.term != 1) {
        sim_fail(s, "raft_bootstrap_entry did not produce entry 1/1");
        return;
    }
    sim_check_bootstrap(s, &boot, &conf);
    s->next_id = s->n_initial + 1;
    for (uint64_t id = 1; id <= s->n_initial && !s->failed; id++)
        sim_node_create(s, id, &boot, 1, 1);
    free(boot.data.base);
}

static void dispatch(struct sim *s, const struct sim_event *ev)
{
    switch (ev->type) {
    case SIM_EV_DELIVER:
        sim_net_deliver(s, ev);
        break;
    case SIM_EV_SYNC:
        sim_node_on_sync(s, ev);
        break;
    case SIM_EV_TICK:
        sim_node_on_tick(s, ev);
        break;
    case SIM_EV_WORKLOAD:
        sim_workload_on_event(s);
        break;
    case SIM_EV_NEMESIS:
        sim_nemesis_on_event(s);
        break;
    case SIM_EV_HEAL:
        sim_nemesis_heal(s);
        break;
    case SIM_EV_PROBE:
        sim_workload_on_probe(s);
        break;
    case SIM_EV_STRIKE:
        sim_nemesis_on_strike(s, ev);
        break;
    case SIM_EV_RETIRE:
        sim_membership_on_retire(s, ev);
        break;
    case SIM_EV_REQUEST:
        sim_net_on_request(s, ev);
        break;
    case SIM_EV_ANSWER: {
        const struct sim_req *r = ev->payload;
        if (r->op == SIM_OP_INCR || r->op == SIM_OP_GET)
            sim_counters_on_answer(s, r);
        else
            sim_lockclient_on_answer(s, r);
        break;
    }
    case SIM_EV_CLIENT:
        sim_lockclient_on_timer(s, ev);
        break;
    case SIM_EV_COUNTER:
        sim_counters_on_event(s);
        break;
    case SIM_EV_GOSSIP:
        sim_gossip_deliver(s, ev);
        break;
    default:
        sim_workload_on_deadline(s);
        break;
    }
}

/* The invariants run after every single event. */
static void loop(struct sim *s)
{
    struct sim_event ev;
    while (!s->failed && !s->done && sim_queue_pop(&s->q, &ev)) {
        s->now = ev.at;
        dispatch(s, &ev);
        if (ev.msg) {
            raft_message_clear(ev.msg);
            free(ev.msg);
        }
        free(ev.payload);
        if (!s->failed)
            sim_check_observe(s);
        if (!s->failed)
            sim_membership_reap(s);
        if (!s->failed)
            sim_nemesis_watch(s);
        if (!s->failed && s->healed)
            sim_workload_check_liveness(s);
    }
    if (!s->failed && !s->done)
        sim_fail(s, "the event queue ran dry");
}

static void teardown(struct sim *s)
{
    for (uint64_t id = 1; id < SIM_MAX_IDS; id++)
        sim_node_free(s, &s->nodes[id]);
    sim_queue_free(&s->q);
    sim_history_free(&s->h);
    sim_workload_free(&s->w);
    sim_lockcheck_free(&s->lk);
}

/* Returns 0 if the run passed, 1 if it failed (reason filled in). */
int sim_run(uint64_t seed, unsigned nodes, bool verbose, int plant, char *reason,
            size_t reason_len)
{
    struct sim *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(reason, reason_len, "out of memory");
        return 1;
    }
    s->seed = seed;
    s->n_initial = nodes;
    s->verbose = verbose;
    s->plant = plant;
    sim_rng_seed(&s->rng, sim_mix(seed) ^ nodes);
    pick_params(s);
    setup_cluster(s);
    sim_lockclient_setup(s);
    trace_params(s);
    sim_schedule(s, sim_rng_range(&s->rng, 1, 100), SIM_EV_WORKLOAD, 0, 0, NULL);
    sim_schedule(s, sim_rng_range(&s->rng, 1, 100), SIM_EV_COUNTER, 0, 0, NULL);
    sim_schedule(s, sim_rng_range(&s->rng, 100, 1000), SIM_EV_NEMESIS, 0, 0, NULL);
    sim_schedule(s, s->p.fault_ms, SIM_EV_HEAL, 0, 0, NULL);
    loop(s);
    sim_trace(s, "end: %s after %" PRIu64 " ms; %" PRIu64 " proposals, %" PRIu64 " reads ok, %"
              PRIu64 " membership changes, %" PRIu64 " transfers, commit %" PRIu64,
              s->failed ? "FAILED" : "passed", s->now, s->w.proposed, s->w.reads_ok,
              s->w.changes, s->w.transfers, s->h.max_commit);
    sim_trace(s, "locks: %zu leases, %" PRIu64 " grants, %" PRIu64 " holds, %" PRIu64
              " keepalives, %" PRIu64 " expiries, %" PRIu64 " revokes, %" PRIu64 " lapses;"
              " counters: %" PRIu64 " increments, %" PRIu64 " reads, %" PRIu64 " gossip messages",
              s->lk.n_leases, s->lk.grants, s->lk.holds, s->lk.keepalives, s->lk.expiries,
              s->lk.revokes, s->lk.lapses, s->ct.increments, s->ct.reads, s->ct.gossips);
    int failed = s->failed;
    snprintf(reason, reason_len, "%s", s->failed ? s->reason : "");
    teardown(s);
    free(s);
    return failed;
}
