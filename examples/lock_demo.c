/* lock_demo: a program that embeds libbaton — lock with a lease, fencing token, work, release.
 *
 * Built by the project's CMake (target lock_demo), or on its own after an install:
 *
 *   cmake --install build --prefix "$P"
 *   export PKG_CONFIG_PATH="$P/lib/pkgconfig"
 *   cc lock_demo.c $(pkg-config --cflags --libs baton) -o lock_demo
 *   LD_LIBRARY_PATH="$P/lib" ./lock_demo --endpoints 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
 *
 * (LD_LIBRARY_PATH only when $P/lib is not a directory the dynamic linker searches.)
 *
 * What it does: grants a lease, keeps it alive from libbaton's thread, takes the
 * lock NAME with it and prints the fencing token; then does STEPS steps of "work",
 * each after checking that the lease is still safe (baton_keeper_deadline) and
 * that the token is still the holder's (baton_lock_check, what a resource that
 * accepts fenced writes would call); then releases the lock and revokes the lease.
 * If the lease is lost, it stops at once: a holder must not touch the protected
 * resource after its lease may have expired.
 *
 * Exit codes (as batonctl's): 0 done; 1 lock not acquired within --wait; 2 usage;
 * 3 cluster unavailable or timed out; 4 lease lost or expired.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <baton/baton.h>

struct demo_args {
    const char *endpoints;
    const char *name;
    uint64_t ttl_ms;
    uint64_t wait_ms;
    uint64_t timeout_ms;
    unsigned steps;
    uint64_t step_ms;
};

static atomic_int lease_lost;
static int64_t started_ms;

/* Runs on libbaton's thread: only note it; the work loop reacts. */
static void lost_cb(struct baton_keeper *k, uint64_t lease, int why, void *arg)
{
    (void)k;
    (void)arg;
    atomic_store(&lease_lost, 1);
    fprintf(stderr, "lock_demo: +%lld ms: lease %llu lost (%s): stop touching the resource\n",
            (long long)(baton_now_ms() - started_ms), (unsigned long long)lease,
            baton_strerror(why));
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int exit_code(int err)
{
    switch (err) {
    case 0:
        return 0;
    case BATON_ELOCKED:
        return 1;
    case BATON_EINVAL:
        return 2;
    case BATON_EEXPIRED:
    case BATON_ENOTFOUND:
        return 4;
    default:
        return 3;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: lock_demo [--endpoints H:P,...] [--name NAME] [--ttl MS] "
                    "[--wait MS] [--timeout MS] [--steps N] [--step-ms MS]\n");
    return 2;
}

static int parse_args(int argc, char **argv, struct demo_args *a)
{
    const char *env = getenv("BATON_ENDPOINTS");
    a->endpoints = env ? env : "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103";
    a->name = "demo";
    a->ttl_ms = 3000;
    a->wait_ms = 30000;
    a->timeout_ms = 10000;
    a->steps = 20;
    a->step_ms = 500;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            return -1;
        }
        const char *v = argv[++i];
        if (strcmp(argv[i - 1], "--endpoints") == 0) {
            a->endpoints = v;
        } else if (strcmp(argv[i - 1], "--name") == 0) {
            a->name = v;
        } else if (strcmp(argv[i - 1], "--ttl") == 0) {
            a->ttl_ms = strtoull(v, NULL, 10);
        } else if (strcmp(argv[i - 1], "--wait") == 0) {
            a->wait_ms = strtoull(v, NULL, 10);
        } else if (strcmp(argv[i - 1], "--timeout") == 0) {
            a->timeout_ms = strtoull(v, NULL, 10);
        } else if (strcmp(argv[i - 1], "--steps") == 0) {
            a->steps = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(argv[i - 1], "--step-ms") == 0) {
            a->step_ms = strtoull(v, NULL, 10);
        } else {
            return -1;
        }
    }
    return 0;
}

/* One step of work, done only while the lease is safe and the token current. */
static int work_step(struct baton *c, const struct demo_args *a, const struct baton_lock_hold *h,
                     unsigned step)
{
    int64_t t0 = baton_now_ms();
    bool current = false;
    if (atomic_load(&lease_lost)) {
        return BATON_EEXPIRED;
    }
    int rv = baton_lock_check(c, a->name, h->token, a->timeout_ms, &current);
    if (rv != 0) {
        fprintf(stderr, "lock_demo: check: %s\n", baton_strerror(rv));
        return rv;
    }
    int64_t deadline = baton_keeper_deadline(h->keeper);
    int64_t left = deadline - baton_now_ms();
    if (deadline == 0 || left <= 0 || !current) {
        fprintf(stderr, "lock_demo: no longer the holder (%s)\n",
                deadline == 0 ? "lease lost" : left <= 0 ? "lease deadline passed"
                                                         : "token no longer current");
        return BATON_EEXPIRED;
    }
    struct baton_status st;
    const char *leader = "?";
    if (baton_status_get(c, a->timeout_ms, &st) == 0) {
        leader = st.leader_client_addr[0] ? st.leader_client_addr : "(none)";
    }
    printf("+%lld ms step %u/%u: token %llu current, lease safe for %lld ms, leader %s, "
           "check took %lld ms\n",
           (long long)(t0 - started_ms), step, a->steps, (unsigned long long)h->token,
           (long long)left, leader, (long long)(baton_now_ms() - t0));
    fflush(stdout);
    /* The "work": sleep in slices so a lost lease stops us quickly. */
    for (uint64_t slept = 0; slept < a->step_ms && !atomic_load(&lease_lost); slept += 50) {
        sleep_ms(a->step_ms - slept < 50 ? a->step_ms - slept : 50);
    }
    return atomic_load(&lease_lost) ? BATON_EEXPIRED : 0;
}

int main(int argc, char **argv)
{
    struct demo_args a;
    if (parse_args(argc, argv, &a) != 0) {
        return usage();
    }
    started_ms = baton_now_ms();
    struct baton *c;
    int rv = baton_open(a.endpoints, NULL, &c);
    if (rv != 0) {
        fprintf(stderr, "lock_demo: open %s: %s\n", a.endpoints, baton_strerror(rv));
        return exit_code(rv);
    }
    struct baton_lock_hold hold;
    rv = baton_lock_hold_acquire(c, a.name, a.ttl_ms, a.wait_ms, a.timeout_ms, lost_cb, NULL,
                                 &hold);
    if (rv != 0) {
        fprintf(stderr, "lock_demo: acquire %s: %s\n", a.name, baton_strerror(rv));
        baton_close(c);
        return exit_code(rv);
    }
    printf("acquired %s: lease=%llu token=%llu\n", a.name, (unsigned long long)hold.lease.id,
           (unsigned long long)hold.token);
    fflush(stdout);
    for (unsigned i = 1; i <= a.steps && rv == 0; i++) {
        rv = work_step(c, &a, &hold, i);
    }
    int rel = baton_lock_hold_release(c, a.name, &hold, a.timeout_ms);
    if (rel != 0) {
        fprintf(stderr, "lock_demo: release %s: %s\n", a.name, baton_strerror(rel));
    } else {
        printf("released %s\n", a.name);
    }
    baton_close(c);
    return exit_code(rv != 0 ? rv : rel);
}
