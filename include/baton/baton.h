/* libbaton: the client library of baton — leases, locks with fencing tokens, status. */
#ifndef BATON_BATON_H
#define BATON_BATON_H

/*
 * Leases and locks are served by the Raft leader; G-Counters by any node (with or
 * without a quorum), so counter calls and status are answered by whichever node
 * the client is connected to.
 *
 * Two faces over one core.
 *
 *  - The blocking API (struct baton, baton_open ... baton_close) runs the library's
 *    own libuv loop on a background thread. Its calls may be made from any number of
 *    threads at once, each call waiting for its own answer. Callbacks it runs (the
 *    "lease lost" callback) run on that background thread.
 *  - The async API (struct baton_async, baton_async_*) runs on a uv loop the caller
 *    owns. Every function must be called on that loop's thread, and every callback
 *    runs there, from uv_run(). As in libuv: if a call that takes a callback
 *    returns an error, the callback never runs; if it returns 0, the callback runs
 *    exactly once. As in any libuv program, the caller should ignore SIGPIPE
 *    (signal(SIGPIPE, SIG_IGN)): a write to a connection the node has closed
 *    raises it. (The blocking API blocks SIGPIPE on its own thread.)
 *
 * Connections and retries. The client holds one TCP connection, to the node it
 * believes is the leader (at first a random endpoint, so that clients spread). A
 * node that is not the leader answers BATON_ENOTLEADER with the leader's client
 * address, and the client reconnects there; when no leader is known it tries the
 * endpoints in turn. So does it when a connect does not complete, or a request
 * stays unanswered, within attempt_timeout_ms (plus wait_ms for a queued acquire),
 * and after three BATON_EUNAVAILABLE answers in a row from one node. A lost
 * connection, BATON_EUNAVAILABLE (no leader, or an outcome lost in a leader
 * change), BATON_ESHUTDOWN (the node is stopping) and BATON_EBUSY (rate limit,
 * leadership transfer) are retried after an exponential backoff with jitter
 * (options below), but never past the call's deadline: the call's
 * timeout_ms (the client's default when 0) from the moment it is made, plus wait_ms
 * for a lock acquire that may queue. A call whose deadline passes ends with
 * BATON_ETIMEDOUT, which means "outcome unknown": the cluster may or may not have
 * executed it. Every retry repeats the same request id; lease_keepalive, lease_revoke,
 * lock_acquire (same lease: same token, same place in the queue), lock_release,
 * lock_inspect, lock_check, lease_list, cluster_members and status are safe to
 * repeat. lease_grant is not: a retried grant can leave behind an extra lease
 * nobody knows about, which simply expires after its TTL. counter_incr is not
 * either, and is never repeated once it may have reached a node (see
 * baton_async_counter_incr); counter_get is safe. member_add, member_remove and
 * leader_transfer are at most once too (see baton_async_member_add).
 *
 * Errors are negative BATON_E* codes (baton/error.h); baton_strerror() describes them.
 * Errors that the cluster returns as a final answer are passed on as they are:
 * BATON_EEXPIRED (unknown or expired lease), BATON_ELOCKED (not acquired within
 * wait_ms), BATON_ENOTFOUND (e.g. releasing a lock the lease does not hold) and
 * BATON_EINVAL (the cluster rejected an argument) in particular.
 *
 * Clocks. Every time the library reports is milliseconds of the monotonic clock
 * that baton_now_ms() reads (CLOCK_MONOTONIC), never wall-clock time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuv's loop type, declared here so that users of the blocking API need not
 * include <uv.h>; it is the same type as uv_loop_t. */
struct uv_loop_s;

#define BATON_VERSION_MAJOR 0
#define BATON_VERSION_MINOR 1
#define BATON_VERSION_PATCH 0

/* Longest "host:port" the library handles, terminating NUL included. */
#define BATON_ADDR_MAX 256

/* Client settings. Fill with baton_options_init(), then change what you need. */
struct baton_options {
    /* Default per-call deadline, used when a call passes timeout_ms 0. Default 5000. */
    uint64_t timeout_ms;
    /* A connect that does not complete this long, or a connection that leaves a
     * request unanswered this long (beyond its wait_ms), is given up and the next
     * node tried. Default 2000. */
    uint64_t attempt_timeout_ms;
    /* Retry backoff: the n-th retry waits a random time in [d/2, d], where
     * d = min(backoff_max_ms, backoff_base_ms * 2^(n-1)). Defaults 20 and 1000. */
    uint64_t backoff_base_ms;
    uint64_t backoff_max_ms;
    /* The lease-lost callback fires this much before the lease's deadline, to
     * absorb timer latency. Default 5. */
    uint64_t lease_margin_ms;
    /* Largest frame accepted from the cluster. Default 4 MiB. */
    size_t max_frame;
};

/* Fills opt (borrowed) with the defaults. Any thread. */
void baton_options_init(struct baton_options *opt);

/* Milliseconds on the monotonic clock every deadline of this library is measured
 * on. Any thread. */
int64_t baton_now_ms(void);

/* A lease as the client knows it. deadline_ms is the send time of the request
 * whose answer last confirmed the lease plus its TTL: the cluster cannot expire
 * the lease before it, so the holder may act until then. */
struct baton_lease {
    uint64_t id;
    uint64_t ttl_ms;
    int64_t deadline_ms;
};

/* One node's view of the cluster (the status call). */
struct baton_status {
    uint64_t id;
    char role[16];
    uint64_t term;
    uint64_t leader;
    uint64_t commit;
    uint64_t applied;
    uint64_t last_index;
    char client_addr[BATON_ADDR_MAX];
    char leader_client_addr[BATON_ADDR_MAX];
    uint64_t counters;          /* G-Counters this node knows */
    uint64_t gossip_bytes_sent; /* counter gossip (delta) bytes it sent since it started */
};

/* A G-Counter's value as one node knows it (counter calls). node is the id of the
 * node that answered (counter_get only; 0 for counter_incr). */
struct baton_counter {
    uint64_t value;
    uint64_t node;
};

/* A lock's state (the inspect call). waiters are the queued leases, first first. */
struct baton_lock_info {
    bool held;
    uint64_t lease;
    uint64_t token;
    size_t n_waiters;
    uint64_t *waiters;
};

/* A live lease as the leader lists it (the lease_list call). */
struct baton_lease_entry {
    uint64_t id;
    uint64_t ttl_ms;       /* the TTL it was granted */
    uint64_t remaining_ms; /* the leader's estimate of what the lease had left when
                            * it answered: its lease clock, which each keepalive
                            * restarts at the TTL and a failover extends; 0 once the
                            * leader counts it run out (its expiry is on its way) */
    size_t n_locks;
    char **locks;          /* the locks it holds, by lock creation index */
    size_t n_waits;
    char **waits;          /* the locks it is queued for, by lock creation index */
};

/* A member's role in the Raft configuration: a voter counts toward quorums, a
 * learner only receives the log. */
enum baton_member_role {
    BATON_MEMBER_VOTER = 1,
    BATON_MEMBER_LEARNER = 2,
};

/* One member of the committed configuration (the cluster_members call). */
struct baton_member {
    uint64_t id;
    int role;                         /* enum baton_member_role */
    char peer_addr[BATON_ADDR_MAX];
    char client_addr[BATON_ADDR_MAX]; /* "" if the configuration names none */
};

/* The outcome of a membership change (member_add, member_remove). */
struct baton_member_change {
    uint64_t index;      /* the configuration entry that made the change, now committed */
    uint64_t cluster_id; /* the cluster's id: what a new member passes to batond --cluster-id */
};

/* The outcome of a leadership transfer. */
struct baton_transfer {
    uint64_t leader; /* the node that leads now */
    uint64_t term;   /* its term, as the node that answered knows it */
};

/* The answer to one async call; which fields are set depends on the call.
 * Borrowed: valid only during the callback (copy what you keep). */
struct baton_result {
    struct baton_lease lease;    /* lease_grant, lease_keepalive; lock_acquire: id */
    uint64_t token;              /* lock_acquire: the fencing token */
    bool current;                /* lock_check */
    struct baton_lock_info lock; /* lock_inspect */
    struct baton_status status;  /* status */
    struct baton_counter counter; /* counter_incr, counter_get */
    struct baton_lease_entry *leases; /* lease_list: n_leases, in lease id order */
    size_t n_leases;
    struct baton_member *members;     /* cluster_members: n_members, in configuration order;
                                       * member_add, member_remove: the configuration the
                                       * change committed */
    size_t n_members;
    struct baton_member_change change; /* member_add, member_remove */
    struct baton_transfer transfer;   /* leader_transfer */
    const char *message;         /* why, on error (the cluster's or the library's); a
                                  * success may say more too (member_add); "" */
};

/* Completion of an async call. err is 0 or a negative BATON_E* code; res is never
 * NULL and is borrowed for the duration of the call. */
typedef void (*baton_cb)(int err, const struct baton_result *res, void *arg);

/* Completion of baton_async_close: the client is freed. */
typedef void (*baton_close_cb)(void *arg);

struct baton_keeper;

/* The lease kept by k is lost: the holder must stop touching whatever the lease
 * protects NOW. why is BATON_EEXPIRED (the cluster says the lease is unknown or
 * expired) or BATON_ETIMEDOUT (no keepalive was acknowledged in time: the lease
 * may expire any moment). Fencing tokens protect the resource from anything the
 * holder does after this point. Runs once at most, on the client's loop (the
 * library's thread for a blocking client: return quickly and call no blocking
 * baton function from it). k stays valid until baton_keeper_stop. */
typedef void (*baton_lost_cb)(struct baton_keeper *k, uint64_t lease, int why, void *arg);

/* ------------------------------------------------------------------------------
 * Async API: everything on the caller's uv loop.
 * ---------------------------------------------------------------------------- */

struct baton_async;

/* Creates a client on loop (borrowed; must outlive the client) for endpoints, a
 * comma-separated list of "IPv4:port", "[IPv6]:port" or "localhost:port" client
 * addresses (borrowed, copied). opt is borrowed and copied; NULL means defaults.
 * Nothing is sent until the first call. On 0, *out is the client, to be freed
 * with baton_async_close. Errors: BATON_EINVAL (bad endpoint list, more than 64
 * endpoints; options with a zero timeout_ms, attempt_timeout_ms or
 * backoff_base_ms, backoff_max_ms below backoff_base_ms, or max_frame under 64),
 * BATON_ENOMEM. Loop thread only. */
int baton_async_new(struct uv_loop_s *loop, const char *endpoints,
                    const struct baton_options *opt, struct baton_async **out)
    __attribute__((warn_unused_result));

/* Closes c: every call still pending completes with BATON_ECANCELED (outcome
 * unknown), every keeper is stopped and freed without its lost callback, the
 * connection is closed; cb (may be NULL) runs once everything is freed. c must
 * not be used after this call. Loop thread only; not from within a callback of
 * c that would then use c again. */
void baton_async_close(struct baton_async *c, baton_close_cb cb, void *arg);

/* The calls. Each returns 0, after which cb runs exactly once with the answer,
 * or fails at once (cb never runs) with BATON_EINVAL (NULL cb, empty or NULL name,
 * zero ttl_ms or n), BATON_ESHUTDOWN (c is closing), BATON_ENOMEM or BATON_ETOOBIG
 * (request larger than max_frame). The callback's err is 0, BATON_ETIMEDOUT
 * (deadline passed, outcome unknown), BATON_ECANCELED (client closed, outcome
 * unknown), BATON_EMALFORMED (the cluster's answer made no sense), or the
 * cluster's final error listed with each call. timeout_ms 0 means the client's
 * default. name is borrowed (copied). Loop thread only. */

/* Grants a lease of ttl_ms (the cluster may raise it to its minimum): res->lease.
 * Not idempotent (see above). Final errors: BATON_EINVAL. */
int baton_async_lease_grant(struct baton_async *c, uint64_t ttl_ms, uint64_t timeout_ms,
                            baton_cb cb, void *arg) __attribute__((warn_unused_result));

/* Extends lease to its full TTL once: res->lease. Answered by the leader only
 * while its leadership is current. Final errors: BATON_EEXPIRED. */
int baton_async_lease_keepalive(struct baton_async *c, uint64_t lease, uint64_t timeout_ms,
                                baton_cb cb, void *arg) __attribute__((warn_unused_result));

/* Ends lease and releases every lock it holds. Final errors: BATON_EEXPIRED. */
int baton_async_lease_revoke(struct baton_async *c, uint64_t lease, uint64_t timeout_ms,
                             baton_cb cb, void *arg) __attribute__((warn_unused_result));

/* Acquires lock name for lease: res->token is the fencing token, res->lease.id the
 * lease. wait_ms 0 tries once; otherwise the request queues (FIFO) until granted
 * or wait_ms has passed, and the call's deadline is timeout + wait_ms. After the
 * holder's lease expires (not on a clean release) nobody gets the lock for
 * lock_delay_ms. Final errors: BATON_ELOCKED (held; or not granted within
 * wait_ms), BATON_EEXPIRED, BATON_EINVAL. */
int baton_async_lock_acquire(struct baton_async *c, const char *name, uint64_t lease,
                             uint64_t wait_ms, uint64_t lock_delay_ms, uint64_t timeout_ms,
                             baton_cb cb, void *arg) __attribute__((warn_unused_result));

/* Releases lock name held by lease (the next waiter gets it). Final errors:
 * BATON_ENOTFOUND (lease does not hold it), BATON_ELOCKED (another lease holds
 * it), BATON_EEXPIRED. A release retried after a leader change whose first
 * attempt did take effect gets BATON_ENOTFOUND or BATON_ELOCKED: either way the
 * lease no longer holds the lock. */
int baton_async_lock_release(struct baton_async *c, const char *name, uint64_t lease,
                             uint64_t timeout_ms, baton_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Reads lock name linearizably: res->lock (waiters borrowed for the callback). */
int baton_async_lock_inspect(struct baton_async *c, const char *name, uint64_t timeout_ms,
                             baton_cb cb, void *arg) __attribute__((warn_unused_result));

/* Whether token is the current holder's token of lock name, linearizably:
 * res->current. */
int baton_async_lock_check(struct baton_async *c, const char *name, uint64_t token,
                           uint64_t timeout_ms, baton_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Lists every live lease, linearizably: the leader answers after a ReadIndex
 * round (as for lock_inspect), with each lease's granted TTL, its own estimate of
 * the time left, and the locks the lease holds and waits for. res->leases (with
 * every name) is borrowed for the callback: baton_lease_list_copy keeps it. Final
 * errors: BATON_ETOOBIG (the list does not fit in one of the cluster's frames). */
int baton_async_lease_list(struct baton_async *c, uint64_t timeout_ms, baton_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* The committed Raft configuration, from the leader after a ReadIndex round (a
 * follower may lag, and a change the leader has not committed yet is left out):
 * res->members, borrowed for the callback. */
int baton_async_cluster_members(struct baton_async *c, uint64_t timeout_ms, baton_cb cb,
                                void *arg) __attribute__((warn_unused_result));

/* Membership changes and leadership transfer (etcdctl member add / member
 * remove / move-leader). The leader serves them, one change at a time: each is
 * answered once its configuration entry has committed. They are AT MOST ONCE
 * like counter_incr: sent again only after an answer that says the cluster did
 * not act (NOT_LEADER, BATON_EUNAVAILABLE, BATON_ESHUTDOWN) or before they could
 * reach a node; a connection lost after that ends the call with
 * BATON_ETIMEDOUT (outcome unknown: look at cluster_members). BATON_EBUSY is a
 * final answer here, not retried.
 *
 * Adds node id with its peer and client addresses (borrowed, copied; IPv4:port,
 * [IPv6]:port or localhost:port). The new member joins as a learner (it receives
 * the log but does not vote) and the leader promotes it to voter by itself once
 * it has caught up; the call is answered when the learner entry commits, before
 * that promotion (watch cluster_members for role voter). The new node is
 * started with batond --join --cluster-id res->change.cluster_id; it may be
 * started before or after this call. res->change and res->members (the
 * configuration with the learner; borrowed for the callback); res->message says
 * the promotion follows. Final errors: BATON_EEXIST (id is a member already, or
 * another member has one of the addresses), BATON_EBUSY (another change is in
 * progress), BATON_ECONFIG (the configuration is full), BATON_EINVAL (id 0, a bad
 * address). Fails at once with BATON_EINVAL for id 0 or a NULL or empty address. */
int baton_async_member_add(struct baton_async *c, uint64_t id, const char *peer_addr,
                           const char *client_addr, uint64_t timeout_ms, baton_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Removes member id (voter or learner). A removed node stops once it learns of its
 * removal: the leader tells it when the removal has committed (a leader removing
 * itself leads until then, then steps down and stops). res->change and
 * res->members (the configuration without it). Final errors: BATON_ENOTFOUND (not
 * a member), BATON_ECONFIG (the last voter), BATON_EBUSY (another change is in
 * progress). Fails at once with BATON_EINVAL for id 0. */
int baton_async_member_remove(struct baton_async *c, uint64_t id, uint64_t timeout_ms,
                              baton_cb cb, void *arg) __attribute__((warn_unused_result));

/* Hands the leadership to voter id, or (id 0) to the most up-to-date other voter
 * (Raft's TimeoutNow): the leader lets the target catch up, refusing new writes
 * with BATON_EBUSY meanwhile (for at most one election timeout), tells it to
 * start an election at once, and answers when it sees the new leader:
 * res->transfer. Asking the leader itself for itself succeeds at once. Final
 * errors: BATON_ENOTFOUND (not a member), BATON_ECONFIG (a learner, or no other
 * voter), BATON_EBUSY (another transfer is under way), BATON_ELAGGING (the target
 * did not catch up within the election timeout: behind or unreachable; the
 * leader stays), BATON_ETIMEDOUT (the target was told to take over but no
 * result came in time: outcome unknown). */
int baton_async_leader_transfer(struct baton_async *c, uint64_t id, uint64_t timeout_ms,
                                baton_cb cb, void *arg) __attribute__((warn_unused_result));

/* Status of whichever node the client is connected to: res->status. */
int baton_async_status(struct baton_async *c, uint64_t timeout_ms, baton_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Adds n (at least 1) to counter name at the node the client is connected to
 * (any node, leader or not, even one cut off from the majority): res->counter.value
 * is the counter's value at that node right after the increment, which is durable
 * there before the answer is sent; it reaches the other nodes by gossip. An
 * increment is not idempotent, so it is AT MOST ONCE: it is retried (within the
 * deadline) only when it was certainly not executed — the connection could not
 * be made or the request not written, or the node answered BATON_EBUSY,
 * BATON_ESHUTDOWN or BATON_EUNAVAILABLE — and once it may have reached a node,
 * it waits there for the answer: if the connection is lost first, or the deadline
 * passes, the call ends with BATON_ETIMEDOUT, "outcome unknown" (the increment
 * may or may not have been counted; repeating it may count it twice). A client
 * that also makes lock or lease calls may drop its connection to follow the
 * leader, which ends the increments in flight on it that way too: give counters
 * a client of their own if that matters. Final
 * errors: BATON_EOVERFLOW (the value would pass UINT64_MAX; nothing changed),
 * BATON_EINVAL (a name the cluster refuses: counter names are 1 to 255 bytes).
 * Fails at once with BATON_EINVAL for n == 0. */
int baton_async_counter_incr(struct baton_async *c, const char *name, uint64_t n,
                             uint64_t timeout_ms, baton_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* Reads counter name at the node the client is connected to: res->counter.value
 * is the sum of every slot that node knows (durable there), res->counter.node is
 * its id. A counter nobody incremented reads 0. Nodes converge by gossip, so two
 * nodes may briefly answer differently; each node's value never goes down. To
 * ask one particular node, use a client whose endpoint list holds only that
 * node: counter and status calls never leave the node a client is connected to
 * for another one (only a NOT_LEADER answer, which these calls never get, or a
 * failure moves a client, and a client with one endpoint has nowhere to go).
 * Retried like the other idempotent calls. Final errors: BATON_EINVAL,
 * BATON_EOVERFLOW (the sum passes UINT64_MAX). */
int baton_async_counter_get(struct baton_async *c, const char *name, uint64_t timeout_ms,
                            baton_cb cb, void *arg) __attribute__((warn_unused_result));

/* Keeps lease (borrowed, copied) alive from c's loop: a keepalive at once and then
 * every ttl_ms/3 (a node that leaves one unanswered for ttl_ms/4, or for
 * attempt_timeout_ms if that is less, is given up for the next one); each
 * acknowledgement moves the lease's deadline to the send time
 * of the acknowledged keepalive + TTL. lost_cb (required) fires when that deadline
 * (less lease_margin_ms) arrives without a newer acknowledgement, or at once when
 * the cluster answers BATON_EEXPIRED; keepalives stop then. A lease whose
 * deadline_ms has already passed is lost at once (on the next loop iteration).
 * On 0, *out is the keeper, owned by c: free it with baton_keeper_stop (or let
 * baton_async_close do it). Errors: BATON_EINVAL (NULL lease, zero id or ttl,
 * NULL lost_cb), BATON_ESHUTDOWN, BATON_ENOMEM. Loop thread only. */
int baton_async_lease_keep(struct baton_async *c, const struct baton_lease *lease,
                           baton_lost_cb lost_cb, void *arg, struct baton_keeper **out)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------------
 * Keepers (both APIs).
 * ---------------------------------------------------------------------------- */

/* Until when the kept lease is safe to act on (baton_now_ms() clock): the send
 * time of the last acknowledged keepalive + TTL, less lease_margin_ms; 0 once the
 * lease is lost. Check it before each action on the protected resource: it is
 * exact, whereas lost_cb runs from a timer armed at this instant and can be late
 * when the loop is delayed (a loaded machine, a long callback). Any thread. */
int64_t baton_keeper_deadline(const struct baton_keeper *k);

/* Stops keeping the lease alive (the lease itself stays until it expires or is
 * revoked) and frees k; lost_cb does not run after this returns. For a keeper of
 * a blocking client: any thread (it waits for the library's loop), including
 * from lost_cb. For an async client: its loop thread, including from lost_cb. */
void baton_keeper_stop(struct baton_keeper *k);

/* ------------------------------------------------------------------------------
 * Blocking API: a background thread runs the client; calls from any thread.
 * ---------------------------------------------------------------------------- */

struct baton;

/* Starts a client for endpoints (as baton_async_new; borrowed, copied) with opt
 * (borrowed, copied; NULL for defaults) on its own thread. On 0, *out is the
 * client, to be freed with baton_close. Errors: BATON_EINVAL, BATON_ENOMEM,
 * BATON_EIO (the thread or loop could not be started). Any thread. */
int baton_open(const char *endpoints, const struct baton_options *opt, struct baton **out)
    __attribute__((warn_unused_result));

/* Stops the client's thread and frees it, with every keeper it still has (their
 * handles become invalid; lost callbacks do not run). No other thread may be
 * inside a call on c, and c must not be used afterwards. Not from the library's
 * own thread (a lost callback). */
void baton_close(struct baton *c);

/* The blocking calls mirror the async ones and return what their callback would
 * get as err: 0, the cluster's final errors listed with the async call,
 * BATON_ETIMEDOUT (outcome unknown), BATON_EMALFORMED, BATON_ENOMEM, BATON_ETOOBIG,
 * BATON_ESHUTDOWN (baton_close is under way), or BATON_EINVAL for bad arguments
 * and for a call made from the library's own thread (a lost callback), which
 * would deadlock. The cluster's explanation of an error is not kept. Output pointers are the
 * caller's, written only on success (and may be NULL when not wanted, except
 * where said). Any thread, concurrently. */

int baton_lease_grant(struct baton *c, uint64_t ttl_ms, uint64_t timeout_ms,
                      struct baton_lease *lease) __attribute__((warn_unused_result));
int baton_lease_keepalive(struct baton *c, uint64_t lease, uint64_t timeout_ms,
                          struct baton_lease *out) __attribute__((warn_unused_result));
int baton_lease_revoke(struct baton *c, uint64_t lease, uint64_t timeout_ms)
    __attribute__((warn_unused_result));
int baton_lock_acquire(struct baton *c, const char *name, uint64_t lease, uint64_t wait_ms,
                       uint64_t lock_delay_ms, uint64_t timeout_ms, uint64_t *token)
    __attribute__((warn_unused_result));
int baton_lock_release(struct baton *c, const char *name, uint64_t lease, uint64_t timeout_ms)
    __attribute__((warn_unused_result));
/* info is required. On 0, info->waiters is malloc'd (NULL when there are none):
 * release with baton_lock_info_clear. */
int baton_lock_inspect(struct baton *c, const char *name, uint64_t timeout_ms,
                       struct baton_lock_info *info) __attribute__((warn_unused_result));
void baton_lock_info_clear(struct baton_lock_info *info);
int baton_lock_check(struct baton *c, const char *name, uint64_t token, uint64_t timeout_ms,
                     bool *current) __attribute__((warn_unused_result));
int baton_status_get(struct baton *c, uint64_t timeout_ms, struct baton_status *st)
    __attribute__((warn_unused_result));
/* As baton_async_counter_incr: on 0, *value (may be NULL) is the counter's value
 * at the answering node. BATON_ETIMEDOUT means the increment may or may not have
 * been counted (at most once, never twice). */
int baton_counter_incr(struct baton *c, const char *name, uint64_t n, uint64_t timeout_ms,
                       uint64_t *value) __attribute__((warn_unused_result));
/* As baton_async_counter_get: on 0, *out (may be NULL) has the value and the
 * answering node's id. */
int baton_counter_get(struct baton *c, const char *name, uint64_t timeout_ms,
                      struct baton_counter *out) __attribute__((warn_unused_result));

/* As baton_async_lease_list. leases and n are required. On 0, *leases is one
 * malloc'd block holding n entries and all their names (NULL when n is 0), to be
 * freed with baton_lease_list_free. */
int baton_lease_list(struct baton *c, uint64_t timeout_ms, struct baton_lease_entry **leases,
                     size_t *n) __attribute__((warn_unused_result));
/* Frees what baton_lease_list or baton_lease_list_copy returned (NULL is fine).
 * Any thread. */
void baton_lease_list_free(struct baton_lease_entry *leases);
/* Deep-copies n entries (borrowed; e.g. res->leases in a callback) into one
 * malloc'd block, *out (NULL when n is 0), freed with baton_lease_list_free.
 * BATON_EINVAL (NULL out, or NULL src with n > 0), BATON_ENOMEM. Any thread. */
int baton_lease_list_copy(const struct baton_lease_entry *src, size_t n,
                          struct baton_lease_entry **out) __attribute__((warn_unused_result));

/* As baton_async_cluster_members. members and n are required. On 0, *members is
 * a malloc'd array of n members (NULL when n is 0), freed with
 * baton_cluster_members_free. */
int baton_cluster_members(struct baton *c, uint64_t timeout_ms, struct baton_member **members,
                          size_t *n) __attribute__((warn_unused_result));
/* Frees what baton_cluster_members returned (NULL is fine). Any thread. */
void baton_cluster_members_free(struct baton_member *members);

/* As baton_async_member_add / baton_async_member_remove; on 0, *out (may be NULL)
 * has the configuration entry's index and the cluster id (use baton_cluster_members
 * for the configuration itself). */
int baton_member_add(struct baton *c, uint64_t id, const char *peer_addr,
                     const char *client_addr, uint64_t timeout_ms,
                     struct baton_member_change *out) __attribute__((warn_unused_result));
int baton_member_remove(struct baton *c, uint64_t id, uint64_t timeout_ms,
                        struct baton_member_change *out) __attribute__((warn_unused_result));
/* As baton_async_leader_transfer; on 0, *out (may be NULL) names the new leader. */
int baton_leader_transfer(struct baton *c, uint64_t id, uint64_t timeout_ms,
                          struct baton_transfer *out) __attribute__((warn_unused_result));

/* As baton_async_lease_keep, from the library's thread; lost_cb runs there. On 0,
 * *out is owned by c until baton_keeper_stop. Errors: BATON_EINVAL,
 * BATON_ESHUTDOWN, BATON_ENOMEM. */
int baton_lease_keep(struct baton *c, const struct baton_lease *lease, baton_lost_cb lost_cb,
                     void *arg, struct baton_keeper **out) __attribute__((warn_unused_result));

/* A lock held through a lease of its own (baton_lock_hold_acquire). */
struct baton_lock_hold {
    struct baton_lease lease;
    uint64_t token;
    struct baton_keeper *keeper;
};

/* Grants a lease of ttl_ms, keeps it alive (lost_cb as for baton_lease_keep, may
 * not be NULL), and acquires lock name with it, waiting up to wait_ms. On 0, *hold
 * (required) has the lease, the fencing token and the keeper; the caller checks
 * baton_keeper_deadline(hold->keeper) before each action on the protected
 * resource and ends with baton_lock_hold_release. On error nothing is left
 * behind (the lease is revoked, best effort). Errors: as baton_lease_grant and
 * baton_lock_acquire (BATON_ELOCKED: not acquired within wait_ms). timeout_ms
 * applies to each of the three steps. */
int baton_lock_hold_acquire(struct baton *c, const char *name, uint64_t ttl_ms,
                            uint64_t wait_ms, uint64_t timeout_ms, baton_lost_cb lost_cb,
                            void *arg, struct baton_lock_hold *hold)
    __attribute__((warn_unused_result));

/* Stops hold's keeper, releases the lock and revokes the lease (which would also
 * release the lock). Returns the first error of release and revoke; a lease that
 * had already expired, or a lock already released or handed on (BATON_EEXPIRED,
 * BATON_ENOTFOUND, BATON_ELOCKED) is not an error here: the lease does not hold
 * the lock either way. *hold is cleared in every case. */
int baton_lock_hold_release(struct baton *c, const char *name, struct baton_lock_hold *hold,
                            uint64_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
