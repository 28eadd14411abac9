/* libbaton internals shared by the files of src/client (never installed). */
#ifndef BATON_CLIENT_INTERNAL_H
#define BATON_CLIENT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "baton.pb-c.h"
#include "baton/baton.h"
#include "raft/raft.h"
#include "util/idmap.h"

#define CLIENT_ENDPOINTS_MAX 64
#define CLIENT_WHY_LEN (2 * BATON_ADDR_MAX + 128)

/* ---- Pure pieces (endpoints.c, backoff.c, table.c): no loop, no clock. ---- */

/* A parsed endpoint list: each item "host:port" as net_addr_parse accepts it. */
struct client_endpoints {
    size_t n;
    char v[CLIENT_ENDPOINTS_MAX][BATON_ADDR_MAX];
};

/* Splits a comma-separated list (spaces around items are ignored) into out.
 * BATON_EINVAL for NULL, an empty list or item, an item net_addr_parse rejects,
 * an item of BATON_ADDR_MAX bytes or more, or more than CLIENT_ENDPOINTS_MAX. */
int client_endpoints_parse(const char *list, struct client_endpoints *out)
    __attribute__((warn_unused_result));

/* xorshift64*: the next pseudo-random value of *state (never 0 once seeded). */
uint64_t client_rand_next(uint64_t *state);

/* The wait before retry number attempt (1 for the first retry): a value in
 * [d/2, d] chosen by rnd, where d = min(max_ms, base_ms * 2^(attempt-1)).
 * base_ms 0 counts as 1; attempt 0 counts as 1. */
uint64_t client_backoff_delay(unsigned attempt, uint64_t base_ms, uint64_t max_ms, uint64_t rnd);

/* When to retry: min(now + delay, deadline), stored in *at. BATON_ETIMEDOUT if
 * now >= deadline (no retry is possible). */
int client_backoff_at(uint64_t now, uint64_t deadline, uint64_t delay, uint64_t *at)
    __attribute__((warn_unused_result));

/* ---- The core (core.c, link.c): one connection, requests, retries. ---- */

struct baton_async;
struct client_req;

/* A request's end: err 0 with the cluster's answer resp (borrowed), or a final
 * error with resp NULL or the cluster's error answer. sent_ms is the
 * baton_now_ms() time the answered attempt was sent; why is borrowed. */
typedef void (*client_done_cb)(struct baton_async *core, void *arg, int err,
                               const Baton__ClientResponse *resp, int64_t sent_ms,
                               const char *why);

/* LOST: an at-most-once request that may have reached a node whose connection
 * then went away; its timer ends it with BATON_ETIMEDOUT (outcome unknown). */
enum client_req_state { CLIENT_REQ_QUEUED, CLIENT_REQ_SENT, CLIENT_REQ_BACKOFF, CLIENT_REQ_LOST };

/* Flags of client_core_submit. AT_MOST_ONCE: the request is not idempotent (a
 * counter increment), so it is never sent again once it may have reached a node:
 * it is retried only after answers that say it was not executed (EUNAVAILABLE,
 * ESHUTDOWN, EBUSY, NOT_LEADER) or when it was never written to a connection. */
#define CLIENT_REQ_AT_MOST_ONCE 1u
/* BUSY_FINAL: BATON_EBUSY from the cluster is the answer (another membership change
 * or transfer is in progress), not a reason to retry. */
#define CLIENT_REQ_BUSY_FINAL 2u

struct client_req {
    struct baton_async *core;
    struct client_req *prev, *next; /* core->reqs */
    uint64_t id;
    enum client_req_state state;
    struct raft_buf frame;     /* the encoded request, copied for each send */
    uint64_t deadline;         /* loop-clock ms */
    uint64_t attempt_ms;       /* how long one attempt may go unanswered */
    uint64_t connect_ms;       /* how long a connect may hang before the next node */
    uint64_t link_gen;         /* the link a SENT request went out on */
    int64_t sent_ms;           /* baton_now_ms() of the latest send */
    unsigned attempt;
    bool at_most_once;         /* CLIENT_REQ_AT_MOST_ONCE */
    bool busy_final;           /* CLIENT_REQ_BUSY_FINAL */
    uv_timer_t timer;          /* deadline, backoff or attempt timeout */
    client_done_cb done;
    void *arg;
    char why[CLIENT_WHY_LEN];  /* the latest reason for a retry */
};

/* One TCP connection to one endpoint (link.c). */
struct client_link {
    struct baton_async *core;
    struct net_conn *conn;
    uv_connect_t connect;
    uint64_t gen;
    bool connected;
    char endpoint[BATON_ADDR_MAX];
};

struct baton_async {
    uv_loop_t *loop;
    struct baton_options opt;
    struct client_endpoints eps;
    size_t next_ep;
    char target[BATON_ADDR_MAX]; /* where the next connection goes */
    struct client_link *link;    /* the current connection, or NULL */
    uint64_t link_gen;
    unsigned unavailable;        /* EUNAVAILABLE answers in a row from this target */
    struct util_idmap table;
    struct client_req *reqs;
    struct baton_keeper *keepers;
    uint64_t next_id;
    uint64_t rnd;
    uv_timer_t closer;           /* never started: closing it defers the close callback */
    unsigned handles;            /* handles still to be closed */
    bool closing;
    baton_close_cb close_cb;
    void *close_arg;
    void *owner;                 /* the struct baton of a blocking client, else NULL */
};

/* Submits req (borrowed; its id is set here) with a deadline of timeout_ms +
 * extra_ms from now and an attempt allowance of attempt_ms (0: the client's
 * attempt_timeout_ms; a connect gets as long) + extra_ms; flags is 0 or
 * CLIENT_REQ_AT_MOST_ONCE. On 0, done runs exactly once; *out (may be NULL) is
 * the request until then. BATON_ESHUTDOWN, BATON_ENOMEM, BATON_ETOOBIG. */
int client_core_submit(struct baton_async *core, Baton__ClientRequest *req,
                       uint64_t timeout_ms, uint64_t extra_ms, uint64_t attempt_ms,
                       unsigned flags, client_done_cb done, void *arg,
                       struct client_req **out) __attribute__((warn_unused_result));

/* Ends r now with BATON_ECANCELED (its callback runs before this returns). */
void client_req_cancel(struct client_req *r);

/* Ends r with err (core.c); resp and why as for client_done_cb. */
void client_req_finish(struct client_req *r, int err, const Baton__ClientResponse *resp,
                       const char *why);

/* Schedules r's next attempt after a backoff, or ends it with BATON_ETIMEDOUT
 * when the deadline leaves no room. why (borrowed) is kept for the final message. */
void client_req_retry(struct client_req *r, bool backoff, const char *why);

/* Sends r on the current link, or queues it and starts a connection. */
void client_req_send(struct client_req *r);

/* A handle of the core was closed (counts down core->handles). */
void client_core_handle_closed(struct baton_async *core);

/* link.c: opens a connection to core->target (no-op if one exists). */
void client_link_open(struct baton_async *core);
/* Closes the current link; its requests are retried (with backoff if set). */
void client_link_drop(struct baton_async *core, bool backoff, const char *why);
/* The current link is connected: send what waits. */
void client_core_link_up(struct baton_async *core);
/* Link gen closed: requests sent on it or waiting for it are retried. */
void client_core_link_down(struct baton_async *core, uint64_t gen, bool backoff,
                           const char *why);
/* A frame arrived on the current link (payload borrowed). */
void client_core_frame(struct baton_async *core, const uint8_t *payload, size_t len);
/* Moves the target to the next endpoint in turn. */
void client_core_rotate(struct baton_async *core);

/* The baton_now_ms() clock (hrtime-based, CLOCK_MONOTONIC). */
int64_t client_now_ms(void);

/* ops.c: baton_async_lease_keepalive with its own attempt allowance (attempt_ms,
 * 0 for the client's) that also yields the request (to cancel it). */
int client_keepalive_submit(struct baton_async *c, uint64_t lease, uint64_t timeout_ms,
                            uint64_t attempt_ms, baton_cb cb, void *arg,
                            struct client_req **out) __attribute__((warn_unused_result));

/* ---- Listings (list.c). ---- */

/* Fill res->leases (views into pb, which must outlive them) or res->members (a
 * copy) from an answer; free with client_result_clear. BATON_EMALFORMED (a lease
 * id 0; no members, a member id 0, an unknown role, an address too long),
 * BATON_ENOMEM. */
int client_decode_leases(const Baton__LeaseListResponse *pb, struct baton_result *res)
    __attribute__((warn_unused_result));
int client_decode_members(const Baton__ClusterMembersResponse *pb, struct baton_result *res)
    __attribute__((warn_unused_result));
/* Fill res->change and res->members from a membership change's answer; free with
 * client_result_clear. BATON_EMALFORMED (index or cluster id 0, or members as for
 * client_decode_members), BATON_ENOMEM. */
int client_decode_change(const Baton__MemberChangeResponse *pb, struct baton_result *res)
    __attribute__((warn_unused_result));
/* Frees the arrays the decoders allocated in res and empties them. */
void client_result_clear(struct baton_result *res);

/* ---- Keepers (keeper.c). ---- */

struct baton_keeper {
    struct baton_async *core;
    struct baton_keeper *prev, *next; /* core->keepers */
    uint64_t lease;
    uint64_t ttl_ms;
    _Atomic int64_t deadline;  /* baton_now_ms() ms, lease_margin_ms taken off; 0: lost */
    uv_timer_t tick;           /* next keepalive */
    uv_timer_t lost;           /* the lease's deadline */
    struct client_req *inflight;
    bool lost_fired;
    bool stopping;
    int open_handles;
    baton_lost_cb lost_cb;
    void *arg;
};

/* Stops and frees k on its loop (no callback). */
void client_keeper_stop(struct baton_keeper *k);

/* ---- Blocking client (sync.c). ---- */

/* Runs fn(core, arg) on the loop of the blocking client that owns core and waits;
 * used by baton_keeper_stop for a blocking client's keeper. */
void client_sync_run_on_loop(void *owner, void (*fn)(void *arg), void *arg);

#endif
