/* ReadIndex: linearizable reads confirmed by a heartbeat round (Raft dissertation §6.4). */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

static size_t acks(const struct raft *r, uint64_t seq)
{
    size_t n = raft_is_voter(r) ? 1 : 0;
    for (size_t i = 0; i < r->n_progress; i++) {
        const struct raft_progress *pr = &r->progress[i];
        if (pr->read_acked >= seq && raft_conf_is_voter(&r->conf, pr->id)) {
            n++;
        }
    }
    return n;
}

static void arm(struct raft *r, struct raft_pending_read *rd)
{
    /* The read is safe at the commit index once a heartbeat sent after this
     * point has been acknowledged by a quorum: no newer leader existed then. */
    rd->index = r->commit;
    rd->seq = r->hb_seq + 1;
    r->out.bcast_heartbeat = true;
}

int raft_read_index(struct raft *r, uint64_t ctx)
{
    if (r->role != RAFT_LEADER) {
        return BATON_ENOTLEADER;
    }
    if (r->n_reads == r->cap_reads) {
        size_t cap = r->cap_reads ? r->cap_reads * 2 : 8;
        struct raft_pending_read *reads = realloc(r->reads, cap * sizeof(*reads));
        if (reads == NULL) {
            return BATON_ENOMEM;
        }
        r->reads = reads;
        r->cap_reads = cap;
    }
    struct raft_pending_read *rd = &r->reads[r->n_reads++];
    memset(rd, 0, sizeof(*rd));
    rd->ctx = ctx;
    /* Until the leader commits an entry of its term it does not know the commit
     * index (Raft §8): the read waits for the no-op. */
    if (raft_committed_in_term(r)) {
        arm(r, rd);
    }
    raft_reads_on_ack(r);
    return 0;
}

void raft_reads_on_commit(struct raft *r)
{
    if (!raft_committed_in_term(r)) {
        return;
    }
    for (size_t i = 0; i < r->n_reads; i++) {
        if (r->reads[i].seq == 0) {
            arm(r, &r->reads[i]);
        }
    }
    raft_reads_on_ack(r);
}

void raft_reads_on_ack(struct raft *r)
{
    size_t done = 0;
    size_t quorum = raft_quorum(r);
    while (done < r->n_reads && r->reads[done].seq != 0 &&
           acks(r, r->reads[done].seq) >= quorum) {
        if (raft_push_read(r, r->reads[done].ctx, r->reads[done].index, true) != 0) {
            break;
        }
        done++;
    }
    if (done > 0) {
        memmove(r->reads, r->reads + done, (r->n_reads - done) * sizeof(*r->reads));
        r->n_reads -= done;
    }
}

void raft_reads_fail_all(struct raft *r)
{
    for (size_t i = 0; i < r->n_reads; i++) {
        (void)raft_push_read(r, r->reads[i].ctx, 0, false);
    }
    r->n_reads = 0;
}
