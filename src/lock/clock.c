/* The leader's clocks for leases, queued waits and lock-delays (see clock.h). */
#include <stdlib.h>
#include <string.h>

#include "lock/clock.h"

#ifdef BATON_LOCK_FAULT_LEASE_HALF_TTL
/* Planted bug (tests/sim proves it is caught): a lease runs out after half its TTL. */
#define LEASE_SPAN(ttl) ((ttl) / 2)
#else
#define LEASE_SPAN(ttl) (ttl)
#endif

void lock_clock_init(struct lock_clock *c, uint64_t retry_ms)
{
    memset(c, 0, sizeof(*c));
    c->retry_ms = retry_ms;
}

void lock_clock_close(struct lock_clock *c)
{
    free(c->v);
    memset(c, 0, sizeof(*c));
}

void lock_clock_clear(struct lock_clock *c)
{
    c->n = 0;
}

static struct lock_clock_item *find(const struct lock_clock *c, int kind, uint64_t lease,
                                    const char *name)
{
    for (size_t i = 0; i < c->n; i++) {
        struct lock_clock_item *it = &c->v[i];
        if (it->kind == kind && it->lease == lease &&
            (name == NULL || strcmp(it->name, name) == 0)) {
            return it;
        }
    }
    return NULL;
}

static void drop(struct lock_clock *c, struct lock_clock_item *it)
{
    if (it != NULL) {
        *it = c->v[--c->n];
    }
}

static int add(struct lock_clock *c, int kind, uint64_t lease, const char *name, uint64_t since,
               uint64_t ms, uint64_t deadline)
{
    struct lock_clock_item *it = find(c, kind, lease, name);
    if (it == NULL) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            struct lock_clock_item *v = realloc(c->v, cap * sizeof(*v));
            if (v == NULL) {
                return BATON_ENOMEM;
            }
            c->v = v;
            c->cap = cap;
        }
        it = &c->v[c->n++];
    }
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->lease = lease;
    it->since = since;
    it->ttl_ms = ms;
    it->deadline = deadline;
    if (name != NULL) {
        strcpy(it->name, name);
    }
    return 0;
}

struct start_ctx {
    struct lock_clock *c;
    uint64_t now;
    uint64_t extra;
};

static int start_lease(const struct lease_info *info, void *arg)
{
    struct start_ctx *s = arg;
    return add(s->c, LOCK_CLOCK_LEASE, info->id, NULL, 0, info->ttl_ms,
               s->now + info->ttl_ms + s->extra);
}

static int start_wait(const struct lock_waiter *w, void *arg)
{
    struct start_ctx *s = arg;
    return add(s->c, LOCK_CLOCK_WAIT, w->lease, w->name, w->since, w->wait_ms,
               s->now + w->wait_ms);
}

static int start_delay(const struct lock_info *info, void *arg)
{
    struct start_ctx *s = arg;
    return add(s->c, LOCK_CLOCK_DELAY, 0, info->name, info->delay_since, info->delay_ms,
               s->now + info->delay_ms);
}

int lock_clock_start(struct lock_clock *c, const struct lock_sm *sm, uint64_t now,
                     uint64_t extra_ms)
{
    struct start_ctx s = {.c = c, .now = now, .extra = extra_ms};
    c->n = 0;
    int rv = lease_walk(sm, start_lease, &s);
    if (rv == 0) {
        rv = lock_waiter_walk(sm, start_wait, &s);
    }
    if (rv == 0) {
        rv = lock_delay_walk(sm, start_delay, &s);
    }
    if (rv != 0) {
        c->n = 0;
    }
    return rv;
}

int lock_clock_event(struct lock_clock *c, const struct lock_event *ev, uint64_t now)
{
    switch (ev->type) {
    case LOCK_EVENT_LEASE_GRANTED:
        return add(c, LOCK_CLOCK_LEASE, ev->lease, NULL, 0, ev->ms, now + LEASE_SPAN(ev->ms));
    case LOCK_EVENT_LEASE_ENDED:
        drop(c, find(c, LOCK_CLOCK_LEASE, ev->lease, NULL));
        return 0;
    case LOCK_EVENT_WAIT_QUEUED:
        return add(c, LOCK_CLOCK_WAIT, ev->lease, ev->name, ev->since, ev->ms, now + ev->ms);
    case LOCK_EVENT_GRANTED:
    case LOCK_EVENT_WAIT_ENDED:
        drop(c, find(c, LOCK_CLOCK_WAIT, ev->lease, ev->name));
        return 0;
    case LOCK_EVENT_DELAY_STARTED:
        return add(c, LOCK_CLOCK_DELAY, 0, ev->name, ev->since, ev->ms, now + ev->ms);
    case LOCK_EVENT_DELAY_ENDED:
        drop(c, find(c, LOCK_CLOCK_DELAY, 0, ev->name));
        return 0;
    default:
        return 0;
    }
}

int lock_clock_keepalive(struct lock_clock *c, uint64_t lease, uint64_t now, uint64_t *ttl_ms)
{
    struct lock_clock_item *it = find(c, LOCK_CLOCK_LEASE, lease, NULL);
    if (it == NULL || it->proposed != 0) {
        return BATON_EEXPIRED;
    }
    /* Never move a deadline earlier: a new leader's grace period stays. */
    if (now + LEASE_SPAN(it->ttl_ms) > it->deadline) {
        it->deadline = now + LEASE_SPAN(it->ttl_ms);
    }
    *ttl_ms = it->ttl_ms;
    return 0;
}

int lock_clock_remaining(const struct lock_clock *c, uint64_t lease, uint64_t now, uint64_t *ms)
{
    const struct lock_clock_item *it = find(c, LOCK_CLOCK_LEASE, lease, NULL);
    if (it == NULL) {
        return BATON_ENOTFOUND;
    }
    *ms = it->deadline > now ? it->deadline - now : 0;
    return 0;
}

void lock_clock_list_remaining(const struct lock_clock *c, struct lease_list *l, uint64_t now)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct lock_clock_item *it = &c->v[i];
        struct lease_entry *e = it->kind == LOCK_CLOCK_LEASE ? lease_list_find(l, it->lease) : NULL;
        if (e != NULL) {
            e->remaining_ms = it->deadline > now ? it->deadline - now : 0;
            e->clocked = true;
        }
    }
}

static void to_cmd(const struct lock_clock_item *it, struct lock_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->lease = it->lease;
    cmd->since = it->since;
    strcpy(cmd->name, it->name);
    cmd->type = it->kind == LOCK_CLOCK_LEASE  ? LOCK_CMD_LEASE_EXPIRE
                : it->kind == LOCK_CLOCK_WAIT ? LOCK_CMD_WAIT_END
                                              : LOCK_CMD_DELAY_END;
}

size_t lock_clock_due(struct lock_clock *c, uint64_t now, struct lock_cmd *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n && n < max; i++) {
        struct lock_clock_item *it = &c->v[i];
        bool due = it->deadline <= now &&
                   (it->proposed == 0 || it->proposed + c->retry_ms <= now);
        if (due) {
            to_cmd(it, &out[n++]);
            it->proposed = now ? now : 1;
        }
    }
    return n;
}

uint64_t lock_clock_next(const struct lock_clock *c)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < c->n; i++) {
        const struct lock_clock_item *it = &c->v[i];
        uint64_t at = it->proposed ? it->proposed + c->retry_ms : it->deadline;
        if (at < next) {
            next = at;
        }
    }
    return next;
}
