/* The lock clients: grant a lease, keep it alive, acquire, hold and release locks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/*
 * Each client behaves like a libbaton keeper. It sends every request to the node
 * it believes leads (first a random one; then the leader an ENOTLEADER answer
 * names; a random one after a timeout). Its lease (TTL from the seed, at least two
 * election timeouts) is kept alive every TTL/3; a keepalive that is not answered
 * within TTL/4 goes to another node. The lease counts as lost at the send time of
 * the last acknowledged keepalive (or of the grant) + TTL. With the lease it
 * acquires a random lock, as a try-lock or a queued wait, holds it for a while and
 * releases it; now and then it revokes the lease, or stops its keepalives and lets
 * the lease lapse, holding a lock or not. Messages travel as net.c's client
 * messages: a random delay, loss during the fault phase.
 */

#define MAX_TRIES 8

static const char *const state_names[] = {"idle", "granting", "ready", "acquiring",
                                          "holding", "releasing", "revoking", "lapsing"};

static const char *const op_names[] = {"?", "grant", "keepalive", "revoke", "acquire",
                                       "release"};

static void set_timer(struct sim *s, unsigned ci, int kind, uint64_t at)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    c->gen[kind]++;
    struct sim_event ev = {.at = at, .type = SIM_EV_CLIENT, .node = ci,
                           .incarnation = c->gen[kind], .sub = kind};
    if (sim_queue_push(&s->q, ev) != 0)
        sim_fail(s, "out of memory scheduling an event");
}

static void cancel_timer(struct sim *s, unsigned ci, int kind)
{
    s->lk.c[ci].gen[kind]++;
}

/* A node a client might try: any that is not gone for good. */
static uint64_t any_node(struct sim *s)
{
    uint64_t ids[SIM_MAX_IDS];
    size_t n = sim_ids_in_state(s, SIM_NODE_UP, ids);
    n += sim_ids_in_state(s, SIM_NODE_DOWN, ids + n);
    return n ? ids[sim_rng_range(&s->rng, 0, n - 1)] : 1;
}

static uint64_t soon(struct sim *s)
{
    return s->now + sim_rng_range(&s->rng, 1, s->p.raft.election_ms);
}

static uint64_t attempt_ms(struct sim *s)
{
    return 2 * (uint64_t)s->p.raft.election_ms;
}

static void trace(struct sim *s, unsigned ci, const char *what)
{
    const struct sim_lock_client *c = &s->lk.c[ci];
    sim_trace(s, "client %u (%s, lease %" PRIu64 "): %s", ci, state_names[c->state], c->lease,
              what);
}

/* Sends (or resends) the operation in c->op to c->guess; its answer must carry
 * this id, and the ACT timer is its timeout. */
static void send_op(struct sim *s, unsigned ci, uint64_t timeout)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    c->op.id = ++c->next_id;
    c->op.client = ci;
    c->op.node = c->guess;
    c->op.sent_at = s->now;
    c->op.code = 0;
    sim_net_request(s, &c->op);
    set_timer(s, ci, SIM_LC_ACT, s->now + timeout);
}

static void begin_op(struct sim *s, unsigned ci, int state, int op)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    c->resend = false;
    memset(&c->op, 0, sizeof(c->op));
    c->op.op = op;
    c->op.lease = c->lease;
    c->op.name = c->name;
    c->op.ttl_ms = c->ttl_ms;
    c->state = state;
    c->tries = 0;
}

static void start_op(struct sim *s, unsigned ci, int state, int op, uint64_t timeout)
{
    begin_op(s, ci, state, op);
    send_op(s, ci, timeout);
}

static void send_keepalive(struct sim *s, unsigned ci)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    struct sim_req r = {.op = SIM_OP_KEEPALIVE, .client = ci, .id = ++c->next_id,
                        .sent_at = s->now, .node = c->guess, .lease = c->lease};
    c->ka_id = r.id;
    sim_net_request(s, &r);
    set_timer(s, ci, SIM_LC_KEEPALIVE, s->now + c->ttl_ms / 4);
}

/* The client gives the lease up: whatever it held, it no longer believes it holds. */
static void forget_lease(struct sim *s, unsigned ci, const char *why)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    trace(s, ci, why);
    c->lease = 0;
    c->holding = false;
    c->ka_id = 0;
    c->op.id = 0;
    c->resend = false;
    c->state = SIM_LC_IDLE;
    cancel_timer(s, ci, SIM_LC_KEEPALIVE);
    cancel_timer(s, ci, SIM_LC_LOST);
    set_timer(s, ci, SIM_LC_ACT, soon(s));
}

/* An acknowledgement for a keepalive (or grant) sent at sent_at. */
static void extend(struct sim *s, unsigned ci, uint64_t sent_at)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    if (sent_at + c->ttl_ms <= c->lost_at)
        return;
    c->lost_at = sent_at + c->ttl_ms;
    sim_lockcheck_client_lease(s, c->lease, c->lost_at);
    set_timer(s, ci, SIM_LC_LOST, c->lost_at);
}

static void ready(struct sim *s, unsigned ci)
{
    s->lk.c[ci].state = SIM_LC_READY;
    set_timer(s, ci, SIM_LC_ACT, soon(s));
}

static void lapse(struct sim *s, unsigned ci)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    c->state = SIM_LC_LAPSING;
    c->ka_id = 0;
    c->resend = false;
    cancel_timer(s, ci, SIM_LC_KEEPALIVE);
    cancel_timer(s, ci, SIM_LC_ACT);
    s->lk.lapses++;
    trace(s, ci, "stops its keepalives");
}

/* The next operation with a lease: a lock, or the lease's end. */
static void next_op(struct sim *s, unsigned ci)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    if (c->ops_left == 0) {
        if (sim_rng_pm(&s->rng, 500)) {
            s->lk.revokes++;
            start_op(s, ci, SIM_LC_REVOKING, SIM_OP_REVOKE, attempt_ms(s));
        } else {
            lapse(s, ci);
        }
        return;
    }
    c->ops_left--;
    c->name = (int)sim_rng_range(&s->rng, 0, s->lk.n_names - 1);
    uint64_t wait = sim_rng_pm(&s->rng, 400) ? 0 : sim_rng_range(&s->rng, 1, 2 * c->ttl_ms);
    uint64_t delay = sim_rng_pm(&s->rng, 200) ? sim_rng_range(&s->rng, 1, 200) : 0;
    begin_op(s, ci, SIM_LC_ACQUIRING, SIM_OP_ACQUIRE);
    c->op.wait_ms = wait;
    c->op.lock_delay_ms = delay;
    send_op(s, ci, wait + attempt_ms(s));
}

static void end_hold(struct sim *s, unsigned ci)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    unsigned x = (unsigned)sim_rng_range(&s->rng, 0, 99);
    if (x < 5) {
        lapse(s, ci); /* keeps believing it holds the lock until the lease is lost */
        return;
    }
    c->holding = false; /* from the moment the release or revoke is sent */
    if (x < 15) {
        s->lk.revokes++;
        start_op(s, ci, SIM_LC_REVOKING, SIM_OP_REVOKE, attempt_ms(s));
    } else {
        start_op(s, ci, SIM_LC_RELEASING, SIM_OP_RELEASE, attempt_ms(s));
    }
}

static void on_act(struct sim *s, unsigned ci)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    if (c->resend) {
        /* A retried wait keeps its place in the queue (lock.h). */
        c->resend = false;
        send_op(s, ci, attempt_ms(s) + (c->state == SIM_LC_ACQUIRING ? c->op.wait_ms : 0));
        return;
    }
    switch (c->state) {
    case SIM_LC_IDLE:
        c->guess = c->guess ? c->guess : any_node(s);
        start_op(s, ci, SIM_LC_GRANTING, SIM_OP_GRANT, attempt_ms(s));
        break;
    case SIM_LC_READY:
        next_op(s, ci);
        break;
    case SIM_LC_HOLDING:
        end_hold(s, ci);
        break;
    case SIM_LC_ACQUIRING:
        /* No answer in time: leave the queue (or release a grant we never heard of). */
        c->guess = any_node(s);
        start_op(s, ci, SIM_LC_RELEASING, SIM_OP_RELEASE, attempt_ms(s));
        break;
    case SIM_LC_GRANTING:
        c->guess = any_node(s);
        c->state = SIM_LC_IDLE;
        set_timer(s, ci, SIM_LC_ACT, soon(s));
        break;
    case SIM_LC_RELEASING:
        c->guess = any_node(s);
        ready(s, ci);
        break;
    case SIM_LC_REVOKING:
        c->guess = any_node(s);
        forget_lease(s, ci, "gives up revoking");
        break;
    default:
        break;
    }
}

void sim_lockclient_on_timer(struct sim *s, const struct sim_event *ev)
{
    unsigned ci = (unsigned)ev->node;
    struct sim_lock_client *c = &s->lk.c[ci];
    if (ci >= s->lk.n_clients || c->gen[ev->sub] != ev->incarnation)
        return;
    switch (ev->sub) {
    case SIM_LC_ACT:
        on_act(s, ci);
        break;
    case SIM_LC_KEEPALIVE:
        if (!c->lease || c->state == SIM_LC_LAPSING)
            break;
        if (c->ka_id)
            c->guess = any_node(s); /* the last one went unanswered */
        send_keepalive(s, ci);
        break;
    default:
        if (c->lease && s->now >= c->lost_at)
            forget_lease(s, ci, "counts its lease lost");
        break;
    }
}

static void on_keepalive(struct sim *s, unsigned ci, const struct sim_req *r)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    if (r->lease != c->lease || !c->lease)
        return;
    if (r->code == 0) {
        extend(s, ci, r->sent_at);
        if (r->id == c->ka_id && c->state != SIM_LC_LAPSING) {
            c->ka_id = 0;
            uint64_t next = r->sent_at + c->ttl_ms / 3;
            set_timer(s, ci, SIM_LC_KEEPALIVE, next > s->now ? next : s->now);
        }
        return;
    }
    if (r->code == BATON_EEXPIRED) {
        forget_lease(s, ci, "hears its lease expired");
        return;
    }
    if (r->id != c->ka_id || c->state == SIM_LC_LAPSING)
        return;
    /* Not the leader, or a leader that cannot vouch for its leadership: try again. */
    c->guess = r->leader ? r->leader : any_node(s);
    c->ka_id = 0;
    uint64_t gap = r->code == BATON_ENOTLEADER && r->leader ? 1 : s->p.raft.heartbeat_ms;
    set_timer(s, ci, SIM_LC_KEEPALIVE, s->now + gap);
}

/* Not the leader, lost in a leader change, or a transfer in progress: try again,
 * at once where the answer names another leader, after a pause otherwise. */
static bool retry(struct sim *s, unsigned ci, const struct sim_req *r)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    if (r->code != BATON_ENOTLEADER && r->code != BATON_EUNAVAILABLE && r->code != BATON_EBUSY)
        return false;
    bool named = r->leader && r->leader != r->node;
    c->guess = named ? r->leader : r->code == BATON_ENOTLEADER ? any_node(s) : r->node;
    if (++c->tries > MAX_TRIES)
        return false;
    c->op.id = 0; /* nothing in flight until the resend */
    c->resend = true;
    set_timer(s, ci, SIM_LC_ACT,
              named ? s->now : s->now + sim_rng_range(&s->rng, 1, s->p.raft.election_ms / 2));
    return true;
}

static void on_granted(struct sim *s, unsigned ci, const struct sim_req *r)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    c->lease = r->lease;
    c->lost_at = 0;
    c->ops_left = (unsigned)sim_rng_range(&s->rng, 1, 10);
    extend(s, ci, r->sent_at);
    trace(s, ci, "has its lease");
    if (s->now >= c->lost_at) {
        forget_lease(s, ci, "got its lease too late");
        return;
    }
    uint64_t next = r->sent_at + c->ttl_ms / 3;
    set_timer(s, ci, SIM_LC_KEEPALIVE, next > s->now ? next : s->now);
    ready(s, ci);
}

static void on_token(struct sim *s, unsigned ci, const struct sim_req *r)
{
    struct sim_lock_client *c = &s->lk.c[ci];
    if (s->now >= c->lost_at) {
        forget_lease(s, ci, "got a token after its lease was lost");
        return;
    }
    c->holding = true;
    c->token = r->token;
    c->state = SIM_LC_HOLDING;
    if (s->verbose) {
        char what[64];
        snprintf(what, sizeof(what), "holds %s with token %" PRIu64, sim_lock_name(c->name),
                 c->token);
        trace(s, ci, what);
    }
    sim_lockcheck_hold(s, ci, c->name, c->lease, c->token);
    set_timer(s, ci, SIM_LC_ACT, s->now + sim_rng_range(&s->rng, 1, c->ttl_ms));
}

void sim_lockclient_on_answer(struct sim *s, const struct sim_req *r)
{
    unsigned ci = r->client;
    if (ci >= s->lk.n_clients)
        return;
    struct sim_lock_client *c = &s->lk.c[ci];
    if (s->verbose) {
        char what[96];
        snprintf(what, sizeof(what), "answer to %s #%" PRIu64 " sent at %" PRIu64 " from n%"
                 PRIu64 ": %s", op_names[r->op], r->id, r->sent_at, r->node,
                 r->code ? baton_strerror(r->code) : "ok");
        trace(s, ci, what);
    }
    if (r->op == SIM_OP_KEEPALIVE) {
        on_keepalive(s, ci, r);
        return;
    }
    if (r->id != c->op.id || retry(s, ci, r))
        return;
    c->op.id = 0;
    if (r->code == BATON_EEXPIRED && c->state != SIM_LC_GRANTING) {
        forget_lease(s, ci, "hears its lease expired");
        return;
    }
    switch (c->state) {
    case SIM_LC_GRANTING:
        if (r->code == 0) {
            on_granted(s, ci, r);
        } else {
            c->state = SIM_LC_IDLE;
            set_timer(s, ci, SIM_LC_ACT, soon(s));
        }
        break;
    case SIM_LC_ACQUIRING:
        if (r->code == 0)
            on_token(s, ci, r);
        else if (r->code == BATON_ELOCKED || r->code == BATON_ECANCELED)
            ready(s, ci);
        else
            start_op(s, ci, SIM_LC_RELEASING, SIM_OP_RELEASE, attempt_ms(s));
        break;
    case SIM_LC_RELEASING:
        ready(s, ci);
        break;
    case SIM_LC_REVOKING:
        forget_lease(s, ci, r->code == 0 ? "revoked its lease" : "could not revoke its lease");
        break;
    default:
        break;
    }
}

void sim_lockclient_setup(struct sim *s)
{
    struct sim_locks *lk = &s->lk;
    uint64_t e = s->p.raft.election_ms;
    lk->n_clients = (unsigned)sim_rng_range(&s->rng, 1, SIM_LOCK_CLIENTS_MAX);
    lk->n_names = (unsigned)sim_rng_range(&s->rng, 1, SIM_LOCK_NAMES);
    for (unsigned ci = 0; ci < lk->n_clients; ci++) {
        struct sim_lock_client *c = &lk->c[ci];
        memset(c, 0, sizeof(*c));
        c->ttl_ms = sim_rng_range(&s->rng, 2 * e, 4 * e);
        c->guess = any_node(s);
        set_timer(s, ci, SIM_LC_ACT, sim_rng_range(&s->rng, 1, 500));
    }
}
