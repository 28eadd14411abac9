/* The lock/lease service's outputs: applied outcomes, woken waiters, reads, clocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/log.h"
#include "node/node.h"


static void respond_token(struct node *n, const struct node_pending *p, uint64_t token)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__LockAcquireResponse acq = BATON__LOCK_ACQUIRE_RESPONSE__INIT;
    acq.token = token;
    acq.lease = p->lease;
    resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LOCK_ACQUIRE;
    resp.lock_acquire = &acq;
    node_service_reply(n, p, &resp);
}

static const char *outcome_message(int code)
{
    switch (code) {
    case BATON_EEXPIRED:
        return "lease expired or unknown";
    case BATON_ELOCKED:
        return "lock is held by another lease";
    case BATON_ENOTFOUND:
        return "this lease neither holds nor waits for the lock";
    default:
        return NULL;
    }
}

/* Answers the client whose request became this entry; true if it keeps waiting. */
static bool answer(struct node *n, struct node_pending *p, const struct lock_result *res)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__LeaseGrantResponse grant = BATON__LEASE_GRANT_RESPONSE__INIT;
    Baton__LeaseRevokeResponse revoke = BATON__LEASE_REVOKE_RESPONSE__INIT;
    Baton__LockReleaseResponse release = BATON__LOCK_RELEASE_RESPONSE__INIT;
    if (res->code != 0) {
        node_service_reply_err(n, p, res->code, outcome_message(res->code));
        return false;
    }
    switch (p->op) {
    case BATON__CLIENT_REQUEST__OP_LEASE_GRANT:
        grant.lease = res->lease;
        grant.ttl_ms = res->ttl_ms;
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LEASE_GRANT;
        resp.lease_grant = &grant;
        break;
    case BATON__CLIENT_REQUEST__OP_LEASE_REVOKE:
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LEASE_REVOKE;
        resp.lease_revoke = &revoke;
        break;
    case BATON__CLIENT_REQUEST__OP_LOCK_ACQUIRE:
        if (res->queued) {
            return true; /* answered by a GRANTED or WAIT_ENDED event */
        }
        respond_token(n, p, res->token);
        return false;
    default:
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LOCK_RELEASE;
        resp.lock_release = &release;
        break;
    }
    node_service_reply(n, p, &resp);
    return false;
}

static void answer_proposals(struct node *n, const struct raft_entry *e)
{
    struct node_service *s = &n->service;
    while (s->proposals.head != NULL && s->proposals.head->index <= e->index) {
        struct node_pending *p = s->proposals.head;
        s->proposals.head = p->next;
        if (s->proposals.head == NULL) {
            s->proposals.tail = NULL;
        }
        bool ours = p->index == e->index && p->term == e->term && n->sm.has_result;
        if (!ours) {
            /* Another leader's entry took that index: ours is gone for good. */
            node_service_reply_err(n, p, BATON_EUNAVAILABLE, "request lost in a leader change; retry");
        } else if (answer(n, p, &n->sm.result)) {
            p->next = NULL;
            if (s->waits.tail != NULL) {
                s->waits.tail->next = p;
            } else {
                s->waits.head = p;
            }
            s->waits.tail = p;
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

/* Wakes the queued acquires an event concerns (each exactly once). */
static void wake(struct node *n, const struct lock_event *ev)
{
    struct node_service *s = &n->service;
    struct node_pending **pp = &s->waits.head, *prev = NULL;
    while (*pp != NULL) {
        struct node_pending *p = *pp;
        if (p->lease != ev->lease || strcmp(p->name, ev->name) != 0) {
            prev = p;
            pp = &p->next;
            continue;
        }
        if (ev->type == LOCK_EVENT_GRANTED) {
            respond_token(n, p, ev->token);
        } else {
            node_service_reply_err(n, p, wait_end_error(ev->reason),
                        ev->reason == LOCK_REASON_WAIT_END ? "not acquired within the wait"
                                                           : NULL);
        }
        *pp = p->next;
        if (s->waits.tail == p) {
            s->waits.tail = prev;
        }
        free(p);
    }
}

static void serve_read(struct node *n, struct node_pending *p)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__LockInspectResponse ins = BATON__LOCK_INSPECT_RESPONSE__INIT;
    Baton__LockCheckResponse chk = BATON__LOCK_CHECK_RESPONSE__INIT;
    if (p->op == BATON__CLIENT_REQUEST__OP_LEASE_LIST) {
        node_service_lease_list(n, p);
        return;
    }
    if (p->op == BATON__CLIENT_REQUEST__OP_CLUSTER_MEMBERS) {
        node_service_members(n, p);
        return;
    }
    if (p->op == BATON__CLIENT_REQUEST__OP_LOCK_CHECK) {
        chk.current = lock_check(n->sm.locks, p->name, p->token);
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LOCK_CHECK;
        resp.lock_check = &chk;
        node_service_reply(n, p, &resp);
        return;
    }
    struct lock_info info;
    if (lock_inspect(n->sm.locks, p->name, &info, NULL, 0) != 0) {
        node_service_reply_err(n, p, BATON_EINVAL, NULL);
        return;
    }
    struct lock_waiter *w = calloc(info.n_waiters + 1, sizeof(*w));
    uint64_t *ids = calloc(info.n_waiters + 1, sizeof(*ids));
    if (w != NULL && ids != NULL &&
        lock_inspect(n->sm.locks, p->name, &info, w, info.n_waiters) == 0) {
        for (size_t i = 0; i < info.n_waiters; i++) {
            ids[i] = w[i].lease;
        }
        ins.held = info.holder != 0;
        ins.lease = info.holder;
        ins.token = info.token;
        ins.n_waiters = info.n_waiters;
        ins.waiters = ids;
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LOCK_INSPECT;
        resp.lock_inspect = &ins;
        node_service_reply(n, p, &resp);
    } else {
        node_service_reply_err(n, p, BATON_ENOMEM, NULL);
    }
    free(w);
    free(ids);
}

/* Reads confirmed by a quorum are served, in order, once applied catches up. */
static void serve_reads(struct node *n)
{
    struct node_service *s = &n->service;
    while (s->reads.head != NULL && s->reads.head->ready &&
           s->reads.head->index <= n->sm.applied) {
        struct node_pending *p = s->reads.head;
        s->reads.head = p->next;
        if (s->reads.head == NULL) {
            s->reads.tail = NULL;
        }
        serve_read(n, p);
        free(p);
    }
}

static void maybe_start_clocks(struct node *n)
{
    struct node_service *s = &n->service;
    if (raft_role(n->raft) != RAFT_LEADER || s->clocks_running || n->sm.applied < s->lead_index) {
        return;
    }
    /* Now our state includes everything our predecessors committed: restart
     * every lease at TTL + one election timeout (extended by failover, never
     * cut short), every wait and delay at its full length. */
    if (lock_clock_start(&s->clock, n->sm.locks, uv_now(n->loop), n->cfg.election_ms) != 0) {
        node_log(NODE_LOG_ERROR, "out of memory starting the lease clocks");
        node_stop(n, 1);
        return;
    }
    s->clocks_running = true;
    node_log(NODE_LOG_INFO, "lease clocks running (%zu leases)", lease_count(n->sm.locks));
}

void node_service_applied(struct node *n, const struct raft_entry *e)
{
    struct node_service *s = &n->service;
    if (s->clocks_running) {
        for (size_t i = 0; i < n->sm.events.n; i++) {
            if (lock_clock_event(&s->clock, &n->sm.events.v[i], uv_now(n->loop)) != 0) {
                node_log(NODE_LOG_ERROR, "out of memory in the lease clocks");
                node_stop(n, 1);
                return;
            }
        }
    }
    answer_proposals(n, e);
    for (size_t i = 0; i < n->sm.events.n; i++) {
        int type = n->sm.events.v[i].type;
        if (type == LOCK_EVENT_GRANTED || type == LOCK_EVENT_WAIT_ENDED) {
            wake(n, &n->sm.events.v[i]);
        }
    }
    maybe_start_clocks(n);
    serve_reads(n);
}

void node_service_reads(struct node *n, const struct raft_read *reads, size_t count)
{
    struct node_service *s = &n->service;
    for (size_t i = 0; i < count; i++) {
        struct node_pending **pp = &s->reads.head, *prev = NULL;
        while (*pp != NULL && (*pp)->ctx != reads[i].ctx) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        struct node_pending *p = *pp;
        if (p == NULL) {
            continue;
        }
        if (reads[i].ok) {
            p->ready = true;
            p->index = reads[i].index;
            continue;
        }
        node_service_reply_err(n, p, BATON_ENOTLEADER, NULL);
        *pp = p->next;
        if (s->reads.tail == p) {
            s->reads.tail = prev;
        }
        free(p);
    }
    serve_reads(n);
}

void node_service_tick(struct node *n)
{
    struct node_service *s = &n->service;
    if (!s->clocks_running) {
        return;
    }
    struct lock_cmd cmds[64];
    size_t count = lock_clock_due(&s->clock, uv_now(n->loop), cmds, 64);
    for (size_t i = 0; i < count; i++) {
        uint8_t buf[LOCK_CMD_MAX];
        size_t len;
        uint64_t index, term;
        if (lock_cmd_encode(&cmds[i], buf, sizeof(buf), &len) != 0 ||
            raft_propose(n->raft, buf, len, &index, &term) != 0) {
            continue; /* proposed again after the retry period */
        }
        if (cmds[i].type == LOCK_CMD_LEASE_EXPIRE) {
            node_log(NODE_LOG_INFO, "lease %llu ran out; proposing its expiry",
                     (unsigned long long)cmds[i].lease);
        }
    }
}

void node_service_role(struct node *n, int role)
{
    struct node_service *s = &n->service;
    if (role == RAFT_LEADER) {
        s->lead_index = raft_last_index(n->raft);
        s->clocks_running = false;
        maybe_start_clocks(n);
        return;
    }
    lock_clock_clear(&s->clock);
    s->clocks_running = false;
    /* Queued acquires go to the new leader: a retried wait keeps its place. */
    struct node_pending *p;
    while ((p = s->waits.head) != NULL) {
        s->waits.head = p->next;
        node_service_reply_err(n, p, BATON_ENOTLEADER, NULL);
        free(p);
    }
    s->waits.tail = NULL;
}
