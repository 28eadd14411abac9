/* Leader election: pre-vote, vote requests, granting, and counting (Raft §5.2, §9.6). */
#include "raft/internal.h"

static void tally(struct raft *r, uint64_t id, bool granted)
{
    for (size_t i = 0; i < r->n_votes; i++) {
        if (r->votes[i].id == id) {
            return; /* duplicates do not count twice */
        }
    }
    if (r->n_votes < RAFT_MAX_SERVERS) {
        r->votes[r->n_votes++] = (struct raft_vote_tally){.id = id, .granted = granted};
    }
}

static void count(const struct raft *r, size_t *granted, size_t *rejected)
{
    *granted = *rejected = 0;
    for (size_t i = 0; i < r->n_votes; i++) {
        if (!raft_conf_is_voter(&r->conf, r->votes[i].id)) {
            continue;
        }
        if (r->votes[i].granted) {
            (*granted)++;
        } else {
            (*rejected)++;
        }
    }
}

static void request_votes(struct raft *r, int type, uint64_t term, bool transfer)
{
    for (size_t i = 0; i < r->conf.n; i++) {
        const struct raft_server *s = &r->conf.servers[i];
        if (s->id == r->id || s->role != RAFT_VOTER) {
            continue;
        }
        struct raft_message m = {
            .type = type,
            .to = s->id,
            .term = term,
            .last_log_index = raft_log_last_index(&r->log),
            .last_log_term = raft_log_last_term(&r->log),
            .transfer = transfer,
        };
        (void)raft_send(r, &m);
    }
}

static void check_outcome(struct raft *r)
{
    size_t granted, rejected;
    count(r, &granted, &rejected);
    size_t quorum = raft_quorum(r);
    if (granted >= quorum) {
        if (r->role == RAFT_PRECANDIDATE) {
            raft_campaign(r, false);
        } else {
            raft_become_leader(r);
        }
    } else if (rejected >= quorum) {
        raft_become_follower(r, r->term, 0);
    }
}

void raft_campaign(struct raft *r, bool transfer)
{
    raft_become_candidate(r);
    tally(r, r->id, true);
    request_votes(r, RAFT_MSG_VOTE, r->term, transfer);
    check_outcome(r);
}

void raft_start_election(struct raft *r)
{
    if (!r->opt.pre_vote) {
        raft_campaign(r, false);
        return;
    }
    /* Raft §9.6: ask first whether we could win, without raising our term, so a
     * server that was cut off cannot disrupt a healthy cluster when it returns. */
    raft_become_precandidate(r);
    tally(r, r->id, true);
    request_votes(r, RAFT_MSG_PREVOTE, r->term + 1, false);
    check_outcome(r);
}

/* Raft §5.4.1: grant only to a candidate whose log is at least as up-to-date. */
static bool log_up_to_date(const struct raft *r, const struct raft_message *m)
{
#ifdef BATON_RAFT_FAULT_VOTE_NO_LOG_CHECK
    return true;
#else
    uint64_t last_term = raft_log_last_term(&r->log);
    return m->last_log_term > last_term ||
           (m->last_log_term == last_term && m->last_log_index >= raft_log_last_index(&r->log));
#endif
}

int raft_handle_vote(struct raft *r, const struct raft_message *m)
{
    bool pre = m->type == RAFT_MSG_PREVOTE;
    bool can_vote = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
                    (pre && m->term > r->term);
    struct raft_message resp = {
        .type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP,
        .to = m->from,
    };
    if (can_vote && log_up_to_date(r, m)) {
        resp.term = m->term;
        if (!pre) {
            r->vote = m->from;
            r->out.hs_dirty = true;
            raft_reset_election_timer(r);
        }
    } else {
        resp.reject = true;
    }
    return raft_send(r, &resp);
}

void raft_handle_vote_resp(struct raft *r, const struct raft_message *m)
{
    bool pre = m->type == RAFT_MSG_PREVOTE_RESP;
    if (pre && r->role == RAFT_PRECANDIDATE) {
        /* A granted pre-vote carries the term we would campaign in. */
        if (m->reject ? m->term != r->term : m->term != r->term + 1) {
            return;
        }
    } else if (!pre && r->role == RAFT_CANDIDATE) {
        if (m->term != r->term) {
            return;
        }
    } else {
        return;
    }
    tally(r, m->from, !m->reject);
    check_outcome(r);
}
