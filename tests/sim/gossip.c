/* A node's G-Counters: increments answered once durable, records on the simulated disk,
 * and delta gossip with acknowledgements through the simulated network. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/*
 * As src/node/counters.c: any node takes increments, with or without a quorum; an
 * answer waits until crdt_durable() covers the version the call returned. Changed
 * counters go to the disk as records (crdt_sync_get) in the same ordered write
 * queue as the node's Raft batches, and a crash loses the writes not yet synced; a
 * restart loads the stored records into a set of a new epoch (the incarnation).
 * Every gossip period (1 to 3 heartbeats) a node sends each running peer its acknowledgement and the
 * delta since what that peer acknowledged, as its own message type on the same
 * links as Raft's messages, so loss, duplication, delay and partitions apply. To
 * keep quiet links quiet it skips a peer when it has no delta for it and owes it no
 * acknowledgement (none received a delta since the last round, and what it holds
 * of the peer has not moved), except every SIM_GOSSIP_RESEND-th round.
 */

#define SIM_GOSSIP_RESEND 16
#define SIM_GOSSIP_MAX_BYTES 4096

struct sim_gossip {
    uint64_t from, to;
    uint64_t ack_epoch, ack_have; /* crdt_peer_ack() of the sender for the receiver */
    size_t len;                   /* encoded delta; 0 = none */
    unsigned char data[];
};

static int counter_index(const char *name)
{
    for (int i = 0; i < SIM_COUNTER_NAMES; i++)
        if (strcmp(name, sim_counter_name(i)) == 0)
            return i;
    return -1;
}

int sim_gossip_start(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    int rc = crdt_set_new(n->id, n->incarnation, &v->crdt);
    for (int i = 0; i < SIM_COUNTER_NAMES && rc == 0; i++) {
        const struct raft_buf *rec = &n->d.crdt[i];
        if (rec->len)
            rc = crdt_record_load(v->crdt, sim_counter_name(i), rec->base, rec->len);
    }
    if (rc != 0) {
        sim_fail(s, "n%" PRIu64 ": loading the stored counters: %s", n->id, baton_strerror(rc));
        return rc;
    }
    v->gossip_at = s->now;
    sim_counters_loaded(s, n);
    return 0;
}

void sim_gossip_stop(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    for (struct sim_pending *p = v->counter_waits.head; p; p = p->next)
        sim_counters_lost(s, &p->req);
    sim_plist_free(&v->counter_waits);
    crdt_set_free(v->crdt);
    v->crdt = NULL;
}

static void answer(struct sim *s, struct sim_node *n, struct sim_pending *p)
{
    if (p->req.op == SIM_OP_GET) {
        sim_counters_reported(s, n, p->req.name, p->req.value);
        return;
    }
    p->req.code = 0;
    sim_counters_answered(s, n, &p->req);
    sim_net_answer(s, &p->req);
}

/* An increment, or a read (an increment of 0 gives the value and the version
 * whose durability it waits for). */
void sim_gossip_request(struct sim *s, struct sim_node *n, const struct sim_req *r)
{
    struct sim_service *v = &n->svc;
    uint64_t value = 0, version = 0;
    uint64_t by = r->op == SIM_OP_INCR ? r->n : 0;
    int rc = crdt_incr(v->crdt, sim_counter_name(r->name), by, NULL, &value, &version);
    struct sim_pending *p = rc == 0 ? calloc(1, sizeof(*p)) : NULL;
    if (!p) {
        sim_fail(s, "n%" PRIu64 ": crdt_incr(%s, %" PRIu64 "): %s", n->id,
                 sim_counter_name(r->name), by, baton_strerror(rc ? rc : BATON_ENOMEM));
        return;
    }
    p->req = *r;
    p->req.value = value;
    p->version = version;
    v->crdt_dirty |= by > 0;
    if (crdt_durable(v->crdt) >= version) {
        answer(s, n, p);
        free(p);
    } else {
        sim_plist_push(&v->counter_waits, p);
    }
    sim_gossip_flush(s, n);
}

/* Hands the changed counters to the disk, behind whatever is being written. */
void sim_gossip_flush(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    if (n->state != SIM_NODE_UP || !v->crdt_dirty || s->failed)
        return;
    struct sim_batch *b = calloc(1, sizeof(*b));
    if (!b || crdt_sync_get(v->crdt, &b->sync) != 0) {
        free(b);
        sim_fail(s, "out of memory handing counters to the disk");
        return;
    }
    b->crdt = true;
    v->crdt_dirty = false;
    sim_node_enqueue(s, n, b);
}

/* The records of b are on disk: store them, move the durable mark, answer. */
void sim_gossip_synced(struct sim *s, struct sim_node *n, struct sim_batch *b)
{
    struct sim_service *v = &n->svc;
    for (size_t i = 0; i < b->sync.n && !s->failed; i++) {
        const struct crdt_record *rec = &b->sync.records[i];
        int k = counter_index(rec->name);
        void *copy = malloc(rec->len);
        if (k < 0 || !copy) {
            free(copy);
            sim_fail(s, "n%" PRIu64 " stores counter '%s' (or runs out of memory)", n->id,
                     rec->name);
            return;
        }
        memcpy(copy, rec->data, rec->len);
        free(n->d.crdt[k].base);
        n->d.crdt[k].base = copy;
        n->d.crdt[k].len = rec->len;
        sim_counters_stored(s, n, k, copy, rec->len);
    }
    crdt_persisted(v->crdt, b->sync.upto);
    uint64_t durable = crdt_durable(v->crdt);
    struct sim_plist keep = {NULL, NULL};
    struct sim_pending *p;
    while ((p = v->counter_waits.head)) {
        v->counter_waits.head = p->next;
        if (p->version > durable) {
            sim_plist_push(&keep, p);
            continue;
        }
        answer(s, n, p);
        free(p);
    }
    v->counter_waits = keep;
    sim_counters_synced(s, n);
}

static void send_to(struct sim *s, struct sim_node *n, uint64_t to, bool resend)
{
    struct sim_service *v = &n->svc;
    struct crdt_peer *p = &v->peers[to];
    uint64_t epoch, have;
    crdt_peer_ack(v->crdt, p, &epoch, &have);
    struct crdt_delta d;
    if (crdt_delta_get(v->crdt, p->acked, SIZE_MAX, SIM_GOSSIP_MAX_BYTES, &d) != 0) {
        sim_fail(s, "out of memory taking a delta");
        return;
    }
    bool has_delta = d.n > 0 || d.upto > p->acked;
    bool new_ack = v->ack_due[to] || epoch != v->acked_epoch[to] || have != v->acked_have[to];
    void *data = NULL;
    size_t len = 0;
    if (has_delta || new_ack || resend) {
        sim_counters_check_delta(s, n, &d);
        if (has_delta && crdt_delta_encode(&d, &data, &len) != 0)
            sim_fail(s, "n%" PRIu64 ": a delta does not encode", n->id);
    }
    crdt_delta_clear(&d);
    if (s->failed || !(has_delta || new_ack || resend)) {
        free(data);
        return;
    }
    v->acked_epoch[to] = epoch;
    v->acked_have[to] = have;
    v->ack_due[to] = false;
    int copies = sim_net_copies(s, n->id, to);
    for (int i = 0; i < copies; i++) {
        struct sim_gossip *g = malloc(sizeof(*g) + len);
        if (!g) {
            sim_fail(s, "out of memory sending gossip");
            break;
        }
        *g = (struct sim_gossip){n->id, to, epoch, have, len};
        if (len)
            memcpy(g->data, data, len);
        uint64_t delay = sim_rng_range(&s->rng, s->p.delay_min, s->p.delay_max);
        struct sim_event ev = {.at = s->now + delay, .type = SIM_EV_GOSSIP, .node = to,
                               .payload = g};
        if (sim_queue_push(&s->q, ev) != 0) {
            free(g);
            sim_fail(s, "out of memory scheduling an event");
            break;
        }
        s->ct.gossips++;
    }
    free(data);
}

/* Once per gossip period, to every running peer. */
void sim_gossip_tick(struct sim *s, struct sim_node *n)
{
    struct sim_service *v = &n->svc;
    if (s->now < v->gossip_at + s->p.gossip_ms)
        return;
    v->gossip_at = s->now;
    bool resend = ++v->rounds % SIM_GOSSIP_RESEND == 0;
    for (uint64_t id = 1; id < s->next_id && !s->failed; id++)
        if (id != n->id && s->nodes[id].state == SIM_NODE_UP)
            send_to(s, n, id, resend);
}

void sim_gossip_deliver(struct sim *s, const struct sim_event *ev)
{
    const struct sim_gossip *g = ev->payload;
    struct sim_node *n = sim_node_get(s, g->to);
    if (!n || n->state != SIM_NODE_UP || sim_net_is_cut(s, g->from, g->to))
        return;
    struct sim_service *v = &n->svc;
    struct crdt_peer *p = &v->peers[g->from];
    crdt_peer_acked(v->crdt, p, g->ack_epoch, g->ack_have);
    if (g->len == 0)
        return;
    struct crdt_delta d;
    size_t changed = 0;
    v->ack_due[g->from] = true;
    int rc = crdt_delta_decode(g->data, g->len, &d);
    if (rc == 0)
        rc = crdt_peer_receive(v->crdt, p, &d, NULL, &changed);
    crdt_delta_clear(&d);
    if (rc != 0) {
        sim_fail(s, "n%" PRIu64 ": a delta from n%" PRIu64 ": %s", n->id, g->from,
                 baton_strerror(rc));
        return;
    }
    v->crdt_dirty |= changed > 0;
    sim_gossip_flush(s, n);
}
