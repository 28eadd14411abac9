/* The counter clients and the G-Counter invariants: durability, monotony, convergence. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/*
 * During the fault phase the counter clients send increments of 1..3 and reads to
 * random nodes (a node in a minority partition too); a request to a crashed node is
 * lost. The checker counts, per node and counter, what was attempted, what the node
 * answered (it answers once the increment is durable) and what reached a client.
 *
 * After every step:
 *   - a node's stored record never goes down, and its own slot in it is exactly the
 *     sum of the increments it answered (an answer means durable; nothing else
 *     raises a node's own slot);
 *   - a restarted node loads its own slot and every value it reported before;
 *   - a value a node reports (a read, answered once durable) never goes down, across
 *     crashes too;
 *   - gossip carries only durable values: no slot in a delta exceeds what its owner
 *     has stored.
 * After the heal, within SIM_LIVENESS_MS, every node holds the same slots; then each
 * slot of a node still in the cluster equals the increments that node answered (none
 * lost, none counted twice), a slot of a node removed from the cluster is at most
 * that (its last increments may have left with it), and every value lies between
 * the increments acknowledged to clients by nodes still in the cluster and all the
 * increments attempted.
 */

static const char *const counter_names[SIM_COUNTER_NAMES] = {"c0", "c1", "c2"};

const char *sim_counter_name(int i)
{
    return counter_names[i];
}

/* A slot or value the set does not know is 0, as a G-Counter nobody incremented. */
static uint64_t slot_of(const struct crdt_set *set, int k, uint64_t node)
{
    uint64_t v = 0;
    return crdt_slot_get(set, counter_names[k], node, &v) == 0 ? v : 0;
}

static uint64_t value_of(const struct crdt_set *set, int k)
{
    uint64_t v = 0;
    return crdt_value(set, counter_names[k], &v) == 0 ? v : 0;
}

static uint64_t random_node(struct sim *s)
{
    uint64_t ids[SIM_MAX_IDS];
    size_t n = sim_ids_in_state(s, SIM_NODE_UP, ids);
    n += sim_ids_in_state(s, SIM_NODE_DOWN, ids + n);
    return n ? ids[sim_rng_range(&s->rng, 0, n - 1)] : 0;
}

void sim_counters_on_event(struct sim *s)
{
    struct sim_counters *ct = &s->ct;
    if (s->healed)
        return; /* the totals stand still for the convergence check */
    uint64_t node = random_node(s);
    if (node) {
        struct sim_req r = {.node = node, .sent_at = s->now,
                            .name = (int)sim_rng_range(&s->rng, 0, ct->n_names - 1)};
        if (sim_rng_pm(&s->rng, s->p.counter_read_pm)) {
            r.op = SIM_OP_GET;
            ct->reads++;
        } else {
            r.op = SIM_OP_INCR;
            r.n = sim_rng_range(&s->rng, 1, 3);
            r.id = ++ct->increments;
            ct->attempted[node][r.name] += r.n;
            ct->inflight++;
            sim_trace(s, "counter: +%" PRIu64 " %s at n%" PRIu64, r.n, counter_names[r.name], node);
        }
        sim_net_request(s, &r);
    }
    uint64_t gap = sim_rng_range(&s->rng, 1, s->p.counter_gap_max);
    sim_schedule(s, s->now + gap, SIM_EV_COUNTER, 0, 0, NULL);
}

void sim_counters_lost(struct sim *s, const struct sim_req *r)
{
    if (r->op == SIM_OP_INCR)
        s->ct.inflight--;
}

void sim_counters_on_answer(struct sim *s, const struct sim_req *r)
{
    if (r->op != SIM_OP_INCR)
        return;
    s->ct.inflight--;
    s->ct.acked[r->node][r->name] += r->n;
}

void sim_counters_answered(struct sim *s, struct sim_node *n, const struct sim_req *r)
{
    s->ct.answered[n->id][r->name] += r->n;
}

void sim_counters_reported(struct sim *s, struct sim_node *n, int name, uint64_t value)
{
    uint64_t *seen = &s->ct.reported[n->id][name];
    if (value < *seen)
        sim_fail(s, "counters never go down: n%" PRIu64 " reports %s = %" PRIu64 " after %" PRIu64,
                 n->id, counter_names[name], value, *seen);
    else
        *seen = value;
}

/* A record the node just stored for counter `name`. */
void sim_counters_stored(struct sim *s, struct sim_node *n, int name, const void *rec,
                         size_t len)
{
    struct sim_counters *ct = &s->ct;
    struct crdt_pair *pairs = NULL;
    size_t count = 0;
    if (crdt_record_decode(rec, len, &pairs, &count) != 0) {
        sim_fail(s, "n%" PRIu64 " stores a record of %s that does not decode", n->id,
                 counter_names[name]);
        return;
    }
    uint64_t sum = 0, own = 0;
    for (size_t i = 0; i < count; i++) {
        sum += pairs[i].value;
        if (pairs[i].node == n->id)
            own = pairs[i].value;
    }
    free(pairs);
    if (sum < ct->stored[n->id][name] || own < ct->stored_own[n->id][name])
        sim_fail(s, "counters never go down: n%" PRIu64 " stores %s = %" PRIu64 " (own slot %"
                 PRIu64 ") over %" PRIu64 " (own slot %" PRIu64 ")", n->id, counter_names[name],
                 sum, own, ct->stored[n->id][name], ct->stored_own[n->id][name]);
    ct->stored[n->id][name] = sum;
    ct->stored_own[n->id][name] = own;
}

/* After the sync that stored them, the node answered exactly the increments its
 * own slot holds (called once the batch's waiting increments are answered). */
static void check_own(struct sim *s, const struct sim_node *n, int k, uint64_t own,
                      const char *when)
{
    if (own != s->ct.answered[n->id][k])
        sim_fail(s, "counter durability: n%" PRIu64 "'s own slot of %s is %" PRIu64 " %s, but it"
                 " acknowledged increments summing to %" PRIu64, n->id, counter_names[k], own,
                 when, s->ct.answered[n->id][k]);
}

void sim_counters_loaded(struct sim *s, struct sim_node *n)
{
    const struct crdt_set *set = n->svc.crdt;
    for (int k = 0; k < SIM_COUNTER_NAMES && !s->failed; k++) {
        uint64_t own = slot_of(set, k, n->id), value = value_of(set, k);
        check_own(s, n, k, own, "after a restart");
        if (!s->failed && value < s->ct.reported[n->id][k])
            sim_fail(s, "counters never go down: n%" PRIu64 " restarts with %s = %" PRIu64
                     ", but reported %" PRIu64 " before", n->id, counter_names[k], value,
                     s->ct.reported[n->id][k]);
    }
}

static int name_index(const char *name)
{
    for (int i = 0; i < SIM_COUNTER_NAMES; i++)
        if (strcmp(name, counter_names[i]) == 0)
            return i;
    return -1;
}

/* crdt.h: a change leaves a node in gossip only once it is durable. Any slot in a
 * delta is at most what the slot's owner has stored, whoever relays it. */
void sim_counters_check_delta(struct sim *s, struct sim_node *n, const struct crdt_delta *d)
{
    for (size_t i = 0; i < d->n && !s->failed; i++) {
        const struct crdt_slot *sl = &d->slots[i];
        int k = name_index(sl->name);
        if (k < 0 || sl->node == 0 || sl->node >= SIM_MAX_IDS) {
            sim_fail(s, "n%" PRIu64 " gossips a slot of unknown counter or node", n->id);
            return;
        }
        if (sl->value > s->ct.stored_own[sl->node][k])
            sim_fail(s, "gossip of undurable counters: n%" PRIu64 " sends n%" PRIu64 "'s slot of %s"
                     " = %" PRIu64 ", but n%" PRIu64 " has stored only %" PRIu64, n->id, sl->node,
                     sl->name, sl->value, sl->node, s->ct.stored_own[sl->node][k]);
    }
}

static bool is_live(const struct sim_node *n)
{
    return n->state == SIM_NODE_UP || n->state == SIM_NODE_DOWN;
}

/* Once a sync is through and its waiting increments answered, the node's stored
 * own slots must match its answers. */
void sim_counters_synced(struct sim *s, struct sim_node *n)
{
    for (int k = 0; k < (int)s->ct.n_names && !s->failed; k++)
        check_own(s, n, k, s->ct.stored_own[n->id][k], "on disk");
}

/* Whether every live node is up, has nothing left to write and holds the same
 * slots as the first one. */
static bool settled(struct sim *s, uint64_t *ref)
{
    *ref = 0;
    for (uint64_t id = 1; id < s->next_id; id++) {
        const struct sim_node *n = &s->nodes[id];
        if (!is_live(n))
            continue;
        if (n->state != SIM_NODE_UP || n->svc.crdt_dirty ||
            crdt_durable(n->svc.crdt) != crdt_version(n->svc.crdt))
            return false;
        if (!*ref)
            *ref = id;
    }
    if (!*ref)
        return false;
    const struct crdt_set *a = s->nodes[*ref].svc.crdt;
    for (uint64_t id = *ref + 1; id < s->next_id; id++) {
        if (!is_live(&s->nodes[id]))
            continue;
        const struct crdt_set *b = s->nodes[id].svc.crdt;
        for (int k = 0; k < (int)s->ct.n_names; k++) {
            for (uint64_t z = 1; z < s->next_id; z++)
                if (slot_of(a, k, z) != slot_of(b, k, z))
                    return false;
        }
    }
    return true;
}

static void verify(struct sim *s, uint64_t ref, int k)
{
    const struct sim_counters *ct = &s->ct;
    const struct crdt_set *set = s->nodes[ref].svc.crdt;
    uint64_t value = 0, acked = 0, attempted = 0;
    for (uint64_t z = 1; z < s->next_id && !s->failed; z++) {
        uint64_t slot = slot_of(set, k, z);
        bool live = is_live(&s->nodes[z]);
        value += slot;
        attempted += ct->attempted[z][k];
        acked += live ? ct->acked[z][k] : 0;
        if (slot > ct->answered[z][k] || (live && slot < ct->answered[z][k]))
            sim_fail(s, "counter convergence: every node holds n%" PRIu64 "'s slot of %s = %" PRIu64
                     ", but n%" PRIu64 " acknowledged increments summing to %" PRIu64 "%s", z,
                     counter_names[k], slot, z, ct->answered[z][k],
                     live ? "" : " (it has left the cluster)");
    }
    if (!s->failed && (value < acked || value > attempted))
        sim_fail(s, "counter convergence: %s = %" PRIu64 " on every node, outside [%" PRIu64 " "
                 "acknowledged, %" PRIu64 " attempted]", counter_names[k], value, acked, attempted);
    sim_trace(s, "counters: %s = %" PRIu64 " on every node (%" PRIu64 " acknowledged, %" PRIu64
              " attempted)", counter_names[k], value, acked, attempted);
}

/* After the heal: true once the counters have converged (and were verified). */
bool sim_counters_converged(struct sim *s)
{
    struct sim_counters *ct = &s->ct;
    if (ct->converged)
        return true;
    uint64_t ref;
    if (!s->healed || ct->inflight > 0 || !settled(s, &ref))
        return false;
    for (int k = 0; k < (int)ct->n_names && !s->failed; k++)
        verify(s, ref, k);
    ct->converged = !s->failed;
    return ct->converged;
}
