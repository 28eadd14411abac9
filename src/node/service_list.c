/* The service's listings, served after ReadIndex: every live lease, and the committed members. */
#include <stdio.h>
#include <stdlib.h>

#include "node/node.h"

/* Room for the Envelope around a ClientResponse and the request id that
 * node_service_reply() sets after we measured it. */
#define ENVELOPE_SLACK 32

/* Sends resp if it fits in one frame; otherwise says why it does not (the
 * response itself is never cut short: a partial list would read as the whole). */
static void reply_sized(struct node *n, const struct node_pending *p, Baton__ClientResponse *resp,
                        const char *what)
{
    size_t len = baton__client_response__get_packed_size(resp) + ENVELOPE_SLACK;
    if (len > n->cfg.max_frame) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s needs %zu bytes, over the %zu-byte frame limit", what,
                 len, n->cfg.max_frame);
        node_service_reply_err(n, p, BATON_ETOOBIG, msg);
        return;
    }
    node_service_reply(n, p, resp);
}

static void fill_lease(Baton__LeaseInfo *pb, const struct lease_entry *e)
{
    baton__lease_info__init(pb);
    pb->lease = e->id;
    pb->ttl_ms = e->ttl_ms;
    /* While the clocks run every live lease has one (started with the clocks or
     * by its grant's event); the TTL is the honest fallback should one not. */
    pb->remaining_ms = e->clocked ? e->remaining_ms : e->ttl_ms;
    pb->n_locks = e->n_held;
    pb->locks = (char **)e->held;
    pb->n_waits = e->n_waits;
    pb->waits = (char **)e->waits;
}

/* Answers p with the leases of l (borrowed). */
static void send_leases(struct node *n, const struct node_pending *p, const struct lease_list *l)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__LeaseListResponse list = BATON__LEASE_LIST_RESPONSE__INIT;
    Baton__LeaseInfo *infos = calloc(l->n + 1, sizeof(*infos));
    Baton__LeaseInfo **ptrs = calloc(l->n + 1, sizeof(*ptrs));
    if (infos == NULL || ptrs == NULL) {
        node_service_reply_err(n, p, BATON_ENOMEM, NULL);
    } else {
        for (size_t i = 0; i < l->n; i++) {
            fill_lease(&infos[i], &l->v[i]);
            ptrs[i] = &infos[i];
        }
        list.n_leases = l->n;
        list.leases = ptrs;
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_LEASE_LIST;
        resp.lease_list = &list;
        reply_sized(n, p, &resp, "the lease list");
    }
    free(ptrs);
    free(infos);
}

void node_service_lease_list(struct node *n, const struct node_pending *p)
{
    struct node_service *s = &n->service;
    if (!s->clocks_running) {
        /* Leadership was lost after the read was confirmed: how long each lease
         * has left is now the new leader's to say. */
        node_service_reply_err(n, p, BATON_ENOTLEADER, NULL);
        return;
    }
    struct lease_list l;
    if (lease_list_read(n->sm.locks, &l) != 0) {
        node_service_reply_err(n, p, BATON_ENOMEM, NULL);
        return;
    }
    lock_clock_list_remaining(&s->clock, &l, uv_now(n->loop));
    send_leases(n, p, &l);
    lease_list_close(&l);
}

void node_service_members(struct node *n, const struct node_pending *p)
{
    if (raft_role(n->raft) != RAFT_LEADER) {
        node_service_reply_err(n, p, BATON_ENOTLEADER, NULL);
        return;
    }
    struct raft_conf conf;
    int rv = raft_conf_committed(n->raft, &conf);
    if (rv != 0) {
        node_service_reply_err(n, p, rv, "a configuration entry in the log does not decode");
        return;
    }
    struct node_member_pb pb;
    node_member_pb_fill(&pb, &conf);
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__ClusterMembersResponse members = BATON__CLUSTER_MEMBERS_RESPONSE__INIT;
    members.n_members = pb.n;
    members.members = pb.mp;
    members.leader = n->cfg.id;
    resp.result_case = BATON__CLIENT_RESPONSE__RESULT_CLUSTER_MEMBERS;
    resp.cluster_members = &members;
    node_service_reply(n, p, &resp);
}
