/* libbaton's async calls: each builds a ClientRequest, and its answer becomes a baton_result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

/* One async call in flight: who to tell, and which answer to expect. */
struct op_call {
    Baton__ClientRequest__OpCase op;
    baton_cb cb;
    void *arg;
};

static int decode_lease(const Baton__ClientResponse *resp, int64_t sent_ms,
                        struct baton_result *res)
{
    uint64_t id, ttl;
    if (resp->result_case == BATON__CLIENT_RESPONSE__RESULT_LEASE_GRANT) {
        id = resp->lease_grant->lease;
        ttl = resp->lease_grant->ttl_ms;
    } else if (resp->result_case == BATON__CLIENT_RESPONSE__RESULT_LEASE_KEEPALIVE) {
        id = resp->lease_keepalive->lease;
        ttl = resp->lease_keepalive->ttl_ms;
    } else {
        return BATON_EMALFORMED;
    }
    if (id == 0 || ttl == 0 || ttl > INT64_MAX / 4) {
        return BATON_EMALFORMED;
    }
    /* The cluster started (or restarted) the lease's clock no earlier than it
     * received the request, so send time + TTL is a point it cannot beat. */
    res->lease.id = id;
    res->lease.ttl_ms = ttl;
    res->lease.deadline_ms = sent_ms + (int64_t)ttl;
    return 0;
}

static void decode_status(const Baton__StatusResponse *st, struct baton_status *out)
{
    out->id = st->id;
    snprintf(out->role, sizeof(out->role), "%s", st->role ? st->role : "");
    out->term = st->term;
    out->leader = st->leader;
    out->commit = st->commit;
    out->applied = st->applied;
    out->last_index = st->last_index;
    snprintf(out->client_addr, sizeof(out->client_addr), "%s",
             st->client_addr ? st->client_addr : "");
    snprintf(out->leader_client_addr, sizeof(out->leader_client_addr), "%s",
             st->leader_client_addr ? st->leader_client_addr : "");
    out->counters = st->counters;
    out->gossip_bytes_sent = st->gossip_bytes_sent;
}

static int decode_counter(Baton__ClientRequest__OpCase op, const Baton__ClientResponse *resp,
                          struct baton_result *res)
{
    if (op == BATON__CLIENT_REQUEST__OP_COUNTER_INCR) {
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_COUNTER_INCR) {
            return BATON_EMALFORMED;
        }
        res->counter.value = resp->counter_incr->value;
        return 0;
    }
    if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_COUNTER_GET ||
        resp->counter_get->node == 0) {
        return BATON_EMALFORMED;
    }
    res->counter.value = resp->counter_get->value;
    res->counter.node = resp->counter_get->node;
    return 0;
}

static int decode_lock(Baton__ClientRequest__OpCase op, const Baton__ClientResponse *resp,
                       struct baton_result *res)
{
    switch (op) {
    case BATON__CLIENT_REQUEST__OP_LOCK_ACQUIRE:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_LOCK_ACQUIRE ||
            resp->lock_acquire->token == 0) {
            return BATON_EMALFORMED;
        }
        res->token = resp->lock_acquire->token;
        res->lease.id = resp->lock_acquire->lease;
        return 0;
    case BATON__CLIENT_REQUEST__OP_LOCK_INSPECT:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_LOCK_INSPECT) {
            return BATON_EMALFORMED;
        }
        res->lock.held = resp->lock_inspect->held;
        res->lock.lease = resp->lock_inspect->lease;
        res->lock.token = resp->lock_inspect->token;
        res->lock.n_waiters = resp->lock_inspect->n_waiters;
        res->lock.waiters = resp->lock_inspect->waiters;
        return 0;
    case BATON__CLIENT_REQUEST__OP_LOCK_CHECK:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_LOCK_CHECK) {
            return BATON_EMALFORMED;
        }
        res->current = resp->lock_check->current;
        return 0;
    default:
        return 0; /* release and revoke answer with nothing (or an empty result) */
    }
}

static int decode(Baton__ClientRequest__OpCase op, const Baton__ClientResponse *resp,
                  int64_t sent_ms, struct baton_result *res)
{
    switch (op) {
    case BATON__CLIENT_REQUEST__OP_LEASE_LIST:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_LEASE_LIST) {
            return BATON_EMALFORMED;
        }
        return client_decode_leases(resp->lease_list, res);
    case BATON__CLIENT_REQUEST__OP_CLUSTER_MEMBERS:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_CLUSTER_MEMBERS) {
            return BATON_EMALFORMED;
        }
        return client_decode_members(resp->cluster_members, res);
    case BATON__CLIENT_REQUEST__OP_MEMBER_ADD:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_MEMBER_ADD) {
            return BATON_EMALFORMED;
        }
        return client_decode_change(resp->member_add, res);
    case BATON__CLIENT_REQUEST__OP_MEMBER_REMOVE:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_MEMBER_REMOVE) {
            return BATON_EMALFORMED;
        }
        return client_decode_change(resp->member_remove, res);
    case BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_LEADER_TRANSFER ||
            resp->leader_transfer->leader == 0) {
            return BATON_EMALFORMED;
        }
        res->transfer.leader = resp->leader_transfer->leader;
        res->transfer.term = resp->leader_transfer->term;
        return 0;
    case BATON__CLIENT_REQUEST__OP_LEASE_GRANT:
    case BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE:
        return decode_lease(resp, sent_ms, res);
    case BATON__CLIENT_REQUEST__OP_STATUS:
        if (resp->result_case != BATON__CLIENT_RESPONSE__RESULT_STATUS) {
            return BATON_EMALFORMED;
        }
        decode_status(resp->status, &res->status);
        return 0;
    case BATON__CLIENT_REQUEST__OP_COUNTER_INCR:
    case BATON__CLIENT_REQUEST__OP_COUNTER_GET:
        return decode_counter(op, resp, res);
    default:
        return decode_lock(op, resp, res);
    }
}

static void op_done(struct baton_async *core, void *arg, int err,
                    const Baton__ClientResponse *resp, int64_t sent_ms, const char *why)
{
    struct op_call *oc = arg;
    struct baton_result res;
    memset(&res, 0, sizeof(res));
    res.message = why;
    if (err == 0) {
        /* A success may come with words of its own (a member added as a learner). */
        if (resp->message != NULL && resp->message[0] != '\0') {
            res.message = resp->message;
        }
        err = decode(oc->op, resp, sent_ms, &res);
        if (err == BATON_ENOMEM) {
            res.message = baton_strerror(err);
        } else if (err != 0) {
            res.message = "the cluster's answer does not fit the request";
        }
    }
    baton_cb cb = oc->cb;
    void *cb_arg = oc->arg;
    free(oc);
    cb(err, &res, cb_arg);
    client_result_clear(&res);
}

static int submit_req(struct baton_async *c, Baton__ClientRequest *req, uint64_t timeout_ms,
                      uint64_t wait_ms, uint64_t attempt_ms, unsigned flags, baton_cb cb,
                      void *arg, struct client_req **out)
{
    if (c == NULL || cb == NULL) {
        return BATON_EINVAL;
    }
    struct op_call *oc = malloc(sizeof(*oc));
    if (oc == NULL) {
        return BATON_ENOMEM;
    }
    oc->op = req->op_case;
    oc->cb = cb;
    oc->arg = arg;
    int rv = client_core_submit(c, req, timeout_ms ? timeout_ms : c->opt.timeout_ms, wait_ms,
                                attempt_ms, flags, op_done, oc, out);
    if (rv != 0) {
        free(oc);
    }
    return rv;
}

static int submit(struct baton_async *c, Baton__ClientRequest *req, uint64_t timeout_ms,
                  uint64_t wait_ms, baton_cb cb, void *arg)
{
    return submit_req(c, req, timeout_ms, wait_ms, 0, 0, cb, arg, NULL);
}

static bool name_ok(const char *name)
{
    return name != NULL && name[0] != '\0';
}

int baton_async_lease_grant(struct baton_async *c, uint64_t ttl_ms, uint64_t timeout_ms,
                            baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LeaseGrantRequest op = BATON__LEASE_GRANT_REQUEST__INIT;
    if (ttl_ms == 0) {
        return BATON_EINVAL;
    }
    op.ttl_ms = ttl_ms;
    req.op_case = BATON__CLIENT_REQUEST__OP_LEASE_GRANT;
    req.lease_grant = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}

int client_keepalive_submit(struct baton_async *c, uint64_t lease, uint64_t timeout_ms,
                            uint64_t attempt_ms, baton_cb cb, void *arg,
                            struct client_req **out)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LeaseKeepaliveRequest op = BATON__LEASE_KEEPALIVE_REQUEST__INIT;
    op.lease = lease;
    req.op_case = BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE;
    req.lease_keepalive = &op;
    return submit_req(c, &req, timeout_ms, 0, attempt_ms, 0, cb, arg, out);
}

int baton_async_lease_keepalive(struct baton_async *c, uint64_t lease, uint64_t timeout_ms,
                                baton_cb cb, void *arg)
{
    return client_keepalive_submit(c, lease, timeout_ms, 0, cb, arg, NULL);
}

int baton_async_lease_revoke(struct baton_async *c, uint64_t lease, uint64_t timeout_ms,
                             baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LeaseRevokeRequest op = BATON__LEASE_REVOKE_REQUEST__INIT;
    op.lease = lease;
    req.op_case = BATON__CLIENT_REQUEST__OP_LEASE_REVOKE;
    req.lease_revoke = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}

int baton_async_lock_acquire(struct baton_async *c, const char *name, uint64_t lease,
                             uint64_t wait_ms, uint64_t lock_delay_ms, uint64_t timeout_ms,
                             baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LockAcquireRequest op = BATON__LOCK_ACQUIRE_REQUEST__INIT;
    if (!name_ok(name)) {
        return BATON_EINVAL;
    }
    op.name = (char *)name;
    op.lease = lease;
    op.wait_ms = wait_ms;
    op.lock_delay_ms = lock_delay_ms;
    req.op_case = BATON__CLIENT_REQUEST__OP_LOCK_ACQUIRE;
    req.lock_acquire = &op;
    /* A queued acquire is answered only when granted or when its wait ends, so
     * its deadline (and each attempt's patience) grows by the wait. */
    return submit(c, &req, timeout_ms, wait_ms, cb, arg);
}

int baton_async_lock_release(struct baton_async *c, const char *name, uint64_t lease,
                             uint64_t timeout_ms, baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LockReleaseRequest op = BATON__LOCK_RELEASE_REQUEST__INIT;
    if (!name_ok(name)) {
        return BATON_EINVAL;
    }
    op.name = (char *)name;
    op.lease = lease;
    req.op_case = BATON__CLIENT_REQUEST__OP_LOCK_RELEASE;
    req.lock_release = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}

int baton_async_lock_inspect(struct baton_async *c, const char *name, uint64_t timeout_ms,
                             baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LockInspectRequest op = BATON__LOCK_INSPECT_REQUEST__INIT;
    if (!name_ok(name)) {
        return BATON_EINVAL;
    }
    op.name = (char *)name;
    req.op_case = BATON__CLIENT_REQUEST__OP_LOCK_INSPECT;
    req.lock_inspect = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}

int baton_async_lock_check(struct baton_async *c, const char *name, uint64_t token,
                           uint64_t timeout_ms, baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LockCheckRequest op = BATON__LOCK_CHECK_REQUEST__INIT;
    if (!name_ok(name)) {
        return BATON_EINVAL;
    }
    op.name = (char *)name;
    op.token = token;
    req.op_case = BATON__CLIENT_REQUEST__OP_LOCK_CHECK;
    req.lock_check = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}

int baton_async_status(struct baton_async *c, uint64_t timeout_ms, baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__StatusRequest op = BATON__STATUS_REQUEST__INIT;
    req.op_case = BATON__CLIENT_REQUEST__OP_STATUS;
    req.status = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}

int baton_async_lease_list(struct baton_async *c, uint64_t timeout_ms, baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LeaseListRequest op = BATON__LEASE_LIST_REQUEST__INIT;
    req.op_case = BATON__CLIENT_REQUEST__OP_LEASE_LIST;
    req.lease_list = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}

int baton_async_cluster_members(struct baton_async *c, uint64_t timeout_ms, baton_cb cb,
                                void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__ClusterMembersRequest op = BATON__CLUSTER_MEMBERS_REQUEST__INIT;
    req.op_case = BATON__CLIENT_REQUEST__OP_CLUSTER_MEMBERS;
    req.cluster_members = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}

/* Membership changes and transfers are at most once (a retried add or remove
 * whose first attempt took effect would be refused as a conflict, a retried
 * transfer to any voter would move the leadership twice), and their EBUSY
 * means another change or transfer is in progress: final. */
#define MEMBER_FLAGS (CLIENT_REQ_AT_MOST_ONCE | CLIENT_REQ_BUSY_FINAL)

int baton_async_member_add(struct baton_async *c, uint64_t id, const char *peer_addr,
                           const char *client_addr, uint64_t timeout_ms, baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__MemberAddRequest op = BATON__MEMBER_ADD_REQUEST__INIT;
    if (id == 0 || !name_ok(peer_addr) || !name_ok(client_addr)) {
        return BATON_EINVAL;
    }
    op.id = id;
    op.peer_addr = (char *)peer_addr;
    op.client_addr = (char *)client_addr;
    req.op_case = BATON__CLIENT_REQUEST__OP_MEMBER_ADD;
    req.member_add = &op;
    return submit_req(c, &req, timeout_ms, 0, 0, MEMBER_FLAGS, cb, arg, NULL);
}

int baton_async_member_remove(struct baton_async *c, uint64_t id, uint64_t timeout_ms,
                              baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__MemberRemoveRequest op = BATON__MEMBER_REMOVE_REQUEST__INIT;
    if (id == 0) {
        return BATON_EINVAL;
    }
    op.id = id;
    req.op_case = BATON__CLIENT_REQUEST__OP_MEMBER_REMOVE;
    req.member_remove = &op;
    return submit_req(c, &req, timeout_ms, 0, 0, MEMBER_FLAGS, cb, arg, NULL);
}

int baton_async_leader_transfer(struct baton_async *c, uint64_t id, uint64_t timeout_ms,
                                baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__LeaderTransferRequest op = BATON__LEADER_TRANSFER_REQUEST__INIT;
    op.id = id;
    req.op_case = BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER;
    req.leader_transfer = &op;
    return submit_req(c, &req, timeout_ms, 0, 0, MEMBER_FLAGS, cb, arg, NULL);
}

int baton_async_counter_incr(struct baton_async *c, const char *name, uint64_t n,
                             uint64_t timeout_ms, baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__CounterIncrRequest op = BATON__COUNTER_INCR_REQUEST__INIT;
    if (!name_ok(name) || n == 0) {
        return BATON_EINVAL;
    }
    op.name = (char *)name;
    op.n = n;
    req.op_case = BATON__CLIENT_REQUEST__OP_COUNTER_INCR;
    req.counter_incr = &op;
    /* An increment sent twice counts twice: once it may have reached a node it
     * is never sent again, and a lost answer ends the call with ETIMEDOUT. */
    return submit_req(c, &req, timeout_ms, 0, 0, CLIENT_REQ_AT_MOST_ONCE, cb, arg, NULL);
}

int baton_async_counter_get(struct baton_async *c, const char *name, uint64_t timeout_ms,
                            baton_cb cb, void *arg)
{
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    Baton__CounterGetRequest op = BATON__COUNTER_GET_REQUEST__INIT;
    if (!name_ok(name)) {
        return BATON_EINVAL;
    }
    op.name = (char *)name;
    req.op_case = BATON__CLIENT_REQUEST__OP_COUNTER_GET;
    req.counter_get = &op;
    return submit(c, &req, timeout_ms, 0, cb, arg);
}
