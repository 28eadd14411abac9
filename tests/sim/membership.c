/* Membership bookkeeping: nodes leave the simulation once the cluster no longer has them. */
#include <inttypes.h>

#include "sim.h"

static void leave(struct sim *s, struct sim_node *n, const char *why)
{
    uint64_t at = s->now + sim_rng_range(&s->rng, 0, s->p.linger_max);
    sim_trace(s, "n%" PRIu64 " leaves the cluster (%s); shut down at %" PRIu64, n->id, why, at);
    n->leaving = true;
    sim_schedule(s, at, SIM_EV_RETIRE, n->id, 0, NULL);
}

/* Nodes leave the cluster once it no longer needs them: when a committed
 * configuration no longer lists them, or when the entry that was to add them was
 * overwritten. Like a real operator, the simulation shuts them down a little later
 * (a removed server that lingers must not disrupt the cluster, Raft dissertation
 * §4.2.3); their durable state stays for the quorum checks. */
void sim_membership_reap(struct sim *s)
{
    if (!s->h.commit_grew)
        return;
    s->h.commit_grew = false;
    for (uint64_t id = 1; id < s->next_id && !s->failed; id++) {
        struct sim_node *n = &s->nodes[id];
        if ((n->state != SIM_NODE_UP && n->state != SIM_NODE_DOWN) || n->leaving)
            continue;
        const struct sim_index *x = sim_history_peek(&s->h, n->add_index);
        if (!x || !x->committed_term)
            continue; /* its addition is still pending */
        if (x->committed_term != n->add_term)
            leave(s, n, "the entry adding it was overwritten");
        else if (!raft_conf_get(&s->h.committed_conf, id) &&
                 s->h.committed_conf_index >= n->add_index)
            leave(s, n, "a committed configuration removed it");
    }
}

void sim_membership_on_retire(struct sim *s, const struct sim_event *ev)
{
    struct sim_node *n = sim_node_get(s, ev->node);
    if (n && n->leaving && (n->state == SIM_NODE_UP || n->state == SIM_NODE_DOWN))
        sim_node_retire(s, n, "shut down after leaving the cluster");
}
