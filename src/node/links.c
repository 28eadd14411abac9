/* Peer links that follow the Raft configuration: transport, failure detector, gossip. */
#include <stdio.h>
#include <string.h>

#include "node/log.h"
#include "node/node.h"

static const struct node_member *initial_member(const struct node_config *cfg, uint64_t id)
{
    for (size_t i = 0; i < cfg->n_members; i++) {
        if (cfg->members[i].id == id) {
            return &cfg->members[i];
        }
    }
    return NULL;
}

static bool planned(const struct node_links *l, uint64_t id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].id == id) {
            return true;
        }
    }
    return false;
}

/* Adds id at addr unless it is us or already there; false when full. */
static bool plan_add(struct node_links *out, uint64_t self, uint64_t id, const char *addr)
{
    if (id == self || planned(out, id)) {
        return true;
    }
    if (out->n == NET_PEERS_MAX) {
        return false;
    }
    struct node_link *l = &out->v[out->n++];
    l->id = id;
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    return true;
}

static bool plan_conf(const struct node_config *cfg, const struct raft_conf *c,
                      struct node_links *out)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        const struct node_member *m = initial_member(cfg, s->id);
        char addr[NODE_ADDR_MAX];
        if (m != NULL) {
            snprintf(addr, sizeof(addr), "%s", m->peer_addr);
        } else {
            node_addr_peer(s->addr, addr, sizeof(addr));
        }
        if (!plan_add(out, cfg->id, s->id, addr)) {
            return false;
        }
    }
    return true;
}

int node_links_plan(const struct node_config *cfg, const struct raft_conf *latest,
                    const struct raft_conf *applied, struct node_links *out)
{
    out->n = 0;
    if (latest->n == 0 && applied->n == 0) {
        for (size_t i = 0; i < cfg->n_members; i++) {
            const struct node_member *m = &cfg->members[i];
            if (!plan_add(out, cfg->id, m->id, m->peer_addr)) {
                return BATON_ECONFIG;
            }
        }
        return 0;
    }
    if (!plan_conf(cfg, latest, out) || !plan_conf(cfg, applied, out)) {
        return BATON_ECONFIG;
    }
    return 0;
}

static const struct node_link *find_link(const struct node_links *l, uint64_t id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].id == id) {
            return &l->v[i];
        }
    }
    return NULL;
}

/* The failure detector watches exactly the planned peers. */
static void follow_fd(struct node *n, const struct node_links *want)
{
    uint64_t ids[FD_MAX_PEERS];
    int count = fd_peers(&n->fd, ids, FD_MAX_PEERS);
    for (int i = 0; i < count; i++) {
        if (!planned(want, ids[i]) && fd_peer_remove(&n->fd, ids[i]) != 0) {
            node_log(NODE_LOG_WARN, "the failure detector does not watch peer %llu",
                     (unsigned long long)ids[i]);
        }
    }
    for (size_t i = 0; i < want->n; i++) {
        bool watched = false;
        for (int k = 0; k < count; k++) {
            watched = watched || ids[k] == want->v[i].id;
        }
        if (!watched && fd_peer_add(&n->fd, want->v[i].id, uv_now(n->loop)) != 0) {
            node_log(NODE_LOG_WARN, "the failure detector cannot watch peer %llu",
                     (unsigned long long)want->v[i].id);
        }
    }
}

static void follow_counters(struct node *n, const struct node_links *want)
{
    uint64_t ids[NET_PEERS_MAX];
    for (size_t i = 0; i < want->n; i++) {
        ids[i] = want->v[i].id;
    }
    node_counters_peers_set(&n->counters, ids, want->n);
}

/* Moves the transport's links from the current set to want; false (with why) if
 * an address was refused. */
static bool follow_net(struct node *n, const struct node_links *want, char *why, size_t why_len)
{
    struct node_members *m = &n->members;
    bool ok = true;
    for (size_t i = 0; i < m->links.n; i++) {
        if (!planned(want, m->links.v[i].id)) {
            net_peers_remove(&n->peers, m->links.v[i].id);
            node_log(NODE_LOG_INFO, "dropped the link to peer %llu: no longer in the "
                                    "configuration",
                     (unsigned long long)m->links.v[i].id);
        }
    }
    for (size_t i = 0; i < want->n; i++) {
        const struct node_link *w = &want->v[i];
        const struct node_link *had = find_link(&m->links, w->id);
        if (had != NULL && strcmp(had->addr, w->addr) == 0) {
            continue;
        }
        /* Also moves a link whose address changed. */
        int rv = net_peers_set(&n->peers, w->id, w->addr);
        if (rv != 0) {
            snprintf(why, why_len, "invalid peer %llu at %s: %s", (unsigned long long)w->id,
                     w->addr, baton_strerror(rv));
            ok = false;
            continue;
        }
        if (m->links_started) {
            node_log(NODE_LOG_INFO, "linked to peer %llu at %s (configuration)",
                     (unsigned long long)w->id, w->addr);
        }
    }
    return ok;
}

int node_links_sync(struct node *n, char *why, size_t why_len)
{
    struct node_members *m = &n->members;
    struct node_links want;
    m->latest = *raft_conf(n->raft);
    m->applied_changed = false;
    if (node_links_plan(&n->cfg, &m->latest, &m->applied, &want) != 0) {
        node_log(NODE_LOG_WARN, "more than %d peers in the configuration: linking to the "
                                "first %d only",
                 NET_PEERS_MAX, NET_PEERS_MAX);
    }
    bool ok = follow_net(n, &want, why, why_len);
    follow_fd(n, &want);
    follow_counters(n, &want);
    m->links = want;
    m->links_started = true;
    return ok ? 0 : BATON_EINVAL;
}

void node_links_follow(struct node *n)
{
    struct node_members *m = &n->members;
    /* The fuzzing fixture runs a node without a transport: nothing to follow. */
    if (!n->peers_started || !m->links_started) {
        return;
    }
    if (!m->applied_changed && raft_conf_equal(&m->latest, raft_conf(n->raft))) {
        return;
    }
    char why[256];
    if (node_links_sync(n, why, sizeof(why)) != 0) {
        node_log(NODE_LOG_WARN, "configuration names a peer we cannot link to: %s", why);
    }
}
