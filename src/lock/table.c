/* Intrusive lists and a chained hash table: the lock state machine's containers. */
#include <stdlib.h>
#include <string.h>

#include "lock/internal.h"

void lock_link_init(struct lock_link *head)
{
    head->prev = head;
    head->next = head;
}

bool lock_link_empty(const struct lock_link *head)
{
    return head->next == head;
}

void lock_link_append(struct lock_link *head, struct lock_link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

void lock_link_remove(struct lock_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n;
    n->next = n;
}

/* The hash function is fixed (no seed): the table's layout does not matter to
 * determinism, since nothing iterates it, but a fixed function keeps runs
 * reproducible. FNV-1a is enough: names are chosen by our own clients. */
uint64_t lock_hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return h;
}

/* The splitmix64 finalizer: lease ids are consecutive-ish indices. */
uint64_t lock_hash_u64(uint64_t v)
{
    v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
    v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
    return v ^ (v >> 31);
}

int lock_htab_reserve(struct lock_htab *t, size_t n)
{
    if (n <= t->cap) {
        return 0;
    }
    size_t cap = t->cap == 0 ? 16 : t->cap;
    while (cap < n) {
        if (cap > SIZE_MAX / 2 / sizeof(*t->buckets)) {
            return BATON_ENOMEM;
        }
        cap *= 2;
    }
    struct lock_hnode **b = calloc(cap, sizeof(*b));
    if (b == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        struct lock_hnode *node = t->buckets[i];
        while (node != NULL) {
            struct lock_hnode *next = node->next;
            size_t j = (size_t)node->hash & (cap - 1);
            node->next = b[j];
            b[j] = node;
            node = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->cap = cap;
    return 0;
}

void lock_htab_insert(struct lock_htab *t, struct lock_hnode *node)
{
    size_t j = (size_t)node->hash & (t->cap - 1);
    node->next = t->buckets[j];
    t->buckets[j] = node;
    t->n++;
}

void lock_htab_remove(struct lock_htab *t, struct lock_hnode *node)
{
    struct lock_hnode **pp = &t->buckets[(size_t)node->hash & (t->cap - 1)];
    while (*pp != node) {
        pp = &(*pp)->next;
    }
    *pp = node->next;
    node->next = NULL;
    t->n--;
}

struct lock_hnode *lock_htab_chain(const struct lock_htab *t, uint64_t hash)
{
    return t->cap == 0 ? NULL : t->buckets[(size_t)hash & (t->cap - 1)];
}

void lock_htab_clear(struct lock_htab *t)
{
    if (t->cap > 0) {
        memset(t->buckets, 0, t->cap * sizeof(*t->buckets));
    }
    t->n = 0;
}

void lock_htab_close(struct lock_htab *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->cap = 0;
    t->n = 0;
}
