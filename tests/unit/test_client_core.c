/* Tests of libbaton's core against fake nodes on loopback: redirects, retries, deadlines, keepers. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/internal.h"
#include "net/addr.h"
#include "net/codec.h"
#include "net/conn.h"

enum fake_action { FAKE_ANSWER, FAKE_HOLD, FAKE_CLOSE };

/* Storage for one answer; the handler points resp's result at one of these. */
struct fake_answer {
    Baton__ClientResponse resp;
    Baton__LeaseGrantResponse grant;
    Baton__LeaseKeepaliveResponse keepalive;
    Baton__LockAcquireResponse acquire;
    Baton__StatusResponse status;
    Baton__CounterIncrResponse incr;
    Baton__CounterGetResponse get;
    Baton__MemberChangeResponse change;
    Baton__Member members[2];
    Baton__Member *member_ptrs[2];
    Baton__LeaderTransferResponse transfer;
};

struct fake;
typedef enum fake_action (*fake_fn)(struct fake *f, const Baton__ClientRequest *req,
                                    struct fake_answer *a);

/* A fake node: answers each request as its handler says. */
struct fake {
    uv_tcp_t listener;
    char addr[64];
    fake_fn fn;
    int requests;
    int64_t last_request_ms;   /* when the latest request arrived */
    int64_t last_answered_ms;  /* arrival of the latest request answered with success */
    uint64_t id;               /* node id in status answers */
    const char *leader;        /* for NOT_LEADER */
    int budget;                /* handler-specific count */
    struct net_conn *held_conn;
    uint64_t held_id;
    uv_timer_t late;
};

static uv_loop_t loop;
static uv_timer_t ticker;
static struct fake fakes[2];

static void fake_send(struct net_conn *conn, struct fake_answer *a)
{
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    env.body_case = BATON__ENVELOPE__BODY_RESPONSE;
    env.response = &a->resp;
    struct raft_buf frame;
    ck_assert_int_eq(net_encode_envelope(&env, NET_FRAME_MAX_DEFAULT, &frame), 0);
    ck_assert_int_eq(net_conn_send(conn, frame), 0);
}

static void answer_init(struct fake_answer *a, uint64_t id)
{
    baton__client_response__init(&a->resp);
    baton__lease_grant_response__init(&a->grant);
    baton__lease_keepalive_response__init(&a->keepalive);
    baton__lock_acquire_response__init(&a->acquire);
    baton__status_response__init(&a->status);
    baton__counter_incr_response__init(&a->incr);
    baton__counter_get_response__init(&a->get);
    baton__member_change_response__init(&a->change);
    baton__leader_transfer_response__init(&a->transfer);
    for (int i = 0; i < 2; i++) {
        baton__member__init(&a->members[i]);
        a->member_ptrs[i] = &a->members[i];
    }
    a->resp.id = id;
}

static void fake_frame_cb(struct net_conn *conn, const uint8_t *payload, size_t len)
{
    struct fake *f = conn->data;
    Baton__Envelope *env = baton__envelope__unpack(NULL, len, payload);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env->body_case, BATON__ENVELOPE__BODY_REQUEST);
    f->requests++;
    f->last_request_ms = baton_now_ms();
    struct fake_answer a;
    answer_init(&a, env->request->id);
    enum fake_action act = f->fn(f, env->request, &a);
    if (act == FAKE_ANSWER) {
        if (a.resp.err == 0) {
            f->last_answered_ms = f->last_request_ms;
        }
        fake_send(conn, &a);
    } else if (act == FAKE_CLOSE) {
        net_conn_close(conn, 0, "fake closes");
    } else {
        f->held_conn = conn;
        f->held_id = env->request->id;
    }
    baton__envelope__free_unpacked(env, NULL);
}

static void fake_close_cb(struct net_conn *conn, int err, const char *why)
{
    struct fake *f = conn->data;
    if (f->held_conn == conn) {
        f->held_conn = NULL;
    }
}

static void fake_connection_cb(uv_stream_t *server, int status)
{
    struct fake *f = server->data;
    ck_assert_int_eq(status, 0);
    struct net_conn *c = net_conn_new(&loop, NULL, fake_frame_cb, fake_close_cb, f);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
    ck_assert_int_eq(net_conn_start(c), 0);
}

static void fake_start(struct fake *f, fake_fn fn, uint64_t id)
{
    char why[128];
    memset(f, 0, sizeof(*f));
    f->fn = fn;
    f->id = id;
    f->listener.data = f;
    ck_assert_int_eq(net_listen(&loop, &f->listener, "127.0.0.1:0", fake_connection_cb, why,
                                sizeof(why)), 0);
    struct sockaddr_in sin;
    int len = sizeof(sin);
    ck_assert_int_eq(uv_tcp_getsockname(&f->listener, (struct sockaddr *)&sin, &len), 0);
    snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%d", ntohs(sin.sin_port));
    uv_timer_init(&loop, &f->late);
    f->late.data = f;
}

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

static void setup(void)
{
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    /* Wakes uv_run(UV_RUN_ONCE) regularly so run_until can check its deadline. */
    uv_timer_init(&loop, &ticker);
    uv_timer_start(&ticker, tick_cb, 5, 5);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h)) {
        return;
    }
    if (h->type == UV_TCP && h->data != NULL && h->data != &fakes[0] && h->data != &fakes[1]) {
        net_conn_close(h->data, 0, "test over"); /* a fake's accepted connection */
    } else {
        uv_close(h, NULL);
    }
}

static void teardown(void)
{
    uv_walk(&loop, close_walk_cb, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void run_until(const bool *flag, int64_t max_ms)
{
    int64_t end = baton_now_ms() + max_ms;
    while (!*flag && baton_now_ms() < end) {
        uv_run(&loop, UV_RUN_ONCE);
    }
}

struct outcome {
    bool done;
    int err;
    struct baton_result res;
    char message[256];
    int64_t at;
};

static void outcome_cb(int err, const struct baton_result *res, void *arg)
{
    struct outcome *o = arg;
    ck_assert(!o->done);
    o->done = true;
    o->err = err;
    o->res = *res;
    snprintf(o->message, sizeof(o->message), "%s", res->message);
    o->res.message = o->message;
    o->res.lock.waiters = NULL;
    o->at = baton_now_ms();
}

static struct baton_async *client_new(const char *endpoints, uint64_t attempt_timeout_ms)
{
    struct baton_options opt;
    baton_options_init(&opt);
    if (attempt_timeout_ms != 0) {
        opt.attempt_timeout_ms = attempt_timeout_ms;
    }
    struct baton_async *c;
    ck_assert_int_eq(baton_async_new(&loop, endpoints, &opt, &c), 0);
    return c;
}

static void closed_cb(void *arg)
{
    *(bool *)arg = true;
}

static void client_close(struct baton_async *c)
{
    bool closed = false;
    baton_async_close(c, closed_cb, &closed);
    ck_assert(!closed);
    run_until(&closed, 2000);
    ck_assert(closed);
}

/* ---- Handlers ---- */

static enum fake_action fn_status(struct fake *f, const Baton__ClientRequest *req,
                                  struct fake_answer *a)
{
    a->status.id = f->id;
    a->status.role = "leader";
    a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_STATUS;
    a->resp.status = &a->status;
    return FAKE_ANSWER;
}

static enum fake_action fn_not_leader(struct fake *f, const Baton__ClientRequest *req,
                                      struct fake_answer *a)
{
    a->resp.err = BATON_ENOTLEADER;
    a->resp.leader_client_addr = (char *)(f->leader ? f->leader : "");
    return FAKE_ANSWER;
}

static enum fake_action grant(struct fake_answer *a, uint64_t lease, uint64_t ttl)
{
    a->grant.lease = lease;
    a->grant.ttl_ms = ttl;
    a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LEASE_GRANT;
    a->resp.lease_grant = &a->grant;
    return FAKE_ANSWER;
}

static enum fake_action fn_unavailable_twice(struct fake *f, const Baton__ClientRequest *req,
                                             struct fake_answer *a)
{
    if (f->requests <= 2) {
        a->resp.err = BATON_EUNAVAILABLE;
        a->resp.message = "no leader";
        return FAKE_ANSWER;
    }
    return grant(a, 7, 1000);
}

static enum fake_action fn_hold(struct fake *f, const Baton__ClientRequest *req,
                                struct fake_answer *a)
{
    return FAKE_HOLD;
}

static enum fake_action fn_locked(struct fake *f, const Baton__ClientRequest *req,
                                  struct fake_answer *a)
{
    a->resp.err = BATON_ELOCKED;
    a->resp.message = "held by lease 9";
    return FAKE_ANSWER;
}

static enum fake_action fn_close_first(struct fake *f, const Baton__ClientRequest *req,
                                       struct fake_answer *a)
{
    return f->requests == 1 ? FAKE_CLOSE : grant(a, 8, 1000);
}

static void late_cb(uv_timer_t *t)
{
    struct fake *f = t->data;
    ck_assert_ptr_nonnull(f->held_conn);
    struct fake_answer a;
    answer_init(&a, f->held_id);
    a.acquire.token = 42;
    a.acquire.lease = 3;
    a.resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LOCK_ACQUIRE;
    a.resp.lock_acquire = &a.acquire;
    fake_send(f->held_conn, &a);
}

/* A queued acquire: granted 300 ms after it arrives. */
static enum fake_action fn_acquire_late(struct fake *f, const Baton__ClientRequest *req,
                                        struct fake_answer *a)
{
    ck_assert_int_eq(req->op_case, BATON__CLIENT_REQUEST__OP_LOCK_ACQUIRE);
    ck_assert_uint_eq(req->lock_acquire->wait_ms, 500);
    uv_timer_start(&f->late, late_cb, 300, 0);
    return FAKE_HOLD;
}

/* Keepalives: acknowledged while budget lasts, then held (or EEXPIRED if id 99). */
static enum fake_action fn_keepalive(struct fake *f, const Baton__ClientRequest *req,
                                     struct fake_answer *a)
{
    ck_assert_int_eq(req->op_case, BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE);
    if (f->id == 99) {
        a->resp.err = BATON_EEXPIRED;
        return FAKE_ANSWER;
    }
    if (f->budget <= 0) {
        return FAKE_HOLD;
    }
    f->budget--;
    a->keepalive.lease = req->lease_keepalive->lease;
    a->keepalive.ttl_ms = 300;
    a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LEASE_KEEPALIVE;
    a->resp.lease_keepalive = &a->keepalive;
    return FAKE_ANSWER;
}

/* Counters: the first budget requests are closed on (budget > 0) or answered
 * EBUSY (budget < 0, counting up); then increments answer 41 + n and reads 41
 * from node f->id. */
static enum fake_action fn_counter(struct fake *f, const Baton__ClientRequest *req,
                                   struct fake_answer *a)
{
    if (f->budget > 0) {
        f->budget--;
        return FAKE_CLOSE;
    }
    if (f->budget < 0) {
        f->budget++;
        a->resp.err = BATON_EBUSY;
        a->resp.message = "rate limited";
        return FAKE_ANSWER;
    }
    if (req->op_case == BATON__CLIENT_REQUEST__OP_COUNTER_INCR) {
        ck_assert_str_eq(req->counter_incr->name, "hits");
        a->incr.value = 41 + req->counter_incr->n;
        a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_COUNTER_INCR;
        a->resp.counter_incr = &a->incr;
    } else {
        ck_assert_int_eq(req->op_case, BATON__CLIENT_REQUEST__OP_COUNTER_GET);
        a->get.value = 41;
        a->get.node = f->id;
        a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_COUNTER_GET;
        a->resp.counter_get = &a->get;
    }
    return FAKE_ANSWER;
}

static void late_incr_cb(uv_timer_t *t)
{
    struct fake *f = t->data;
    ck_assert_ptr_nonnull(f->held_conn);
    struct fake_answer a;
    answer_init(&a, f->held_id);
    a.incr.value = 5;
    a.resp.result_case = BATON__CLIENT_RESPONSE__RESULT_COUNTER_INCR;
    a.resp.counter_incr = &a.incr;
    fake_send(f->held_conn, &a);
}

/* An increment answered 300 ms after it arrives (a slow sync). */
static enum fake_action fn_incr_late(struct fake *f, const Baton__ClientRequest *req,
                                     struct fake_answer *a)
{
    uv_timer_start(&f->late, late_incr_cb, 300, 0);
    return FAKE_HOLD;
}

/* Membership: the first budget requests are answered EBUSY (budget > 0) or closed
 * on (budget < 0, counting up); then an add answers index 9 with node 1 and the new
 * member (a learner), a remove index 10 with node 1 alone, a transfer leader 2. */
static enum fake_action fn_member(struct fake *f, const Baton__ClientRequest *req,
                                  struct fake_answer *a)
{
    if (f->budget > 0) {
        f->budget--;
        a->resp.err = BATON_EBUSY;
        a->resp.message = "a membership change is in progress";
        return FAKE_ANSWER;
    }
    if (f->budget < 0) {
        f->budget++;
        return FAKE_CLOSE;
    }
    a->members[0].id = 1;
    a->members[0].role = BATON_MEMBER_VOTER;
    a->members[0].peer_addr = "127.0.0.1:7201";
    a->members[0].client_addr = "127.0.0.1:7101";
    a->change.members = a->member_ptrs;
    a->change.n_members = 1;
    a->change.cluster_id = 0xc1u;
    switch (req->op_case) {
    case BATON__CLIENT_REQUEST__OP_MEMBER_ADD:
        a->members[1].id = req->member_add->id;
        a->members[1].role = BATON_MEMBER_LEARNER;
        a->members[1].peer_addr = req->member_add->peer_addr;
        a->members[1].client_addr = req->member_add->client_addr;
        a->change.n_members = 2;
        a->change.index = 9;
        a->resp.message = "node 4 joined as a learner";
        a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_MEMBER_ADD;
        a->resp.member_add = &a->change;
        break;
    case BATON__CLIENT_REQUEST__OP_MEMBER_REMOVE:
        a->change.index = 10;
        a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_MEMBER_REMOVE;
        a->resp.member_remove = &a->change;
        break;
    default:
        ck_assert_int_eq(req->op_case, BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER);
        a->transfer.leader = 2;
        a->transfer.term = 7;
        a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LEADER_TRANSFER;
        a->resp.leader_transfer = &a->transfer;
        break;
    }
    return FAKE_ANSWER;
}

/* ---- Tests ---- */

START_TEST(test_follows_redirect)
{
    fake_start(&fakes[0], fn_not_leader, 1);
    fake_start(&fakes[1], fn_status, 2);
    fakes[0].leader = fakes[1].addr;
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_status(c, 1000, outcome_cb, &o), 0);
    run_until(&o.done, 2000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.status.id, 2);
    ck_assert_int_eq(fakes[0].requests, 1);
    ck_assert_int_eq(fakes[1].requests, 1);
    client_close(c);
}
END_TEST

START_TEST(test_unknown_leader_tries_next)
{
    char eps[160];
    fake_start(&fakes[0], fn_not_leader, 1);
    fake_start(&fakes[1], fn_status, 2);
    snprintf(eps, sizeof(eps), "%s,%s", fakes[0].addr, fakes[1].addr);
    struct baton_async *c = client_new(eps, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_status(c, 2000, outcome_cb, &o), 0);
    run_until(&o.done, 3000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.status.id, 2);
    client_close(c);
}
END_TEST

/* A node whose connect never completes (unroutable here, or refused at once where
 * the network says so) costs one attempt timeout, not the call. */
START_TEST(test_hung_connect_tries_next)
{
    char eps[160];
    fake_start(&fakes[0], fn_status, 2);
    snprintf(eps, sizeof(eps), "10.255.255.1:9,%s", fakes[0].addr);
    struct baton_async *c = client_new(eps, 100);
    for (int i = 0; i < 2; i++) {
        struct outcome o = {0};
        int64_t t0 = baton_now_ms();
        ck_assert_int_eq(baton_async_status(c, 3000, outcome_cb, &o), 0);
        run_until(&o.done, 4000);
        ck_assert_int_eq(o.err, 0);
        ck_assert_int_lt(o.at - t0, 1000);
    }
    client_close(c);
}
END_TEST

/* A listener that never accepts, its backlog filled: further connects hang (the
 * kernel drops their SYNs). fds[0] is the listener, the rest fill the backlog. */
static void hung_listener(int fds[4], char *addr, size_t len)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fds[0], (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fds[0], 0), 0);
    ck_assert_int_eq(getsockname(fds[0], (struct sockaddr *)&sin, &slen), 0);
    for (int i = 1; i < 4; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fds[i], (struct sockaddr *)&sin, sizeof(sin));
    }
    usleep(20000);
    snprintf(addr, len, "127.0.0.1:%d", ntohs(sin.sin_port));
}

START_TEST(test_full_backlog_tries_next)
{
    int fds[4];
    char hung[64], eps[160];
    hung_listener(fds, hung, sizeof(hung));
    fake_start(&fakes[0], fn_status, 2);
    snprintf(eps, sizeof(eps), "%s,%s", hung, fakes[0].addr);
    struct baton_async *c = client_new(eps, 100);
    for (int i = 0; i < 2; i++) {
        struct outcome o = {0};
        int64_t t0 = baton_now_ms();
        ck_assert_int_eq(baton_async_status(c, 3000, outcome_cb, &o), 0);
        run_until(&o.done, 4000);
        ck_assert_int_eq(o.err, 0);
        ck_assert_int_lt(o.at - t0, 1000);
    }
    client_close(c);
    for (int i = 0; i < 4; i++) {
        close(fds[i]);
    }
}
END_TEST

START_TEST(test_unavailable_retried_with_backoff)
{
    fake_start(&fakes[0], fn_unavailable_twice, 1);
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    int64_t t0 = baton_now_ms();
    ck_assert_int_eq(baton_async_lease_grant(c, 1000, 2000, outcome_cb, &o), 0);
    run_until(&o.done, 3000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.lease.id, 7);
    ck_assert_int_eq(fakes[0].requests, 3);
    /* Two backoffs of at least 10 and 20 ms (base 20: [d/2, d]). */
    ck_assert_int_ge(o.at - t0, 30);
    /* The lease's deadline counts from the answered attempt's send time. */
    ck_assert_int_le(o.res.lease.deadline_ms, fakes[0].last_answered_ms + 1000);
    ck_assert_int_ge(o.res.lease.deadline_ms, t0 + 1000);
    client_close(c);
}
END_TEST

START_TEST(test_deadline_when_unanswered)
{
    fake_start(&fakes[0], fn_hold, 1);
    struct baton_async *c = client_new(fakes[0].addr, 80);
    struct outcome o = {0};
    int64_t t0 = baton_now_ms();
    ck_assert_int_eq(baton_async_lock_inspect(c, "L", 300, outcome_cb, &o), 0);
    run_until(&o.done, 2000);
    ck_assert_int_eq(o.err, BATON_ETIMEDOUT);
    ck_assert_int_ge(o.at - t0, 295);
    ck_assert_int_lt(o.at - t0, 300 + 250); /* + scheduling on a loaded machine */
    /* The 80 ms attempt timeout gave up on the silent connection and re-sent. */
    ck_assert_int_ge(fakes[0].requests, 2);
    client_close(c);
}
END_TEST

START_TEST(test_deadline_when_refused)
{
    struct baton_async *c = client_new("127.0.0.1:1", 0);
    struct outcome o = {0};
    int64_t t0 = baton_now_ms();
    ck_assert_int_eq(baton_async_lease_revoke(c, 3, 250, outcome_cb, &o), 0);
    run_until(&o.done, 2000);
    ck_assert_int_eq(o.err, BATON_ETIMEDOUT);
    ck_assert_int_ge(o.at - t0, 245);
    ck_assert_int_lt(o.at - t0, 250 + 250);
    ck_assert_ptr_nonnull(strstr(o.message, "deadline passed"));
    client_close(c);
}
END_TEST

START_TEST(test_acquire_deadline_includes_wait)
{
    fake_start(&fakes[0], fn_acquire_late, 1);
    struct baton_async *c = client_new(fakes[0].addr, 100);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_lock_acquire(c, "L", 3, 500, 0, 100, outcome_cb, &o), 0);
    run_until(&o.done, 2000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.token, 42);
    ck_assert_int_eq(fakes[0].requests, 1);
    client_close(c);
}
END_TEST

START_TEST(test_final_error_not_retried)
{
    fake_start(&fakes[0], fn_locked, 1);
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_lock_acquire(c, "L", 3, 0, 0, 1000, outcome_cb, &o), 0);
    run_until(&o.done, 2000);
    ck_assert_int_eq(o.err, BATON_ELOCKED);
    ck_assert_str_eq(o.message, "held by lease 9");
    ck_assert_int_eq(fakes[0].requests, 1);
    client_close(c);
}
END_TEST

START_TEST(test_connection_loss_retried)
{
    fake_start(&fakes[0], fn_close_first, 1);
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_lease_grant(c, 1000, 2000, outcome_cb, &o), 0);
    run_until(&o.done, 3000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.lease.id, 8);
    ck_assert_int_eq(fakes[0].requests, 2);
    client_close(c);
}
END_TEST

START_TEST(test_close_cancels_pending)
{
    fake_start(&fakes[0], fn_hold, 1);
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_lock_check(c, "L", 4, 5000, outcome_cb, &o), 0);
    while (fakes[0].requests == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    client_close(c);
    ck_assert(o.done);
    ck_assert_int_eq(o.err, BATON_ECANCELED);
}
END_TEST

START_TEST(test_bad_arguments)
{
    struct baton_async *c = client_new("127.0.0.1:1", 0);
    struct outcome o = {0};
    struct baton_async *none;
    ck_assert_int_eq(baton_async_new(&loop, "nohost:1", NULL, &none), BATON_EINVAL);
    ck_assert_int_eq(baton_async_new(&loop, "", NULL, &none), BATON_EINVAL);
    ck_assert_int_eq(baton_async_lease_grant(c, 0, 0, outcome_cb, &o), BATON_EINVAL);
    ck_assert_int_eq(baton_async_lock_acquire(c, "", 1, 0, 0, 0, outcome_cb, &o), BATON_EINVAL);
    ck_assert_int_eq(baton_async_lock_release(c, NULL, 1, 0, outcome_cb, &o), BATON_EINVAL);
    ck_assert_int_eq(baton_async_status(c, 0, NULL, NULL), BATON_EINVAL);
    client_close(c);
    ck_assert(!o.done);
}
END_TEST

struct lost {
    bool fired;
    int why;
    int64_t at;
    int64_t deadline_before;
};

static void lost_cb(struct baton_keeper *k, uint64_t lease, int why, void *arg)
{
    struct lost *l = arg;
    ck_assert(!l->fired);
    l->fired = true;
    l->why = why;
    l->at = baton_now_ms();
    ck_assert_int_eq(baton_keeper_deadline(k), 0);
}

/* Acks for 2 keepalives, then silence: lost fires by the last acked send + TTL. */
START_TEST(test_keeper_lost_by_deadline)
{
    fake_start(&fakes[0], fn_keepalive, 1);
    fakes[0].budget = 2;
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct baton_lease lease = {5, 300, baton_now_ms() + 300};
    struct baton_keeper *k;
    struct lost l = {0};
    ck_assert_int_eq(baton_async_lease_keep(c, &lease, lost_cb, &l, &k), 0);
    int64_t end = baton_now_ms() + 3000, max_deadline = 0;
    while (!l.fired && baton_now_ms() < end) {
        uv_run(&loop, UV_RUN_ONCE);
        int64_t d = baton_keeper_deadline(k);
        max_deadline = d > max_deadline ? d : max_deadline;
    }
    ck_assert(l.fired);
    ck_assert_int_eq(l.why, BATON_ETIMEDOUT);
    ck_assert_int_eq(fakes[0].budget, 0);
    /* The client sent the last acked keepalive no later than the fake received
     * it, so the deadline it reported never passed receipt + TTL - margin: exact. */
    int64_t bound = fakes[0].last_answered_ms + 300;
    ck_assert_int_le(max_deadline, bound - 5);
    ck_assert_int_ge(max_deadline, bound - 5 - 50);
    /* The callback runs from a timer: on time, but a loaded machine delays it. */
    ck_assert_int_le(l.at, bound + 250);
    ck_assert_int_ge(l.at, bound - 5 - 50);
    /* Keepalives went out every TTL/3 (~100 ms): the second ack came ~100 ms in. */
    ck_assert_int_ge(fakes[0].last_answered_ms - (lease.deadline_ms - 300), 90);
    baton_keeper_stop(k);
    client_close(c);
}
END_TEST

/* Keepalives of a 600 ms lease, answered while budget lasts, then held. */
static enum fake_action fn_keepalive_600(struct fake *f, const Baton__ClientRequest *req,
                                         struct fake_answer *a)
{
    enum fake_action act = fn_keepalive(f, req, a);
    a->keepalive.ttl_ms = 600;
    return act;
}

/* A node that stops answering (a paused leader) is given up within a quarter of
 * the TTL, not the client's 2 s attempt timeout, so the next node keeps the lease
 * alive before it runs out. */
START_TEST(test_keeper_survives_hung_node)
{
    fake_start(&fakes[0], fn_keepalive_600, 1);
    fake_start(&fakes[1], fn_keepalive_600, 2);
    fakes[0].budget = 1;
    fakes[1].budget = 1000;
    char eps[160];
    snprintf(eps, sizeof(eps), "%s,%s", fakes[0].addr, fakes[1].addr);
    struct baton_async *c = client_new(eps, 0);
    c->next_ep = 0; /* white box: start at the node that will hang */
    client_core_rotate(c);
    struct baton_lease lease = {5, 600, baton_now_ms() + 600};
    struct baton_keeper *k;
    struct lost l = {0};
    ck_assert_int_eq(baton_async_lease_keep(c, &lease, lost_cb, &l, &k), 0);
    run_until(&l.fired, 1500);
    ck_assert(!l.fired);
    ck_assert_int_eq(fakes[0].budget, 0);
    ck_assert_int_ge(fakes[1].requests, 3);
    ck_assert_int_gt(baton_keeper_deadline(k), baton_now_ms());
    baton_keeper_stop(k);
    client_close(c);
}
END_TEST

START_TEST(test_keeper_lost_on_expired)
{
    fake_start(&fakes[0], fn_keepalive, 99);
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct baton_lease lease = {5, 3000, baton_now_ms() + 3000};
    struct baton_keeper *k;
    struct lost l = {0};
    ck_assert_int_eq(baton_async_lease_keep(c, &lease, lost_cb, &l, &k), 0);
    ck_assert_int_gt(baton_keeper_deadline(k), baton_now_ms());
    run_until(&l.fired, 2000);
    ck_assert(l.fired);
    ck_assert_int_eq(l.why, BATON_EEXPIRED);
    ck_assert_int_lt(l.at - (lease.deadline_ms - 3000), 200);
    baton_keeper_stop(k);
    client_close(c);
}
END_TEST

START_TEST(test_keeper_stop_and_close)
{
    fake_start(&fakes[0], fn_keepalive, 1);
    fakes[0].budget = 1000;
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct baton_lease lease = {5, 300, baton_now_ms() + 300};
    struct baton_keeper *k1, *k2;
    struct lost l1 = {0}, l2 = {0};
    ck_assert_int_eq(baton_async_lease_keep(c, &lease, lost_cb, &l1, &k1), 0);
    ck_assert_int_eq(baton_async_lease_keep(c, &lease, lost_cb, &l2, &k2), 0);
    bool never = false;
    run_until(&never, 700);
    ck_assert(!l1.fired && !l2.fired); /* kept alive past its first TTL */
    ck_assert_int_gt(baton_keeper_deadline(k1), baton_now_ms());
    baton_keeper_stop(k1);
    client_close(c); /* frees k2 */
    ck_assert(!l1.fired && !l2.fired);
}
END_TEST

START_TEST(test_counter_incr_and_get)
{
    fake_start(&fakes[0], fn_counter, 3);
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0}, g = {0};
    ck_assert_int_eq(baton_async_counter_incr(c, "hits", 2, 1000, outcome_cb, &o), 0);
    ck_assert_int_eq(baton_async_counter_get(c, "hits", 1000, outcome_cb, &g), 0);
    run_until(&o.done, 2000);
    run_until(&g.done, 2000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.counter.value, 43);
    ck_assert_int_eq(g.err, 0);
    ck_assert_uint_eq(g.res.counter.value, 41);
    ck_assert_uint_eq(g.res.counter.node, 3);
    ck_assert_int_eq(baton_async_counter_incr(c, "hits", 0, 1000, outcome_cb, &o),
                     BATON_EINVAL);
    ck_assert_int_eq(baton_async_counter_incr(c, "", 1, 1000, outcome_cb, &o), BATON_EINVAL);
    ck_assert_int_eq(baton_async_counter_get(c, NULL, 1000, outcome_cb, &o), BATON_EINVAL);
    client_close(c);
}
END_TEST

/* An increment that reached the node and lost its answer is not sent again (it
 * would count twice): outcome unknown, long before the deadline. */
START_TEST(test_counter_incr_not_resent_after_loss)
{
    fake_start(&fakes[0], fn_counter, 1);
    fakes[0].budget = 1;
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    int64_t t0 = baton_now_ms();
    ck_assert_int_eq(baton_async_counter_incr(c, "hits", 1, 3000, outcome_cb, &o), 0);
    run_until(&o.done, 4000);
    ck_assert_int_eq(o.err, BATON_ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(o.message, "outcome unknown"));
    ck_assert_int_lt(o.at - t0, 1000);
    ck_assert_int_eq(fakes[0].requests, 1);
    /* A read is idempotent: the same loss is retried. */
    struct outcome g = {0};
    fakes[0].budget = 1;
    ck_assert_int_eq(baton_async_counter_get(c, "hits", 3000, outcome_cb, &g), 0);
    run_until(&g.done, 4000);
    ck_assert_int_eq(g.err, 0);
    ck_assert_int_eq(fakes[0].requests, 3);
    client_close(c);
}
END_TEST

/* Answers that say "not executed" are retried, increments included. */
START_TEST(test_counter_incr_retried_when_busy)
{
    fake_start(&fakes[0], fn_counter, 1);
    fakes[0].budget = -2;
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_counter_incr(c, "hits", 1, 3000, outcome_cb, &o), 0);
    run_until(&o.done, 4000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.counter.value, 42);
    ck_assert_int_eq(fakes[0].requests, 3);
    client_close(c);
}
END_TEST

/* A sent increment outlives the attempt timeout on its connection: it cannot go
 * elsewhere, so it waits for its answer until the deadline. */
START_TEST(test_counter_incr_waits_for_slow_answer)
{
    fake_start(&fakes[0], fn_incr_late, 1);
    struct baton_async *c = client_new(fakes[0].addr, 100);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_counter_incr(c, "hits", 1, 2000, outcome_cb, &o), 0);
    run_until(&o.done, 3000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.counter.value, 5);
    ck_assert_int_eq(fakes[0].requests, 1);
    client_close(c);
}
END_TEST

/* Refused connections are retried for an increment too (nothing was sent). */
START_TEST(test_counter_incr_refused_until_deadline)
{
    struct baton_async *c = client_new("127.0.0.1:1", 0);
    struct outcome o = {0};
    int64_t t0 = baton_now_ms();
    ck_assert_int_eq(baton_async_counter_incr(c, "hits", 1, 250, outcome_cb, &o), 0);
    run_until(&o.done, 2000);
    ck_assert_int_eq(o.err, BATON_ETIMEDOUT);
    ck_assert_int_ge(o.at - t0, 245);
    ck_assert_ptr_null(strstr(o.message, "outcome unknown"));
    client_close(c);
}
END_TEST

/* A membership change is at most once, yet a NOT_LEADER answer (the node did not
 * act) sends it on to the leader; the answer's words and configuration come back. */
START_TEST(test_member_add_follows_redirect)
{
    fake_start(&fakes[0], fn_not_leader, 1);
    fake_start(&fakes[1], fn_member, 2);
    fakes[0].leader = fakes[1].addr;
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_member_add(c, 4, "127.0.0.1:7204", "127.0.0.1:7104", 2000,
                                            outcome_cb, &o), 0);
    run_until(&o.done, 3000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_uint_eq(o.res.change.index, 9);
    ck_assert_uint_eq(o.res.change.cluster_id, 0xc1u);
    ck_assert_uint_eq(o.res.n_members, 2); /* the array itself is gone with the callback */
    ck_assert_str_eq(o.message, "node 4 joined as a learner");
    ck_assert_int_eq(fakes[0].requests, 1);
    ck_assert_int_eq(fakes[1].requests, 1);

    struct outcome r = {0};
    ck_assert_int_eq(baton_async_member_remove(c, 3, 2000, outcome_cb, &r), 0);
    run_until(&r.done, 3000);
    ck_assert_int_eq(r.err, 0);
    ck_assert_uint_eq(r.res.change.index, 10);
    struct outcome t = {0};
    ck_assert_int_eq(baton_async_leader_transfer(c, 0, 2000, outcome_cb, &t), 0);
    run_until(&t.done, 3000);
    ck_assert_int_eq(t.err, 0);
    ck_assert_uint_eq(t.res.transfer.leader, 2);
    ck_assert_uint_eq(t.res.transfer.term, 7);
    client_close(c);
}
END_TEST

/* EBUSY is a change in progress: a final answer, not retried. */
START_TEST(test_member_busy_is_final)
{
    fake_start(&fakes[0], fn_member, 1);
    fakes[0].budget = 5;
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_member_remove(c, 3, 2000, outcome_cb, &o), 0);
    run_until(&o.done, 3000);
    ck_assert_int_eq(o.err, BATON_EBUSY);
    ck_assert_str_eq(o.message, "a membership change is in progress");
    ck_assert_int_eq(fakes[0].requests, 1);
    client_close(c);
}
END_TEST

/* A change whose connection was lost after it was sent is not sent again: outcome
 * unknown. A refused argument never leaves. */
START_TEST(test_member_not_resent_after_loss)
{
    fake_start(&fakes[0], fn_member, 1);
    fakes[0].budget = -1;
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_leader_transfer(c, 2, 2000, outcome_cb, &o), 0);
    run_until(&o.done, 3000);
    ck_assert_int_eq(o.err, BATON_ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(o.message, "outcome unknown"));
    ck_assert_int_eq(fakes[0].requests, 1);
    ck_assert_int_eq(baton_async_member_add(c, 0, "127.0.0.1:1", "127.0.0.1:2", 100,
                                            outcome_cb, &o), BATON_EINVAL);
    ck_assert_int_eq(baton_async_member_add(c, 4, "", "127.0.0.1:2", 100, outcome_cb, &o),
                     BATON_EINVAL);
    ck_assert_int_eq(baton_async_member_add(c, 4, "127.0.0.1:1", NULL, 100, outcome_cb, &o),
                     BATON_EINVAL);
    ck_assert_int_eq(baton_async_member_remove(c, 0, 100, outcome_cb, &o), BATON_EINVAL);
    client_close(c);
}
END_TEST

static enum fake_action fn_incr_unavailable(struct fake *f, const Baton__ClientRequest *req,
                                            struct fake_answer *a)
{
    if (f->requests <= 3) {
        a->resp.err = BATON_EUNAVAILABLE;
        a->resp.message = "no leader";
        return FAKE_ANSWER;
    }
    a->incr.value = 1;
    a->resp.result_case = BATON__CLIENT_RESPONSE__RESULT_COUNTER_INCR;
    a->resp.counter_incr = &a->incr;
    return FAKE_ANSWER;
}

/* Three EUNAVAILABLE answers in a row move the client to another node (here the
 * same one again): an at-most-once request the node said it did not run goes
 * along, it is not lost with the connection. */
START_TEST(test_at_most_once_survives_rotation)
{
    fake_start(&fakes[0], fn_incr_unavailable, 1);
    struct baton_async *c = client_new(fakes[0].addr, 0);
    struct outcome o = {0};
    ck_assert_int_eq(baton_async_counter_incr(c, "hits", 1, 4000, outcome_cb, &o), 0);
    run_until(&o.done, 5000);
    ck_assert_int_eq(o.err, 0);
    ck_assert_int_eq(fakes[0].requests, 4);
    client_close(c);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("client_core");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 20);
    tcase_add_test(t, test_follows_redirect);
    tcase_add_test(t, test_unknown_leader_tries_next);
    tcase_add_test(t, test_hung_connect_tries_next);
    tcase_add_test(t, test_full_backlog_tries_next);
    tcase_add_test(t, test_unavailable_retried_with_backoff);
    tcase_add_test(t, test_deadline_when_unanswered);
    tcase_add_test(t, test_deadline_when_refused);
    tcase_add_test(t, test_acquire_deadline_includes_wait);
    tcase_add_test(t, test_final_error_not_retried);
    tcase_add_test(t, test_connection_loss_retried);
    tcase_add_test(t, test_close_cancels_pending);
    tcase_add_test(t, test_bad_arguments);
    tcase_add_test(t, test_counter_incr_and_get);
    tcase_add_test(t, test_counter_incr_not_resent_after_loss);
    tcase_add_test(t, test_counter_incr_retried_when_busy);
    tcase_add_test(t, test_counter_incr_waits_for_slow_answer);
    tcase_add_test(t, test_counter_incr_refused_until_deadline);
    tcase_add_test(t, test_member_add_follows_redirect);
    tcase_add_test(t, test_member_busy_is_final);
    tcase_add_test(t, test_member_not_resent_after_loss);
    tcase_add_test(t, test_at_most_once_survives_rotation);
    suite_add_tcase(s, t);
    TCase *k = tcase_create("keeper");
    tcase_add_checked_fixture(k, setup, teardown);
    tcase_set_timeout(k, 20);
    tcase_add_test(k, test_keeper_lost_by_deadline);
    tcase_add_test(k, test_keeper_survives_hung_node);
    tcase_add_test(k, test_keeper_lost_on_expired);
    tcase_add_test(k, test_keeper_stop_and_close);
    suite_add_tcase(s, k);
    return s;
}

int main(void)
{
    /* libuv writes without MSG_NOSIGNAL: a write to a closed peer must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(core_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
