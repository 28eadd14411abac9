/* The Raft server: lifecycle, role changes, time, and dispatch of received messages. */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

void raft_options_default(struct raft_options *opt, uint64_t id)
{
    memset(opt, 0, sizeof(*opt));
    opt->id = id;
    opt->heartbeat_ms = 100;
    opt->election_ms = 1000;
    opt->max_inflight = 8;
    opt->max_batch_entries = 256;
    opt->max_batch_bytes = 1 << 20;
    opt->snapshot_chunk_bytes = 256 << 10;
    opt->pre_vote = true;
    opt->check_quorum = true;
    opt->seed = id;
}

/* splitmix64: a seeded stream, so a simulation replays the same timeouts. */
uint64_t raft_random(struct raft *r)
{
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void raft_reset_election_timer(struct raft *r)
{
    /* Raft §5.2: a timeout drawn from [T, 2T) makes split votes rare. */
    r->election_deadline = r->now + r->opt.election_ms + raft_random(r) % r->opt.election_ms;
}

bool raft_is_voter(const struct raft *r)
{
    return raft_conf_is_voter(&r->conf, r->id);
}

size_t raft_quorum(const struct raft *r)
{
    return raft_conf_voters(&r->conf) / 2 + 1;
}

bool raft_committed_in_term(const struct raft *r)
{
    return raft_log_term_at(&r->log, r->commit) == r->term;
}

static void set_term(struct raft *r, uint64_t term)
{
    if (term != r->term) {
        r->term = term;
        r->vote = 0;
        r->out.hs_dirty = true;
    }
}

static void leave_leadership(struct raft *r)
{
    if (r->role == RAFT_LEADER) {
        raft_reads_fail_all(r);
        r->transfer_target = 0;
        r->out.bcast_append = false;
        r->out.bcast_heartbeat = false;
    }
}

void raft_become_follower(struct raft *r, uint64_t term, uint64_t leader)
{
    leave_leadership(r);
    set_term(r, term);
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    r->n_votes = 0;
    raft_reset_election_timer(r);
}

void raft_become_precandidate(struct raft *r)
{
    leave_leadership(r);
    r->role = RAFT_PRECANDIDATE;
    r->leader = 0;
    r->n_votes = 0;
    raft_reset_election_timer(r);
}

void raft_become_candidate(struct raft *r)
{
    leave_leadership(r);
    set_term(r, r->term + 1);
    r->vote = r->id;
    r->out.hs_dirty = true;
    r->role = RAFT_CANDIDATE;
    r->leader = 0;
    r->n_votes = 0;
    raft_reset_election_timer(r);
}

void raft_become_leader(struct raft *r)
{
    r->role = RAFT_LEADER;
    r->leader = r->id;
    r->n_votes = 0;
    r->transfer_target = 0;
    r->heartbeat_deadline = r->now;
    r->check_quorum_deadline = r->now + r->opt.election_ms;
    r->n_progress = 0;
    raft_progress_sync(r);
    /* Raft §8: a no-op of the new term lets the leader learn which entries are
     * committed, and is what makes earlier-term entries commit (§5.4.2). */
    uint64_t index;
    (void)raft_append_local(r, RAFT_ENTRY_NOOP, NULL, 0, &index);
    r->out.bcast_append = true;
}

void raft_accept_leader(struct raft *r, const struct raft_message *m)
{
    if (r->role != RAFT_FOLLOWER) {
        raft_become_follower(r, m->term, m->from);
    }
    r->leader = m->from;
    r->last_heard_leader = r->now;
    raft_reset_election_timer(r);
}

static int check_options(const struct raft_options *o)
{
    if (o->id == 0 || o->heartbeat_ms == 0 || o->election_ms <= o->heartbeat_ms ||
        o->max_inflight == 0 || o->max_inflight > RAFT_INFLIGHT_MAX ||
        o->max_batch_entries == 0 || o->max_batch_bytes == 0 || o->snapshot_chunk_bytes == 0) {
        return BATON_EINVAL;
    }
    return 0;
}

static int load_snapshot(struct raft *r, const struct raft_snapshot *s)
{
    raft_log_init(&r->log, s ? s->meta.index : 0, s ? s->meta.term : 0);
    if (s == NULL) {
        return 0;
    }
    r->snap_conf = s->meta.conf;
    r->commit = r->applied = s->meta.index;
    if (s->data.len > 0) {
        r->snap_data.base = malloc(s->data.len);
        if (r->snap_data.base == NULL) {
            return BATON_ENOMEM;
        }
        memcpy(r->snap_data.base, s->data.base, s->data.len);
        r->snap_data.len = s->data.len;
    }
    return 0;
}

static int load_entries(struct raft *r, const struct raft_boot *b)
{
    if (b->n_entries == 0) {
        return 0;
    }
    /* Entries may overlap the snapshot (a trailing tail) but must reach past it
     * without a gap, and be contiguous. */
    r->log.first = b->entries[0].index;
    if (r->log.first == 0 || r->log.first > r->log.snap_index + 1) {
        return BATON_ECORRUPT;
    }
    for (size_t i = 0; i < b->n_entries; i++) {
        const struct raft_entry *e = &b->entries[i];
        if (e->index != r->log.first + i || e->term == 0 ||
            (i > 0 && e->term < b->entries[i - 1].term)) {
            return BATON_ECORRUPT;
        }
        int rv = raft_log_append(&r->log, e);
        if (rv != 0) {
            return rv;
        }
    }
    if (raft_log_last_index(&r->log) == r->log.snap_index && r->log.snap_index > 0 &&
        raft_log_term_at(&r->log, r->log.snap_index) != r->log.snap_term) {
        return BATON_ECORRUPT;
    }
    return 0;
}

struct raft *raft_new(const struct raft_options *opt, const struct raft_boot *boot,
                      uint64_t now_ms, int *err)
{
    int rv = check_options(opt);
    struct raft *r = NULL;
    if (rv != 0) {
        goto fail;
    }
    rv = BATON_ENOMEM;
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        goto fail;
    }
    r->opt = *opt;
    r->id = opt->id;
    r->rng = opt->seed ^ (opt->id * 0x2545f4914f6cdd1dULL);
    r->now = now_ms;
    r->term = boot->hard_state.term;
    r->vote = boot->hard_state.vote;
    r->role = RAFT_FOLLOWER;
    rv = load_snapshot(r, boot->snapshot);
    if (rv == 0) {
        rv = load_entries(r, boot);
    }
    if (rv != 0) {
        goto fail;
    }
    r->durable_index = raft_log_last_index(&r->log);
    if (raft_log_last_term(&r->log) > r->term) {
        /* A freshly bootstrapped node holds the term-1 entry with term 0. */
        r->term = raft_log_last_term(&r->log);
        r->vote = 0;
        r->out.hs_dirty = true;
    }
    raft_conf_refresh(r);
    raft_reset_election_timer(r);
    return r;
fail:
    raft_free(r);
    if (err != NULL) {
        *err = rv;
    }
    return NULL;
}

void raft_free(struct raft *r)
{
    if (r == NULL) {
        return;
    }
    raft_log_close(&r->log);
    raft_outbox_close(&r->out);
    free(r->snap_data.base);
    free(r->reads);
    free(r->incoming.buf);
    free(r);
}

static void tick_leader(struct raft *r)
{
    if (r->now >= r->heartbeat_deadline) {
        raft_bcast_heartbeat(r);
    }
    if (r->opt.check_quorum && r->now >= r->check_quorum_deadline) {
        /* Check-quorum: a leader that has not heard from a majority within an
         * election timeout may have been replaced; stop serving as leader. */
        size_t active = raft_is_voter(r) ? 1 : 0;
        for (size_t i = 0; i < r->n_progress; i++) {
            struct raft_progress *pr = &r->progress[i];
            if (pr->recent_active && raft_conf_is_voter(&r->conf, pr->id)) {
                active++;
            }
            pr->recent_active = false;
        }
        r->check_quorum_deadline = r->now + r->opt.election_ms;
        if (active < raft_quorum(r)) {
            raft_become_follower(r, r->term, 0);
            return;
        }
    }
    if (r->transfer_target != 0 && r->now >= r->transfer_deadline) {
        raft_transfer_abort(r);
    }
    raft_maybe_promote(r);
}

/* A voter of our latest configuration campaigns; so does a voter of the
 * committed one whom an uncommitted change would remove: it may hold the only
 * up-to-date log, and the others cannot elect anyone without it. If it wins,
 * it leads until that change commits, then steps down (membership.c). */
static bool may_campaign(const struct raft *r)
{
    if (raft_is_voter(r)) {
        return true;
    }
    struct raft_conf committed;
    return r->conf_index > r->commit && raft_conf_at(r, r->commit, &committed) == 0 &&
           raft_conf_is_voter(&committed, r->id);
}

void raft_tick(struct raft *r, uint64_t now_ms)
{
    if (now_ms > r->now) {
        r->now = now_ms;
    }
    if (r->role == RAFT_LEADER) {
        tick_leader(r);
        return;
    }
    if (r->now >= r->election_deadline) {
        if (may_campaign(r)) {
            raft_start_election(r);
        } else {
            raft_reset_election_timer(r);
        }
    }
}

/* Leader stickiness (Raft §9.6 with check-quorum): a server that heard from a
 * live leader within the minimum election timeout ignores requests to elect
 * another, unless the leader itself asked for it (TimeoutNow). */
static bool in_leader_lease(const struct raft *r, const struct raft_message *m)
{
    if (!r->opt.check_quorum || m->transfer) {
        return false;
    }
    if (r->role == RAFT_LEADER) {
        return true; /* check-quorum deposes us if we really lost the majority */
    }
    return r->leader != 0 && r->now < r->last_heard_leader + r->opt.election_ms;
}

static bool from_leader(int type)
{
    return type == RAFT_MSG_APPEND || type == RAFT_MSG_HEARTBEAT ||
           type == RAFT_MSG_SNAPSHOT || type == RAFT_MSG_TIMEOUT_NOW;
}

/* Raft §5.1: a higher term makes us a follower; a lower one is stale. Returns
 * false when the message must not be processed further. */
static bool check_term(struct raft *r, const struct raft_message *m)
{
    bool vote_req = m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_VOTE;
    if (m->term > r->term) {
        if (vote_req && in_leader_lease(r, m)) {
            return false;
        }
        if (m->type == RAFT_MSG_PREVOTE || (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject)) {
            return true; /* pre-votes speak of a future term without entering it */
        }
        raft_become_follower(r, m->term, from_leader(m->type) ? m->from : 0);
        return true;
    }
    if (m->term < r->term) {
#ifdef BATON_RAFT_FAULT_APPEND_NO_TERM_CHECK
        if (m->type == RAFT_MSG_APPEND) {
            return true;
        }
#endif
        if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT) {
            /* Tell a deposed leader about the newer term so it steps down. */
            struct raft_message resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from,
                                        .reject = true};
            (void)raft_send(r, &resp);
        } else if (m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_VOTE) {
            /* A candidate behind on terms must learn the current one, or with
             * pre-vote off it can keep campaigning in terms nobody answers. */
            struct raft_message resp = {
                .type = m->type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP : RAFT_MSG_PREVOTE_RESP,
                .to = m->from,
                .reject = true,
            };
            (void)raft_send(r, &resp);
        }
        return false;
    }
    return true;
}

int raft_step(struct raft *r, const struct raft_message *m)
{
    if (m->to != r->id || m->from == 0 || m->from == r->id || m->term == 0) {
        return 0;
    }
    if (!check_term(r, m)) {
        return 0;
    }
    switch (m->type) {
    case RAFT_MSG_PREVOTE:
    case RAFT_MSG_VOTE:
        return raft_handle_vote(r, m);
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_VOTE_RESP:
        raft_handle_vote_resp(r, m);
        return 0;
    case RAFT_MSG_APPEND:
        return raft_handle_append(r, m);
    case RAFT_MSG_APPEND_RESP:
        raft_handle_append_resp(r, m);
        return 0;
    case RAFT_MSG_HEARTBEAT:
        return raft_handle_heartbeat(r, m);
    case RAFT_MSG_HEARTBEAT_RESP:
        raft_handle_heartbeat_resp(r, m);
        return 0;
    case RAFT_MSG_SNAPSHOT:
        return raft_handle_snapshot(r, m);
    case RAFT_MSG_SNAPSHOT_RESP:
        raft_handle_snapshot_resp(r, m);
        return 0;
    case RAFT_MSG_TIMEOUT_NOW:
        raft_handle_timeout_now(r, m);
        return 0;
    default:
        return 0;
    }
}

int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index, uint64_t *term)
{
    if (r->role != RAFT_LEADER) {
        return BATON_ENOTLEADER;
    }
    if (r->transfer_target != 0) {
        return BATON_EBUSY;
    }
    int rv = raft_append_local(r, RAFT_ENTRY_NORMAL, data, len, index);
    if (rv != 0) {
        return rv;
    }
    *term = r->term;
    r->out.bcast_append = true;
    return 0;
}

uint64_t raft_id(const struct raft *r) { return r->id; }
int raft_role(const struct raft *r) { return r->role; }
uint64_t raft_term(const struct raft *r) { return r->term; }
uint64_t raft_vote(const struct raft *r) { return r->vote; }
uint64_t raft_leader(const struct raft *r) { return r->leader; }
uint64_t raft_commit(const struct raft *r) { return r->commit; }
uint64_t raft_applied(const struct raft *r) { return r->applied; }
uint64_t raft_first_index(const struct raft *r) { return r->log.first; }
uint64_t raft_last_index(const struct raft *r) { return raft_log_last_index(&r->log); }
uint64_t raft_last_term(const struct raft *r) { return raft_log_last_term(&r->log); }
uint64_t raft_snapshot_index(const struct raft *r) { return r->log.snap_index; }
const struct raft_conf *raft_conf(const struct raft *r) { return &r->conf; }
uint64_t raft_transfer_target(const struct raft *r) { return r->transfer_target; }

int raft_conf_committed(const struct raft *r, struct raft_conf *conf)
{
    /* conf_index 0: the configuration came with the snapshot, so it is committed. */
    if (r->conf_index <= r->commit) {
        *conf = r->conf;
        return 0;
    }
    return raft_conf_at(r, r->commit, conf);
}

uint64_t raft_term_at(const struct raft *r, uint64_t index)
{
    return raft_log_term_at(&r->log, index);
}

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
    return raft_log_get(&r->log, index);
}

bool raft_leader_lease_valid(const struct raft *r)
{
    if (r->role != RAFT_LEADER || !r->opt.check_quorum) {
        return false;
    }
    /* Count voters that acknowledged a heartbeat sent recently enough that they
     * still refuse to elect anyone else. The margin of one heartbeat period
     * covers hosts that tick no more often than that. */
    uint64_t window = r->opt.election_ms - r->opt.heartbeat_ms;
    size_t fresh = raft_is_voter(r) ? 1 : 0;
    for (size_t i = 0; i < r->n_progress; i++) {
        const struct raft_progress *pr = &r->progress[i];
        if (raft_conf_is_voter(&r->conf, pr->id) && pr->lease_ack_ms != 0 &&
            r->now < pr->lease_ack_ms + window) {
            fresh++;
        }
    }
    return fresh >= raft_quorum(r);
}

bool raft_progress(const struct raft *r, uint64_t id, uint64_t *match, uint64_t *next)
{
    if (r->role != RAFT_LEADER) {
        return false;
    }
    for (size_t i = 0; i < r->n_progress; i++) {
        if (r->progress[i].id == id) {
            *match = r->progress[i].match;
            *next = r->progress[i].next;
            return true;
        }
    }
    return false;
}
