/* The lock/lease service: requests become Raft entries or ReadIndex reads, and
 * applied outcomes and events become responses. Blocking acquires are answered
 * when granted, so no client polls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/log.h"
#include "node/node.h"

void node_service_init(struct node_service *s, uint64_t election_ms)
{
    memset(s, 0, sizeof(*s));
    lock_clock_init(&s->clock, election_ms);
    /* A lease shorter than two election timeouts could not outlive one ordinary
     * failover, so its holder would lose it at every leader change. */
    s->min_ttl_ms = 2 * election_ms;
}

static void list_push(struct node_pending_list *l, struct node_pending *p)
{
    p->next = NULL;
    if (l->tail != NULL) {
        l->tail->next = p;
    } else {
        l->head = p;
    }
    l->tail = p;
}

static struct node_pending *list_pop(struct node_pending_list *l)
{
    struct node_pending *p = l->head;
    if (p != NULL) {
        l->head = p->next;
        if (l->head == NULL) {
            l->tail = NULL;
        }
    }
    return p;
}

static void list_free(struct node_pending_list *l)
{
    struct node_pending *p;
    while ((p = list_pop(l)) != NULL) {
        free(p);
    }
}

void node_service_close(struct node_service *s)
{
    list_free(&s->proposals);
    list_free(&s->reads);
    list_free(&s->waits);
    lock_clock_close(&s->clock);
}

void node_service_reply(struct node *n, const struct node_pending *p,
                        Baton__ClientResponse *resp)
{
    resp->id = p->request;
    node_client_respond(n, p->client, resp);
}

void node_service_reply_err(struct node *n, const struct node_pending *p, int err,
                            const char *msg)
{
    node_client_error(n, p->client, p->request, err, msg);
}

static struct node_pending *pending_new(uint64_t client, const Baton__ClientRequest *req)
{
    struct node_pending *p = calloc(1, sizeof(*p));
    if (p != NULL) {
        p->client = client;
        p->request = req->id;
        p->op = (int)req->op_case;
    }
    return p;
}

static void propose(struct node *n, struct node_pending *p, const struct lock_cmd *cmd)
{
    uint8_t buf[LOCK_CMD_MAX];
    size_t len;
    int rv = lock_cmd_encode(cmd, buf, sizeof(buf), &len);
    if (rv == 0) {
        rv = raft_propose(n->raft, buf, len, &p->index, &p->term);
    }
    if (rv != 0) {
        node_service_reply_err(n, p, rv == BATON_EMALFORMED ? BATON_EINVAL : rv, NULL);
        free(p);
        return;
    }
    list_push(&n->service.proposals, p);
}

static bool valid_name(const char *name)
{
    size_t len = strlen(name);
    return len > 0 && len <= LOCK_NAME_MAX;
}

static void keepalive(struct node *n, struct node_pending *p, uint64_t lease)
{
    struct node_service *s = &n->service;
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__LeaseKeepaliveResponse ka = BATON__LEASE_KEEPALIVE_RESPONSE__INIT;
    uint64_t ttl = 0;
    /* Only a leader whose leadership is current may extend a lease: a deposed
     * one cannot, while its successor is already counting it down. */
    if (!s->clocks_running || !raft_leader_lease_valid(n->raft)) {
        node_service_reply_err(n, p, BATON_EUNAVAILABLE, "leadership not confirmed; retry");
    } else if (lock_clock_keepalive(&s->clock, lease, uv_now(n->loop), &ttl) != 0) {
        node_service_reply_err(n, p, BATON_EEXPIRED, "lease expired or unknown");
    } else {
        ka.lease = lease;
        ka.ttl_ms = ttl;
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LEASE_KEEPALIVE;
        resp.lease_keepalive = &ka;
        node_service_reply(n, p, &resp);
    }
    free(p);
}

static void start_read(struct node *n, struct node_pending *p)
{
    p->ctx = ++n->service.next_ctx;
    int rv = raft_read_index(n->raft, p->ctx);
    if (rv != 0) {
        node_service_reply_err(n, p, rv, NULL);
        free(p);
        return;
    }
    list_push(&n->service.reads, p);
}

/* Fills cmd from a mutating request; false (after replying) if it is invalid. */
static bool to_cmd(struct node *n, struct node_pending *p, const Baton__ClientRequest *req,
                   struct lock_cmd *cmd)
{
    const char *name = NULL;
    memset(cmd, 0, sizeof(*cmd));
    switch (req->op_case) {
    case BATON__CLIENT_REQUEST__OP_LEASE_GRANT:
        cmd->type = LOCK_CMD_LEASE_GRANT;
        cmd->ttl_ms = req->lease_grant->ttl_ms;
        if (cmd->ttl_ms < n->service.min_ttl_ms || cmd->ttl_ms > LOCK_MS_MAX) {
            char msg[96];
            snprintf(msg, sizeof(msg), "ttl must be at least %llu ms (2 election timeouts)",
                     (unsigned long long)n->service.min_ttl_ms);
            node_service_reply_err(n, p, BATON_EINVAL, msg);
            return false;
        }
        return true;
    case BATON__CLIENT_REQUEST__OP_LEASE_REVOKE:
        cmd->type = LOCK_CMD_LEASE_REVOKE;
        cmd->lease = req->lease_revoke->lease;
        return true;
    case BATON__CLIENT_REQUEST__OP_LOCK_ACQUIRE:
        cmd->type = LOCK_CMD_ACQUIRE;
        cmd->lease = req->lock_acquire->lease;
        cmd->wait_ms = req->lock_acquire->wait_ms;
        cmd->lock_delay_ms = req->lock_acquire->lock_delay_ms;
        name = req->lock_acquire->name;
        break;
    default: /* LOCK_RELEASE */
        cmd->type = LOCK_CMD_RELEASE;
        cmd->lease = req->lock_release->lease;
        name = req->lock_release->name;
        break;
    }
    if (!valid_name(name)) {
        node_service_reply_err(n, p, BATON_EINVAL, "lock names are 1 to 255 bytes");
        return false;
    }
    strcpy(cmd->name, name);
    strcpy(p->name, name);
    p->lease = cmd->lease;
    return true;
}

void node_service_request(struct node *n, uint64_t client, const Baton__ClientRequest *req)
{
    struct node_pending *p = pending_new(client, req);
    if (p == NULL) {
        return;
    }
    if (raft_role(n->raft) != RAFT_LEADER) {
        node_service_reply_err(n, p, BATON_ENOTLEADER, NULL);
        free(p);
        return;
    }
    struct lock_cmd cmd;
    switch (req->op_case) {
    case BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE:
        keepalive(n, p, req->lease_keepalive->lease);
        return;
    case BATON__CLIENT_REQUEST__OP_LEASE_LIST:
    case BATON__CLIENT_REQUEST__OP_CLUSTER_MEMBERS:
        start_read(n, p);
        return;
    case BATON__CLIENT_REQUEST__OP_LOCK_INSPECT:
    case BATON__CLIENT_REQUEST__OP_LOCK_CHECK: {
        const char *name = req->op_case == BATON__CLIENT_REQUEST__OP_LOCK_INSPECT
                               ? req->lock_inspect->name
                               : req->lock_check->name;
        if (!valid_name(name)) {
            node_service_reply_err(n, p, BATON_EINVAL, "lock names are 1 to 255 bytes");
            free(p);
            return;
        }
        strcpy(p->name, name);
        p->token = req->op_case == BATON__CLIENT_REQUEST__OP_LOCK_CHECK ? req->lock_check->token : 0;
        start_read(n, p);
        return;
    }
    default:
        if (!to_cmd(n, p, req, &cmd)) {
            free(p);
            return;
        }
        propose(n, p, &cmd);
    }
}
