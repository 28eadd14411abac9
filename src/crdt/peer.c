/* Gossip bookkeeping with one peer: what it acknowledged of ours, what we hold of its. */
#include <string.h>

#include "crdt/internal.h"

void crdt_peer_init(struct crdt_peer *p)
{
    memset(p, 0, sizeof(*p));
}

void crdt_peer_resync(struct crdt_peer *p)
{
    p->acked = 0;
}

/* Moves have forward over every merge that has become durable here. */
static void promote(const struct crdt_set *s, struct crdt_peer *p)
{
    while (p->n_pend > 0 && p->pend[0].at <= s->durable) {
        p->have = p->pend[0].upto;
        p->pend[0] = p->pend[1];
        p->n_pend--;
    }
}

int crdt_peer_receive(struct crdt_set *s, struct crdt_peer *p, const struct crdt_delta *d,
                      bool *changed, size_t *n_changed)
{
    if (d->epoch == 0 || d->since > d->upto) {
        return BATON_EINVAL;
    }
    int err = crdt_merge(s, d->slots, d->n, changed, n_changed);
    if (err != 0) {
        return err;
    }
    if (p->epoch == 0 || d->epoch > p->epoch) {
        /* The peer (re)started: its versions start over. */
        p->epoch = d->epoch;
        p->have = 0;
        p->next = 0;
        p->n_pend = 0;
    } else if (d->epoch < p->epoch) {
        return 0; /* from a run that has ended: merged, but says nothing of now */
    }
    promote(s, p);
    if (d->since > p->next || d->upto <= p->next) {
        return 0; /* a gap before it (something was lost), or nothing new */
    }
    /* The merge is durable once everything up to the current version is, which
     * may include unrelated changes: a conservative wait. When both queue
     * places are taken, the newer one moves on and the older keeps its place,
     * so have still advances under steady traffic. */
    p->next = d->upto;
    size_t i = p->n_pend < 2 ? p->n_pend++ : 1;
    p->pend[i].upto = d->upto;
    p->pend[i].at = s->version;
    promote(s, p);
    return 0;
}

void crdt_peer_ack(const struct crdt_set *s, struct crdt_peer *p, uint64_t *epoch,
                   uint64_t *have)
{
    promote(s, p);
    *epoch = p->epoch;
    *have = p->have;
}

void crdt_peer_acked(const struct crdt_set *s, struct crdt_peer *p, uint64_t epoch,
                     uint64_t have)
{
    if (epoch != 0 && epoch != s->epoch) {
        return;
    }
    p->acked = epoch == 0 || have > s->durable ? 0 : have;
}
