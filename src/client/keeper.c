/* libbaton's lease keeper: keepalives every TTL/3, and "lost" at the last acknowledged send + TTL. */
#include <stdlib.h>

#include "client/internal.h"

static void keeper_closed_cb(uv_handle_t *h)
{
    struct baton_keeper *k = h->data;
    struct baton_async *core = k->core;
    if (--k->open_handles == 0) {
        free(k);
    }
    client_core_handle_closed(core);
}

void client_keeper_stop(struct baton_keeper *k)
{
    if (k->stopping) {
        return;
    }
    k->stopping = true;
    if (k->inflight != NULL) {
        client_req_cancel(k->inflight);
    }
    if (k->prev != NULL) {
        k->prev->next = k->next;
    } else {
        k->core->keepers = k->next;
    }
    if (k->next != NULL) {
        k->next->prev = k->prev;
    }
    uv_close((uv_handle_t *)&k->tick, keeper_closed_cb);
    uv_close((uv_handle_t *)&k->lost, keeper_closed_cb);
}

static void fire_lost(struct baton_keeper *k, int why)
{
    if (k->lost_fired || k->stopping) {
        return;
    }
    k->lost_fired = true;
    atomic_store(&k->deadline, 0);
    uv_timer_stop(&k->tick);
    uv_timer_stop(&k->lost);
    if (k->inflight != NULL) {
        client_req_cancel(k->inflight);
    }
    /* Last: the callback may stop k. */
    k->lost_cb(k, k->lease, why, k->arg);
}

static void lost_timer_cb(uv_timer_t *t)
{
    fire_lost(t->data, BATON_ETIMEDOUT);
}

/* Arms the lost timer at the deadline. The loop's cached clock is never ahead of
 * baton_now_ms(), so the timer can only fire early by it, never late. */
static void arm_lost(struct baton_keeper *k)
{
    int64_t left = atomic_load(&k->deadline) - client_now_ms();
    uv_timer_start(&k->lost, lost_timer_cb, left > 0 ? (uint64_t)left : 0, 0);
}

static void keep_done(int err, const struct baton_result *res, void *arg)
{
    struct baton_keeper *k = arg;
    k->inflight = NULL;
    if (k->stopping || k->lost_fired) {
        return;
    }
    if (err == 0) {
        /* res->lease.deadline_ms is the send time of the acknowledged attempt + TTL
         * (DESIGN "Leases and locks"): the leader restarted the lease's clock no
         * earlier than that send, so it cannot expire the lease before it. */
        int64_t d = res->lease.deadline_ms - (int64_t)k->core->opt.lease_margin_ms;
        if (d > atomic_load(&k->deadline)) {
            atomic_store(&k->deadline, d);
            arm_lost(k);
        }
    } else if (err == BATON_EEXPIRED || err == BATON_ENOTFOUND) {
        fire_lost(k, BATON_EEXPIRED);
    }
    /* Anything else (timeout, cancel) changes nothing: the lost timer decides. */
}

static void send_keepalive(struct baton_keeper *k)
{
    if (k->inflight != NULL || k->lost_fired || k->stopping) {
        return;
    }
    /* A keepalive is worth retrying for as long as the lease may still live. Sent
     * TTL/3 after the last acknowledged one, it has 2/3 of the TTL left: a hung
     * (paused, cut off) leader must be given up well within that, so that the
     * next node, or the new leader it names, can still answer in time. */
    int64_t left = atomic_load(&k->deadline) - client_now_ms();
    uint64_t attempt = k->ttl_ms / 4 ? k->ttl_ms / 4 : 1;
    if (attempt > k->core->opt.attempt_timeout_ms) {
        attempt = k->core->opt.attempt_timeout_ms;
    }
    int rv = client_keepalive_submit(k->core, k->lease, left > 0 ? (uint64_t)left : 1, attempt,
                                     keep_done, k, &k->inflight);
    if (rv != 0) {
        k->inflight = NULL; /* the next tick tries again */
    }
}

static void tick_cb(uv_timer_t *t)
{
    send_keepalive(t->data);
}

int baton_async_lease_keep(struct baton_async *c, const struct baton_lease *lease,
                           baton_lost_cb lost_cb, void *arg, struct baton_keeper **out)
{
    if (c == NULL || lease == NULL || lease->id == 0 || lease->ttl_ms == 0 ||
        lease->ttl_ms > INT64_MAX / 4 || lost_cb == NULL || out == NULL) {
        return BATON_EINVAL;
    }
    if (c->closing) {
        return BATON_ESHUTDOWN;
    }
    struct baton_keeper *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return BATON_ENOMEM;
    }
    k->core = c;
    k->lease = lease->id;
    k->ttl_ms = lease->ttl_ms;
    k->lost_cb = lost_cb;
    k->arg = arg;
    int64_t d = lease->deadline_ms - (int64_t)c->opt.lease_margin_ms;
    atomic_init(&k->deadline, d > 0 ? d : 1);
    uv_timer_init(c->loop, &k->tick);
    uv_timer_init(c->loop, &k->lost);
    k->tick.data = k;
    k->lost.data = k;
    k->open_handles = 2;
    c->handles += 2;
    k->next = c->keepers;
    if (c->keepers != NULL) {
        c->keepers->prev = k;
    }
    c->keepers = k;
    arm_lost(k);
    uint64_t period = k->ttl_ms / 3 ? k->ttl_ms / 3 : 1;
    uv_timer_start(&k->tick, tick_cb, period, period);
    send_keepalive(k);
    *out = k;
    return 0;
}

int64_t baton_keeper_deadline(const struct baton_keeper *k)
{
    return atomic_load(&((struct baton_keeper *)k)->deadline);
}

static void stop_on_loop(void *arg)
{
    client_keeper_stop(arg);
}

void baton_keeper_stop(struct baton_keeper *k)
{
    if (k == NULL) {
        return;
    }
    if (k->core->owner != NULL) {
        client_sync_run_on_loop(k->core->owner, stop_on_loop, k);
    } else {
        client_keeper_stop(k);
    }
}
