/* A batond node without sockets, disk or threads: the fuzz targets' fixture (fuzz_node.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_node.h"
#include "net/codec.h"
#include "node/log.h"

/* Virtual time moves in steps of this many ms: coarser than the daemon's 10 ms
 * tick timer (the fuzzer's time is better spent on messages), still twice per
 * heartbeat period. */
#define STEP_MS 50
/* Completing work never needs this many rounds unless the node livelocks. */
#define DRAIN_MAX 100000

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant broken: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void must(int rv, const char *what)
{
    if (rv != 0) {
        fuzz_fail("fixture: %s: %s", what, baton_strerror(rv));
    }
}

/* ---- Raft messages must survive the wire unchanged ----------------------- */

static bool buf_equal(const struct raft_buf *a, const struct raft_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->base, b->base, a->len) == 0);
}

static bool entries_equal(const struct raft_message *a, const struct raft_message *b)
{
    if (a->n_entries != b->n_entries) {
        return false;
    }
    for (size_t i = 0; i < a->n_entries; i++) {
        const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->term != y->term || x->index != y->index || x->type != y->type ||
            !buf_equal(&x->data, &y->data)) {
            return false;
        }
    }
    return true;
}

static bool msg_equal(const struct raft_message *a, const struct raft_message *b)
{
    bool snap = a->type == RAFT_MSG_SNAPSHOT;
    return a->type == b->type && a->from == b->from && a->to == b->to && a->term == b->term &&
           a->last_log_index == b->last_log_index && a->last_log_term == b->last_log_term &&
           a->transfer == b->transfer && a->reject == b->reject &&
           a->prev_index == b->prev_index && a->prev_term == b->prev_term &&
           a->commit == b->commit && a->index == b->index && a->hint_index == b->hint_index &&
           a->hint_term == b->hint_term && a->read_seq == b->read_seq &&
           a->offset == b->offset && a->done == b->done && buf_equal(&a->chunk, &b->chunk) &&
           entries_equal(a, b) &&
           (!snap || (a->snapshot.index == b->snapshot.index &&
                      a->snapshot.term == b->snapshot.term &&
                      raft_conf_equal(&a->snapshot.conf, &b->snapshot.conf)));
}

/* Encodes m as the node does, decodes it as a peer would, and compares. A
 * message over the frame limit is never sent (node_send_raft logs it), so it
 * is not compared. */
static void check_round_trip(const struct raft_message *m)
{
    struct raft_buf frame;
    int rv = net_encode_raft(m, FUZZ_MAX_FRAME, &frame);
    if (rv == BATON_ETOOBIG) {
        return;
    }
    must(rv, "net_encode_raft");
    const uint8_t *p = frame.base;
    Baton__Envelope *env =
        baton__envelope__unpack(NULL, frame.len - NET_FRAME_HEADER, p + NET_FRAME_HEADER);
    if (env == NULL || env->body_case != BATON__ENVELOPE__BODY_RAFT) {
        fuzz_fail("a %s the node sent does not decode", raft_msg_type_name(m->type));
    }
    struct raft_message back;
    rv = net_raft_from_pb(env->raft, &back);
    if (rv != 0) {
        fuzz_fail("a %s the node sent is refused by net_raft_from_pb: %s",
                  raft_msg_type_name(m->type), baton_strerror(rv));
    }
    if (!msg_equal(m, &back)) {
        fuzz_fail("a %s the node sent changes on the wire", raft_msg_type_name(m->type));
    }
    raft_message_clear(&back);
    baton__envelope__free_unpacked(env, NULL);
    free(frame.base);
}

/* ---- The disk: every queued write is durable at once ---------------------- */

/* Frees a completed item with persist.c's own code: a pipeline of one item,
 * closed. */
static void item_free(struct node_persist_item *it)
{
    struct node_persist one;
    memset(&one, 0, sizeof(one));
    it->next = NULL;
    one.head = one.tail = it;
    node_persist_close(&one);
}

static void check_step(struct fuzz_node *f);

/* Completes the pipeline's items in push order, as after_work_cb does once a
 * write is synced, until the node has no more work. */
static void drain(struct fuzz_node *f)
{
    struct node *n = &f->n;
    struct node_persist *p = &n->persist;
    for (unsigned rounds = 0; p->head != NULL && !n->stopping; rounds++) {
        if (rounds == DRAIN_MAX) {
            fuzz_fail("the node never stops producing work");
        }
        struct node_persist_item *it = p->head;
        p->head = it->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        bool foreign_snapshot = false;
        if (it->kind == NODE_PERSIST_READY) {
            for (size_t i = 0; i < it->rd.n_msgs; i++) {
                check_round_trip(&it->rd.msgs[i]);
                if (f->on_send != NULL) {
                    f->on_send(f->arg, &it->rd.msgs[i]);
                }
            }
            foreign_snapshot = it->rd.snapshot != NULL;
        }
        node_on_persisted(n, it);
        /* A leader's snapshot that is not a lock state stops the node (by
         * design); nothing else that was committed may. */
        if (n->stopping && !foreign_snapshot) {
            fuzz_fail("the node stopped while applying committed work");
        }
        item_free(it);
        node_on_drained(n);
        check_step(f);
    }
    if (n->stopping) {
        node_persist_close(p); /* the process would exit: nothing more completes */
    }
}

/* ---- Time ---------------------------------------------------------------- */

/* The G-Counter part of a heartbeat round: send_heartbeats adds it only for
 * peers whose link is up, and the fixture has no links. */
static void gossip_round(struct fuzz_node *f)
{
    struct node *n = &f->n;
    for (size_t i = 0; i < n->counters.n_peers; i++) {
        uint64_t id = n->counters.peer_ids[i];
        Baton__Heartbeat hb = BATON__HEARTBEAT__INIT;
        void *delta = NULL;
        node_counters_fill(n, id, fd_suspected(&n->fd, id), &hb, &delta);
        free(delta);
    }
}

void fuzz_node_advance(struct fuzz_node *f, uint64_t ms)
{
    struct node *n = &f->n;
    while (ms > 0 && !n->stopping) {
        uint64_t step = ms < STEP_MS ? ms : STEP_MS;
        ms -= step;
        f->loop.time += step;
        /* Both timers fire at every step: each callback works out from the
         * time what is due (node_fd_cb re-arms its timer, which never runs). */
        bool round = fd_heartbeat_due(&n->fd, uv_now(&f->loop));
        node_tick_cb(&n->tick_timer);
        node_fd_cb(&n->fd_timer);
        if (round) {
            gossip_round(f);
        }
        drain(f);
    }
}

/* ---- Invariants ---------------------------------------------------------- */

static void check_step(struct fuzz_node *f)
{
    struct node *n = &f->n;
    uint64_t term = raft_term(n->raft), commit = raft_commit(n->raft);
    if (term < f->last_term) {
        fuzz_fail("term went down: %llu -> %llu", (unsigned long long)f->last_term,
                  (unsigned long long)term);
    }
    if (commit < f->last_commit) {
        fuzz_fail("commit went down: %llu -> %llu", (unsigned long long)f->last_commit,
                  (unsigned long long)commit);
    }
    if (n->sm.applied < f->last_applied) {
        fuzz_fail("applied went down: %llu -> %llu", (unsigned long long)f->last_applied,
                  (unsigned long long)n->sm.applied);
    }
    if (n->sm.applied > commit) {
        fuzz_fail("applied %llu past commit %llu", (unsigned long long)n->sm.applied,
                  (unsigned long long)commit);
    }
    if (raft_role(n->raft) == RAFT_LEADER && raft_leader(n->raft) != FUZZ_SELF) {
        fuzz_fail("leader that names %llu as leader", (unsigned long long)raft_leader(n->raft));
    }
    f->last_term = term;
    f->last_commit = commit;
    f->last_applied = n->sm.applied;
}

/* Whatever state the inputs built, a snapshot of it restores to the same state
 * (lock_sm_restore checks every invariant of a live state). */
static void check_lock_snapshot(struct fuzz_node *f)
{
    const struct node *n = &f->n;
    void *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    must(lock_sm_snapshot(n->sm.locks, &a, &alen), "lock_sm_snapshot");
    struct lock_sm *copy = lock_sm_new();
    if (copy == NULL) {
        fuzz_fail("fixture: out of memory");
    }
    int rv = lock_sm_restore(copy, a, alen, lock_sm_applied(n->sm.locks));
    if (rv != 0) {
        fuzz_fail("the lock state's own snapshot does not restore: %s", baton_strerror(rv));
    }
    must(lock_sm_snapshot(copy, &b, &blen), "lock_sm_snapshot");
    if (alen != blen || memcmp(a, b, alen) != 0) {
        fuzz_fail("a restored lock snapshot snapshots differently");
    }
    lock_sm_free(copy);
    free(a);
    free(b);
}

/* Every counter's durable record decodes back to the slots the set holds. */
static int check_record_cb(const struct crdt_slot *slot, void *arg)
{
    const struct crdt_set *set = arg;
    void *data = NULL;
    size_t len = 0, n = 0;
    struct crdt_pair *pairs = NULL;
    must(crdt_record_encode(set, slot->name, &data, &len), "crdt_record_encode");
    int rv = crdt_record_decode(data, len, &pairs, &n);
    if (rv != 0) {
        fuzz_fail("counter %s: its record does not decode: %s", slot->name, baton_strerror(rv));
    }
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        found |= pairs[i].node == slot->node && pairs[i].value == slot->value;
    }
    if (!found && slot->value != 0) {
        fuzz_fail("counter %s: slot %llu lost in its record", slot->name,
                  (unsigned long long)slot->node);
    }
    free(pairs);
    free(data);
    return 0;
}

/* ---- Setup --------------------------------------------------------------- */

static void config(struct node_config *cfg, size_t members)
{
    node_config_default(cfg);
    cfg->id = FUZZ_SELF;
    cfg->n_members = members;
    for (size_t i = 0; i < members; i++) {
        cfg->members[i].id = i + 1;
        snprintf(cfg->members[i].peer_addr, NODE_ADDR_MAX, "127.0.0.1:%zu", 7001 + i);
        snprintf(cfg->members[i].client_addr, NODE_ADDR_MAX, "127.0.0.1:%zu", 8001 + i);
    }
    cfg->max_frame = FUZZ_MAX_FRAME;
    cfg->log_level = NODE_LOG_ERROR + 1; /* nothing: the fuzzer's output is its own */
    /* Snapshots and compaction every few entries, so that short inputs reach them. */
    cfg->snapshot_entries = 8;
    cfg->snapshot_trailing = 2;
}

/* What lifecycle.c's bootstrap and load_raft do for a new data dir. */
static void start_raft(struct node *n)
{
    struct raft_conf conf;
    memset(&conf, 0, sizeof(conf));
    for (size_t i = 0; i < n->cfg.n_members; i++) {
        char addr[RAFT_ADDR_MAX];
        node_member_addr(&n->cfg.members[i], addr, sizeof(addr));
        must(raft_conf_add(&conf, n->cfg.members[i].id, RAFT_VOTER, addr), "raft_conf_add");
    }
    struct raft_entry e;
    must(raft_bootstrap_entry(&conf, &e), "raft_bootstrap_entry");
    struct raft_boot rb = {.entries = &e, .n_entries = 1};
    struct raft_options opt;
    raft_options_default(&opt, n->cfg.id);
    opt.heartbeat_ms = n->cfg.heartbeat_ms;
    opt.election_ms = n->cfg.election_ms;
    opt.max_batch_bytes = n->cfg.max_frame / 2;
    opt.snapshot_chunk_bytes = n->cfg.max_frame / 4;
    opt.seed = 0x5eed;
    int err = 0;
    n->raft = raft_new(&opt, &rb, uv_now(n->loop), &err);
    free(e.data.base);
    if (n->raft == NULL) {
        fuzz_fail("fixture: raft_new: %s", baton_strerror(err));
    }
}

/* What node_counters_start and start_peers do, without a store or sockets. */
static void start_counters_and_fd(struct node *n)
{
    struct node_counters *c = &n->counters;
    must(crdt_set_new(n->cfg.id, 1, &c->set), "crdt_set_new");
    struct fd_options fo;
    fd_options_default(&fo, n->cfg.id);
    fo.heartbeat_ms = n->cfg.heartbeat_ms;
    fo.timeout_ms = n->cfg.heartbeat_ms * 5;
    must(fd_init(&n->fd, &fo, uv_now(n->loop)), "fd_init");
    for (size_t i = 0; i < n->cfg.n_members; i++) {
        uint64_t id = n->cfg.members[i].id;
        if (id != n->cfg.id) {
            c->peer_ids[c->n_peers] = id;
            crdt_peer_init(&c->peers[c->n_peers++]);
            must(fd_peer_add(&n->fd, id, uv_now(n->loop)), "fd_peer_add");
        }
    }
}

struct fuzz_node *fuzz_node_new(int port, uint8_t flags)
{
    struct fuzz_node *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        fuzz_fail("fixture: out of memory");
    }
    struct node *n = &f->n;
    bool alt = (flags & FUZZ_FLAG_ALT) != 0;
    f->port = port;
    f->tick_ms = (uint64_t)(flags & FUZZ_FLAG_TICK) * FUZZ_TICK_UNIT_MS;
    must(uv_loop_init(&f->loop) != 0 ? BATON_EIO : 0, "uv_loop_init");
    f->loop.time = 1000000; /* the virtual clock starts here, whatever the real one says */
    n->loop = &f->loop;
    uv_timer_init(&f->loop, &n->tick_timer);
    uv_timer_init(&f->loop, &n->fd_timer);
    n->tick_timer.data = n->fd_timer.data = n;
    config(&n->cfg, port == FUZZ_PORT_CLIENT && !alt ? 1 : 3);
    node_log_setup(n->cfg.log_level, n->cfg.id);
    n->cluster_id = node_config_cluster_id(&n->cfg);
    must(node_sm_init(&n->sm), "node_sm_init");
    start_raft(n);
    /* Never idle, so node_persist_kick never queues a write: drain() is the disk. */
    n->persist.in_flight = true;
    node_service_init(&n->service, n->cfg.election_ms);
    start_counters_and_fd(n);
    net_frame_reader_init(&f->reader, n->cfg.max_frame);
    node_pump(n);
    drain(f);
    if (port == FUZZ_PORT_PEER && alt) {
        fuzz_node_advance(f, 2 * (uint64_t)n->cfg.election_ms);
    }
    if (port == FUZZ_PORT_CLIENT && !alt) {
        /* A one-member cluster: leader after one election timeout, serving once
         * its no-op has applied and the lease clocks run. */
        for (int i = 0; i < 100 && !n->service.clocks_running; i++) {
            fuzz_node_advance(f, n->cfg.election_ms);
        }
        if (!n->service.clocks_running) {
            fuzz_fail("fixture: the one-member cluster never started serving");
        }
    }
    return f;
}

/* ---- Ports --------------------------------------------------------------- */

/* The peer port (peers_accept.c's in_frame_cb and check_hello): the first frame
 * must be a Hello from a member of our cluster, later ones anything but Hello. */
static bool peer_frame(struct fuzz_node *f, const Baton__Envelope *env)
{
    struct node *n = &f->n;
    if (f->peer == 0) {
        if (env->body_case != BATON__ENVELOPE__BODY_HELLO || env->hello->node_id == 0 ||
            env->hello->cluster_id != n->cluster_id) {
            return false;
        }
        f->peer = env->hello->node_id;
        return true;
    }
    if (env->body_case == BATON__ENVELOPE__BODY_HELLO) {
        return false;
    }
    node_on_peer_envelope(n, f->peer, env);
    return true;
}

/* The client port (client.c's frame_cb and handle_request, without its rate
 * limit): ClientRequests only, through the node's own dispatch. A status
 * request needs a connection to answer on, so it is not handled here. */
static bool client_frame(struct fuzz_node *f, const Baton__Envelope *env)
{
    struct node *n = &f->n;
    if (env->body_case != BATON__ENVELOPE__BODY_REQUEST) {
        return false;
    }
    (void)node_client_dispatch(n, 1, env->request);
    node_pump(n);
    return true;
}

/* FUZZ_TRACE=1: one line per frame and the node's state after it, to see
 * what an input does. */
static void trace(const struct fuzz_node *f, const Baton__Envelope *env)
{
    const struct node *n = &f->n;
    if (env == NULL) {
        fprintf(stderr, "frame: undecodable\n");
        return;
    }
    fprintf(stderr, "frame: envelope %d", (int)env->body_case);
    if (env->body_case == BATON__ENVELOPE__BODY_RAFT) {
        const Baton__RaftMessage *m = env->raft;
        fprintf(stderr, " raft %s %llu->%llu term %llu prev %llu/%llu commit %llu index %llu",
                raft_msg_type_name((int)m->type), (unsigned long long)m->from,
                (unsigned long long)m->to, (unsigned long long)m->term,
                (unsigned long long)m->prev_index, (unsigned long long)m->prev_term,
                (unsigned long long)m->commit, (unsigned long long)m->index);
        for (size_t i = 0; i < m->n_entries; i++) {
            fprintf(stderr, " [%llu t%llu type %u %zu B]", (unsigned long long)m->entries[i]->index,
                    (unsigned long long)m->entries[i]->term, m->entries[i]->type,
                    m->entries[i]->data.len);
        }
        if (m->snapshot != NULL) {
            fprintf(stderr, " snapshot %llu/%llu offset %llu chunk %zu B%s",
                    (unsigned long long)m->snapshot->index, (unsigned long long)m->snapshot->term,
                    (unsigned long long)m->offset, m->chunk.len, m->done ? " done" : "");
        }
    } else if (env->body_case == BATON__ENVELOPE__BODY_REQUEST) {
        fprintf(stderr, " request op %d", (int)env->request->op_case);
    }
    fprintf(stderr, "\n  node: %s term %llu commit %llu applied %llu last %llu snapshot %llu\n",
            raft_role_name(raft_role(n->raft)), (unsigned long long)raft_term(n->raft),
            (unsigned long long)raft_commit(n->raft), (unsigned long long)n->sm.applied,
            (unsigned long long)raft_last_index(n->raft), (unsigned long long)n->snapshot_index);
}

static int frame_cb(void *arg, const uint8_t *payload, size_t len)
{
    struct fuzz_node *f = arg;
    Baton__Envelope *env = baton__envelope__unpack(NULL, len, payload);
    if (getenv("FUZZ_TRACE") != NULL) {
        trace(f, env);
    }
    if (env == NULL) {
        return BATON_EMALFORMED;
    }
    bool ok = f->port == FUZZ_PORT_PEER ? peer_frame(f, env) : client_frame(f, env);
    baton__envelope__free_unpacked(env, NULL);
    if (!ok) {
        return BATON_EMALFORMED;
    }
    drain(f);
    fuzz_node_advance(f, f->tick_ms);
    return f->n.stopping ? BATON_ESHUTDOWN : 0;
}

int fuzz_node_feed(struct fuzz_node *f, const void *data, size_t len)
{
    if (f->closed) {
        return BATON_ECANCELED;
    }
    int rv = net_frame_feed(&f->reader, data, len, frame_cb, f);
    if (rv != 0) {
        f->closed = true;
    }
    return rv;
}

void fuzz_node_free(struct fuzz_node *f)
{
    struct node *n = &f->n;
    if (!n->stopping) {
        check_lock_snapshot(f);
        (void)crdt_foreach(n->counters.set, check_record_cb, n->counters.set);
    }
    net_frame_reader_close(&f->reader);
    n->persist.in_flight = false;
    node_close(n);
    uv_close((uv_handle_t *)&n->tick_timer, NULL);
    uv_close((uv_handle_t *)&n->fd_timer, NULL);
    (void)uv_run(&f->loop, UV_RUN_NOWAIT); /* completes the closes; no timer is due */
    must(uv_loop_close(&f->loop) != 0 ? BATON_EBUSY : 0, "uv_loop_close");
    free(f);
}

void fuzz_node_run(int port, const uint8_t *data, size_t size)
{
    if (size < 2) {
        return;
    }
    struct fuzz_node *f = fuzz_node_new(port, data[0]);
    size_t piece = data[1] != 0 ? data[1] : size;
    for (size_t off = 2; off < size && !f->closed; off += piece) {
        size_t k = size - off < piece ? size - off : piece;
        (void)fuzz_node_feed(f, data + off, k);
    }
    fuzz_node_free(f);
}
