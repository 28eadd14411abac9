/* The deterministic in-memory Raft cluster behind tests/unit/test_raft_*.c. */
#include "raft_fixture.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_MAX_ROUNDS 5000
#define FX_MAX_PUMPS 256

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    ck_assert_msg(q != NULL, "fixture: out of memory");
    return q;
}

static void *xmemdup(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    ck_assert_msg(q != NULL, "fixture: out of memory");
    if (n)
        memcpy(q, p, n);
    return q;
}

#define GROW(ptr, n, cap)                                                    \
    do {                                                                     \
        if ((n) == (cap)) {                                                  \
            (cap) = (cap) ? 2 * (cap) : 8;                                   \
            (ptr) = xrealloc((ptr), (cap) * sizeof(*(ptr)));                 \
        }                                                                    \
    } while (0)

static void entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
    *dst = *src;
    dst->data.base = xmemdup(src->data.base, src->data.len);
}

void fx_free_entries(struct raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].data.base);
    free(e);
}

static bool buf_eq(const struct raft_buf *a, const struct raft_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->base, b->base, a->len) == 0);
}

void fx_options(struct raft_options *opt)
{
    raft_options_default(opt, 1);
    opt->heartbeat_ms = FX_HEARTBEAT_MS;
    opt->election_ms = FX_ELECTION_MS;
    opt->pre_vote = true;
    opt->check_quorum = true;
    opt->seed = 1;
}

struct fx_node *fx_node(struct fx *f, uint64_t id)
{
    ck_assert_msg(id >= 1 && id <= FX_MAX && f->node[id].exists, "fixture: no server %" PRIu64,
                  id);
    return &f->node[id];
}

struct raft *fx_raft(struct fx *f, uint64_t id)
{
    struct fx_node *n = fx_node(f, id);
    ck_assert_msg(n->up, "fixture: server %" PRIu64 " is down", id);
    return n->r;
}

/* ---- durable store ---------------------------------------------------------- */

uint64_t fx_store_last(const struct fx_node *n)
{
    if (n->store.n_log)
        return n->store.log[n->store.n_log - 1].index;
    return n->store.snap ? n->store.snap->meta.index : 0;
}

static void store_truncate_from(struct fx_store *s, uint64_t index)
{
    while (s->n_log && s->log[s->n_log - 1].index >= index) {
        s->n_log--;
        free(s->log[s->n_log].data.base);
    }
}

static void store_drop_prefix(struct fx_store *s, uint64_t upto)
{
    size_t k = 0;
    while (k < s->n_log && s->log[k].index <= upto) {
        free(s->log[k].data.base);
        k++;
    }
    memmove(s->log, s->log + k, (s->n_log - k) * sizeof(*s->log));
    s->n_log -= k;
}

static void store_set_snapshot(struct fx_store *s, const struct raft_snapshot_meta *meta,
                               const void *data, size_t len)
{
    if (s->snap) {
        free(s->snap->data.base);
        free(s->snap);
    }
    s->snap = calloc(1, sizeof(*s->snap));
    ck_assert(s->snap != NULL);
    s->snap->meta = *meta;
    s->snap->data.base = xmemdup(data, len);
    s->snap->data.len = len;
}

/* raft.h: a received snapshot replaces the whole stored log. */
static void store_install_snapshot(struct fx_store *s, const struct raft_snapshot *snap)
{
    store_truncate_from(s, 0);
    store_set_snapshot(s, &snap->meta, snap->data.base, snap->data.len);
}

static void store_append(struct fx_node *n, const struct raft_entry *e, size_t count)
{
    struct fx_store *s = &n->store;
    uint64_t first = e[0].index;
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(e[i].index == first + i,
                      "server %" PRIu64 ": ready entries not contiguous at %zu", n->id, i);
    ck_assert_msg(first >= 1, "server %" PRIu64 ": ready entry with index 0", n->id);
    if (s->n_log && first < s->log[0].index)
        store_truncate_from(s, 0);
    else
        store_truncate_from(s, first);
    uint64_t next = fx_store_last(n) + 1;
    if (s->n_log == 0 && s->snap == NULL)
        next = 1;
    ck_assert_msg(first <= next,
                  "server %" PRIu64 ": ready entries start at %" PRIu64
                  " but the durable log ends at %" PRIu64 " (a gap)",
                  n->id, first, next - 1);
    for (size_t i = 0; i < count; i++) {
        GROW(s->log, s->n_log, s->cap_log);
        entry_copy(&s->log[s->n_log++], &e[i]);
    }
}

static void store_hard_state(struct fx_node *n, const struct raft_hard_state *hs)
{
    struct raft_hard_state *old = &n->store.hs;
    ck_assert_msg(hs->term >= old->term,
                  "server %" PRIu64 ": durable term goes back from %" PRIu64 " to %" PRIu64,
                  n->id, old->term, hs->term);
    ck_assert_msg(hs->term != old->term || old->vote == 0 || hs->vote == old->vote,
                  "server %" PRIu64 ": durable vote in term %" PRIu64 " changes from %" PRIu64
                  " to %" PRIu64,
                  n->id, hs->term, old->vote, hs->vote);
    *old = *hs;
}

static void store_free(struct fx_store *s)
{
    store_truncate_from(s, 0);
    free(s->log);
    if (s->snap) {
        free(s->snap->data.base);
        free(s->snap);
    }
    memset(s, 0, sizeof(*s));
}

/* ---- the test state machine -------------------------------------------------- */

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void sm_clear(struct fx_node *n)
{
    for (size_t i = 0; i < n->n_sm; i++)
        free(n->sm[i].data.base);
    n->n_sm = 0;
    n->applied = 0;
}

static void sm_push(struct fx_node *n, uint64_t index, uint64_t term, int type,
                    const void *data, size_t len)
{
    GROW(n->sm, n->n_sm, n->cap_sm);
    struct fx_sm_entry *e = &n->sm[n->n_sm++];
    e->index = index;
    e->term = term;
    e->type = type;
    e->data.base = xmemdup(data, len);
    e->data.len = len;
}

/* Serialization: per entry index, term, type, len (8 bytes each), then data. */
static void sm_encode(const struct fx_node *n, uint64_t upto, struct raft_buf *out)
{
    size_t len = 0;
    for (size_t i = 0; i < n->n_sm && n->sm[i].index <= upto; i++)
        len += 32 + n->sm[i].data.len;
    unsigned char *p = malloc(len ? len : 1);
    ck_assert(p != NULL);
    out->base = p;
    out->len = len;
    for (size_t i = 0; i < n->n_sm && n->sm[i].index <= upto; i++) {
        put_u64(p, n->sm[i].index);
        put_u64(p + 8, n->sm[i].term);
        put_u64(p + 16, (uint64_t)n->sm[i].type);
        put_u64(p + 24, n->sm[i].data.len);
        memcpy(p + 32, n->sm[i].data.base, n->sm[i].data.len);
        p += 32 + n->sm[i].data.len;
    }
}

static void sm_restore(struct fx_node *n, const struct raft_snapshot *snap)
{
    sm_clear(n);
    const unsigned char *p = snap->data.base;
    size_t left = snap->data.len;
    while (left > 0) {
        ck_assert_msg(left >= 32, "server %" PRIu64 ": snapshot data corrupt (header)", n->id);
        uint64_t dlen = get_u64(p + 24);
        ck_assert_msg(dlen <= left - 32, "server %" PRIu64 ": snapshot data corrupt (length)",
                      n->id);
        uint64_t index = get_u64(p);
        ck_assert_msg(index <= snap->meta.index && index > n->applied,
                      "server %" PRIu64 ": snapshot data corrupt (index %" PRIu64 ")", n->id,
                      index);
        sm_push(n, index, get_u64(p + 8), (int)get_u64(p + 16), p + 32, dlen);
        n->applied = index;
        p += 32 + dlen;
        left -= 32 + dlen;
    }
    n->applied = snap->meta.index;
}

/* ---- invariants ----------------------------------------------------------------- */

static void check_applied(struct fx *f, struct fx_node *n, const struct raft_entry *e)
{
    if (e->index >= f->cap_committed) {
        size_t cap = f->cap_committed ? f->cap_committed : 64;
        while (cap <= e->index)
            cap *= 2;
        f->committed = xrealloc(f->committed, cap * sizeof(*f->committed));
        memset(f->committed + f->cap_committed, 0,
               (cap - f->cap_committed) * sizeof(*f->committed));
        f->cap_committed = cap;
    }
    struct fx_committed *c = &f->committed[e->index];
    if (!c->set) {
        c->set = true;
        c->seen_in = raft_term(n->r);
        c->term = e->term;
        c->type = e->type;
        c->data.base = xmemdup(e->data.base, e->data.len);
        c->data.len = e->data.len;
        if (e->index > f->max_committed)
            f->max_committed = e->index;
        return;
    }
    ck_assert_msg(c->term == e->term && c->type == e->type && buf_eq(&c->data, &e->data),
                  "State Machine Safety: server %" PRIu64 " applies (index %" PRIu64
                  ", term %" PRIu64 ") where another server applied term %" PRIu64,
                  n->id, e->index, e->term, c->term);
}

static void check_leader(struct fx *f, struct fx_node *n)
{
    uint64_t term = raft_term(n->r);
    ck_assert_msg(term >= n->max_term,
                  "server %" PRIu64 ": term goes back from %" PRIu64 " to %" PRIu64, n->id,
                  n->max_term, term);
    n->max_term = term;
    if (raft_role(n->r) != RAFT_LEADER)
        return;
    if (term >= f->cap_terms) {
        size_t cap = f->cap_terms ? f->cap_terms : 64;
        while (cap <= term)
            cap *= 2;
        f->leader_of_term = xrealloc(f->leader_of_term, cap * sizeof(uint64_t));
        memset(f->leader_of_term + f->cap_terms, 0, (cap - f->cap_terms) * sizeof(uint64_t));
        f->cap_terms = cap;
    }
    uint64_t *l = &f->leader_of_term[term];
    ck_assert_msg(*l == 0 || *l == n->id,
                  "Election Safety: servers %" PRIu64 " and %" PRIu64 " both lead term %" PRIu64,
                  *l, n->id, term);
    *l = n->id;
    /* Leader Completeness (Raft §5.4): an entry committed in term C is in the log
     * of every leader of a term >= C; seen_in >= C. */
    uint64_t first = raft_first_index(n->r);
    for (uint64_t i = 1; i <= f->max_committed; i++) {
        const struct fx_committed *c = &f->committed[i];
        if (!c->set || c->seen_in > term || i < first)
            continue;
        ck_assert_msg(raft_term_at(n->r, i) == c->term,
                      "Leader Completeness: leader %" PRIu64 " of term %" PRIu64
                      " has term %" PRIu64 " at index %" PRIu64 ", applied with term %" PRIu64
                      " in term %" PRIu64,
                      n->id, term, raft_term_at(n->r, i), i, c->term, c->seen_in);
    }
}

/* What a message promises must already be durable when it leaves (raft.h, Raft §5). */
static void check_durable(const struct fx_node *n, const struct raft_message *m)
{
    const struct raft_hard_state *hs = &n->store.hs;
    switch (m->type) {
    case RAFT_MSG_VOTE:
        ck_assert_msg(hs->term == m->term && hs->vote == n->id,
                      "server %" PRIu64 " requests votes for term %" PRIu64
                      " before its own vote is durable (durable term %" PRIu64 " vote %" PRIu64
                      ")",
                      n->id, m->term, hs->term, hs->vote);
        break;
    case RAFT_MSG_VOTE_RESP:
        if (!m->reject)
            ck_assert_msg(hs->term == m->term && hs->vote == m->to,
                          "server %" PRIu64 " grants its vote to %" PRIu64 " in term %" PRIu64
                          " before the vote is durable (durable term %" PRIu64
                          " vote %" PRIu64 ")",
                          n->id, m->to, m->term, hs->term, hs->vote);
        break;
    case RAFT_MSG_APPEND_RESP:
        if (!m->reject)
            ck_assert_msg(m->index <= fx_store_last(n),
                          "server %" PRIu64 " acknowledges index %" PRIu64
                          " but only %" PRIu64 " is durable",
                          n->id, m->index, fx_store_last(n));
        break;
    default:
        break;
    }
}

/* ---- outbox ------------------------------------------------------------------------ */

static void out_push(struct fx *f, struct fx_node *n, const struct raft_message *m, bool after)
{
    ck_assert_msg(m->from == n->id,
                  "server %" PRIu64 " sends a message from %" PRIu64, n->id, m->from);
    ck_assert_msg(m->type >= RAFT_MSG_PREVOTE && m->type <= RAFT_MSG_TYPE_MAX,
                  "server %" PRIu64 " sends a message of unknown type %d", n->id, m->type);
    check_durable(n, m);
    n->sent[m->type]++;
    GROW(f->out, f->n_out, f->cap_out);
    struct fx_msg *o = &f->out[f->n_out];
    memset(o, 0, sizeof(*o));
    ck_assert_int_eq(raft_message_copy(&o->m, m), 0);
    o->after_persist = after;
    f->n_out++;
}

static void push_msgs(struct fx *f, struct fx_node *n, const struct raft_ready *rd, bool after)
{
    for (size_t i = 0; i < rd->n_msgs; i++) {
        bool a = rd->after_persist ? rd->after_persist[i] : false;
        if (a == after)
            out_push(f, n, &rd->msgs[i], a);
    }
}

/* ---- the ready loop ------------------------------------------------------------------ */

static void persist(struct fx_node *n, const struct raft_ready *rd)
{
    if (rd->snapshot)
        store_install_snapshot(&n->store, rd->snapshot);
    if (rd->n_entries)
        store_append(n, rd->entries, rd->n_entries);
    if (rd->has_hard_state)
        store_hard_state(n, &rd->hard_state);
}

static void apply(struct fx *f, struct fx_node *n, const struct raft_ready *rd)
{
    if (rd->snapshot) {
        ck_assert_msg(rd->snapshot->meta.index >= n->applied,
                      "server %" PRIu64 ": installs snapshot %" PRIu64
                      " behind its applied index %" PRIu64,
                      n->id, rd->snapshot->meta.index, n->applied);
        sm_restore(n, rd->snapshot);
        n->snapshots_installed++;
    }
    for (size_t i = 0; i < rd->n_committed; i++) {
        const struct raft_entry *e = &rd->committed[i];
        ck_assert_msg(e->index == n->applied + 1,
                      "server %" PRIu64 ": applies index %" PRIu64 " after %" PRIu64, n->id,
                      e->index, n->applied);
        check_applied(f, n, e);
        sm_push(n, e->index, e->term, e->type, e->data.base, e->data.len);
        n->applied = e->index;
    }
    for (size_t i = 0; i < rd->n_reads; i++) {
        GROW(n->reads, n->n_reads, n->cap_reads);
        n->reads[n->n_reads++] = rd->reads[i];
    }
}

/* Steps 2-4 of the ready contract for a batch whose early messages were sent. */
static void complete(struct fx *f, struct fx_node *n, struct raft_ready *rd)
{
    persist(n, rd);
    push_msgs(f, n, rd, true);
    apply(f, n, rd);
    raft_persisted(n->r, rd);
    raft_ready_free(rd);
}

void fx_pump(struct fx *f, uint64_t id)
{
    struct fx_node *n = fx_node(f, id);
    if (!n->up)
        return;
    int pumps = 0;
    while (raft_has_ready(n->r)) {
        ck_assert_msg(++pumps < FX_MAX_PUMPS,
                      "server %" PRIu64 ": raft_has_ready never becomes false", id);
        struct raft_ready rd;
        memset(&rd, 0, sizeof(rd));
        ck_assert_int_eq(raft_ready_get(n->r, &rd), 0);
        push_msgs(f, n, &rd, false);
        if (n->hold) {
            GROW(n->held, n->n_held, n->cap_held);
            n->held[n->n_held++] = rd;
        } else {
            complete(f, n, &rd);
        }
        check_leader(f, n);
    }
    check_leader(f, n);
}

void fx_hold(struct fx *f, uint64_t id)
{
    fx_node(f, id)->hold = true;
}

void fx_release(struct fx *f, uint64_t id)
{
    struct fx_node *n = fx_node(f, id);
    n->hold = false;
    for (size_t i = 0; i < n->n_held; i++)
        complete(f, n, &n->held[i]);
    n->n_held = 0;
    fx_pump(f, id);
}

/* ---- servers ------------------------------------------------------------------------- */

static void node_start(struct fx *f, struct fx_node *n)
{
    struct raft_boot boot;
    memset(&boot, 0, sizeof(boot));
    boot.hard_state = n->store.hs;
    boot.snapshot = n->store.snap;
    boot.entries = n->store.log;
    boot.n_entries = n->store.n_log;
    int err = 0;
    n->r = raft_new(&n->opt, &boot, n->now, &err);
    ck_assert_msg(n->r != NULL, "server %" PRIu64 ": raft_new fails: %s", n->id,
                  baton_strerror(err));
    n->up = true;
    n->max_term = n->store.hs.term;
    sm_clear(n);
    if (n->store.snap)
        sm_restore(n, n->store.snap);
    fx_pump(f, n->id);
}

static struct fx_node *node_create(struct fx *f, uint64_t id, const struct raft_options *tmpl)
{
    ck_assert_msg(id >= 1 && id <= FX_MAX, "fixture: id %" PRIu64 " out of range", id);
    struct fx_node *n = &f->node[id];
    ck_assert_msg(!n->exists, "fixture: server %" PRIu64 " exists", id);
    memset(n, 0, sizeof(*n));
    n->exists = true;
    n->id = id;
    if (tmpl)
        n->opt = *tmpl;
    else
        fx_options(&n->opt);
    n->opt.id = id;
    n->opt.seed = n->opt.seed * 1000003u + id;
    if (id > f->n)
        f->n = id;
    return n;
}

void fx_init_empty(struct fx *f)
{
    memset(f, 0, sizeof(*f));
}

void fx_boot(struct fx *f, uint64_t id, const struct raft_options *tmpl,
             struct raft_hard_state hs, const struct raft_entry *entries, size_t n_entries)
{
    struct fx_node *n = node_create(f, id, tmpl);
    n->store.hs = hs;
    for (size_t i = 0; i < n_entries; i++) {
        GROW(n->store.log, n->store.n_log, n->store.cap_log);
        entry_copy(&n->store.log[n->store.n_log++], &entries[i]);
    }
    node_start(f, n);
}

void fx_add_joining(struct fx *f, uint64_t id, const struct raft_options *tmpl)
{
    struct raft_hard_state hs = {0, 0};
    fx_boot(f, id, tmpl, hs, NULL, 0);
}

struct raft_entry *fx_make_log(size_t n_voters, const uint64_t *terms, size_t n_terms)
{
    struct raft_conf conf;
    memset(&conf, 0, sizeof(conf));
    for (size_t i = 1; i <= n_voters; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "n%zu", i);
        ck_assert_int_eq(raft_conf_add(&conf, i, RAFT_VOTER, addr), 0);
    }
    struct raft_entry *e = calloc(n_terms + 1, sizeof(*e));
    ck_assert(e != NULL);
    ck_assert_int_eq(raft_bootstrap_entry(&conf, &e[0]), 0);
    ck_assert_msg(e[0].index == 1 && e[0].term == 1 && e[0].type == RAFT_ENTRY_CONF,
                  "raft_bootstrap_entry: expected index 1, term 1, CONF");
    for (size_t i = 0; i < n_terms; i++) {
        char buf[48];
        int len = snprintf(buf, sizeof(buf), "t%" PRIu64 "i%zu", terms[i], i + 2);
        e[i + 1].term = terms[i];
        e[i + 1].index = i + 2;
        e[i + 1].type = RAFT_ENTRY_NORMAL;
        e[i + 1].data.base = xmemdup(buf, (size_t)len);
        e[i + 1].data.len = (size_t)len;
    }
    return e;
}

void fx_init(struct fx *f, size_t n, const struct raft_options *tmpl)
{
    fx_init_empty(f);
    ck_assert(n >= 1 && n <= FX_MAX);
    struct raft_entry *e = fx_make_log(n, NULL, 0);
    struct raft_hard_state hs = {1, 0};
    for (uint64_t id = 1; id <= n; id++)
        fx_boot(f, id, tmpl, hs, e, 1);
    fx_free_entries(e, 1);
}

static void node_stop(struct fx_node *n)
{
    for (size_t i = 0; i < n->n_held; i++)
        raft_ready_free(&n->held[i]);
    n->n_held = 0;
    n->hold = false;
    if (n->r)
        raft_free(n->r);
    n->r = NULL;
    n->up = false;
}

void fx_crash(struct fx *f, uint64_t id)
{
    struct fx_node *n = fx_node(f, id);
    ck_assert_msg(n->up, "fixture: server %" PRIu64 " already down", id);
    node_stop(n);
}

void fx_restart(struct fx *f, uint64_t id)
{
    struct fx_node *n = fx_node(f, id);
    ck_assert_msg(!n->up, "fixture: server %" PRIu64 " is running", id);
    node_start(f, n);
}

void fx_destroy(struct fx *f)
{
    for (uint64_t id = 1; id <= FX_MAX; id++) {
        struct fx_node *n = &f->node[id];
        if (!n->exists)
            continue;
        node_stop(n);
        store_free(&n->store);
        sm_clear(n);
        free(n->sm);
        free(n->held);
        free(n->reads);
    }
    fx_drop_all(f);
    free(f->out);
    free(f->leader_of_term);
    for (size_t i = 0; i < f->cap_committed; i++)
        free(f->committed[i].data.base);
    free(f->committed);
    memset(f, 0, sizeof(*f));
}

/* ---- time and messages ------------------------------------------------------------------ */

void fx_tick(struct fx *f, uint64_t id, uint64_t ms)
{
    struct fx_node *n = fx_node(f, id);
    if (!n->up)
        return;
    n->now += ms;
    raft_tick(n->r, n->now);
    fx_pump(f, id);
}

void fx_tick_silent(struct fx *f, uint64_t id, uint64_t ms)
{
    size_t before = f->n_out;
    fx_tick(f, id, ms);
    while (f->n_out > before)
        raft_message_clear(&f->out[--f->n_out].m);
}

void fx_step(struct fx *f, uint64_t id, const struct raft_message *m)
{
    struct fx_node *n = fx_node(f, id);
    if (!n->up)
        return;
    ck_assert_int_eq(raft_step(n->r, m), 0);
    fx_pump(f, id);
}

static bool deliverable(const struct fx *f, const struct raft_message *m)
{
    if (m->to < 1 || m->to > FX_MAX || !f->node[m->to].exists || !f->node[m->to].up)
        return false;
    if (m->from >= 1 && m->from <= FX_MAX && f->cut[m->from][m->to])
        return false;
    if (f->drop && f->drop(m, f->drop_ctx))
        return false;
    return true;
}

size_t fx_deliver_if(struct fx *f, fx_pred pred, void *ctx)
{
    struct fx_msg *batch = f->out;
    size_t n = f->n_out;
    f->out = NULL;
    f->n_out = 0;
    f->cap_out = 0;
    struct fx_msg *keep = NULL;
    size_t n_keep = 0, cap_keep = 0, delivered = 0;
    for (size_t i = 0; i < n; i++) {
        struct raft_message *m = &batch[i].m;
        if (pred && !pred(m, ctx)) {
            GROW(keep, n_keep, cap_keep);
            keep[n_keep++] = batch[i];
            continue;
        }
        if (deliverable(f, m)) {
            struct raft_message shallow = *m;
            if (f->rewrite)
                f->rewrite(&shallow, f->rewrite_ctx);
            if (f->observe)
                f->observe(&shallow, f->observe_ctx);
            fx_step(f, m->to, &shallow);
            delivered++;
        }
        raft_message_clear(m);
    }
    free(batch);
    /* Kept messages go before the ones this round caused. */
    for (size_t i = 0; i < f->n_out; i++) {
        GROW(keep, n_keep, cap_keep);
        keep[n_keep++] = f->out[i];
    }
    free(f->out);
    f->out = keep;
    f->n_out = n_keep;
    f->cap_out = cap_keep;
    return delivered;
}

size_t fx_deliver(struct fx *f)
{
    return fx_deliver_if(f, NULL, NULL);
}

static size_t count_matching(const struct fx *f, fx_pred pred, void *ctx)
{
    size_t c = 0;
    for (size_t i = 0; i < f->n_out; i++)
        if (!pred || pred(&f->out[i].m, ctx))
            c++;
    return c;
}

void fx_settle_if(struct fx *f, fx_pred pred, void *ctx)
{
    int rounds = 0;
    while (count_matching(f, pred, ctx) > 0) {
        ck_assert_msg(++rounds < FX_MAX_ROUNDS,
                      "fixture: messages still flowing after %d rounds", rounds);
        fx_deliver_if(f, pred, ctx);
    }
}

void fx_settle(struct fx *f)
{
    fx_settle_if(f, NULL, NULL);
}

size_t fx_drop_if(struct fx *f, fx_pred pred, void *ctx)
{
    size_t j = 0, dropped = 0;
    for (size_t i = 0; i < f->n_out; i++) {
        if (!pred || pred(&f->out[i].m, ctx)) {
            raft_message_clear(&f->out[i].m);
            dropped++;
        } else {
            f->out[j++] = f->out[i];
        }
    }
    f->n_out = j;
    return dropped;
}

void fx_drop_all(struct fx *f)
{
    fx_drop_if(f, NULL, NULL);
}

static bool msg_matches(const struct raft_message *m, uint64_t from, uint64_t to, int type)
{
    return (!from || m->from == from) && (!to || m->to == to) && (!type || m->type == type);
}

size_t fx_count(const struct fx *f, uint64_t from, uint64_t to, int type)
{
    size_t c = 0;
    for (size_t i = 0; i < f->n_out; i++)
        if (msg_matches(&f->out[i].m, from, to, type))
            c++;
    return c;
}

const struct fx_msg *fx_find(const struct fx *f, uint64_t from, uint64_t to, int type,
                             size_t nth)
{
    for (size_t i = 0; i < f->n_out; i++)
        if (msg_matches(&f->out[i].m, from, to, type) && nth-- == 0)
            return &f->out[i];
    return NULL;
}

const struct fx_msg *fx_last(const struct fx *f, uint64_t from, uint64_t to, int type)
{
    size_t c = fx_count(f, from, to, type);
    return c ? fx_find(f, from, to, type, c - 1) : NULL;
}

struct raft_message fx_mk(int type, uint64_t from, uint64_t to, uint64_t term)
{
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

bool fx_pred_type(const struct raft_message *m, void *ctx)
{
    return m->type == *(const int *)ctx;
}

bool fx_pred_election(const struct raft_message *m, void *ctx)
{
    (void)ctx;
    return m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_PREVOTE_RESP ||
           m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_VOTE_RESP;
}

void fx_cut(struct fx *f, uint64_t a, uint64_t b)
{
    ck_assert(a <= FX_MAX && b <= FX_MAX);
    f->cut[a][b] = true;
    f->cut[b][a] = true;
}

void fx_isolate(struct fx *f, uint64_t id)
{
    for (uint64_t j = 1; j <= FX_MAX; j++)
        if (j != id)
            fx_cut(f, id, j);
}

void fx_heal(struct fx *f)
{
    memset(f->cut, 0, sizeof(f->cut));
}

void fx_run(struct fx *f, uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += FX_HEARTBEAT_MS) {
        for (uint64_t id = 1; id <= f->n; id++)
            if (f->node[id].exists && f->node[id].up)
                fx_tick(f, id, FX_HEARTBEAT_MS);
        fx_settle(f);
    }
}

/* ---- helpers -------------------------------------------------------------------------------- */

void fx_elect(struct fx *f, uint64_t id)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        if (raft_role(fx_raft(f, id)) == RAFT_LEADER)
            break;
        for (uint64_t j = 1; j <= f->n; j++) {
            struct fx_node *n = &f->node[j];
            if (j == id || !n->exists || !n->up)
                continue;
            if (raft_leader(n->r) != 0 || raft_role(n->r) == RAFT_LEADER)
                fx_tick_silent(f, j, 2 * (uint64_t)n->opt.election_ms);
        }
        fx_tick(f, id, 2 * (uint64_t)fx_node(f, id)->opt.election_ms);
        fx_settle(f);
    }
    ck_assert_msg(raft_role(fx_raft(f, id)) == RAFT_LEADER,
                  "fixture: server %" PRIu64 " did not become leader (role %s, term %" PRIu64 ")",
                  id, raft_role_name(raft_role(fx_raft(f, id))), raft_term(fx_raft(f, id)));
}

uint64_t fx_propose(struct fx *f, uint64_t id, const char *data)
{
    uint64_t index = 0, term = 0;
    int rc = raft_propose(fx_raft(f, id), data, strlen(data), &index, &term);
    ck_assert_msg(rc == 0, "raft_propose on %" PRIu64 ": %s", id, baton_strerror(rc));
    ck_assert_uint_eq(term, raft_term(fx_raft(f, id)));
    fx_pump(f, id);
    return index;
}

void fx_compact(struct fx *f, uint64_t id, uint64_t index, uint64_t trailing)
{
    struct fx_node *n = fx_node(f, id);
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    ck_assert_int_eq(raft_snapshot_meta(n->r, index, &meta), 0);
    ck_assert_uint_eq(meta.index, index);
    struct raft_buf data;
    sm_encode(n, index, &data);
    store_set_snapshot(&n->store, &meta, data.base, data.len);
    store_drop_prefix(&n->store, index > trailing ? index - trailing : 0);
    int rc = raft_compact(n->r, &meta, data.base, data.len, trailing);
    free(data.base);
    ck_assert_msg(rc == 0, "raft_compact(%" PRIu64 ") on %" PRIu64 ": %s", index, id,
                  baton_strerror(rc));
    fx_pump(f, id);
}

uint64_t fx_leader(struct fx *f)
{
    uint64_t best = 0, best_term = 0;
    for (uint64_t id = 1; id <= f->n; id++) {
        struct fx_node *n = &f->node[id];
        if (n->exists && n->up && raft_role(n->r) == RAFT_LEADER &&
            raft_term(n->r) >= best_term) {
            best = id;
            best_term = raft_term(n->r);
        }
    }
    return best;
}

static bool entry_eq(const struct raft_entry *a, const struct raft_entry *b)
{
    return a->index == b->index && a->term == b->term && a->type == b->type &&
           buf_eq(&a->data, &b->data);
}

void fx_assert_same_log(struct fx *f, uint64_t a, uint64_t b, uint64_t from, uint64_t to)
{
    struct raft *ra = fx_raft(f, a), *rb = fx_raft(f, b);
    for (uint64_t i = from; i <= to; i++) {
        const struct raft_entry *ea = raft_entry_at(ra, i), *eb = raft_entry_at(rb, i);
        ck_assert_msg(ea != NULL && eb != NULL,
                      "servers %" PRIu64 "/%" PRIu64 ": index %" PRIu64 " missing (%d/%d)", a,
                      b, i, ea != NULL, eb != NULL);
        ck_assert_msg(entry_eq(ea, eb),
                      "servers %" PRIu64 "/%" PRIu64 " differ at index %" PRIu64
                      " (terms %" PRIu64 "/%" PRIu64 ")",
                      a, b, i, ea->term, eb->term);
    }
}

void fx_check_log_matching(struct fx *f)
{
    for (uint64_t a = 1; a <= f->n; a++) {
        for (uint64_t b = a + 1; b <= f->n; b++) {
            struct fx_node *na = &f->node[a], *nb = &f->node[b];
            if (!na->exists || !na->up || !nb->exists || !nb->up)
                continue;
            uint64_t first = raft_first_index(na->r);
            if (raft_first_index(nb->r) > first)
                first = raft_first_index(nb->r);
            uint64_t last = raft_last_index(na->r);
            if (raft_last_index(nb->r) < last)
                last = raft_last_index(nb->r);
            uint64_t top = 0;
            for (uint64_t i = last; i >= first && i > 0; i--) {
                if (raft_term_at(na->r, i) == raft_term_at(nb->r, i)) {
                    top = i;
                    break;
                }
            }
            if (top)
                fx_assert_same_log(f, a, b, first, top);
        }
    }
}

void fx_assert_same_applied(struct fx *f, uint64_t a, uint64_t b)
{
    struct fx_node *na = fx_node(f, a), *nb = fx_node(f, b);
    ck_assert_msg(na->applied == nb->applied,
                  "servers %" PRIu64 "/%" PRIu64 " applied up to %" PRIu64 "/%" PRIu64, a, b,
                  na->applied, nb->applied);
    ck_assert_msg(na->n_sm == nb->n_sm,
                  "servers %" PRIu64 "/%" PRIu64 " state machines hold %zu/%zu entries", a, b,
                  na->n_sm, nb->n_sm);
    for (size_t i = 0; i < na->n_sm; i++) {
        const struct fx_sm_entry *x = &na->sm[i], *y = &nb->sm[i];
        ck_assert_msg(x->index == y->index && x->term == y->term && x->type == y->type &&
                          buf_eq(&x->data, &y->data),
                      "servers %" PRIu64 "/%" PRIu64 " state machines differ at %" PRIu64 "/%" PRIu64,
                      a, b, x->index, y->index);
    }
}

long fx_read_result(struct fx *f, uint64_t id, uint64_t ctx, bool *ok)
{
    struct fx_node *n = fx_node(f, id);
    for (size_t i = 0; i < n->n_reads; i++) {
        if (n->reads[i].ctx == ctx) {
            if (ok)
                *ok = n->reads[i].ok;
            return (long)n->reads[i].index;
        }
    }
    return -1;
}

int fx_main(const char *suite, const struct fx_case *cases, size_t n)
{
    Suite *s = suite_create(suite);
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 240);
        if (cases[i].loops)
            tcase_add_loop_test(tc, cases[i].test, 0, cases[i].loops);
        else
            tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
