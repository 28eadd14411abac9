/* Group commit off the loop thread: every batch that arrives while one write
 * syncs goes into the next write, and results come back in push order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/persist.h"

void node_persist_init(struct node_persist *p, uv_loop_t *loop, struct store *store,
                       node_persist_done_cb on_done, node_persist_fail_cb on_fail,
                       node_persist_drained_cb on_drained, void *arg)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->store = store;
    p->on_done = on_done;
    p->on_fail = on_fail;
    p->on_drained = on_drained;
    p->arg = arg;
    p->work.data = p;
}

void node_persist_push(struct node_persist *p, struct node_persist_item *item)
{
    item->next = NULL;
    if (p->tail != NULL) {
        p->tail->next = item;
    } else {
        p->head = item;
    }
    p->tail = item;
}

static bool has_content(const struct node_persist_item *it)
{
    return it->kind == NODE_PERSIST_SNAPSHOT || it->sync.n > 0 || it->rd.snapshot != NULL ||
           it->rd.n_entries > 0 || it->rd.has_hard_state;
}

static void free_item(struct node_persist_item *it)
{
    if (it->kind == NODE_PERSIST_READY) {
        raft_ready_free(&it->rd);
    } else if (it->kind == NODE_PERSIST_CRDT) {
        crdt_sync_clear(&it->sync);
        free(it->puts);
    } else {
        free(it->snapshot.data.base);
    }
    free(it);
}

/* The item's records as store puts; built once, kept across job rebuilds. */
static int crdt_batch(struct node_persist_item *it, struct store_batch *b)
{
    if (it->puts == NULL) {
        it->puts = calloc(it->sync.n ? it->sync.n : 1, sizeof(*it->puts));
    }
    if (it->puts == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < it->sync.n; i++) {
        it->puts[i].name = it->sync.records[i].name;
        it->puts[i].data = it->sync.records[i].data;
        it->puts[i].len = it->sync.records[i].len;
    }
    b->crdt = it->puts;
    b->n_crdt = it->sync.n;
    return 0;
}

static struct node_persist_item *pop(struct node_persist *p)
{
    struct node_persist_item *it = p->head;
    p->head = it->next;
    if (p->head == NULL) {
        p->tail = NULL;
    }
    return it;
}

static void complete(struct node_persist *p, struct node_persist_item *it)
{
    p->on_done(p->arg, it);
    free_item(it);
}

static void work_cb(uv_work_t *w)
{
    struct node_persist *p = w->data;
    p->job_rv = store_write(p->store, p->job, p->job_items);
    if (p->job_rv != 0) {
        snprintf(p->job_why, sizeof(p->job_why), "%s", store_errmsg(p->store));
    }
}

static void after_work_cb(uv_work_t *w, int status)
{
    struct node_persist *p = w->data;
    p->in_flight = false;
    if (status != 0 || p->job_rv != 0) {
        p->failed = true;
        p->on_fail(p->arg, status != 0 ? BATON_EIO : p->job_rv,
                   status != 0 ? "write canceled" : p->job_why);
        return;
    }
    p->writes++;
    p->items += p->job_items;
    size_t n = p->job_items;
    p->job_items = 0;
    for (size_t i = 0; i < n; i++) {
        complete(p, pop(p));
    }
    p->on_drained(p->arg);
    node_persist_kick(p);
}

static int build_job(struct node_persist *p)
{
    size_t n = 0;
    for (struct node_persist_item *it = p->head; it != NULL; it = it->next) {
        n++;
    }
    if (n > p->job_cap) {
        struct store_batch *job = realloc(p->job, n * sizeof(*job));
        if (job == NULL) {
            return BATON_ENOMEM;
        }
        p->job = job;
        p->job_cap = n;
    }
    size_t i = 0;
    for (struct node_persist_item *it = p->head; it != NULL; it = it->next, i++) {
        struct store_batch *b = &p->job[i];
        memset(b, 0, sizeof(*b));
        if (it->kind == NODE_PERSIST_READY) {
            store_batch_from_ready(b, &it->rd);
            continue;
        }
        if (it->kind == NODE_PERSIST_CRDT) {
            if (crdt_batch(it, b) != 0) {
                return BATON_ENOMEM;
            }
            continue;
        }
        b->snapshot = &it->snapshot;
        b->snapshot_log = STORE_LOG_KEEP;
        uint64_t s = it->snapshot.meta.index;
        b->compact_upto = s > it->trailing ? s - it->trailing : 0;
    }
    p->job_items = n;
    return 0;
}

void node_persist_kick(struct node_persist *p)
{
    if (p->in_flight || p->failed) {
        return;
    }
    /* Batches with nothing to write need no trip to the disk thread, as long as
     * nothing before them is still waiting for one. */
    bool completed = false;
    while (p->head != NULL && !has_content(p->head)) {
        complete(p, pop(p));
        completed = true;
    }
    if (completed) {
        p->on_drained(p->arg);
        if (p->in_flight) {
            return; /* on_drained pumped and kicked already */
        }
    }
    if (p->head == NULL) {
        return;
    }
    int rv = build_job(p);
    if (rv == 0) {
        rv = uv_queue_work(p->loop, &p->work, work_cb, after_work_cb) ? BATON_EIO : 0;
    }
    if (rv != 0) {
        p->failed = true;
        p->job_items = 0;
        p->on_fail(p->arg, rv, "cannot start a disk write");
        return;
    }
    p->in_flight = true;
}

bool node_persist_idle(const struct node_persist *p)
{
    return !p->in_flight;
}

void node_persist_close(struct node_persist *p)
{
    while (p->head != NULL) {
        free_item(pop(p));
    }
    free(p->job);
    p->job = NULL;
    p->job_cap = 0;
}
