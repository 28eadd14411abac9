/* The write pipeline: ready batches and snapshots to LMDB, synced off the loop thread. */
#ifndef BATON_NODE_PERSIST_H
#define BATON_NODE_PERSIST_H

#include <stdbool.h>
#include <uv.h>

#include "crdt/crdt.h"
#include "raft/raft.h"
#include "store/store.h"

enum node_persist_kind {
    NODE_PERSIST_READY = 1, /* a raft_ready batch */
    NODE_PERSIST_SNAPSHOT,  /* a local snapshot, then log compaction */
    NODE_PERSIST_CRDT,      /* changed G-Counter records */
};

struct node_persist_item {
    struct node_persist_item *next;
    int kind;
    struct raft_ready rd;           /* NODE_PERSIST_READY */
    struct raft_snapshot snapshot;  /* NODE_PERSIST_SNAPSHOT; data malloc'd */
    uint64_t trailing;
    struct crdt_sync sync;          /* NODE_PERSIST_CRDT */
    struct store_crdt_put *puts;    /* NODE_PERSIST_CRDT: sync's records for the store */
};

/* Runs on the loop thread for each item once it is durable, strictly in the
 * order items were pushed. It owns the item's contents but not the item. */
typedef void (*node_persist_done_cb)(void *arg, struct node_persist_item *item);
/* A write failed: nothing of that job was written, and nothing more will be. */
typedef void (*node_persist_fail_cb)(void *arg, int err, const char *why);
/* After a run of done callbacks (a good moment to pump the core again). */
typedef void (*node_persist_drained_cb)(void *arg);

struct node_persist {
    uv_loop_t *loop;
    struct store *store;
    node_persist_done_cb on_done;
    node_persist_fail_cb on_fail;
    node_persist_drained_cb on_drained;
    void *arg;
    struct node_persist_item *head;
    struct node_persist_item *tail;
    size_t job_items;        /* items at the head that the running job covers */
    struct store_batch *job; /* one store_batch per item of the running job */
    size_t job_cap;
    int job_rv;
    char job_why[256];
    bool in_flight;
    bool failed;
    uv_work_t work;
    uint64_t writes;         /* store_write calls (fsyncs) */
    uint64_t items;          /* items written */
};

void node_persist_init(struct node_persist *p, uv_loop_t *loop, struct store *store,
                       node_persist_done_cb on_done, node_persist_fail_cb on_fail,
                       node_persist_drained_cb on_drained, void *arg);

/* Queues item (taken: freed by the pipeline after on_done, or at close). */
void node_persist_push(struct node_persist *p, struct node_persist_item *item);

/* Starts a write of everything queued if none is running: group commit, one
 * store_write (one fsync) for every item that arrived while the last one ran. */
void node_persist_kick(struct node_persist *p);

/* True when no write is running (the store may be closed). */
bool node_persist_idle(const struct node_persist *p);

/* Frees every item not yet completed, without completing it. Only when idle. */
void node_persist_close(struct node_persist *p);

#endif
