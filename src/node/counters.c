/* G-Counters on the node: any node takes increments, with or without a quorum;
 * an answer waits until the slot is durable; heartbeats carry the gossip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/log.h"
#include "node/node.h"

static struct crdt_peer *peer_of(struct node_counters *c, uint64_t id)
{
    for (size_t i = 0; i < c->n_peers; i++) {
        if (c->peer_ids[i] == id) {
            return &c->peers[i];
        }
    }
    return NULL;
}

static int load_cb(const char *name, const void *data, size_t len, void *arg)
{
    return crdt_record_load(arg, name, data, len);
}

int node_counters_start(struct node *n, char *why, size_t why_len)
{
    struct node_counters *c = &n->counters;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* The epoch must grow with every run: wall-clock milliseconds do (a clock
     * set back only costs a full-state exchange, never correctness). */
    uint64_t epoch = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    int rv = crdt_set_new(n->cfg.id, epoch ? epoch : 1, &c->set);
    if (rv == 0) {
        rv = store_crdt_foreach(n->store, load_cb, c->set);
    }
    if (rv != 0) {
        snprintf(why, why_len, "cannot load counters from %s: %s", n->cfg.data_dir,
                 rv == BATON_ECORRUPT || rv == BATON_EIO ? store_errmsg(n->store)
                                                        : baton_strerror(rv));
        return rv;
    }
    for (size_t i = 0; i < n->cfg.n_members; i++) {
        if (n->cfg.members[i].id != n->cfg.id) {
            c->peer_ids[c->n_peers] = n->cfg.members[i].id;
            crdt_peer_init(&c->peers[c->n_peers++]);
        }
    }
    return 0;
}

void node_counters_peers_set(struct node_counters *c, const uint64_t *ids, size_t count)
{
    uint64_t keep_ids[NODE_MAX_MEMBERS];
    struct crdt_peer keep[NODE_MAX_MEMBERS];
    size_t n = 0;
    for (size_t i = 0; i < count && n < NODE_MAX_MEMBERS; i++) {
        /* A peer we gossip with already keeps what it acknowledged; a new one
         * starts from nothing (a full-state exchange). */
        struct crdt_peer *p = peer_of(c, ids[i]);
        keep_ids[n] = ids[i];
        if (p != NULL) {
            keep[n] = *p;
        } else {
            crdt_peer_init(&keep[n]);
        }
        n++;
    }
    memcpy(c->peer_ids, keep_ids, n * sizeof(keep_ids[0]));
    memcpy(c->peers, keep, n * sizeof(keep[0]));
    c->n_peers = n;
}

void node_counters_close(struct node_counters *c)
{
    struct node_pending *p;
    while ((p = c->waits.head) != NULL) {
        c->waits.head = p->next;
        free(p);
    }
    crdt_set_free(c->set);
    memset(c, 0, sizeof(*c));
}

static void answer(struct node *n, const struct node_pending *p)
{
    Baton__ClientResponse resp = BATON__CLIENT_RESPONSE__INIT;
    Baton__CounterIncrResponse incr = BATON__COUNTER_INCR_RESPONSE__INIT;
    Baton__CounterGetResponse get = BATON__COUNTER_GET_RESPONSE__INIT;
    resp.id = p->request;
    if (p->op == BATON__CLIENT_REQUEST__OP_COUNTER_INCR) {
        incr.value = p->token;
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_COUNTER_INCR;
        resp.counter_incr = &incr;
    } else {
        get.value = p->token;
        get.node = n->cfg.id;
        resp.result_case = BATON__CLIENT_RESPONSE__RESULT_COUNTER_GET;
        resp.counter_get = &get;
    }
    node_client_respond(n, p->client, &resp);
}

void node_counters_request(struct node *n, uint64_t client, const Baton__ClientRequest *req)
{
    struct node_counters *c = &n->counters;
    bool incr = req->op_case == BATON__CLIENT_REQUEST__OP_COUNTER_INCR;
    const char *name = incr ? req->counter_incr->name : req->counter_get->name;
    uint64_t by = incr ? req->counter_incr->n : 0;
    uint64_t value = 0, version = 0;
    if (incr && by == 0) {
        node_client_error(n, client, req->id, BATON_EINVAL, NULL);
        return;
    }
    /* An increment of 0 reads the value and the version it must wait for. */
    int rv = crdt_incr(c->set, name, by, NULL, &value, &version);
    if (rv == BATON_ENOTFOUND || (rv == 0 && !incr && value == 0)) {
        rv = 0; /* a counter nobody incremented holds 0 */
    }
    struct node_pending *p = rv == 0 ? calloc(1, sizeof(*p)) : NULL;
    if (p == NULL) {
        node_client_error(n, client, req->id, rv ? rv : BATON_ENOMEM, NULL);
        return;
    }
    p->op = (int)req->op_case;
    p->client = client;
    p->request = req->id;
    p->index = version;
    p->token = value;
    c->dirty |= incr;
    if (crdt_durable(c->set) >= version) {
        answer(n, p);
        free(p);
        return;
    }
    if (c->waits.tail != NULL) {
        c->waits.tail->next = p;
    } else {
        c->waits.head = p;
    }
    c->waits.tail = p;
}

void node_counters_flush(struct node *n)
{
    struct node_counters *c = &n->counters;
    if (!c->dirty) {
        return;
    }
    struct node_persist_item *it = calloc(1, sizeof(*it));
    if (it == NULL || crdt_sync_get(c->set, &it->sync) != 0) {
        free(it);
        return; /* still dirty: tried again at the next pump */
    }
    c->dirty = false;
    it->kind = NODE_PERSIST_CRDT;
    node_persist_push(&n->persist, it);
}

void node_counters_persisted(struct node *n, uint64_t upto)
{
    struct node_counters *c = &n->counters;
    crdt_persisted(c->set, upto);
    uint64_t durable = crdt_durable(c->set);
    struct node_pending **pp = &c->waits.head, *prev = NULL;
    while (*pp != NULL) {
        struct node_pending *p = *pp;
        if (p->index > durable) {
            prev = p;
            pp = &p->next;
            continue;
        }
        answer(n, p);
        *pp = p->next;
        if (c->waits.tail == p) {
            c->waits.tail = prev;
        }
        free(p);
    }
}

void node_counters_fill(struct node *n, uint64_t peer, bool suspected, Baton__Heartbeat *hb,
                        void **buf)
{
    struct node_counters *c = &n->counters;
    struct crdt_peer *p = peer_of(c, peer);
    *buf = NULL;
    if (p == NULL) {
        return;
    }
    crdt_peer_ack(c->set, p, &hb->crdt_ack_epoch, &hb->crdt_ack_have);
    if (suspected && c->rounds % NODE_GOSSIP_SUSPECT_EVERY != 0) {
        return; /* a suspected peer is probably gone: try it less often */
    }
    struct crdt_delta d;
    size_t len = 0;
    if (crdt_delta_get(c->set, p->acked, SIZE_MAX, NODE_GOSSIP_MAX_BYTES, &d) != 0) {
        return;
    }
    if ((d.n > 0 || d.upto > p->acked) && crdt_delta_encode(&d, buf, &len) == 0) {
        hb->crdt_delta.data = *buf;
        hb->crdt_delta.len = len;
        c->gossip_bytes += len;
    }
    crdt_delta_clear(&d);
}

void node_counters_heard(struct node *n, uint64_t peer, const Baton__Heartbeat *hb)
{
    struct node_counters *c = &n->counters;
    struct crdt_peer *p = peer_of(c, peer);
    if (p == NULL) {
        return;
    }
    crdt_peer_acked(c->set, p, hb->crdt_ack_epoch, hb->crdt_ack_have);
    if (hb->crdt_delta.len == 0) {
        return;
    }
    struct crdt_delta d;
    size_t changed = 0;
    if (crdt_delta_decode(hb->crdt_delta.data, hb->crdt_delta.len, &d) != 0) {
        node_log(NODE_LOG_WARN, "dropped a malformed counter delta from peer %llu",
                 (unsigned long long)peer);
        return;
    }
    if (crdt_peer_receive(c->set, p, &d, NULL, &changed) == 0 && changed > 0) {
        c->dirty = true;
    }
    crdt_delta_clear(&d);
}
