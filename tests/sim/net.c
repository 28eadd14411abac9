/* The simulated network: per-link delay, loss, duplication and (one-way) partitions
 * between nodes; delay and loss between clients and nodes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static struct sim_link *link_of(struct sim *s, uint64_t from, uint64_t to)
{
    if (from == 0 || to == 0 || from >= SIM_MAX_IDS || to >= SIM_MAX_IDS)
        return NULL;
    return &s->net.link[from][to];
}

/* Each copy gets its own random delay, which is what reorders messages. The copy
 * is deep (raft_message_copy) because the core frees the ready batch it came in. */
void sim_net_send(struct sim *s, const struct raft_message *m)
{
    struct sim_link *l = link_of(s, m->from, m->to);
    if (!l) {
        sim_fail(s, "n%" PRIu64 " sent %s to unknown node %" PRIu64, m->from,
                 raft_msg_type_name(m->type), m->to);
        return;
    }
    if (sim_rng_pm(&s->rng, l->drop_pm)) {
        sim_trace(s, "lose %s n%" PRIu64 "->n%" PRIu64, raft_msg_type_name(m->type), m->from,
                  m->to);
        return;
    }
    int copies = sim_rng_pm(&s->rng, l->dup_pm) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        struct raft_message *copy = calloc(1, sizeof(*copy));
        if (!copy || raft_message_copy(copy, m) != 0) {
            free(copy);
            sim_fail(s, "out of memory copying a message");
            return;
        }
        uint64_t delay = sim_rng_range(&s->rng, s->p.delay_min, s->p.delay_max);
        sim_schedule(s, s->now + delay, SIM_EV_DELIVER, m->to, 0, copy);
    }
}

int sim_net_copies(struct sim *s, uint64_t from, uint64_t to)
{
    struct sim_link *l = link_of(s, from, to);
    if (!l || sim_rng_pm(&s->rng, l->drop_pm))
        return 0;
    return sim_rng_pm(&s->rng, l->dup_pm) ? 2 : 1;
}

bool sim_net_is_cut(struct sim *s, uint64_t from, uint64_t to)
{
    struct sim_link *l = link_of(s, from, to);
    return !l || l->cut;
}

/* Clients sit outside the partitions: their messages are only delayed like any
 * other, and lost now and then while the fault phase lasts. A request that finds
 * its node down is lost too. */
static void client_post(struct sim *s, const struct sim_req *r, int type, uint64_t to)
{
    if (!s->healed && sim_rng_pm(&s->rng, s->p.client_drop_pm)) {
        bool counter = r->op == SIM_OP_INCR || r->op == SIM_OP_GET;
        sim_trace(s, "lose a %s %s (op %d, client %u)", counter ? "counter" : "lock",
                  type == SIM_EV_REQUEST ? "request" : "answer", r->op, counter ? 0 : r->client);
        sim_counters_lost(s, r);
        return;
    }
    struct sim_req *copy = malloc(sizeof(*copy));
    if (!copy) {
        sim_fail(s, "out of memory copying a client message");
        return;
    }
    *copy = *r;
    uint64_t delay = sim_rng_range(&s->rng, s->p.delay_min, s->p.delay_max);
    struct sim_event ev = {.at = s->now + delay, .type = type, .node = to, .payload = copy};
    if (sim_queue_push(&s->q, ev) != 0) {
        free(copy);
        sim_fail(s, "out of memory scheduling an event");
    }
}

void sim_net_request(struct sim *s, const struct sim_req *r)
{
    client_post(s, r, SIM_EV_REQUEST, r->node);
}

void sim_net_answer(struct sim *s, const struct sim_req *r)
{
    client_post(s, r, SIM_EV_ANSWER, r->client);
}

void sim_net_on_request(struct sim *s, const struct sim_event *ev)
{
    struct sim_req *r = ev->payload;
    struct sim_node *n = sim_node_get(s, r->node);
    if (!n || n->state != SIM_NODE_UP) {
        sim_counters_lost(s, r);
        return;
    }
    sim_service_request(s, n, r);
}

/* Partitions are checked on arrival, so a cut also catches messages in flight. */
void sim_net_deliver(struct sim *s, const struct sim_event *ev)
{
    const struct raft_message *m = ev->msg;
    struct sim_node *n = sim_node_get(s, m->to);
    const char *name = raft_msg_type_name(m->type);
    if (!n || n->state != SIM_NODE_UP) {
        sim_trace(s, "drop %s n%" PRIu64 "->n%" PRIu64 " (down)", name, m->from, m->to);
        return;
    }
    if (link_of(s, m->from, m->to)->cut) {
        sim_trace(s, "drop %s n%" PRIu64 "->n%" PRIu64 " (cut)", name, m->from, m->to);
        return;
    }
    if (s->verbose) {
        char detail[160];
        sim_msg_describe(detail, sizeof(detail), m);
        sim_trace(s, "recv %s n%" PRIu64 "->n%" PRIu64 " t%" PRIu64 " %s", name, m->from,
                  m->to, m->term, detail);
    }
    sim_node_step(s, n, m);
}

void sim_net_heal(struct sim *s)
{
    memset(&s->net, 0, sizeof(s->net));
}

/* Cuts every link between the ids whose bit in side_mask is set and the others. */
void sim_net_split(struct sim *s, const uint64_t *ids, size_t n, uint64_t side_mask)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            bool a = (side_mask >> i) & 1, b = (side_mask >> j) & 1;
            if (a != b)
                s->net.link[ids[i]][ids[j]].cut = true;
        }
    }
}

void sim_net_cut(struct sim *s, uint64_t from, uint64_t to)
{
    struct sim_link *l = link_of(s, from, to);
    if (l)
        l->cut = true;
}

/* Jepsen's partition-leader: the node alone on one side, everybody else fully
 * connected on the other (loss and duplication settings stay). */
void sim_net_isolate(struct sim *s, uint64_t id)
{
    for (uint64_t a = 1; a < SIM_MAX_IDS; a++)
        for (uint64_t b = 1; b < SIM_MAX_IDS; b++)
            s->net.link[a][b].cut = false;
    for (uint64_t other = 1; other < SIM_MAX_IDS; other++) {
        if (other == id)
            continue;
        sim_net_cut(s, id, other);
        sim_net_cut(s, other, id);
    }
}

/* from == 0 means every link. */
void sim_net_flaky(struct sim *s, uint64_t from, uint64_t to, unsigned drop_pm,
                   unsigned dup_pm)
{
    for (uint64_t a = 1; a < SIM_MAX_IDS; a++) {
        for (uint64_t b = 1; b < SIM_MAX_IDS; b++) {
            if (from != 0 && (a != from || b != to))
                continue;
            s->net.link[a][b].drop_pm = (uint16_t)drop_pm;
            s->net.link[a][b].dup_pm = (uint16_t)dup_pm;
        }
    }
}

static void describe_append(char *buf, size_t len, const struct raft_message *m)
{
    if (m->n_entries == 0) {
        snprintf(buf, len, "prev=%" PRIu64 "/%" PRIu64 " commit=%" PRIu64, m->prev_index,
                 m->prev_term, m->commit);
        return;
    }
    snprintf(buf, len, "prev=%" PRIu64 "/%" PRIu64 " entries=%" PRIu64 "..%" PRIu64
             " commit=%" PRIu64, m->prev_index, m->prev_term, m->entries[0].index,
             m->entries[m->n_entries - 1].index, m->commit);
}

void sim_msg_describe(char *buf, size_t len, const struct raft_message *m)
{
    const char *rej = m->reject ? " reject" : "";
    switch (m->type) {
    case RAFT_MSG_PREVOTE:
    case RAFT_MSG_VOTE:
        snprintf(buf, len, "last=%" PRIu64 "/%" PRIu64 "%s", m->last_log_index,
                 m->last_log_term, m->transfer ? " transfer" : "");
        break;
    case RAFT_MSG_APPEND:
        describe_append(buf, len, m);
        break;
    case RAFT_MSG_APPEND_RESP:
        snprintf(buf, len, "index=%" PRIu64 "%s hint=%" PRIu64 "/%" PRIu64, m->index, rej,
                 m->hint_index, m->hint_term);
        break;
    case RAFT_MSG_HEARTBEAT:
        snprintf(buf, len, "commit=%" PRIu64 " seq=%" PRIu64, m->commit, m->read_seq);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        snprintf(buf, len, "seq=%" PRIu64 "%s", m->read_seq, rej);
        break;
    case RAFT_MSG_SNAPSHOT:
        snprintf(buf, len, "snap=%" PRIu64 "/%" PRIu64 " off=%" PRIu64 " len=%zu%s",
                 m->snapshot.index, m->snapshot.term, m->offset, m->chunk.len,
                 m->done ? " done" : "");
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        snprintf(buf, len, "snap=%" PRIu64 " off=%" PRIu64 "%s", m->index, m->offset, rej);
        break;
    default:
        snprintf(buf, len, "%s", m->reject ? "reject" : "");
        break;
    }
}
