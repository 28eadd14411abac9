/* fault_client lease: leases granted, kept alive by hand, then revoked or left to expire. */
#include <stdlib.h>
#include <string.h>

#include "fc.h"

struct lease_ctx {
    const struct fc_opts *o;
    struct fc_hist hist;
    struct baton *c;
    uint64_t rng;
};

static int op_keepalive(struct lease_ctx *x, uint64_t lease)
{
    uint64_t id = fc_hist_invoke(&x->hist, "keepalive", "lease=%llu", (unsigned long long)lease);
    struct baton_lease out;
    memset(&out, 0, sizeof(out));
    int rv = baton_lease_keepalive(x->c, lease, x->o->timeout_ms, &out);
    fc_hist_done(&x->hist, id, "keepalive", rv, "lease=%llu ttl=%llu", (unsigned long long)lease,
                 (unsigned long long)out.ttl_ms);
    return rv;
}

static void op_revoke(struct lease_ctx *x, uint64_t lease)
{
    uint64_t id = fc_hist_invoke(&x->hist, "revoke", "lease=%llu", (unsigned long long)lease);
    int rv = baton_lease_revoke(x->c, lease, x->o->timeout_ms);
    fc_hist_done(&x->hist, id, "revoke", rv, "lease=%llu", (unsigned long long)lease);
}

static void one_lease(struct lease_ctx *x, int64_t end)
{
    struct baton_lease lease;
    uint64_t ttl = fc_rand_range(&x->rng, x->o->ttl_ms, x->o->ttl_ms * 2);
    uint64_t id = fc_hist_invoke(&x->hist, "grant", "ttl=%llu", (unsigned long long)ttl);
    int rv = baton_lease_grant(x->c, ttl, x->o->timeout_ms, &lease);
    fc_hist_done(&x->hist, id, "grant", rv, "lease=%llu ttl=%llu",
                 (unsigned long long)(rv == 0 ? lease.id : 0),
                 (unsigned long long)(rv == 0 ? lease.ttl_ms : 0));
    if (rv != 0) {
        fc_sleep_ms(50);
        return;
    }
    ttl = lease.ttl_ms;
    int rounds = (int)fc_rand_range(&x->rng, 1, 5);
    for (int i = 0; i < rounds && !fc_done(end); i++) {
        /* One keepalive in three comes late but in time (55-80% of the TTL): a leader
         * that ends leases early answers it EEXPIRED, which lease-ttl reports. */
        bool late = fc_rand(&x->rng) % 3 == 0;
        fc_sleep_ms(late ? fc_rand_range(&x->rng, ttl * 55 / 100, ttl * 80 / 100)
                         : fc_rand_range(&x->rng, ttl / 5, ttl / 3));
        if (op_keepalive(x, lease.id) == BATON_EEXPIRED) {
            return;
        }
    }
    if (fc_rand(&x->rng) % 2 == 0 || fc_done(end)) {
        op_revoke(x, lease.id);
        return;
    }
    /* Abandoned: ask again after the TTL (EEXPIRED unless a failover extended it). */
    fc_sleep_ms(ttl + fc_rand_range(&x->rng, 200, 1500));
    if (op_keepalive(x, lease.id) == 0) {
        op_revoke(x, lease.id);
    }
}

int fc_cmd_lease(const struct fc_opts *o)
{
    struct lease_ctx x;
    memset(&x, 0, sizeof(x));
    x.o = o;
    x.rng = o->seed * 0x9e3779b97f4a7c15ULL + 7;
    if (fc_hist_open(&x.hist, o->history, o->client) != 0) {
        return 3;
    }
    struct baton_options opt;
    fc_client_options(&opt, o->timeout_ms);
    int rv = baton_open(o->endpoints, &opt, &x.c);
    if (rv != 0) {
        fprintf(stderr, "fault_client lease: %s\n", baton_strerror(rv));
        fc_hist_close(&x.hist);
        return 3;
    }
    int64_t end = fc_end_ns(o);
    while (!fc_done(end)) {
        one_lease(&x, end);
    }
    baton_close(x.c);
    fc_hist_event(&x.hist, "end", "%s", "");
    fc_hist_close(&x.hist);
    return 0;
}
