/* libbaton's blocking calls: each fills a sync_call, runs it on the client's loop, and copies out. */
#include <stdlib.h>
#include <string.h>

#include "client/sync.h"

static void call_init(struct sync_call *call, enum sync_op op, uint64_t timeout_ms)
{
    memset(call, 0, sizeof(*call));
    call->op = op;
    call->timeout_ms = timeout_ms;
}

int baton_lease_grant(struct baton *c, uint64_t ttl_ms, uint64_t timeout_ms,
                      struct baton_lease *lease)
{
    struct sync_call call;
    call_init(&call, SYNC_GRANT, timeout_ms);
    call.a = ttl_ms;
    int rv = sync_call_run(c, &call);
    if (rv == 0 && lease != NULL) {
        *lease = call.res.lease;
    }
    return rv;
}

int baton_lease_keepalive(struct baton *c, uint64_t lease, uint64_t timeout_ms,
                          struct baton_lease *out)
{
    struct sync_call call;
    call_init(&call, SYNC_KEEPALIVE, timeout_ms);
    call.a = lease;
    int rv = sync_call_run(c, &call);
    if (rv == 0 && out != NULL) {
        *out = call.res.lease;
    }
    return rv;
}

int baton_lease_revoke(struct baton *c, uint64_t lease, uint64_t timeout_ms)
{
    struct sync_call call;
    call_init(&call, SYNC_REVOKE, timeout_ms);
    call.a = lease;
    return sync_call_run(c, &call);
}

int baton_lock_acquire(struct baton *c, const char *name, uint64_t lease, uint64_t wait_ms,
                       uint64_t lock_delay_ms, uint64_t timeout_ms, uint64_t *token)
{
    struct sync_call call;
    call_init(&call, SYNC_ACQUIRE, timeout_ms);
    call.name = name;
    call.a = lease;
    call.b = wait_ms;
    call.c = lock_delay_ms;
    int rv = sync_call_run(c, &call);
    if (rv == 0 && token != NULL) {
        *token = call.res.token;
    }
    return rv;
}

int baton_lock_release(struct baton *c, const char *name, uint64_t lease, uint64_t timeout_ms)
{
    struct sync_call call;
    call_init(&call, SYNC_RELEASE, timeout_ms);
    call.name = name;
    call.a = lease;
    return sync_call_run(c, &call);
}

int baton_lock_inspect(struct baton *c, const char *name, uint64_t timeout_ms,
                       struct baton_lock_info *info)
{
    if (info == NULL) {
        return BATON_EINVAL;
    }
    struct sync_call call;
    call_init(&call, SYNC_INSPECT, timeout_ms);
    call.name = name;
    int rv = sync_call_run(c, &call);
    if (rv == 0) {
        *info = call.res.lock; /* waiters: malloc'd by the loop thread, now the caller's */
    } else {
        free(call.res.lock.waiters);
    }
    return rv;
}

void baton_lock_info_clear(struct baton_lock_info *info)
{
    if (info != NULL) {
        free(info->waiters);
        memset(info, 0, sizeof(*info));
    }
}

int baton_lock_check(struct baton *c, const char *name, uint64_t token, uint64_t timeout_ms,
                     bool *current)
{
    struct sync_call call;
    call_init(&call, SYNC_CHECK, timeout_ms);
    call.name = name;
    call.a = token;
    int rv = sync_call_run(c, &call);
    if (rv == 0 && current != NULL) {
        *current = call.res.current;
    }
    return rv;
}

int baton_status_get(struct baton *c, uint64_t timeout_ms, struct baton_status *st)
{
    struct sync_call call;
    call_init(&call, SYNC_STATUS, timeout_ms);
    int rv = sync_call_run(c, &call);
    if (rv == 0 && st != NULL) {
        *st = call.res.status;
    }
    return rv;
}

int baton_counter_incr(struct baton *c, const char *name, uint64_t n, uint64_t timeout_ms,
                       uint64_t *value)
{
    struct sync_call call;
    call_init(&call, SYNC_COUNTER_INCR, timeout_ms);
    call.name = name;
    call.a = n;
    int rv = sync_call_run(c, &call);
    if (rv == 0 && value != NULL) {
        *value = call.res.counter.value;
    }
    return rv;
}

int baton_counter_get(struct baton *c, const char *name, uint64_t timeout_ms,
                      struct baton_counter *out)
{
    struct sync_call call;
    call_init(&call, SYNC_COUNTER_GET, timeout_ms);
    call.name = name;
    int rv = sync_call_run(c, &call);
    if (rv == 0 && out != NULL) {
        *out = call.res.counter;
    }
    return rv;
}

/* Frees what call_cb copied for a call that failed. */
static void call_free_arrays(struct sync_call *call)
{
    free(call->res.lock.waiters);
    baton_lease_list_free(call->res.leases);
    baton_cluster_members_free(call->res.members);
}

int baton_lease_list(struct baton *c, uint64_t timeout_ms, struct baton_lease_entry **leases,
                     size_t *n)
{
    if (leases == NULL || n == NULL) {
        return BATON_EINVAL;
    }
    struct sync_call call;
    call_init(&call, SYNC_LEASE_LIST, timeout_ms);
    int rv = sync_call_run(c, &call);
    if (rv != 0) {
        call_free_arrays(&call);
        return rv;
    }
    *leases = call.res.leases; /* one block copied on the loop thread, now the caller's */
    *n = call.res.n_leases;
    return 0;
}

int baton_cluster_members(struct baton *c, uint64_t timeout_ms, struct baton_member **members,
                          size_t *n)
{
    if (members == NULL || n == NULL) {
        return BATON_EINVAL;
    }
    struct sync_call call;
    call_init(&call, SYNC_MEMBERS, timeout_ms);
    int rv = sync_call_run(c, &call);
    if (rv != 0) {
        call_free_arrays(&call);
        return rv;
    }
    *members = call.res.members;
    *n = call.res.n_members;
    return 0;
}

static int member_change(struct baton *c, struct sync_call *call, struct baton_member_change *out)
{
    int rv = sync_call_run(c, call);
    if (rv == 0 && out != NULL) {
        *out = call->res.change;
    }
    call_free_arrays(call); /* the configuration: baton_cluster_members has it */
    return rv;
}

int baton_member_add(struct baton *c, uint64_t id, const char *peer_addr,
                     const char *client_addr, uint64_t timeout_ms,
                     struct baton_member_change *out)
{
    struct sync_call call;
    call_init(&call, SYNC_MEMBER_ADD, timeout_ms);
    call.a = id;
    call.name = peer_addr;
    call.name2 = client_addr;
    return member_change(c, &call, out);
}

int baton_member_remove(struct baton *c, uint64_t id, uint64_t timeout_ms,
                        struct baton_member_change *out)
{
    struct sync_call call;
    call_init(&call, SYNC_MEMBER_REMOVE, timeout_ms);
    call.a = id;
    return member_change(c, &call, out);
}

int baton_leader_transfer(struct baton *c, uint64_t id, uint64_t timeout_ms,
                          struct baton_transfer *out)
{
    struct sync_call call;
    call_init(&call, SYNC_TRANSFER, timeout_ms);
    call.a = id;
    int rv = sync_call_run(c, &call);
    if (rv == 0 && out != NULL) {
        *out = call.res.transfer;
    }
    call_free_arrays(&call);
    return rv;
}

int baton_lease_keep(struct baton *c, const struct baton_lease *lease, baton_lost_cb lost_cb,
                     void *arg, struct baton_keeper **out)
{
    if (out == NULL) {
        return BATON_EINVAL;
    }
    struct sync_call call;
    call_init(&call, SYNC_KEEP, 0);
    call.lease = lease;
    call.lost_cb = lost_cb;
    call.lost_arg = arg;
    int rv = sync_call_run(c, &call);
    if (rv == 0) {
        *out = call.keeper;
    }
    return rv;
}

int baton_lock_hold_acquire(struct baton *c, const char *name, uint64_t ttl_ms,
                            uint64_t wait_ms, uint64_t timeout_ms, baton_lost_cb lost_cb,
                            void *arg, struct baton_lock_hold *hold)
{
    if (hold == NULL || lost_cb == NULL || name == NULL || name[0] == '\0') {
        return BATON_EINVAL;
    }
    memset(hold, 0, sizeof(*hold));
    struct baton_lease lease;
    struct baton_keeper *keeper;
    uint64_t token;
    int rv = baton_lease_grant(c, ttl_ms, timeout_ms, &lease);
    if (rv != 0) {
        return rv;
    }
    /* Keep the lease alive while we queue: a long wait must not outlive it. */
    rv = baton_lease_keep(c, &lease, lost_cb, arg, &keeper);
    if (rv != 0) {
        goto revoke;
    }
    rv = baton_lock_acquire(c, name, lease.id, wait_ms, 0, timeout_ms, &token);
    if (rv != 0) {
        goto stop_keeper;
    }
    hold->lease = lease;
    hold->token = token;
    hold->keeper = keeper;
    return 0;

stop_keeper:
    baton_keeper_stop(keeper);
revoke:
    if (baton_lease_revoke(c, lease.id, timeout_ms) != 0) {
        /* Best effort: an unrevoked lease expires after its TTL and frees all. */
    }
    return rv;
}

/* The lease no longer holds the lock: what release and revoke wanted anyway. A
 * release retried after its first attempt took effect (outcome lost in a leader
 * change) finds the lock free (ENOTFOUND) or already handed on (ELOCKED). */
static bool gone(int rv)
{
    return rv == BATON_EEXPIRED || rv == BATON_ENOTFOUND || rv == BATON_ELOCKED;
}

int baton_lock_hold_release(struct baton *c, const char *name, struct baton_lock_hold *hold,
                            uint64_t timeout_ms)
{
    if (hold == NULL) {
        return BATON_EINVAL;
    }
    if (hold->keeper != NULL) {
        baton_keeper_stop(hold->keeper);
    }
    int rv = 0;
    if (name != NULL && name[0] != '\0') {
        rv = baton_lock_release(c, name, hold->lease.id, timeout_ms);
    }
    int rv2 = baton_lease_revoke(c, hold->lease.id, timeout_ms);
    memset(hold, 0, sizeof(*hold));
    rv = gone(rv) ? 0 : rv;
    rv2 = gone(rv2) ? 0 : rv2;
    return rv != 0 ? rv : rv2;
}
