/* Cluster configurations: lookup, edits and their byte encoding. */
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

/* Encoding (all integers little-endian):
 *   u8 version (1) | u8 n | n * (u64 id | u8 role | u8 promote | u8 addr_len | addr)
 * Kept independent of protobuf so the pure core can write it into log entries. */
#define CONF_VERSION 1

const struct raft_server *raft_conf_get(const struct raft_conf *c, uint64_t id)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->servers[i].id == id) {
            return &c->servers[i];
        }
    }
    return NULL;
}

bool raft_conf_is_voter(const struct raft_conf *c, uint64_t id)
{
    const struct raft_server *s = raft_conf_get(c, id);
    return s != NULL && s->role == RAFT_VOTER;
}

bool raft_conf_equal(const struct raft_conf *a, const struct raft_conf *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct raft_server *x = &a->servers[i], *y = &b->servers[i];
        if (x->id != y->id || x->role != y->role || x->promote != y->promote ||
            strcmp(x->addr, y->addr) != 0) {
            return false;
        }
    }
    return true;
}

size_t raft_conf_voters(const struct raft_conf *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        n += c->servers[i].role == RAFT_VOTER;
    }
    return n;
}

int raft_conf_add(struct raft_conf *c, uint64_t id, int role, const char *addr)
{
    if (id == 0 || raft_conf_get(c, id) != NULL ||
        (role != RAFT_VOTER && role != RAFT_LEARNER)) {
        return BATON_EINVAL;
    }
    if (addr != NULL && strlen(addr) >= RAFT_ADDR_MAX) {
        return BATON_EINVAL;
    }
    if (c->n == RAFT_MAX_SERVERS) {
        return BATON_ECONFIG;
    }
    struct raft_server *s = &c->servers[c->n++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->role = role;
    if (addr != NULL) {
        strcpy(s->addr, addr);
    }
    return 0;
}

int raft_conf_remove(struct raft_conf *c, uint64_t id)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->servers[i].id == id) {
            memmove(&c->servers[i], &c->servers[i + 1], (c->n - i - 1) * sizeof(c->servers[0]));
            c->n--;
            return 0;
        }
    }
    return BATON_ENOTFOUND;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        *p++ = (uint8_t)(v >> (8 * i));
    }
    return p;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

int raft_conf_encode(const struct raft_conf *c, struct raft_buf *buf)
{
    size_t len = 2;
    for (size_t i = 0; i < c->n; i++) {
        len += 8 + 3 + strlen(c->servers[i].addr);
    }
    uint8_t *p = malloc(len);
    if (p == NULL) {
        return BATON_ENOMEM;
    }
    buf->base = p;
    buf->len = len;
    *p++ = CONF_VERSION;
    *p++ = (uint8_t)c->n;
    for (size_t i = 0; i < c->n; i++) {
        const struct raft_server *s = &c->servers[i];
        size_t alen = strlen(s->addr);
        p = put_u64(p, s->id);
        *p++ = (uint8_t)s->role;
        *p++ = s->promote ? 1 : 0;
        *p++ = (uint8_t)alen;
        memcpy(p, s->addr, alen);
        p += alen;
    }
    return 0;
}

static int decode_server(const uint8_t **pp, const uint8_t *end, struct raft_conf *c)
{
    const uint8_t *p = *pp;
    if (end - p < 11) {
        return BATON_EMALFORMED;
    }
    uint64_t id = get_u64(p);
    int role = p[8];
    uint8_t promote = p[9];
    size_t alen = p[10];
    p += 11;
    if ((size_t)(end - p) < alen || alen >= RAFT_ADDR_MAX || promote > 1) {
        return BATON_EMALFORMED;
    }
    char addr[RAFT_ADDR_MAX];
    memcpy(addr, p, alen);
    addr[alen] = '\0';
    if (memchr(addr, '\0', alen) != NULL || raft_conf_add(c, id, role, addr) != 0) {
        return BATON_EMALFORMED;
    }
    c->servers[c->n - 1].promote = promote == 1;
    *pp = p + alen;
    return 0;
}

int raft_conf_decode(const void *data, size_t len, struct raft_conf *c)
{
    const uint8_t *p = data;
    memset(c, 0, sizeof(*c));
    if (data == NULL || len < 2 || p[0] != CONF_VERSION || p[1] > RAFT_MAX_SERVERS) {
        return BATON_EMALFORMED;
    }
    const uint8_t *end = p + len; /* not before the check: NULL + 0 is undefined */
    size_t n = p[1];
    p += 2;
    for (size_t i = 0; i < n; i++) {
        if (decode_server(&p, end, c) != 0) {
            memset(c, 0, sizeof(*c));
            return BATON_EMALFORMED;
        }
    }
    if (p != end) {
        memset(c, 0, sizeof(*c));
        return BATON_EMALFORMED;
    }
    return 0;
}

int raft_bootstrap_entry(const struct raft_conf *conf, struct raft_entry *entry)
{
    if (conf->n == 0 || raft_conf_voters(conf) == 0) {
        return BATON_ECONFIG;
    }
    memset(entry, 0, sizeof(*entry));
    entry->term = 1;
    entry->index = 1;
    entry->type = RAFT_ENTRY_CONF;
    return raft_conf_encode(conf, &entry->data);
}
