/* The daemon's wiring: one uv loop hosting Raft, the failure detector and the state machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/codec.h"
#include "node/log.h"
#include "node/node.h"




void node_send_raft(struct node *n, const struct raft_message *m)
{
    struct raft_buf frame;
    int rv = net_encode_raft(m, n->cfg.max_frame, &frame);
    if (rv != 0) {
        node_log(NODE_LOG_WARN, "cannot encode %s to %llu: %s", raft_msg_type_name(m->type),
                 (unsigned long long)m->to, baton_strerror(rv));
        return;
    }
    /* Not connected or congested: Raft retransmits, so dropping is safe. */
    (void)net_peers_send(&n->peers, m->to, frame);
}

static void log_role_change(struct node *n)
{
    int role = raft_role(n->raft);
    uint64_t leader = raft_leader(n->raft);
    uint64_t term = raft_term(n->raft);
    if (role == n->last_role && leader == n->last_leader && term == n->last_term) {
        return;
    }
    node_log_set_term(term);
    if (role != n->last_role) {
        node_service_role(n, role);
    }
    if (role != n->last_role || leader != n->last_leader) {
        if (role == RAFT_FOLLOWER && leader != 0) {
            node_log(NODE_LOG_INFO, "became follower (leader %llu)", (unsigned long long)leader);
        } else {
            node_log(NODE_LOG_INFO, "became %s", raft_role_name(role));
        }
    }
    n->last_role = role;
    n->last_leader = leader;
    n->last_term = term;
}

static void maybe_snapshot(struct node *n)
{
    if (n->snapshot_pending || n->sm.applied < n->snapshot_index + n->cfg.snapshot_entries) {
        return;
    }
    struct node_persist_item *it = calloc(1, sizeof(*it));
    if (it == NULL) {
        return;
    }
    it->kind = NODE_PERSIST_SNAPSHOT;
    it->trailing = n->cfg.snapshot_trailing;
    if (raft_snapshot_meta(n->raft, n->sm.applied, &it->snapshot.meta) != 0 ||
        node_sm_snapshot(&n->sm, &it->snapshot.data) != 0) {
        free(it);
        return;
    }
    n->snapshot_pending = true;
    node_persist_push(&n->persist, it);
}

void node_pump(struct node *n)
{
    if (n->raft == NULL || n->persist.failed || n->stopping) {
        return;
    }
    while (raft_has_ready(n->raft)) {
        struct node_persist_item *it = calloc(1, sizeof(*it));
        if (it == NULL || raft_ready_get(n->raft, &it->rd) != 0) {
            free(it);
            node_log(NODE_LOG_ERROR, "out of memory taking work from raft");
            node_stop(n, 1);
            return;
        }
        it->kind = NODE_PERSIST_READY;
        /* Raft §10.2.1: the leader's AppendEntries leave before its own fsync. */
        for (size_t i = 0; i < it->rd.n_msgs; i++) {
            if (!it->rd.after_persist[i]) {
                node_send_raft(n, &it->rd.msgs[i]);
            }
        }
        node_persist_push(&n->persist, it);
    }
    node_links_follow(n);
    maybe_snapshot(n);
    node_counters_flush(n);
    node_persist_kick(&n->persist);
    log_role_change(n);
    node_members_check(n);
}

void node_apply_ready(struct node *n, const struct raft_ready *rd)
{
    for (size_t i = 0; i < rd->n_msgs; i++) {
        if (rd->after_persist[i]) {
            node_send_raft(n, &rd->msgs[i]);
        }
    }
    if (rd->snapshot != NULL) {
        const struct raft_snapshot *s = rd->snapshot;
        if (node_sm_restore(&n->sm, s->data.base, s->data.len, s->meta.index) != 0) {
            node_log(NODE_LOG_ERROR, "snapshot at %llu from the leader is not ours",
                     (unsigned long long)s->meta.index);
            node_stop(n, 1);
            return;
        }
        n->snapshot_index = s->meta.index;
        node_log(NODE_LOG_INFO, "installed snapshot at index %llu",
                 (unsigned long long)s->meta.index);
        node_members_installed(n, &s->meta.conf, s->meta.index);
    }
    for (size_t i = 0; i < rd->n_committed; i++) {
        int rv = node_sm_apply(&n->sm, &rd->committed[i]);
        if (rv != 0) {
            node_log(NODE_LOG_ERROR, "cannot apply entry %llu: %s",
                     (unsigned long long)rd->committed[i].index, baton_strerror(rv));
            node_stop(n, 1);
            return;
        }
        node_service_applied(n, &rd->committed[i]);
        node_members_applied(n, &rd->committed[i]);
    }
    node_service_reads(n, rd->reads, rd->n_reads);
    raft_persisted(n->raft, rd);
}

void node_on_persisted(void *arg, struct node_persist_item *item)
{
    struct node *n = arg;
    if (item->kind == NODE_PERSIST_READY) {
        node_apply_ready(n, &item->rd);
        return;
    }
    if (item->kind == NODE_PERSIST_CRDT) {
        node_counters_persisted(n, item->sync.upto);
        return;
    }
    const struct raft_snapshot *s = &item->snapshot;
    int rv = raft_compact(n->raft, &s->meta, s->data.base, s->data.len, item->trailing);
    n->snapshot_pending = false;
    if (rv != 0) {
        node_log(NODE_LOG_WARN, "compaction at %llu refused: %s",
                 (unsigned long long)s->meta.index, baton_strerror(rv));
        return;
    }
    n->snapshot_index = s->meta.index;
    node_log(NODE_LOG_INFO, "snapshot at index %llu, log compacted",
             (unsigned long long)s->meta.index);
}

void node_on_persist_failed(void *arg, int err, const char *why)
{
    struct node *n = arg;
    /* Never acknowledge what is not durable: stop, say why, let the operator act. */
    node_log(NODE_LOG_ERROR, "cannot persist to %s: %s (%s); stopping", n->cfg.data_dir, why,
             baton_strerror(err));
    node_stop(n, 1);
}

void node_on_drained(void *arg)
{
    node_pump(arg);
}

void node_tick_cb(uv_timer_t *t)
{
    struct node *n = t->data;
    raft_tick(n->raft, uv_now(n->loop));
    node_service_tick(n);
    node_pump(n);
}

static void send_heartbeats(struct node *n)
{
    uint64_t ids[FD_MAX_PEERS];
    int count = fd_peers(&n->fd, ids, FD_MAX_PEERS);
    n->hb_seq++;
    n->counters.rounds++;
    for (int i = 0; i < count; i++) {
        Baton__Heartbeat hb = BATON__HEARTBEAT__INIT;
        hb.from = n->cfg.id;
        hb.to = ids[i];
        hb.seq = n->hb_seq;
        void *delta = NULL;
        if (net_peers_connected(&n->peers, ids[i])) {
            node_counters_fill(n, ids[i], fd_suspected(&n->fd, ids[i]), &hb, &delta);
        }
        Baton__Envelope env = BATON__ENVELOPE__INIT;
        env.body_case = BATON__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        struct raft_buf frame;
        if (net_encode_envelope(&env, n->cfg.max_frame, &frame) == 0) {
            (void)net_peers_send(&n->peers, ids[i], frame);
        }
        free(delta);
    }
}

void node_fd_cb(uv_timer_t *t)
{
    struct node *n = t->data;
    uint64_t now = uv_now(n->loop);
    if (fd_heartbeat_due(&n->fd, now)) {
        send_heartbeats(n);
        (void)fd_heartbeat_sent(&n->fd, now);
    }
    uint64_t newly[FD_MAX_PEERS];
    int count = fd_tick(&n->fd, now, newly, FD_MAX_PEERS);
    for (int i = 0; i < count; i++) {
        node_log(NODE_LOG_WARN, "suspecting peer %llu (nothing heard for its timeout)",
                 (unsigned long long)newly[i]);
    }
    uint64_t next = fd_next_deadline(&n->fd);
    uv_timer_start(&n->fd_timer, node_fd_cb, next > now ? next - now : 1, 0);
}

void node_on_peer_envelope(void *arg, uint64_t from, const Baton__Envelope *env)
{
    struct node *n = arg;
    if (fd_heard(&n->fd, from, uv_now(n->loop)) == 1) {
        node_log(NODE_LOG_INFO, "trust in peer %llu restored", (unsigned long long)from);
    }
    if (env->body_case == BATON__ENVELOPE__BODY_HEARTBEAT && !n->stopping) {
        node_counters_heard(n, from, env->heartbeat);
        node_pump(n);
        return;
    }
    if (env->body_case == BATON__ENVELOPE__BODY_REMOVED && !n->stopping) {
        node_members_notice(n, from, env->removed);
        return;
    }
    if (env->body_case != BATON__ENVELOPE__BODY_RAFT || n->stopping) {
        return;
    }
    struct raft_message m;
    if (net_raft_from_pb(env->raft, &m) != 0) {
        node_log(NODE_LOG_WARN, "dropped a malformed raft message from peer %llu",
                 (unsigned long long)from);
        return;
    }
    if (m.from == from) { /* a peer speaks only for itself */
        (void)raft_step(n->raft, &m);
    }
    raft_message_clear(&m);
    node_pump(n);
}

void node_on_net_log(void *arg, const char *level, const char *msg)
{
    (void)arg;
    node_log(strcmp(level, "warn") == 0 ? NODE_LOG_WARN : NODE_LOG_INFO, "%s", msg);
}
