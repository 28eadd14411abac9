/* The nemesis: crashes, partitions, flaky links, membership changes and leadership
 * transfers during the fault phase, then the heal that starts the liveness phase. */
#include <inttypes.h>
#include <stdio.h>

#include "sim.h"

static const char *const action_names[SIM_NEM_COUNT] = {
    "crash", "crash-leader", "restart", "split", "one-way", "isolate-leader",
    "heal-net", "flaky", "add", "remove", "transfer",
};

/* Each seed gets its own mix of faults, so some runs are calm and some are storms. */
void sim_nemesis_pick_weights(struct sim *s)
{
    for (int a = 0; a < SIM_NEM_COUNT; a++)
        s->p.weights[a] = (unsigned)sim_rng_range(&s->rng, 0, 10);
    s->p.weights[SIM_NEM_RESTART] += 5; /* keep a cluster that mostly works */
    s->p.weights[SIM_NEM_HEAL_NET] += 3;
    s->p.strike_pm = (unsigned)sim_rng_range(&s->rng, 0, 600);
    s->p.linger_max = (unsigned)sim_rng_range(&s->rng, 0, 1500);
    s->p.learner_pm = (unsigned)sim_rng_range(&s->rng, 0, 300);
}

static int pick_action(struct sim *s)
{
    unsigned total = 0;
    for (int a = 0; a < SIM_NEM_COUNT; a++)
        total += s->p.weights[a];
    unsigned x = (unsigned)sim_rng_range(&s->rng, 0, total - 1);
    for (int a = 0; a < SIM_NEM_COUNT; a++) {
        if (x < s->p.weights[a])
            return a;
        x -= s->p.weights[a];
    }
    return SIM_NEM_HEAL_NET;
}

static struct sim_node *random_in_state(struct sim *s, int state)
{
    uint64_t ids[SIM_MAX_IDS];
    size_t n = sim_ids_in_state(s, state, ids);
    if (n == 0)
        return NULL;
    return &s->nodes[ids[sim_rng_range(&s->rng, 0, n - 1)]];
}

static uint64_t random_voter(struct sim *s, const struct raft_conf *c)
{
    uint64_t ids[RAFT_MAX_SERVERS];
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->servers[i].role == RAFT_VOTER)
            ids[n++] = c->servers[i].id;
    return n ? ids[sim_rng_range(&s->rng, 0, n - 1)] : 0;
}

static void crash(struct sim *s, struct sim_node *n)
{
    if (!n)
        return;
    sim_trace(s, "nemesis: crash n%" PRIu64, n->id);
    sim_node_crash(s, n);
}

static void split(struct sim *s)
{
    uint64_t ids[SIM_MAX_IDS];
    size_t n = sim_ids_in_state(s, SIM_NODE_UP, ids);
    n += sim_ids_in_state(s, SIM_NODE_DOWN, ids + n);
    if (n < 2)
        return;
    uint64_t full = (1ULL << n) - 1, mask = 0;
    while (mask == 0 || mask == full)
        mask = sim_rng_next(&s->rng) & full;
    char buf[256];
    size_t used = 0;
    for (size_t i = 0; i < n && used + 16 < sizeof(buf); i++)
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, " n%" PRIu64 "%s", ids[i],
                                 (mask >> i) & 1 ? "|A" : "|B");
    sim_trace(s, "nemesis: split%s", buf);
    sim_net_split(s, ids, n, mask);
}

static void one_way(struct sim *s)
{
    struct sim_node *a = random_in_state(s, SIM_NODE_UP);
    struct sim_node *b = random_in_state(s, SIM_NODE_UP);
    if (!a || !b || a == b)
        return;
    sim_trace(s, "nemesis: cut n%" PRIu64 "->n%" PRIu64 " (one way)", a->id, b->id);
    sim_net_cut(s, a->id, b->id);
}

static void flaky(struct sim *s)
{
    static const unsigned drops[] = {0, 20, 100, 300, 600};
    static const unsigned dups[] = {0, 20, 100, 300};
    unsigned drop = drops[sim_rng_range(&s->rng, 0, 4)];
    unsigned dup = dups[sim_rng_range(&s->rng, 0, 3)];
    struct sim_node *a = random_in_state(s, SIM_NODE_UP);
    struct sim_node *b = random_in_state(s, SIM_NODE_UP);
    bool all = sim_rng_pm(&s->rng, 400) || !a || !b || a == b;
    uint64_t from = all ? 0 : a->id, to = all ? 0 : b->id;
    sim_trace(s, "nemesis: link %s%" PRIu64 "->%" PRIu64 " drops %u/1000, duplicates %u/1000",
              all ? "all " : "n", from, to, drop, dup);
    sim_net_flaky(s, from, to, drop, dup);
}

/* ADD_VOTER (or now and then ADD_LEARNER) with a fresh id; the new node starts
 * empty and waits for the leader to reach it. */
static void add_server(struct sim *s, struct sim_node *l)
{
    if (!l || sim_slots_used(s) >= s->p.max_slots || s->next_id >= SIM_MAX_IDS)
        return;
    bool learner = sim_rng_pm(&s->rng, s->p.learner_pm);
    int type = learner ? RAFT_CHANGE_ADD_LEARNER : RAFT_CHANGE_ADD_VOTER;
    uint64_t id = s->next_id, index = 0, term = raft_term(l->r);
    char addr[16];
    snprintf(addr, sizeof(addr), "n%" PRIu64, id);
    int rc = raft_change(l->r, type, id, addr, &index);
    sim_trace(s, "nemesis: n%" PRIu64 " adds %s n%" PRIu64 ": %s (index %" PRIu64 ")", l->id,
              learner ? "learner" : "voter", id, baton_strerror(rc), index);
    if (rc == BATON_EBUSY || rc == BATON_ENOTLEADER)
        return;
    if (rc != 0) {
        sim_fail(s, "n%" PRIu64 ": raft_change(add n%" PRIu64 "): %s", l->id, id,
                 baton_strerror(rc));
        return;
    }
    s->w.changes++;
    s->next_id++;
    sim_node_process(s, l);
    sim_node_create(s, id, NULL, index, term);
}

static void remove_voter(struct sim *s, struct sim_node *l)
{
    if (!l || raft_conf_voters(raft_conf(l->r)) <= s->p.min_voters)
        return;
    uint64_t id = random_voter(s, raft_conf(l->r)), index = 0;
    int rc = raft_change(l->r, RAFT_CHANGE_REMOVE, id, NULL, &index);
    sim_trace(s, "nemesis: n%" PRIu64 " removes n%" PRIu64 ": %s (index %" PRIu64 ")", l->id, id,
              baton_strerror(rc), index);
    if (rc != 0 && rc != BATON_EBUSY && rc != BATON_ENOTLEADER) {
        sim_fail(s, "n%" PRIu64 ": raft_change(remove n%" PRIu64 "): %s", l->id, id,
                 baton_strerror(rc));
        return;
    }
    if (rc == 0)
        s->w.changes++;
    sim_node_process(s, l);
}

static void transfer(struct sim *s, struct sim_node *l)
{
    if (!l)
        return;
    uint64_t target = sim_rng_pm(&s->rng, 300) ? 0 : random_voter(s, raft_conf(l->r));
    int rc = raft_transfer(l->r, target);
    sim_trace(s, "nemesis: n%" PRIu64 " transfers leadership to %s%" PRIu64 ": %s", l->id,
              target ? "n" : "best ", target, baton_strerror(rc));
    if (rc != 0 && rc != BATON_EBUSY && rc != BATON_EINVAL && rc != BATON_ENOTLEADER) {
        sim_fail(s, "n%" PRIu64 ": raft_transfer: %s", l->id, baton_strerror(rc));
        return;
    }
    if (rc == 0)
        s->w.transfers++;
    sim_node_process(s, l);
}

static void act(struct sim *s, int action)
{
    struct sim_node *l = sim_leader(s), *n;
    switch (action) {
    case SIM_NEM_CRASH:
        crash(s, random_in_state(s, SIM_NODE_UP));
        break;
    case SIM_NEM_CRASH_LEADER:
        crash(s, l);
        break;
    case SIM_NEM_RESTART:
        if ((n = random_in_state(s, SIM_NODE_DOWN)))
            sim_node_start(s, n);
        break;
    case SIM_NEM_SPLIT:
        split(s);
        break;
    case SIM_NEM_ONE_WAY:
        one_way(s);
        break;
    case SIM_NEM_ISOLATE_LEADER:
        if (l) {
            sim_trace(s, "nemesis: isolate leader n%" PRIu64 " from a reconnected rest", l->id);
            sim_net_isolate(s, l->id);
        }
        break;
    case SIM_NEM_HEAL_NET:
        sim_trace(s, "nemesis: heal the network");
        sim_net_heal(s);
        break;
    case SIM_NEM_FLAKY:
        flaky(s);
        break;
    case SIM_NEM_ADD:
        add_server(s, l);
        break;
    case SIM_NEM_REMOVE:
        remove_voter(s, l);
        break;
    default:
        transfer(s, l);
        break;
    }
}

void sim_nemesis_on_event(struct sim *s)
{
    if (s->healed)
        return;
    int action = pick_action(s);
    if (s->verbose)
        sim_trace(s, "nemesis picks %s", action_names[action]);
    act(s, action);
    uint64_t gap = sim_rng_range(&s->rng, 1, s->p.nemesis_gap_max);
    sim_schedule(s, s->now + gap, SIM_EV_NEMESIS, 0, 0, NULL);
}

/* End of the fault phase: every crashed member restarts, every link is reliable. */
void sim_nemesis_heal(struct sim *s)
{
    s->healed = true;
    s->healed_at = s->now;
    sim_trace(s, "heal: restart every crashed node, reconnect and steady every link");
    sim_net_heal(s);
    uint64_t ids[SIM_MAX_IDS];
    size_t n = sim_ids_in_state(s, SIM_NODE_DOWN, ids);
    for (size_t i = 0; i < n && !s->failed; i++)
        sim_node_start(s, &s->nodes[ids[i]]);
    sim_schedule(s, s->now + 1, SIM_EV_PROBE, 0, 0, NULL);
    sim_schedule(s, s->now + SIM_LIVENESS_MS, SIM_EV_DEADLINE, 0, 0, NULL);
}

static void strike_soon(struct sim *s, struct sim_node *l, uint64_t within)
{
    if (!sim_rng_pm(&s->rng, s->p.strike_pm))
        return;
    uint64_t at = s->now + sim_rng_range(&s->rng, 0, within);
    struct sim_event ev = {.at = at, .type = SIM_EV_STRIKE, .node = l->id,
                           .incarnation = l->incarnation, .term = raft_term(l->r)};
    if (sim_queue_push(&s->q, ev) != 0)
        sim_fail(s, "out of memory scheduling an event");
}

/* Figure 8 of the Raft paper needs a leader to fall within a round trip or two of
 * its election, or just as it first moves its commit index while older entries
 * are half replicated: far likelier when the nemesis watches for those moments
 * than when it only acts at random times. */
void sim_nemesis_watch(struct sim *s)
{
    if (s->healed)
        return;
    struct sim_node *l = sim_leader(s);
    if (!l)
        return;
    uint64_t term = raft_term(l->r);
    if (term > s->watched_term) {
        s->watched_term = term;
        s->watched_commit = raft_commit(l->r);
        s->watched_struck = false;
        strike_soon(s, l, 2 * s->p.delay_max + s->p.sync_max);
    } else if (term == s->watched_term && !s->watched_struck &&
               raft_commit(l->r) > s->watched_commit) {
        s->watched_struck = true;
        strike_soon(s, l, s->p.delay_max);
    }
}

void sim_nemesis_on_strike(struct sim *s, const struct sim_event *ev)
{
    struct sim_node *n = sim_node_get(s, ev->node);
    if (s->healed || !n || n->state != SIM_NODE_UP || n->incarnation != ev->incarnation ||
        raft_role(n->r) != RAFT_LEADER || raft_term(n->r) != ev->term)
        return;
    if (sim_rng_pm(&s->rng, 500)) {
        crash(s, n);
        return;
    }
    sim_trace(s, "nemesis: isolate leader n%" PRIu64 " from a reconnected rest", n->id);
    sim_net_isolate(s, n->id);
}
