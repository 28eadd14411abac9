/* Membership: single-server changes, learner promotion (Raft dissertation §4). */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

void raft_progress_sync(struct raft *r)
{
    struct raft_progress keep[RAFT_MAX_SERVERS];
    size_t n = 0;
    for (size_t i = 0; i < r->conf.n; i++) {
        const struct raft_server *s = &r->conf.servers[i];
        if (s->id == r->id) {
            continue;
        }
        struct raft_progress *old = raft_progress_get(r, s->id);
        if (old != NULL) {
            keep[n++] = *old;
            continue;
        }
        struct raft_progress *pr = &keep[n++];
        memset(pr, 0, sizeof(*pr));
        pr->id = s->id;
        pr->next = raft_log_last_index(&r->log) + 1;
        raft_progress_reset(pr, PROGRESS_PROBE);
    }
    memcpy(r->progress, keep, n * sizeof(keep[0]));
    r->n_progress = n;
}

/* Raft dissertation §4.1: a server uses the latest configuration in its log,
 * committed or not; truncating that entry reverts to the previous one. */
void raft_conf_refresh(struct raft *r)
{
    uint64_t last = raft_log_last_index(&r->log);
    uint64_t stop = r->log.snap_index + 1 > r->log.first ? r->log.snap_index + 1 : r->log.first;
    r->conf = r->snap_conf;
    r->conf_index = 0;
    for (uint64_t i = last; i >= stop && i > 0; i--) {
        const struct raft_entry *e = raft_log_get(&r->log, i);
        if (e->type == RAFT_ENTRY_CONF &&
            raft_conf_decode(e->data.base, e->data.len, &r->conf) == 0) {
            r->conf_index = i;
            break;
        }
        r->conf = r->snap_conf;
    }
    if (r->role == RAFT_LEADER) {
        raft_progress_sync(r);
    } else if (r->role != RAFT_FOLLOWER && !raft_is_voter(r)) {
        raft_become_follower(r, r->term, 0);
    }
}

static bool change_allowed(const struct raft *r)
{
    /* One change at a time, and only after the leader committed an entry of its
     * own term: otherwise two leaders could each commit a different change that
     * an older configuration never saw (the bug Ongaro reported in 2015). */
    return r->transfer_target == 0 && r->conf_index <= r->commit && raft_committed_in_term(r);
}

static int append_conf(struct raft *r, const struct raft_conf *conf, uint64_t *index)
{
    struct raft_buf buf;
    int rv = raft_conf_encode(conf, &buf);
    if (rv != 0) {
        return rv;
    }
    rv = raft_append_local(r, RAFT_ENTRY_CONF, buf.base, buf.len, index);
    free(buf.base);
    if (rv == 0) {
        r->out.bcast_append = true;
    }
    return rv;
}

static int edit_conf(struct raft_conf *c, int type, uint64_t id, const char *addr)
{
    struct raft_server *s = (struct raft_server *)raft_conf_get(c, id);
    switch (type) {
    case RAFT_CHANGE_ADD_VOTER:
        if (s != NULL) {
            if (s->role == RAFT_VOTER || s->promote) {
                return BATON_EINVAL;
            }
            s->promote = true;
            return 0;
        }
        if (raft_conf_add(c, id, RAFT_LEARNER, addr) != 0) {
            return c->n == RAFT_MAX_SERVERS ? BATON_ECONFIG : BATON_EINVAL;
        }
        c->servers[c->n - 1].promote = true;
        return 0;
    case RAFT_CHANGE_ADD_LEARNER:
        if (raft_conf_add(c, id, RAFT_LEARNER, addr) != 0) {
            return c->n == RAFT_MAX_SERVERS ? BATON_ECONFIG : BATON_EINVAL;
        }
        return 0;
    case RAFT_CHANGE_REMOVE:
        if (s == NULL || (s->role == RAFT_VOTER && raft_conf_voters(c) == 1)) {
            return BATON_EINVAL;
        }
        return raft_conf_remove(c, id);
    default:
        return BATON_EINVAL;
    }
}

int raft_change(struct raft *r, int type, uint64_t id, const char *addr, uint64_t *index)
{
    if (r->role != RAFT_LEADER) {
        return BATON_ENOTLEADER;
    }
    if (!change_allowed(r)) {
        return BATON_EBUSY;
    }
    struct raft_conf next = r->conf;
    int rv = edit_conf(&next, type, id, addr);
    if (rv != 0) {
        return rv;
    }
    return append_conf(r, &next, index);
}

void raft_maybe_promote(struct raft *r)
{
    if (r->role != RAFT_LEADER || !change_allowed(r)) {
        return;
    }
    for (size_t i = 0; i < r->conf.n; i++) {
        const struct raft_server *s = &r->conf.servers[i];
        const struct raft_progress *pr = raft_progress_get(r, s->id);
        /* Caught up: it holds everything committed, so making it a voter cannot
         * stall commitment while it copies the log (dissertation §4.2.1). */
        if (s->role == RAFT_LEARNER && s->promote && pr != NULL && pr->match >= r->commit) {
            struct raft_conf next = r->conf;
            next.servers[i].role = RAFT_VOTER;
            next.servers[i].promote = false;
            uint64_t index;
            (void)append_conf(r, &next, &index);
            return;
        }
    }
}

void raft_on_commit_conf(struct raft *r)
{
    /* A leader removed from the configuration leads until the removal commits,
     * then steps down (dissertation §4.2.2). */
    if (r->role == RAFT_LEADER && r->conf_index <= r->commit && !raft_is_voter(r)) {
        raft_become_follower(r, r->term, 0);
    }
}
