/* fault_client monitor and probe: every node's role over time; can a lock be taken now. */
#include <stdlib.h>
#include <string.h>

#include "fc.h"

#define MON_MAX 16

struct mon_node {
    pthread_t thread;
    int k;
    char endpoint[BATON_ADDR_MAX];
    const struct fc_opts *o;
};

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void *mon_main(void *arg)
{
    struct mon_node *m = arg;
    uint64_t interval = m->o->interval_ms ? m->o->interval_ms : 100;
    uint64_t timeout = interval * 3 > 300 ? interval * 3 : 300;
    struct baton_options opt;
    fc_client_options(&opt, timeout);
    struct baton *c;
    if (baton_open(m->endpoint, &opt, &c) != 0) {
        return NULL;
    }
    while (!fc_stop) {
        int64_t sent = fc_now_ns();
        struct baton_status st;
        int rv = baton_status_get(c, timeout, &st);
        int64_t now = fc_now_ns();
        pthread_mutex_lock(&out_mu);
        if (rv == 0) {
            printf("%lld %d up role=%s term=%llu leader=%llu commit=%llu sent=%lld\n",
                   (long long)now, m->k, st.role, (unsigned long long)st.term,
                   (unsigned long long)st.leader, (unsigned long long)st.commit,
                   (long long)sent);
        } else {
            printf("%lld %d down err=%s sent=%lld\n", (long long)now, m->k, fc_err_name(rv),
                   (long long)sent);
        }
        if (fflush(stdout) != 0) {
            fc_stop = 1; /* nobody reads any more */
        }
        pthread_mutex_unlock(&out_mu);
        int64_t spent_ms = (now - sent) / 1000000;
        if (spent_ms < (int64_t)interval) {
            fc_sleep_ms(interval - (uint64_t)spent_ms);
        }
    }
    baton_close(c);
    return NULL;
}

int fc_cmd_monitor(const struct fc_opts *o)
{
    struct mon_node nodes[MON_MAX];
    int n = 0;
    char *copy = strdup(o->endpoints), *save = NULL;
    if (copy == NULL) {
        return 3;
    }
    for (char *t = strtok_r(copy, ",", &save); t != NULL && n < MON_MAX;
         t = strtok_r(NULL, ",", &save)) {
        nodes[n].k = n + 1;
        nodes[n].o = o;
        snprintf(nodes[n].endpoint, sizeof(nodes[n].endpoint), "%s", t);
        n++;
    }
    free(copy);
    int started = 0;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&nodes[i].thread, NULL, mon_main, &nodes[i]) != 0) {
            fc_stop = 1;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(nodes[i].thread, NULL);
    }
    return started == n ? 0 : 3;
}

/* One attempt: 0 once the lock was taken (and given back). */
static int probe_once(struct baton *c, const struct fc_opts *o, int64_t *acquired_ns)
{
    struct baton_lease lease;
    int rv = baton_lease_grant(c, o->ttl_ms, o->timeout_ms, &lease);
    if (rv != 0) {
        return rv;
    }
    uint64_t token;
    rv = baton_lock_acquire(c, o->lock, lease.id, 1000, 0, o->timeout_ms, &token);
    if (rv == 0) {
        *acquired_ns = fc_now_ns();
        int released = baton_lock_release(c, o->lock, lease.id, o->timeout_ms);
        (void)released; /* best effort: the revoke frees the lock anyway */
    }
    int revoked = baton_lease_revoke(c, lease.id, o->timeout_ms);
    (void)revoked; /* best effort: an unrevoked lease expires after its TTL */
    return rv;
}

int fc_cmd_probe(const struct fc_opts *o)
{
    if (o->lock == NULL) {
        fprintf(stderr, "fault_client probe: --lock is required\n");
        return 2;
    }
    struct baton_options opt;
    fc_client_options(&opt, 1000);
    struct baton *c;
    int rv = baton_open(o->endpoints, &opt, &c);
    if (rv != 0) {
        fprintf(stderr, "fault_client probe: %s\n", baton_strerror(rv));
        return 3;
    }
    int64_t t0 = fc_now_ns(), until = t0 + (int64_t)o->timeout_ms * 1000000, acquired = 0;
    do {
        struct fc_opts one = *o;
        one.timeout_ms = 1000;
        rv = probe_once(c, &one, &acquired);
        if (rv != 0) {
            fc_sleep_ms(50);
        }
    } while (rv != 0 && fc_now_ns() < until && !fc_stop);
    baton_close(c);
    if (rv == 0) {
        printf("probe_ms=%lld\n", (long long)((acquired - t0) / 1000000));
        return 0;
    }
    printf("probe_failed err=%s\n", fc_err_name(rv));
    return 1;
}
