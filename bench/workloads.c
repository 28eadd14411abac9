/* lockbench's workloads: lock, lock_contended, lease, keepalive and counter, as async steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockbench.h"

/* ---- helpers ------------------------------------------------------------------ */

static int64_t since(uint64_t t0)
{
    return (int64_t)(uv_hrtime() - t0);
}

static void no_setup(struct worker *w)
{
    bench_setup_done(w, 0, NULL);
}

static void no_cleanup(struct worker *w)
{
    bench_cleanup_done(w);
}

/* The keeper of a lock test's lease gave up: the worker's acquires will fail
 * (counted as errors), as with an etcd session whose lease expired. */
static void lease_lost_cb(struct baton_keeper *k, uint64_t lease, int why, void *arg)
{
    struct worker *w = arg;
    fprintf(stderr, "%s worker %d: lease %llu lost: %s\n", w->wl->line, w->id,
            (unsigned long long)lease, baton_strerror(why));
    baton_keeper_stop(k);
    w->keeper = NULL;
}

static void setup_granted_cb(int err, const struct baton_result *res, void *arg)
{
    struct worker *w = arg;
    if (err != 0) {
        bench_setup_done(w, err, "lease grant");
        return;
    }
    w->lease = res->lease.id;
    if (!w->keep) {
        bench_setup_done(w, 0, NULL);
        return;
    }
    int rc = baton_async_lease_keep(w->c, &res->lease, lease_lost_cb, w, &w->keeper);
    bench_setup_done(w, rc, "lease keep");
}

/* Setup that grants the worker's lease (then keeps it alive when keep is set). */
static void setup_lease(struct worker *w)
{
    int rc = baton_async_lease_grant(w->c, bench_cfg.ttl_ms, bench_cfg.op_timeout_ms, setup_granted_cb, w);
    if (rc != 0) {
        bench_setup_done(w, rc, "lease grant");
    }
}

/* A lease kept alive by a keeper, as etcd's session keeps its lease alive. */
static void setup_kept_lease(struct worker *w)
{
    w->keep = true;
    setup_lease(w);
}

static void cleanup_revoked_cb(int err, const struct baton_result *res, void *arg)
{
    bench_cleanup_done(arg);
}

/* Cleanup of the worker's one lease: revoking it also releases its locks. */
static void cleanup_lease(struct worker *w)
{
    if (w->keeper != NULL) {
        baton_keeper_stop(w->keeper);
        w->keeper = NULL;
    }
    if (w->lease == 0 ||
        baton_async_lease_revoke(w->c, w->lease, bench_cfg.op_timeout_ms, cleanup_revoked_cb, w) != 0) {
        bench_cleanup_done(w);
    }
}

/* ---- lock, contended ----------------------------------------------------------- */

static void lock_released_cb(int err, const struct baton_result *res, void *arg)
{
    struct worker *w = arg;
    if (err != 0) {
        bench_op_fail(w, err, "release", res->message);
        return;
    }
    bench_op_ok(w, (int64_t)(w->t1 - w->t0), since(w->t0));
}

/* A failed acquire whose outcome is unknown may have taken the lock: release it
 * (best effort) before the next try, as etcd's Mutex.Lock deletes its key. */
static void lock_unwound_cb(int err, const struct baton_result *res, void *arg)
{
    struct worker *w = arg;
    bench_op_fail(w, w->pending_err, "acquire", NULL);
}

static void lock_acquired_cb(int err, const struct baton_result *res, void *arg)
{
    struct worker *w = arg;
    int rc;
    if (err != 0) {
        if (err == BATON_ETIMEDOUT || err == BATON_ECANCELED || err == BATON_EMALFORMED) {
            w->pending_err = err;
            if (baton_async_lock_release(w->c, w->name, w->lease, bench_cfg.op_timeout_ms,
                                         lock_unwound_cb, w) == 0) {
                return;
            }
        }
        bench_op_fail(w, err, "acquire", res->message);
        return;
    }
    w->t1 = uv_hrtime();
    rc = baton_async_lock_release(w->c, w->name, w->lease, bench_cfg.op_timeout_ms, lock_released_cb,
                                  w);
    if (rc != 0) {
        bench_op_fail(w, rc, "release", NULL);
    }
}

static void lock_op(struct worker *w)
{
    w->t0 = uv_hrtime();
    /* Wait as long as etcd's Lock does (its per-operation timeout); no lock delay:
     * the lock is always released cleanly. */
    int rc = baton_async_lock_acquire(w->c, w->name, w->lease, bench_cfg.op_timeout_ms, 0,
                                      bench_cfg.op_timeout_ms, lock_acquired_cb, w);
    if (rc != 0) {
        bench_op_fail(w, rc, "acquire", NULL);
    }
}

static void lock_setup(struct worker *w)
{
    snprintf(w->name, sizeof(w->name), "bench/lock/%s/w%03d", bench_run_id, w->id);
    setup_kept_lease(w);
}

static void contended_setup(struct worker *w)
{
    snprintf(w->name, sizeof(w->name), "bench/contended/%s", bench_run_id);
    setup_kept_lease(w);
}

/* ---- lease ----------------------------------------------------------------------- */

static void lease_kept_cb(int err, const struct baton_result *res, void *arg)
{
    struct worker *w = arg;
    if (err != 0) {
        bench_op_fail(w, err, "keepalive", res->message);
        return;
    }
    bench_op_ok(w, since(w->t0), -1);
}

static void lease_granted_cb(int err, const struct baton_result *res, void *arg)
{
    struct worker *w = arg;
    if (err != 0) {
        bench_op_fail(w, err, "grant", res->message);
        return;
    }
    if (w->n_leases == w->cap_leases) {
        size_t cap = w->cap_leases ? 2 * w->cap_leases : 256;
        uint64_t *nl = realloc(w->leases, cap * sizeof(*nl));
        if (nl == NULL) {
            bench_die_nomem();
        }
        w->leases = nl;
        w->cap_leases = cap;
    }
    w->leases[w->n_leases++] = res->lease.id;
    int rc = baton_async_lease_keepalive(w->c, res->lease.id, bench_cfg.op_timeout_ms, lease_kept_cb, w);
    if (rc != 0) {
        bench_op_fail(w, rc, "keepalive", NULL);
    }
}

static void lease_op(struct worker *w)
{
    w->t0 = uv_hrtime();
    int rc = baton_async_lease_grant(w->c, bench_cfg.ttl_ms, bench_cfg.op_timeout_ms, lease_granted_cb, w);
    if (rc != 0) {
        bench_op_fail(w, rc, "grant", NULL);
    }
}

/* Revokes the granted leases one after another (untimed, as in lockbench.go). */
static void lease_revoke_next(struct worker *w);

static void lease_revoked_cb(int err, const struct baton_result *res, void *arg)
{
    lease_revoke_next(arg);
}

static void lease_revoke_next(struct worker *w)
{
    while (w->revoked < w->n_leases) {
        uint64_t id = w->leases[w->revoked++];
        if (baton_async_lease_revoke(w->c, id, bench_cfg.op_timeout_ms, lease_revoked_cb, w) == 0) {
            return;
        }
    }
    bench_cleanup_done(w);
}

/* ---- keepalive -------------------------------------------------------------------- */

static void keepalive_cb(int err, const struct baton_result *res, void *arg)
{
    struct worker *w = arg;
    if (err != 0) {
        bench_op_fail(w, err, "keepalive", res->message);
        return;
    }
    bench_op_ok(w, since(w->t0), -1);
}

static void keepalive_op(struct worker *w)
{
    w->t0 = uv_hrtime();
    int rc = baton_async_lease_keepalive(w->c, w->lease, bench_cfg.op_timeout_ms, keepalive_cb, w);
    if (rc != 0) {
        bench_op_fail(w, rc, "keepalive", NULL);
    }
}

/* ---- counter ------------------------------------------------------------------------ */

static void counter_cb(int err, const struct baton_result *res, void *arg)
{
    struct worker *w = arg;
    if (err != 0) {
        bench_op_fail(w, err, "counter incr", res->message);
        return;
    }
    bench_op_ok(w, since(w->t0), -1);
}

static void counter_op(struct worker *w)
{
    w->t0 = uv_hrtime();
    int rc = baton_async_counter_incr(w->c, w->name, 1, bench_cfg.op_timeout_ms, counter_cb, w);
    if (rc != 0) {
        bench_op_fail(w, rc, "counter incr", NULL);
    }
}

static void counter_setup(struct worker *w)
{
    snprintf(w->name, sizeof(w->name), "bench/counter/%s/w%03d", bench_run_id, w->id);
    bench_setup_done(w, 0, NULL);
}

const struct workload bench_workloads[] = {
    {"lock", "lock", lock_setup, lock_op, cleanup_lease},
    {"contended", "lock_contended", contended_setup, lock_op, cleanup_lease},
    {"lease", "lease", no_setup, lease_op, lease_revoke_next},
    {"keepalive", "keepalive", setup_lease, keepalive_op, cleanup_lease},
    {"counter", "counter", counter_setup, counter_op, no_cleanup},
};

const size_t bench_n_workloads = sizeof(bench_workloads) / sizeof(bench_workloads[0]);
