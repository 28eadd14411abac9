/* Leadership transfer: catch the target up, then TimeoutNow (Raft dissertation §3.10). */
#include "raft/internal.h"

static struct raft_progress *most_up_to_date(struct raft *r)
{
    struct raft_progress *best = NULL;
    for (size_t i = 0; i < r->n_progress; i++) {
        struct raft_progress *pr = &r->progress[i];
        if (raft_conf_is_voter(&r->conf, pr->id) && (best == NULL || pr->match > best->match)) {
            best = pr;
        }
    }
    return best;
}

int raft_transfer(struct raft *r, uint64_t target)
{
    if (r->role != RAFT_LEADER) {
        return BATON_ENOTLEADER;
    }
    if (r->transfer_target != 0) {
        return BATON_EBUSY;
    }
    struct raft_progress *pr = target ? raft_progress_get(r, target) : most_up_to_date(r);
    if (pr == NULL || !raft_conf_is_voter(&r->conf, pr->id)) {
        return BATON_EINVAL;
    }
    /* New proposals wait (EBUSY) so the target can catch up; if it cannot within
     * an election timeout the transfer is abandoned and we keep leading. */
    r->transfer_target = pr->id;
    r->transfer_deadline = r->now + r->opt.election_ms;
    pr->timeout_now_sent = false;
    raft_transfer_check(r, pr);
    if (!pr->timeout_now_sent) {
        raft_send_append(r, pr, true);
    }
    return 0;
}

void raft_transfer_check(struct raft *r, struct raft_progress *pr)
{
    if (r->transfer_target != pr->id || pr->timeout_now_sent ||
        pr->match != raft_log_last_index(&r->log)) {
        return;
    }
    struct raft_message m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = pr->id};
    pr->timeout_now_sent = true;
    (void)raft_send(r, &m);
}

void raft_transfer_abort(struct raft *r)
{
    r->transfer_target = 0;
}

void raft_handle_timeout_now(struct raft *r, const struct raft_message *m)
{
    if (r->role == RAFT_LEADER || !raft_is_voter(r)) {
        return;
    }
    /* The leader asked: skip pre-vote, and let voters override their stickiness. */
    raft_campaign(r, true);
}
