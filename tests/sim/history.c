/* What the checker remembers across nodes: every entry seen, committed and applied. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Grows the per-index table as logs grow; NULL (and the run failed) on ENOMEM. */
struct sim_index *sim_history_at(struct sim *s, uint64_t index)
{
    struct sim_history *h = &s->h;
    if (index >= h->n_idx) {
        size_t cap = h->n_idx ? h->n_idx : 1024;
        while (cap <= index)
            cap *= 2;
        struct sim_index *v = realloc(h->idx, cap * sizeof(*v));
        if (!v) {
            sim_fail(s, "out of memory in the checker");
            return NULL;
        }
        memset(v + h->n_idx, 0, (cap - h->n_idx) * sizeof(*v));
        h->idx = v;
        h->n_idx = cap;
    }
    return &h->idx[index];
}

const struct sim_index *sim_history_peek(const struct sim_history *h, uint64_t index)
{
    return index < h->n_idx ? &h->idx[index] : NULL;
}

const struct sim_variant *sim_history_variant(const struct sim_history *h, uint64_t index,
                                              uint64_t term)
{
    const struct sim_index *x = sim_history_peek(h, index);
    for (uint32_t i = 0; x && i < x->n_v; i++)
        if (x->v[i].term == term)
            return &x->v[i];
    return NULL;
}

/* Remembers a configuration entry the first time its (index, term) shows up. */
int sim_history_add_conf(struct sim *s, uint64_t index, uint64_t term,
                         const struct raft_entry *e)
{
    struct sim_history *h = &s->h;
    struct sim_conf_rec rec = {.index = index, .term = term};
    int rc = raft_conf_decode(e->data.base, e->data.len, &rec.conf);
    if (rc != 0)
        return rc;
    if (h->n_confs == h->cap_confs) {
        size_t cap = h->cap_confs ? h->cap_confs * 2 : 16;
        struct sim_conf_rec *v = realloc(h->confs, cap * sizeof(*v));
        if (!v)
            return BATON_ENOMEM;
        h->confs = v;
        h->cap_confs = cap;
    }
    size_t at = h->n_confs;
    while (at > 0 && h->confs[at - 1].index > index)
        at--;
    memmove(h->confs + at + 1, h->confs + at, (h->n_confs - at) * sizeof(*h->confs));
    h->confs[at] = rec;
    h->n_confs++;
    return 0;
}

/* The configuration in effect at index in r's log: the latest configuration entry
 * at or before index that r holds, or, where r's log is compacted, that is
 * committed (everything before a commit point is committed). */
const struct raft_conf *sim_history_conf_at(struct sim *s, const struct raft *r,
                                            uint64_t index)
{
    const struct sim_history *h = &s->h;
    for (size_t i = h->n_confs; i-- > 0;) {
        const struct sim_conf_rec *c = &h->confs[i];
        if (c->index > index)
            continue;
        uint64_t t = raft_term_at(r, c->index);
        const struct sim_index *x = sim_history_peek(h, c->index);
        if (t == c->term || (t == 0 && x && x->committed_term == c->term))
            return &c->conf;
    }
    return NULL;
}

void sim_history_commit_conf(struct sim *s, uint64_t index, const struct raft_conf *conf)
{
    if (index <= s->h.committed_conf_index)
        return;
    s->h.committed_conf = *conf;
    s->h.committed_conf_index = index;
    s->h.commit_grew = true;
}

void sim_history_free(struct sim_history *h)
{
    for (size_t i = 0; i < h->n_idx; i++)
        free(h->idx[i].v);
    free(h->idx);
    free(h->leader_of_term);
    free(h->confs);
    memset(h, 0, sizeof(*h));
}
