/* The lock invariants: one holder, strictly rising fencing tokens, and the lease theorem. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/*
 * (a) One holder. Every node keeps, from the GRANTED and RELEASED events of its own
 *     applies, who holds each lock: a GRANTED while someone holds the lock, or a
 *     RELEASED by a lease that does not hold it, is a second holder; after each
 *     apply the view must agree with lock_inspect(). Across nodes, check.c compares
 *     the whole lock state at equal indexes. Among clients, one that comes to
 *     believe it holds a lock must find no other client that still believes so.
 * (b) Fencing tokens. A grant's token is the index of the entry that granted it,
 *     and per lock each grant (in apply order: the first application of each
 *     index, which the simulation reaches in index order) has a larger token than
 *     the one before, on every node too. Holds believed by clients rise the same
 *     way (a lease that re-acquires a lock it still holds gets the same token).
 * (c) The lease theorem. No expiry is applied before TTL has passed since the grant
 *     was first applied and since the last keepalive any leader accepted, nor before
 *     the instant its client counts the lease lost (send time of its last
 *     acknowledged keepalive + TTL); no leader accepts a keepalive for a lease whose
 *     expiry was applied. A leader of term T proposes no LEASE_EXPIRE before TTL has
 *     passed since the grant was first applied and since the last keepalive that a
 *     leader of a term up to T accepted. (A deposed leader may run out a lease that
 *     its successor keeps alive: that proposal can never commit, because the
 *     successor's clocks start only once its own no-op is committed, and every later
 *     leader holds that no-op, so the stale entry is either replaced or would follow
 *     an entry of a higher term. The applied check covers it.)
 */

static const char *const lock_names[SIM_LOCK_NAMES] = {"L0", "L1", "L2"};

const char *sim_lock_name(int i)
{
    return lock_names[i];
}

static int lock_index(const char *name)
{
    for (int i = 0; name && i < SIM_LOCK_NAMES; i++)
        if (strcmp(name, lock_names[i]) == 0)
            return i;
    return -1;
}

static struct sim_lease_rec *lease_find(struct sim_locks *lk, uint64_t id)
{
    size_t lo = 0, hi = lk->n_leases;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lk->leases[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < lk->n_leases && lk->leases[lo].id == id ? &lk->leases[lo] : NULL;
}

/* Leases are first applied in index order, so they arrive in ascending ids. */
static void lease_add(struct sim *s, uint64_t id, uint64_t ttl)
{
    struct sim_locks *lk = &s->lk;
    if (lk->n_leases && lk->leases[lk->n_leases - 1].id >= id) {
        sim_fail(s, "lease %" PRIu64 " first applied after lease %" PRIu64, id,
                 lk->leases[lk->n_leases - 1].id);
        return;
    }
    if (lk->n_leases == lk->cap_leases) {
        size_t cap = lk->cap_leases ? lk->cap_leases * 2 : 32;
        struct sim_lease_rec *v = realloc(lk->leases, cap * sizeof(*v));
        if (!v) {
            sim_fail(s, "out of memory in the checker");
            return;
        }
        lk->leases = v;
        lk->cap_leases = cap;
    }
    lk->leases[lk->n_leases++] = (struct sim_lease_rec){.id = id, .ttl_ms = ttl,
                                                         .applied_at = s->now};
}

static struct sim_lease_rec *lease_need(struct sim *s, uint64_t id, const char *what)
{
    struct sim_lease_rec *rec = lease_find(&s->lk, id);
    if (!rec)
        sim_fail(s, "%s names lease %" PRIu64 ", whose grant no node applied", what, id);
    return rec;
}

static int view_cb(const struct lock_info *info, void *arg)
{
    struct sim_service *v = arg;
    int k = lock_index(info->name);
    if (k >= 0) {
        v->holder[k] = info->holder;
        v->token[k] = info->token;
        v->last_token[k] = info->token;
    }
    return k >= 0 ? 0 : -1;
}

/* After a restart or an installed snapshot, the view starts from the state. */
void sim_lockcheck_view_reset(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    memset(v->holder, 0, sizeof(v->holder));
    memset(v->token, 0, sizeof(v->token));
    memset(v->last_token, 0, sizeof(v->last_token));
    if (v->locks && lock_walk(v->locks, view_cb, v) != 0)
        sim_fail(s, "n%" PRIu64 ": the lock state holds a lock no client ever named", n->id);
}

static void on_granted(struct sim *s, struct sim_node *n, const struct lock_event *ev,
                       uint64_t index, bool first)
{
    struct sim_service *v = &n->svc;
    int k = lock_index(ev->name);
    if (k < 0) {
        sim_fail(s, "n%" PRIu64 " grants unknown lock '%s'", n->id, ev->name);
        return;
    }
    if (v->holder[k]) {
        sim_fail(s, "one holder: n%" PRIu64 " grants %s to lease %" PRIu64 " at %" PRIu64
                 " while lease %" PRIu64 " holds it (token %" PRIu64 ")", n->id, ev->name,
                 ev->lease, index, v->holder[k], v->token[k]);
        return;
    }
    if (ev->token != index || ev->token <= v->last_token[k]) {
        sim_fail(s, "fencing tokens: n%" PRIu64 " grants %s at %" PRIu64 " with token %" PRIu64
                 " (the token before was %" PRIu64 ")", n->id, ev->name, index, ev->token,
                 v->last_token[k]);
        return;
    }
    v->holder[k] = ev->lease;
    v->token[k] = v->last_token[k] = ev->token;
    if (!first)
        return;
    if (ev->token <= s->lk.grant_token[k])
        sim_fail(s, "fencing tokens: %s granted with token %" PRIu64 " after a grant with %"
                 PRIu64, ev->name, ev->token, s->lk.grant_token[k]);
    s->lk.grant_token[k] = ev->token;
    s->lk.grants++;
}

static void on_released(struct sim *s, struct sim_node *n, const struct lock_event *ev)
{
    struct sim_service *v = &n->svc;
    int k = lock_index(ev->name);
    if (k < 0 || v->holder[k] != ev->lease || v->token[k] != ev->token) {
        sim_fail(s, "one holder: n%" PRIu64 " releases %s from lease %" PRIu64 " (token %" PRIu64
                 "), which did not hold it", n->id, ev->name, ev->lease, ev->token);
        return;
    }
    v->holder[k] = 0;
    v->token[k] = 0;
}

/* The lease theorem, where a node applies an expiry. */
static void on_expired(struct sim *s, struct sim_node *n, uint64_t lease, bool first)
{
    struct sim_lease_rec *rec = lease_need(s, lease, "an expiry");
    if (!rec)
        return;
    if (s->now < rec->applied_at + rec->ttl_ms ||
        (rec->ka_at && s->now < rec->ka_at + rec->ttl_ms))
        sim_fail(s, "lease safety: n%" PRIu64 " applies the expiry of lease %" PRIu64 " (TTL %"
                 PRIu64 ") at %" PRIu64 ", granted at %" PRIu64 ", last keepalive at a leader %"
                 PRIu64, n->id, lease, rec->ttl_ms, s->now, rec->applied_at, rec->ka_at);
    else if (rec->lost_at && s->now < rec->lost_at)
        sim_fail(s, "lease theorem: n%" PRIu64 " applies the expiry of lease %" PRIu64 " at %"
                 PRIu64 ", but its client counts it valid until %" PRIu64, n->id, lease, s->now,
                 rec->lost_at);
    if (first && !rec->expired_at) {
        rec->expired_at = s->now;
        s->lk.expiries++;
    }
}

/* A lock, as lock_inspect() tells it, must be what the events said. */
static void check_view(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    for (int k = 0; k < SIM_LOCK_NAMES && !s->failed; k++) {
        struct lock_info info;
        if (lock_inspect(v->locks, lock_names[k], &info, NULL, 0) != 0) {
            sim_fail(s, "lock_inspect(%s) failed", lock_names[k]);
            return;
        }
        if (info.holder != v->holder[k] || info.token != v->token[k])
            sim_fail(s, "one holder: n%" PRIu64 "'s lock state says %s is held by lease %" PRIu64
                     " (token %" PRIu64 "), its events say lease %" PRIu64 " (token %" PRIu64 ")",
                     n->id, lock_names[k], info.holder, info.token, v->holder[k], v->token[k]);
    }
}

void sim_lockcheck_events(struct sim *s, struct sim_node *n, uint64_t index, bool first)
{
    const struct lock_events *evs = &n->svc.ev;
    for (size_t i = 0; i < evs->n && !s->failed; i++) {
        const struct lock_event *ev = &evs->v[i];
        switch (ev->type) {
        case LOCK_EVENT_LEASE_GRANTED:
            if (first)
                lease_add(s, ev->lease, ev->ms);
            break;
        case LOCK_EVENT_LEASE_ENDED:
            if (ev->reason == LOCK_REASON_EXPIRED)
                on_expired(s, n, ev->lease, first);
            break;
        case LOCK_EVENT_GRANTED:
            on_granted(s, n, ev, index, first);
            break;
        case LOCK_EVENT_RELEASED:
            on_released(s, n, ev);
            break;
        default:
            break;
        }
    }
    if (evs->n && !s->failed)
        check_view(s, n);
}

/* Remembers that the leader of term accepted a keepalive now. */
static void ka_record(struct sim *s, struct sim_lease_rec *rec, uint64_t term)
{
    rec->ka_at = s->now;
    size_t i = rec->n_kas;
    while (i > 0 && rec->kas[i - 1].term > term)
        i--;
    if (i > 0 && rec->kas[i - 1].term == term) {
        rec->kas[i - 1].at = s->now;
        return;
    }
    struct sim_ka *v = realloc(rec->kas, (rec->n_kas + 1) * sizeof(*v));
    if (!v) {
        sim_fail(s, "out of memory in the checker");
        return;
    }
    memmove(v + i + 1, v + i, (rec->n_kas - i) * sizeof(*v));
    v[i] = (struct sim_ka){term, s->now};
    rec->kas = v;
    rec->n_kas++;
}

/* A leader accepted a keepalive: the lease may not expire before now + TTL. */
void sim_lockcheck_keepalive(struct sim *s, struct sim_node *n, uint64_t lease)
{
    struct sim_lease_rec *rec = lease_need(s, lease, "a keepalive");
    if (!rec)
        return;
    if (rec->expired_at)
        sim_fail(s, "lease safety: n%" PRIu64 " (term %" PRIu64 ") accepts a keepalive for lease %"
                 PRIu64 " at %" PRIu64 ", whose expiry was applied at %" PRIu64, n->id,
                 raft_term(n->r), lease, s->now, rec->expired_at);
    ka_record(s, rec, raft_term(n->r));
    s->lk.keepalives++;
}

void sim_lockcheck_expire_proposed(struct sim *s, struct sim_node *n, uint64_t lease)
{
    struct sim_lease_rec *rec = lease_need(s, lease, "a proposed expiry");
    if (!rec)
        return;
    uint64_t term = raft_term(n->r), ka = 0;
    for (size_t i = 0; i < rec->n_kas && rec->kas[i].term <= term; i++)
        if (rec->kas[i].at > ka)
            ka = rec->kas[i].at;
    if (s->now < rec->applied_at + rec->ttl_ms || (ka && s->now < ka + rec->ttl_ms))
        sim_fail(s, "lease safety: n%" PRIu64 " (term %" PRIu64 ") proposes the expiry of lease %"
                 PRIu64 " (TTL %" PRIu64 ") at %" PRIu64 ", granted at %" PRIu64
                 ", last keepalive at a leader of a term up to %" PRIu64 ": %" PRIu64, n->id,
                 term, lease, rec->ttl_ms, s->now, rec->applied_at, term, ka);
}

/* The client learned that its lease lives at least until lost_at. */
void sim_lockcheck_client_lease(struct sim *s, uint64_t lease, uint64_t lost_at)
{
    struct sim_lease_rec *rec = lease_need(s, lease, "a client");
    if (!rec)
        return;
    if (lost_at > rec->lost_at)
        rec->lost_at = lost_at;
    if (rec->expired_at && rec->expired_at < rec->lost_at)
        sim_fail(s, "lease theorem: the client of lease %" PRIu64 " counts it valid until %"
                 PRIu64 ", but its expiry was applied at %" PRIu64, lease, rec->lost_at,
                 rec->expired_at);
}

/* Client `client` now believes it holds lock `name` with token. */
void sim_lockcheck_hold(struct sim *s, unsigned client, int name, uint64_t lease,
                        uint64_t token)
{
    struct sim_locks *lk = &s->lk;
    for (unsigned i = 0; i < lk->n_clients; i++) {
        const struct sim_lock_client *o = &lk->c[i];
        if (i != client && o->holding && o->name == name && s->now < o->lost_at) {
            sim_fail(s, "mutual exclusion: client %u (lease %" PRIu64 ") gets %s with token %"
                     PRIu64 " while client %u (lease %" PRIu64 ", token %" PRIu64 ") holds it"
                     " until at least %" PRIu64, client, lease, lock_names[name], token, i,
                     o->lease, o->token, o->lost_at);
            return;
        }
    }
    if (token < lk->hold_token[name] || (token == lk->hold_token[name] && lease != lk->hold_lease[name]))
        sim_fail(s, "fencing tokens: client %u holds %s with token %" PRIu64 " after a hold with"
                 " token %" PRIu64, client, lock_names[name], token, lk->hold_token[name]);
    lk->hold_token[name] = token;
    lk->hold_lease[name] = lease;
    lk->holds++;
}

void sim_lockcheck_free(struct sim_locks *lk)
{
    for (size_t i = 0; i < lk->n_leases; i++)
        free(lk->leases[i].kas);
    free(lk->leases);
    memset(lk, 0, sizeof(*lk));
}
