/* The simulation's event queue: a binary min-heap ordered by (time, insertion order). */
#include <stdlib.h>

#include "sim.h"

/* Ties on time go to the event scheduled first, so a run never depends on heap
 * layout: the same seed pops the same events in the same order. */
static bool before(const struct sim_event *a, const struct sim_event *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

int sim_queue_push(struct sim_queue *q, struct sim_event ev)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        struct sim_event *v = realloc(q->v, cap * sizeof(*v));
        if (!v)
            return BATON_ENOMEM;
        q->v = v;
        q->cap = cap;
    }
    ev.seq = q->next_seq++;
    size_t i = q->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&ev, &q->v[parent]))
            break;
        q->v[i] = q->v[parent];
        i = parent;
    }
    q->v[i] = ev;
    return 0;
}

bool sim_queue_pop(struct sim_queue *q, struct sim_event *out)
{
    if (q->n == 0)
        return false;
    *out = q->v[0];
    struct sim_event last = q->v[--q->n];
    if (q->n == 0)
        return true;
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && before(&q->v[c + 1], &q->v[c]))
            c++;
        if (!before(&q->v[c], &last))
            break;
        q->v[i] = q->v[c];
        i = c;
    }
    q->v[i] = last;
    return true;
}

void sim_queue_free(struct sim_queue *q)
{
    for (size_t i = 0; i < q->n; i++) {
        if (q->v[i].msg) {
            raft_message_clear(q->v[i].msg);
            free(q->v[i].msg);
        }
        free(q->v[i].payload);
    }
    free(q->v);
    q->v = NULL;
    q->n = q->cap = 0;
}
