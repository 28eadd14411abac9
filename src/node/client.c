/* The client port: requests in, responses out, one token bucket per connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/codec.h"
#include "node/log.h"
#include "node/node.h"

#define CLIENT_RATE_PER_S 20000
#define CLIENT_BURST 2000

struct node_client {
    struct node *node;
    uint64_t id;
    struct net_conn *conn;
    double tokens;
    uint64_t refilled_ms;
};

/* Token bucket: CLIENT_RATE_PER_S requests per second, bursts of CLIENT_BURST. */
static bool take_token(struct node_client *c, uint64_t now)
{
    c->tokens += (double)(now - c->refilled_ms) * CLIENT_RATE_PER_S / 1000.0;
    if (c->tokens > CLIENT_BURST) {
        c->tokens = CLIENT_BURST;
    }
    c->refilled_ms = now;
    if (c->tokens < 1.0) {
        return false;
    }
    c->tokens -= 1.0;
    return true;
}

static void client_addr_of(const struct node *n, uint64_t id, char *out, size_t len)
{
    const struct raft_server *s = raft_conf_get(raft_conf(n->raft), id);
    out[0] = '\0';
    if (s != NULL) {
        node_addr_client(s->addr, out, len);
    }
}

void node_leader_client_addr(struct node *n, char *out, size_t len)
{
    client_addr_of(n, raft_leader(n->raft), out, len);
}

static void respond(struct node_client *c, Baton__ClientResponse *resp)
{
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    env.body_case = BATON__ENVELOPE__BODY_RESPONSE;
    env.response = resp;
    struct raft_buf frame;
    if (net_encode_envelope(&env, c->node->cfg.max_frame, &frame) != 0) {
        return;
    }
    if (net_conn_send(c->conn, frame) == BATON_EBUSY) {
        /* A client that does not read its answers is cut off, not buffered. */
        net_conn_close(c->conn, BATON_EBUSY, "client not reading its responses");
    }
}

static void fill_peers(struct node *n, Baton__StatusResponse *st, Baton__PeerHealth *ph,
                       Baton__PeerHealth **php)
{
    uint64_t ids[FD_MAX_PEERS];
    int count = fd_peers(&n->fd, ids, FD_MAX_PEERS);
    uint64_t now = uv_now(n->loop);
    for (int i = 0; i < count; i++) {
        struct fd_peer p;
        baton__peer_health__init(&ph[i]);
        if (fd_peer_stats(&n->fd, ids[i], &p) == 0) {
            ph[i].id = p.id;
            ph[i].suspected = p.suspected;
            ph[i].timeout_ms = p.timeout_ms;
            ph[i].last_heard_ms_ago = now > p.last_heard_ms ? now - p.last_heard_ms : 0;
            ph[i].false_suspicions = p.false_suspicions;
        }
        php[i] = &ph[i];
    }
    st->n_peers = (size_t)count;
    st->peers = php;
}

static void fill_members(struct node *n, Baton__StatusResponse *st, Baton__Server *sv,
                         Baton__Server **svp)
{
    const struct raft_conf *conf = raft_conf(n->raft);
    for (size_t i = 0; i < conf->n; i++) {
        baton__server__init(&sv[i]);
        sv[i].id = conf->servers[i].id;
        sv[i].role = (uint32_t)conf->servers[i].role;
        sv[i].promote = conf->servers[i].promote;
        sv[i].addr = (char *)conf->servers[i].addr;
        svp[i] = &sv[i];
    }
    st->n_members = conf->n;
    st->members = svp;
}

static void handle_status(struct node_client *c, Baton__ClientResponse *resp)
{
    struct node *n = c->node;
    Baton__StatusResponse st = BATON__STATUS_RESPONSE__INIT;
    Baton__PeerHealth ph[FD_MAX_PEERS], *php[FD_MAX_PEERS];
    Baton__Server sv[RAFT_MAX_SERVERS], *svp[RAFT_MAX_SERVERS];
    char leader_addr[RAFT_ADDR_MAX];
    st.id = n->cfg.id;
    st.role = (char *)raft_role_name(raft_role(n->raft));
    st.term = raft_term(n->raft);
    st.vote = raft_vote(n->raft);
    st.leader = raft_leader(n->raft);
    st.commit = raft_commit(n->raft);
    st.applied = n->sm.applied;
    st.last_index = raft_last_index(n->raft);
    st.snapshot_index = n->snapshot_index;
    st.client_addr = n->cfg.listen_client;
    st.counters = crdt_count(n->counters.set);
    st.gossip_bytes_sent = n->counters.gossip_bytes;
    client_addr_of(n, st.leader, leader_addr, sizeof(leader_addr));
    st.leader_client_addr = leader_addr;
    fill_peers(n, &st, ph, php);
    fill_members(n, &st, sv, svp);
    resp->result_case = BATON__CLIENT_RESPONSE__RESULT_STATUS;
    resp->status = &st;
    respond(c, resp);
}

void node_client_respond(struct node *n, uint64_t client, Baton__ClientResponse *resp)
{
    struct node_client *c = util_idmap_get(&n->clients, client);
    if (c != NULL && !c->conn->closing) {
        respond(c, resp);
    }
}

void node_client_error(struct node *n, uint64_t client, uint64_t request, int err,
                       const char *msg)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    char leader[RAFT_ADDR_MAX] = "";
    resp.id = request;
    resp.err = err;
    resp.message = (char *)(msg ? msg : baton_strerror(err));
    if (err == BATON_ENOTLEADER) {
        node_leader_client_addr(n, leader, sizeof(leader));
        resp.leader_client_addr = leader;
    }
    node_client_respond(n, client, &resp);
}

bool node_client_dispatch(struct node *n, uint64_t client, const Baton__ClientRequest *req)
{
    switch (req->op_case) {
    case BATON__CLIENT_REQUEST__OP_LEASE_GRANT:
    case BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE:
    case BATON__CLIENT_REQUEST__OP_LEASE_REVOKE:
    case BATON__CLIENT_REQUEST__OP_LOCK_ACQUIRE:
    case BATON__CLIENT_REQUEST__OP_LOCK_RELEASE:
    case BATON__CLIENT_REQUEST__OP_LOCK_INSPECT:
    case BATON__CLIENT_REQUEST__OP_LOCK_CHECK:
    case BATON__CLIENT_REQUEST__OP_LEASE_LIST:
    case BATON__CLIENT_REQUEST__OP_CLUSTER_MEMBERS:
        node_service_request(n, client, req);
        return true;
    case BATON__CLIENT_REQUEST__OP_COUNTER_INCR:
    case BATON__CLIENT_REQUEST__OP_COUNTER_GET:
        node_counters_request(n, client, req);
        return true;
    case BATON__CLIENT_REQUEST__OP_MEMBER_ADD:
    case BATON__CLIENT_REQUEST__OP_MEMBER_REMOVE:
    case BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER:
        node_members_request(n, client, req);
        return true;
    default:
        return false;
    }
}

static void handle_request(struct node_client *c, const Baton__ClientRequest *req)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    resp.id = req->id;
    if (!take_token(c, uv_now(c->node->loop))) {
        resp.err = BATON_EBUSY;
        resp.message = "rate limited";
        respond(c, &resp);
        return;
    }
    if (req->op_case == BATON__CLIENT_REQUEST__OP_STATUS) {
        handle_status(c, &resp);
    } else if (!node_client_dispatch(c->node, c->id, req)) {
        resp.err = BATON_EINVAL;
        resp.message = "unknown request";
        respond(c, &resp);
    }
}

static void frame_cb(struct net_conn *conn, const uint8_t *payload, size_t len)
{
    struct node_client *c = conn->data;
    Baton__Envelope *env = baton__envelope__unpack(NULL, len, payload);
    if (env == NULL || env->body_case != BATON__ENVELOPE__BODY_REQUEST) {
        net_conn_close(conn, BATON_EMALFORMED,
                       env ? "expected a ClientRequest" : "undecodable frame");
    } else if (!c->node->stopping) {
        handle_request(c, env->request);
        node_pump(c->node); /* proposals and reads leave now, batched per frame read */
    }
    if (env != NULL) {
        baton__envelope__free_unpacked(env, NULL);
    }
}

static void close_cb(struct net_conn *conn, int err, const char *why)
{
    struct node_client *c = conn->data;
    struct node *n = c->node;
    if (err != 0) {
        node_log(NODE_LOG_INFO, "closed client %s: %s", conn->name, why);
    }
    (void)util_idmap_del(&n->clients, c->id);
    free(c);
}

static void connection_cb(uv_stream_t *server, int status)
{
    struct node *n = server->data;
    if (status < 0 || n->stopping) {
        return;
    }
    struct node_client *c = calloc(1, sizeof(*c));
    struct net_conn_options opt;
    net_conn_options_default(&opt);
    opt.max_frame = n->cfg.max_frame;
    opt.high_water = 8u << 20;
    if (c == NULL) {
        return;
    }
    c->node = n;
    c->id = ++n->next_client_id;
    c->tokens = CLIENT_BURST;
    c->refilled_ms = uv_now(n->loop);
    c->conn = net_conn_new(n->loop, &opt, frame_cb, close_cb, c);
    if (c->conn == NULL) {
        free(c);
        return;
    }
    if (util_idmap_put(&n->clients, c->id, c) != 0) {
        /* Out of memory: not indexed, so close_cb's removal finds nothing. */
        net_conn_close(c->conn, BATON_ENOMEM, "out of memory");
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&c->conn->tcp) != 0) {
        net_conn_close(c->conn, BATON_EIO, "accept failed");
        return;
    }
    if (net_conn_start(c->conn) != 0) {
        return; /* closing; close_cb frees it */
    }
}

int node_clients_listen(struct node *n, char *why, size_t why_len)
{
    n->client_listener.data = n;
    return net_listen(n->loop, &n->client_listener, n->cfg.listen_client, connection_cb, why,
                      why_len);
}

void node_clients_close(struct node *n)
{
    uv_close((uv_handle_t *)&n->client_listener, NULL);
    for (size_t i = 0; i < n->clients.cap; i++) {
        struct node_client *c = n->clients.slots[i].ptr;
        if (c != NULL) {
            net_conn_close(c->conn, 0, "shutting down"); /* freed by close_cb, later */
        }
    }
}
