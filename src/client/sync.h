/* libbaton's blocking client: calls marshalled to a background loop thread. */
#ifndef BATON_CLIENT_SYNC_H
#define BATON_CLIENT_SYNC_H

#include <pthread.h>

#include "client/internal.h"

enum sync_op {
    SYNC_GRANT,
    SYNC_KEEPALIVE,
    SYNC_REVOKE,
    SYNC_ACQUIRE,
    SYNC_RELEASE,
    SYNC_INSPECT,
    SYNC_CHECK,
    SYNC_STATUS,
    SYNC_COUNTER_INCR,
    SYNC_COUNTER_GET,
    SYNC_LEASE_LIST,
    SYNC_MEMBERS,
    SYNC_MEMBER_ADD,
    SYNC_MEMBER_REMOVE,
    SYNC_TRANSFER,
    SYNC_KEEP,
    SYNC_FN
};

/* One blocking call: lives on the caller's stack until done is set. Fields are
 * written by the caller before it is queued, then only by the loop thread until
 * done (under the client's mutex) hands it back. */
struct sync_call {
    struct sync_call *next;
    struct baton *client;
    enum sync_op op;
    /* Arguments. */
    const char *name;
    const char *name2;            /* member add: the client address (name: the peer's) */
    uint64_t a, b, c, d;
    uint64_t timeout_ms;
    const struct baton_lease *lease;
    baton_lost_cb lost_cb;
    void *lost_arg;
    void (*fn)(void *arg);
    void *fn_arg;
    /* Results. */
    pthread_cond_t cv;
    bool done;
    int err;
    struct baton_result res;      /* message not kept; lock.waiters, leases (one
                                   * block) and members malloc'd */
    struct baton_keeper *keeper;
};

struct baton {
    struct baton_async *core;
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t thread;
    pthread_mutex_t mu;
    struct sync_call *head, *tail;
    bool stopping;
};

/* Queues call on c's loop and waits for it. Returns call->err: the operation's
 * result, BATON_ESHUTDOWN when c is closing, BATON_EINVAL when made from c's
 * own thread. */
int sync_call_run(struct baton *c, struct sync_call *call) __attribute__((warn_unused_result));

#endif
