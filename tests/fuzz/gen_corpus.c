/* Writes the fuzz targets' seed corpora: frames of every message type, and real stores. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crdt/crdt.h"
#include "fuzz_node.h"
#include "lock/lock.h"
#include "net/codec.h"
#include "store/store.h"

/*
 * Usage: fuzz_gen_corpus DIR
 * writes one file per seed into DIR/fuzz_frame_peer, DIR/fuzz_frame_client and
 * DIR/fuzz_store_open (tests/fuzz/run.sh corpus runs it on tests/fuzz/corpus).
 *
 * A frame stream that needs answers (an election, a lease id) is written while
 * the same fixture the target uses runs it, so each seed reaches the state it
 * is named for; the output is the same on every run.
 */

static const char *out_dir;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_gen_corpus: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void write_file(const char *target, const char *name, const void *a, size_t alen,
                       const void *b, size_t blen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        die("mkdir %s: %s", path, strerror(errno));
    }
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(a, 1, alen, fp) != alen || (blen && fwrite(b, 1, blen, fp) != blen) ||
        fclose(fp) != 0) {
        die("write %s: %s", path, strerror(errno));
    }
}

/* ---- Frames -------------------------------------------------------------- */

struct stream {
    uint8_t *buf;
    size_t len;
    size_t cap;
};

static void put(struct stream *s, const void *p, size_t n)
{
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->buf = realloc(s->buf, s->cap);
        if (s->buf == NULL) {
            die("out of memory");
        }
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

static struct raft_buf env_frame(const Baton__Envelope *env)
{
    struct raft_buf f;
    if (net_encode_envelope(env, FUZZ_MAX_FRAME, &f) != 0) {
        die("net_encode_envelope");
    }
    return f;
}

static struct raft_buf raft_frame(const struct raft_message *m)
{
    struct raft_buf f;
    if (net_encode_raft(m, FUZZ_MAX_FRAME, &f) != 0) {
        die("net_encode_raft");
    }
    return f;
}

static struct raft_buf hello_frame(uint64_t id, uint64_t cluster)
{
    Baton__Hello h = BATON__HELLO__INIT;
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    h.node_id = id;
    h.cluster_id = cluster;
    env.body_case = BATON__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    return env_frame(&env);
}

static struct raft_buf heartbeat_frame(uint64_t from, const void *delta, size_t len,
                                       uint64_t ack_epoch, uint64_t ack_have)
{
    Baton__Heartbeat hb = BATON__HEARTBEAT__INIT;
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    hb.from = from;
    hb.to = FUZZ_SELF;
    hb.seq = 1;
    hb.crdt_delta.data = (uint8_t *)delta;
    hb.crdt_delta.len = len;
    hb.crdt_ack_epoch = ack_epoch;
    hb.crdt_ack_have = ack_have;
    env.body_case = BATON__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    return env_frame(&env);
}

static struct raft_buf request_frame(Baton__ClientRequest *req)
{
    static uint64_t id;
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    req->id = ++id;
    env.body_case = BATON__ENVELOPE__BODY_REQUEST;
    env.request = req;
    return env_frame(&env);
}

/* ---- Lock commands ------------------------------------------------------- */

static struct raft_buf lock_cmd(int type, const char *name, uint64_t lease, uint64_t ms,
                                uint64_t delay_or_since)
{
    struct lock_cmd c;
    memset(&c, 0, sizeof(c));
    c.type = type;
    c.lease = lease;
    if (name != NULL) {
        snprintf(c.name, sizeof(c.name), "%s", name);
    }
    switch (type) {
    case LOCK_CMD_LEASE_GRANT:
        c.ttl_ms = ms;
        break;
    case LOCK_CMD_ACQUIRE:
        c.wait_ms = ms;
        c.lock_delay_ms = delay_or_since;
        break;
    default:
        c.since = delay_or_since;
        break;
    }
    struct raft_buf b = {.base = malloc(LOCK_CMD_MAX)};
    if (b.base == NULL || lock_cmd_encode(&c, b.base, LOCK_CMD_MAX, &b.len) != 0) {
        die("lock_cmd_encode %s", lock_cmd_type_name(type));
    }
    return b;
}

/* A log of lock commands from index first on, every kind of command and
 * outcome: leases, a lock held, one queued for, one under lock-delay, waits
 * that end, a malformed payload. */
static size_t lock_log(struct raft_entry *e, size_t max, uint64_t first, uint64_t term)
{
    uint64_t l1 = first, l2 = first + 1;
    struct raft_buf cmds[] = {
        lock_cmd(LOCK_CMD_LEASE_GRANT, NULL, 0, 60000, 0),
        lock_cmd(LOCK_CMD_LEASE_GRANT, NULL, 0, 60000, 0),
        lock_cmd(LOCK_CMD_ACQUIRE, "alpha", l1, 0, 0),
        lock_cmd(LOCK_CMD_ACQUIRE, "alpha", l2, 30000, 0),
        lock_cmd(LOCK_CMD_ACQUIRE, "beta", l2, 0, 5000),
        lock_cmd(LOCK_CMD_ACQUIRE, "gamma", l1, 0, 0),
        lock_cmd(LOCK_CMD_ACQUIRE, "gamma", l2, 10000, 0),
        lock_cmd(LOCK_CMD_WAIT_END, "gamma", l2, 0, first + 6),
        lock_cmd(LOCK_CMD_RELEASE, "alpha", l1, 0, 0),
        lock_cmd(LOCK_CMD_LEASE_GRANT, NULL, 0, 60000, 0),
        lock_cmd(LOCK_CMD_ACQUIRE, "alpha", first + 9, 20000, 0),
        lock_cmd(LOCK_CMD_LEASE_EXPIRE, NULL, l2, 0, 0),
        lock_cmd(LOCK_CMD_DELAY_END, "beta", 0, 0, first + 11),
        lock_cmd(LOCK_CMD_LEASE_REVOKE, NULL, l1, 0, 0),
        {.base = strdup("\x01\x7f junk"), .len = 7},
    };
    size_t n = sizeof(cmds) / sizeof(cmds[0]);
    if (n > max) {
        die("lock_log: room for %zu entries, not %zu", max, n);
    }
    for (size_t i = 0; i < n; i++) {
        e[i] = (struct raft_entry){.term = term, .index = first + i, .type = RAFT_ENTRY_NORMAL,
                                   .data = cmds[i]};
    }
    return n;
}

static void entries_free(struct raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].data.base);
    }
}

/* The lock state after lock_log(first) applied: a snapshot a leader may send. */
static struct raft_buf lock_state(uint64_t first)
{
    struct raft_entry e[32];
    size_t n = lock_log(e, 32, first, 1);
    struct lock_sm *sm = lock_sm_new();
    struct lock_result res;
    for (size_t i = 0; sm != NULL && i < n; i++) {
        if (lock_apply(sm, e[i].index, e[i].data.base, e[i].data.len, &res, NULL) != 0) {
            die("lock_apply");
        }
    }
    struct raft_buf out;
    if (sm == NULL || lock_sm_snapshot(sm, &out.base, &out.len) != 0) {
        die("lock_sm_snapshot");
    }
    lock_sm_free(sm);
    entries_free(e, n);
    return out;
}

static struct raft_buf conf_data(size_t voters, uint64_t learner)
{
    struct raft_conf c;
    memset(&c, 0, sizeof(c));
    for (uint64_t id = 1; id <= voters; id++) {
        if (raft_conf_add(&c, id, RAFT_VOTER, "127.0.0.1:7001/127.0.0.1:8001") != 0) {
            die("raft_conf_add");
        }
    }
    if (learner != 0 && raft_conf_add(&c, learner, RAFT_LEARNER, "127.0.0.1:7009/") != 0) {
        die("raft_conf_add");
    }
    struct raft_buf b;
    if (raft_conf_encode(&c, &b) != 0) {
        die("raft_conf_encode");
    }
    return b;
}

/* A G-Counter delta of node from's counters, as it gossips them. */
static struct raft_buf crdt_delta(uint64_t from, uint64_t epoch, uint64_t since, int rounds)
{
    struct crdt_set *s;
    static const char *names[] = {"requests", "jobs", "a"};
    if (crdt_set_new(from, epoch, &s) != 0) {
        die("crdt_set_new");
    }
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < 3; i++) {
            if (crdt_incr(s, names[i], i + 1, NULL, NULL, NULL) != 0) {
                die("crdt_incr");
            }
        }
    }
    struct crdt_slot peer = {.name = "jobs", .node = 2, .value = 11};
    struct crdt_sync sync;
    if (crdt_merge(s, &peer, 1, NULL, NULL) != 0 || crdt_sync_get(s, &sync) != 0) {
        die("crdt_merge");
    }
    crdt_persisted(s, sync.upto);
    crdt_sync_clear(&sync);
    struct crdt_delta d;
    struct raft_buf out;
    if (crdt_delta_get(s, since, SIZE_MAX, 1u << 16, &d) != 0 ||
        crdt_delta_encode(&d, &out.base, &out.len) != 0) {
        die("crdt_delta");
    }
    crdt_delta_clear(&d);
    crdt_set_free(s);
    return out;
}

/* ---- Sessions: a stream written while the target's fixture runs it ------ */

#define SENT_MAX 256

struct session {
    struct fuzz_node *f;
    struct stream s;
    uint8_t flags;
    struct raft_message sent[SENT_MAX];
    size_t n_sent;
};

static void sent_clear(struct session *g)
{
    for (size_t i = 0; i < g->n_sent; i++) {
        raft_message_clear(&g->sent[i]);
    }
    g->n_sent = 0;
}

static void on_send(void *arg, const struct raft_message *m)
{
    struct session *g = arg;
    if (g->n_sent < SENT_MAX && raft_message_copy(&g->sent[g->n_sent], m) == 0) {
        g->n_sent++;
    }
}

static void begin(struct session *g, int port, uint8_t flags)
{
    memset(g, 0, sizeof(*g));
    g->flags = flags;
    g->f = fuzz_node_new(port, flags);
    g->f->on_send = on_send;
    g->f->arg = g;
}

/* Adds frame (taken) to the stream and runs it; refused frames are for the
 * seeds that end with one. */
static void frame(struct session *g, struct raft_buf fr, bool refused_ok)
{
    sent_clear(g);
    put(&g->s, fr.base, fr.len);
    int rv = fuzz_node_feed(g->f, fr.base, fr.len);
    free(fr.base);
    if (rv != 0 && !refused_ok) {
        die("a seed frame was refused: %s", baton_strerror(rv));
    }
}

static void end(struct session *g, const char *target, const char *name, uint8_t piece)
{
    uint8_t head[2] = {g->flags, piece};
    const struct node *n = &g->f->n;
    if (getenv("FUZZ_GEN_VERBOSE") != NULL) {
        fprintf(stderr,
                "%s/%s: %s term %llu commit %llu applied %llu snapshot %llu leases %zu "
                "locks %zu counters %zu%s\n",
                target, name, raft_role_name(raft_role(n->raft)),
                (unsigned long long)raft_term(n->raft), (unsigned long long)raft_commit(n->raft),
                (unsigned long long)n->sm.applied, (unsigned long long)n->snapshot_index,
                lease_count(n->sm.locks), lock_count(n->sm.locks), crdt_count(n->counters.set),
                g->f->closed ? " (closed)" : "");
    }
    write_file(target, name, head, 2, g->s.buf, g->s.len);
    sent_clear(g);
    fuzz_node_free(g->f);
    free(g->s.buf);
}

/* The latest message of type the node sent to peer. */
static const struct raft_message *sent(struct session *g, int type, uint64_t to)
{
    for (size_t i = g->n_sent; i-- > 0;) {
        if (g->sent[i].type == type && g->sent[i].to == to) {
            return &g->sent[i];
        }
    }
    die("the node sent no %s to %llu", raft_msg_type_name(type), (unsigned long long)to);
}

static struct raft_message reply(const struct raft_message *req, int type)
{
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = req->to;
    m.to = req->from;
    m.term = req->term;
    return m;
}

/* ---- Peer port seeds ----------------------------------------------------- */

#define PEER "fuzz_frame_peer"

static uint64_t cluster_id(void)
{
    struct fuzz_node *f = fuzz_node_new(FUZZ_PORT_PEER, 0);
    uint64_t id = f->n.cluster_id;
    fuzz_node_free(f);
    return id;
}

static struct raft_message append(uint64_t term, uint64_t prev_index, uint64_t prev_term,
                                  struct raft_entry *e, size_t n, uint64_t commit)
{
    struct raft_message m = {.type = RAFT_MSG_APPEND, .from = 2, .to = FUZZ_SELF, .term = term};
    m.prev_index = prev_index;
    m.prev_term = prev_term;
    m.entries = e;
    m.n_entries = n;
    m.commit = commit;
    return m;
}

/* Node 2 leads term 2 and replicates a log of every entry type to us; we
 * apply it (snapshotting on the way), then a conflicting term-3 suffix
 * replaces part of it. */
static void seed_follower(uint64_t cid, const char *name, uint8_t piece)
{
    struct session g;
    struct raft_entry e[40];
    begin(&g, FUZZ_PORT_PEER, 1);
    frame(&g, hello_frame(2, cid), false);
    e[0] = (struct raft_entry){.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP};
    size_t n = 1 + lock_log(e + 1, 30, 3, 2);
    e[n] = (struct raft_entry){.term = 2, .index = n + 2, .type = RAFT_ENTRY_CONF,
                               .data = conf_data(3, 4)};
    n++;
    struct raft_message m = append(2, 1, 1, e, n, n + 1);
    frame(&g, raft_frame(&m), false);
    struct raft_message hb = {.type = RAFT_MSG_HEARTBEAT, .from = 2, .to = FUZZ_SELF, .term = 2,
                              .commit = n + 1, .read_seq = 7};
    frame(&g, raft_frame(&hb), false);
    entries_free(e, n);
    /* Term 3: a new leader's log differs from index n - 1 on. */
    struct raft_entry e3[3];
    e3[0] = (struct raft_entry){.term = 3, .index = n - 1, .type = RAFT_ENTRY_NOOP};
    e3[1] = (struct raft_entry){.term = 3, .index = n, .type = RAFT_ENTRY_NORMAL,
                                .data = lock_cmd(LOCK_CMD_LEASE_GRANT, NULL, 0, 9000, 0)};
    e3[2] = (struct raft_entry){.term = 3, .index = n + 1, .type = RAFT_ENTRY_NORMAL,
                                .data = lock_cmd(LOCK_CMD_ACQUIRE, "delta", n, 0, 0)};
    m = append(3, n - 2, 2, e3, 3, n + 1);
    frame(&g, raft_frame(&m), false);
    entries_free(e3, 3);
    struct raft_message tn = {.type = RAFT_MSG_TIMEOUT_NOW, .from = 2, .to = FUZZ_SELF,
                              .term = 3};
    frame(&g, raft_frame(&tn), false);
    end(&g, PEER, name, piece);
}

/* A leader's InstallSnapshot in two chunks, then entries after it. */
static void seed_snapshot(uint64_t cid)
{
    struct session g;
    begin(&g, FUZZ_PORT_PEER, 1);
    frame(&g, hello_frame(2, cid), false);
    struct raft_buf state = lock_state(20);
    struct raft_message m = {.type = RAFT_MSG_SNAPSHOT, .from = 2, .to = FUZZ_SELF, .term = 3};
    m.snapshot.index = 40;
    m.snapshot.term = 3;
    struct raft_buf conf = conf_data(3, 0);
    if (raft_conf_decode(conf.base, conf.len, &m.snapshot.conf) != 0) {
        die("raft_conf_decode");
    }
    free(conf.base);
    size_t half = state.len / 2;
    m.chunk = (struct raft_buf){.base = state.base, .len = half};
    frame(&g, raft_frame(&m), false);
    m.offset = half;
    m.chunk = (struct raft_buf){.base = (uint8_t *)state.base + half, .len = state.len - half};
    m.done = true;
    frame(&g, raft_frame(&m), false);
    free(state.base);
    struct raft_entry e[2] = {
        {.term = 3, .index = 41, .type = RAFT_ENTRY_NORMAL,
         .data = lock_cmd(LOCK_CMD_RELEASE, "alpha", 29, 0, 0)},
        {.term = 3, .index = 42, .type = RAFT_ENTRY_NORMAL,
         .data = lock_cmd(LOCK_CMD_LEASE_GRANT, NULL, 0, 5000, 0)},
    };
    struct raft_message a = append(3, 40, 3, e, 2, 42);
    frame(&g, raft_frame(&a), false);
    entries_free(e, 2);
    end(&g, PEER, "snapshot_install", 0);
}

/* We ask for votes (the election timeout ran out before the first frame),
 * node 2 grants them, and we lead: replication, heartbeats, a rejected
 * append with hints, a stale snapshot answer, then a newer term deposes us. */
static void seed_election(uint64_t cid)
{
    struct session g;
    begin(&g, FUZZ_PORT_PEER, FUZZ_FLAG_ALT | 1);
    /* The PreVote went out during the warm-up, before any frame: rebuild it. */
    struct raft_message pv = {.type = RAFT_MSG_PREVOTE, .from = FUZZ_SELF, .to = 2,
                              .term = raft_term(g.f->n.raft) + 1};
    frame(&g, hello_frame(2, cid), false);
    struct raft_message r = reply(&pv, RAFT_MSG_PREVOTE_RESP);
    frame(&g, raft_frame(&r), false);
    r = reply(sent(&g, RAFT_MSG_VOTE, 2), RAFT_MSG_VOTE_RESP);
    frame(&g, raft_frame(&r), false);
    if (raft_role(g.f->n.raft) != RAFT_LEADER) {
        die("seed_election: not leader");
    }
    const struct raft_message *ap = sent(&g, RAFT_MSG_APPEND, 2);
    r = reply(ap, RAFT_MSG_APPEND_RESP);
    r.index = ap->prev_index + ap->n_entries;
    frame(&g, raft_frame(&r), false);
    struct raft_message hr = {.type = RAFT_MSG_HEARTBEAT_RESP, .from = 2, .to = FUZZ_SELF,
                              .term = r.term, .read_seq = 1};
    frame(&g, raft_frame(&hr), false);
    struct raft_message rej = r;
    rej.reject = true;
    rej.index = r.index;
    rej.hint_index = 1;
    rej.hint_term = 1;
    frame(&g, raft_frame(&rej), false);
    struct raft_message sr = {.type = RAFT_MSG_SNAPSHOT_RESP, .from = 2, .to = FUZZ_SELF,
                              .term = r.term, .index = 1, .offset = 0};
    frame(&g, raft_frame(&sr), false);
    struct raft_message v = {.type = RAFT_MSG_VOTE, .from = 2, .to = FUZZ_SELF,
                             .term = r.term + 5, .last_log_index = 50, .last_log_term = 9};
    frame(&g, raft_frame(&v), false);
    end(&g, PEER, "election", 0);
}

/* Node 2 led term 2 long enough for us to snapshot and compact; then it hands
 * leadership to us, and as leader we must send node 2 a snapshot in chunks. */
static void seed_leader_sends_snapshot(uint64_t cid)
{
    struct session g;
    struct raft_entry e[40];
    begin(&g, FUZZ_PORT_PEER, 1);
    frame(&g, hello_frame(2, cid), false);
    e[0] = (struct raft_entry){.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP};
    size_t n = 1 + lock_log(e + 1, 30, 3, 2);
    struct raft_message m = append(2, 1, 1, e, n, n + 1);
    frame(&g, raft_frame(&m), false);
    entries_free(e, n);
    struct raft_message tn = {.type = RAFT_MSG_TIMEOUT_NOW, .from = 2, .to = FUZZ_SELF,
                              .term = 2};
    frame(&g, raft_frame(&tn), false);
    struct raft_message r = reply(sent(&g, RAFT_MSG_VOTE, 2), RAFT_MSG_VOTE_RESP);
    frame(&g, raft_frame(&r), false);
    if (raft_role(g.f->n.raft) != RAFT_LEADER || raft_snapshot_index(g.f->n.raft) == 0) {
        die("seed_leader_sends_snapshot: not a compacted leader");
    }
    /* Node 2 says it lost its log: only a snapshot can catch it up. */
    const struct raft_message *ap = sent(&g, RAFT_MSG_APPEND, 2);
    r = reply(ap, RAFT_MSG_APPEND_RESP);
    r.reject = true;
    r.index = ap->prev_index;
    r.hint_index = 1;
    r.hint_term = 0;
    frame(&g, raft_frame(&r), false);
    for (int i = 0; i < 4; i++) {
        const struct raft_message *s = NULL;
        for (size_t k = g.n_sent; k-- > 0 && s == NULL;) {
            if (g.sent[k].type == RAFT_MSG_SNAPSHOT && g.sent[k].to == 2) {
                s = &g.sent[k];
            }
        }
        if (s == NULL) {
            break;
        }
        struct raft_message sr = reply(s, RAFT_MSG_SNAPSHOT_RESP);
        sr.index = s->snapshot.index;
        sr.offset = s->offset + s->chunk.len;
        frame(&g, raft_frame(&sr), false);
    }
    end(&g, PEER, "leader_sends_snapshot", 0);
}

/* Node 3 gossips its G-Counters and acknowledges ours. */
static void seed_gossip(uint64_t cid, const char *name, uint8_t piece)
{
    struct session g;
    begin(&g, FUZZ_PORT_PEER, 1);
    frame(&g, hello_frame(3, cid), false);
    struct raft_buf d1 = crdt_delta(3, 77, 0, 1);
    frame(&g, heartbeat_frame(3, d1.base, d1.len, 0, 0), false);
    free(d1.base);
    struct raft_buf d2 = crdt_delta(3, 77, 4, 3);
    frame(&g, heartbeat_frame(3, d2.base, d2.len, 1, 0), false);
    free(d2.base);
    frame(&g, heartbeat_frame(3, "\x01\x01 not a delta", 13, 1, 99), false);
    struct raft_buf d3 = crdt_delta(3, 78, 0, 2);
    frame(&g, heartbeat_frame(3, d3.base, d3.len, 1, 0), false);
    free(d3.base);
    end(&g, PEER, name, piece);
}

/* Requests and answers node 3 may send in any role. */
static void seed_raft_misc(uint64_t cid)
{
    struct session g;
    begin(&g, FUZZ_PORT_PEER, 4);
    frame(&g, hello_frame(3, cid), false);
    struct raft_message msgs[] = {
        {.type = RAFT_MSG_PREVOTE, .term = 3, .last_log_index = 1, .last_log_term = 1},
        {.type = RAFT_MSG_VOTE, .term = 4, .last_log_index = 1, .last_log_term = 1},
        {.type = RAFT_MSG_VOTE, .term = 4, .last_log_index = 9, .last_log_term = 4,
         .transfer = true},
        {.type = RAFT_MSG_HEARTBEAT, .term = 4, .commit = 1, .read_seq = 3},
        {.type = RAFT_MSG_APPEND_RESP, .term = 4, .index = 1},
        {.type = RAFT_MSG_VOTE_RESP, .term = 4, .reject = true},
        {.type = RAFT_MSG_HEARTBEAT_RESP, .term = 4, .read_seq = 3},
        {.type = RAFT_MSG_SNAPSHOT_RESP, .term = 4, .index = 7, .offset = 100, .reject = true},
        {.type = RAFT_MSG_TIMEOUT_NOW, .term = 4},
        {.type = RAFT_MSG_PREVOTE_RESP, .term = 5},
        {.type = RAFT_MSG_APPEND, .term = 1, .prev_index = 0, .prev_term = 0},
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        msgs[i].from = 3;
        msgs[i].to = FUZZ_SELF;
        frame(&g, raft_frame(&msgs[i]), false);
    }
    end(&g, PEER, "raft_misc", 0);
}

/* Streams the port refuses: each ends at its refusal. */
static void seed_refusals(uint64_t cid)
{
    struct session g;
    static const uint8_t oversize[] = {0x00, 0x10, 0x00, 0x00, 0x0a};
    static const uint8_t empty[] = {0, 0, 0, 0};
    static const uint8_t garbage[] = {0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    begin(&g, FUZZ_PORT_PEER, 1);
    frame(&g, hello_frame(2, cid ^ 1), true);
    end(&g, PEER, "refused_other_cluster", 0);

    begin(&g, FUZZ_PORT_PEER, 1);
    frame(&g, hello_frame(2, cid), false);
    frame(&g, hello_frame(2, cid), true);
    end(&g, PEER, "refused_second_hello", 0);

    begin(&g, FUZZ_PORT_PEER, 1);
    frame(&g, heartbeat_frame(2, NULL, 0, 0, 0), true);
    end(&g, PEER, "refused_no_hello", 0);

    const uint8_t *raw[] = {oversize, empty, garbage};
    size_t raw_len[] = {sizeof(oversize), sizeof(empty), sizeof(garbage)};
    const char *raw_name[] = {"refused_oversize", "refused_empty_frame", "refused_garbage"};
    for (size_t i = 0; i < 3; i++) {
        begin(&g, FUZZ_PORT_PEER, 1);
        frame(&g, hello_frame(2, cid), false);
        struct raft_buf b = {.base = malloc(raw_len[i]), .len = raw_len[i]};
        memcpy(b.base, raw[i], raw_len[i]);
        frame(&g, b, true);
        end(&g, PEER, raw_name[i], 0);
    }

    /* Raft messages net_raft_from_pb refuses, and one that speaks for another node. */
    begin(&g, FUZZ_PORT_PEER, 1);
    frame(&g, hello_frame(2, cid), false);
    Baton__RaftMessage pb = BATON__RAFT_MESSAGE__INIT;
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    env.body_case = BATON__ENVELOPE__BODY_RAFT;
    env.raft = &pb;
    pb.type = 99;
    frame(&g, env_frame(&env), false);
    Baton__Entry be = BATON__ENTRY__INIT, *bep = &be;
    be.type = 9;
    pb.type = RAFT_MSG_APPEND;
    pb.from = 2;
    pb.to = 1;
    pb.n_entries = 1;
    pb.entries = &bep;
    frame(&g, env_frame(&env), false);
    Baton__Server sv[RAFT_MAX_SERVERS + 1], *svp[RAFT_MAX_SERVERS + 1];
    Baton__SnapshotMeta meta = BATON__SNAPSHOT_META__INIT;
    for (size_t i = 0; i <= RAFT_MAX_SERVERS; i++) {
        baton__server__init(&sv[i]);
        sv[i].id = i + 1;
        sv[i].role = RAFT_VOTER;
        sv[i].addr = "x";
        svp[i] = &sv[i];
    }
    meta.n_servers = RAFT_MAX_SERVERS + 1;
    meta.servers = svp;
    pb.type = RAFT_MSG_SNAPSHOT;
    pb.n_entries = 0;
    pb.snapshot = &meta;
    frame(&g, env_frame(&env), false);
    struct raft_message other = {.type = RAFT_MSG_HEARTBEAT, .from = 3, .to = 1, .term = 9};
    frame(&g, raft_frame(&other), false);
    end(&g, PEER, "malformed_raft", 0);
}

/* ---- Client port seeds --------------------------------------------------- */

#define CLIENT "fuzz_frame_client"

static int max_lease_cb(const struct lease_info *info, void *arg)
{
    uint64_t *max = arg;
    *max = info->id > *max ? info->id : *max;
    return 0;
}

/* The newest lease: the one the last grant made. */
static uint64_t newest_lease(struct session *g)
{
    uint64_t max = 0;
    (void)lease_walk(g->f->n.sm.locks, max_lease_cb, &max);
    if (max == 0) {
        die("no lease was granted");
    }
    return max;
}

static void req_grant(struct session *g, uint64_t ttl)
{
    Baton__ClientRequest r = BATON__CLIENT_REQUEST__INIT;
    Baton__LeaseGrantRequest x = BATON__LEASE_GRANT_REQUEST__INIT;
    x.ttl_ms = ttl;
    r.op_case = BATON__CLIENT_REQUEST__OP_LEASE_GRANT;
    r.lease_grant = &x;
    frame(g, request_frame(&r), false);
}

static void req_lease(struct session *g, int op, uint64_t lease)
{
    Baton__ClientRequest r = BATON__CLIENT_REQUEST__INIT;
    Baton__LeaseKeepaliveRequest ka = BATON__LEASE_KEEPALIVE_REQUEST__INIT;
    Baton__LeaseRevokeRequest rv = BATON__LEASE_REVOKE_REQUEST__INIT;
    r.op_case = op;
    ka.lease = rv.lease = lease;
    r.lease_keepalive = &ka;
    if (op == BATON__CLIENT_REQUEST__OP_LEASE_REVOKE) {
        r.lease_revoke = &rv;
    }
    frame(g, request_frame(&r), false);
}

static void req_acquire(struct session *g, const char *name, uint64_t lease, uint64_t wait,
                        uint64_t delay)
{
    Baton__ClientRequest r = BATON__CLIENT_REQUEST__INIT;
    Baton__LockAcquireRequest x = BATON__LOCK_ACQUIRE_REQUEST__INIT;
    x.name = (char *)name;
    x.lease = lease;
    x.wait_ms = wait;
    x.lock_delay_ms = delay;
    r.op_case = BATON__CLIENT_REQUEST__OP_LOCK_ACQUIRE;
    r.lock_acquire = &x;
    frame(g, request_frame(&r), false);
}

static void req_release(struct session *g, const char *name, uint64_t lease)
{
    Baton__ClientRequest r = BATON__CLIENT_REQUEST__INIT;
    Baton__LockReleaseRequest x = BATON__LOCK_RELEASE_REQUEST__INIT;
    x.name = (char *)name;
    x.lease = lease;
    r.op_case = BATON__CLIENT_REQUEST__OP_LOCK_RELEASE;
    r.lock_release = &x;
    frame(g, request_frame(&r), false);
}

static void req_inspect(struct session *g, const char *name, bool check, uint64_t token)
{
    Baton__ClientRequest r = BATON__CLIENT_REQUEST__INIT;
    Baton__LockInspectRequest in = BATON__LOCK_INSPECT_REQUEST__INIT;
    Baton__LockCheckRequest ck = BATON__LOCK_CHECK_REQUEST__INIT;
    in.name = ck.name = (char *)name;
    ck.token = token;
    if (check) {
        r.op_case = BATON__CLIENT_REQUEST__OP_LOCK_CHECK;
        r.lock_check = &ck;
    } else {
        r.op_case = BATON__CLIENT_REQUEST__OP_LOCK_INSPECT;
        r.lock_inspect = &in;
    }
    frame(g, request_frame(&r), false);
}

static void req_counter(struct session *g, const char *name, bool incr, uint64_t by)
{
    Baton__ClientRequest r = BATON__CLIENT_REQUEST__INIT;
    Baton__CounterIncrRequest in = BATON__COUNTER_INCR_REQUEST__INIT;
    Baton__CounterGetRequest get = BATON__COUNTER_GET_REQUEST__INIT;
    in.name = get.name = (char *)name;
    in.n = by;
    if (incr) {
        r.op_case = BATON__CLIENT_REQUEST__OP_COUNTER_INCR;
        r.counter_incr = &in;
    } else {
        r.op_case = BATON__CLIENT_REQUEST__OP_COUNTER_GET;
        r.counter_get = &get;
    }
    frame(g, request_frame(&r), false);
}

static uint64_t token_of(struct session *g, const char *name)
{
    struct lock_info info;
    if (lock_inspect(g->f->n.sm.locks, name, &info, NULL, 0) != 0) {
        die("lock_inspect");
    }
    return info.token;
}

/* A lease and a lock through their whole life. */
static void seed_lease_lock(const char *name, uint8_t piece)
{
    struct session g;
    begin(&g, FUZZ_PORT_CLIENT, 4);
    req_grant(&g, 10000);
    uint64_t l = newest_lease(&g);
    req_acquire(&g, "db/primary", l, 0, 0);
    req_inspect(&g, "db/primary", false, 0);
    req_inspect(&g, "db/primary", true, token_of(&g, "db/primary"));
    req_lease(&g, BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE, l);
    req_acquire(&g, "db/primary", l, 0, 0);
    req_release(&g, "db/primary", l);
    req_lease(&g, BATON__CLIENT_REQUEST__OP_LEASE_REVOKE, l);
    req_lease(&g, BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE, l);
    end(&g, CLIENT, name, piece);
}

/* Two leases queue for one lock; it is handed on, a try-lock fails, a waiter
 * cancels, revoking a holder hands the lock to the next one. */
static void seed_queue(void)
{
    struct session g;
    begin(&g, FUZZ_PORT_CLIENT, 4);
    req_grant(&g, 20000);
    uint64_t l1 = newest_lease(&g);
    req_grant(&g, 20000);
    uint64_t l2 = newest_lease(&g);
    req_grant(&g, 20000);
    uint64_t l3 = newest_lease(&g);
    req_acquire(&g, "queue", l1, 0, 0);
    req_acquire(&g, "queue", l2, 60000, 0);
    req_acquire(&g, "queue", l3, 60000, 0);
    req_acquire(&g, "queue", l3, 0, 0);
    req_inspect(&g, "queue", false, 0);
    req_release(&g, "queue", l1);
    req_release(&g, "queue", l3);
    req_acquire(&g, "queue", l1, 0, 0);
    req_lease(&g, BATON__CLIENT_REQUEST__OP_LEASE_REVOKE, l2);
    req_inspect(&g, "queue", true, 1);
    end(&g, CLIENT, "queue", 0);
}

/* Half a second of virtual time per frame: a lease runs out while holding a
 * lock with lock-delay, the delay ends, the waiter gets the lock, another
 * wait times out. */
static void seed_expiry(void)
{
    struct session g;
    begin(&g, FUZZ_PORT_CLIENT, 32);
    req_grant(&g, 1500);
    uint64_t l1 = newest_lease(&g);
    req_grant(&g, 30000);
    uint64_t l2 = newest_lease(&g);
    req_acquire(&g, "expiring", l1, 0, 3000);
    req_acquire(&g, "expiring", l2, 20000, 0);
    req_acquire(&g, "other", l2, 0, 0);
    req_grant(&g, 30000);
    req_acquire(&g, "other", newest_lease(&g), 1500, 0);
    for (int i = 0; i < 6; i++) {
        req_counter(&g, "ticks", true, 1);
    }
    req_inspect(&g, "expiring", false, 0);
    end(&g, CLIENT, "expiry", 0);
}

static void seed_counters(void)
{
    struct session g;
    char long_name[300];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    begin(&g, FUZZ_PORT_CLIENT, 2);
    req_counter(&g, "hits", true, 1);
    req_counter(&g, "hits", true, 41);
    req_counter(&g, "hits", false, 0);
    req_counter(&g, "misses", false, 0);
    req_counter(&g, "hits", true, 0);
    req_counter(&g, "big", true, UINT64_MAX);
    req_counter(&g, "big", true, 1);
    req_counter(&g, "", true, 1);
    req_counter(&g, long_name, true, 1);
    end(&g, CLIENT, "counters", 0);
}

/* The listings and the membership requests: a lease list and the members, an add
 * (a good one, a duplicate id, a bad address), removes and transfers. */
static void seed_admin(void)
{
    struct session g;
    begin(&g, FUZZ_PORT_CLIENT, 2);
    req_grant(&g, 10000);
    req_acquire(&g, "db/primary", newest_lease(&g), 0, 0);
    Baton__ClientRequest r = BATON__CLIENT_REQUEST__INIT;
    Baton__LeaseListRequest ll = BATON__LEASE_LIST_REQUEST__INIT;
    r.op_case = BATON__CLIENT_REQUEST__OP_LEASE_LIST;
    r.lease_list = &ll;
    frame(&g, request_frame(&r), false);
    Baton__ClusterMembersRequest cm = BATON__CLUSTER_MEMBERS_REQUEST__INIT;
    r.op_case = BATON__CLIENT_REQUEST__OP_CLUSTER_MEMBERS;
    r.cluster_members = &cm;
    frame(&g, request_frame(&r), false);
    static const struct {
        uint64_t id;
        const char *peer, *client;
    } adds[] = {{4, "127.0.0.1:7204", "127.0.0.1:7104"},
                {1, "127.0.0.1:7211", "127.0.0.1:7111"},
                {5, "not-an-address", "127.0.0.1:7105"}};
    for (size_t i = 0; i < sizeof(adds) / sizeof(adds[0]); i++) {
        Baton__MemberAddRequest add = BATON__MEMBER_ADD_REQUEST__INIT;
        add.id = adds[i].id;
        add.peer_addr = (char *)adds[i].peer;
        add.client_addr = (char *)adds[i].client;
        r.op_case = BATON__CLIENT_REQUEST__OP_MEMBER_ADD;
        r.member_add = &add;
        frame(&g, request_frame(&r), false);
    }
    static const uint64_t removes[] = {9, 4};
    for (size_t i = 0; i < sizeof(removes) / sizeof(removes[0]); i++) {
        Baton__MemberRemoveRequest rm = BATON__MEMBER_REMOVE_REQUEST__INIT;
        rm.id = removes[i];
        r.op_case = BATON__CLIENT_REQUEST__OP_MEMBER_REMOVE;
        r.member_remove = &rm;
        frame(&g, request_frame(&r), false);
    }
    static const uint64_t targets[] = {0, 9};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        Baton__LeaderTransferRequest tr = BATON__LEADER_TRANSFER_REQUEST__INIT;
        tr.id = targets[i];
        r.op_case = BATON__CLIENT_REQUEST__OP_LEADER_TRANSFER;
        r.leader_transfer = &tr;
        frame(&g, request_frame(&r), false);
    }
    end(&g, CLIENT, "admin", 0);
}

/* Requests the node refuses before they reach Raft, then a frame that is not
 * a request, which closes the connection. */
static void seed_invalid(void)
{
    struct session g;
    char long_name[300];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    begin(&g, FUZZ_PORT_CLIENT, 4);
    req_grant(&g, 1);
    req_grant(&g, LOCK_MS_MAX + 1);
    req_grant(&g, 5000);
    uint64_t l = newest_lease(&g);
    req_acquire(&g, "", l, 0, 0);
    req_acquire(&g, long_name, l, 0, 0);
    req_acquire(&g, "d", l, LOCK_MS_MAX + 1, LOCK_DELAY_MAX_MS + 1);
    req_acquire(&g, "d", 12345, 0, 0);
    req_release(&g, "nobody-holds", l);
    req_inspect(&g, "", false, 0);
    req_inspect(&g, long_name, true, 0);
    req_lease(&g, BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE, 999);
    req_lease(&g, BATON__CLIENT_REQUEST__OP_LEASE_REVOKE, 0);
    Baton__ClientRequest status = BATON__CLIENT_REQUEST__INIT;
    Baton__StatusRequest st = BATON__STATUS_REQUEST__INIT;
    status.op_case = BATON__CLIENT_REQUEST__OP_STATUS;
    status.status = &st;
    frame(&g, request_frame(&status), false);
    Baton__ClientRequest none = BATON__CLIENT_REQUEST__INIT;
    frame(&g, request_frame(&none), false);
    frame(&g, hello_frame(2, 1), true);
    end(&g, CLIENT, "invalid", 0);
}

/* A follower that knows no leader: lock requests are refused, counters work. */
static void seed_follower_client(void)
{
    struct session g;
    begin(&g, FUZZ_PORT_CLIENT, FUZZ_FLAG_ALT | 4);
    req_grant(&g, 10000);
    req_acquire(&g, "x", 3, 0, 0);
    req_inspect(&g, "x", false, 0);
    req_lease(&g, BATON__CLIENT_REQUEST__OP_LEASE_KEEPALIVE, 3);
    req_counter(&g, "c", true, 5);
    req_counter(&g, "c", false, 0);
    end(&g, CLIENT, "follower", 0);
}

/* ---- Stores -------------------------------------------------------------- */

#define STORE "fuzz_store_open"

static void rm_store(const char *dir)
{
    char path[512];
    static const char *files[] = {"data.mdb", "lock.mdb", "baton.lock"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

static void check(int rv, struct store *s, const char *what)
{
    if (rv != 0) {
        die("%s: %s (%s)", what, baton_strerror(rv), s ? store_errmsg(s) : "");
    }
}

/* Counter records as the node writes them. */
static void put_counters(struct store *s)
{
    struct crdt_set *set;
    struct crdt_sync sync;
    check(crdt_set_new(FUZZ_SELF, 5, &set), NULL, "crdt_set_new");
    check(crdt_incr(set, "requests", 7, NULL, NULL, NULL), NULL, "crdt_incr");
    check(crdt_incr(set, "jobs", 2, NULL, NULL, NULL), NULL, "crdt_incr");
    struct crdt_slot peer = {.name = "jobs", .node = 3, .value = 4};
    check(crdt_merge(set, &peer, 1, NULL, NULL), NULL, "crdt_merge");
    check(crdt_sync_get(set, &sync), NULL, "crdt_sync_get");
    struct store_crdt_put puts[8];
    for (size_t i = 0; i < sync.n && i < 8; i++) {
        puts[i] = (struct store_crdt_put){.name = sync.records[i].name,
                                          .data = sync.records[i].data,
                                          .len = sync.records[i].len};
    }
    struct store_batch b = {.crdt = puts, .n_crdt = sync.n};
    check(store_write(s, &b, 1), s, "store_write crdt");
    crdt_sync_clear(&sync);
    crdt_set_free(set);
}

enum store_shape {
    STORE_NEW = 1,     /* bootstrapped, nothing else */
    STORE_LOG,         /* a log of lock commands, hard state, counters */
    STORE_SNAPSHOT,    /* the same with a local snapshot and compaction */
    STORE_RECEIVED,    /* a snapshot received from a leader, log dropped */
    STORE_BIG,         /* many writes: branch pages, overflow pages, a free list */
};

/* Lease grants written in many transactions, then a snapshot of them big
 * enough for LMDB's overflow pages, and compaction: B-trees two levels deep
 * and a free list. */
static void fill_big(struct store *s)
{
    struct lock_sm *sm = lock_sm_new();
    struct lock_result res;
    uint64_t index = 1;
    if (sm == NULL) {
        die("lock_sm_new");
    }
    for (int batch = 0; batch < 40; batch++) {
        struct raft_entry e[12];
        for (size_t i = 0; i < 12; i++) {
            index++;
            e[i] = (struct raft_entry){.term = 2, .index = index, .type = RAFT_ENTRY_NORMAL,
                                       .data = lock_cmd(LOCK_CMD_LEASE_GRANT, NULL, 0, 60000, 0)};
            if (lock_apply(sm, index, e[i].data.base, e[i].data.len, &res, NULL) != 0) {
                die("lock_apply");
            }
        }
        struct store_batch b = {.entries = e, .n_entries = 12, .has_hard_state = true,
                                .hard_state = {.term = 2, .vote = 1}};
        check(store_write(s, &b, 1), s, "entries");
        entries_free(e, 12);
    }
    struct raft_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    snap.meta.index = index - 20;
    snap.meta.term = 2;
    struct raft_buf conf = conf_data(3, 0);
    check(raft_conf_decode(conf.base, conf.len, &snap.meta.conf), NULL, "conf");
    free(conf.base);
    lock_sm_free(sm);
    /* The state as of the snapshot's index: the grants up to it. */
    sm = lock_sm_new();
    for (uint64_t i = 2; sm != NULL && i <= snap.meta.index; i++) {
        struct raft_buf c = lock_cmd(LOCK_CMD_LEASE_GRANT, NULL, 0, 60000, 0);
        if (lock_apply(sm, i, c.base, c.len, &res, NULL) != 0) {
            die("lock_apply");
        }
        free(c.base);
    }
    if (sm == NULL || lock_sm_snapshot(sm, &snap.data.base, &snap.data.len) != 0) {
        die("lock_sm_snapshot");
    }
    lock_sm_free(sm);
    struct store_batch b = {.snapshot = &snap, .snapshot_log = STORE_LOG_KEEP,
                            .compact_upto = snap.meta.index - 10};
    check(store_write(s, &b, 1), s, "snapshot");
    free(snap.data.base);
    put_counters(s);
}

static void seed_store(int shape, const char *name)
{
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/baton-gen-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        die("mkdtemp: %s", strerror(errno));
    }
    struct store_options opt;
    struct store *s = NULL;
    char why[512];
    store_options_default(&opt);
    opt.map_size = 1u << 20;
    check(store_open(dir, FUZZ_STORE_CLUSTER, &opt, &s, why, sizeof(why)), NULL, why);
    struct raft_entry boot = {.term = 1, .index = 1, .type = RAFT_ENTRY_CONF,
                              .data = conf_data(3, 0)};
    struct store_batch b = {.entries = &boot, .n_entries = 1};
    check(store_write(s, &b, 1), s, "bootstrap");
    free(boot.data.base);
    if (shape == STORE_LOG || shape == STORE_SNAPSHOT) {
        struct raft_entry e[32];
        e[0] = (struct raft_entry){.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP};
        size_t n = 1 + lock_log(e + 1, 31, 3, 2);
        b = (struct store_batch){.entries = e, .n_entries = n, .has_hard_state = true,
                                 .hard_state = {.term = 2, .vote = 2}};
        check(store_write(s, &b, 1), s, "entries");
        entries_free(e, n);
        put_counters(s);
    }
    if (shape == STORE_BIG) {
        fill_big(s);
    }
    if (shape == STORE_SNAPSHOT || shape == STORE_RECEIVED) {
        bool local = shape == STORE_SNAPSHOT;
        struct raft_snapshot snap;
        memset(&snap, 0, sizeof(snap));
        snap.meta.index = local ? 12 : 40;
        snap.meta.term = local ? 2 : 4;
        struct raft_buf conf = conf_data(3, 0);
        check(raft_conf_decode(conf.base, conf.len, &snap.meta.conf), NULL, "conf");
        free(conf.base);
        snap.data = lock_state(local ? 3 : 20);
        b = (struct store_batch){.snapshot = &snap,
                                 .snapshot_log = local ? STORE_LOG_KEEP : STORE_LOG_DISCARD,
                                 .compact_upto = local ? 10 : 0,
                                 .has_hard_state = !local,
                                 .hard_state = {.term = 4, .vote = 0}};
        check(store_write(s, &b, 1), s, "snapshot");
        free(snap.data.base);
    }
    store_close(s);
    char path[512];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    FILE *fp = fopen(path, "rb");
    struct stream data = {0};
    uint8_t buf[4096];
    size_t k;
    while (fp != NULL && (k = fread(buf, 1, sizeof(buf), fp)) > 0) {
        put(&data, buf, k);
    }
    if (fp == NULL) {
        die("read %s", path);
    }
    fclose(fp);
    write_file(STORE, name, data.buf, data.len, NULL, 0);
    free(data.buf);
    rm_store(dir);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        die("mkdir %s: %s", out_dir, strerror(errno));
    }
    uint64_t cid = cluster_id();
    seed_follower(cid, "follower_log", 0);
    seed_follower(cid, "follower_log_in_pieces", 5);
    seed_snapshot(cid);
    seed_election(cid);
    seed_leader_sends_snapshot(cid);
    seed_gossip(cid, "gossip", 0);
    seed_gossip(cid, "gossip_bytewise", 1);
    seed_raft_misc(cid);
    seed_refusals(cid);

    seed_lease_lock("lease_lock", 0);
    seed_lease_lock("lease_lock_in_pieces", 3);
    seed_queue();
    seed_expiry();
    seed_counters();
    seed_admin();
    seed_invalid();
    seed_follower_client();

    seed_store(STORE_NEW, "new");
    seed_store(STORE_LOG, "log");
    seed_store(STORE_SNAPSHOT, "snapshot");
    seed_store(STORE_RECEIVED, "received_snapshot");
    seed_store(STORE_BIG, "big");
    return 0;
}
