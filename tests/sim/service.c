/* A node's lock service, run as src/node/service.c and service_apply.c run it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/*
 * Client requests become lock entries at a leader and are answered when their
 * entry applies at that node (index and term match; another entry there means the
 * request was lost in a leader change). A queued acquire is answered later, by the
 * GRANTED or WAIT_ENDED event of that node. Keepalives are not replicated: the
 * leader answers them from its clock, and only while raft_leader_lease_valid().
 * The leader's clocks start once it has applied its own no-op, and every tick
 * proposes the ends of leases, waits and lock-delays that ran out.
 */

void sim_plist_push(struct sim_plist *l, struct sim_pending *p)
{
    p->next = NULL;
    if (l->tail)
        l->tail->next = p;
    else
        l->head = p;
    l->tail = p;
}

static struct sim_pending *plist_pop(struct sim_plist *l)
{
    struct sim_pending *p = l->head;
    if (p) {
        l->head = p->next;
        if (!l->head)
            l->tail = NULL;
    }
    return p;
}

void sim_plist_free(struct sim_plist *l)
{
    struct sim_pending *p;
    while ((p = plist_pop(l)))
        free(p);
}

/* Equal lock states give equal snapshot bytes (lock.h), so their hash stands for
 * the state in the cross-node comparison of check.c. */
static uint64_t lock_state_hash(struct sim *s, const struct lock_sm *locks)
{
    void *data = NULL;
    size_t len = 0;
    if (lock_sm_snapshot(locks, &data, &len) != 0) {
        sim_fail(s, "out of memory taking a lock snapshot");
        return 0;
    }
    uint64_t h = sim_hash_bytes(data, len);
    free(data);
    return h;
}

int sim_service_start(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    memset(v, 0, sizeof(*v));
    lock_events_init(&v->ev);
    lock_clock_init(&v->clock, s->p.raft.election_ms);
    v->role = raft_role(n->r);
    v->locks = lock_sm_new();
    if (!v->locks) {
        sim_fail(s, "out of memory creating a lock state machine");
        return BATON_ENOMEM;
    }
    v->lock_hash = lock_state_hash(s, v->locks);
    sim_lockcheck_view_reset(s, n);
    return sim_gossip_start(s, n);
}

void sim_service_stop(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    sim_gossip_stop(s, n);
    lock_sm_free(v->locks);
    lock_events_close(&v->ev);
    lock_clock_close(&v->clock);
    sim_plist_free(&v->proposals);
    sim_plist_free(&v->waits);
    memset(v, 0, sizeof(*v));
}

int sim_service_restore(struct sim *s, struct sim_node *n, const void *data, size_t len,
                        uint64_t index)
{
    struct sim_service *v = &n->svc;
    int rc = lock_sm_restore(v->locks, data, len, index);
    if (rc != 0)
        return rc;
    v->lock_hash = lock_state_hash(s, v->locks);
    sim_lockcheck_view_reset(s, n);
    return 0;
}

static void reply(struct sim *s, struct sim_node *n, struct sim_req *r, int code)
{
    r->code = code;
    if (code == BATON_ENOTLEADER && n->r)
        r->leader = raft_leader(n->r);
    sim_net_answer(s, r);
}

/* Answers the request whose entry this was; true if it keeps waiting (queued). */
static bool answer_result(struct sim *s, struct sim_node *n, struct sim_pending *p)
{
    const struct lock_result *res = &n->svc.res;
    struct sim_req *r = &p->req;
    if (res->code != 0) {
        reply(s, n, r, res->code);
        return false;
    }
    if (r->op == SIM_OP_ACQUIRE && res->queued)
        return true;
    if (r->op == SIM_OP_GRANT) {
        r->lease = res->lease;
        r->ttl_ms = res->ttl_ms;
    }
    r->token = res->token;
    reply(s, n, r, 0);
    return false;
}

static void answer_proposals(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
    struct sim_service *v = &n->svc;
    while (v->proposals.head && v->proposals.head->index <= e->index) {
        struct sim_pending *p = plist_pop(&v->proposals);
        bool ours = p->index == e->index && p->term == e->term && v->has_result;
        if (!ours) {
            reply(s, n, &p->req, BATON_EUNAVAILABLE); /* another leader's entry took it */
        } else if (answer_result(s, n, p)) {
            sim_plist_push(&v->waits, p);
            continue;
        }
        free(p);
    }
}

static int wait_end_error(int reason)
{
    switch (reason) {
    case LOCK_REASON_WAIT_END:
        return BATON_ELOCKED;
    case LOCK_REASON_CANCELED:
        return BATON_ECANCELED;
    default:
        return BATON_EEXPIRED;
    }
}

/* Wakes the queued acquires an event concerns. */
static void wake(struct sim *s, struct sim_node *n, const struct lock_event *ev)
{
    struct sim_plist keep = {NULL, NULL};
    struct sim_pending *p;
    while ((p = plist_pop(&n->svc.waits))) {
        if (p->req.lease != ev->lease || strcmp(sim_lock_name(p->req.name), ev->name) != 0) {
            sim_plist_push(&keep, p);
            continue;
        }
        if (ev->type == LOCK_EVENT_GRANTED) {
            p->req.token = ev->token;
            reply(s, n, &p->req, 0);
        } else {
            reply(s, n, &p->req, wait_end_error(ev->reason));
        }
        free(p);
    }
    n->svc.waits = keep;
}

static void maybe_start_clocks(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    if (raft_role(n->r) != RAFT_LEADER || v->clocks_running || n->sm.applied < v->lead_index)
        return;
    /* Our state now includes everything our predecessors committed: every lease
     * restarts at TTL + one election timeout, every wait and delay at its length. */
    if (lock_clock_start(&v->clock, v->locks, s->now, s->p.raft.election_ms) != 0) {
        sim_fail(s, "out of memory starting the lease clocks");
        return;
    }
    v->clocks_running = true;
    sim_trace(s, "n%" PRIu64 " starts its lease clocks (%zu leases)", n->id,
              lease_count(v->locks));
}

void sim_service_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e,
                       bool first)
{
    struct sim_service *v = &n->svc;
    v->has_result = false;
    v->ev.n = 0;
    if (e->type == RAFT_ENTRY_NORMAL) {
        int rc = lock_apply(v->locks, e->index, e->data.base, e->data.len, &v->res, &v->ev);
        if (rc != 0) {
            sim_fail(s, "n%" PRIu64 ": lock_apply(%" PRIu64 "): %s", n->id, e->index,
                     baton_strerror(rc));
            return;
        }
        v->has_result = true;
        if (v->res.code == 0)
            v->lock_hash = lock_state_hash(s, v->locks);
        if (v->res.code == 0 && s->verbose)
            sim_trace(s, "n%" PRIu64 " applies %s at %" PRIu64 " (%zu events)", n->id,
                      lock_cmd_type_name(v->res.type), e->index, v->ev.n);
    }
    sim_lockcheck_events(s, n, e->index, first);
    for (size_t i = 0; v->clocks_running && i < v->ev.n && !s->failed; i++)
        if (lock_clock_event(&v->clock, &v->ev.v[i], s->now) != 0)
            sim_fail(s, "out of memory in the lease clocks");
    answer_proposals(s, n, e);
    for (size_t i = 0; i < v->ev.n; i++)
        if (v->ev.v[i].type == LOCK_EVENT_GRANTED || v->ev.v[i].type == LOCK_EVENT_WAIT_ENDED)
            wake(s, n, &v->ev.v[i]);
    maybe_start_clocks(s, n);
}

/* A new role: a leader remembers its no-op and starts its clocks once that is
 * applied; anyone else forgets the clocks and sends queued acquires elsewhere. */
void sim_service_role(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    if (n->state != SIM_NODE_UP || raft_role(n->r) == v->role)
        return;
    v->role = raft_role(n->r);
    if (v->role == RAFT_LEADER) {
        v->lead_index = raft_last_index(n->r);
        v->clocks_running = false;
        maybe_start_clocks(s, n);
        return;
    }
    lock_clock_clear(&v->clock);
    v->clocks_running = false;
    struct sim_pending *p;
    while ((p = plist_pop(&v->waits))) {
        reply(s, n, &p->req, BATON_ENOTLEADER);
        free(p);
    }
}

void sim_service_tick(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    if (!v->clocks_running)
        return;
    struct lock_cmd cmds[16];
    size_t count = lock_clock_due(&v->clock, s->now, cmds, 16);
    for (size_t i = 0; i < count && !s->failed; i++) {
        uint8_t buf[LOCK_CMD_MAX];
        size_t len;
        uint64_t index, term;
        if (lock_cmd_encode(&cmds[i], buf, sizeof(buf), &len) != 0) {
            sim_fail(s, "n%" PRIu64 ": the lease clock gave a command that does not encode",
                     n->id);
            return;
        }
        if (raft_propose(n->r, buf, len, &index, &term) != 0)
            continue; /* proposed again after the retry period */
        sim_trace(s, "n%" PRIu64 " proposes %s (lease %" PRIu64 ") at %" PRIu64, n->id,
                  lock_cmd_type_name(cmds[i].type), cmds[i].lease, index);
        if (cmds[i].type == LOCK_CMD_LEASE_EXPIRE)
            sim_lockcheck_expire_proposed(s, n, cmds[i].lease);
    }
}

static void keepalive(struct sim *s, struct sim_node *n, struct sim_req *r)
{
    struct sim_service *v = &n->svc;
    bool current = s->plant == SIM_PLANT_KEEPALIVE_ANY_LEADER || raft_leader_lease_valid(n->r);
    uint64_t ttl = 0;
    /* A deposed leader must not extend a lease its successor is counting down. */
    if (!v->clocks_running || !current) {
        reply(s, n, r, BATON_EUNAVAILABLE);
    } else if (lock_clock_keepalive(&v->clock, r->lease, s->now, &ttl) != 0) {
        reply(s, n, r, BATON_EEXPIRED);
    } else {
        sim_lockcheck_keepalive(s, n, r->lease);
        r->ttl_ms = ttl;
        reply(s, n, r, 0);
    }
}

static void to_cmd(const struct sim_req *r, struct lock_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->lease = r->lease;
    switch (r->op) {
    case SIM_OP_GRANT:
        cmd->type = LOCK_CMD_LEASE_GRANT;
        cmd->ttl_ms = r->ttl_ms;
        return;
    case SIM_OP_REVOKE:
        cmd->type = LOCK_CMD_LEASE_REVOKE;
        return;
    case SIM_OP_ACQUIRE:
        cmd->type = LOCK_CMD_ACQUIRE;
        cmd->wait_ms = r->wait_ms;
        cmd->lock_delay_ms = r->lock_delay_ms;
        break;
    default:
        cmd->type = LOCK_CMD_RELEASE;
        break;
    }
    strcpy(cmd->name, sim_lock_name(r->name));
}

/* r is the request as delivered (the event owns it; answers go out as copies). */
void sim_service_request(struct sim *s, struct sim_node *n, struct sim_req *r)
{
    if (r->op == SIM_OP_INCR || r->op == SIM_OP_GET) {
        sim_gossip_request(s, n, r);
        return;
    }
    if (raft_role(n->r) != RAFT_LEADER) {
        reply(s, n, r, BATON_ENOTLEADER);
        return;
    }
    if (r->op == SIM_OP_KEEPALIVE) {
        keepalive(s, n, r);
        return;
    }
    /* Two election timeouts: a shorter lease could not outlive one failover. */
    if (r->op == SIM_OP_GRANT && r->ttl_ms < 2 * (uint64_t)s->p.raft.election_ms) {
        reply(s, n, r, BATON_EINVAL);
        return;
    }
    struct lock_cmd cmd;
    uint8_t buf[LOCK_CMD_MAX];
    size_t len;
    to_cmd(r, &cmd);
    struct sim_pending *p = calloc(1, sizeof(*p));
    if (!p || lock_cmd_encode(&cmd, buf, sizeof(buf), &len) != 0) {
        free(p);
        sim_fail(s, "n%" PRIu64 ": a client's lock command does not encode", n->id);
        return;
    }
    p->req = *r;
    int rc = raft_propose(n->r, buf, len, &p->index, &p->term);
    if (rc != 0) {
        reply(s, n, &p->req, rc);
        free(p);
        return;
    }
    sim_plist_push(&n->svc.proposals, p);
    sim_node_process(s, n);
}
