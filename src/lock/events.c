/* The event buffer an apply fills: what changed, for blocked clients and the leader's clocks. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lock/internal.h"

void lock_events_init(struct lock_events *ev)
{
    memset(ev, 0, sizeof(*ev));
}

void lock_events_close(struct lock_events *ev)
{
    free(ev->v);
    free(ev->names);
    memset(ev, 0, sizeof(*ev));
}

const char *lock_event_type_name(int type)
{
    static const char *const names[] = {
        [LOCK_EVENT_LEASE_GRANTED] = "lease_granted", [LOCK_EVENT_LEASE_ENDED] = "lease_ended",
        [LOCK_EVENT_GRANTED] = "granted",             [LOCK_EVENT_RELEASED] = "released",
        [LOCK_EVENT_WAIT_QUEUED] = "wait_queued",     [LOCK_EVENT_WAIT_ENDED] = "wait_ended",
        [LOCK_EVENT_DELAY_STARTED] = "delay_started", [LOCK_EVENT_DELAY_ENDED] = "delay_ended",
    };
    if (type < 1 || type > LOCK_EVENT_DELAY_ENDED) {
        return "unknown";
    }
    return names[type];
}

void lock_events_reset(struct lock_events *ev)
{
    if (ev != NULL) {
        ev->n = 0;
        ev->names_len = 0;
    }
}

/* Grows *p (of *cap elements of size each) to hold at least need. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return 0;
    }
    size_t n = *cap < 16 ? 16 : *cap;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size) {
            return BATON_ENOMEM;
        }
        n *= 2;
    }
    void *q = realloc(*p, n * size);
    if (q == NULL) {
        return BATON_ENOMEM;
    }
    *p = q;
    *cap = n;
    return 0;
}

/* Name pointers of events already appended would move with the arena, so
 * this runs before the first event of an apply (lock_apply reserves
 * everything up front). */
int lock_events_reserve(struct lock_events *ev, size_t n, size_t name_bytes)
{
    if (ev == NULL) {
        return 0;
    }
    if (n > SIZE_MAX - ev->n || name_bytes > SIZE_MAX - ev->names_len) {
        return BATON_ENOMEM;
    }
    void *v = ev->v;
    int rc = grow(&v, &ev->cap, ev->n + n, sizeof(*ev->v));
    ev->v = v;
    if (rc != 0) {
        return rc;
    }
    void *names = ev->names;
    rc = grow(&names, &ev->names_cap, ev->names_len + name_bytes, 1);
    ev->names = names;
    return rc;
}

void lock_emit(struct lock_sm *sm, const struct lock_event *e, const struct lock_rec *lk)
{
    struct lock_events *ev = sm->ev;
    if (ev == NULL) {
        return;
    }
    assert(ev->n < ev->cap);
    struct lock_event *out = &ev->v[ev->n++];
    *out = *e;
    out->name = NULL;
    if (lk != NULL) {
        assert(lk->name_len < ev->names_cap - ev->names_len);
        char *name = ev->names + ev->names_len;
        memcpy(name, lk->name, lk->name_len + 1);
        ev->names_len += lk->name_len + 1;
        out->name = name;
    }
}
