/* An open-addressing hash map from a non-zero id to a borrowed pointer (idmap.c):
 * O(1) lookups for ids handed out by a counter (Fibonacci hashing spreads them). */
#ifndef BATON_UTIL_IDMAP_H
#define BATON_UTIL_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct util_idmap_slot {
    uint64_t id;
    void *ptr;
};
struct util_idmap {
    struct util_idmap_slot *slots;
    size_t cap; /* a power of two */
    size_t n;
};

void util_idmap_init(struct util_idmap *t);
void util_idmap_close(struct util_idmap *t);
/* BATON_EINVAL for id 0 or an id already present, BATON_ENOMEM. */
int util_idmap_put(struct util_idmap *t, uint64_t id, void *ptr)
    __attribute__((warn_unused_result));
void *util_idmap_get(const struct util_idmap *t, uint64_t id);
/* Removes id and returns its pointer (NULL if absent). */
void *util_idmap_del(struct util_idmap *t, uint64_t id);

#endif
