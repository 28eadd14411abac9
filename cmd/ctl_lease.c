/* batonctl lease grant|keepalive|revoke: leases by hand, for scripts holding locks. */
#include <stdio.h>

#include "ctl_baton.h"

static int start_grant(struct baton_async *c, uint64_t timeout_ms, const void *args,
                       struct ctl_answer *a)
{
    return baton_async_lease_grant(c, *(const uint64_t *)args, timeout_ms, ctl_answer_cb, a);
}

static int start_keepalive(struct baton_async *c, uint64_t timeout_ms, const void *args,
                           struct ctl_answer *a)
{
    return baton_async_lease_keepalive(c, *(const uint64_t *)args, timeout_ms, ctl_answer_cb, a);
}

static int start_revoke(struct baton_async *c, uint64_t timeout_ms, const void *args,
                        struct ctl_answer *a)
{
    return baton_async_lease_revoke(c, *(const uint64_t *)args, timeout_ms, ctl_answer_cb, a);
}

/* The one numeric argument of a lease command (TTL_MS or ID), at least 1. */
static int one_number(struct ctl_ctx *ctx, int argc, char **argv, const char *what,
                      uint64_t *out)
{
    char *pos[1];
    int n_pos;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 1, 1, &n_pos, NULL);
    if (rv == 0 && !ctl_parse_u64(pos[0], 1, UINT64_MAX, out)) {
        rv = ctl_usage_error(ctx, "%s wants a positive number, got '%s'", what, pos[0]);
    }
    return rv;
}

int ctl_lease_grant(struct ctl_ctx *ctx, int argc, char **argv)
{
    uint64_t ttl;
    struct ctl_answer a;
    struct ctl_out o;
    int rv = one_number(ctx, argc, argv, "TTL_MS", &ttl);
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_grant, &ttl, &a, NULL, "lease grant");
    }
    if (rv == 0) {
        ctl_out_begin(&o, ctx);
        ctl_out_u64(&o, "lease", a.res.lease.id);
        ctl_out_u64(&o, "ttl_ms", a.res.lease.ttl_ms);
        ctl_out_end(&o);
    }
    return rv;
}

int ctl_lease_keepalive(struct ctl_ctx *ctx, int argc, char **argv)
{
    uint64_t id;
    struct ctl_answer a;
    struct ctl_out o;
    int rv = one_number(ctx, argc, argv, "ID", &id);
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_keepalive, &id, &a, NULL, "lease keepalive");
    }
    if (rv == 0) {
        ctl_out_begin(&o, ctx);
        if (ctx->json) {
            ctl_out_u64(&o, "lease", id);
        }
        ctl_out_u64(&o, "ttl_ms", a.res.lease.ttl_ms);
        ctl_out_end(&o);
    }
    return rv;
}

/* Prints nothing on success (a JSON object with --json). */
int ctl_lease_revoke(struct ctl_ctx *ctx, int argc, char **argv)
{
    uint64_t id;
    struct ctl_answer a;
    struct ctl_out o;
    int rv = one_number(ctx, argc, argv, "ID", &id);
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_revoke, &id, &a, NULL, "lease revoke");
    }
    if (rv == 0 && ctx->json) {
        ctl_out_begin(&o, ctx);
        ctl_out_u64(&o, "lease", id);
        ctl_out_bool(&o, "revoked", true);
        ctl_out_end(&o);
    }
    return rv;
}
