/* fault_client counter, counter-read, burst: G-Counter increments and reads, node by node. */
#include <stdlib.h>
#include <string.h>

#include "fc.h"

#define FC_MAX_NODES 16

/* One blocking client per endpoint: counter calls never leave the node of a
 * client with a single endpoint (baton.h), so each answer is that node's. */
struct pinned {
    struct baton *c[FC_MAX_NODES];
    char addr[FC_MAX_NODES][BATON_ADDR_MAX];
    int n;
};

static int pinned_open(struct pinned *p, const char *endpoints, uint64_t timeout_ms)
{
    memset(p, 0, sizeof(*p));
    char *copy = strdup(endpoints), *save = NULL;
    if (copy == NULL) {
        return BATON_ENOMEM;
    }
    struct baton_options opt;
    fc_client_options(&opt, timeout_ms);
    int rv = 0;
    for (char *t = strtok_r(copy, ",", &save); t != NULL && rv == 0;
         t = strtok_r(NULL, ",", &save)) {
        if (p->n == FC_MAX_NODES) {
            rv = BATON_EINVAL;
            break;
        }
        snprintf(p->addr[p->n], BATON_ADDR_MAX, "%s", t);
        rv = baton_open(t, &opt, &p->c[p->n]);
        if (rv == 0) {
            p->n++;
        }
    }
    free(copy);
    return rv;
}

static void pinned_close(struct pinned *p)
{
    for (int i = 0; i < p->n; i++) {
        baton_close(p->c[i]);
    }
    p->n = 0;
}

int fc_cmd_counter(const struct fc_opts *o)
{
    struct fc_hist h;
    struct pinned p;
    if (fc_hist_open(&h, o->history, o->client) != 0) {
        return 3;
    }
    int rv = pinned_open(&p, o->endpoints, o->timeout_ms);
    if (rv != 0) {
        fprintf(stderr, "fault_client counter: %s\n", baton_strerror(rv));
        pinned_close(&p);
        fc_hist_close(&h);
        return 3;
    }
    uint64_t rng = o->seed * 0x9e3779b97f4a7c15ULL + 3;
    int64_t end = fc_end_ns(o);
    while (!fc_done(end)) {
        int k = (int)(fc_rand(&rng) % (uint64_t)p.n);
        char name[32];
        snprintf(name, sizeof(name), "ctr-%d", k + 1);
        uint64_t id = fc_hist_invoke(&h, "incr", "node=%d name=%s", k + 1, name);
        uint64_t value = 0;
        rv = baton_counter_incr(p.c[k], name, 1, o->timeout_ms, &value);
        fc_hist_done(&h, id, "incr", rv, "node=%d name=%s value=%llu", k + 1, name,
                     (unsigned long long)value);
        fc_sleep_ms(fc_rand_range(&rng, 5, 30));
    }
    pinned_close(&p);
    fc_hist_event(&h, "end", "%s", "");
    fc_hist_close(&h);
    return 0;
}

int fc_cmd_counter_read(const struct fc_opts *o)
{
    if (o->names == NULL) {
        fprintf(stderr, "fault_client counter-read: --names is required\n");
        return 2;
    }
    struct pinned p;
    int rv = pinned_open(&p, o->endpoints, o->timeout_ms);
    if (rv != 0) {
        fprintf(stderr, "fault_client counter-read: %s\n", baton_strerror(rv));
        pinned_close(&p);
        return 3;
    }
    for (int k = 0; k < p.n; k++) {
        char *copy = strdup(o->names), *save = NULL;
        for (char *name = strtok_r(copy, ",", &save); name != NULL;
             name = strtok_r(NULL, ",", &save)) {
            struct baton_counter v;
            rv = baton_counter_get(p.c[k], name, o->timeout_ms, &v);
            if (rv == 0) {
                printf("%d %s %llu\n", k + 1, name, (unsigned long long)v.value);
            } else {
                printf("%d %s err=%s\n", k + 1, name, fc_err_name(rv));
            }
        }
        free(copy);
    }
    fflush(stdout);
    pinned_close(&p);
    return 0;
}

/* Increments until the node fails: the name checked afterwards, and fresh names
 * in between so that the node's store must grow. */
int fc_cmd_burst(const struct fc_opts *o)
{
    if (o->name == NULL) {
        fprintf(stderr, "fault_client burst: --name is required\n");
        return 2;
    }
    struct baton_options opt;
    fc_client_options(&opt, o->timeout_ms);
    struct baton *c;
    int rv = baton_open(o->endpoints, &opt, &c);
    if (rv != 0) {
        fprintf(stderr, "fault_client burst: %s\n", baton_strerror(rv));
        return 3;
    }
    uint64_t acked = 0, unknown = 0, fill = 0;
    int err = 0;
    for (uint64_t i = 0; i < o->count && err == 0 && !fc_stop; i++) {
        char fresh[300];
        snprintf(fresh, sizeof(fresh), "%s-fill-%llu-%0160llu", o->name,
                 (unsigned long long)i, (unsigned long long)i);
        err = baton_counter_incr(c, fresh, 1, o->timeout_ms, NULL);
        if (err != 0) {
            break;
        }
        fill++;
        err = baton_counter_incr(c, o->name, 1, o->timeout_ms, NULL);
        if (err == 0) {
            acked++;
        } else if (err != BATON_EINVAL && err != BATON_EOVERFLOW) {
            unknown++;
        }
    }
    baton_close(c);
    printf("acked=%llu unknown=%llu fill=%llu err=%s\n", (unsigned long long)acked,
           (unsigned long long)unknown, (unsigned long long)fill, fc_err_name(err));
    return 0;
}
