/* Membership requests on the leader (add, remove, transfer), their answers once
 * decided, the applied configuration, and what a removed node does: it stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/codec.h"
#include "node/log.h"
#include "node/node.h"

/* ---- Pure checks ---------------------------------------------------------- */

static const char *role_name(const struct raft_server *s)
{
    return s->role == RAFT_VOTER ? "voter" : "learner";
}

static int check_addr(const char *what, const char *addr, char *why, size_t why_len)
{
    struct sockaddr_storage ss;
    if (addr == NULL || strlen(addr) >= NODE_ADDR_MAX || net_addr_parse(addr, &ss) != 0) {
        snprintf(why, why_len, "invalid %s address '%s': want IPv4:PORT, [IPv6]:PORT or "
                               "localhost:PORT",
                 what, addr ? addr : "");
        return BATON_EINVAL;
    }
    return 0;
}

int node_member_add_check(const struct raft_conf *conf, uint64_t id, const char *peer,
                          const char *client, char *why, size_t why_len)
{
    if (id == 0) {
        snprintf(why, why_len, "member ids start at 1");
        return BATON_EINVAL;
    }
    int rv = check_addr("peer", peer, why, why_len);
    if (rv == 0) {
        rv = check_addr("client", client, why, why_len);
    }
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < conf->n; i++) {
        const struct raft_server *s = &conf->servers[i];
        char p[RAFT_ADDR_MAX], c[RAFT_ADDR_MAX];
        node_addr_peer(s->addr, p, sizeof(p));
        node_addr_client(s->addr, c, sizeof(c));
        if (s->id == id) {
            snprintf(why, why_len, "node %llu is a member already (%s, peer %s, client %s)",
                     (unsigned long long)id, role_name(s), p, c);
            return BATON_EEXIST;
        }
        if (strcmp(p, peer) == 0 || strcmp(c, client) == 0) {
            snprintf(why, why_len, "member %llu uses %s already",
                     (unsigned long long)s->id, strcmp(p, peer) == 0 ? peer : client);
            return BATON_EEXIST;
        }
    }
    if (conf->n == RAFT_MAX_SERVERS) {
        snprintf(why, why_len, "the configuration is full (%d members)", RAFT_MAX_SERVERS);
        return BATON_ECONFIG;
    }
    return 0;
}

int node_member_remove_check(const struct raft_conf *conf, uint64_t id, char *why,
                             size_t why_len)
{
    const struct raft_server *s = raft_conf_get(conf, id);
    if (id == 0) {
        snprintf(why, why_len, "member ids start at 1");
        return BATON_EINVAL;
    }
    if (s == NULL) {
        snprintf(why, why_len, "node %llu is not a member", (unsigned long long)id);
        return BATON_ENOTFOUND;
    }
    if (s->role == RAFT_VOTER && raft_conf_voters(conf) == 1) {
        snprintf(why, why_len, "node %llu is the last voter: without it nobody could be elected",
                 (unsigned long long)id);
        return BATON_ECONFIG;
    }
    return 0;
}

/* ---- Answers -------------------------------------------------------------- */

static void op_err(struct node *n, const struct node_member_op *op, int err, const char *msg)
{
    node_client_error(n, op->client, op->request, err, msg);
}

void node_member_pb_fill(struct node_member_pb *pb, const struct raft_conf *conf)
{
    pb->n = conf->n;
    for (size_t i = 0; i < conf->n; i++) {
        const struct raft_server *sv = &conf->servers[i];
        baton__member__init(&pb->m[i]);
        node_addr_peer(sv->addr, pb->peer[i], sizeof(pb->peer[i]));
        node_addr_client(sv->addr, pb->client[i], sizeof(pb->client[i]));
        pb->m[i].id = sv->id;
        pb->m[i].peer_addr = pb->peer[i];
        pb->m[i].client_addr = pb->client[i];
        pb->m[i].role = (uint32_t)sv->role;
        pb->mp[i] = &pb->m[i];
    }
}

/* The change of op took effect: its entry, now applied, holds conf. */
static void answer_change(struct node *n, const struct node_member_op *op,
                          const struct raft_conf *conf)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__MemberChangeResponse mc = BATON__MEMBER_CHANGE_RESPONSE__INIT;
    struct node_member_pb pb;
    char msg[192];
    node_member_pb_fill(&pb, conf);
    mc.index = op->index;
    mc.n_members = pb.n;
    mc.members = pb.mp;
    mc.cluster_id = n->cluster_id;
    resp.id = op->request;
    if (op->op == BATON__CLIENT_REQUEST__OP_MEMBER_ADD) {
        snprintf(msg, sizeof(msg), "node %llu joined as a learner; the leader makes it a voter "
                                   "once it has caught up with the log",
                 (unsigned long long)op->id);
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_MEMBER_ADD;
        resp.member_add = &mc;
    } else {
        snprintf(msg, sizeof(msg), "node %llu removed; it stops once it learns so",
                 (unsigned long long)op->id);
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_MEMBER_REMOVE;
        resp.member_remove = &mc;
    }
    resp.message = msg;
    node_client_respond(n, op->client, &resp);
}

static void answer_transfer(struct node *n, const struct node_member_op *op, uint64_t leader)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__LeaderTransferResponse tr = BATON__LEADER_TRANSFER_RESPONSE__INIT;
    tr.leader = leader;
    tr.term = raft_term(n->raft);
    resp.id = op->request;
    resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LEADER_TRANSFER;
    resp.leader_transfer = &tr;
    node_client_respond(n, op->client, &resp);
}

/* ---- Requests ------------------------------------------------------------- */

static void push_op(struct node *n, const struct node_member_op *proto)
{
    struct node_member_op *op = malloc(sizeof(*op));
    if (op == NULL) {
        /* The change is under way; only its answer is lost (outcome unknown). */
        node_log(NODE_LOG_ERROR, "out of memory: the answer to a membership request is lost");
        return;
    }
    *op = *proto;
    struct node_member_op **pp = &n->members.ops;
    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    op->next = NULL;
    *pp = op;
}

static void start_change(struct node *n, struct node_member_op *op, int type, const char *addr)
{
    struct raft_conf committed;
    if (raft_transfer_target(n->raft) != 0) {
        op_err(n, op, BATON_EUNAVAILABLE, "a leadership transfer is under way; retry once it "
                                          "ends");
        return;
    }
    /* One change at a time (dissertation §4.1): the core refuses the next one
     * until the previous one has committed. Say so plainly: it is a definite no. */
    if (raft_conf_committed(n->raft, &committed) != 0 ||
        !raft_conf_equal(&committed, raft_conf(n->raft))) {
        op_err(n, op, BATON_EBUSY, "a membership change is in progress (one at a time); "
                                   "retry once it has committed");
        return;
    }
    int rv = raft_change(n->raft, type, op->id, addr, &op->index);
    if (rv == BATON_EBUSY) {
        op_err(n, op, BATON_EUNAVAILABLE, "the new leader has not committed an entry of its "
                                          "term yet; retry");
        return;
    }
    if (rv != 0) {
        op_err(n, op, rv == BATON_EINVAL ? BATON_ECONFIG : rv, NULL);
        return;
    }
    op->term = raft_term(n->raft);
    node_log(NODE_LOG_INFO, "proposed %s of node %llu at index %llu",
             type == RAFT_CHANGE_REMOVE ? "the removal" : "the addition",
             (unsigned long long)op->id, (unsigned long long)op->index);
    push_op(n, op);
}

static void start_add(struct node *n, struct node_member_op *op, const Baton__MemberAddRequest *r)
{
    char why[256], addr[RAFT_ADDR_MAX];
    int rv = node_member_add_check(raft_conf(n->raft), r->id, r->peer_addr, r->client_addr,
                                   why, sizeof(why));
    if (rv != 0) {
        op_err(n, op, rv, why);
        return;
    }
    snprintf(addr, sizeof(addr), "%s/%s", r->peer_addr, r->client_addr);
    start_change(n, op, RAFT_CHANGE_ADD_VOTER, addr);
}

static void start_remove(struct node *n, struct node_member_op *op)
{
    char why[256];
    int rv = node_member_remove_check(raft_conf(n->raft), op->id, why, sizeof(why));
    if (rv != 0) {
        op_err(n, op, rv, why);
        return;
    }
    start_change(n, op, RAFT_CHANGE_REMOVE, NULL);
}

static void start_transfer(struct node *n, struct node_member_op *op)
{
    char why[192];
    const struct raft_conf *conf = raft_conf(n->raft);
    const struct raft_server *s = raft_conf_get(conf, op->id);
    if (op->id == n->cfg.id) {
        answer_transfer(n, op, n->cfg.id); /* already there */
        return;
    }
    if (op->id != 0 && s == NULL) {
        snprintf(why, sizeof(why), "node %llu is not a member", (unsigned long long)op->id);
        op_err(n, op, BATON_ENOTFOUND, why);
        return;
    }
    if (s != NULL && s->role != RAFT_VOTER) {
        snprintf(why, sizeof(why), "node %llu is a learner, not a voter: only a voter can lead "
                                   "(it is promoted once it has caught up)",
                 (unsigned long long)op->id);
        op_err(n, op, BATON_ECONFIG, why);
        return;
    }
    int rv = raft_transfer(n->raft, op->id);
    if (rv == BATON_EBUSY) {
        snprintf(why, sizeof(why), "a leadership transfer to node %llu is under way",
                 (unsigned long long)raft_transfer_target(n->raft));
        op_err(n, op, BATON_EBUSY, why);
        return;
    }
    if (rv != 0) {
        op_err(n, op, rv == BATON_EINVAL ? BATON_ECONFIG : rv,
               rv == BATON_EINVAL ? "no other voter to hand the leadership to" : NULL);
        return;
    }
    op->id = raft_transfer_target(n->raft);
    /* The core gives up after one election timeout; the election it starts
     * takes at most about another. */
    op->deadline = uv_now(n->loop) + 3 * (uint64_t)n->cfg.election_ms;
    node_log(NODE_LOG_INFO, "transferring the leadership to node %llu",
             (unsigned long long)op->id);
    push_op(n, op);
}

void node_members_request(struct node *n, uint64_t client, const Baton__ClientRequest *req)
{
    struct node_member_op op;
    memset(&op, 0, sizeof(op));
    op.op = (int)req->op_case;
    op.client = client;
    op.request = req->id;
    if (raft_role(n->raft) != RAFT_LEADER) {
        op_err(n, &op, BATON_ENOTLEADER, NULL);
        return;
    }
    switch (req->op_case) {
    case BATON__CLIENT_REQUEST__OP_MEMBER_ADD:
        op.id = req->member_add->id;
        start_add(n, &op, req->member_add);
        return;
    case BATON__CLIENT_REQUEST__OP_MEMBER_REMOVE:
        op.id = req->member_remove->id;
        start_remove(n, &op);
        return;
    case BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER:
        op.id = req->leader_transfer->id;
        op.any = op.id == 0;
        start_transfer(n, &op);
        return;
    default:
        op_err(n, &op, BATON_EINVAL, "not a membership request");
        return;
    }
}

/* ---- Outcomes ------------------------------------------------------------- */

static void unlink_op(struct node *n, struct node_member_op *op)
{
    for (struct node_member_op **pp = &n->members.ops; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == op) {
            *pp = op->next;
            free(op);
            return;
        }
    }
}

/* Answers the changes whose entries are at or below e (just applied; conf is what
 * it holds if it is a configuration entry, else NULL). */
static void decide_changes(struct node *n, const struct raft_entry *e, const struct raft_conf *conf)
{
    struct node_member_op *op = n->members.ops, *next;
    for (; op != NULL; op = next) {
        next = op->next;
        if (op->op == BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER || op->index > e->index) {
            continue;
        }
        if (op->index == e->index && op->term == e->term && conf != NULL) {
            answer_change(n, op, conf);
        } else {
            /* Another leader's entry took that index: ours is gone for good. */
            op_err(n, op, BATON_EUNAVAILABLE, "the change was lost in a leader change and did "
                                              "not take effect; retry");
        }
        unlink_op(n, op);
    }
}

static void stop_removed(struct node *n, uint64_t index, const char *how)
{
    struct node_members *m = &n->members;
    if (m->removed) {
        return;
    }
    m->removed = true;
    /* Long enough for the answers already written to leave. */
    m->linger_until = uv_now(n->loop) + 2 * (uint64_t)n->cfg.heartbeat_ms;
    node_log(NODE_LOG_WARN, "removed from the cluster (%s, configuration entry %llu): stopping "
                            "for good. To bring node %llu back, wipe %s, add it again "
                            "(batonctl cluster add) and start it with --join",
             how, (unsigned long long)index, (unsigned long long)n->cfg.id, n->cfg.data_dir);
}

/* The leader stops replicating to a server as soon as it appends its removal
 * (the core drops its progress), so a removed follower would never see that
 * entry: the leader tells it once the removal is applied. */
static void tell_removed(struct node *n, uint64_t id, uint64_t index)
{
    Baton__Removed rm = BATON__REMOVED__INIT;
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    struct raft_buf frame;
    if (!n->peers_started) {
        return;
    }
    rm.id = id;
    rm.index = index;
    env.body_case = BATON__ENVELOPE__BODY_REMOVED;
    env.removed = &rm;
    if (net_encode_envelope(&env, n->cfg.max_frame, &frame) == 0 &&
        net_peers_send(&n->peers, id, frame) == 0) {
        node_log(NODE_LOG_INFO, "told node %llu it was removed", (unsigned long long)id);
        return;
    }
    node_log(NODE_LOG_INFO, "could not tell node %llu it was removed (not connected): if it "
                            "still runs, stop it (it idles as a follower nobody listens to)",
             (unsigned long long)id);
}

void node_members_applied(struct node *n, const struct raft_entry *e)
{
    struct node_members *m = &n->members;
    struct raft_conf conf;
    bool is_conf = e->type == RAFT_ENTRY_CONF &&
                   raft_conf_decode(e->data.base, e->data.len, &conf) == 0;
    if (m->ops != NULL) {
        decide_changes(n, e, is_conf ? &conf : NULL);
    }
    if (!is_conf) {
        return;
    }
    if (raft_role(n->raft) == RAFT_LEADER) {
        for (size_t i = 0; i < m->applied.n; i++) {
            uint64_t id = m->applied.servers[i].id;
            if (id != n->cfg.id && raft_conf_get(&conf, id) == NULL) {
                tell_removed(n, id, e->index);
            }
        }
    }
    m->applied = conf;
    m->applied_changed = true;
    if (raft_conf_get(&conf, n->cfg.id) != NULL) {
        m->was_member = true;
    } else if (m->was_member) {
        stop_removed(n, e->index, "the applied configuration no longer lists us");
    }
}

void node_members_installed(struct node *n, const struct raft_conf *conf, uint64_t index)
{
    struct node_members *m = &n->members;
    struct node_member_op *op = m->ops, *next;
    for (; op != NULL; op = next) {
        next = op->next;
        if (op->op != BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER && op->index <= index) {
            /* Its entry is inside the snapshot: whether it was ours is not known. */
            op_err(n, op, BATON_ETIMEDOUT, "leadership was lost before the change committed; "
                                           "outcome unknown (see cluster members)");
            unlink_op(n, op);
        }
    }
    m->applied = *conf;
    m->applied_changed = true;
    if (raft_conf_get(conf, n->cfg.id) != NULL) {
        m->was_member = true;
    } else if (m->was_member) {
        stop_removed(n, index, "the snapshot's configuration no longer lists us");
    }
}

void node_members_notice(struct node *n, uint64_t from, const Baton__Removed *r)
{
    if (r->id != n->cfg.id || n->members.removed) {
        return;
    }
    /* A leader learns its own removal from its log. A notice is believed from a
     * member only (a leader of ours). */
    if (raft_role(n->raft) == RAFT_LEADER || raft_conf_get(raft_conf(n->raft), from) == NULL) {
        node_log(NODE_LOG_WARN, "ignored a removal notice from node %llu",
                 (unsigned long long)from);
        return;
    }
    char how[64];
    snprintf(how, sizeof(how), "leader %llu says so", (unsigned long long)from);
    stop_removed(n, r->index, how);
}

/* True when op (a transfer) is answered. */
static bool decide_transfer(struct node *n, const struct node_member_op *op)
{
    char why[256];
    uint64_t leader = raft_leader(n->raft);
    uint64_t match = 0, next = 0;
    if (raft_role(n->raft) != RAFT_LEADER) {
        if (leader != 0 && (leader == op->id || op->any)) {
            answer_transfer(n, op, leader);
            return true;
        }
        if (leader != 0) {
            snprintf(why, sizeof(why), "node %llu took over instead of node %llu; retry",
                     (unsigned long long)leader, (unsigned long long)op->id);
            op_err(n, op, BATON_EUNAVAILABLE, why);
            return true;
        }
        if (uv_now(n->loop) < op->deadline) {
            return false; /* an election is on */
        }
        op_err(n, op, BATON_ETIMEDOUT, "no leader emerged after the transfer; outcome unknown");
        return true;
    }
    if (raft_transfer_target(n->raft) != 0 && uv_now(n->loop) < op->deadline) {
        return false;
    }
    /* Still leading and the core gave up. While a transfer runs nothing new is
     * appended, so a target that matches our last index was sent TimeoutNow. */
    if (!raft_progress(n->raft, op->id, &match, &next) || match < raft_last_index(n->raft)) {
        snprintf(why, sizeof(why), "node %llu did not catch up with the log within the election "
                                   "timeout (it is behind or unreachable); node %llu still leads",
                 (unsigned long long)op->id, (unsigned long long)n->cfg.id);
        op_err(n, op, BATON_ELAGGING, why);
    } else {
        snprintf(why, sizeof(why), "node %llu was told to take over but did not win an election "
                                   "in time; node %llu still leads (outcome unknown)",
                 (unsigned long long)op->id, (unsigned long long)n->cfg.id);
        op_err(n, op, BATON_ETIMEDOUT, why);
    }
    return true;
}

void node_members_check(struct node *n)
{
    struct node_members *m = &n->members;
    struct node_member_op *op = m->ops, *next;
    for (; op != NULL; op = next) {
        next = op->next;
        if (op->op == BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER && decide_transfer(n, op)) {
            unlink_op(n, op);
        }
    }
    if (m->removed && !n->stopping && uv_now(n->loop) >= m->linger_until) {
        node_stop(n, 0);
    }
}

void node_members_init(struct node *n, const struct raft_conf *snapshot_conf)
{
    struct node_members *m = &n->members;
    memset(m, 0, sizeof(*m));
    if (snapshot_conf != NULL) {
        m->applied = *snapshot_conf;
        m->was_member = raft_conf_get(snapshot_conf, n->cfg.id) != NULL;
    }
    const struct raft_conf *latest = raft_conf(n->raft);
    if (latest->n > 0 && raft_conf_get(latest, n->cfg.id) == NULL) {
        node_log(NODE_LOG_WARN, "the newest configuration in the log does not list node %llu "
                                "(removed, or not yet added): it will not campaign",
                 (unsigned long long)n->cfg.id);
    }
}

void node_members_close(struct node *n)
{
    struct node_member_op *op;
    while ((op = n->members.ops) != NULL) {
        n->members.ops = op->next;
        free(op);
    }
}
