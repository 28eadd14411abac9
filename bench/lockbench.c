/* lockbench: the etcd anchor's lock/lease bench_workloads run against baton through libbaton's async API.
 *
 * The counterpart of ../shared/anchors/etcd/lockbench.go: the same bench_workloads, the
 * same flags where they apply, and the same result line, so that
 *
 *   etcd lock C=16 ops_per_s=... p50_ms=... p99_ms=... mean_ms=... n=... errors=... window_s=...
 *   baton lock C=16 ops_per_s=... p50_ms=... p99_ms=... mean_ms=... n=... errors=... window_s=...
 *
 * compare key by key. Each test runs C workers, each with a client of its own (one
 * baton_async, hence one TCP connection, per worker, as lockbench.go gives each
 * worker its own clientv3.Client). The workers are spread over --threads uv loops
 * (default 1: a C client needs far less than a core for these rates, and the
 * cluster it measures shares the machine). A warm-up (not recorded) is followed by
 * the measurement window; an operation counts when it completes inside the window.
 * Failed operations in the window are counted (errors=N, the first three per worker
 * printed on stderr) and retried after 10 ms, as in lockbench.go.
 *
 * Tests (-test, comma-separated; default lock,contended,lease,keepalive,put):
 *   lock       each worker: one lease granted up front and kept alive by a keeper
 *              (etcd: one session per worker), lock on its own name, acquire then
 *              release. ops = cycles; p50/p99/mean = acquire; cycle_p50/p99 =
 *              acquire+release.
 *   contended  (line: lock_contended) every worker, each with its own lease, on ONE
 *              lock; acquire queues (FIFO in the replicated state) until granted.
 *              ops = handoffs (cycles); p50/p99 = wait (acquire) latency.
 *   lease      lease grant + one keepalive of the new lease. ops = pairs;
 *              p50/p99 = pair latency. The leases are revoked after the window.
 *   keepalive  keepalives of one pre-granted lease per worker.
 *   put        NOT RUN: baton has no key/value store. A '#' line says so and the
 *              counter test runs in its place.
 *   counter    G-Counter increments (counter incr NAME 1), one counter per worker:
 *              baton's cheapest durable write. It is NOT a replicated write like
 *              etcd's put: an increment is fsync'd on the one node the client is
 *              connected to (clients start at a random endpoint) and spreads by
 *              gossip, with no Raft round. Its line says so (durable_on=1_node).
 *
 * Exit status: 0 when every requested test ran (errors are reported, not fatal),
 * 1 when the cluster does not answer or a worker cannot be set up, 2 usage.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lockbench.h"

struct config bench_cfg = {
    .endpoints = "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103",
    .tests = "lock,contended,lease,keepalive,put",
    .label = "baton",
    .workers = 16,
    .threads = 1,
    .dur_ms = 10000,
    .warm_ms = 1000,
    .ttl_ms = 60000,
    .op_timeout_ms = 30000,
};

/* Shared between the main thread and the loop threads. */
atomic_int bench_phase;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int setups_reported, setups_failed;
char bench_run_id[32];

void bench_die_nomem(void)
{
    fprintf(stderr, "lockbench: out of memory\n");
    exit(1);
}

static void samples_add(struct samples *s, int64_t v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        int64_t *nv = realloc(s->v, cap * sizeof(*nv));
        if (nv == NULL) {
            bench_die_nomem();
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = v;
}

/* ---- completions shared by every workload ---------------------------------- */

static void worker_stopped(struct worker *w);

static void op_next(struct worker *w)
{
    if (atomic_load(&bench_phase) == PHASE_STOP) {
        worker_stopped(w);
        return;
    }
    w->wl->op(w);
}

void bench_op_ok(struct worker *w, int64_t l1, int64_t l2)
{
    if (atomic_load(&bench_phase) == PHASE_MEASURE) {
        samples_add(&w->lat, l1);
        if (l2 >= 0) {
            samples_add(&w->lat2, l2);
        }
    }
    op_next(w);
}

static void retry_cb(uv_timer_t *h)
{
    op_next(h->data);
}

void bench_op_fail(struct worker *w, int err, const char *what, const char *why)
{
    int ph = atomic_load(&bench_phase);
    if (ph == PHASE_MEASURE) {
        w->errs++;
        if (w->errs <= 3) {
            fprintf(stderr, "%s worker %d: %s: %s%s%s\n", w->wl->line, w->id, what,
                    baton_strerror(err), why != NULL && *why ? ": " : "", why ? why : "");
        }
    }
    if (ph == PHASE_STOP) {
        worker_stopped(w);
        return;
    }
    uv_timer_start(&w->retry, retry_cb, 10, 0);
}

void bench_setup_done(struct worker *w, int err, const char *what)
{
    if (err != 0) {
        fprintf(stderr, "%s: setup worker %d: %s: %s\n", w->wl->line, w->id, what,
                baton_strerror(err));
    }
    pthread_mutex_lock(&mu);
    setups_reported++;
    setups_failed += err != 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void client_closed_cb(void *arg)
{
    struct loop_thread *t = arg;
    if (--t->open == 0) {
        uv_close((uv_handle_t *)&t->wake, NULL);
    }
}

void bench_cleanup_done(struct worker *w)
{
    struct loop_thread *t = w->t;
    if (--t->cleaning > 0) {
        return;
    }
    t->cleaned_ns = uv_hrtime();
    for (int i = 0; i < t->n; i++) {
        uv_close((uv_handle_t *)&t->workers[i].retry, NULL);
        baton_async_close(t->workers[i].c, client_closed_cb, t);
    }
}

static void worker_stopped(struct worker *w)
{
    struct loop_thread *t = w->t;
    if (--t->running > 0) {
        return;
    }
    t->drained_ns = uv_hrtime();
    t->cleaning = t->n;
    for (int i = 0; i < t->n; i++) {
        t->workers[i].wl->cleanup(&t->workers[i]);
    }
}

/* ---- threads ------------------------------------------------------------------------ */

static void wake_cb(uv_async_t *h)
{
    struct loop_thread *t = h->data;
    t->running = t->n;
    for (int i = 0; i < t->n; i++) {
        op_next(&t->workers[i]);
    }
}

static void *thread_main(void *arg)
{
    struct loop_thread *t = arg;
    struct baton_options opt;
    baton_options_init(&opt);
    opt.timeout_ms = bench_cfg.op_timeout_ms;
    t->open = t->n;
    for (int i = 0; i < t->n; i++) {
        struct worker *w = &t->workers[i];
        uv_timer_init(&t->loop, &w->retry);
        w->retry.data = w;
        int rc = baton_async_new(&t->loop, bench_cfg.endpoints, &opt, &w->c);
        if (rc != 0) {
            fprintf(stderr, "lockbench: client for %s: %s\n", bench_cfg.endpoints, baton_strerror(rc));
            exit(1);
        }
    }
    for (int i = 0; i < t->n; i++) {
        t->workers[i].wl->setup(&t->workers[i]);
    }
    uv_run(&t->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&t->loop) != 0) {
        fprintf(stderr, "lockbench: a loop still had handles at the end\n");
    }
    return NULL;
}

/* ---- timing and the result line ---------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until_ns(uint64_t when)
{
    struct timespec ts = {(time_t)(when / 1000000000u), (long)(when % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* lockbench.go's pct: the sample at int(p*(n-1)+0.5) of the sorted set, in ms. */
static double pct_ms(const struct samples *s, double p)
{
    if (s->n == 0) {
        return 0;
    }
    return (double)s->v[(size_t)(p * (double)(s->n - 1) + 0.5)] / 1e6;
}

static double mean_ms(const struct samples *s)
{
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        sum += (double)s->v[i];
    }
    return s->n ? sum / (double)s->n / 1e6 : 0;
}

static void merge(struct samples *all, const struct samples *s)
{
    for (size_t i = 0; i < s->n; i++) {
        samples_add(all, s->v[i]);
    }
}

static void report(const struct workload *wl, struct worker *ws, double elapsed_s)
{
    struct samples all = {0}, all2 = {0};
    long errs = 0;
    for (int i = 0; i < bench_cfg.workers; i++) {
        merge(&all, &ws[i].lat);
        merge(&all2, &ws[i].lat2);
        errs += ws[i].errs;
    }
    qsort(all.v, all.n, sizeof(*all.v), cmp_i64);
    qsort(all2.v, all2.n, sizeof(*all2.v), cmp_i64);
    printf("%s %s C=%d ops_per_s=%.1f p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f n=%zu errors=%ld "
           "window_s=%.2f",
           bench_cfg.label, wl->line, bench_cfg.workers, (double)all.n / elapsed_s, pct_ms(&all, 0.50),
           pct_ms(&all, 0.99), mean_ms(&all), all.n, errs, elapsed_s);
    if (all2.n > 0) {
        printf(" cycle_p50_ms=%.3f cycle_p99_ms=%.3f", pct_ms(&all2, 0.50), pct_ms(&all2, 0.99));
    }
    if (strcmp(wl->name, "counter") == 0) {
        printf(" durable_on=1_node replicated=gossip");
    }
    printf("\n");
    fflush(stdout);
    free(all.v);
    free(all2.v);
}

static void wait_setups(int want)
{
    pthread_mutex_lock(&mu);
    while (setups_reported < want) {
        pthread_cond_wait(&cv, &mu);
    }
    int failed = setups_failed;
    pthread_mutex_unlock(&mu);
    if (failed > 0) {
        fprintf(stderr, "lockbench: %d worker(s) could not be set up\n", failed);
        exit(1);
    }
}

/* Runs one test: set up every worker, warm up, measure, drain, clean up, report. */
static void run(const struct workload *wl)
{
    int nt = bench_cfg.threads < bench_cfg.workers ? bench_cfg.threads : bench_cfg.workers;
    struct worker *ws = calloc((size_t)bench_cfg.workers, sizeof(*ws));
    struct loop_thread *ts = calloc((size_t)nt, sizeof(*ts));
    if (ws == NULL || ts == NULL) {
        bench_die_nomem();
    }
    atomic_store(&bench_phase, PHASE_SETUP);
    setups_reported = setups_failed = 0;
    for (int k = 0, first = 0; k < nt; k++) {
        struct loop_thread *t = &ts[k];
        t->n = bench_cfg.workers / nt + (k < bench_cfg.workers % nt);
        t->workers = &ws[first];
        for (int i = 0; i < t->n; i++) {
            ws[first + i] = (struct worker){.t = t, .wl = wl, .id = first + i};
        }
        first += t->n;
        if (uv_loop_init(&t->loop) != 0 || uv_async_init(&t->loop, &t->wake, wake_cb) != 0) {
            fprintf(stderr, "lockbench: cannot set up a uv loop\n");
            exit(1);
        }
        t->wake.data = t;
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
            fprintf(stderr, "lockbench: cannot start a thread\n");
            exit(1);
        }
    }
    wait_setups(bench_cfg.workers);

    uint64_t start = mono_ns();
    atomic_store(&bench_phase, PHASE_WARM);
    for (int k = 0; k < nt; k++) {
        uv_async_send(&ts[k].wake);
    }
    sleep_until_ns(start + bench_cfg.warm_ms * 1000000u);
    uint64_t t0 = mono_ns();
    atomic_store(&bench_phase, PHASE_MEASURE);
    sleep_until_ns(t0 + bench_cfg.dur_ms * 1000000u);
    atomic_store(&bench_phase, PHASE_STOP);
    double elapsed_s = (double)(mono_ns() - t0) / 1e9;

    uint64_t drained = 0, cleaned = 0, stop = uv_hrtime();
    for (int k = 0; k < nt; k++) {
        pthread_join(ts[k].tid, NULL);
        drained = ts[k].drained_ns > drained ? ts[k].drained_ns : drained;
        cleaned = ts[k].cleaned_ns > cleaned ? ts[k].cleaned_ns : cleaned;
    }
    report(wl, ws, elapsed_s);
    fprintf(stderr, "# %s C=%d drain took %.2fs, cleanup took %.2fs\n", wl->line, bench_cfg.workers,
            drained > stop ? (double)(drained - stop) / 1e9 : 0.0,
            (double)(cleaned - drained) / 1e9);
    for (int i = 0; i < bench_cfg.workers; i++) {
        free(ws[i].lat.v);
        free(ws[i].lat2.v);
        free(ws[i].leases);
    }
    free(ws);
    free(ts);
}

/* ---- main ---------------------------------------------------------------------------- */

/* A duration as Go's flag package would take it for these flags ("10s", "500ms",
 * "1m", "1.5s") or a bare number of seconds. Returns milliseconds, or -1. */
static long long parse_duration_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) {
        return -1;
    }
    double scale = strcmp(end, "ms") == 0                    ? 1
                   : strcmp(end, "s") == 0 || *end == '\0' ? 1000
                   : strcmp(end, "m") == 0                   ? 60000
                                                             : -1;
    return scale < 0 ? -1 : (long long)(v * scale + 0.5);
}

static void usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: lockbench [-c N] [-d DUR] [-w|-warmup DUR] [-endpoints H:P,...]\n"
            "                 [-test lock,contended,lease,keepalive,put,counter] [-label WORD]\n"
            "                 [-ttl SECONDS] [-optimeout DUR] [-threads N]\n"
            "Single- or double-dash flags; DUR like 10s, 500ms, 1m. Defaults: -c 16 -d 10s\n"
            "-w 1s -endpoints 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 -test\n"
            "lock,contended,lease,keepalive,put (put: baton has no key/value store; counter\n"
            "runs instead) -label baton -ttl 60 -optimeout 30s -threads 1 (uv loops).\n");
    exit(code);
}

static uint64_t duration_arg(const char *flag, const char *v)
{
    long long ms = parse_duration_ms(v);
    if (ms < 0) {
        fprintf(stderr, "lockbench: bad duration for %s: %s\n", flag, v);
        usage(2);
    }
    return (uint64_t)ms;
}

static int int_arg(const char *flag, const char *v, int lo, int hi)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "lockbench: %s wants an integer in [%d, %d], got %s\n", flag, lo, hi, v);
        usage(2);
    }
    return (int)n;
}

static void parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        {"c", required_argument, NULL, 'c'},         {"d", required_argument, NULL, 'd'},
        {"w", required_argument, NULL, 'w'},         {"warmup", required_argument, NULL, 'w'},
        {"endpoints", required_argument, NULL, 'e'}, {"test", required_argument, NULL, 't'},
        {"label", required_argument, NULL, 'l'},     {"ttl", required_argument, NULL, 'T'},
        {"optimeout", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long_only(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': bench_cfg.workers = int_arg("-c", optarg, 1, 4096); break;
        case 'd': bench_cfg.dur_ms = duration_arg("-d", optarg); break;
        case 'w': bench_cfg.warm_ms = duration_arg("-warmup", optarg); break;
        case 'e': bench_cfg.endpoints = optarg; break;
        case 't': bench_cfg.tests = optarg; break;
        case 'l': bench_cfg.label = optarg; break;
        case 'T': bench_cfg.ttl_ms = 1000u * (uint64_t)int_arg("-ttl", optarg, 1, 86400); break;
        case 'o': bench_cfg.op_timeout_ms = duration_arg("-optimeout", optarg); break;
        case 'j': bench_cfg.threads = int_arg("-threads", optarg, 1, 256); break;
        case 'h': usage(0); break;
        default: usage(2);
        }
    }
    if (optind != argc || bench_cfg.dur_ms == 0 || bench_cfg.op_timeout_ms == 0) {
        usage(2);
    }
}

/* Waits until the cluster grants (and revokes) a lease: a leader is serving. */
static void ping_cluster(void)
{
    struct baton *b;
    struct baton_lease lease;
    int rc = baton_open(bench_cfg.endpoints, NULL, &b);
    if (rc == 0) {
        rc = baton_lease_grant(b, bench_cfg.ttl_ms, bench_cfg.op_timeout_ms, &lease);
        if (rc == 0) {
            rc = baton_lease_revoke(b, lease.id, bench_cfg.op_timeout_ms);
        }
        baton_close(b);
    }
    if (rc != 0) {
        fprintf(stderr, "cluster not ready: %s\n", baton_strerror(rc));
        exit(1);
    }
}

static const struct workload *find_workload(const char *name)
{
    for (size_t i = 0; i < bench_n_workloads; i++) {
        if (strcmp(bench_workloads[i].name, name) == 0) {
            return &bench_workloads[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    parse_args(argc, argv);
    ping_cluster();
    snprintf(bench_run_id, sizeof(bench_run_id), "%llu", (unsigned long long)uv_hrtime());

    char *tests = strdup(bench_cfg.tests);
    if (tests == NULL) {
        bench_die_nomem();
    }
    for (char *save, *tok = strtok_r(tests, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        const char *t = tok + strspn(tok, " ");
        if (*t == '\0') {
            continue;
        }
        if (strcmp(t, "put") == 0) {
            printf("# %s put C=%d: not run: baton has no key/value store; the counter line "
                   "(G-Counter increment, fsync'd on one node, gossiped, no Raft round) is its "
                   "cheapest durable write, not a replicated put\n",
                   bench_cfg.label, bench_cfg.workers);
            fflush(stdout);
            t = "counter";
        }
        const struct workload *wl = find_workload(t);
        if (wl == NULL) {
            fprintf(stderr, "unknown test \"%s\"\n", t);
            exit(2);
        }
        run(wl);
    }
    free(tests);
    return 0;
}
