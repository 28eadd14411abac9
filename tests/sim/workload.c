/* The clients: proposals and ReadIndex reads at random times, and the liveness probe. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define PAYLOAD_LEN 16
#define PAYLOAD_CLIENT 'P'
#define PAYLOAD_PROBE 'L'
/* Clients hold back while this many entries wait for commit at the leader: an open
 * loop would outrun slow configurations (one entry per append, one in flight, slow
 * disks) and bury the liveness probe under a backlog no timeout could drain. */
#define MAX_UNCOMMITTED 48

/* 16 bytes: a kind byte, a 56-bit sequence number (unique in the run) and 8 bytes
 * derived from the seed, so payloads differ across runs too. */
static uint64_t make_payload(struct sim *s, unsigned char kind, unsigned char *out)
{
    uint64_t seq = ++s->w.next_payload;
    uint64_t tag = sim_mix(s->seed ^ sim_mix(seq));
    out[0] = kind;
    for (int i = 1; i < 8; i++)
        out[i] = (unsigned char)(seq >> (8 * (i - 1)));
    for (int i = 0; i < 8; i++)
        out[8 + i] = (unsigned char)(tag >> (8 * i));
    return seq;
}

static void propose(struct sim *s, unsigned char kind)
{
    struct sim_node *n = kind == PAYLOAD_PROBE ? sim_leader(s) : sim_any_leader(s);
    if (!n)
        return;
    if (kind != PAYLOAD_PROBE && raft_last_index(n->r) > raft_commit(n->r) + MAX_UNCOMMITTED)
        return;
    unsigned char data[PAYLOAD_LEN];
    uint64_t seq = make_payload(s, kind, data), index = 0, term = 0;
    int rc = raft_propose(n->r, data, sizeof(data), &index, &term);
    if (rc == BATON_ENOTLEADER || rc == BATON_EBUSY) {
        sim_trace(s, "propose #%" PRIu64 " at n%" PRIu64 ": %s", seq, n->id, baton_strerror(rc));
        return;
    }
    if (rc != 0) {
        sim_fail(s, "n%" PRIu64 ": raft_propose: %s", n->id, baton_strerror(rc));
        return;
    }
    s->w.proposed++;
    sim_trace(s, "propose %s#%" PRIu64 " at n%" PRIu64 " -> %" PRIu64 "/%" PRIu64,
              kind == PAYLOAD_PROBE ? "probe " : "", seq, n->id, index, term);
    sim_node_process(s, n);
}

/* Linearizability of ReadIndex: a read must see every write committed before it was
 * issued, so its index must be at least the highest commit index any node had
 * observed at that moment. */
static void read_index(struct sim *s)
{
    struct sim_node *n = sim_any_leader(s);
    if (!n)
        return;
    struct sim_workload *w = &s->w;
    if (w->n_reads == w->cap_reads) {
        size_t cap = w->cap_reads ? w->cap_reads * 2 : 64;
        struct sim_read *v = realloc(w->reads, cap * sizeof(*v));
        if (!v) {
            sim_fail(s, "out of memory");
            return;
        }
        w->reads = v;
        w->cap_reads = cap;
    }
    uint64_t ctx = w->n_reads + 1;
    int rc = raft_read_index(n->r, ctx);
    if (rc == BATON_ENOTLEADER) {
        sim_trace(s, "read at n%" PRIu64 ": %s", n->id, baton_strerror(rc));
        return;
    }
    if (rc != 0) {
        sim_fail(s, "n%" PRIu64 ": raft_read_index: %s", n->id, baton_strerror(rc));
        return;
    }
    w->reads[w->n_reads++] = (struct sim_read){n->id, s->h.max_commit, false};
    sim_trace(s, "read #%" PRIu64 " at n%" PRIu64 " (committed so far: %" PRIu64 ")", ctx, n->id,
              s->h.max_commit);
    sim_node_process(s, n);
}

void sim_workload_read_answer(struct sim *s, struct sim_node *n, const struct raft_read *rd)
{
    if (rd->ctx == 0 || rd->ctx > s->w.n_reads) {
        sim_fail(s, "n%" PRIu64 " answers read #%" PRIu64 ", which was never issued", n->id,
                 rd->ctx);
        return;
    }
    struct sim_read *r = &s->w.reads[rd->ctx - 1];
    if (r->node != n->id || r->answered) {
        sim_fail(s, "n%" PRIu64 " answers read #%" PRIu64 " issued at n%" PRIu64 "%s", n->id,
                 rd->ctx, r->node, r->answered ? " a second time" : "");
        return;
    }
    r->answered = true;
    sim_trace(s, "read #%" PRIu64 " at n%" PRIu64 ": %s index %" PRIu64, rd->ctx, n->id,
              rd->ok ? "ok" : "failed", rd->index);
    if (!rd->ok)
        return;
    s->w.reads_ok++;
    if (rd->index < r->min_index)
        sim_fail(s, "linearizability: read #%" PRIu64 " at n%" PRIu64 " answered with index %"
                 PRIu64 ", but %" PRIu64 " was already committed when it was issued", rd->ctx,
                 n->id, rd->index, r->min_index);
    else if (rd->index > raft_commit(n->r))
        sim_fail(s, "read #%" PRIu64 " at n%" PRIu64 " answered with index %" PRIu64
                 " beyond its own commit index %" PRIu64, rd->ctx, n->id, rd->index,
                 raft_commit(n->r));
}

void sim_workload_on_event(struct sim *s)
{
    if (sim_rng_pm(&s->rng, s->p.read_pm))
        read_index(s);
    else
        propose(s, PAYLOAD_CLIENT);
    uint64_t gap = sim_rng_range(&s->rng, 1, s->p.workload_gap_max);
    sim_schedule(s, s->now + gap, SIM_EV_WORKLOAD, 0, 0, NULL);
}

/* Probes are proposed only after the heal, so any probe applied anywhere is a new
 * entry committed after the faults stopped. */
void sim_workload_applied(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
    const unsigned char *p = e->data.base;
    if (e->type != RAFT_ENTRY_NORMAL || e->data.len != PAYLOAD_LEN || p[0] != PAYLOAD_PROBE)
        return;
    if (!s->w.probe_index || e->index < s->w.probe_index)
        s->w.probe_index = e->index;
}

void sim_workload_on_probe(struct sim *s)
{
    if (!s->w.probe_index)
        propose(s, PAYLOAD_PROBE);
    sim_schedule(s, s->now + SIM_PROBE_MS, SIM_EV_PROBE, 0, 0, NULL);
}

static bool is_member(struct sim *s, uint64_t id)
{
    return raft_conf_get(&s->h.committed_conf, id) != NULL;
}

/* Liveness holds once a probe is applied (or covered by a snapshot) on every member
 * of the latest committed configuration and the G-Counters have converged. */
void sim_workload_check_liveness(struct sim *s)
{
    uint64_t p = s->w.probe_index;
    if (!p)
        return;
    for (uint64_t id = 1; id < s->next_id; id++) {
        const struct sim_node *n = &s->nodes[id];
        if (!is_member(s, id))
            continue;
        if (n->state != SIM_NODE_UP || n->sm.applied < p)
            return;
    }
    if (!sim_counters_converged(s))
        return;
    sim_trace(s, "liveness: probe at %" PRIu64 " applied on every member %" PRIu64
              " ms after the heal", p, s->now - s->healed_at);
    s->done = true;
}

void sim_workload_on_deadline(struct sim *s)
{
    struct sim_node *l = sim_leader(s);
    char nodes[512];
    size_t used = 0;
    nodes[0] = '\0';
    for (uint64_t id = 1; id < s->next_id && used + 64 < sizeof(nodes); id++) {
        const struct sim_node *n = &s->nodes[id];
        if (n->state != SIM_NODE_UP)
            continue;
        used += (size_t)snprintf(nodes + used, sizeof(nodes) - used,
                                 " n%" PRIu64 "(%s t%" PRIu64 " c%" PRIu64 " a%" PRIu64 "%s)", id,
                                 raft_role_name(raft_role(n->r)), raft_term(n->r),
                                 raft_commit(n->r), n->sm.applied, is_member(s, id) ? "" : " x");
    }
    char leader[32] = "none";
    if (l)
        snprintf(leader, sizeof(leader), "n%" PRIu64, l->id);
    if (!s->w.probe_index || !s->ct.converged)
        sim_fail(s, "liveness: %d ms after the heal %s (leader %s, probe index %" PRIu64
                 ", counter requests in flight %zu);%s", SIM_LIVENESS_MS,
                 s->w.probe_index ? "the G-Counters have not converged"
                                  : "no new entry is applied on every member",
                 leader, s->w.probe_index, s->ct.inflight, nodes);
}

void sim_workload_free(struct sim_workload *w)
{
    free(w->reads);
    memset(w, 0, sizeof(*w));
}
