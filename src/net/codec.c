/* Raft messages to and from protobuf: the only place the two representations meet. */
#include <stdlib.h>
#include <string.h>

#include "net/codec.h"
#include "net/frame.h"

struct pb_scratch {
    Baton__Entry *entries;
    Baton__Entry **entry_ptrs;
    Baton__Server servers[RAFT_MAX_SERVERS];
    Baton__Server *server_ptrs[RAFT_MAX_SERVERS];
    Baton__SnapshotMeta meta;
};

static void meta_to_pb(const struct raft_snapshot_meta *meta, struct pb_scratch *s)
{
    baton__snapshot_meta__init(&s->meta);
    s->meta.index = meta->index;
    s->meta.term = meta->term;
    for (size_t i = 0; i < meta->conf.n; i++) {
        const struct raft_server *srv = &meta->conf.servers[i];
        baton__server__init(&s->servers[i]);
        s->servers[i].id = srv->id;
        s->servers[i].role = (uint32_t)srv->role;
        s->servers[i].promote = srv->promote;
        s->servers[i].addr = (char *)srv->addr;
        s->server_ptrs[i] = &s->servers[i];
    }
    s->meta.n_servers = meta->conf.n;
    s->meta.servers = s->server_ptrs;
}

static int entries_to_pb(const struct raft_message *m, struct pb_scratch *s)
{
    if (m->n_entries == 0) {
        return 0;
    }
    s->entries = calloc(m->n_entries, sizeof(*s->entries));
    s->entry_ptrs = calloc(m->n_entries, sizeof(*s->entry_ptrs));
    if (s->entries == NULL || s->entry_ptrs == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        baton__entry__init(&s->entries[i]);
        s->entries[i].term = e->term;
        s->entries[i].index = e->index;
        s->entries[i].type = (uint32_t)e->type;
        s->entries[i].data.data = e->data.base;
        s->entries[i].data.len = e->data.len;
        s->entry_ptrs[i] = &s->entries[i];
    }
    return 0;
}

static void fill_pb(const struct raft_message *m, Baton__RaftMessage *pb)
{
    pb->type = (uint32_t)m->type;
    pb->from = m->from;
    pb->to = m->to;
    pb->term = m->term;
    pb->last_log_index = m->last_log_index;
    pb->last_log_term = m->last_log_term;
    pb->transfer = m->transfer;
    pb->reject = m->reject;
    pb->prev_index = m->prev_index;
    pb->prev_term = m->prev_term;
    pb->commit = m->commit;
    pb->index = m->index;
    pb->hint_index = m->hint_index;
    pb->hint_term = m->hint_term;
    pb->read_seq = m->read_seq;
    pb->offset = m->offset;
    pb->chunk.data = m->chunk.base;
    pb->chunk.len = m->chunk.len;
    pb->done = m->done;
}

int net_encode_envelope(const Baton__Envelope *env, size_t max_frame, struct raft_buf *out)
{
    size_t len = baton__envelope__get_packed_size(env);
    if (len > max_frame) {
        return BATON_ETOOBIG;
    }
    uint8_t *buf = malloc(NET_FRAME_HEADER + len);
    if (buf == NULL) {
        return BATON_ENOMEM;
    }
    net_frame_put_header(buf, (uint32_t)len);
    baton__envelope__pack(env, buf + NET_FRAME_HEADER);
    out->base = buf;
    out->len = NET_FRAME_HEADER + len;
    return 0;
}

int net_encode_raft(const struct raft_message *m, size_t max_frame, struct raft_buf *out)
{
    struct pb_scratch s;
    memset(&s, 0, sizeof(s));
    Baton__RaftMessage pb = BATON__RAFT_MESSAGE__INIT;
    fill_pb(m, &pb);
    int rv = entries_to_pb(m, &s);
    if (rv == 0) {
        pb.n_entries = m->n_entries;
        pb.entries = s.entry_ptrs;
        if (m->type == RAFT_MSG_SNAPSHOT) {
            meta_to_pb(&m->snapshot, &s);
            pb.snapshot = &s.meta;
        }
        Baton__Envelope env = BATON__ENVELOPE__INIT;
        env.body_case = BATON__ENVELOPE__BODY_RAFT;
        env.raft = &pb;
        rv = net_encode_envelope(&env, max_frame, out);
    }
    free(s.entries);
    free(s.entry_ptrs);
    return rv;
}

static int meta_from_pb(const Baton__SnapshotMeta *pb, struct raft_snapshot_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    if (pb == NULL) {
        return 0;
    }
    if (pb->n_servers > RAFT_MAX_SERVERS) {
        return BATON_EMALFORMED;
    }
    meta->index = pb->index;
    meta->term = pb->term;
    for (size_t i = 0; i < pb->n_servers; i++) {
        const Baton__Server *s = pb->servers[i];
        if (s->addr == NULL || raft_conf_add(&meta->conf, s->id, (int)s->role, s->addr) != 0) {
            return BATON_EMALFORMED;
        }
        meta->conf.servers[i].promote = s->promote;
    }
    return 0;
}

static int entries_from_pb(const Baton__RaftMessage *pb, struct raft_message *m)
{
    if (pb->n_entries == 0) {
        return 0;
    }
    m->entries = calloc(pb->n_entries, sizeof(*m->entries));
    if (m->entries == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < pb->n_entries; i++) {
        const Baton__Entry *e = pb->entries[i];
        if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONF) {
            return BATON_EMALFORMED;
        }
        struct raft_entry src = {
            .term = e->term,
            .index = e->index,
            .type = (int)e->type,
            .data = {.base = e->data.data, .len = e->data.len},
        };
        if (raft_entry_copy(&m->entries[i], &src) != 0) {
            return BATON_ENOMEM;
        }
        m->n_entries = i + 1;
    }
    return 0;
}

int net_raft_from_pb(const Baton__RaftMessage *pb, struct raft_message *m)
{
    memset(m, 0, sizeof(*m));
    if (pb->type < 1 || pb->type > RAFT_MSG_TYPE_MAX) {
        return BATON_EMALFORMED;
    }
    struct raft_message src = {0};
    src.type = (int)pb->type;
    src.from = pb->from;
    src.to = pb->to;
    src.term = pb->term;
    src.last_log_index = pb->last_log_index;
    src.last_log_term = pb->last_log_term;
    src.transfer = pb->transfer;
    src.reject = pb->reject;
    src.prev_index = pb->prev_index;
    src.prev_term = pb->prev_term;
    src.commit = pb->commit;
    src.index = pb->index;
    src.hint_index = pb->hint_index;
    src.hint_term = pb->hint_term;
    src.read_seq = pb->read_seq;
    src.offset = pb->offset;
    src.chunk.base = pb->chunk.data;
    src.chunk.len = pb->chunk.len;
    src.done = pb->done;
    int rv = meta_from_pb(pb->snapshot, &src.snapshot);
    if (rv == 0) {
        rv = raft_message_copy(m, &src);
    }
    if (rv == 0) {
        rv = entries_from_pb(pb, m);
    }
    if (rv != 0) {
        raft_message_clear(m);
    }
    return rv;
}
