/* it_baton: libbaton driver of the integration tests: lock holders, counter load, listings. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "baton/baton.h"

static const char usage[] =
    "usage: it_baton now\n"
    "       it_baton mutex ENDPOINTS LOCK THREADS SECONDS OUT [TTL_MS [HOLD_MS [PROGRESS]]]\n"
    "       it_baton incr ENDPOINTS NAME COUNT [DISTINCT]\n"
    "       it_baton converge ENDPOINTS NAME TARGET TIMEOUT_MS\n"
    "       it_baton status ENDPOINT\n"
    "       it_baton listing ENDPOINTS\n"
    "\n"
    "now       CLOCK_MONOTONIC in nanoseconds\n"
    "mutex     THREADS threads, each with its own blocking client, take LOCK in turn\n"
    "          (baton_lock_hold_acquire, FIFO wait) for SECONDS, hold it HOLD_MS (default\n"
    "          2), release; OUT gets one line per hold: token start_ns end_ns thread\n"
    "          ok|lost (lost: the lease's safe deadline passed before the hold ended);\n"
    "          PROGRESS (a file) is rewritten with the number of holds so far\n"
    "incr      COUNT increments of 1, round robin over the ENDPOINTS, each endpoint\n"
    "          through a client of its own (pinned), 32 in flight per endpoint; names\n"
    "          NAME, or NAME0..NAME<DISTINCT-1> in turn; prints acked= unknown= failed=\n"
    "          and exits 1 unless every increment was acknowledged\n"
    "converge  asks every endpoint (pinned) for NAME until all report TARGET; prints\n"
    "          converged_ms=T, or the values seen and exit 1 after TIMEOUT_MS\n"
    "status    counters= gossip_bytes_sent= of one node\n"
    "listing   the blocking baton_lease_list and baton_cluster_members: one line per\n"
    "          lease (lease= ttl_ms= remaining_ms= locks= waits=, names unquoted), then\n"
    "          one per member (member id= peer= client= role=)\n";

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t num(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "it_baton: not a number: '%s'\n%s", s, usage);
        exit(2);
    }
    return v;
}

/* ---- mutex ---- */

struct hold_rec {
    uint64_t token;
    int64_t start, end;
    bool lost;
};

struct holder {
    pthread_t thread;
    int id;
    struct hold_rec *recs;
    size_t n, cap;
    unsigned errors;
    char first_error[160];
};

static const char *m_endpoints, *m_lock;
static int64_t m_end_ns;
static uint64_t m_ttl_ms = 3000, m_hold_ms = 2;
static atomic_uint m_holds;

static void hold_lost_cb(struct baton_keeper *k, uint64_t lease, int why, void *arg)
{
    (void)k;
    (void)lease;
    (void)why;
    (void)arg; /* the hold checks baton_keeper_deadline itself, which is exact */
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void note_error(struct holder *h, const char *what, int rv)
{
    if (h->errors++ == 0) {
        snprintf(h->first_error, sizeof(h->first_error), "%s: %s", what, baton_strerror(rv));
    }
}

/* One hold: the interval is [start, end], and it counts as safe ("ok") only if
 * the lease's deadline was still ahead when it ended. */
static void hold_once(struct holder *h, struct baton *c)
{
    struct baton_lock_hold hold;
    int rv = baton_lock_hold_acquire(c, m_lock, m_ttl_ms, 60000, 5000, hold_lost_cb, NULL, &hold);
    if (rv != 0) {
        note_error(h, "acquire", rv);
        sleep_ms(10);
        return;
    }
    struct hold_rec r = {.token = hold.token, .start = mono_ns()};
    bool safe = baton_now_ms() < baton_keeper_deadline(hold.keeper);
    sleep_ms(m_hold_ms);
    r.end = mono_ns();
    safe = safe && r.end / 1000000 < baton_keeper_deadline(hold.keeper);
    r.lost = !safe;
    rv = baton_lock_hold_release(c, m_lock, &hold, 5000);
    if (rv != 0) {
        note_error(h, "release", rv);
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 256;
        h->recs = realloc(h->recs, h->cap * sizeof(*h->recs));
        if (h->recs == NULL) {
            fprintf(stderr, "it_baton: out of memory\n");
            exit(3);
        }
    }
    h->recs[h->n++] = r;
    atomic_fetch_add(&m_holds, 1);
}

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    struct baton *c;
    int rv = baton_open(m_endpoints, NULL, &c);
    if (rv != 0) {
        note_error(h, "open", rv);
        return NULL;
    }
    while (mono_ns() < m_end_ns) {
        hold_once(h, c);
    }
    baton_close(c);
    return NULL;
}

static void write_progress(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f != NULL) {
        fprintf(f, "%u\n", atomic_load(&m_holds));
        fclose(f);
        rename(tmp, path);
    }
}

static int cmd_mutex(int argc, char **argv)
{
    if (argc < 7) {
        fputs(usage, stderr);
        return 2;
    }
    m_endpoints = argv[2];
    m_lock = argv[3];
    int n = (int)num(argv[4]);
    uint64_t secs = num(argv[5]);
    const char *out = argv[6];
    m_ttl_ms = argc > 7 ? num(argv[7]) : m_ttl_ms;
    m_hold_ms = argc > 8 ? num(argv[8]) : m_hold_ms;
    const char *progress = argc > 9 ? argv[9] : NULL;
    struct holder *hs = calloc((size_t)n, sizeof(*hs));
    if (hs == NULL || n < 1) {
        return 2;
    }
    m_end_ns = mono_ns() + (int64_t)secs * 1000000000;
    for (int i = 0; i < n; i++) {
        hs[i].id = i;
        if (pthread_create(&hs[i].thread, NULL, holder_main, &hs[i]) != 0) {
            fprintf(stderr, "it_baton: cannot start thread %d\n", i);
            return 3;
        }
    }
    while (progress != NULL && mono_ns() < m_end_ns) {
        write_progress(progress);
        sleep_ms(100);
    }
    FILE *f = fopen(out, "w");
    if (f == NULL) {
        perror(out);
        return 3;
    }
    unsigned holds = 0, lost = 0, errors = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(hs[i].thread, NULL);
        for (size_t k = 0; k < hs[i].n; k++) {
            const struct hold_rec *r = &hs[i].recs[k];
            fprintf(f, "%llu %lld %lld %d %s\n", (unsigned long long)r->token,
                    (long long)r->start, (long long)r->end, i, r->lost ? "lost" : "ok");
            lost += r->lost;
        }
        holds += (unsigned)hs[i].n;
        errors += hs[i].errors;
        if (hs[i].errors > 0) {
            fprintf(stderr, "it_baton: thread %d: %u errors, first: %s\n", i, hs[i].errors,
                    hs[i].first_error);
        }
        free(hs[i].recs);
    }
    fclose(f);
    if (progress != NULL) {
        write_progress(progress);
    }
    free(hs);
    printf("holds=%u lost=%u errors=%u\n", holds, lost, errors);
    return 0;
}

/* ---- counters (async, pinned clients on one loop) ---- */

#define WINDOW 32
#define MAX_EPS 16

struct pinned {
    struct baton_async *c;
    char endpoint[BATON_ADDR_MAX];
    unsigned inflight;
    uint64_t acked;
    bool answered;
    int err;
    uint64_t value;
};

static uv_loop_t loop;
static struct pinned eps[MAX_EPS];
static size_t n_eps;

static void open_pinned(const char *list)
{
    char *copy = strdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL && n_eps < MAX_EPS;
         t = strtok_r(NULL, ",", &save)) {
        struct pinned *p = &eps[n_eps++];
        snprintf(p->endpoint, sizeof(p->endpoint), "%s", t);
        /* One endpoint: counter calls never leave it (baton.h, counter_get). */
        if (baton_async_new(&loop, p->endpoint, NULL, &p->c) != 0) {
            fprintf(stderr, "it_baton: bad endpoint '%s'\n", t);
            exit(2);
        }
    }
    free(copy);
}

static void close_pinned(void)
{
    for (size_t i = 0; i < n_eps; i++) {
        baton_async_close(eps[i].c, NULL, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
}

struct incr_state {
    const char *name;
    uint64_t count, distinct, issued, acked, unknown, failed;
    int first_err;
    char first_msg[BATON_ADDR_MAX + 512];
};
static struct incr_state is;

static void incr_next(struct pinned *p);

static void incr_cb(int err, const struct baton_result *res, void *arg)
{
    struct pinned *p = arg;
    p->inflight--;
    if (err == 0) {
        is.acked++;
        p->acked++;
    } else {
        if (err == BATON_ETIMEDOUT || err == BATON_ECANCELED) {
            is.unknown++;
        } else {
            is.failed++;
        }
        if (is.first_err == 0) {
            is.first_err = err;
            snprintf(is.first_msg, sizeof(is.first_msg), "%s: %s", p->endpoint, res->message);
        }
    }
    incr_next(p);
}

static void incr_next(struct pinned *p)
{
    while (p->inflight < WINDOW && is.issued < is.count) {
        char name[300];
        if (is.distinct > 0) {
            snprintf(name, sizeof(name), "%s%llu", is.name,
                     (unsigned long long)(is.issued % is.distinct));
        } else {
            snprintf(name, sizeof(name), "%s", is.name);
        }
        is.issued++;
        if (baton_async_counter_incr(p->c, name, 1, 10000, incr_cb, p) != 0) {
            is.failed++;
            continue;
        }
        p->inflight++;
        /* Round robin: the next increment goes to the next endpoint. */
        return;
    }
}

static int cmd_incr(int argc, char **argv)
{
    if (argc < 5) {
        fputs(usage, stderr);
        return 2;
    }
    open_pinned(argv[2]);
    is.name = argv[3];
    is.count = num(argv[4]);
    is.distinct = argc > 5 ? num(argv[5]) : 0;
    int64_t t0 = mono_ns();
    for (unsigned w = 0; w < WINDOW; w++) {
        for (size_t i = 0; i < n_eps; i++) {
            incr_next(&eps[i]);
        }
    }
    while (is.acked + is.unknown + is.failed < is.count) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    int64_t ms = (mono_ns() - t0) / 1000000;
    close_pinned();
    printf("acked=%llu unknown=%llu failed=%llu ms=%lld", (unsigned long long)is.acked,
           (unsigned long long)is.unknown, (unsigned long long)is.failed, (long long)ms);
    for (size_t i = 0; i < n_eps; i++) {
        printf(" %s=%llu", eps[i].endpoint, (unsigned long long)eps[i].acked);
    }
    printf("\n");
    if (is.first_err != 0) {
        fprintf(stderr, "it_baton: first error: %s (%s)\n", baton_strerror(is.first_err),
                is.first_msg);
    }
    return is.acked == is.count ? 0 : 1;
}

static const char *cv_name;
static unsigned cv_pending;

static void get_cb(int err, const struct baton_result *res, void *arg)
{
    struct pinned *p = arg;
    p->answered = true;
    p->err = err;
    p->value = res->counter.value;
    cv_pending--;
}

static int cmd_converge(int argc, char **argv)
{
    if (argc < 6) {
        fputs(usage, stderr);
        return 2;
    }
    open_pinned(argv[2]);
    cv_name = argv[3];
    uint64_t target = num(argv[4]);
    int64_t t0 = mono_ns(), limit = t0 + (int64_t)num(argv[5]) * 1000000;
    bool done = false;
    while (!done && mono_ns() < limit) {
        uint64_t left = (uint64_t)((limit - mono_ns()) / 1000000) + 1;
        for (size_t i = 0; i < n_eps; i++) {
            eps[i].answered = false;
            if (baton_async_counter_get(eps[i].c, cv_name, left, get_cb, &eps[i]) == 0) {
                cv_pending++;
            }
        }
        while (cv_pending > 0) {
            uv_run(&loop, UV_RUN_ONCE);
        }
        done = true;
        for (size_t i = 0; i < n_eps; i++) {
            done = done && eps[i].answered && eps[i].err == 0 && eps[i].value == target;
        }
        if (!done) {
            sleep_ms(2);
        }
    }
    int64_t ms = (mono_ns() - t0) / 1000000;
    if (done) {
        printf("converged_ms=%lld\n", (long long)ms);
    } else {
        printf("not_converged_ms=%lld", (long long)ms);
        for (size_t i = 0; i < n_eps; i++) {
            printf(" %s=%s%llu", eps[i].endpoint, eps[i].err ? baton_strerror(eps[i].err) : "",
                   (unsigned long long)eps[i].value);
        }
        printf(" target=%llu\n", (unsigned long long)target);
    }
    close_pinned();
    return done ? 0 : 1;
}

static int cmd_status(int argc, char **argv)
{
    if (argc < 3) {
        fputs(usage, stderr);
        return 2;
    }
    struct baton *c;
    struct baton_status st;
    if (baton_open(argv[2], NULL, &c) != 0) {
        return 2;
    }
    int rv = baton_status_get(c, 2000, &st);
    baton_close(c);
    if (rv != 0) {
        fprintf(stderr, "it_baton: status of %s: %s\n", argv[2], baton_strerror(rv));
        return 3;
    }
    printf("id=%llu counters=%llu gossip_bytes_sent=%llu\n", (unsigned long long)st.id,
           (unsigned long long)st.counters, (unsigned long long)st.gossip_bytes_sent);
    return 0;
}

static void print_names(const char *key, char *const *names, size_t n)
{
    printf(" %s=%s", key, n == 0 ? "-" : "");
    for (size_t i = 0; i < n; i++) {
        printf("%s%s", i ? "," : "", names[i]);
    }
}

/* Prints the leases of one baton_lease_list answer, through a copy of it (so that
 * both the answer and baton_lease_list_copy's block are used and freed). */
static int print_leases(struct baton_lease_entry *leases, size_t n)
{
    struct baton_lease_entry *copy;
    if (baton_lease_list_copy(leases, n, &copy) != 0) {
        baton_lease_list_free(leases);
        return 3;
    }
    baton_lease_list_free(leases);
    for (size_t i = 0; i < n; i++) {
        printf("lease=%llu ttl_ms=%llu remaining_ms=%llu", (unsigned long long)copy[i].id,
               (unsigned long long)copy[i].ttl_ms, (unsigned long long)copy[i].remaining_ms);
        print_names("locks", copy[i].locks, copy[i].n_locks);
        print_names("waits", copy[i].waits, copy[i].n_waits);
        putchar('\n');
    }
    baton_lease_list_free(copy);
    return 0;
}

static int cmd_listing(int argc, char **argv)
{
    if (argc < 3) {
        fputs(usage, stderr);
        return 2;
    }
    struct baton *c;
    struct baton_lease_entry *leases;
    struct baton_member *members;
    size_t n_leases, n_members;
    if (baton_open(argv[2], NULL, &c) != 0) {
        return 2;
    }
    int rv = baton_lease_list(c, 5000, &leases, &n_leases);
    if (rv == 0) {
        rv = baton_cluster_members(c, 5000, &members, &n_members);
        if (rv != 0) {
            baton_lease_list_free(leases);
        }
    }
    baton_close(c);
    if (rv != 0) {
        fprintf(stderr, "it_baton: listing: %s\n", baton_strerror(rv));
        return 3;
    }
    rv = print_leases(leases, n_leases);
    for (size_t i = 0; i < n_members; i++) {
        printf("member id=%llu peer=%s client=%s role=%s\n", (unsigned long long)members[i].id,
               members[i].peer_addr, members[i].client_addr,
               members[i].role == BATON_MEMBER_VOTER ? "voter" : "learner");
    }
    baton_cluster_members_free(members);
    return rv;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "now") == 0) {
        printf("%lld\n", (long long)mono_ns());
        return 0;
    }
    if (strcmp(argv[1], "mutex") == 0) {
        return cmd_mutex(argc, argv);
    }
    signal(SIGPIPE, SIG_IGN); /* the async API's clients run on our loop */
    if (uv_loop_init(&loop) != 0) {
        return 3;
    }
    int rv = 2;
    if (strcmp(argv[1], "incr") == 0) {
        rv = cmd_incr(argc, argv);
    } else if (strcmp(argv[1], "converge") == 0) {
        rv = cmd_converge(argc, argv);
    } else if (strcmp(argv[1], "status") == 0) {
        rv = cmd_status(argc, argv);
    } else if (strcmp(argv[1], "listing") == 0) {
        rv = cmd_listing(argc, argv);
    } else {
        fputs(usage, stderr);
    }
    uv_loop_close(&loop);
    return rv;
}
