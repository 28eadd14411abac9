/* Invariants on leaders and commit: election safety, leader completeness, and commit
 * indexes that never go back and never outrun a durable quorum. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Raft §5.2: at most one leader per term. */
static void election_safety(struct sim *s, struct sim_node *n, uint64_t term)
{
    struct sim_history *h = &s->h;
    if (term >= h->n_terms) {
        size_t cap = h->n_terms ? h->n_terms * 2 : 64;
        while (cap <= term)
            cap *= 2;
        uint64_t *v = realloc(h->leader_of_term, cap * sizeof(*v));
        if (!v) {
            sim_fail(s, "out of memory in the checker");
            return;
        }
        memset(v + h->n_terms, 0, (cap - h->n_terms) * sizeof(*v));
        h->leader_of_term = v;
        h->n_terms = cap;
    }
    if (!h->leader_of_term[term])
        h->leader_of_term[term] = n->id;
    else if (h->leader_of_term[term] != n->id)
        sim_fail(s, "election safety: n%" PRIu64 " and n%" PRIu64 " are both leader of term %" PRIu64,
                 h->leader_of_term[term], n->id, term);
}

static void leader_holds(struct sim *s, struct sim_node *l, uint64_t index, uint64_t term,
                         uint64_t obs)
{
    if (index < raft_snapshot_index(l->r))
        return;
    uint64_t have = raft_term_at(l->r, index);
    if (have != term)
        sim_fail(s, "leader completeness: n%" PRIu64 " is leader of term %" PRIu64 " but holds"
                 " term %" PRIu64 " at index %" PRIu64 ", where term %" PRIu64 " was committed"
                 " (seen committed in term %" PRIu64 ")", l->id, raft_term(l->r), have, index,
                 term, obs);
}

/* Leader completeness (Raft §5.4): an entry committed in term T is in the log of
 * every leader of a term after T. T is not the entry's own term (Figure 8: a stale
 * leader of a later term may legitimately lack an old-term entry that a yet later
 * leader commits); it is bounded by the lowest term of a node that observed the
 * commit, which is at least the term of the leader that decided it. */
void sim_check_new_leader(struct sim *s, struct sim_node *n)
{
    uint64_t term = raft_term(n->r);
    uint64_t from = raft_snapshot_index(n->r);
    for (uint64_t i = from ? from : 1; i <= s->h.max_commit && !s->failed; i++) {
        const struct sim_index *x = sim_history_peek(&s->h, i);
        if (x && x->committed_term && x->committed_obs < term)
            leader_holds(s, n, i, x->committed_term, x->committed_obs);
    }
}

static void leaders_hold(struct sim *s, uint64_t index, uint64_t term, uint64_t obs)
{
    for (uint64_t id = 1; id < s->next_id && !s->failed; id++) {
        struct sim_node *l = &s->nodes[id];
        if (l->state == SIM_NODE_UP && raft_role(l->r) == RAFT_LEADER && raft_term(l->r) > obs)
            leader_holds(s, l, index, term, obs);
    }
}

static void record_commit(struct sim *s, struct sim_node *n, uint64_t index)
{
    uint64_t term = raft_term_at(n->r, index);
    if (term == 0)
        return; /* inside a snapshot: checked when the snapshot was installed */
    struct sim_index *x = sim_history_at(s, index);
    if (!x)
        return;
    uint64_t obs = raft_term(n->r);
    if (x->committed_term && x->committed_term != term) {
        sim_fail(s, "state machine safety: n%" PRIu64 " committed %" PRIu64 "/%" PRIu64
                 ", another node committed %" PRIu64 "/%" PRIu64, n->id, index, term, index,
                 x->committed_term);
        return;
    }
    if (x->committed_term) {
        if (obs < x->committed_obs)
            x->committed_obs = obs;
        return;
    }
    x->committed_term = term;
    x->committed_obs = obs;
    s->h.commit_grew = true;
    const struct raft_entry *e = raft_entry_at(n->r, index);
    struct raft_conf conf;
    if (e && e->type == RAFT_ENTRY_CONF && raft_conf_decode(e->data.base, e->data.len, &conf) == 0)
        sim_history_commit_conf(s, index, &conf);
    leaders_hold(s, index, term, obs);
}

static bool durable_quorum(struct sim *s, const struct raft_conf *c, uint64_t index,
                           uint64_t term)
{
    size_t voters = 0, have = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->servers[i].role != RAFT_VOTER)
            continue;
        voters++;
        struct sim_node *m = sim_node_get(s, c->servers[i].id);
        if (m && m->state != SIM_NODE_UNUSED && sim_durable_has(&m->d, index, term))
            have++;
    }
    return voters > 0 && have * 2 > voters;
}

static void format_voters(struct sim *s, char *buf, size_t len, const struct raft_conf *c,
                          uint64_t index, uint64_t term)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; c && i < c->n && used + 1 < len; i++) {
        if (c->servers[i].role != RAFT_VOTER)
            continue;
        struct sim_node *m = sim_node_get(s, c->servers[i].id);
        bool has = m && sim_durable_has(&m->d, index, term);
        int w = snprintf(buf + used, len - used, "%sn%" PRIu64 "%s", used ? " " : "",
                         c->servers[i].id, has ? "+" : "-");
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* A commit index may only reach an entry that a majority holds durably, or a crash
 * of that majority could lose a committed entry. Single-server changes make a
 * majority of either the configuration at the index or the node's current one
 * enough. A follower may also learn a commit point some leader already reached. */
static void check_quorum(struct sim *s, struct sim_node *n, uint64_t c, uint64_t term,
                         bool known)
{
    if (term == 0 || (known && raft_role(n->r) != RAFT_LEADER))
        return;
    const struct raft_conf *cur = raft_conf(n->r);
    if (durable_quorum(s, cur, c, term))
        return;
    const struct raft_conf *at = sim_history_conf_at(s, n->r, c);
    if (at && durable_quorum(s, at, c, term))
        return;
    char now_v[256], at_v[256];
    format_voters(s, now_v, sizeof(now_v), cur, c, term);
    format_voters(s, at_v, sizeof(at_v), at, c, term);
    sim_fail(s, "commit without a durable quorum: n%" PRIu64 " (%s, term %" PRIu64 ") commits"
             " %" PRIu64 "/%" PRIu64 "; durable holders (+) among voters now {%s}, at that"
             " index {%s}", n->id, raft_role_name(raft_role(n->r)), raft_term(n->r), c, term,
             now_v, at_v);
}

void sim_check_commit(struct sim *s, struct sim_node *n)
{
    uint64_t c = raft_commit(n->r);
    if (c < n->seen_commit) {
        sim_fail(s, "n%" PRIu64 "'s commit index goes back from %" PRIu64 " to %" PRIu64, n->id,
                 n->seen_commit, c);
        return;
    }
    if (c == n->seen_commit)
        return;
    if (c > raft_last_index(n->r)) {
        sim_fail(s, "n%" PRIu64 " commits %" PRIu64 " beyond its last index %" PRIu64, n->id, c,
                 raft_last_index(n->r));
        return;
    }
    uint64_t term = raft_term_at(n->r, c);
    const struct sim_index *x = sim_history_peek(&s->h, c);
    bool known = x && x->committed_term && x->committed_term == term;
    for (uint64_t i = n->seen_commit + 1; i <= c && !s->failed; i++)
        record_commit(s, n, i);
    n->seen_commit = c;
    if (c > s->h.max_commit)
        s->h.max_commit = c;
    if (!s->failed)
        check_quorum(s, n, c, term, known);
}

static void observe_node(struct sim *s, struct sim_node *n)
{
    int role = raft_role(n->r);
    uint64_t term = raft_term(n->r);
    if (term < n->seen_term) {
        sim_fail(s, "n%" PRIu64 "'s term goes back from %" PRIu64 " to %" PRIu64, n->id,
                 n->seen_term, term);
        return;
    }
    bool new_leader = role == RAFT_LEADER && (n->seen_role != RAFT_LEADER || n->seen_term != term);
    if (s->verbose && (role != n->seen_role || term != n->seen_term)) {
        char leader[32] = "unknown";
        if (raft_leader(n->r))
            snprintf(leader, sizeof(leader), "n%" PRIu64, raft_leader(n->r));
        sim_trace(s, "n%" PRIu64 " is %s in term %" PRIu64 " (leader %s)", n->id,
                  raft_role_name(role), term, leader);
    }
    n->seen_role = role;
    n->seen_term = term;
    if (role == RAFT_LEADER)
        election_safety(s, n, term);
    if (!s->failed)
        sim_check_commit(s, n);
    if (new_leader && !s->failed)
        sim_check_new_leader(s, n);
}

/* Runs after every event: notices role, term and commit changes on every node. */
void sim_check_observe(struct sim *s)
{
    for (uint64_t id = 1; id < s->next_id && !s->failed; id++)
        if (s->nodes[id].state == SIM_NODE_UP)
            observe_node(s, &s->nodes[id]);
}
