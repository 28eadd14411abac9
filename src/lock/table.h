/* A chained hash table of intrusive nodes (table.c), for lookups only: the lock
 * state machine's and the leader clock's index. Nothing iterates it, so its layout
 * never decides an order. */
#ifndef BATON_LOCK_TABLE_H
#define BATON_LOCK_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct lock_hnode {
    struct lock_hnode *next;
    uint64_t hash;
};

struct lock_htab {
    struct lock_hnode **buckets;
    size_t cap; /* a power of two, or 0 */
    size_t n;
};

/* Grows the table so that n nodes fit without another allocation. ENOMEM. */
int lock_htab_reserve(struct lock_htab *t, size_t n) __attribute__((warn_unused_result));
/* Needs room for one more (lock_htab_reserve). */
void lock_htab_insert(struct lock_htab *t, struct lock_hnode *node);
void lock_htab_remove(struct lock_htab *t, struct lock_hnode *node);
/* First node of hash's chain (follow ->next and compare hash and key). */
struct lock_hnode *lock_htab_chain(const struct lock_htab *t, uint64_t hash);
/* Forgets every node (their owner frees them); keeps the buckets. */
void lock_htab_clear(struct lock_htab *t);
void lock_htab_close(struct lock_htab *t);
uint64_t lock_hash_bytes(const void *p, size_t n); /* FNV-1a 64 */
uint64_t lock_hash_u64(uint64_t v);

#endif
