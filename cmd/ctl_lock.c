/* batonctl lock acquire|release|inspect|check: the lock calls of libbaton, one per command. */
#include <stdio.h>
#include <string.h>

#include "ctl_baton.h"

/* The cluster refuses waits and delays over ten years of milliseconds. */
#define CTL_MS_MAX 315360000000ull

/* The arguments of one lock call. */
struct lock_args {
    const char *name;
    uint64_t lease;
    uint64_t wait_ms;
    uint64_t delay_ms;
    uint64_t token;
};

static int start_acquire(struct baton_async *c, uint64_t timeout_ms, const void *args,
                         struct ctl_answer *a)
{
    const struct lock_args *l = args;
    return baton_async_lock_acquire(c, l->name, l->lease, l->wait_ms, l->delay_ms, timeout_ms,
                                    ctl_answer_cb, a);
}

static int start_release(struct baton_async *c, uint64_t timeout_ms, const void *args,
                         struct ctl_answer *a)
{
    const struct lock_args *l = args;
    return baton_async_lock_release(c, l->name, l->lease, timeout_ms, ctl_answer_cb, a);
}

static int start_inspect(struct baton_async *c, uint64_t timeout_ms, const void *args,
                         struct ctl_answer *a)
{
    const struct lock_args *l = args;
    return baton_async_lock_inspect(c, l->name, timeout_ms, ctl_answer_cb, a);
}

static int start_check(struct baton_async *c, uint64_t timeout_ms, const void *args,
                       struct ctl_answer *a)
{
    const struct lock_args *l = args;
    return baton_async_lock_check(c, l->name, l->token, timeout_ms, ctl_answer_cb, a);
}

static void lease_lost_cb(struct baton_keeper *k, uint64_t lease, int why, void *arg)
{
    *(int *)arg = why;
}

/* lock acquire --ttl: a lease of its own, kept alive while the acquire queues (a
 * wait longer than the TTL must not lose it), then left to run out TTL after its
 * last keepalive unless someone keeps it alive (lease keepalive) or revokes it.
 * On failure the lease is revoked (best effort). */
static int acquire_with_ttl(struct ctl_ctx *ctx, struct lock_args *l, uint64_t ttl,
                            struct ctl_answer *a)
{
    struct ctl_baton b;
    struct baton_keeper *keeper = NULL;
    int lost = 0, exit_code = 0;
    int rv = ctl_baton_open(ctx, NULL, &b);
    if (rv != 0) {
        return rv;
    }
    ctl_answer_init(a);
    rv = ctl_baton_wait(&b, a, baton_async_lease_grant(b.client, ttl, ctl_left_ms(ctx),
                                                       ctl_answer_cb, a));
    if (rv != 0) {
        exit_code = ctl_report(rv, a->msg, ctl_exit_for_err(rv), "lease grant %llu",
                               (unsigned long long)ttl);
        goto close;
    }
    struct baton_lease lease = a->res.lease;
    l->lease = lease.id;
    rv = baton_async_lease_keep(b.client, &lease, lease_lost_cb, &lost, &keeper);
    if (rv == 0) {
        /* Until answered, or until the lease is lost: then a grant is worthless. */
        ctl_answer_init(a);
        rv = start_acquire(b.client, ctl_left_ms(ctx), l, a);
        while (rv == 0 && !a->done && lost == 0) {
            uv_run(b.loop, UV_RUN_ONCE);
        }
        rv = rv != 0 ? rv : a->err;
    }
    if ((rv == 0 || !a->done) && (lost != 0 || baton_keeper_deadline(keeper) <= baton_now_ms())) {
        /* Granted, but the lease may already be gone: the token protects nothing. */
        rv = BATON_ETIMEDOUT;
        snprintf(a->msg, sizeof(a->msg), "lease %llu was lost while waiting",
                 (unsigned long long)lease.id);
    }
    if (keeper != NULL) {
        baton_keeper_stop(keeper);
    }
    if (rv != 0) {
        exit_code = ctl_report(rv, a->msg, ctl_exit_for_err(rv), "lock acquire %s", l->name);
        struct ctl_answer r;
        ctl_answer_init(&r);
        (void)ctl_baton_wait(&b, &r, baton_async_lease_revoke(b.client, lease.id,
                                                              ctl_left_ms(ctx), ctl_answer_cb,
                                                              &r));
    }
close:
    ctl_baton_close(&b);
    return exit_code;
}

int ctl_lock_acquire(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct lock_args l = {0};
    uint64_t ttl = 0;
    bool has_lease = false, has_ttl = false;
    const struct ctl_flag flags[] = {
        {"--lease", &l.lease, 1, UINT64_MAX, &has_lease},
        {"--ttl", &ttl, 1, CTL_MS_MAX, &has_ttl},
        {"--wait", &l.wait_ms, 0, CTL_MS_MAX, NULL},
        {"--lock-delay", &l.delay_ms, 0, CTL_MS_MAX, NULL},
    };
    char *pos[1];
    int n_pos;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, flags, 4, pos, 1, 1, &n_pos, NULL);
    if (rv != 0) {
        return rv;
    }
    if (has_lease == has_ttl) {
        return ctl_usage_error(ctx, "give either --lease ID (an existing lease) or --ttl MS "
                                    "(a lease of its own)");
    }
    l.name = pos[0];
    if (has_ttl) {
        rv = acquire_with_ttl(ctx, &l, ttl, &a);
    } else {
        char what[300];
        snprintf(what, sizeof(what), "lock acquire %s", l.name);
        rv = ctl_baton_call(ctx, start_acquire, &l, &a, NULL, what);
    }
    if (rv != 0) {
        return rv;
    }
    struct ctl_out o;
    ctl_out_begin(&o, ctx);
    if (has_ttl) {
        ctl_out_u64(&o, "lease", l.lease);
    }
    ctl_out_u64(&o, "token", a.res.token);
    ctl_out_end(&o);
    return CTL_EXIT_OK;
}

/* A release that finds the lock free or held by another lease: the lease does
 * not hold it, which is "not found" here. */
static int release_exit(int err)
{
    return err == BATON_ELOCKED ? CTL_EXIT_NOTFOUND : ctl_exit_for_err(err);
}

int ctl_lock_release(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct lock_args l = {0};
    bool has_lease = false;
    const struct ctl_flag flags[] = {{"--lease", &l.lease, 1, UINT64_MAX, &has_lease}};
    char *pos[1];
    int n_pos;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, flags, 1, pos, 1, 1, &n_pos, NULL);
    if (rv == 0 && !has_lease) {
        rv = ctl_usage_error(ctx, "--lease ID is required");
    }
    if (rv != 0) {
        return rv;
    }
    l.name = pos[0];
    char what[300];
    snprintf(what, sizeof(what), "lock release %s (lease %llu)", l.name,
             (unsigned long long)l.lease);
    rv = ctl_baton_call(ctx, start_release, &l, &a, release_exit, what);
    if (rv == 0 && ctx->json) {
        struct ctl_out o;
        ctl_out_begin(&o, ctx);
        ctl_out_str(&o, "name", l.name);
        ctl_out_u64(&o, "lease", l.lease);
        ctl_out_bool(&o, "released", true);
        ctl_out_end(&o);
    }
    return rv;
}

static void print_waiters(const struct baton_lock_info *info)
{
    fputs(" waiters=", stdout);
    for (size_t i = 0; i < info->n_waiters; i++) {
        printf("%s%llu", i ? "," : "", (unsigned long long)info->waiters[i]);
    }
}

int ctl_lock_inspect(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct lock_args l = {0};
    char *pos[1];
    int n_pos;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 1, 1, &n_pos, NULL);
    if (rv != 0) {
        return rv;
    }
    l.name = pos[0];
    if ((rv = ctl_baton_call(ctx, start_inspect, &l, &a, NULL, "lock inspect")) != 0) {
        return rv;
    }
    const struct baton_lock_info *info = &a.res.lock;
    struct ctl_out o;
    ctl_out_begin(&o, ctx);
    ctl_out_str(&o, "name", l.name);
    ctl_out_bool(&o, "held", info->held);
    ctl_out_u64(&o, "lease", info->held ? info->lease : 0);
    ctl_out_u64(&o, "token", info->held ? info->token : 0);
    if (ctx->json) {
        ctl_json_arr_begin(&o.j, "waiters");
        for (size_t i = 0; i < info->n_waiters; i++) {
            ctl_json_u64(&o.j, NULL, info->waiters[i]);
        }
        ctl_json_arr_end(&o.j);
    } else {
        print_waiters(info);
    }
    ctl_out_end(&o);
    ctl_answer_clear(&a);
    return CTL_EXIT_OK;
}

int ctl_lock_check(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct lock_args l = {0};
    char *pos[2];
    int n_pos;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 2, 2, &n_pos, NULL);
    if (rv == 0 && !ctl_parse_u64(pos[1], 0, UINT64_MAX, &l.token)) {
        rv = ctl_usage_error(ctx, "TOKEN wants a fencing token (a number), got '%s'", pos[1]);
    }
    if (rv != 0) {
        return rv;
    }
    l.name = pos[0];
    if ((rv = ctl_baton_call(ctx, start_check, &l, &a, NULL, "lock check")) != 0) {
        return rv;
    }
    struct ctl_out o;
    ctl_out_begin(&o, ctx);
    ctl_out_bool(&o, "current", a.res.current);
    ctl_out_end(&o);
    return a.res.current ? CTL_EXIT_OK : CTL_EXIT_NO;
}
