/* fault_client: clock, randomness, error names and the history writer. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fc.h"

int64_t fc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void fc_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    /* A signal ends the sleep early, which is what a stopping workload wants. */
    nanosleep(&ts, NULL);
}

const char *fc_err_name(int err)
{
    if (err == 0) {
        return "OK";
    }
    switch (err) {
#define FC_ERR_NAME(name, value, msg) \
    case name:                        \
        return &#name[6]; /* without "BATON_" */
        BATON_ERRORS(FC_ERR_NAME)
#undef FC_ERR_NAME
    default:
        return "EUNKNOWN";
    }
}

uint64_t fc_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint64_t fc_rand_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + fc_rand(state) % (hi - lo + 1);
}

int64_t fc_end_ns(const struct fc_opts *o)
{
    return o->seconds > 0 ? fc_now_ns() + (int64_t)(o->seconds * 1e9) : INT64_MAX;
}

bool fc_done(int64_t end_ns)
{
    return fc_stop || fc_now_ns() >= end_ns;
}

void fc_client_options(struct baton_options *opt, uint64_t timeout_ms)
{
    baton_options_init(opt);
    opt->timeout_ms = timeout_ms;
    opt->attempt_timeout_ms = timeout_ms / 2 > 200 ? timeout_ms / 2 : 200;
    opt->backoff_base_ms = 10;
    opt->backoff_max_ms = 200;
    /* Lost callbacks fire this much early: on a loaded machine (two cores, five
     * nodes, sanitizers) a timer can be late by tens of milliseconds, and a late
     * callback would count as a hold that outlived its lease. */
    opt->lease_margin_ms = 100;
}

int fc_hist_open(struct fc_hist *h, const char *path, const char *client)
{
    memset(h, 0, sizeof(*h));
    h->f = fopen(path, "a");
    if (h->f == NULL) {
        fprintf(stderr, "fault_client: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    snprintf(h->client, sizeof(h->client), "%s", client);
    pthread_mutex_init(&h->mu, NULL);
    return 0;
}

void fc_hist_close(struct fc_hist *h)
{
    if (h->f != NULL) {
        fclose(h->f);
        h->f = NULL;
        pthread_mutex_destroy(&h->mu);
    }
}

/* Caller holds h->mu. */
static void write_line(struct fc_hist *h, const char *event, const char *head, const char *fmt,
                       va_list ap)
{
    fprintf(h->f, "%lld %s %s", (long long)fc_now_ns(), h->client, event);
    if (head[0] != '\0') {
        fprintf(h->f, " %s", head);
    }
    if (fmt[0] != '\0') {
        fputc(' ', h->f);
        vfprintf(h->f, fmt, ap);
    }
    fputc('\n', h->f);
    fflush(h->f);
}

void fc_hist_event(struct fc_hist *h, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&h->mu);
    write_line(h, event, "", fmt, ap);
    pthread_mutex_unlock(&h->mu);
    va_end(ap);
}

uint64_t fc_hist_invoke(struct fc_hist *h, const char *op, const char *fmt, ...)
{
    char head[96];
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&h->mu);
    uint64_t id = ++h->next_id;
    snprintf(head, sizeof(head), "id=%llu op=%s", (unsigned long long)id, op);
    write_line(h, "invoke", head, fmt, ap);
    pthread_mutex_unlock(&h->mu);
    va_end(ap);
    return id;
}

void fc_hist_done(struct fc_hist *h, uint64_t id, const char *op, int err, const char *fmt, ...)
{
    char head[128];
    va_list ap;
    va_start(ap, fmt);
    snprintf(head, sizeof(head), "id=%llu op=%s err=%s", (unsigned long long)id, op,
             fc_err_name(err));
    pthread_mutex_lock(&h->mu);
    write_line(h, "done", head, fmt, ap);
    pthread_mutex_unlock(&h->mu);
    va_end(ap);
}
