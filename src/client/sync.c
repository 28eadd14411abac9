/* libbaton's blocking client: its own uv loop on a thread, fed through a uv_async_t queue. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "client/sync.h"

static void call_complete(struct baton *c, struct sync_call *call, int err)
{
    pthread_mutex_lock(&c->mu);
    call->err = err;
    call->done = true;
    pthread_cond_signal(&call->cv);
    /* The caller may return and free call as soon as we unlock. */
    pthread_mutex_unlock(&c->mu);
}

/* Copies the arrays of res (borrowed) into out, whose pointers are NULL. */
static int copy_arrays(const struct baton_result *res, struct baton_result *out)
{
    if (res->lock.n_waiters > 0) {
        out->lock.waiters = malloc(res->lock.n_waiters * sizeof(uint64_t));
        if (out->lock.waiters == NULL) {
            return BATON_ENOMEM;
        }
        memcpy(out->lock.waiters, res->lock.waiters, res->lock.n_waiters * sizeof(uint64_t));
    }
    if (baton_lease_list_copy(res->leases, res->n_leases, &out->leases) != 0) {
        return BATON_ENOMEM;
    }
    if (res->n_members > 0) {
        out->members = malloc(res->n_members * sizeof(*res->members));
        if (out->members == NULL) {
            return BATON_ENOMEM;
        }
        memcpy(out->members, res->members, res->n_members * sizeof(*res->members));
    }
    return 0;
}

/* The operation's answer, on the loop thread: keep what the caller will read. */
static void call_cb(int err, const struct baton_result *res, void *arg)
{
    struct sync_call *call = arg;
    call->res = *res;
    call->res.message = NULL;
    call->res.lock.waiters = NULL;
    call->res.leases = NULL;
    call->res.members = NULL;
    if (err == 0) {
        err = copy_arrays(res, &call->res);
    }
    call_complete(call->client, call, err);
}

/* Starts call's operation on the loop; an error means its callback never runs. */
static int call_start(struct baton *c, struct sync_call *call)
{
    struct baton_async *a = c->core;
    switch (call->op) {
    case SYNC_GRANT:
        return baton_async_lease_grant(a, call->a, call->timeout_ms, call_cb, call);
    case SYNC_KEEPALIVE:
        return baton_async_lease_keepalive(a, call->a, call->timeout_ms, call_cb, call);
    case SYNC_REVOKE:
        return baton_async_lease_revoke(a, call->a, call->timeout_ms, call_cb, call);
    case SYNC_ACQUIRE:
        return baton_async_lock_acquire(a, call->name, call->a, call->b, call->c,
                                        call->timeout_ms, call_cb, call);
    case SYNC_RELEASE:
        return baton_async_lock_release(a, call->name, call->a, call->timeout_ms, call_cb, call);
    case SYNC_INSPECT:
        return baton_async_lock_inspect(a, call->name, call->timeout_ms, call_cb, call);
    case SYNC_CHECK:
        return baton_async_lock_check(a, call->name, call->a, call->timeout_ms, call_cb, call);
    case SYNC_STATUS:
        return baton_async_status(a, call->timeout_ms, call_cb, call);
    case SYNC_COUNTER_INCR:
        return baton_async_counter_incr(a, call->name, call->a, call->timeout_ms, call_cb, call);
    case SYNC_COUNTER_GET:
        return baton_async_counter_get(a, call->name, call->timeout_ms, call_cb, call);
    case SYNC_LEASE_LIST:
        return baton_async_lease_list(a, call->timeout_ms, call_cb, call);
    case SYNC_MEMBER_ADD:
        return baton_async_member_add(a, call->a, call->name, call->name2, call->timeout_ms,
                                      call_cb, call);
    case SYNC_MEMBER_REMOVE:
        return baton_async_member_remove(a, call->a, call->timeout_ms, call_cb, call);
    case SYNC_TRANSFER:
        return baton_async_leader_transfer(a, call->a, call->timeout_ms, call_cb, call);
    case SYNC_MEMBERS:
        return baton_async_cluster_members(a, call->timeout_ms, call_cb, call);
    default:
        return BATON_EINVAL;
    }
}

/* Runs one queued call on the loop thread. */
static void call_dispatch(struct baton *c, struct sync_call *call)
{
    int rv;
    if (call->op == SYNC_FN) {
        call->fn(call->fn_arg);
        rv = 0;
    } else if (call->op == SYNC_KEEP) {
        rv = baton_async_lease_keep(c->core, call->lease, call->lost_cb, call->lost_arg,
                                    &call->keeper);
    } else {
        rv = call_start(c, call);
        if (rv == 0) {
            return; /* call_cb completes it */
        }
    }
    call_complete(c, call, rv);
}

static void core_closed_cb(void *arg)
{
    struct baton *c = arg;
    uv_close((uv_handle_t *)&c->wake, NULL);
}

static void wake_cb(uv_async_t *h)
{
    struct baton *c = h->data;
    pthread_mutex_lock(&c->mu);
    struct sync_call *list = c->head;
    bool stopping = c->stopping;
    c->head = c->tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (list != NULL) {
        struct sync_call *call = list;
        list = list->next;
        if (stopping && call->op != SYNC_FN) {
            call_complete(c, call, BATON_ESHUTDOWN);
        } else {
            call_dispatch(c, call);
        }
    }
    if (stopping && c->core != NULL) {
        struct baton_async *a = c->core;
        c->core = NULL;
        baton_async_close(a, core_closed_cb, c);
    }
}

static void *thread_main(void *arg)
{
    struct baton *c = arg;
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return NULL;
}

int sync_call_run(struct baton *c, struct sync_call *call)
{
    if (c == NULL) {
        return BATON_EINVAL;
    }
    if (pthread_equal(pthread_self(), c->thread)) {
        return BATON_EINVAL; /* the loop would wait for itself */
    }
    pthread_cond_init(&call->cv, NULL);
    call->client = c;
    call->done = false;
    call->next = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        pthread_cond_destroy(&call->cv);
        return BATON_ESHUTDOWN;
    }
    if (c->tail != NULL) {
        c->tail->next = call;
    } else {
        c->head = call;
    }
    c->tail = call;
    uv_async_send(&c->wake);
    while (!call->done) {
        pthread_cond_wait(&call->cv, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    pthread_cond_destroy(&call->cv);
    return call->err;
}

void client_sync_run_on_loop(void *owner, void (*fn)(void *arg), void *arg)
{
    struct baton *c = owner;
    if (pthread_equal(pthread_self(), c->thread)) {
        fn(arg); /* already on the loop (a lost callback) */
        return;
    }
    struct sync_call call;
    memset(&call, 0, sizeof(call));
    call.op = SYNC_FN;
    call.fn = fn;
    call.fn_arg = arg;
    int rv = sync_call_run(c, &call);
    /* BATON_ESHUTDOWN: baton_close is under way and frees every keeper itself. */
    (void)rv;
}

static void open_undo(struct baton *c, bool wake_open)
{
    if (c->core != NULL) {
        baton_async_close(c->core, NULL, NULL);
    }
    if (wake_open) {
        uv_close((uv_handle_t *)&c->wake, NULL);
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
    free(c);
}

int baton_open(const char *endpoints, const struct baton_options *opt, struct baton **out)
{
    if (out == NULL) {
        return BATON_EINVAL;
    }
    struct baton *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return BATON_ENOMEM;
    }
    if (uv_loop_init(&c->loop) != 0) {
        free(c);
        return BATON_EIO;
    }
    int rv = baton_async_new(&c->loop, endpoints, opt, &c->core);
    if (rv != 0) {
        c->core = NULL;
        open_undo(c, false);
        return rv;
    }
    c->core->owner = c;
    if (uv_async_init(&c->loop, &c->wake, wake_cb) != 0) {
        open_undo(c, false);
        return BATON_EIO;
    }
    c->wake.data = c;
    pthread_mutex_init(&c->mu, NULL);
    /* The thread starts with SIGPIPE blocked: a write to a connection the node
     * closed then fails with EPIPE instead of killing the embedding program. */
    sigset_t sigpipe, old;
    sigemptyset(&sigpipe);
    sigaddset(&sigpipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigpipe, &old);
    rv = pthread_create(&c->thread, NULL, thread_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rv != 0) {
        pthread_mutex_destroy(&c->mu);
        open_undo(c, true);
        return BATON_EIO;
    }
    *out = c;
    return 0;
}

void baton_close(struct baton *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    uv_async_send(&c->wake);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    uv_loop_close(&c->loop);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
