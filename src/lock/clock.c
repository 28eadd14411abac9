/* The leader's clocks for leases, queued waits and lock-delays (see clock.h). */
#include <stdlib.h>
#include <string.h>

#include "lock/clock.h"
#include "lock/internal.h"

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

void lock_clock_clear(struct lock_clock *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->heap[i]);
    }
    c->n = 0;
    lock_htab_clear(&c->index);
}

void lock_clock_close(struct lock_clock *c)
{
    lock_clock_clear(c);
    lock_htab_close(&c->index);
    free(c->heap);
    memset(c, 0, sizeof(*c));
}

/* ---- the heap, ordered by when each clock next needs attention ---- */

static uint64_t due_at(const struct lock_clock *c, const struct lock_clock_item *it)
{
    return it->proposed ? it->proposed + c->retry_ms : it->deadline;
}

static void heap_set(struct lock_clock *c, size_t pos, struct lock_clock_item *it)
{
    c->heap[pos] = it;
    it->heap_pos = pos;
}

static void sift_up(struct lock_clock *c, size_t pos)
{
    struct lock_clock_item *it = c->heap[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (due_at(c, c->heap[parent]) <= due_at(c, it)) {
            break;
        }
        heap_set(c, pos, c->heap[parent]);
        pos = parent;
    }
    heap_set(c, pos, it);
}

static void sift_down(struct lock_clock *c, size_t pos)
{
    struct lock_clock_item *it = c->heap[pos];
    for (;;) {
        size_t child = 2 * pos + 1;
        if (child >= c->n) {
            break;
        }
        if (child + 1 < c->n && due_at(c, c->heap[child + 1]) < due_at(c, c->heap[child])) {
            child++;
        }
        if (due_at(c, it) <= due_at(c, c->heap[child])) {
            break;
        }
        heap_set(c, pos, c->heap[child]);
        pos = child;
    }
    heap_set(c, pos, it);
}

/* After it's due time changed either way. */
static void heap_fix(struct lock_clock *c, struct lock_clock_item *it)
{
    sift_up(c, it->heap_pos);
    sift_down(c, it->heap_pos);
}

/* ---- the index ---- */

static uint64_t key_hash(int kind, uint64_t lease, const char *name)
{
    uint64_t h = lock_hash_u64(lease ^ ((uint64_t)kind << 56));
    return name != NULL ? h ^ lock_hash_bytes(name, strlen(name)) : h;
}

static struct lock_clock_item *find(const struct lock_clock *c, int kind, uint64_t lease,
                                    const char *name)
{
    uint64_t h = key_hash(kind, lease, name);
    for (struct lock_hnode *n = lock_htab_chain(&c->index, h); n != NULL; n = n->next) {
        struct lock_clock_item *it = LOCK_CONTAINER(n, struct lock_clock_item, hnode);
        if (n->hash == h && it->kind == kind && it->lease == lease &&
            (name == NULL || strcmp(it->name, name) == 0)) {
            return it;
        }
    }
    return NULL;
}

static void drop(struct lock_clock *c, struct lock_clock_item *it)
{
    if (it == NULL) {
        return;
    }
    lock_htab_remove(&c->index, &it->hnode);
    struct lock_clock_item *last = c->heap[--c->n];
    if (last != it) {
        heap_set(c, it->heap_pos, last);
        heap_fix(c, last);
    }
    free(it);
}

static int reserve(struct lock_clock *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct lock_clock_item **heap = realloc(c->heap, cap * sizeof(*heap));
        if (heap == NULL) {
            return BATON_ENOMEM;
        }
        c->heap = heap;
        c->cap = cap;
    }
    return lock_htab_reserve(&c->index, c->n + 1);
}

static int add(struct lock_clock *c, int kind, uint64_t lease, const char *name, uint64_t since,
               uint64_t ms, uint64_t deadline)
{
    struct lock_clock_item *it = find(c, kind, lease, name);
    bool fresh = it == NULL;
    if (fresh) {
        it = reserve(c) == 0 ? calloc(1, sizeof(*it)) : NULL;
        if (it == NULL) {
            return BATON_ENOMEM;
        }
        it->kind = kind;
        it->lease = lease;
        if (name != NULL) {
            strcpy(it->name, name);
        }
        it->hnode.hash = key_hash(kind, lease, name);
        lock_htab_insert(&c->index, &it->hnode);
        heap_set(c, c->n++, it);
    }
    it->since = since;
    it->ttl_ms = ms;
    it->deadline = deadline;
    it->proposed = 0;
    heap_fix(c, it);
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
    lock_clock_clear(c);
    int rv = lease_walk(sm, start_lease, &s);
    if (rv == 0) {
        rv = lock_waiter_walk(sm, start_wait, &s);
    }
    if (rv == 0) {
        rv = lock_delay_walk(sm, start_delay, &s);
    }
    if (rv != 0) {
        lock_clock_clear(c);
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
        heap_fix(c, it);
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
    for (size_t i = 0; i < l->n; i++) {
        struct lease_entry *e = &l->v[i];
        if (lock_clock_remaining(c, e->id, now, &e->remaining_ms) == 0) {
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
    while (n < max && c->n > 0 && due_at(c, c->heap[0]) <= now) {
        struct lock_clock_item *it = c->heap[0];
        to_cmd(it, &out[n++]);
        it->proposed = now ? now : 1;
        sift_down(c, 0);
    }
    return n;
}

uint64_t lock_clock_next(const struct lock_clock *c)
{
    return c->n > 0 ? due_at(c, c->heap[0]) : UINT64_MAX;
}
