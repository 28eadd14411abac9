/* Unit tests of the Raft core against nonsense input, and of the configuration codec. */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS

struct snap {
    int role;
    uint64_t term, vote, leader, commit, last, last_term;
};

static struct snap take(struct fx *f, uint64_t id)
{
    struct raft *r = fx_raft(f, id);
    struct snap s = {raft_role(r),   raft_term(r),       raft_vote(r),     raft_leader(r),
                     raft_commit(r), raft_last_index(r), raft_last_term(r)};
    return s;
}

static void assert_unchanged(struct fx *f, uint64_t id, const struct snap *s, const char *what)
{
    struct snap now = take(f, id);
    bool same = now.role == s->role && now.term == s->term && now.vote == s->vote &&
                now.leader == s->leader && now.commit == s->commit && now.last == s->last &&
                now.last_term == s->last_term;
    ck_assert_msg(same,
                  "server %" PRIu64 " changed after %s: role %d->%d term %" PRIu64 "->%" PRIu64
                  " vote %" PRIu64 "->%" PRIu64 " leader %" PRIu64 "->%" PRIu64
                  " commit %" PRIu64 "->%" PRIu64 " last %" PRIu64 "->%" PRIu64,
                  id, what, s->role, now.role, s->term, now.term, s->vote, now.vote, s->leader,
                  now.leader, s->commit, now.commit, s->last, now.last);
}

/* Every entry in [first, last] is there, with consecutive indexes. */
static void assert_log_contiguous(struct fx *f, uint64_t id)
{
    struct raft *r = fx_raft(f, id);
    for (uint64_t i = raft_first_index(r); i <= raft_last_index(r); i++) {
        const struct raft_entry *e = raft_entry_at(r, i);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(e->index, i);
    }
    ck_assert_uint_le(raft_commit(r), raft_last_index(r));
}

/* Unknown message types. */
static void garbage_types(struct fx *f, uint64_t t)
{
    struct snap s1 = take(f, 1), s2 = take(f, 2);
    static const int weird_types[] = {0, -1, 99, RAFT_MSG_TYPE_MAX + 1, 1 << 30};
    for (size_t i = 0; i < sizeof(weird_types) / sizeof(weird_types[0]); i++) {
        struct raft_message m = fx_mk(weird_types[i], 1, 2, t);
        fx_step(f, 2, &m);
        m = fx_mk(weird_types[i], 2, 1, t);
        fx_step(f, 1, &m);
    }
    assert_unchanged(f, 1, &s1, "unknown types");
    assert_unchanged(f, 2, &s2, "unknown types");
}

/* Term 0, wrong destination, sender 0 or unknown, of every type. */
static void garbage_headers(struct fx *f, uint64_t t)
{
    struct snap s1 = take(f, 1), s2 = take(f, 2);
    for (int type = RAFT_MSG_PREVOTE; type <= RAFT_MSG_TYPE_MAX; type++) {
        struct raft_message m = fx_mk(type, 1, 2, 0);
        m.commit = 1000;
        m.index = 1000;
        fx_step(f, 2, &m);
        m = fx_mk(type, 2, 1, 0);
        m.index = 1000;
        fx_step(f, 1, &m);
        m = fx_mk(type, 1, 7, t);
        m.commit = 1000;
        fx_step(f, 2, &m);
        m = fx_mk(type, 0, 2, t);
        m.commit = 1000;
        fx_step(f, 2, &m);
        if (type == RAFT_MSG_APPEND || type == RAFT_MSG_HEARTBEAT ||
            type == RAFT_MSG_SNAPSHOT || type == RAFT_MSG_TIMEOUT_NOW)
            continue; /* a stranger claiming leadership of our term: not Raft's fault model */
        m = fx_mk(type, 77, 1, t);
        m.index = 1000;
        m.last_log_index = 1000;
        m.last_log_term = t;
        fx_step(f, 1, &m);
    }
    assert_unchanged(f, 1, &s1, "term 0 / misaddressed / strangers");
    assert_unchanged(f, 2, &s2, "term 0 / misaddressed");
}

/* AppendEntries and heartbeats from the real leader with absurd indexes. */
static void garbage_appends(struct fx *f, uint64_t t, uint64_t last)
{
    struct raft_message m = fx_mk(RAFT_MSG_APPEND, 1, 2, t);
    m.prev_index = UINT64_MAX - 1;
    m.prev_term = t;
    m.commit = UINT64_MAX;
    struct raft_entry e = {t, UINT64_MAX, RAFT_ENTRY_NORMAL, {"zz", 2}};
    m.entries = &e;
    m.n_entries = 1;
    fx_step(f, 2, &m);
    const struct fx_msg *resp = fx_last(f, 2, 1, RAFT_MSG_APPEND_RESP);
    ck_assert(resp == NULL || resp->m.reject);
    /* Entries whose indexes do not follow prev_index. */
    m.prev_index = last;
    m.prev_term = raft_term_at(fx_raft(f, 2), last);
    m.commit = last;
    e.index = last + 100;
    fx_step(f, 2, &m);
    /* Entry last+1 equals what the leader proposes there below, so a core that
     * keeps the well-formed prefix of these messages stays consistent. */
    struct raft_entry two[2] = {{t, last + 1, RAFT_ENTRY_NORMAL, {"still alive", 11}},
                                {t, last + 5, RAFT_ENTRY_NORMAL, {"b", 1}}};
    m.entries = two;
    m.n_entries = 2;
    fx_step(f, 2, &m);
    two[1].index = last + 2;
    two[1].term = t + 5; /* entries newer than the leader's own term */
    fx_step(f, 2, &m);
    assert_log_contiguous(f, 2);
    ck_assert_uint_le(raft_last_term(fx_raft(f, 2)), t);
    /* A heartbeat with an absurd commit cannot commit beyond the log. */
    m = fx_mk(RAFT_MSG_HEARTBEAT, 1, 2, t);
    m.commit = UINT64_MAX;
    fx_step(f, 2, &m);
    assert_log_contiguous(f, 2);
    ck_assert_uint_le(fx_node(f, 2)->applied, raft_last_index(fx_raft(f, 2)));
}

/* Responses with absurd indexes cannot commit what the leader does not have. */
static void garbage_responses(struct fx *f, uint64_t t)
{
    struct raft_message m;
    m = fx_mk(RAFT_MSG_APPEND_RESP, 2, 1, t);
    m.index = UINT64_MAX;
    fx_step(f, 1, &m);
    m = fx_mk(RAFT_MSG_HEARTBEAT_RESP, 3, 1, t);
    m.read_seq = UINT64_MAX;
    fx_step(f, 1, &m);
    m = fx_mk(RAFT_MSG_SNAPSHOT_RESP, 3, 1, t);
    m.index = UINT64_MAX;
    m.offset = UINT64_MAX;
    fx_step(f, 1, &m);
    assert_log_contiguous(f, 1);
    ck_assert_int_eq(raft_role(fx_raft(f, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term(fx_raft(f, 1)), t);
}

/* Snapshot chunks at absurd offsets or with a configuration out of bounds, and a
 * stale TimeoutNow. */
static void garbage_snapshots(struct fx *f, uint64_t t, uint64_t last)
{
    struct raft_message m;
    char junk[16] = "0123456789abcdef";
    m = fx_mk(RAFT_MSG_SNAPSHOT, 1, 3, t);
    m.snapshot.index = last + 10;
    m.snapshot.term = t;
    m.snapshot.conf = *raft_conf(fx_raft(f, 3));
    m.offset = UINT64_MAX - 4;
    m.chunk.base = junk;
    m.chunk.len = sizeof(junk);
    m.done = true;
    fx_step(f, 3, &m);
    m.offset = 0;
    m.snapshot.conf.n = 100000;
    fx_step(f, 3, &m);
    ck_assert_uint_eq(fx_node(f, 3)->snapshots_installed, 0);
    ck_assert_uint_eq(raft_snapshot_index(fx_raft(f, 3)), 0);

    /* Stale TimeoutNow and stale votes do nothing. */
    m = fx_mk(RAFT_MSG_TIMEOUT_NOW, 1, 3, t - 1);
    fx_step(f, 3, &m);
    ck_assert_int_eq(raft_role(fx_raft(f, 3)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_term(fx_raft(f, 3)), t);
}

/* Messages that make no sense are dropped without harm (raft.h: input from peers
 * is never asserted on). */
START_TEST(test_garbage_messages)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    uint64_t t = raft_term(fx_raft(&f, 1));
    uint64_t last = raft_last_index(fx_raft(&f, 1));
    garbage_types(&f, t);
    garbage_headers(&f, t);
    garbage_appends(&f, t, last);
    garbage_responses(&f, t);
    garbage_snapshots(&f, t, last);

    /* The cluster still works and agrees. */
    fx_drop_all(&f);
    uint64_t x = fx_propose(&f, 1, "still alive");
    fx_settle(&f);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    for (uint64_t id = 1; id <= 3; id++) {
        assert_log_contiguous(&f, id);
        ck_assert_uint_eq(fx_node(&f, id)->applied, x);
    }
    fx_check_log_matching(&f);
    fx_destroy(&f);
}
END_TEST


/* Votes are counted once per voter, and only from voters of the configuration. */
START_TEST(test_vote_counting)
{
    struct fx f;
    fx_init(&f, 5, NULL);
    fx_isolate(&f, 1);
    fx_tick(&f, 1, 2 * E);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_PRECANDIDATE);
    uint64_t t = raft_term(fx_raft(&f, 1));
    struct raft_message m;
    static const uint64_t pre_from[] = {77, 88, 2, 2, 2};
    for (size_t i = 0; i < 5; i++) {
        m = fx_mk(RAFT_MSG_PREVOTE_RESP, pre_from[i], 1, t + 1);
        fx_step(&f, 1, &m);
    }
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_PRECANDIDATE);
    m = fx_mk(RAFT_MSG_PREVOTE_RESP, 3, 1, t + 1);
    fx_step(&f, 1, &m);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_CANDIDATE);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t + 1);
    static const uint64_t from[] = {77, 88, 99, 2, 2, 2};
    for (size_t i = 0; i < 6; i++) {
        m = fx_mk(RAFT_MSG_VOTE_RESP, from[i], 1, t + 1);
        fx_step(&f, 1, &m);
    }
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_CANDIDATE);
    m = fx_mk(RAFT_MSG_VOTE_RESP, 4, 1, t + 1);
    fx_step(&f, 1, &m);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    fx_destroy(&f);
}
END_TEST

static void sample_conf(struct raft_conf *c)
{
    memset(c, 0, sizeof(*c));
    ck_assert_int_eq(raft_conf_add(c, 1, RAFT_VOTER, "10.0.0.1:7001"), 0);
    ck_assert_int_eq(raft_conf_add(c, 2, RAFT_VOTER, "10.0.0.2:7001"), 0);
    ck_assert_int_eq(raft_conf_add(c, 17, RAFT_LEARNER, ""), 0);
    ck_assert_int_eq(raft_conf_add(c, UINT64_MAX, RAFT_LEARNER, "host.example:1"), 0);
    c->servers[3].promote = true;
}

static bool conf_eq(const struct raft_conf *a, const struct raft_conf *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const struct raft_server *x = &a->servers[i];
        const struct raft_server *y = raft_conf_get(b, x->id);
        if (!y || y->role != x->role || y->promote != x->promote || strcmp(y->addr, x->addr))
            return false;
    }
    return true;
}

/* What a decoder may ever return: a configuration that makes sense. */
static void assert_valid_conf(const struct raft_conf *c)
{
    ck_assert_uint_le(c->n, RAFT_MAX_SERVERS);
    for (size_t i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        ck_assert_uint_ne(s->id, 0);
        ck_assert(s->role == RAFT_VOTER || s->role == RAFT_LEARNER);
        ck_assert_ptr_nonnull(memchr(s->addr, '\0', RAFT_ADDR_MAX));
        for (size_t j = 0; j < i; j++)
            ck_assert_uint_ne(c->servers[j].id, s->id);
    }
}

/* The sample configuration broken at server i (its role set to role if nonzero,
 * else its id set to server id_from's, or to 0 when id_from < 0): if encode
 * accepts it, decode must refuse it. */
static void assert_broken_rejected(size_t i, int role, int id_from)
{
    struct raft_conf bad, d;
    struct raft_buf buf = {NULL, 0};
    sample_conf(&bad);
    if (role)
        bad.servers[i].role = role;
    else
        bad.servers[i].id = id_from < 0 ? 0 : bad.servers[id_from].id;
    if (raft_conf_encode(&bad, &buf) == 0) {
        ck_assert_int_eq(raft_conf_decode(buf.base, buf.len, &d), BATON_EMALFORMED);
        free(buf.base);
    }
}

/* The configuration helpers and codec: round trips, and malformed input is
 * refused (BATON_EMALFORMED) rather than trusted. */
START_TEST(test_conf_codec)
{
    struct raft_conf c, d;
    sample_conf(&c);
    ck_assert_uint_eq(raft_conf_voters(&c), 2);
    ck_assert(raft_conf_is_voter(&c, 2));
    ck_assert(!raft_conf_is_voter(&c, 17));
    ck_assert(!raft_conf_is_voter(&c, 5));
    ck_assert_ptr_null(raft_conf_get(&c, 5));
    ck_assert_int_eq(raft_conf_add(&c, 0, RAFT_VOTER, "x"), BATON_EINVAL);
    ck_assert_int_eq(raft_conf_add(&c, 2, RAFT_VOTER, "x"), BATON_EINVAL);
    ck_assert_int_eq(raft_conf_remove(&c, 5), BATON_ENOTFOUND);

    struct raft_buf buf = {NULL, 0};
    ck_assert_int_eq(raft_conf_encode(&c, &buf), 0);
    ck_assert_int_eq(raft_conf_decode(buf.base, buf.len, &d), 0);
    ck_assert(conf_eq(&c, &d));

    /* Every truncation, every single-byte corruption: refused or a sane result. */
    unsigned char *p = malloc(buf.len + 8);
    ck_assert_ptr_nonnull(p);
    for (size_t len = 0; len < buf.len; len++) {
        memcpy(p, buf.base, len);
        int rc = raft_conf_decode(p, len, &d);
        ck_assert(rc == 0 || rc == BATON_EMALFORMED);
        if (rc == 0) {
            assert_valid_conf(&d);
            ck_assert(!conf_eq(&c, &d));
        }
    }
    static const unsigned char values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < buf.len; i++) {
        for (size_t v = 0; v < sizeof(values); v++) {
            memcpy(p, buf.base, buf.len);
            p[i] = values[v];
            int rc = raft_conf_decode(p, buf.len, &d);
            ck_assert(rc == 0 || rc == BATON_EMALFORMED);
            if (rc == 0)
                assert_valid_conf(&d);
        }
    }
    memcpy(p, buf.base, buf.len);
    memset(p + buf.len, 0xab, 8);
    ck_assert_int_eq(raft_conf_decode(p, buf.len + 8, &d), BATON_EMALFORMED);
    free(p);
    free(buf.base);

    /* Structurally broken configurations do not survive a round trip. */
    assert_broken_rejected(1, 0, 0);
    assert_broken_rejected(2, 0, -1);
    assert_broken_rejected(0, 9, -1);

    /* A full configuration round-trips; one more server does not fit. */
    struct raft_conf full;
    memset(&full, 0, sizeof(full));
    for (uint64_t id = 1; id <= RAFT_MAX_SERVERS; id++) {
        char addr[RAFT_ADDR_MAX];
        memset(addr, 'a', sizeof(addr) - 1);
        addr[sizeof(addr) - 1] = '\0';
        ck_assert_int_eq(raft_conf_add(&full, id, id % 2 ? RAFT_VOTER : RAFT_LEARNER, addr), 0);
    }
    ck_assert_int_eq(raft_conf_add(&full, 99, RAFT_VOTER, "x"), BATON_ECONFIG);
    ck_assert_int_eq(raft_conf_encode(&full, &buf), 0);
    ck_assert_int_eq(raft_conf_decode(buf.base, buf.len, &d), 0);
    ck_assert(conf_eq(&full, &d));
    free(buf.base);
    ck_assert_int_eq(raft_conf_remove(&full, 3), 0);
    ck_assert_ptr_null(raft_conf_get(&full, 3));
    ck_assert_uint_eq(full.n, RAFT_MAX_SERVERS - 1);
}
END_TEST

/* raft_new refuses inconsistent durable state and bad options; message copies
 * are deep. */
START_TEST(test_boot_and_copy)
{
    struct raft_options o;
    fx_options(&o);
    static const uint64_t terms[] = {1, 1, 1};
    struct raft_entry *log = fx_make_log(3, terms, 3);
    struct raft_boot boot;
    memset(&boot, 0, sizeof(boot));
    boot.hard_state.term = 1;
    boot.entries = log;
    boot.n_entries = 4;
    int err = 0;
    o.id = 0;
    ck_assert_ptr_null(raft_new(&o, &boot, 0, &err));
    ck_assert_int_eq(err, BATON_EINVAL);
    o.id = 1;
    log[2].index = 7;
    err = 0;
    ck_assert_ptr_null(raft_new(&o, &boot, 0, &err));
    ck_assert_int_eq(err, BATON_ECORRUPT);
    log[2].index = 3;
    struct raft *r = raft_new(&o, &boot, 0, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(raft_last_index(r), 4);
    ck_assert_int_eq(raft_role(r), RAFT_FOLLOWER);
    raft_free(r);

    struct raft_message m = fx_mk(RAFT_MSG_APPEND, 1, 2, 3), c;
    m.entries = log;
    m.n_entries = 4;
    char chunk[5] = "abcd";
    m.chunk.base = chunk;
    m.chunk.len = 4;
    ck_assert_int_eq(raft_message_copy(&c, &m), 0);
    ck_assert_ptr_ne(c.entries, m.entries);
    ck_assert_ptr_ne(c.chunk.base, m.chunk.base);
    ck_assert_uint_eq(c.n_entries, 4);
    ck_assert_ptr_ne(c.entries[1].data.base, log[1].data.base);
    ck_assert(memcmp(c.entries[3].data.base, log[3].data.base, log[3].data.len) == 0);
    ck_assert(memcmp(c.chunk.base, "abcd", 4) == 0);
    raft_message_clear(&c);
    fx_free_entries(log, 4);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"garbage_messages", test_garbage_messages, 0},
        {"vote_counting", test_vote_counting, 0},
        {"conf_codec", test_conf_codec, 0},
        {"boot_and_copy", test_boot_and_copy, 0},
    };
    return fx_main("raft_robust", cases, sizeof(cases) / sizeof(cases[0]));
}
