/* lockbench's shared parts: settings, workers, workloads and the completions they call. */
#ifndef BATON_BENCH_LOCKBENCH_H
#define BATON_BENCH_LOCKBENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include <baton/baton.h>

enum phase { PHASE_SETUP, PHASE_WARM, PHASE_MEASURE, PHASE_STOP };

/* Command-line settings; names and defaults follow lockbench.go. */
struct config {
    const char *endpoints;
    const char *tests;
    const char *label;
    int workers;
    int threads;
    uint64_t dur_ms;
    uint64_t warm_ms;
    uint64_t ttl_ms;
    uint64_t op_timeout_ms;
};

/* Latencies in nanoseconds (uv_hrtime), appended by one loop thread each. */
struct samples {
    int64_t *v;
    size_t n;
    size_t cap;
};

struct worker;

/* A workload: each step ends by calling the matching completion
 * (bench_setup_done, bench_op_ok or bench_op_fail, bench_cleanup_done), from the loop. */
struct workload {
    const char *name; /* the -test word */
    const char *line; /* the result line's test name */
    void (*setup)(struct worker *w);
    void (*op)(struct worker *w);
    void (*cleanup)(struct worker *w);
};

struct loop_thread {
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t tid;
    struct worker *workers; /* borrowed: a slice of the test's array */
    int n;
    int running;  /* workers still issuing operations */
    int cleaning; /* workers whose cleanup has not finished */
    int open;     /* clients not yet closed */
    uint64_t drained_ns, cleaned_ns;
};

struct worker {
    struct loop_thread *t;
    const struct workload *wl;
    int id;
    struct baton_async *c;
    uint64_t lease;
    bool keep; /* keep the lease alive with a keeper (lock tests) */
    struct baton_keeper *keeper;
    char name[160];
    uint64_t *leases; /* the lease test's grants, revoked in cleanup */
    size_t n_leases, cap_leases, revoked;
    uint64_t t0, t1;
    int pending_err; /* an acquire's error while its best-effort release runs */
    uv_timer_t retry;
    struct samples lat, lat2;
    long errs;
};

extern struct config bench_cfg;
/* An enum phase, set by the main thread, read by the loops. */
extern atomic_int bench_phase;
/* Unique per run, so that lock and counter names never meet a former run's. */
extern char bench_run_id[32];
extern const struct workload bench_workloads[];
extern const size_t bench_n_workloads;

/* The completions every workload step ends with, on the worker's loop. */
void bench_setup_done(struct worker *w, int err, const char *what);
/* One operation succeeded: primary latency l1, secondary l2 (< 0 for none), in ns. */
void bench_op_ok(struct worker *w, int64_t l1, int64_t l2);
/* One operation failed with err (what: the call; why: the cluster's message or NULL). */
void bench_op_fail(struct worker *w, int err, const char *what, const char *why);
void bench_cleanup_done(struct worker *w);
void bench_die_nomem(void);

#endif
