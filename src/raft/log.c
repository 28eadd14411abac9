/* The in-memory Raft log: the entries after the snapshot, plus a trailing tail. */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

void raft_log_init(struct raft_log *l, uint64_t snap_index, uint64_t snap_term)
{
    memset(l, 0, sizeof(*l));
    l->first = snap_index + 1;
    l->snap_index = snap_index;
    l->snap_term = snap_term;
}

static void free_range(struct raft_log *l, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        free(l->entries[i].data.base);
    }
}

void raft_log_close(struct raft_log *l)
{
    free_range(l, 0, l->n);
    free(l->entries);
    memset(l, 0, sizeof(*l));
}

uint64_t raft_log_last_index(const struct raft_log *l)
{
    if (l->n == 0) {
        return l->snap_index;
    }
    uint64_t last = l->first + l->n - 1;
    return last > l->snap_index ? last : l->snap_index;
}

uint64_t raft_log_term_at(const struct raft_log *l, uint64_t index)
{
    if (index == 0) {
        return 0;
    }
    if (index >= l->first && index < l->first + l->n) {
        return l->entries[index - l->first].term;
    }
    if (index == l->snap_index) {
        return l->snap_term;
    }
    return 0;
}

uint64_t raft_log_last_term(const struct raft_log *l)
{
    return raft_log_term_at(l, raft_log_last_index(l));
}

struct raft_entry *raft_log_get(const struct raft_log *l, uint64_t index)
{
    if (index < l->first || index >= l->first + l->n) {
        return NULL;
    }
    return &l->entries[index - l->first];
}

static int grow(struct raft_log *l)
{
    if (l->n < l->cap) {
        return 0;
    }
    size_t cap = l->cap ? l->cap * 2 : 64;
    struct raft_entry *e = realloc(l->entries, cap * sizeof(*e));
    if (e == NULL) {
        return BATON_ENOMEM;
    }
    l->entries = e;
    l->cap = cap;
    return 0;
}

int raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
    *dst = *src;
    dst->data.base = NULL;
    if (src->data.len > 0) {
        dst->data.base = malloc(src->data.len);
        if (dst->data.base == NULL) {
            return BATON_ENOMEM;
        }
        memcpy(dst->data.base, src->data.base, src->data.len);
    }
    return 0;
}

int raft_log_append_take(struct raft_log *l, struct raft_entry *e)
{
    int rv = grow(l);
    if (rv != 0) {
        return rv;
    }
    l->entries[l->n++] = *e;
    e->data.base = NULL;
    return 0;
}

int raft_log_append(struct raft_log *l, const struct raft_entry *e)
{
    struct raft_entry copy;
    int rv = raft_entry_copy(&copy, e);
    if (rv != 0) {
        return rv;
    }
    rv = raft_log_append_take(l, &copy);
    if (rv != 0) {
        free(copy.data.base);
    }
    return rv;
}

void raft_log_truncate_from(struct raft_log *l, uint64_t index)
{
    if (index < l->first) {
        index = l->first;
    }
    if (index >= l->first + l->n) {
        return;
    }
    size_t keep = (size_t)(index - l->first);
    free_range(l, keep, l->n);
    l->n = keep;
}

void raft_log_drop_prefix(struct raft_log *l, uint64_t index)
{
    if (index < l->first) {
        return;
    }
    size_t drop = (size_t)(index - l->first + 1);
    if (drop > l->n) {
        drop = l->n;
    }
    if (drop > 0) {
        free_range(l, 0, drop);
        memmove(l->entries, l->entries + drop, (l->n - drop) * sizeof(*l->entries));
        l->n -= drop;
        l->first += drop;
    }
    if (l->n == 0) {
        l->first = l->snap_index + 1;
    }
}

void raft_log_reset(struct raft_log *l, uint64_t index, uint64_t term)
{
    free_range(l, 0, l->n);
    l->n = 0;
    l->snap_index = index;
    l->snap_term = term;
    l->first = index + 1;
}
