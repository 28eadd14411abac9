/* The ◇W heartbeat failure detector: per-peer timeouts that grow on false suspicions. */
#include <string.h>

#include "fd/detector.h"

void fd_options_default(struct fd_options *opt, uint64_t self)
{
    memset(opt, 0, sizeof(*opt));
    opt->self = self;
    opt->heartbeat_ms = 100;
    opt->timeout_ms = 500;
    opt->timeout_increment_ms = 250;
    opt->timeout_max_ms = 10000;
}

static bool options_valid(const struct fd_options *opt)
{
    return opt->self != 0 && opt->heartbeat_ms > 0 && opt->timeout_ms > opt->heartbeat_ms &&
           opt->timeout_increment_ms > 0 && opt->timeout_max_ms >= opt->timeout_ms;
}

/* Deadlines saturate instead of wrapping, so a huge now_ms cannot make a peer's
 * deadline look earlier than its last arrival. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t deadline(const struct fd_peer *p)
{
    return add_sat(p->last_heard_ms, p->timeout_ms);
}

/* Index of peer id, or -1. */
static int find(const struct fd_detector *d, uint64_t id)
{
    for (size_t i = 0; i < d->n_peers; i++) {
        if (d->peers[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

/* Time only moves forward: every mutating call checks it here first. */
static bool time_ok(const struct fd_detector *d, uint64_t now_ms)
{
    return now_ms >= d->now_ms;
}

int fd_init(struct fd_detector *d, const struct fd_options *opt, uint64_t now_ms)
{
    if (!options_valid(opt)) {
        return BATON_EINVAL;
    }
    memset(d, 0, sizeof(*d));
    d->opt = *opt;
    d->now_ms = now_ms;
    d->next_heartbeat_ms = now_ms;
    return 0;
}

void fd_close(struct fd_detector *d)
{
    memset(d, 0, sizeof(*d));
}

int fd_peer_add(struct fd_detector *d, uint64_t id, uint64_t now_ms)
{
    if (id == 0 || id == d->opt.self || find(d, id) >= 0 || !time_ok(d, now_ms)) {
        return BATON_EINVAL;
    }
    if (d->n_peers == FD_MAX_PEERS) {
        return BATON_ECONFIG;
    }
    /* Keep peers sorted by id, so every listing comes out in a stable order. */
    size_t i = d->n_peers;
    while (i > 0 && d->peers[i - 1].id > id) {
        d->peers[i] = d->peers[i - 1];
        i--;
    }
    d->peers[i] = (struct fd_peer){
        .id = id,
        .timeout_ms = d->opt.timeout_ms,
        .last_heard_ms = now_ms,
        .since_ms = now_ms,
    };
    d->n_peers++;
    d->now_ms = now_ms;
    return 0;
}

int fd_peer_remove(struct fd_detector *d, uint64_t id)
{
    int i = find(d, id);
    if (i < 0) {
        return BATON_ENOTFOUND;
    }
    size_t tail = d->n_peers - (size_t)i - 1;
    if (tail > 0) {
        memmove(&d->peers[i], &d->peers[i + 1], tail * sizeof(d->peers[0]));
    }
    d->n_peers--;
    return 0;
}

int fd_heard(struct fd_detector *d, uint64_t peer, uint64_t now_ms)
{
    if (peer == 0 || peer == d->opt.self || !time_ok(d, now_ms)) {
        return BATON_EINVAL;
    }
    int i = find(d, peer);
    if (i < 0) {
        return BATON_ENOTFOUND;
    }
    struct fd_peer *p = &d->peers[i];
    d->now_ms = now_ms;
    p->last_heard_ms = now_ms;
    if (!p->suspected) {
        return 0;
    }
    /* Chandra & Toueg §9.1: hearing from a suspected peer proves the timeout too
     * short for the network as it is, so it grows. The increment is fixed and
     * timeouts never shrink, so after the network settles only finitely many false
     * suspicions remain (eventual accuracy; see detector.h). */
    p->suspected = false;
    p->since_ms = now_ms;
    p->false_suspicions++;
    uint64_t grown = add_sat(p->timeout_ms, d->opt.timeout_increment_ms);
    p->timeout_ms = grown < d->opt.timeout_max_ms ? grown : d->opt.timeout_max_ms;
    return 1;
}

int fd_tick(struct fd_detector *d, uint64_t now_ms, uint64_t *newly, size_t max)
{
    if (!time_ok(d, now_ms) || (newly == NULL && max > 0)) {
        return BATON_EINVAL;
    }
    d->now_ms = now_ms;
    int count = 0;
    for (size_t i = 0; i < d->n_peers; i++) {
        struct fd_peer *p = &d->peers[i];
        if (p->suspected || now_ms < deadline(p)) {
            continue;
        }
        p->suspected = true;
        p->since_ms = now_ms;
        p->suspicions++;
        if ((size_t)count < max) {
            newly[count] = p->id;
        }
        count++;
    }
    return count;
}

bool fd_suspected(const struct fd_detector *d, uint64_t peer)
{
    int i = find(d, peer);
    return i >= 0 && d->peers[i].suspected;
}

/* Lists the ids of every peer, or of the suspected ones only (snprintf-style count). */
static int list(const struct fd_detector *d, bool only_suspected, uint64_t *out, size_t max)
{
    if (out == NULL && max > 0) {
        return BATON_EINVAL;
    }
    int count = 0;
    for (size_t i = 0; i < d->n_peers; i++) {
        if (only_suspected && !d->peers[i].suspected) {
            continue;
        }
        if ((size_t)count < max) {
            out[count] = d->peers[i].id;
        }
        count++;
    }
    return count;
}

int fd_suspects(const struct fd_detector *d, uint64_t *out, size_t max)
{
    return list(d, true, out, max);
}

int fd_peers(const struct fd_detector *d, uint64_t *out, size_t max)
{
    return list(d, false, out, max);
}

int fd_peer_stats(const struct fd_detector *d, uint64_t peer, struct fd_peer *out)
{
    int i = find(d, peer);
    if (i < 0) {
        return BATON_ENOTFOUND;
    }
    *out = d->peers[i];
    return 0;
}

bool fd_heartbeat_due(const struct fd_detector *d, uint64_t now_ms)
{
    return now_ms >= d->next_heartbeat_ms;
}

int fd_heartbeat_sent(struct fd_detector *d, uint64_t now_ms)
{
    if (!time_ok(d, now_ms)) {
        return BATON_EINVAL;
    }
    d->now_ms = now_ms;
    uint64_t period = d->opt.heartbeat_ms;
    uint64_t next = add_sat(d->next_heartbeat_ms, period);
    /* Fixed rate while the host keeps up; an early round, or a host a whole
     * period behind, restarts the schedule from now instead of bursting. */
    if (now_ms < d->next_heartbeat_ms || next <= now_ms) {
        next = add_sat(now_ms, period);
    }
    d->next_heartbeat_ms = next;
    return 0;
}

uint64_t fd_next_deadline(const struct fd_detector *d)
{
    uint64_t next = d->next_heartbeat_ms;
    for (size_t i = 0; i < d->n_peers; i++) {
        const struct fd_peer *p = &d->peers[i];
        if (!p->suspected && deadline(p) < next) {
            next = deadline(p);
        }
    }
    return next;
}
